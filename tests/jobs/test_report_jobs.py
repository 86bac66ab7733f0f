"""The monthly review workbook as a background job, with a real worker: asked for, polled,
downloaded by its owner only, audited."""

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


def test_the_workbook_is_built_by_the_worker_and_only_its_owner_downloads_it(
    api_as: Api, jobs_db: JobsDatabase
) -> None:
    chief = api_as("chief")
    asked = chief.post("/api/v1/review/report-jobs", json={"month": "2026-11"})
    assert asked.status_code == 202, asked.get_json()
    job_id = asked.get_json()["id"]
    assert asked.headers["Location"] == f"/api/v1/jobs/{job_id}"
    done = wait_for_job(chief, job_id)
    assert done["state"] == "succeeded", done
    assert done["kind_label"] == "一月一研判报告"
    answer = chief.get(f"/api/v1/jobs/{job_id}/file")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(answer.data))
    assert workbook.sheetnames
    assert api_as("street").get(f"/api/v1/jobs/{job_id}/file").status_code == 404
    with jobs_db.engine.connect() as conn:
        exported = conn.scalar(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'export' "
                "AND object_type = 'review_report' AND detail->>'job' = :job"
            ),
            {"job": str(job_id)},
        )
    assert exported == 1


def test_the_html_page_is_a_job_too(api_as: Api) -> None:
    chief = api_as("chief")
    asked = chief.post("/api/v1/review/report-jobs", json={"month": "2026-11", "format": "html"})
    assert asked.status_code == 202, asked.get_json()
    done = wait_for_job(chief, asked.get_json()["id"])
    assert done["state"] == "succeeded", done
    assert done["result"]["file"]["name"] == f"review-{COMMUNITY}-2026-11.html"
    answer = chief.get(f"/api/v1/jobs/{done['id']}/file")
    assert answer.mimetype == "text/html"
    assert "2026年11月 诉求研判报告" in answer.get_data(as_text=True)


def test_no_file_before_the_job_has_one(api_as: Api) -> None:
    answer = api_as("chief").get("/api/v1/jobs/999999/file")
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "body", [{"month": "2026-13"}, {"month": "0000-01"}, {"grid": "x"}, {"format": "pdf"}]
)
def test_a_bad_month_or_area_is_refused_before_queueing(api_as: Api, body: dict) -> None:
    assert api_as("chief").post("/api/v1/review/report-jobs", json=body).status_code == 400
