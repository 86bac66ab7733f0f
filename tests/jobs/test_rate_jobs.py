"""The 三率 ranking's download (红黑榜) as a background job, with a real worker: the same
parameters and scope checks as ``GET /api/v1/rates.<fmt>``, refused before anything is queued
when they are wrong, the file the same as the synchronous download's, its owner's only,
audited once."""

from __future__ import annotations

import io
from collections.abc import Callable

import openpyxl
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import COMMUNITY
from tests.jobs.conftest import JobsDatabase, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")
Api = Callable[[str], FlaskClient]
OTHER_STREET_COMMUNITY = "110101002001"


def _rows(data: bytes) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def _jobs(db: JobsDatabase) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM job WHERE kind = 'requests.rates'")))


def _done(client: FlaskClient, body: dict) -> dict:
    asked = client.post("/api/v1/rates-jobs", json=body)
    assert asked.status_code == 202, asked.get_json()
    assert asked.headers["Location"] == f"/api/v1/jobs/{asked.get_json()['id']}"
    done = wait_for_job(client, asked.get_json()["id"])
    assert done["state"] == "succeeded", done
    return done


def test_the_workbook_is_the_downloads_and_only_its_owner_gets_it(
    api_as: Api, jobs_db: JobsDatabase
) -> None:
    chief = api_as("chief")
    done = _done(chief, {"period": "2026-11", "level": "zone"})
    assert done["kind_label"] == "三率排名导出"
    answer = chief.get(f"/api/v1/jobs/{done['id']}/file")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].endswith("rates-grid-zone-2026-11.xlsx")
    direct = chief.get("/api/v1/rates.xlsx?period=2026-11&level=zone")
    assert direct.status_code == 200
    rows = _rows(answer.data)
    assert rows == _rows(direct.data) and rows[0][0] == "三率排名（片区网格，2026-11）"
    assert {r[0] for r in rows[2:]} == {COMMUNITY + "01", COMMUNITY + "02"}
    for other in ("street", "other_street"):
        refused = api_as(other).get(f"/api/v1/jobs/{done['id']}/file")
        assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
        assert api_as(other).get(f"/api/v1/jobs/{done['id']}").status_code == 404
    with jobs_db.engine.connect() as conn:
        exported = conn.execute(
            text(
                "SELECT username, object_id, detail->>'format' FROM audit_log "
                "WHERE action = 'export' AND object_type = 'rates' AND detail->>'job' = :job"
            ),
            {"job": str(done["id"])},
        ).all()
    assert [tuple(r) for r in exported] == [("j-chief", "2026-11", "xlsx")]


def test_a_csv_of_a_date_range_and_a_grid_in_scope(api_as: Api) -> None:
    street = api_as("street")
    body = {"from": "2026-11-01", "to": "2026-11-07", "grid": COMMUNITY, "format": "csv"}
    done = _done(street, body)
    answer = street.get(f"/api/v1/jobs/{done['id']}/file")
    assert answer.mimetype == "text/csv"
    direct = street.get(f"/api/v1/rates.csv?from=2026-11-01&to=2026-11-07&grid={COMMUNITY}")
    assert answer.data == direct.data and answer.data.startswith("\ufeff".encode())


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("sysadmin", {"period": "2026-11"}, 403),  # no export
        ("other_street", {"grid": COMMUNITY}, 404),  # outside the scope
        ("chief", {"grid": OTHER_STREET_COMMUNITY}, 404),
        ("chief", {"period": "2026-13"}, 400),
        ("chief", {"period": "0000-01"}, 400),
        ("chief", {"period": "2026-11", "from": "2026-11-01", "to": "2026-11-02"}, 400),
        ("chief", {"from": "2026-11-01"}, 400),
        ("chief", {"from": "2026-11-07", "to": "2026-11-01"}, 400),
        ("chief", {"level": "building"}, 400),
        ("chief", {"format": "pdf"}, 400),
        ("chief", {"by": "grid", "colour": "red"}, 400),
        ("chief", {"period": 202611}, 400),
    ],
)
def test_what_the_download_refuses_is_refused_before_queueing(
    api_as: Api, jobs_db: JobsDatabase, name: str, body: dict, status: int
) -> None:
    before = _jobs(jobs_db)
    answer = api_as(name).post("/api/v1/rates-jobs", json=body)
    assert answer.status_code == status, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert _jobs(jobs_db) == before
    if status != 403 and not {"format", "colour"} & set(body):  # the download's parameters
        query = "&".join(f"{k}={v}" for k, v in body.items())
        direct = api_as(name).get(f"/api/v1/rates.xlsx?{query}")
        assert direct.status_code == status, (query, direct.get_json())
