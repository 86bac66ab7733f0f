"""Scope checks by code prefix (``code LIKE '110101001%'``) are answered from an index.

The database collates text as C.UTF-8, under which a plain B-tree on ``grid.code`` cannot serve
``LIKE 'prefix%'``; ``ix_grid_code_pattern`` (0029) is a B-tree with ``text_pattern_ops``, from
which PostgreSQL derives the range ``code ~>=~ prefix AND code ~<~ prefix'`` for the LIKE. The
statements are the application's own, sent through the same driver with bound parameters as it
sends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Select, create_engine, select
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core.settings import Settings
from gridmap.grid import ingest
from gridmap.storage.models import Grid, Household
from gridmap.storage.scoping import grid_visible, household_visible
from tests.conftest import COMMUNITY, small_grid_frame

#: Grids outside every scope asked for below, so that a scope is a small share of the table.
OTHER_GRIDS = 20_000


@pytest.fixture(scope="module")
def owner_session(settings: Settings) -> Iterator[Session]:
    """A transaction of the database's owner, rolled back after the module: only the owner's
    ANALYZE counts the rows below (the app role's is skipped, and the plans then followed
    whatever statistics the suite's earlier tests had left)."""
    assert settings.migrate_database_url
    owner = create_engine(settings.migrate_database_url)
    with owner.connect() as conn:
        outer = conn.begin()
        yield Session(bind=conn, join_transaction_mode="create_savepoint")
        outer.rollback()
    owner.dispose()


@pytest.fixture(scope="module")
def many_grids(owner_session: Session, settings: Settings) -> Session:
    """The small grid plus 20 000 micro-grids of another community far away, a household in
    each, then ANALYZE."""
    session = owner_session
    ingest.import_grids(session, small_grid_frame(), "EPSG:4490", settings)
    session.connection().exec_driver_sql(
        """
        INSERT INTO grid (code, name, level, parent_id, geom)
        SELECT '65010200100' || lpad(n::text, 6, '0'), 'far ' || n, 'micro', zone.id,
               ST_Multi(ST_MakeEnvelope(87.0 + (n %% 200) * 0.001, 43.0 + (n / 200) * 0.001,
                                        87.0 + (n %% 200) * 0.001 + 0.0009,
                                        43.0 + (n / 200) * 0.001 + 0.0009, 4490))
        FROM generate_series(1, %(n)s) AS n,
             (SELECT id FROM grid WHERE level = 'zone' ORDER BY id LIMIT 1) AS zone
        """,
        {"n": OTHER_GRIDS},
    )
    session.connection().exec_driver_sql("ANALYZE grid")
    # Located here by code (the bulk import's path), not one by one by the row trigger.
    session.connection().exec_driver_sql("SET LOCAL gridmap.bulk_located = 'on'")
    session.connection().exec_driver_sql(
        """
        INSERT INTO household (geom, address, micro_grid_id)
        SELECT label_point, 'far ' || code, id FROM grid WHERE code LIKE '65010200100%%'
        """
    )
    session.connection().exec_driver_sql("ANALYZE household")
    return session


def _plan(session: Session, statement: Select[Any]) -> dict[str, Any]:
    compiled = statement.compile(dialect=session.get_bind().dialect)
    row = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    plan: dict[str, Any] = row.scalar_one()[0]["Plan"]
    return plan


def _indexes_on_grid(plan: dict[str, Any]) -> set[str]:
    """Names of the indexes the plan scans, and whether any node scans grid sequentially."""
    found = set()
    if plan.get("Relation Name") == "grid" and plan["Node Type"] == "Seq Scan":
        found.add("Seq Scan")
    if "Index Name" in plan:
        found.add(plan["Index Name"])
    for child in plan.get("Plans", []):
        found |= _indexes_on_grid(child)
    return found


def test_grids_in_a_scope_are_found_by_the_code_index(many_grids: Session):
    for prefix in (COMMUNITY[:6], COMMUNITY[:9], COMMUNITY, COMMUNITY + "01"):
        statement = select(Grid.id).where(grid_visible(Scope(prefixes=(prefix,))))
        used = _indexes_on_grid(_plan(many_grids, statement))
        assert "ix_grid_code_pattern" in used, (prefix, used)
        assert "Seq Scan" not in used, (prefix, used)
        found = many_grids.scalars(statement).all()
        expected = many_grids.scalars(select(Grid.id).where(Grid.code.startswith(prefix))).all()
        assert sorted(found) == sorted(expected) and found


def test_households_in_a_scope_are_found_by_the_code_index(many_grids: Session):
    statement = select(Household.id).where(household_visible(Scope(prefixes=(COMMUNITY,))))
    plan = _plan(many_grids, statement)
    used = _indexes_on_grid(plan)
    assert "ix_grid_code_pattern" in used, json.dumps(plan, indent=1)
    assert "Seq Scan" not in used, json.dumps(plan, indent=1)
