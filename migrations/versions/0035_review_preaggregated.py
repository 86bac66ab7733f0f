"""The review at 20 M requests reads only pre-aggregated data.

- ``request_rate_fact``: each request's 三率 facts (first accept, the response deadline it was
  judged by, first and latest answer), kept by the application where it appends an event
  (``gridmap.storage.rate_facts``), filled here from the timelines in set-based SQL (the
  category limits of reports that recorded no deadline in arrays), batch by batch of ids.
- ``request_tally_grid.changes``: how many statements changed each row of the tally; the
  tally's trigger function is the one of 0008 but for that count.
- ``review_hot_spots``: hot-spot answers of periods that are over, valid while the grid change
  count and the tally's change sum over their periods are unchanged.
- ``ix_resident_request_running_clock``: the overdue filter reads the requests whose clock
  runs, by deadline, from a partial index (their filing time, micro-grid and category in it).

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from gridmap.storage import rate_facts

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

#: The states whose stage clock runs (``gridmap.requests.lifecycle.CLOCKED`` when written).
CLOCKED = ("reported", "accepted", "handling", "completed")


def _tally_function(changes: bool) -> str:
    """0008's trigger function; with ``changes``, its per-micro-grid upsert also counts the
    statement in ``changes``."""
    path = Path(__file__).with_name("0008_tally_states_as_columns.py")
    spec = importlib.util.spec_from_file_location("migration_0008", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body = str(module._function()).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    if changes:
        keep = ", ".join(f"{s} = t.{s} + excluded.{s}" for s in module.STATES)
        assert body.count(keep) == 2, "0008's upserts changed"
        grid_upsert = body.rindex(keep)
        body = (
            body[:grid_upsert]
            + keep
            + ", changes = t.changes + 1"
            + body[grid_upsert + len(keep) :]
        )
    return body


def upgrade() -> None:
    op.create_table(
        "request_rate_fact",
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_answer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_answer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_rating", sa.String(length=40), nullable=True),
        sa.Column("answer_resolved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_request_rate_fact_request_id_resident_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_request_rate_fact")),
    )
    bind = op.get_bind()
    first, last = bind.execute(sa.text("SELECT min(id), max(id) FROM resident_request")).one()
    if first is not None:
        rate_facts.fill(bind, first, last)
    op.add_column(
        "request_tally_grid",
        sa.Column("changes", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.execute(_tally_function(changes=True))
    op.create_table(
        "review_hot_spots",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("stamp", sa.Text(), nullable=False),
        sa.Column("answer", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_review_hot_spots")),
    )
    listed = ", ".join(f"'{s}'" for s in CLOCKED)
    op.execute(
        "CREATE INDEX ix_resident_request_running_clock ON resident_request"
        " (stage_deadline, created_at) INCLUDE (micro_grid_id, category_id)"
        f" WHERE state IN ({listed})"
    )
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON request_rate_fact TO gridmap_app;"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON review_hot_spots TO gridmap_app;"
        " ANALYZE request_rate_fact"
    )


def downgrade() -> None:
    op.drop_index("ix_resident_request_running_clock", table_name="resident_request")
    op.drop_table("review_hot_spots")
    op.execute(_tally_function(changes=False))
    op.drop_column("request_tally_grid", "changes")
    op.drop_table("request_rate_fact")
