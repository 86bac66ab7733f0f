"""Fixtures of the job tests: a database of their own with committed data, and real worker
processes (``flask gridmap worker``, or the test kind's ``tests.jobs.count_worker``).

A worker is another process, so it cannot see the per-test transaction: what it works on is
committed here, in a database dropped at the end, like the resilience tests' gunicorn.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from sqlalchemy import Engine, create_engine, update
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.access import accounts, auth
from gridmap.core import clock, db
from gridmap.core.settings import Settings
from gridmap.grid import ingest
from gridmap.storage.models import Grid, Household
from tests.conftest import (
    COMMUNITY,
    PASSWORD,
    client_for,
    create_test_database,
    drop_test_database,
    small_grid_frame,
)
from tests.workers import start_worker, stop_worker

#: The jobs app's upload limit: small, so the test of a too-large file sends little.
MAX_UPLOAD = 200_000
#: name → (role, scope_code) of the accounts of the jobs database.
ACCOUNTS: dict[str, tuple[str, str | None]] = {
    "street": ("street_admin", COMMUNITY[:9]),
    "street2": ("street_admin", COMMUNITY[:9]),
    "other_street": ("street_admin", "110101002"),
    "sysadmin": ("system_admin", None),
    "chief": ("chief", COMMUNITY),
}

#: Households of the small grid: three in micro-grid 01002 just south of the line between
#: 01001 and 01002 (a redraw moving the line south moves them), two well inside 01001.
HOUSEHOLDS = [(116.405, 39.907)] * 3 + [(116.405, 39.915)] * 2


@dataclass
class JobsDatabase:
    owner_url: str
    app_url: str
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)


def load_grid(session: Session) -> None:
    """The small grid, drawn a month ago, and :data:`HOUSEHOLDS` (not committed).

    A month ago, so that a redraw closes these versions at any hour: a version drawn today
    is corrected in place instead, and ``valid_from`` left to ``CURRENT_DATE`` would be the
    date of this session's time zone (the cluster's, UTC), not of the app's (Beijing): the
    two differ from 16:00 to 24:00 UTC."""
    ingest.import_grids(session, small_grid_frame(), "EPSG:4490", Settings())
    session.execute(update(Grid).values(valid_from=clock.today() - dt.timedelta(days=30)))
    session.add_all(
        Household(geom=f"SRID=4490;POINT({lon} {lat})", address=f"测试地址{i}号")
        for i, (lon, lat) in enumerate(HOUSEHOLDS)
    )


def _load(url: str) -> tuple[dict[str, str], dict[str, int]]:
    engine = create_engine(url)
    tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    with Session(engine) as session:
        load_grid(session)
        for name, (role, scope) in ACCOUNTS.items():
            user = accounts.create_user(session, f"j-{name.replace('_', '-')}", PASSWORD)
            accounts.grant_role(session, user.id, role, scope_code=scope, admins_too=True)
            session.commit()
            ids[name] = user.id
            _, tokens[name] = auth.login(
                session,
                user.username,
                PASSWORD,
                kind="bearer",
                settings=Settings(),
                origin=auth.Origin("127.0.0.1", "job tests"),
            )
    engine.dispose()
    return tokens, ids


@pytest.fixture(scope="session")
def jobs_db() -> Iterator[JobsDatabase]:
    name = f"gridmap_test_jobs_{os.getpid()}"
    owner, app_url = create_test_database(name)
    tokens, ids = _load(app_url)
    engine = create_engine(app_url)
    yield JobsDatabase(owner, app_url, engine, tokens, ids)
    engine.dispose()
    drop_test_database(name)


@pytest.fixture(scope="session")
def worker(jobs_db: JobsDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``flask gridmap worker`` on the jobs database; yields its log file."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(jobs_db.app_url, log)
    yield log
    stop_worker(process)


@pytest.fixture(scope="session")
def jobs_app(jobs_db: JobsDatabase) -> Iterator[OpenAPI]:
    """The app on the jobs database, committing for real (the worker must see its writes)."""
    settings = Settings(
        database_url=jobs_db.app_url,
        basemap_crs="none",
        max_upload_bytes=MAX_UPLOAD,
        max_body_bytes=MAX_UPLOAD // 2,
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    db.dispose(app)


@pytest.fixture
def api_as(jobs_app: OpenAPI, jobs_db: JobsDatabase) -> Callable[[str], FlaskClient]:
    """A test client with the bearer token of account ``name`` of :data:`ACCOUNTS`."""
    return lambda name: client_for(jobs_app, jobs_db.tokens[name])


def wait_for_job(client: FlaskClient, job_id: int, seconds: float = 180) -> dict:
    """Poll ``GET /api/v1/jobs/<id>`` until the job has finished; its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = client.get(f"/api/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.get_json()
        body: dict = answer.get_json()
        if body["state"] in ("succeeded", "failed"):
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} still {body['state']} after {seconds} s: {body}")
        time.sleep(0.2)
