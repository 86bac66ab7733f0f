"""The scripts' private Redis (``start_private_redis`` of ``scripts/_setup.sh``) for a test,
in a directory of its own, stopped and removed afterwards (``private_redis``). Missing, it
fails the tests that need it: it is never skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


class PrivateRedis:
    """The scripts' private Redis in a directory of its own (``GRIDMAP_VAR_DIR``)."""

    def __init__(self) -> None:
        # Short: a unix socket's path is at most 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="gridmap-redis-"))
        self.socket = self.root / "redis" / "redis.sock"

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
        env["GRIDMAP_VAR_DIR"] = str(self.root)
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def start(self) -> subprocess.CompletedProcess[str]:
        """``start_private_redis``; its stdout is the storage URI it exports."""
        line = 'start_private_redis; printf %s "$GRIDMAP_RATELIMIT_STORAGE_URI"'
        return self.run("bash", "-c", f"set -euo pipefail; source scripts/_setup.sh; {line}")

    def stop(self) -> None:
        self.run(str(ROOT / "scripts" / "stop-db"))


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    place = PrivateRedis()
    try:
        yield place
    finally:
        place.stop()
        shutil.rmtree(place.root, ignore_errors=True)
