"""OGC API Features and TileJSON as GIS clients read them: GDAL's OAPIF and MVT drivers
(``ogrinfo`` from Debian's gdal-bin) and OWSLib, against a live server on a database of its
own, with pages small enough that every collection takes several.

The data: communities A (the small grid, street 110101001) and B (street 110101002), 27
households, 16 requests and 3 patrol tracks, filed through the API.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from owslib.ogcapi.features import Features
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from gridmap import create_app
from gridmap.access import accounts, auth
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.grid import ingest
from gridmap.patrols import service as patrols
from tests.conftest import COMMUNITY, create_test_database, drop_test_database, small_grid_frame
from tests.helpers import households_csv
from tests.patrols.conftest import geojson_of, past_home
from tests.security.conftest import B, b_grid_frame

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
PAGE = 5  # features per page: every collection below takes several pages
PASSWORD = "ogc-test-password-1"

#: Households per micro-grid of A (01001, 01002, 02001, 02002) and of B's 01001.
A_HOUSEHOLDS = {"01001": 6, "01002": 5, "02001": 7, "02002": 5}
B_HOUSEHOLDS = 4
#: Requests filed per micro-grid of A, and in B.
A_REQUESTS = {"01001": 4, "01002": 3, "02001": 4, "02002": 2}
B_REQUESTS = 3
PATROLS = 3
#: What each account sees, per collection.
EXPECTED = {
    "auditor": {  # the district (110101): A and B
        "grids-community": 2,
        "grids-zone": 4,
        "grids-micro": 8,
        "households": sum(A_HOUSEHOLDS.values()) + B_HOUSEHOLDS,
        "requests": sum(A_REQUESTS.values()) + B_REQUESTS,
        "patrols": PATROLS,
    },
    "zone": {  # zone 01 of A
        "grids-community": 0,
        "grids-zone": 1,
        "grids-micro": 2,
        "households": A_HOUSEHOLDS["01001"] + A_HOUSEHOLDS["01002"],
        "requests": A_REQUESTS["01001"] + A_REQUESTS["01002"],
        "patrols": PATROLS,  # the worker of 01001 patrolled them
    },
}
#: A point inside each micro-grid (lon, lat), by community and micro-grid suffix.
CENTRES = {
    (COMMUNITY, "01001"): (116.405, 39.915),
    (COMMUNITY, "01002"): (116.405, 39.905),
    (COMMUNITY, "02001"): (116.415, 39.915),
    (COMMUNITY, "02002"): (116.415, 39.905),
    (B, "01001"): (116.445, 39.915),
}


def _households() -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    wanted = [((COMMUNITY, m), n) for m, n in A_HOUSEHOLDS.items()] + [((B, "01001"), B_HOUSEHOLDS)]
    for key, count in wanted:
        lon, lat = CENTRES[key]
        for i in range(count):
            hid = len(rows) + 1
            rows.append(
                {
                    "id": hid,
                    "lon": lon - 0.002 + i * 0.0005,
                    "lat": lat + 0.001,
                    "address": f"东城区测试社区{hid}号楼1单元{100 + hid}",
                }
            )
    return households_csv(rows)


def _load(session: Session, settings: Settings) -> dict[str, str]:
    """The grids, households and staff; accounts and their bearer tokens by name."""
    ingest.import_grids(session, small_grid_frame(), "EPSG:4490", settings)
    ingest.import_grids(session, b_grid_frame(), "EPSG:4490", settings)
    ingest.import_households(session, _households(), "EPSG:4326")
    ingest.import_people(
        session,
        pd.DataFrame(
            [["3", "张员", "13800000003", "grid_worker", COMMUNITY]],
            columns=["id", "name", "phone", "kind", "home_community_code"],
        ),
    )
    since = (dt.date.today() - dt.timedelta(days=7)).isoformat()
    ingest.import_assignments(
        session,
        pd.DataFrame(
            [["3", COMMUNITY + "01001", "grid_worker", since]],
            columns=["person_id", "grid_code", "role", "start_date"],
        ),
    )
    demo.seed_categories(session)
    patrols.seed_work_lists(session)
    accounts_made: dict[str, tuple[str, dict[str, Any]]] = {
        "auditor": ("auditor", {"scope_code": "110101"}),
        "zone": ("zone_leader", {"scope_code": COMMUNITY + "01"}),
        "street_a": ("street_admin", {"scope_code": COMMUNITY[:9]}),
        "street_b": ("street_admin", {"scope_code": B[:9]}),
        "worker": ("grid_worker", {"scope_code": COMMUNITY + "01001", "person_id": 3}),
        "system": ("system_admin", {}),
    }
    tokens = {}
    for name, (role, scope) in accounts_made.items():
        user = accounts.create_user(session, f"ogc-{name}", PASSWORD)
        accounts.grant_role(session, user.id, role, admins_too=True, **scope)
        session.commit()
        _, tokens[name] = auth.login(
            session, f"ogc-{name}", PASSWORD, kind="bearer", settings=settings, origin=auth.Origin()
        )
    return tokens


def _file_requests(app: Flask, tokens: dict[str, str]) -> None:
    """Requests and patrols through the API, as a street office and a phone file them."""
    client = app.test_client()
    filed = [((COMMUNITY, m), n, "street_a") for m, n in A_REQUESTS.items()]
    filed.append(((B, "01001"), B_REQUESTS, "street_b"))
    for key, count, who in filed:
        lon, lat = CENTRES[key]
        for i in range(count):
            body = {
                "category": "sanitation.garbage",
                "description": f"垃圾桶满溢 {i}，联系电话 13912345678",
                "location": {"lon": lon + i * 0.0003, "lat": lat - 0.001, "crs": "EPSG:4326"},
                "contact": {"name": "陈小姐", "phone": "13912345678"},
            }
            answer = client.post(
                "/api/v1/requests",
                json=body,
                headers={"Authorization": f"Bearer {tokens[who]}"},
            )
            assert answer.status_code == 201, answer.get_data(as_text=True)
    for hours in range(PATROLS):
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=hours + 2)
        answer = client.post(
            "/api/v1/patrols/upload?work_list=daily_patrol",
            data=geojson_of(*past_home(10.0 + hours, start)),
            content_type="application/geo+json",
            headers={"Authorization": f"Bearer {tokens['worker']}"},
        )
        assert answer.status_code == 201, answer.get_data(as_text=True)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, dict[str, str]]]:
    """A live server (werkzeug, threaded) on its own committed database: its URL and the
    accounts' tokens."""
    name = f"gridmap_test_ogc_{os.getpid()}"
    owner, url = create_test_database(name)
    settings = Settings(database_url=url, migrate_database_url=owner, basemap_crs="none")
    engine = create_engine(url)
    with Session(engine) as session:
        tokens = _load(session, settings)
    engine.dispose()
    app = create_app(settings)
    _file_requests(app, tokens)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", tokens
    httpd.shutdown()
    thread.join()
    db.dispose(app)
    drop_test_database(name)


