"""Fixtures of the storage tests that migrate a database step by step (Alembic)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config

from gridmap.core import db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def migrated_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a database of the test's own, migrated to head, dropped after it."""
    name = f"gridmap_test_{request.node.name[:30].lower()}_{os.getpid()}"
    server = os.environ["GRIDMAP_MIGRATE_DATABASE_URL"]
    url = db.create_database(server, name)
    yield url
    db.drop_database(server, name)


def alembic_config(url: str) -> Config:
    """The project's Alembic configuration, pointed at ``url``."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
