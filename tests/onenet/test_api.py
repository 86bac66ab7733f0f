"""The 一张网 API: a department's file uploaded, imported and overlaid by jobs; the layer, its
cells and our units read in scope; its export; bad input refused with nothing written."""

from __future__ import annotations

import csv
import io
import json

import pyogrio
import pytest
from sqlalchemy import func, select

from gridmap import jobs
from gridmap.exports import export_jobs
from gridmap.onenet import jobs as onenet_jobs
from gridmap.storage.models import AuditEntry, ForeignLayer, Job, JobUpload
from tests.conftest import COMMUNITY, MID_LON, N, S, client_for
from tests.helpers import assert_problem
from tests.onenet.planted import shifted, split_cell


def _geojson(frame) -> bytes:
    return frame.to_json(ensure_ascii=False).encode()


def _upload(client, content: bytes, **fields):
    form = {"crs": "EPSG:4490", "name": "公安警格", "department": "police"} | fields
    form["file"] = (io.BytesIO(content), form.pop("filename", "jingge.geojson"))
    return client.post("/api/v1/onenet/layers", data=form, content_type="multipart/form-data")


def _run(session_factory, settings, job_id: int, handlers=None) -> str | None:
    return jobs.run_one(session_factory, handlers or onenet_jobs.handlers(settings), job_id)


@pytest.fixture
def layer_id(client, session, session_factory, settings, small_grid) -> int:
    asked = _upload(client, _geojson(shifted(small_grid, "micro", 3.0)))
    assert asked.status_code == 202, asked.get_data(as_text=True)
    job_id = asked.get_json()["id"]
    assert _run(session_factory, settings, job_id) == "succeeded"
    result = client.get(f"/api/v1/jobs/{job_id}").get_json()["result"]
    assert result["cells"] == {"aligned": 4}
    return int(result["layer"])


def test_an_uploaded_layer_is_checked_stored_overlaid_and_audited(client, session, layer_id):
    listed = client.get("/api/v1/onenet/layers").get_json()["results"]
    assert [(r["id"], r["department_label"], r["cells"]) for r in listed] == [
        (layer_id, "公安警格", 4)
    ]
    shown = client.get(f"/api/v1/onenet/layers/{layer_id}").get_json()
    assert shown["stale"] is False and shown["statuses"] == {"aligned": 4}
    assert shown["rule"] == {"tolerance_m": 5.0, "min_share": 0.05}
    (community,) = shown["summary"]
    assert community["code"] == COMMUNITY and community["aligned_units"] == 4
    assert community["aligned_area_share"] > 0.99
    cells = client.get(f"/api/v1/onenet/layers/{layer_id}/cells").get_json()["features"]
    assert {c["properties"]["status_label"] for c in cells} == {"一致"}
    units = client.get(f"/api/v1/onenet/layers/{layer_id}/units").get_json()["features"]
    assert len(units) == 4 and {u["properties"]["verdict"] for u in units} == {"aligned"}
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["onenet.upload", "import.foreign_layer"]


def test_the_export_for_the_meeting(client, session_factory, settings, layer_id, tmp_path):
    text = client.get(f"/api/v1/exports/onenet.csv?foreign_layer={layer_id}").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["网格编码", "网格名称", "比对结果"]
    assert [r[2] for r in rows[1:]] == ["一致"] * 4
    asked = client.post(
        "/api/v1/exports", json={"layer": "onenet", "format": "gpkg", "foreign_layer": layer_id}
    )
    assert asked.status_code == 202
    job_id = asked.get_json()["id"]
    assert _run(session_factory, settings, job_id, export_jobs.handlers(settings)) == "succeeded"
    path = tmp_path / "onenet.gpkg"
    path.write_bytes(client.get(f"/api/v1/jobs/{job_id}/file").data)
    frame = pyogrio.read_dataframe(path)
    assert sorted(frame["status"]) == ["aligned"] * 4 and str(frame.crs) == "EPSG:4490"
    assert_problem(client.get("/api/v1/exports/onenet.csv"), 400, "foreign_layer")
    assert_problem(client.get("/api/v1/exports/grids.csv?foreign_layer=1"), 400, "onenet")
    assert_problem(client.get("/api/v1/exports/onenet.csv?foreign_layer=999999"), 404)


def test_the_overlay_is_computed_again_on_demand(
    app, client, session_factory, settings, make_user, layer_id
):
    chief = client_for(app, make_user("chief", COMMUNITY))
    asked = chief.post(f"/api/v1/onenet/layers/{layer_id}/overlay")
    assert asked.status_code == 202
    assert _run(session_factory, settings, asked.get_json()["id"]) == "succeeded"
    other = client_for(app, make_user("chief", "110101002003"))
    assert_problem(other.post(f"/api/v1/onenet/layers/{layer_id}/overlay"), 404)
    assert_problem(other.get(f"/api/v1/onenet/layers/{layer_id}"), 404)
    assert other.get("/api/v1/onenet/layers").get_json() == {"results": []}
    worker = client_for(app, make_user("grid_worker", COMMUNITY))
    assert_problem(worker.post(f"/api/v1/onenet/layers/{layer_id}/overlay"), 403)
    assert_problem(chief.post("/api/v1/onenet/layers", data={}), 403)


def _counts(session) -> tuple[int, int, int]:
    return tuple(
        session.scalar(select(func.count()).select_from(t)) for t in (Job, JobUpload, ForeignLayer)
    )


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"name": ""}, "name"),
        ({"department": "army"}, "department"),
        ({"compare_level": "community"}, "compare_level"),
        ({"crs": "EPSG:9999"}, ""),
        ({"filename": "jingge.txt"}, "jingge.txt"),
        ({"name": "长" * 101}, "name"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(client, session, small_grid, fields, word):
    before = _counts(session)
    body = assert_problem(_upload(client, b'{"type": "FeatureCollection"}', **fields), 400)
    assert word in body["detail"]
    assert _counts(session) == before


def test_a_layer_with_broken_cells_fails_its_job_and_writes_no_layer(
    client, session, session_factory, settings, small_grid
):
    cells = split_cell(MID_LON, S, N)
    broken = json.loads(cells.to_json())
    broken["features"].append(dict(broken["features"][0]))  # the same code twice
    job_id = _upload(client, json.dumps(broken).encode()).get_json()["id"]
    assert _run(session_factory, settings, job_id) == "failed"
    error = client.get(f"/api/v1/jobs/{job_id}").get_json()["error"]
    assert error["status"] == 422 and "CG001" in error["detail"]
    assert session.scalar(select(func.count()).select_from(ForeignLayer)) == 0
