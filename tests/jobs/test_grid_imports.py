"""The import page's API with a real worker: upload → validation job (nothing written) →
report and diff → confirm → import job (all or nothing, audited); refusals and bad uploads.

The tests run in file order on one committed database: the refusals first, against the small
grid as loaded, then the import that redraws it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import text

from tests.conftest import PASSWORD
from tests.jobs import files
from tests.jobs.conftest import MAX_UPLOAD, JobsDatabase, wait_for_job
from tests.security.test_sessions import csrf_token

pytestmark = pytest.mark.usefixtures("worker")
Api = Callable[[str], FlaskClient]


def upload(client: FlaskClient, content: bytes, name: str, crs: str = "EPSG:4490") -> Any:
    return client.post(
        "/api/v1/grid-imports",
        data={"file": (io.BytesIO(content), name), "crs": crs},
        content_type="multipart/form-data",
    )


def validated(client: FlaskClient, content: bytes, name: str, crs: str = "EPSG:4490") -> dict:
    answer = upload(client, content, name, crs)
    assert answer.status_code == 202, answer.get_json()
    assert answer.headers["Location"].endswith(f"/api/v1/jobs/{answer.get_json()['id']}")
    return wait_for_job(client, answer.get_json()["id"])


def current_micro_bounds(db: JobsDatabase, code: str) -> list[float]:
    with db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_YMin(geom), ST_YMax(geom) FROM grid"
                " WHERE code = :code AND valid_to IS NULL"
            ),
            {"code": code},
        ).one()
    return [round(float(v), 6) for v in row]


# ------------------------------------------------------------------------------ job status


def test_a_job_is_its_owners_and_the_system_administrators_only(api_as: Api) -> None:
    job = validated(api_as("street"), files.geojson(files.redraw_frame()), "grids.geojson")
    assert job["state"] == "succeeded" and job["state_label"] == "已完成"
    assert job["kind_label"] == "网格文件检查" and job["progress"] == 100
    assert {"created_at", "started_at", "finished_at", "result", "error"} <= set(job)
    assert api_as("sysadmin").get(f"/api/v1/jobs/{job['id']}").status_code == 200
    for other in ("street2", "other_street", "chief"):
        answer = api_as(other).get(f"/api/v1/jobs/{job['id']}")
        assert answer.status_code == 404, other
        assert answer.mimetype == "application/problem+json"
    assert api_as("street").get("/api/v1/jobs/999999999").status_code == 404


def test_only_street_and_system_administrators_may_upload(api_as: Api) -> None:
    answer = upload(api_as("chief"), files.geojson(files.redraw_frame()), "grids.geojson")
    assert answer.status_code == 403
    page = {"Accept": "text/html"}
    assert api_as("chief").get("/grids/import", headers=page).status_code == 403
    for name in ("street", "sysadmin"):
        opened = api_as(name).get("/grids/import", headers=page)
        assert opened.status_code == 200, name
        assert "网格导入" in opened.get_data(as_text=True)


# ------------------------------------------------------------------------------ refusals


def test_a_file_with_an_overlap_is_refused_with_its_shape_and_nothing_written(
    api_as: Api, jobs_db: JobsDatabase
) -> None:
    job = validated(api_as("street"), files.geojson(files.overlapping_frame()), "o.geojson")
    result = job["result"]
    assert job["state"] == "succeeded" and result["ok"] is False
    problems = result["report"]["features"]
    overlap = [p for p in problems if p["properties"]["kind"] == "overlap"]
    assert overlap and overlap[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert "重叠" in overlap[0]["properties"]["message"]
    assert len(result["current"]["features"]) == 7  # today's grid of the area, to draw under
    assert current_micro_bounds(jobs_db, files.Z1 + "001") == [39.91, 39.92]
    confirm = api_as("street").post(f"/api/v1/grid-imports/{job['id']}/confirm")
    assert confirm.status_code == 409
    assert "未通过检查" in confirm.get_json()["detail"]


def test_grids_outside_the_street_are_refused(api_as: Api) -> None:
    job = validated(api_as("other_street"), files.geojson(files.redraw_frame()), "g.geojson")
    assert job["result"]["ok"] is False
    kinds = {p["properties"]["kind"] for p in job["result"]["report"]["features"]}
    assert kinds == {"out_of_scope"}
    assert "不在您的管辖范围" in job["result"]["report"]["features"][0]["properties"]["message"]


def test_unknown_level_names_are_refused_in_chinese(api_as: Api) -> None:
    job = validated(api_as("street"), files.geojson(files.bad_level_frame()), "l.geojson")
    assert job["result"]["ok"] is False
    messages = [p["properties"]["message"] for p in job["result"]["report"]["features"]]
    assert any("层级" in m for m in messages), messages


def test_retiring_a_grid_that_is_not_current_is_refused_in_chinese(api_as: Api) -> None:
    job = validated(api_as("street"), files.geojson(files.retire_unknown_frame()), "r.geojson")
    assert job["result"]["ok"] is False
    messages = [p["properties"]["message"] for p in job["result"]["report"]["features"]]
    assert messages == [f"网格 {files.Z1}009 不是现行网格，无法撤销"]


def test_content_that_is_not_a_grid_file_fails_the_job_with_a_chinese_problem(
    api_as: Api,
) -> None:
    job = validated(api_as("street"), b"this is not json", "grids.geojson")
    assert job["state"] == "failed" and job["state_label"] == "失败"
    assert job["error"]["status"] == 400 and "无法读取" in job["error"]["detail"]


@pytest.mark.parametrize(
    ("content", "name", "crs", "status", "says"),
    [
        (b"code,name\n", "grids.csv", "EPSG:4490", 400, "只能上传网格文件"),
        (b"", "grids.geojson", "EPSG:4490", 400, "空"),
        (b"x" * (MAX_UPLOAD + 1), "grids.geojson", "EPSG:4490", 413, "文件过大"),
        (b"not a zip", "grids.zip", "EPSG:4490", 400, "不是 zip"),
        (b"{}", "grids.geojson", "EPSG:3857", 400, "EPSG:3857"),
        (b"{}", "grids.geojson", "", 400, "坐标系"),
    ],
)
def test_bad_uploads_answer_a_problem_before_any_job(
    api_as: Api, content: bytes, name: str, crs: str, status: int, says: str
) -> None:
    answer = upload(api_as("street"), content, name, crs)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert says in answer.get_json()["detail"]


def test_a_request_larger_than_the_upload_limit_is_a_413_problem(api_as: Api) -> None:
    answer = upload(api_as("street"), b"x" * (MAX_UPLOAD + 200_000), "grids.geojson")
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"
    assert "超过了允许的大小" in answer.get_json()["detail"]


def test_an_upload_may_be_larger_than_other_requests(api_as: Api, jobs_app: OpenAPI) -> None:
    padded = files.geojson(files.overlapping_frame()) + b" " * (MAX_UPLOAD * 3 // 4)
    assert len(padded) > MAX_UPLOAD // 2  # the app's GRIDMAP_MAX_BODY_BYTES
    job = validated(api_as("street"), padded, "padded.geojson")
    assert job["state"] == "succeeded"
    # From the page: a login cookie, so the CSRF check reads the form before the view runs.
    browser = jobs_app.test_client()
    login = browser.post("/login", data={"username": "j-street", "password": PASSWORD})
    assert login.status_code == 400  # no CSRF token yet: get the form's first
    token = csrf_token(browser, "/login")
    form = {"username": "j-street", "password": PASSWORD, "csrf_token": token}
    assert browser.post("/login", data=form).status_code == 302
    token = csrf_token(browser, "/grids/import")
    answer = browser.post(
        "/api/v1/grid-imports",
        data={"file": (io.BytesIO(padded), "padded.geojson"), "crs": "EPSG:4490"},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 202, answer.get_data(as_text=True)


# --------------------------------------------------------------------- formats, then import


def test_a_zipped_shapefile_and_a_geopackage_validate(api_as: Api, tmp_path: Path) -> None:
    frame = files.redraw_frame()
    (tmp_path / "shp").mkdir()
    shp = validated(api_as("street"), files.shapefile_zip(frame, tmp_path / "shp"), "网格.zip")
    gpkg = validated(api_as("street"), files.geopackage(frame, tmp_path), "grids.gpkg")
    for job in (shp, gpkg):
        assert job["result"]["ok"] is True, job["result"]["report"]
        assert job["result"]["diff"]["counts"] == {"new": 7, "changed": 2, "retired": 0}


def test_validate_then_confirm_imports_the_redraw_once_and_audits_it(
    api_as: Api, jobs_db: JobsDatabase
) -> None:
    street = api_as("street")
    job = validated(street, files.geojson(files.redraw_frame()), "grids.geojson")
    result = job["result"]
    assert result["ok"] is True
    assert result["diff"]["counts"] == {"new": 7, "changed": 2, "retired": 0}
    assert result["diff"]["moved"]["households"] == 3
    assert result["diff"]["moved"]["pairs"] == [
        {"from": files.Z1 + "002", "to": files.Z1 + "001", "households": 3}
    ]
    assert "GCJ-02" in result["hint"]  # degrees in China declared as CGCS2000
    assert current_micro_bounds(jobs_db, files.Z1 + "001") == [39.91, 39.92]  # dry run

    answer = street.post(f"/api/v1/grid-imports/{job['id']}/confirm")
    assert answer.status_code == 202, answer.get_json()
    imported = wait_for_job(street, answer.get_json()["id"])
    assert imported["state"] == "succeeded", imported["error"]
    assert imported["kind_label"] == "网格导入" and imported["parent_id"] == job["id"]
    assert imported["result"]["written"] == 9 and imported["result"]["closed"] == 2
    codes = {f["properties"]["code"] for f in imported["result"]["current"]["features"]}
    assert files.EAST in codes
    assert current_micro_bounds(jobs_db, files.Z1 + "001") == [files.NEW_MID, 39.92]
    with jobs_db.engine.connect() as conn:
        audited = conn.execute(
            text("SELECT username, object_id FROM audit_log WHERE action = 'import.grids'")
        ).all()
    assert [(u, o) for u, o in audited] == [("j-street", str(imported["id"]))]
    again = street.post(f"/api/v1/grid-imports/{job['id']}/confirm")
    assert again.status_code == 409
