"""The GIS exports (``/api/v1/exports``) keep to the caller's scope and mask personal data like
every answer: a zone leader's export (the review layer's too) holds its zone only, no export
of any layer or format holds a plain phone number, resident's name or description nor
anything of another street, addresses are plain only to the staff with a duty to the
households (a chief, not a street administrator) and staff names plain to staff, every CSV
cell is neutralised, a job is refused at once for bad parameters (400) or a grid outside the
scope (404), and its file is its owner's only."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyogrio
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridmap import jobs
from gridmap.core.cells import FORMULA_STARTS
from gridmap.demo import loader as demo
from gridmap.exports import export_jobs
from gridmap.storage.models import AuditEntry, Grid, Household, Job
from tests.conftest import client_for
from tests.security.conftest import A_HOUSEHOLDS, A_PEOPLE, A, B, b_secrets

CONTACT = ("陈晓红", "13912345678")
#: A phone number typed into a request's description: masked in every answer.
DESCRIPTION = "楼下垃圾桶满溢，请联系 13698765432 处理"
FORMULA = '=HYPERLINK("http://x","点")社区1号楼'
LAYERS = ("households", "grids", "requests", "review")
#: The layers whose features are grids (the review's: micro-grids), keyed by their code.
GRID_LAYERS = ("grids", "review")


@pytest.fixture
def filed(app, make_user, session: Session, world) -> None:
    """Requests in A's zones 01 and 02 and in B, with contact details and a phone number in
    the description."""
    demo.seed_categories(session)
    session.commit()
    body = {
        "category": "sanitation.garbage",
        "description": DESCRIPTION,
        "contact": {"name": CONTACT[0], "phone": CONTACT[1]},
    }
    for scope, (lon, lat) in (
        (A[:9], (116.405, 39.915)),
        (A[:9], (116.415, 39.905)),
        (B[:9], (116.445, 39.915)),
    ):
        street = client_for(app, make_user("street_admin", scope))
        place = {"location": {"lon": lon, "lat": lat, "crs": "EPSG:4490"}}
        answer = street.post("/api/v1/requests", json=body | place)
        assert answer.status_code == 201, answer.get_json()


A_ADDRESSES = [address for _, _, address, *_ in A_HOUSEHOLDS.values()]


def _plain_values(*, doors: bool) -> list[str]:
    """What must appear in no export: A's staff phones, the plain contact and description,
    everything of B, and A's plain addresses unless the reader has a duty to them (``doors``).
    A's staff names are not in it: staff read each other's names."""
    out = [p for _, p in A_PEOPLE.values()] + ([] if doors else A_ADDRESSES)
    out += [*CONTACT, "13698765432"]
    return out + b_secrets()


def _every_export(app, session_factory, settings, client, tmp_path, layer: str) -> list[str]:
    """The text of every format of ``layer``'s export: GeoJSON, the CSVs and the job's
    GeoPackage."""
    texts = [client.get(f"/api/v1/exports/{layer}.geojson").get_data(as_text=True)]
    for query in ("", "?geometry=wkt", "?header=en"):
        texts.append(client.get(f"/api/v1/exports/{layer}.csv{query}").get_data(as_text=True))
    done = _run(app, session_factory, settings, client, {"layer": layer})
    frame = pyogrio.read_dataframe(_gpkg(client, done, tmp_path))
    texts.append(frame.drop(columns="geometry").to_csv())
    return texts


def _csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _features(client: FlaskClient, layer: str, query: str = "") -> list[dict]:
    answer = client.get(f"/api/v1/exports/{layer}.geojson{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return json.loads(answer.get_data(as_text=True))["features"]


def _run(app, session_factory, settings, client: FlaskClient, body: dict) -> dict:
    """Ask for an export job and run it in this test's transaction, as the worker would."""
    asked = client.post("/api/v1/exports", json=body)
    assert asked.status_code == 202, asked.get_json()
    job_id = asked.get_json()["id"]
    assert jobs.run_one(session_factory, export_jobs.handlers(settings), job_id) == "succeeded"
    done = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert done["state"] == "succeeded" and done["kind_label"] == "GIS 数据导出", done
    return done


