"""Fixtures: a fresh PostGIS database per test run, one rolled-back transaction per test.

PostGIS is required, never optional: without ``GRIDMAP_DATABASE_URL`` (set by
``./scripts/test``) or a reachable server, the tests fail with a message saying so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Protocol

import geopandas as gpd
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_openapi3 import OpenAPI
from shapely.geometry import box
from sqlalchemy import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from gridmap import create_app
from gridmap.access import accounts, auth
from gridmap.core import db
from gridmap.core.engine import make_engine
from gridmap.core.settings import Settings
from gridmap.grid import ingest
from tests.private_redis import private_redis as private_redis
from tests.seaweed import seaweedfs as seaweedfs

# Cheap argon2 parameters for the test accounts (production's would cost half the CPU of the
# request tests); logins verify them as they would any other hash.
auth.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


class MakeUser(Protocol):
    """The ``make_user`` fixture: creates an account, returns its bearer token."""

    def __call__(
        self,
        role: str,
        scope_code: str | None = None,
        person_id: int | None = None,
        department_id: int | None = None,
        party_unit_id: int | None = None,
    ) -> str: ...


#: The ``clients`` fixtures: a logged-in test client by role or name.
ClientFor = Callable[[str], FlaskClient]


def _env_url(name: str) -> str:
    url = os.environ.get(name) or os.environ.get("GRIDMAP_DATABASE_URL")
    if not url:
        pytest.fail("GRIDMAP_DATABASE_URL is not set: run the tests with ./scripts/test")
    return url


def create_test_database(name: str) -> tuple[str, str]:
    """Create (anew) database ``name``, migrated to head by the owner.

    Returns the owner's URL and the application role's URL of the new database.
    """
    owner = db.create_database(_env_url("GRIDMAP_MIGRATE_DATABASE_URL"), name)
    app_role = make_url(_env_url("GRIDMAP_DATABASE_URL")).set(database=name)
    return owner, app_role.render_as_string(hide_password=False)


def drop_test_database(name: str) -> None:
    db.drop_database(_env_url("GRIDMAP_MIGRATE_DATABASE_URL"), name)


@pytest.fixture(scope="session")
def database_urls() -> Iterator[tuple[str, str]]:
    name = f"gridmap_test_{os.getpid()}"
    yield create_test_database(name)
    drop_test_database(name)


@pytest.fixture(scope="session")
def database_url(database_urls: tuple[str, str]) -> str:
    """The test database as the application's role sees it."""
    return database_urls[1]


@pytest.fixture(scope="session")
def settings(database_urls: tuple[str, str]) -> Settings:
    owner, app_role = database_urls
    return Settings(
        database_url=app_role, migrate_database_url=owner, basemap_crs="none", max_page_size=500
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
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
def app(settings: Settings, session_factory: sessionmaker[Session]) -> OpenAPI:
    app = create_app(settings)
    app.config["TESTING"] = True
    db.use_sessions(app, session_factory)
    return app


@pytest.fixture
def anonymous(app: OpenAPI) -> FlaskClient:
    """A client that has not logged in."""
    return app.test_client()


@pytest.fixture
def make_user(session: Session, settings: Settings) -> MakeUser:
    """Create an account with a role in the test transaction; returns its bearer token."""

    def make(
        role: str,
        scope_code: str | None = None,
        person_id: int | None = None,
        department_id: int | None = None,
        party_unit_id: int | None = None,
    ) -> str:
        name = f"t{len(created)}-{role.replace('_', '-')}"
        user = accounts.create_user(session, name, PASSWORD)
        accounts.grant_role(
            session,
            user.id,
            role,
            scope_code=scope_code,
            person_id=person_id,
            department_id=department_id,
            party_unit_id=party_unit_id,
            admins_too=True,
        )
        session.commit()
        created.append(name)
        _, token = auth.login(
            session, name, PASSWORD, kind="bearer", settings=settings, origin=auth.Origin()
        )
        return token

    created: list[str] = []
    return make


def client_for(app: Flask, token: str) -> FlaskClient:
    """A test client sending ``token`` as its bearer token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def client(app: OpenAPI, make_user: MakeUser) -> FlaskClient:
    """A client logged in as the street administrator of the small grid's street."""
    return client_for(app, make_user("street_admin", COMMUNITY[:9]))


@pytest.fixture
def runner(app: OpenAPI) -> FlaskCliRunner:
    return app.test_cli_runner()


PASSWORD = "test-password-1"

# A small hand-made grid in Dongcheng: one community split into two zones (west/east), each
# split into two micro-grids (north/south). Coordinates in EPSG:4490.
COMMUNITY = "110101001001"
W, E, S, N, MID_LON, MID_LAT = 116.40, 116.42, 39.90, 39.92, 116.41, 39.91


def square_grid_frame(
    community: str, bounds: tuple[float, float, float, float], names: tuple[str, ...]
) -> gpd.GeoDataFrame:
    """A community split into two zones (west/east), each into two micro-grids (north/south).

    ``names``: the community's, the two zones' and the four micro-grids' (01001, 01002, 02001,
    02002), in that order.
    """
    w, s, e, n = bounds
    mid_lon, mid_lat = round((w + e) / 2, 9), round((s + n) / 2, 9)
    z1, z2 = community + "01", community + "02"
    rows = [
        (community, "community", None, box(w, s, e, n)),
        (z1, "zone", community, box(w, s, mid_lon, n)),
        (z2, "zone", community, box(mid_lon, s, e, n)),
        (z1 + "001", "micro", z1, box(w, mid_lat, mid_lon, n)),
        (z1 + "002", "micro", z1, box(w, s, mid_lon, mid_lat)),
        (z2 + "001", "micro", z2, box(mid_lon, mid_lat, e, n)),
        (z2 + "002", "micro", z2, box(mid_lon, s, e, mid_lat)),
    ]
    return gpd.GeoDataFrame(
        [
            (code, name, level, parent, geom)
            for (code, level, parent, geom), name in zip(rows, names, strict=True)
        ],
        columns=["code", "name", "level", "parent_code", "geometry"],
        crs=4490,
    ).assign(kind="ordinary")


def small_grid_frame() -> gpd.GeoDataFrame:
    names = ("测试社区", "第1片区", "第2片区", "1-001", "1-002", "2-001", "2-002")
    return square_grid_frame(COMMUNITY, (W, S, E, N), names)


@pytest.fixture
def small_grid(session: Session, settings: Settings) -> gpd.GeoDataFrame:
    """The small grid imported into the test transaction."""
    frame = small_grid_frame()
    ingest.import_grids(session, frame, "EPSG:4490", settings)
    session.commit()
    return frame
