"""The app under gunicorn on a database of its own, for the tools that read the contract
(Schemathesis, a generated client): the staffed small grid and the accounts of
``tests/resilience`` (a street administrator and a grid worker among them), rate limits
raised so that the generated requests meet the app, not 429s."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import create_test_database, drop_test_database
from tests.resilience.conftest import Deployment, prepare, start_gunicorn, stop_server


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """gunicorn (2 workers × 4 threads) on a fresh, loaded test database."""
    name = f"gridmap_test_contract_{os.getpid()}"
    owner, app_url = create_test_database(name)
    live = prepare(owner, app_url)
    live.log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    live.gunicorn, live.base_url = start_gunicorn(app_url, live.log, workers=2)
    yield live
    stop_server(live.gunicorn)
    drop_test_database(name)
