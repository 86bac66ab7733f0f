"""The migrations and the models describe the same schema.

The test database is migrated to head by the session fixtures; Alembic's autogenerate
comparison against the models must find nothing to do, and every check constraint the
models declare exists under its conventional name (Alembic does not compare those).
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, text
from sqlalchemy.sql.elements import conv

from gridmap.storage.models import Base, include_object


def test_autogenerate_finds_no_difference(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": include_object},
        )
        assert compare_metadata(context, Base.metadata) == []


def _conventional(table: str, name: object) -> str:
    """The name the naming convention gives (a ``conv`` name is final as it is)."""
    return str(name) if isinstance(name, conv) else f"ck_{table}_{name}"


def test_check_constraints_have_their_conventional_names(engine: Engine) -> None:
    declared = {
        (table.name, _conventional(table.name, constraint.name))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and constraint.name
    }
    with engine.connect() as conn:
        found = set(
            conn.execute(
                text(
                    "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c"
                    " WHERE c.contype = 'c' AND c.conrelid::regclass::text = ANY(:tables)"
                ),
                {"tables": [table for table, _ in declared]},
            ).all()
        )
    assert declared == found
