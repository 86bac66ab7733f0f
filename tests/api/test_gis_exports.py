"""The GIS exports open in the tools GIS users have: GDAL (``ogrinfo`` from Debian and pyogrio)
reads the streamed GeoJSON whole, with every feature (where the paged API gives a page and a
``next`` link GDAL's GeoJSON driver does not follow), and reads the CSV's ``lon``/``lat`` or
``wkt`` columns as geometries inside the district; a GeoPackage job declares EPSG:4490."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pyogrio
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap import jobs
from gridmap.core import db
from gridmap.demo import loader as demo
from gridmap.exports import export_jobs
from gridmap.storage.models import Grid, Household
from tests.conftest import COMMUNITY, E, N, S, W
from tests.helpers import assert_problem, ogrinfo

LAYERS = ("households", "grids", "requests")
GEOMETRY = {"households": "Point", "grids": "MultiPolygon", "requests": "Point"}
#: ogrinfo's name of each layer's geometry type.
OGR_GEOMETRY = {"households": "Point", "grids": "Multi Polygon", "requests": "Point"}


@pytest.fixture
def filed(client: FlaskClient, session: Session, staffed: None) -> int:
    """Three requests in the small grid; the number of requests."""
    demo.seed_categories(session)
    session.commit()
    for lon, lat in ((116.405, 39.915), (116.415, 39.905), (116.415, 39.915)):
        answer = client.post(
            "/api/v1/requests",
            json={
                "category": "sanitation.garbage",
                "description": "垃圾桶满溢",
                "location": {"lon": lon, "lat": lat, "crs": "EPSG:4490"},
            },
        )
        assert answer.status_code == 201, answer.get_json()
    return 3


def _expected(session: Session) -> dict[str, int]:
    grids = select(func.count()).select_from(Grid).where(Grid.valid_to.is_(None))
    return {
        "households": session.scalar(select(func.count()).select_from(Household)) or 0,
        "grids": session.scalar(grids) or 0,
        "requests": 3,
    }


def _save(client: FlaskClient, url: str, path: Path) -> Path:
    answer = client.get(url)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    path.write_bytes(answer.data)
    return path


@pytest.mark.usefixtures("filed")
@pytest.mark.parametrize("layer", LAYERS)
def test_gdal_reads_the_whole_geojson(client, session, tmp_path, layer):
    counts = _expected(session)
    path = _save(client, f"/api/v1/exports/{layer}.geojson", tmp_path / f"{layer}.geojson")
    info = pyogrio.read_info(path)
    assert info["features"] == counts[layer] > 0
    assert info["geometry_type"] == GEOMETRY[layer]
    assert info["crs"] == "EPSG:4326"  # RFC 7946: lon/lat, read as WGS 84
    text = ogrinfo(path)
    assert f"Feature Count: {counts[layer]}" in text and f"Geometry: {OGR_GEOMETRY[layer]}" in text
    body = json.loads(path.read_text())
    assert set(body) == {"type", "name", "features"}, "no crs member, no paging links"
    xmin, ymin, xmax, ymax = info["total_bounds"]
    assert W <= xmin <= xmax <= E and S <= ymin <= ymax <= N


@pytest.mark.usefixtures("staffed")
def test_the_paged_api_gives_a_page_gdal_stops_at_and_the_export_gives_all(client, tmp_path):
    paged = _save(client, "/api/v1/grids?limit=2", tmp_path / "page.geojson")
    assert json.loads(paged.read_text())["links"][0]["rel"] == "next"
    assert pyogrio.read_info(paged)["features"] == 2  # GDAL reads the first page only
    whole = _save(client, "/api/v1/exports/grids.geojson", tmp_path / "all.geojson")
    assert pyogrio.read_info(whole)["features"] == 7


@pytest.mark.usefixtures("filed")
@pytest.mark.parametrize("layer", LAYERS)
def test_a_csv_with_lon_lat_is_read_as_points_inside_the_district(client, session, tmp_path, layer):
    path = _save(client, f"/api/v1/exports/{layer}.csv", tmp_path / f"{layer}.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == _expected(session)[layer]
    for row in rows:
        assert W <= float(row["lon"]) <= E and S <= float(row["lat"]) <= N, row
    heading = {"households": "地址", "grids": "网格编码", "requests": "诉求内容"}[layer]
    assert heading in rows[0], "Chinese headings for people"
    text = ogrinfo(path, "-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat")
    assert f"Feature Count: {len(rows)}" in text and "Geometry: Point" in text


@pytest.mark.usefixtures("staffed")
def test_a_csv_with_wkt_is_read_as_the_grids_outlines(client, tmp_path):
    path = _save(client, "/api/v1/exports/grids.csv?geometry=wkt&header=en", tmp_path / "grids.csv")
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert header == [
        "code", "name", "level", "kind", "parent_code", "valid_from", "valid_to", "wkt",
    ]  # fmt: skip
    frame = pyogrio.read_dataframe(path, GEOM_POSSIBLE_NAMES="wkt", KEEP_GEOM_COLUMNS="NO")
    assert len(frame) == 7 and set(frame.geom_type) == {"MultiPolygon"}
    community = frame[frame["code"] == COMMUNITY].geometry.iloc[0]
    assert community.bounds == pytest.approx((W, S, E, N))
    summary = ogrinfo(path, "-oo", "GEOM_POSSIBLE_NAMES=wkt")
    assert "Feature Count: 7" in summary
    assert "Extent: (116.400000, 39.900000) - (116.420000, 39.920000)" in summary
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-oo", "GEOM_POSSIBLE_NAMES=wkt", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert listing.count("  MULTIPOLYGON (((") == 7


@pytest.mark.usefixtures("filed")
def test_chinese_labels_for_people_and_codes_for_machines(client):
    zh = client.get("/api/v1/exports/requests.csv").get_data(as_text=True)
    en = client.get("/api/v1/exports/requests.csv?header=en").get_data(as_text=True)
    zh_rows = list(csv.DictReader(io.StringIO(zh.lstrip("\ufeff"))))
    en_rows = list(csv.DictReader(io.StringIO(en.lstrip("\ufeff"))))
    assert {r["状态"] for r in zh_rows} <= {"待受理", "已受理"}
    assert {r["state"] for r in en_rows} <= {"reported", "accepted"}
    assert zh_rows[0]["层级"] in ("微网格", "片区网格", "社区") and en_rows[0]["level"] in (
        "micro", "zone", "community",
    )  # fmt: skip


@pytest.mark.usefixtures("staffed")
def test_filters_narrow_the_export(client):
    level = client.get("/api/v1/exports/grids.geojson?level=micro").get_json(force=True)
    assert len(level["features"]) == 4
    subtree = client.get(f"/api/v1/exports/grids.geojson?grid={COMMUNITY}02").get_json(force=True)
    assert sorted(f["id"] for f in subtree["features"]) == [
        COMMUNITY + "02", COMMUNITY + "02001", COMMUNITY + "02002",
    ]  # fmt: skip
    box = client.get("/api/v1/exports/households.geojson?bbox=116.40,39.91,116.41,39.92")
    assert [f["id"] for f in box.get_json(force=True)["features"]] == [1]


@pytest.mark.usefixtures("staffed")
def test_too_many_rows_for_a_request_name_the_job(client, monkeypatch):
    monkeypatch.setattr(export_jobs, "STREAM_ROWS", 1)
    body = assert_problem(client.get("/api/v1/exports/households.csv"), 422, "POST /api/v1/exports")
    assert body["code"] == "too-large-for-request"
    assert client.get(f"/api/v1/exports/households.csv?grid={COMMUNITY}01").status_code == 200
    assert_problem(client.get("/api/v1/exports/households.gpkg"), 400)
    assert_problem(client.get("/api/v1/exports/parcels.geojson"), 400)


@pytest.mark.usefixtures("filed")
def test_a_job_writes_the_streamed_files_and_a_geopackage_with_its_srs(
    client, session, session_factory, settings, tmp_path
):
    counts = _expected(session)
    for layer in LAYERS:
        files = {}
        for fmt in ("geojson", "csv", "gpkg"):
            asked = client.post("/api/v1/exports", json={"layer": layer, "format": fmt})
            assert asked.status_code == 202 and asked.headers["Location"].startswith(
                "/api/v1/jobs/"
            )
            job_id = asked.get_json()["id"]
            handlers = export_jobs.handlers(settings)
            assert jobs.run_one(session_factory, handlers, job_id) == "succeeded"
            done = client.get(f"/api/v1/jobs/{job_id}").get_json()
            assert done["result"]["rows"] == counts[layer]
            files[fmt] = client.get(f"/api/v1/jobs/{job_id}/file").data
        assert files["geojson"] == client.get(f"/api/v1/exports/{layer}.geojson").data
        assert files["csv"] == client.get(f"/api/v1/exports/{layer}.csv").data
        path = tmp_path / f"{layer}.gpkg"
        path.write_bytes(files["gpkg"])
        info = pyogrio.read_info(path, layer=layer)
        assert info["features"] == counts[layer] and info["crs"] == "EPSG:4490"
        assert info["geometry_type"] == GEOMETRY[layer]
        text = ogrinfo(path)
        assert f"Feature Count: {counts[layer]}" in text and 'ID["EPSG",4490]' in text


@pytest.mark.usefixtures("staffed")
@pytest.mark.parametrize(
    "url",
    ["/api/v1/exports/households.geojson", "/api/v1/exports/grids.csv", "/api/v1/households.csv"],
)
def test_a_streamed_download_ends_its_transaction(app, client, session_factory, url):
    """The body is read after the request's teardown; once it is sent, no session of the
    request is left in a transaction (a server would keep its connection idle in it)."""
    made: list[Session] = []

    def recording() -> Session:
        made.append(session_factory())
        return made[-1]

    db.use_sessions(app, recording)  # type: ignore[arg-type]
    answer = client.get(url)
    assert answer.status_code == 200 and answer.get_data()
    assert made and not [s for s in made if s.in_transaction()]
