"""Fixtures of the resilience tests: the app under gunicorn on a database of its own.

These are correctness tests under load, not timed tests. The data (a staffed small grid, the
category catalogue, accounts and their bearer tokens) is committed, because several gunicorn
worker processes serve it; so it lives in a database of its own, dropped at the end. The rate
limits are raised for the live server: the tests send thousands of writes from 127.0.0.1 and
must see the app's answers, not 429s.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gridmap.access import accounts, auth
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.grid import ingest
from tests.conftest import (
    COMMUNITY,
    PASSWORD,
    create_test_database,
    drop_test_database,
    small_grid_frame,
)
from tests.requests.conftest import load_staff
from tests.workers import stop_process

ROOT = Path(__file__).resolve().parents[2]
#: Environment of every gunicorn started here: no limiter in the way, no basemap host.
LIVE_ENV = {
    "GRIDMAP_WRITE_RATE_LIMIT": "1000000 per minute",
    "GRIDMAP_LOGIN_RATE_LIMIT": "1000000 per minute",
    "GRIDMAP_BASEMAP_CRS": "none",
}
#: name → (role, scope_code, person_id) of the accounts each test database gets.
ACCOUNTS: dict[str, tuple[str, str | None, int | None]] = {
    "worker": ("grid_worker", COMMUNITY + "01001", 3),
    "street": ("street_admin", COMMUNITY[:9], None),
    "sysadmin": ("system_admin", None, None),
    "secadmin": ("security_admin", None, None),
    # Logged out by the malformed-body test of /auth/logout, so nobody else uses it.
    "leaver": ("member", None, 4),
    # The target of the account endpoints' malformed bodies (password, role, unlock).
    "target": ("member", None, 4),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ------------------------------------------------------------------------------------ data


def load_staffed_grid(session: Session) -> None:
    """The requests tests' staffed small grid (see ``tests/requests/conftest.py``), the
    category catalogue, and one post just for the malformed-body tests (person 5, worker of
    02002) so that no test ends a post others route to."""
    ingest.import_grids(session, small_grid_frame(), "EPSG:4490", Settings())
    demo.seed_categories(session)
    load_staff(session, extra_posts=(["5", COMMUNITY + "02002", "grid_worker"],))


def make_accounts(session: Session) -> tuple[dict[str, str], dict[str, int]]:
    """The accounts of ``ACCOUNTS``: their bearer tokens and user ids."""
    tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    for name, (role, scope, person) in ACCOUNTS.items():
        user = accounts.create_user(session, f"r-{name}", PASSWORD)
        accounts.grant_role(
            session, user.id, role, scope_code=scope, person_id=person, admins_too=True
        )
        session.commit()
        ids[name] = user.id
        _, tokens[name] = auth.login(
            session,
            f"r-{name}",
            PASSWORD,
            kind="bearer",
            settings=Settings(),
            origin=auth.Origin("127.0.0.1", "resilience tests"),
        )
    return tokens, ids


@dataclass
class Deployment:
    """A database loaded for these tests and what the tests need to know of it."""

    owner_url: str
    app_url: str
    tokens: dict[str, str]
    user_ids: dict[str, int]
    base_url: str = ""
    gunicorn: Any = None
    log: Path | None = None


def prepare(owner_url: str, app_url: str) -> Deployment:
    """Load the staffed grid and the accounts into a migrated database."""
    engine = create_engine(app_url)
    with Session(engine) as session:
        load_staffed_grid(session)
        tokens, ids = make_accounts(session)
    engine.dispose()
    return Deployment(owner_url, app_url, tokens, ids)


def table_counts(owner_url: str) -> dict[str, int]:
    """Rows in every table of the schema, read by the owner (who sees every table); a
    partitioned table's rows are counted under its own name, not per partition."""
    engine = create_engine(owner_url)
    with engine.connect() as conn:
        tables = conn.scalars(
            text(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                " AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY 1"
            )
        ).all()
        counts = {t: conn.scalar(text(f'SELECT count(*) FROM "{t}"')) or 0 for t in tables}
    engine.dispose()
    return counts


# -------------------------------------------------------------------------------- gunicorn


#: How long a starting gunicorn may take to answer its readiness probe: generous, because the
#: machine may be busy with other work; a ready server answers at once.
READY_SECONDS = 180


def start_gunicorn(
    app_url: str, log: Path, workers: int = 4, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving ``create_app()`` on ``app_url``, once it answers; returns the process
    and base URL."""
    process, base = spawn_gunicorn(app_url, log, workers, extra_env)
    return process, until_ready(process, base, "gunicorn", log)


def spawn_gunicorn(
    app_url: str, log: Path, workers: int = 4, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """gunicorn starting to serve ``create_app()`` on ``app_url`` (not yet waited for, so that
    several start at once: see :func:`until_ready`); ``extra_env`` is added to (and wins over)
    its environment. Returns the process and base URL."""
    port = free_port()
    # Photos a run uploads go beside its log, never into the checkout's var/files.
    files = {"GRIDMAP_FILES_DIR": str(log.parent / "files")}
    env = os.environ | LIVE_ENV | {"GRIDMAP_DATABASE_URL": app_url} | files | (extra_env or {})
    env.pop("GRIDMAP_MIGRATE_DATABASE_URL", None)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        # The served settings (threaded workers, the app preloaded before the workers fork);
        # only where and how many differ here.
        "--config",
        str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def until_ready(process: subprocess.Popen, base: str, name: str, log: Path) -> str:
    """Wait until ``base`` answers ``/api/v1/health``; returns ``base``. Fails the test with
    the process's ``log`` when it exits or is not ready in READY_SECONDS."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited: {log.read_text(errors='replace')}")
        try:
            if call(base, "GET", "/api/v1/health").status == 200:
                return base
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    pytest.fail(f"{name} not ready in {READY_SECONDS} s: {log.read_text(errors='replace')}")


def start_nginx(upstream: str, prefix: Path) -> tuple[subprocess.Popen, str]:
    """nginx with ``deploy/nginx.conf`` in front of ``upstream`` (host:port); returns the
    process and its base URL."""
    port = free_port()
    render = ROOT / "deploy" / "render-nginx"
    subprocess.run([render, str(prefix), f"127.0.0.1:{port}", upstream], check=True)
    command = ["/usr/sbin/nginx", "-p", str(prefix), "-e", str(prefix / "error.log")]
    command += ["-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    process = subprocess.Popen(command)
    return process, until_ready(process, f"http://127.0.0.1:{port}", "nginx", prefix / "error.log")


def stop_server(process: subprocess.Popen) -> None:
    stop_process(process, timeout=30)


def server_errors_logged(log: Path | None) -> list[str]:
    """Tracebacks gunicorn's workers logged (an unhandled error in a view or a hook)."""
    assert log is not None, "gunicorn was started without a log file"
    text_ = log.read_text(errors="replace")
    return [block for block in text_.split("\n\n") if "Traceback" in block]


# ------------------------------------------------------------------------------------ HTTP


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    error: str | None = field(default=None)

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """One request on a connection of its own (closed afterwards)."""
    host, port = base.removeprefix("http://").split(":")
    sent = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        sent.setdefault("Content-Type", "application/json")
    if token:
        sent["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


# -------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The app under gunicorn (4 workers × 4 threads) on a fresh, loaded test database."""
    name = f"gridmap_test_resilience_{os.getpid()}"
    owner, app_url = create_test_database(name)
    live = prepare(owner, app_url)
    live.log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    live.gunicorn, live.base_url = start_gunicorn(app_url, live.log)
    yield live
    stop_server(live.gunicorn)
    drop_test_database(name)
