"""The GIS export job (``exports.gis``) with a real worker: a GeoPackage that GDAL opens with
every feature, its geometry type and the SRS EPSG:4490, stored with the job for its owner
only, audited once as an export; refused before queueing for what the export refuses."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pyogrio
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import COMMUNITY
from tests.jobs.conftest import HOUSEHOLDS, JobsDatabase, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")
Api = Callable[[str], FlaskClient]


def _jobs(db: JobsDatabase) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM job WHERE kind = 'exports.gis'")))


def test_a_geopackage_gdal_opens_its_owners_only_and_audited(
    api_as: Api, jobs_db: JobsDatabase, tmp_path: Path
) -> None:
    street = api_as("street")
    asked = street.post("/api/v1/exports", json={"layer": "households", "format": "gpkg"})
    assert asked.status_code == 202, asked.get_json()
    assert asked.headers["Location"] == f"/api/v1/jobs/{asked.get_json()['id']}"
    done = wait_for_job(street, asked.get_json()["id"])
    assert done["state"] == "succeeded", done
    assert done["kind_label"] == "GIS 数据导出" and done["result"]["rows"] == len(HOUSEHOLDS)
    answer = street.get(f"/api/v1/jobs/{done['id']}/file")
    assert answer.status_code == 200 and answer.mimetype == "application/geopackage+sqlite3"
    path = tmp_path / done["result"]["file"]["name"]
    path.write_bytes(answer.data)
    info = pyogrio.read_info(path, layer="households")
    assert (info["features"], info["geometry_type"], info["crs"]) == (
        len(HOUSEHOLDS),
        "Point",
        "EPSG:4490",
    )
    ogr = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(path), "households"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert f"Feature Count: {len(HOUSEHOLDS)}" in ogr and 'ID["EPSG",4490]' in ogr
    for other in ("street2", "other_street", "sysadmin"):
        refused = api_as(other).get(f"/api/v1/jobs/{done['id']}/file")
        assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
    with jobs_db.engine.connect() as conn:
        exported = conn.execute(
            text(
                "SELECT username, object_type, detail->>'format', detail->>'rows' FROM audit_log "
                "WHERE action = 'export' AND detail->>'job' = :job"
            ),
            {"job": str(done["id"])},
        ).all()
    assert [tuple(r) for r in exported] == [("j-street", "households", "gpkg", "5")]


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("sysadmin", {"layer": "grids"}, 403),
        ("other_street", {"layer": "grids", "grid": COMMUNITY}, 404),
        ("chief", {"layer": "grids", "format": "shp"}, 400),
        ("chief", {"layer": "requests", "level": "micro"}, 400),
    ],
)
def test_refused_before_queueing(
    api_as: Api, jobs_db: JobsDatabase, name: str, body: dict, status: int
) -> None:
    before = _jobs(jobs_db)
    answer = api_as(name).post("/api/v1/exports", json=body)
    assert answer.status_code == status, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert _jobs(jobs_db) == before
