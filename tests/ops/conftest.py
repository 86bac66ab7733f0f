"""Throw-away clusters built by ``scripts/_setup.sh`` itself, backed up and restored by the scripts.

Each cluster lives in a temporary directory of its own (``GRIDMAP_VAR_DIR``: data, pgBackRest
configuration, repository) on a free port; the shared cluster is never touched. Finalizers stop
every cluster started under that directory and remove it, also when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.resilience.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PGBIN = Path("/usr/lib/postgresql/15/bin")
STEP_TIMEOUT = 900


@dataclass(frozen=True)
class Ran:
    """A command's exit status, output and wall time."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:  # pg_ctl refuses to run as root
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


class Private:
    """A private cluster set up by ``start_private_cluster`` in a directory of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()

    @property
    def data(self) -> Path:
        return self.root / "pg"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
        env.update(
            GRIDMAP_VAR_DIR=str(self.root),
            GRIDMAP_PG_PORT=str(self.port),
            FLASK_APP="gridmap",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        )
        return env

    def run(self, *command: str, check: bool = True) -> Ran:
        """Run ``command`` (a script of ``scripts/`` or a shell line) against this cluster."""
        started = time.monotonic()
        done = subprocess.run(
            list(command),
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return Ran(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def setup_function(self, line: str) -> Ran:
        """Source ``scripts/_setup.sh`` and run ``line`` (its functions) in that shell."""
        return self.run("bash", "-c", f"set -euo pipefail; source scripts/_setup.sh; {line}")

    @property
    def passfile(self) -> Path:
        """The roles' passwords, written by the set-up (libpq's password file)."""
        return self.root / "pgpass"

    def url(self, user: str, port: int | None = None, database: str = "gridmap") -> str:
        """A TCP URL whose password comes from this cluster's password file."""
        where = f"{user}@127.0.0.1:{port or self.port}/{database}"
        return f"postgresql+psycopg://{where}?passfile={self.passfile}"

    def psql(self, sql: str, database: str = "postgres", port: int | None = None) -> list[str]:
        """Output lines of ``sql`` run as postgres over the socket (the set-up's ``admin_psql``)
        on this cluster, or on the copy restored beside it on ``port``."""
        where = "" if port is None else f"PGDATA={self.root}/restored-{port} PGPORT={port}; "
        line = f"{where}admin_psql {database} -c {shlex.quote(sql)}"
        return self.setup_function(line).stdout.splitlines()

    def pg_ctl(self, *args: str) -> None:
        command = _as_postgres(str(PGBIN / "pg_ctl"), "-D", str(self.data), *args)
        subprocess.run(command, capture_output=True, timeout=120, check=True)

    def archive_wal(self) -> None:
        """Switch to a new WAL segment and wait until pgBackRest has archived the last one."""
        self.setup_function("pgbackrest_as_postgres check")

    def stop_all(self) -> None:
        """Stop every cluster started under the root (the original and its restored copies)."""
        for pid_file in self.root.glob("*/postmaster.pid"):
            subprocess.run(
                _as_postgres(
                    str(PGBIN / "pg_ctl"),
                    "-D",
                    str(pid_file.parent),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ),
                capture_output=True,
                timeout=120,
                check=False,
            )


@contextlib.contextmanager
def throwaway() -> Iterator[Private]:
    """A directory for a private cluster; whatever runs in it is stopped and removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="gridmap-backup-"))
    cluster = Private(root)
    try:
        shutil.chown(root, "postgres", "postgres")
        yield cluster
    finally:
        cluster.stop_all()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def private() -> Iterator[Private]:
    """A migrated private cluster whose WAL goes to its own pgBackRest repository."""
    with throwaway() as cluster:
        cluster.setup_function("start_private_cluster; flask gridmap migrate; allow_app_login")
        yield cluster


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines a test opens; disposed afterwards."""
    opened: list[Engine] = []
    yield opened
    for engine in opened:
        engine.dispose()


def connect(engines: list[Engine], url: str) -> Engine:
    engine = create_engine(url)
    engines.append(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return engine
