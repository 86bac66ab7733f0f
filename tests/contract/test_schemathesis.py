"""Schemathesis, every check, against the served app and a real database: 0 failures.

Run as a street administrator and as a grid worker (their bearer tokens), over every
operation of ``/api/openapi.json``, Open311's GeoReport v2 included, but the one excluded
below, with its reason. Where a check's expectations are widened, ``schemathesis.toml``
beside this file says why.

Examples per operation: ``GRIDMAP_SCHEMATHESIS_EXAMPLES`` (default 50, about 9,000 cases per
account, which keeps the whole suite well inside CI's time; 200 for a deeper run, see the
README for the time each takes); ``GRIDMAP_SCHEMATHESIS_PATHS``, a regex, runs
only the operations whose path matches it. One worker: with two, CPython 3.11's parser
once failed inside Hypothesis's threads ("SystemError: AST constructor recursion depth
mismatch", gh-106905), a failure of the tool, not of the server, that would make the suite
fail now and then.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.resilience.conftest import Deployment, server_errors_logged

HERE = Path(__file__).parent
EXAMPLES = int(os.environ.get("GRIDMAP_SCHEMATHESIS_EXAMPLES", "50"))
#: The subprocess's own limit, which a deep run (200 examples: 20+ minutes) needs beyond the
#: suite's 15 minutes per test.
RUN_TIMEOUT = 3600
#: A focused run: only the operations whose path matches this regex (default: every one).
PATHS = os.environ.get("GRIDMAP_SCHEMATHESIS_PATHS", "")
#: Operations left out, with the reason.
EXCLUDED = {
    # Logging out ends the token every later request of the run sends.
    "path": "/api/v1/auth/logout",
}


def _run(base: str, token: str, log: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--header",
        f"Authorization: Bearer {token}",
        "--exclude-path",
        EXCLUDED["path"],
        "--seed",
        os.environ.get("GRIDMAP_SCHEMATHESIS_SEED", "14"),
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
        "--output-truncate",
        "false",
        *(["--include-path-regex", PATHS] if PATHS else []),
    ]
    # In the test's directory: Schemathesis keeps its reports under the working directory.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=log.parent
    )
    log.write_text(result.stdout + result.stderr)
    return result


@pytest.mark.timeout(RUN_TIMEOUT + 60)
@pytest.mark.parametrize("account", ["street", "worker"])
def test_schemathesis_finds_nothing(served: Deployment, account: str, tmp_path: Path) -> None:
    before = len(server_errors_logged(served.log))
    result = _run(served.base_url, served.tokens[account], tmp_path / "schemathesis.log")
    tail = (result.stdout + result.stderr)[-20000:]
    assert result.returncode == 0, tail
    assert "No issues found" in result.stdout or " passed" in result.stdout, tail
    # The server logged no traceback during this run (the log is the session's).
    assert server_errors_logged(served.log)[before:] == []
