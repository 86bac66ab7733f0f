"""Job worker processes for the tests: ``flask gridmap worker`` (or another command) on a test
database, started like the resilience tests start gunicorn, ready once it has registered with
procrastinate's queue, stopped with SIGTERM (it finishes the job in hand first)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parents[1]
#: How long a starting worker may take to register: generous on a busy machine.
READY_SECONDS = 180


def _workers(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM procrastinate_workers")) or 0)


def start_worker(
    app_url: str,
    log: Path,
    command: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """A worker process on ``app_url``, once it has registered with the queue; ``extra_env``
    is added to its environment."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = os.environ | {"GRIDMAP_DATABASE_URL": app_url, "PYTHONPATH": path} | (extra_env or {})
    env.pop("GRIDMAP_MIGRATE_DATABASE_URL", None)
    command = command or [sys.executable, "-m", "flask", "--app", "gridmap", "gridmap", "worker"]
    engine = create_engine(app_url)
    before = _workers(engine)
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + READY_SECONDS
    try:
        while _workers(engine) <= before:
            if process.poll() is not None:
                pytest.fail(f"the worker exited: {log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                stop_worker(process)
                pytest.fail(f"the worker did not start: {log.read_text(errors='replace')}")
            time.sleep(0.2)
    finally:
        engine.dispose()
    return process


def stop_worker(process: subprocess.Popen) -> None:
    stop_process(process, timeout=60)


def stop_process(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
