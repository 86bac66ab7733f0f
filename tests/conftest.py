"""Fixtures: a fresh PostGIS database per test run, one rolled-back transaction per test.

PostGIS is required, never optional: without ``GRIDMAP_DATABASE_URL`` (set by
``./scripts/test``) or a reachable server, the tests fail with a message saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import geopandas as gpd
import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from shapely.geometry import box
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from gridmap import create_app, db, ingest
from gridmap.settings import Settings


def _server_url() -> str:
    url = os.environ.get("GRIDMAP_DATABASE_URL")
    if not url:
        pytest.fail("GRIDMAP_DATABASE_URL is not set: run the tests with ./scripts/test")
    return url


def create_test_database(name: str) -> str:
    """Create (anew) database ``name`` on the configured server, migrated to head."""
    return db.create_database(_server_url(), name)


@pytest.fixture(scope="session")
def database_url() -> str:
    return create_test_database(f"gridmap_test_{os.getpid()}")


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, basemap_crs="none", max_page_size=500)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    app = create_app(settings)
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    return app


@pytest.fixture
def client(app) -> FlaskClient:  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app) -> FlaskCliRunner:  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


# A small hand-made grid in Dongcheng: one community split into two zones (west/east), each
# split into two micro-grids (north/south). Coordinates in EPSG:4490.
COMMUNITY = "110101001001"
W, E, S, N, MID_LON, MID_LAT = 116.40, 116.42, 39.90, 39.92, 116.41, 39.91


def small_grid_frame() -> gpd.GeoDataFrame:
    rows = [
        (COMMUNITY, "测试社区", "community", None, box(W, S, E, N)),
        (COMMUNITY + "01", "第1片区", "zone", COMMUNITY, box(W, S, MID_LON, N)),
        (COMMUNITY + "02", "第2片区", "zone", COMMUNITY, box(MID_LON, S, E, N)),
        (COMMUNITY + "01001", "1-001", "micro", COMMUNITY + "01", box(W, MID_LAT, MID_LON, N)),
        (COMMUNITY + "01002", "1-002", "micro", COMMUNITY + "01", box(W, S, MID_LON, MID_LAT)),
        (COMMUNITY + "02001", "2-001", "micro", COMMUNITY + "02", box(MID_LON, MID_LAT, E, N)),
        (COMMUNITY + "02002", "2-002", "micro", COMMUNITY + "02", box(MID_LON, S, E, MID_LAT)),
    ]  # fmt: skip
    return gpd.GeoDataFrame(
        rows, columns=["code", "name", "level", "parent_code", "geometry"], crs=4490
    ).assign(kind="ordinary")


@pytest.fixture
def small_grid(session: Session, settings: Settings) -> gpd.GeoDataFrame:
    """The small grid imported into the test transaction."""
    frame = small_grid_frame()
    ingest.import_grids(session, frame, "EPSG:4490", settings)
    session.commit()
    return frame
