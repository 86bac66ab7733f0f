"""The review of a period as a GIS layer (``/api/v1/exports/review.*``, 一月一研判): one
MultiPolygon feature per micro-grid of the caller's scope carrying the figures the review
API answers for the same period (choropleth counts, overdue, per 100 households, Gi* hot
spots, the 三率 of the grid figures), in GeoJSON, CSV and GeoPackage that GDAL opens.

On top of the timelines of ``tests/requests/test_rates.py`` (November 2024: R1–R3 in
micro-grid 01001, R4 and R5 in 01002, R6 on 31 October, R7 a duplicate) the street gets three
more communities, so that the small grid's community is the corner of a 4 × 4 lattice of
micro-grids, and November 2024 gets more requests in that corner: a hot spot Gi* finds.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

import pyogrio
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap import jobs
from gridmap.core.settings import Settings
from gridmap.exports import export_jobs
from gridmap.exports.layers import FIELDS
from gridmap.grid import ingest
from gridmap.requests import sync_limit
from gridmap.storage.models import Job
from tests.conftest import COMMUNITY, square_grid_frame
from tests.helpers import assert_problem, clock_at, ogrinfo
from tests.requests import conftest as request_fixtures
from tests.requests.conftest import IN_01001, IN_01002, IN_02001, IN_02002
from tests.requests.timelines import M1, M2, M3, M4, SH, Desk, nov

# The request tests' fixtures: the catalogue, the staffed small grid, test_rates' timelines
# and a client per role.
catalogue, staff, desk = request_fixtures.catalogue, request_fixtures.staff, request_fixtures.desk
clients = request_fixtures.clients

STREET = COMMUNITY[:9]
#: The street's other communities: east, north and north-east of the small grid's.
OTHERS = {
    STREET + "002": (116.42, 39.90, 116.44, 39.92),
    STREET + "003": (116.40, 39.92, 116.42, 39.94),
    STREET + "004": (116.42, 39.92, 116.44, 39.94),
}
#: Requests filed in November 2024 on top of the desk's (01001: 3, 01002: 2).
MORE = {IN_01002: 7, IN_01001: 1, IN_02001: 4, IN_02002: 4}
AS_OF = dt.datetime(2024, 12, 10, 10, 0, tzinfo=SH)
NOVEMBER = {"from": "2024-11", "to": "2024-11"}
HOT_SPOT_FIELDS = {"z": "hot_spot_z", "p": "hot_spot_p", "bin": "hot_spot_bin"}
RATES = ("response_rate", "resolution_rate", "satisfaction_rate")


@pytest.fixture
def lattice(
    session: Session, settings: Settings, desk: list[int], monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """16 micro-grids in the street, a cluster of requests in its south-west corner; the
    clock at ``AS_OF`` (overdue and the 三率 are judged at a moment)."""
    for code, bounds in OTHERS.items():
        names = tuple(f"{code[-1]}-{i}" for i in range(7))
        ingest.import_grids(session, square_grid_frame(code, bounds, names), "EPSG:4490", settings)
    desk_ = Desk(session, monkeypatch)
    chief = desk_.caller("lattice-chief", "chief", scope_code=COMMUNITY)
    for point, n in MORE.items():
        for i in range(n):
            desk_.file(chief, point, nov(21, 9, i))
    session.commit()
    with clock_at(AS_OF):
        yield


def _get(client: FlaskClient, url: str, **query: str) -> Any:
    answer = client.get(url, query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer


def _features(client: FlaskClient, **query: str) -> dict[str, dict[str, Any]]:
    body = json.loads(_get(client, "/api/v1/exports/review.geojson", **query).data)
    return {f["id"]: f for f in body["features"]}


def _values(client: FlaskClient, **query: str) -> dict[str, float]:
    path = "/api/v1/review/choropleth"
    found: dict[str, float] = _get(client, path, level="micro", **query).get_json()["values"]
    return found


# --------------------------------------------------------------------------------- figures


@pytest.mark.usefixtures("lattice")
def test_the_layers_figures_are_the_review_apis(clients):
    street = clients("street_admin")
    features = _features(street, **NOVEMBER)
    assert len(features) == 16 and {M1, M2, M3, M4} <= set(features)
    assert {f["geometry"]["type"] for f in features.values()} == {"MultiPolygon"}
    shown = {code: f["properties"] for code, f in features.items()}
    assert list(shown[M1]) == [name for name, _ in FIELDS["review"]]
    assert (shown[M2]["code"], shown[M2]["name"], shown[M2]["zone_code"]) == (M2, "1-002", M2[:14])
    assert shown[M2]["period"] == "2024-11"

    counts = _values(street, period="2024-11")
    assert counts == {M1: 4, M2: 9, M3: 4, M4: 4}
    late = _values(street, period="2024-11", overdue="true")
    per_100 = _values(street, period="2024-11", measure="per_100_households")
    for code, figures in shown.items():
        assert figures["requests"] == counts.get(code, 0), code
        assert figures["overdue"] == late.get(code, 0), code
        if code in per_100:
            assert figures["per_100_households"] == per_100[code], code
    assert [shown[c]["households"] for c in (M1, M2, M3, M4)] == [1, 0, 0, 1]
    assert (shown[M1]["per_100_households"], shown[M2]["per_100_households"]) == (400.0, None)
    assert shown[STREET + "00201001"]["per_100_households"] is None  # no households, no rate

    spots = _get(street, "/api/v1/review/hotspots", period="2024-11").get_json()
    listed = {cell["code"]: cell for cell in spots["cells"]}
    assert listed and spots["micro_grids"] == 16
    for code, figures in shown.items():
        cell = listed.get(code)
        if cell is None:
            assert figures["hot_spot_bin"] == 0 and figures["worsening"] is False, code
            continue
        for key, field in HOT_SPOT_FIELDS.items():
            assert figures[field] == cell[key], (code, key)
        assert (figures["hot_spot_trend"], figures["worsening"]) == (
            cell["trend"],
            cell["worsening"],
        )
        assert figures["candidate"] is (code in spots["candidates"])
    assert shown[M2]["hot_spot_bin"] > 0  # the corner's cluster

    for code in (M1, M2, M3, STREET + "00402002"):
        grid = _get(street, f"/api/v1/review/grids/{code}", period="2024-11").get_json()
        assert {k: shown[code][k] for k in RATES} == {k: grid["rates"][k] for k in RATES}, code
    assert shown[M1]["satisfaction_rate"] is not None


@pytest.mark.usefixtures("lattice")
def test_the_filters_are_the_reviews(clients):
    street = clients("street_admin")
    query = {"state": "archived", "category": "sanitation.garbage", "overdue": "false"}
    archived = _features(street, **NOVEMBER, **query)
    expected = _values(street, period="2024-11", **query)
    assert expected == {M1: 1}
    found = {code: f["properties"]["requests"] for code, f in archived.items()}
    assert {code: n for code, n in found.items() if n} == expected
    weeks = _features(street, **{"from": "2024-W45", "to": "2024-W46"})
    expected = _values(street, **{"from": "2024-W45", "to": "2024-W46"})
    assert {c: f["properties"]["requests"] for c, f in weeks.items() if c in expected} == expected
    assert weeks[M1]["properties"]["period"] == "2024-W45..2024-W46"
    box = _features(street, **NOVEMBER, bbox="116.40,39.90,116.409,39.909")
    assert list(box) == [M2]  # the features in the box; their figures the whole area's
    whole = _features(street, **NOVEMBER)[M2]["properties"]
    assert box[M2]["properties"] == whole


# ----------------------------------------------------------------------------------- scope


@pytest.mark.usefixtures("lattice")
def test_each_caller_gets_the_review_of_its_own_area(clients):
    chief = _features(clients("chief"), **NOVEMBER)
    assert sorted(chief) == [M1, M2, M3, M4]
    chief_spots = _get(clients("chief"), "/api/v1/review/hotspots", period="2024-11").get_json()
    assert chief_spots["micro_grids"] == 4  # Gi* over the chief's community only
    zone = _features(clients("zone_leader"), **NOVEMBER)
    assert sorted(zone) == [M1, M2]
    assert [zone[c]["properties"]["requests"] for c in (M1, M2)] == [4, 9]
    # Fewer than 3 micro-grids: no hot spots, as the review page has none.
    assert all(zone[c]["properties"]["hot_spot_z"] is None for c in (M1, M2))
    one = _features(clients("street_admin"), **NOVEMBER, grid=COMMUNITY + "02")
    assert sorted(one) == [M3, M4]
    for grid in (COMMUNITY + "02", STREET + "002"):
        outside = clients("zone_leader").get(
            "/api/v1/exports/review.geojson", query_string={"grid": grid}
        )
        assert_problem(outside, 404)
    for role in ("grid_worker", "member"):
        assert clients(role).get("/api/v1/exports/review.geojson").status_code == 403


# -------------------------------------------------------------------------------- formats


def _csv(answer: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.mark.usefixtures("lattice")
def test_gdal_reads_the_geojson_and_both_csvs(clients, tmp_path):
    street = clients("street_admin")
    path = tmp_path / "review.geojson"
    path.write_bytes(_get(street, "/api/v1/exports/review.geojson", **NOVEMBER).data)
    info = pyogrio.read_info(path)
    assert (info["features"], info["geometry_type"]) == (16, "MultiPolygon")
    assert info["total_bounds"] == pytest.approx((116.40, 39.90, 116.44, 39.94))

    people = _csv(_get(street, "/api/v1/exports/review.csv", **NOVEMBER))
    assert len(people) == 16
    row = next(r for r in people if r["网格编码"] == M2)
    assert (row["诉求数"], row["住户数"], row["研判周期"]) == ("9", "0", "2024-11")
    assert row["热点分级"].startswith("热点（") and row["趋势恶化"] in ("是", "否")
    assert all(
        116.40 < float(r["lon"]) < 116.44 and 39.90 < float(r["lat"]) < 39.94 for r in people
    )

    answer = _get(street, "/api/v1/exports/review.csv", geometry="wkt", header="en", **NOVEMBER)
    machines = tmp_path / "review.csv"
    machines.write_bytes(answer.data)
    header = next(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert header == [name for name, _ in FIELDS["review"]] + ["wkt"]
    frame = pyogrio.read_dataframe(machines, GEOM_POSSIBLE_NAMES="wkt", KEEP_GEOM_COLUMNS="NO")
    assert len(frame) == 16 and set(frame.geom_type) == {"MultiPolygon"}
    text = ogrinfo(machines, "-oo", "GEOM_POSSIBLE_NAMES=wkt")
    assert "Feature Count: 16" in text


def _run(session_factory, settings: Settings, client: FlaskClient, body: dict) -> dict:
    asked = client.post("/api/v1/exports", json=body)
    assert asked.status_code == 202, asked.get_json()
    job_id = asked.get_json()["id"]
    assert jobs.run_one(session_factory, export_jobs.handlers(settings), job_id) == "succeeded"
    done: dict = client.get(f"/api/v1/jobs/{job_id}").get_json()
    return done


@pytest.mark.usefixtures("lattice")
def test_a_geopackage_job_gdal_opens_with_a_feature_per_micro_grid(
    clients, session_factory, settings, tmp_path
):
    zone = clients("chief")
    body = {"layer": "review", "format": "gpkg", **NOVEMBER}
    done = _run(session_factory, settings, zone, body)
    assert done["result"]["rows"] == 4
    path = tmp_path / done["result"]["file"]["name"]
    path.write_bytes(zone.get(f"/api/v1/jobs/{done['id']}/file").data)
    info = pyogrio.read_info(path, layer="review")
    assert (info["features"], info["geometry_type"], info["crs"]) == (
        4,
        "MultiPolygon",
        "EPSG:4490",
    )
    text = ogrinfo(path)
    assert "Feature Count: 4" in text and 'ID["EPSG",4490]' in text
    frame = pyogrio.read_dataframe(path, layer="review").set_index("code")
    streamed = _features(zone, **NOVEMBER)
    for code, feature in streamed.items():
        for name in ("requests", "overdue", "households", "hot_spot_bin", "hot_spot_trend"):
            assert frame.loc[code, name] == feature["properties"][name], (code, name)
        assert frame.loc[code, "hot_spot_z"] == pytest.approx(feature["properties"]["hot_spot_z"])
    for fmt in ("geojson", "csv"):
        done = _run(session_factory, settings, zone, body | {"format": fmt})
        same = _get(zone, f"/api/v1/exports/review.{fmt}", **NOVEMBER).data
        assert zone.get(f"/api/v1/jobs/{done['id']}/file").data == same


# ------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2024-13"},
        {"from": "2024-W54"},
        {"from": "2024-11", "to": "2024-W45"},
        {"from": "2024-11", "to": "2024-10"},
        {"from": "2023-01", "to": "2024-11"},  # longer than the 三率's year
        {"from": "2026-W01", "to": "2026-W53"},  # 53 weeks
        {"from": "2024-11-01"},  # a day: the requests layer's from
        {"from": "2024-11", "state": "bogus"},
        {"from": "2024-11", "level": "micro"},
        {"from": "2024-11", "category": "Not A Code"},
    ],
)
@pytest.mark.usefixtures("staff")
def test_a_bad_period_or_filter_is_a_problem_and_queues_nothing(clients, session: Session, query):
    chief = clients("chief")
    assert_problem(chief.get("/api/v1/exports/review.geojson", query_string=query), 400)
    before = session.scalar(select(func.count()).select_from(Job))
    assert_problem(chief.post("/api/v1/exports", json={"layer": "review"} | query), 400)
    assert session.scalar(select(func.count()).select_from(Job)) == before


@pytest.mark.usefixtures("staff")
def test_a_period_is_the_reviews_and_a_day_the_requests(clients):
    chief = clients("chief")
    refused = chief.get("/api/v1/exports/requests.geojson?from=2024-11")
    assert_problem(refused, 400, "from (a month or week) applies to the review layer only")
    refused = chief.get("/api/v1/exports/review.geojson?from=2024-11-01")
    assert_problem(refused, 400, "from (a day) applies to the requests layer only")
    default = _features(chief)  # last month
    assert len(default) == 4


@pytest.mark.usefixtures("staff")
def test_a_large_area_is_a_job(clients, monkeypatch):
    monkeypatch.setattr(sync_limit, "SYNC_MICRO_GRIDS", 3)
    chief = clients("chief")
    refused = chief.get("/api/v1/exports/review.csv")
    assert_problem(refused, 422, "POST /api/v1/exports")
    assert chief.get(f"/api/v1/exports/review.csv?grid={COMMUNITY}01").status_code == 200
