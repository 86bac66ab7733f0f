"""A live gridmap server on its own database holding a small Dongcheng demo.

Pages are tested in real headless Chromium against this server; the data is committed (a
browser cannot share the per-test transaction), so it lives in a database of its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from gridmap import create_app, demo
from gridmap.settings import Settings
from tests.conftest import create_test_database

DEMO_HOUSEHOLDS = 4000


@pytest.fixture(scope="session")
def web_database_url() -> str:
    _, url = create_test_database(f"gridmap_test_web_{os.getpid()}")
    engine = create_engine(url)
    with Session(engine) as session:
        demo.load(session, households=DEMO_HOUSEHOLDS, seed=7, settings=Settings())
        session.commit()
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def live_url(web_database_url: str) -> Iterator[str]:
    """Base URL of a server with basemap "none": the page must ask no other host."""
    app = create_app(Settings(database_url=web_database_url, basemap_crs="none"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    app.extensions["gridmap.sessionmaker"].kw["bind"].dispose()
