"""A read replica made by ``start_replica`` (pg_basebackup -R) of a private cluster.

The app is given both clusters (``replica_database_url``). Must hold: the review reads from
the replica (the statements' server port, and the replica's ``pg_stat_activity``); a write
followed by a read of the same object by the same user sees it, also while the replica is
behind (its replay paused); readiness shows the replica's lag; with the primary stopped the
review still answers and a write answers 503 problem+json. The shared cluster is not touched.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import sessionmaker

from gridmap import create_app, jobs
from gridmap.core import clock, db
from gridmap.core.clock import BEIJING
from gridmap.core.settings import Settings
from gridmap.exports import export_jobs
from gridmap.party import report_jobs as party_report_jobs
from gridmap.requests import rate_jobs
from gridmap.review import report_jobs
from gridmap.storage.models.party import PartyActivity
from gridmap.storage.models.requests import ResidentRequest
from tests.ops.conftest import Private, throwaway
from tests.requests.conftest import intake_body
from tests.resilience.conftest import LIVE_ENV, Deployment, free_port, prepare

REQUESTS = ResidentRequest.__tablename__
ACTIVITIES = PartyActivity.__tablename__


def _month() -> str:
    """This month, which the requests filed here fall into."""
    return f"{clock.now().astimezone(BEIJING):%Y-%m}"


def _summary() -> str:
    return f"/api/v1/review/summary?period={_month()}"


@dataclass
class Pair:
    """A primary and its replica, loaded, and the app that uses both."""

    primary: Private
    replica_port: int
    settings: Settings
    app: OpenAPI
    loaded: Deployment

    def admin(self, sql: str, *, replica: bool = False) -> list[str]:
        """``sql`` as postgres over the socket of the primary or of the replica."""
        where = f"PGDATA=$REPLICA_DATA PGPORT={self.replica_port}; " if replica else ""
        line = f"REPLICA_PORT={self.replica_port}; {where}admin_psql gridmap -c {shlex.quote(sql)}"
        return self.primary.setup_function(line).stdout.splitlines()

    def client(self) -> FlaskClient:
        client = self.app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.loaded.tokens['street']}"
        return client


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with throwaway() as primary:
        replica_port = free_port()
        primary.setup_function(
            "start_private_cluster; flask gridmap migrate; allow_app_login; "
            f"REPLICA_PORT={replica_port}; start_replica"
        )
        loaded = prepare(primary.url("gridmap"), primary.url("gridmap_app"))
        settings = Settings(
            database_url=primary.url("gridmap_app"),
            replica_database_url=primary.url("gridmap_app", port=replica_port),
            write_rate_limit=LIVE_ENV["GRIDMAP_WRITE_RATE_LIMIT"],
            login_rate_limit=LIVE_ENV["GRIDMAP_LOGIN_RATE_LIMIT"],
            basemap_crs="none",
        )
        app = create_app(settings)
        app.config["TESTING"] = True
        yield Pair(primary, replica_port, settings, app, loaded)
        db.dispose(app)


@pytest.fixture
def ports() -> Iterator[list[tuple[int, str]]]:
    """(server port, statement) of every statement any engine sends during the test."""
    sent: list[tuple[int, str]] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append((cursor.connection.info.port, statement))

    event.listen(Engine, "before_cursor_execute", record)
    yield sent
    event.remove(Engine, "before_cursor_execute", record)


def _read_on(sent: list[tuple[int, str]], port: int, table: str = REQUESTS) -> bool:
    """Whether a statement reading ``table`` went to ``port``."""
    return any(p == port and table in statement for p, statement in sent)


def _total(client: FlaskClient) -> int:
    answer = client.get(_summary())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    total: int = answer.get_json()["total"]
    return total


def _file(client: FlaskClient, key: str) -> Any:
    return client.post("/api/v1/requests", json=intake_body(), headers={"Idempotency-Key": key})


def _until_caught_up(pair: Pair) -> None:
    position = pair.admin("SELECT pg_current_wal_lsn()")[0]
    deadline = time.monotonic() + 30
    check = f"SELECT pg_last_wal_replay_lsn() >= '{position}'"
    while pair.admin(check, replica=True) != ["t"]:
        assert time.monotonic() < deadline, "the replica does not catch up"
        time.sleep(0.1)


def test_the_review_reads_from_the_replica(pair: Pair, ports: list[tuple[int, str]]):
    _until_caught_up(pair)
    _total(pair.client())
    assert _read_on(ports, pair.replica_port)
    assert not _read_on(ports, pair.primary.port)
    # The app's pooled connection is a backend of the replica, which is in recovery.
    replica = create_engine(pair.primary.url("gridmap_app", port=pair.replica_port))
    with replica.connect() as conn:
        assert conn.scalar(text("SELECT pg_is_in_recovery()")) is True
        apps = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'gridmap_app'"
                " AND datname = 'gridmap' AND pid <> pg_backend_pid()"
            )
        )
        assert apps >= 1
    replica.dispose()


def test_a_write_is_read_back_by_its_writer_at_once(pair: Pair, ports: list[tuple[int, str]]):
    client = pair.client()
    for i in range(5):
        before = _total(client)
        assert _file(client, f"ryw-{i}").status_code == 201
        assert _total(client) == before + 1


def test_a_replica_behind_leaves_the_read_to_the_primary(pair: Pair, ports: list[tuple[int, str]]):
    client = pair.client()
    before = _total(client)
    pair.admin("SELECT pg_wal_replay_pause()", replica=True)
    try:
        assert _file(client, "behind").status_code == 201
        ports.clear()
        assert _total(client) == before + 1
        assert _read_on(ports, pair.primary.port)
        assert not _read_on(ports, pair.replica_port)
    finally:
        pair.admin("SELECT pg_wal_replay_resume()", replica=True)
    _until_caught_up(pair)
    ports.clear()
    assert _total(client) == before + 1
    assert _read_on(ports, pair.replica_port)


def test_the_report_rate_party_and_export_jobs_read_from_the_replica(
    pair: Pair, ports: list[tuple[int, str]]
):
    client = pair.client()
    assert _file(client, "for-the-jobs").status_code == 201
    asked = [  # (the answer, a table only its computation reads)
        (client.post("/api/v1/review/report-jobs", json={"month": _month()}), REQUESTS),
        (client.post("/api/v1/exports", json={"layer": "requests", "format": "csv"}), REQUESTS),
        (client.post("/api/v1/rates-jobs", json={"period": _month()}), REQUESTS),
        (client.post("/api/v1/party/report-jobs", json={}), ACTIVITIES),
    ]
    handlers = (
        report_jobs.handlers(pair.settings)
        | export_jobs.handlers(pair.settings)
        | rate_jobs.handlers(pair.settings)
        | party_report_jobs.handlers(pair.settings)
    )
    primary = create_engine(pair.primary.url("gridmap_app"))
    try:
        for answer, table in asked:
            assert answer.status_code == 202, answer.get_data(as_text=True)
            ports.clear()
            job_id = answer.get_json()["id"]
            # The worker's part; the replica is not waited for here: the job waits for it.
            assert jobs.run_one(sessionmaker(primary), handlers, job_id) == "succeeded"
            assert _read_on(ports, pair.replica_port, table), table
            assert not _read_on(ports, pair.primary.port, table), table
            done = client.get(f"/api/v1/jobs/{job_id}").get_json()
            assert client.get(f"/api/v1/jobs/{job_id}/file").status_code == 200, done
    finally:
        primary.dispose()
        for handler in handlers.values():
            handler.keywords["replica"].close()  # type: ignore[attr-defined]


def _ready(pair: Pair) -> dict[str, Any]:
    answer = pair.client().get("/api/v1/ready")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.get_json()
    return body


def test_readiness_shows_the_replicas_lag_and_a_lost_stream(pair: Pair):
    body = _ready(pair)
    assert body["replica"] == "streaming" and body["status"] == "ok"
    assert 0 <= body["replica_lag_seconds"] < 60
    # The replica stops receiving (as when the network to the primary is cut): its replay is
    # complete, but nothing says how far behind it is.
    [conninfo] = pair.admin("SHOW primary_conninfo", replica=True)
    pair.admin("ALTER SYSTEM SET primary_conninfo = ''", replica=True)
    pair.admin("SELECT pg_reload_conf()", replica=True)
    try:
        deadline = time.monotonic() + 30
        while (body := _ready(pair))["replica"] != "disconnected":
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
        assert body["status"] == "degraded" and "replica_lag_seconds" not in body
        client = pair.client()
        before = _total(client)
        assert _file(client, "while-disconnected").status_code == 201
        assert _total(client) == before + 1  # the replica lacks it: read on the primary
    finally:
        restored = conninfo.replace("'", "''")
        pair.admin(f"ALTER SYSTEM SET primary_conninfo = '{restored}'", replica=True)
        pair.admin("SELECT pg_reload_conf()", replica=True)
    deadline = time.monotonic() + 30
    while _ready(pair)["replica"] != "streaming":
        assert time.monotonic() < deadline, "the replica does not stream again"
        time.sleep(0.2)


def test_without_the_primary_reads_go_on_and_writes_answer_503(
    pair: Pair, ports: list[tuple[int, str]]
):
    client = pair.client()
    _until_caught_up(pair)
    before = _total(client)
    pair.primary.pg_ctl("-m", "fast", "-w", "stop")
    try:
        ports.clear()
        assert _total(client) == before
        assert _read_on(ports, pair.replica_port)
        tile = client.get("/api/v1/tiles/requests/15/26979/12416.mvt")
        assert tile.status_code in (200, 204)
        refused = _file(client, "primary-away")
        assert refused.status_code == 503
        assert refused.mimetype == "application/problem+json"
        assert client.get("/api/v1/ready").status_code == 503
    finally:
        pair.primary.pg_ctl("-l", str(pair.primary.data / "server.log"), "-w", "start")
    assert _file(client, "primary-back").status_code == 201