def _gpkg(client: FlaskClient, done: dict, tmp_path: Path) -> Path:
    answer = client.get(f"/api/v1/jobs/{done['id']}/file")
    assert answer.status_code == 200
    assert answer.mimetype == "application/geopackage+sqlite3"
    path = tmp_path / done["result"]["file"]["name"]
    path.write_bytes(answer.data)
    return path


# ----------------------------------------------------------------------------------- scope


@pytest.mark.usefixtures("filed")
def test_a_zone_leaders_exports_hold_only_its_zone(
    app, make_user, session_factory, settings, tmp_path
):
    zone = client_for(app, make_user("zone_leader", A + "01"))
    codes = {f["properties"]["code"] for f in _features(zone, "grids")}
    assert codes == {A + "01", A + "01001", A + "01002"}
    households = _features(zone, "households")
    assert [f["id"] for f in households] == [1]
    requests = _features(zone, "requests")
    assert len(requests) == 1 and requests[0]["properties"]["micro_grid_code"] == A + "01001"
    for layer in LAYERS:
        rows = _csv(zone.get(f"/api/v1/exports/{layer}.csv?header=en").get_data(as_text=True))
        column = rows[0].index("code" if layer in GRID_LAYERS else "micro_grid_code")
        assert rows[1:] and all(r[column].startswith(A + "01") for r in rows[1:]), rows
        done = _run(app, session_factory, settings, zone, {"layer": layer, "format": "gpkg"})
        frame = pyogrio.read_dataframe(_gpkg(zone, done, tmp_path))
        key = "code" if layer in GRID_LAYERS else "micro_grid_code"
        assert len(frame) == done["result"]["rows"] > 0
        assert frame[key].str.startswith(A + "01").all(), frame[key].tolist()


@pytest.mark.usefixtures("filed")
def test_a_grid_outside_the_scope_is_not_found_and_nothing_is_queued(
    app, make_user, session: Session
):
    zone = client_for(app, make_user("zone_leader", A + "01"))
    before = session.scalar(select(func.count()).select_from(Job))
    for grid in (A + "02", B):
        refused = zone.post("/api/v1/exports", json={"layer": "households", "grid": grid})
        assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
        streamed = zone.get(f"/api/v1/exports/households.geojson?grid={grid}")
        assert streamed.status_code == 404
    assert session.scalar(select(func.count()).select_from(Job)) == before


@pytest.mark.parametrize(
    "body",
    [
        {"layer": "buildings"},
        {"layer": "households", "format": "pdf"},
        {"layer": "households", "format": "gpkg", "geometry": "wkt"},
        {"layer": "households", "format": "geojson", "header": "en"},
        {"layer": "households", "level": "zone"},
        {"layer": "grids", "state": "reported"},
        {"layer": "requests", "state": "lost"},
        {"layer": "requests", "from": "2026-11-07", "to": "2026-11-01"},
        {"layer": "requests", "from": "2026-13-01"},
        {"layer": "grids", "bbox": "116.5,39.9,116.4,39.95"},
        {"layer": "grids", "grid": "11x"},
        {"layer": "grids", "colour": "red"},
        {"layer": "grids", "overdue": "yes"},
        {},
    ],
)
def test_bad_parameters_are_refused_at_once(app, make_user, session: Session, world, body):
    chief = client_for(app, make_user("chief", A))
    before = session.scalar(select(func.count()).select_from(Job))
    refused = chief.post("/api/v1/exports", json=body)
    assert refused.status_code == 400, refused.get_json()
    assert refused.mimetype == "application/problem+json" and refused.get_json()["detail"]
    assert session.scalar(select(func.count()).select_from(Job)) == before