def get(url: str, token: str | None) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


def ogc(server: tuple[str, dict[str, str]]) -> str:
    return f"{server[0]}/api/v1/ogc"


# ------------------------------------------------------------------------------------ GDAL


def ogrinfo(*args: str, token: str | None = None) -> str:
    """``ogrinfo`` output (the command must exist: ./scripts/test installs gdal-bin)."""
    if shutil.which("ogrinfo") is None:
        pytest.fail("ogrinfo is missing: install Debian's gdal-bin (./scripts/test does)")
    config = ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"] if token else []
    done = subprocess.run(
        ["ogrinfo", "-ro", *config, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"CPL_VSIL_CURL_USE_CACHE": "NO", "GDAL_HTTP_TIMEOUT": "60"},
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.mark.parametrize("who", ["auditor", "zone"])
def test_gdal_reads_every_collection_completely(server, who):
    """``ogrinfo OAPIF:`` lists the collections, then reads each layer page by page (5 a
    page, following ``rel=next``) to the expected count, with its CRS and extent."""
    token = server[1][who]
    listing = ogrinfo(f"OAPIF:{ogc(server)}", token=token)
    for collection in EXPECTED[who]:
        assert re.search(rf"^\d+: {collection} \(", listing, re.M), listing
    for collection, count in EXPECTED[who].items():
        out = ogrinfo(
            "-al", "-oo", f"PAGE_SIZE={PAGE}", f"OAPIF:{ogc(server)}", collection, token=token
        )
        ids = re.findall(r"^OGRFeature\(\S+\):(\d+)$", out, re.M)
        assert len(ids) == count, (collection, out[:2000])
        assert len(set(ids)) == count  # no feature twice across the pages
        assert "WGS 84" in out or "CGCS2000" in out or "China Geodetic" in out
        if count:
            extent = re.search(r"^Extent: \((\S+), (\S+)\) - \((\S+), (\S+)\)$", out, re.M)
            assert extent is not None, out[:2000]
            west, south, east, north = (float(v) for v in extent.groups())
            assert 116.39 <= west <= east <= 116.47 and 39.89 <= south <= north <= 39.93


def test_gdal_with_the_token_as_a_query_parameter(server):
    """A client that can only be given a URL (QGIS without an authentication configuration)
    sends the token as ``access_token``: every link the server gives carries it on."""
    token = server[1]["auditor"]
    url = f"{ogc(server)}?access_token={token}"
    out = ogrinfo("-al", "-oo", f"PAGE_SIZE={PAGE}", f"OAPIF:{url}", "households")
    ids = re.findall(r"^OGRFeature\(\S+\):(\d+)$", out, re.M)
    assert len(ids) == EXPECTED["auditor"]["households"]


def test_without_a_token_the_data_is_refused(server):
    status, headers, body = get(f"{ogc(server)}/collections/households/items", None)
    assert status == 401 and body["status"] == 401
    assert headers["Content-Type"] == "application/problem+json"
    status, _, body = get(f"{ogc(server)}/conformance", None)  # no data: open to anyone
    assert status == 200
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in body["conformsTo"]


# ---------------------------------------------------------------------------------- OWSLib


def owslib_all_items(api: Features, collection: str, **params: Any) -> list[dict[str, Any]]:
    """Every feature of a collection, following the ``next`` links page by page."""
    features: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": PAGE, **params}
    pages = 0
    while True:
        page = api.collection_items(collection, **query)
        pages += 1
        features += page["features"]
        assert page["numberReturned"] == len(page["features"])
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            assert page["numberMatched"] == len(features)
            return features
        next_query = urllib.parse.parse_qs(urllib.parse.urlsplit(following[0]["href"]).query)
        query = {k: v[0] for k, v in next_query.items()}
        assert pages < 50


@pytest.mark.parametrize("who", ["auditor", "zone"])
def test_owslib_reads_every_collection(server, who):
    token = server[1][who]
    api = Features(f"{ogc(server)}/", headers={"Authorization": f"Bearer {token}"})
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    assert sorted(api.feature_collections()) == sorted(EXPECTED[who])
    for collection, count in EXPECTED[who].items():
        meta = api.collection(collection)
        assert meta["storageCrs"] == CGCS2000 and CRS84 in meta["crs"]
        features = owslib_all_items(api, collection)
        assert len(features) == count, collection
        assert len({f["id"] for f in features}) == count
        in_4490 = owslib_all_items(api, collection, crs=CGCS2000)
        assert len(in_4490) == count
        for plain, flipped in zip(features, in_4490, strict=True):
            if plain["geometry"] is None:
                continue
            first = _first_position(plain["geometry"]["coordinates"])
            assert _first_position(flipped["geometry"]["coordinates"]) == [first[1], first[0]]
            assert 116 < first[0] < 117 and 39 < first[1] < 40  # CRS84: longitude first


def _first_position(coordinates: Any) -> list[float]:
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return list(coordinates)


def test_households_are_masked_points(server):
    api = Features(f"{ogc(server)}/", headers={"Authorization": f"Bearer {server[1]['auditor']}"})
    page = api.collection_items("households", limit=100)
    for feature in page["features"]:
        assert feature["geometry"]["type"] == "Point"
        properties = feature["properties"]
        assert "号楼" in properties["address"] and not re.search(r"\d号楼", properties["address"])
        assert set(properties["room"] or "*") == {"*"}
    requests_page = api.collection_items("requests", limit=100)
    for feature in requests_page["features"]:
        properties = feature["properties"]
        assert "13912345678" not in json.dumps(feature, ensure_ascii=False)
        assert properties["category_code"] == "sanitation.garbage"


# ------------------------------------------------------------------------ Part 2, filters


def test_crs_and_bbox_crs(server):
    token = server[1]["auditor"]
    base = f"{ogc(server)}/collections/households/items"
    status, headers, plain = get(f"{base}?limit=100&bbox=116.40,39.90,116.41,39.92", token)
    assert status == 200 and headers["Content-Crs"] == f"<{CRS84}>"
    assert plain["numberMatched"] == A_HOUSEHOLDS["01001"] + A_HOUSEHOLDS["01002"]
    query = urllib.parse.urlencode(
        {"limit": 100, "bbox": "39.90,116.40,39.92,116.41", "bbox-crs": CGCS2000, "crs": CGCS2000}
    )
    status, headers, flipped = get(f"{base}?{query}", token)
    assert status == 200 and headers["Content-Crs"] == f"<{CGCS2000}>"
    assert flipped["numberMatched"] == plain["numberMatched"]
    lon, lat = plain["features"][0]["geometry"]["coordinates"]
    assert flipped["features"][0]["geometry"]["coordinates"] == [lat, lon]
    status, headers, one = get(f"{base}/{plain['features'][0]['id']}?crs={CGCS2000}", token)
    assert status == 200 and one["geometry"]["coordinates"] == [lat, lon]
    assert headers["Content-Crs"] == f"<{CGCS2000}>"


def test_property_filters_and_datetime(server):
    token = server[1]["auditor"]
    base = f"{ogc(server)}/collections"
    micro = COMMUNITY + "02001"
    _, _, found = get(f"{base}/households/items?micro_grid_code={micro}", token)
    assert found["numberMatched"] == A_HOUSEHOLDS["02001"]
    _, _, found = get(f"{base}/requests/items?micro_grid_code={micro}&state=reported", token)
    assert found["numberMatched"] == A_REQUESTS["02001"]
    _, _, found = get(f"{base}/grids-micro/items?parent_code={COMMUNITY}02", token)
    assert found["numberMatched"] == 2
    today = dt.date.today()
    _, _, found = get(f"{base}/requests/items?datetime={today - dt.timedelta(days=1)}/..", token)
    assert found["numberMatched"] == EXPECTED["auditor"]["requests"]
    _, _, found = get(f"{base}/requests/items?datetime=../2020-01-01T00:00:00Z", token)
    assert found["numberMatched"] == 0
    _, _, found = get(f"{base}/grids-zone/items?datetime={today}", token)
    assert found["numberMatched"] == 4
    _, _, found = get(f"{base}/grids-zone/items?datetime=2001-01-01", token)
    assert found["numberMatched"] == 0  # the grids were drawn today
    _, _, found = get(f"{base}/patrols/items?datetime={today - dt.timedelta(days=1)}/..", token)
    assert found["numberMatched"] == PATROLS


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=116.5,39.9,116.4,39.95", "bbox"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("crs=EPSG:3857", "crs"),
        ("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857&bbox=1,2,3,4", "bbox-crs"),
        ("datetime=yesterday", "datetime"),
        ("datetime=2026-01-02/2026-01-01", "datetime"),
        ("colour=red", "colour"),
        ("covered=maybe", "covered"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999", "offset"),
        ("f=html", "f"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(server, query, parameter):
    url = f"{ogc(server)}/collections/households/items?{query}"
    status, headers, body = get(url, server[1]["auditor"])
    assert status == 400, body
    assert headers["Content-Type"] == "application/problem+json"
    assert parameter in body["detail"]


def test_datetime_on_a_collection_without_time_and_unknown_collections(server):
    token = server[1]["auditor"]
    status, _, body = get(f"{ogc(server)}/collections/households/items?datetime=2026-01-01", token)
    assert status == 400 and "datetime" in body["detail"]
    status, _, body = get(f"{ogc(server)}/collections/people/items", token)
    assert status == 404 and "people" in body["detail"]


def test_a_zone_leader_sees_only_its_zone(server):
    """Scope: features outside the zone are neither listed nor found by id."""
    zone, auditor = server[1]["zone"], server[1]["auditor"]
    _, _, everything = get(f"{ogc(server)}/collections/households/items?limit=100", auditor)
    _, _, mine = get(f"{ogc(server)}/collections/households/items?limit=100", zone)
    codes = {f["properties"]["micro_grid_code"] for f in mine["features"]}
    assert codes == {COMMUNITY + "01001", COMMUNITY + "01002"}
    outside = next(
        f["id"]
        for f in everything["features"]
        if f["properties"]["micro_grid_code"] == COMMUNITY + "02001"
    )
    status, _, _ = get(f"{ogc(server)}/collections/households/items/{outside}", zone)
    assert status == 404
    status, _, _ = get(f"{ogc(server)}/collections/households/items/{outside}", auditor)
    assert status == 200
    status, _, _ = get(f"{ogc(server)}/collections", server[1]["system"])
    assert status == 403  # an administrator without resident data


# ---------------------------------------------------------------------------------- TileJSON


def test_tilejson_of_each_layer(server):
    token = server[1]["auditor"]
    for layer, fields in (("grids", {"code", "name", "level"}), ("requests", {"n", "state"})):
        status, _, doc = get(f"{server[0]}/api/v1/tiles/{layer}.json", token)
        assert status == 200
        assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
        assert doc["tiles"] == [f"{server[0]}/api/v1/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"]
        assert doc["minzoom"] == 0 and doc["maxzoom"] >= 16
        west, south, east, north = doc["bounds"]
        assert (west, south, east, north) == pytest.approx((116.40, 39.90, 116.46, 39.92))
        (vector_layer,) = doc["vector_layers"]
        assert vector_layer["id"] == layer and fields <= set(vector_layer["fields"])
    status, _, doc = get(f"{server[0]}/api/v1/tiles/grids.json?level=micro", token)
    assert doc["tiles"][0].endswith(".mvt?level=micro")
    status, _, _ = get(f"{server[0]}/api/v1/tiles/requests.json?period=2026-13", token)
    assert status == 400


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The WebMercatorQuad (XYZ) tile holding a point."""
    side = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return int((lon + 180) / 360 * side), int(y * side)


def test_gdal_mvt_driver_reads_the_tilejson(server):
    """GDAL's MVT driver takes the layer and its fields from the TileJSON and reads a tile
    of its template: the micro-grids of A's zone 01 at z15."""
    token = server[1]["auditor"]
    tilejson = f"{server[0]}/api/v1/tiles/grids.json?level=micro&access_token={token}"
    status, _, doc = get(tilejson, None)
    assert status == 200
    # A zoom level of the tileset: its one layer and its fields come from the TileJSON alone.
    level = ogrinfo(
        "-so",
        "-al",
        "-oo",
        f"METADATA_FILE={tilejson}",
        "-oo",
        "TILE_EXTENSION=mvt",
        f"MVT:{server[0]}/api/v1/tiles/grids/15",
    )
    assert re.search(r"^Layer name: grids$", level, re.M), level
    for field in ("code: String", "name: String", "level: String"):
        assert field in level
    x, y = tile_of(116.405, 39.915, 15)
    url = doc["tiles"][0].replace("{z}", "15").replace("{x}", str(x)).replace("{y}", str(y))
    out = ogrinfo("-al", "-oo", f"METADATA_FILE={tilejson}", f"MVT:{url}")
    assert "Layer name: grids" in out
    for field in ("code: String", "name: String", "level: String"):
        assert field in out
    assert f"code (String) = {COMMUNITY}01001" in out
