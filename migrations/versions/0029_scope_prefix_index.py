"""Scope checks by code prefix from an index: ``ix_grid_code_pattern``, ``code text_pattern_ops``.

Every scope check is ``grid.code LIKE '110101001%'`` (``gridmap.storage.scoping`` and the
queries of review, requests, patrols, rates, tiles…). The database collates text as C.UTF-8,
and PostgreSQL turns ``LIKE 'prefix%'`` into an index range only on an index whose operator
class is ``text_pattern_ops`` (or whose collation is "C"): the B-trees on ``code`` (``ix_grid_code``,
``ix_grid_code_id``) could serve equality, never a prefix, so every scope check read the whole
grid table (a sequential scan, or a full scan of ``ix_grid_code_id`` with a filter). With this
index a prefix is the range ``code ~>=~ '110101001' AND code ~<~ '110101002'`` (byte order);
``id`` is included
so that the scope subquery of households (``micro_grid_id IN (SELECT id …)``) is index-only.
The application sends its parameters bound, never prepared (``prepare_threshold=None``), so
each statement is planned with the prefix known. The operator class, not an index on
``code COLLATE "C"`` (which serves the LIKE as well), because SQLAlchemy reflects an operator
class and drops an index's collation, so the models could not describe the latter.
``tests/storage/test_scope_prefix_index.py`` EXPLAINs the scope queries.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_grid_code_pattern",
        "grid",
        ["code"],
        postgresql_ops={"code": "text_pattern_ops"},
        postgresql_include=["id"],
    )


def downgrade() -> None:
    op.drop_index("ix_grid_code_pattern", table_name="grid")
