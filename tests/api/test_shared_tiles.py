"""Grid tiles kept in Redis for every process and host: two apps (two hosts) share the
scripts' private Redis, as ``./scripts/run`` configures them (GRIDMAP_RATELIMIT_STORAGE_URI).
What one made the other serves without making it (no ``ST_AsMVT`` statement); a grid change
makes both serve the new tile; a scope never gets another scope's tile; a grid revision that was
rolled back is never served again; a client taking gzip gets the kept bytes; a Redis that does
not answer costs no answer."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import mapbox_vector_tile
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, update

from gridmap import create_app
from gridmap.core import db
from gridmap.grid import tile_cache
from gridmap.storage.models import Grid
from tests.api.test_tiles import M1, M2, M3, M4, WHOLE
from tests.conftest import COMMUNITY, client_for

URL = "/api/v1/tiles/grids/{}/{}/{}.mvt?level=micro".format(*WHOLE)


def _host(settings, session_factory, uri: str) -> Flask:
    """An app as one host runs it, its tiles kept in the Redis of ``uri``."""
    app = create_app(settings.model_copy(update={"ratelimit_storage_uri": uri}))
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    return app


@contextmanager
def tiles_made(connection: Connection) -> Iterator[list[str]]:
    """The tile statements (``ST_AsMVT``) run meanwhile on the test's connection."""
    made: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if "ST_AsMVT" in statement:
            made.append(statement)

    event.listen(connection, "before_cursor_execute", seen)
    try:
        yield made
    finally:
        event.remove(connection, "before_cursor_execute", seen)


def _names(client: FlaskClient, headers: dict[str, str] | None = None) -> dict[str, str]:
    answer = client.get(URL, headers=headers or {})
    assert answer.status_code == 200, answer.get_data()
    layer = mapbox_vector_tile.decode(answer.get_data()).get("grids", {})
    return {f["properties"]["code"]: f["properties"]["name"] for f in layer.get("features", [])}


def _kept_keys(uri: str) -> list[bytes]:
    with redis.Redis(unix_socket_path=uri.removeprefix("redis+unix://")) as store:
        return sorted(store.scan_iter("gridmap:grid-tile:*"))


def test_two_hosts_share_kept_tiles_until_the_grids_change(
    private_redis, settings, session_factory, connection, session, make_user, small_grid
):
    uri = private_redis.start().stdout
    one, other = (_host(settings, session_factory, uri) for _ in range(2))
    token = make_user("chief", COMMUNITY)
    first, second = client_for(one, token), client_for(other, token)

    with tiles_made(connection) as made:
        names = _names(first)
    assert len(made) == 1 and set(names) == {M1, M2, M3, M4}
    assert len(_kept_keys(uri)) == 1
    with tiles_made(connection) as made:
        assert _names(second) == names  # the other host: from Redis, not made again
        etag = second.get(URL).headers["ETag"]
    assert made == []
    assert first.get(URL, headers={"If-None-Match": etag}).status_code == 304

    session.execute(update(Grid).where(Grid.code == M1).values(name="改名的网格"))
    session.commit()
    with tiles_made(connection) as made:
        assert second.get(URL, headers={"If-None-Match": etag}).status_code == 200
        assert _names(second)[M1] == "改名的网格"
        assert _names(first)[M1] == "改名的网格"
    assert len(made) == 1  # made by one host under the new revision, served by both
    assert len(_kept_keys(uri)) == 2


def test_kept_tiles_expire_and_go_before_the_counters_when_redis_is_full(
    private_redis, settings, session_factory, make_user, small_grid
):
    """Only keys that expire may be evicted, least recently used first: a tile nobody asks
    for goes before the rate limits' counters of the clients being counted."""
    uri = private_redis.start().stdout
    client = client_for(_host(settings, session_factory, uri), make_user("chief", COMMUNITY))
    _names(client)
    with redis.Redis(unix_socket_path=uri.removeprefix("redis+unix://")) as store:
        assert store.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-lru"}
        (key,) = store.scan_iter("gridmap:grid-tile:*")
        assert 0 < store.ttl(key) <= tile_cache.SHARED_SECONDS


def test_a_shared_tile_never_reaches_another_scope(
    private_redis, settings, session_factory, make_user, small_grid
):
    uri = private_redis.start().stdout
    one, other = (_host(settings, session_factory, uri) for _ in range(2))
    chief = client_for(one, make_user("chief", COMMUNITY))
    leader = client_for(other, make_user("zone_leader", COMMUNITY + "01"))
    whole = chief.get(URL)
    assert set(_names(chief)) == {M1, M2, M3, M4}
    own = leader.get(URL, headers={"If-None-Match": whole.headers["ETag"]})
    assert own.status_code == 200 and own.headers["ETag"] != whole.headers["ETag"]
    assert set(_names(leader)) == {M1, M2}
    assert set(_names(client_for(other, make_user("chief", COMMUNITY)))) == {M1, M2, M3, M4}
    assert len(_kept_keys(uri)) == 2


def test_a_revision_rolled_back_is_never_served_again(
    private_redis, settings, session_factory, session, make_user, small_grid
):
    """A transaction that counted the grids up and was rolled back left its tile in Redis;
    another one reaching the same count with other grids gets its own tile."""
    uri = private_redis.start().stdout
    client = client_for(_host(settings, session_factory, uri), make_user("chief", COMMUNITY))
    for name in ("回滚前的名字", "另一个名字"):
        undone = session.begin_nested()
        session.execute(update(Grid).where(Grid.code == M1).values(name=name))
        session.flush()
        assert _names(client)[M1] == name
        undone.rollback()
    assert _names(client)[M1] != "另一个名字"


def test_a_client_taking_gzip_gets_the_kept_bytes_and_304_by_their_tag(client, small_grid):
    plain = client.get(URL)
    zipped = client.get(URL, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + ':gzip"'
    for tag in (zipped.headers["ETag"], plain.headers["ETag"]):
        again = client.get(URL, headers={"If-None-Match": tag, "Accept-Encoding": "gzip"})
        assert again.status_code == 304 and again.get_data() == b""
    refused = client.get(URL, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    assert refused.get_data() == plain.get_data()


def test_tiles_are_served_when_redis_does_not_answer(
    settings, session_factory, make_user, small_grid
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        gone = f"redis://127.0.0.1:{probe.getsockname()[1]}"
    client = client_for(_host(settings, session_factory, gone), make_user("chief", COMMUNITY))
    assert set(_names(client)) == {M1, M2, M3, M4}
    assert set(_names(client)) == {M1, M2, M3, M4}