def test_roles_without_export_may_not_export(app, make_user, world):
    for role, scope in (("grid_worker", A + "01001"), ("system_admin", None)):
        client = client_for(app, make_user(role, scope))
        assert client.post("/api/v1/exports", json={"layer": "grids"}).status_code == 403
        assert client.get("/api/v1/exports/grids.geojson").status_code == 403


# -------------------------------------------------------------------------------- masking


@pytest.mark.usefixtures("filed")
def test_no_export_holds_plain_personal_data_or_another_streets_rows(
    app, make_user, session_factory, settings, tmp_path
):
    street = client_for(app, make_user("street_admin", A[:9]))
    plain = _plain_values(doors=False)
    for layer in LAYERS:
        for text in _every_export(app, session_factory, settings, street, tmp_path, layer):
            leaked = [value for value in plain if value in text]
            assert not leaked, (layer, leaked)
    masked = _features(street, "requests")[0]["properties"]
    assert masked["description"] == "楼下垃圾桶满溢，请联系 136****5432 处理"
    household = _features(street, "households")[0]["properties"]
    assert household["address"] == "东城区测试社区**号楼*单元***"


@pytest.mark.usefixtures("filed")
def test_a_chiefs_exports_show_the_doors_of_its_community_and_nothing_else_plain(
    app, make_user, session_factory, settings, tmp_path
):
    """A chief has a duty to every household of its community: every format, the job's too,
    gives their building, unit and room; phones, the resident's name and B stay out."""
    chief = client_for(app, make_user("chief", A))
    plain = _plain_values(doors=True)
    for layer in LAYERS:
        texts = _every_export(app, session_factory, settings, chief, tmp_path, layer)
        for text in texts:
            leaked = [value for value in plain if value in text]
            assert not leaked, (layer, leaked)
        if layer == "households":
            assert all(address in text for address in A_ADDRESSES for text in texts)
    household = next(f for f in _features(chief, "households") if f["id"] == 1)["properties"]
    assert (household["building"], household["unit"], household["room"]) == ("12", "2", "301")


def test_every_csv_cell_is_neutralised(app, make_user, session: Session, world):
    session.execute(update(Household).where(Household.id == 1).values(address=FORMULA))
    session.execute(update(Grid).where(Grid.code == A + "01").values(name="@SUM(A1:A9)"))
    session.commit()
    chief = client_for(app, make_user("chief", A))
    for layer, query in (
        ("households", ""),
        ("households", "?header=en"),
        ("grids", "?geometry=wkt"),
    ):
        rows = _csv(chief.get(f"/api/v1/exports/{layer}.csv{query}").get_data(as_text=True))
        cells = [c for r in rows for c in r]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS)], layer
        assert any(c.startswith("'=HYPERLINK") or c == "'@SUM(A1:A9)" for c in cells), layer


# --------------------------------------------------------------------- owner and audit


def test_the_file_is_its_owners_only_and_every_export_is_audited(
    app, make_user, session: Session, session_factory, settings, world, tmp_path
):
    chief = client_for(app, make_user("chief", A))
    done = _run(app, session_factory, settings, chief, {"layer": "households", "grid": A})
    assert chief.get(f"/api/v1/jobs/{done['id']}/file").status_code == 200
    for role, scope in (("chief", A), ("street_admin", A[:9]), ("system_admin", None)):
        other = client_for(app, make_user(role, scope))
        refused = other.get(f"/api/v1/jobs/{done['id']}/file")
        assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
    assert chief.get("/api/v1/exports/grids.csv?geometry=wkt").status_code == 200
    rows = session.execute(
        select(AuditEntry.action, AuditEntry.object_type, AuditEntry.detail)
        .where(AuditEntry.action.in_(("export", "export.request")))
        .order_by(AuditEntry.id)
    ).all()
    assert [(a, o) for a, o, _ in rows] == [
        ("export.request", "job"),
        ("export", "households"),
        ("export", "grids"),
    ]
    assert rows[1].detail == {"format": "gpkg", "rows": 2, "job": done["id"], "grid": A}
    assert rows[2].detail == {"format": "csv", "geometry": "wkt"}
