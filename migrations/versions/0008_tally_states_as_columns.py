"""The request tally with one column per state, and a tally per micro-grid.

0005's tally had a row per state, so a month of a city held up to micro-grids × categories ×
states rows and a review of six months read hundreds of thousands of them. Now:

- ``request_tally``: one row per (week or month, micro-grid, category code), a count column
  per state: the rows of a review that filters or lists by category;
- ``request_tally_grid``: one row per (week or month, micro-grid), the same columns: the rows
  of every review without a category filter (the heat layer, choropleths, hot spots and
  their trend), at most one per micro-grid and period whatever the volume.

Both are kept current by the statement triggers of 0005's design (transition tables, one
grouped upsert per statement and table, rows locked in key order); the trigger function
runs as the owner and the application's role only reads them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The states of ``gridmap.storage.models.REQUEST_STATES`` when this migration was written.
STATES = ("reported", "accepted", "handling", "completed", "feedback", "archived", "duplicate")
PERIODS = """CROSS JOIN LATERAL (VALUES
        ('W', date_trunc('week', d.created_at AT TIME ZONE 'Asia/Shanghai')::date),
        ('M', date_trunc('month', d.created_at AT TIME ZONE 'Asia/Shanghai')::date)
      ) AS p(kind, start)"""


def _upsert(table: str, keys: tuple[str, ...]) -> str:
    """The upsert of grouped state deltas (relation ``deltas``) into ``table``."""
    sums = ", ".join(f"coalesce(sum(delta) FILTER (WHERE state = '{s}'), 0)::int" for s in STATES)
    keep = ", ".join(f"{s} = t.{s} + excluded.{s}" for s in STATES)
    listed = ", ".join(keys)
    return f"""
    INSERT INTO {table} AS t ({listed}, {", ".join(STATES)})
    SELECT {listed}, {sums}
      FROM deltas GROUP BY {listed} ORDER BY {listed}
    ON CONFLICT ({listed}) DO UPDATE SET {keep}"""


def _function() -> str:
    by_category = _upsert(
        "request_tally", ("period_kind", "period_start", "micro_grid_id", "category_code")
    )
    by_grid = _upsert("request_tally_grid", ("period_kind", "period_start", "micro_grid_id"))
    return f"""
CREATE FUNCTION gridmap_tally_requests() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  row_cols CONSTANT text := 'micro_grid_id, category_id, state, created_at';
  changed text := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS delta FROM new_rows', row_cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS delta FROM old_rows', row_cols)
    ELSE format('SELECT %1$s, -1 AS delta FROM old_rows'
                ' UNION ALL SELECT %1$s, 1 FROM new_rows', row_cols)
  END;
  deltas text;
BEGIN
  deltas := format($sql$
    WITH deltas AS (
      SELECT p.kind AS period_kind, p.start AS period_start, d.micro_grid_id,
             c.code AS category_code, d.state, sum(d.delta) AS delta
        FROM (%s) AS d
        JOIN category c ON c.id = d.category_id
        {PERIODS}
       GROUP BY 1, 2, 3, 4, 5
      HAVING sum(d.delta) <> 0)
  $sql$, changed);
  EXECUTE deltas || $sql${by_category}$sql$;
  EXECUTE deltas || $sql${by_grid}$sql$;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION gridmap_tally_requests() FROM PUBLIC;
"""


TRIGGERS_SQL = """
CREATE TRIGGER tally_insert AFTER INSERT ON resident_request
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gridmap_tally_requests();
CREATE TRIGGER tally_update AFTER UPDATE ON resident_request
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gridmap_tally_requests();
CREATE TRIGGER tally_delete AFTER DELETE ON resident_request
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gridmap_tally_requests();
GRANT SELECT ON request_tally, request_tally_grid TO gridmap_app;
"""


def _backfill() -> str:
    every = f"""
    WITH deltas AS (
      SELECT p.kind AS period_kind, p.start AS period_start, d.micro_grid_id,
             c.code AS category_code, d.state, count(*) AS delta
        FROM resident_request d
        JOIN category c ON c.id = d.category_id
        {PERIODS}
       GROUP BY 1, 2, 3, 4, 5)"""
    by_category = _upsert(
        "request_tally", ("period_kind", "period_start", "micro_grid_id", "category_code")
    )
    by_grid = _upsert("request_tally_grid", ("period_kind", "period_start", "micro_grid_id"))
    return f"{every}{by_category};\n{every}{by_grid};"


def _drop_0005() -> None:
    for name in ("tally_insert", "tally_update", "tally_delete"):
        op.execute(f"DROP TRIGGER {name} ON resident_request")
    op.execute("DROP FUNCTION gridmap_tally_requests()")
    op.drop_table("request_tally")


def _state_columns() -> list[sa.Column[int]]:
    return [sa.Column(s, sa.Integer(), server_default="0", nullable=False) for s in STATES]


def _period_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("period_kind", sa.CHAR(1), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("micro_grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=False),
    ]


def upgrade() -> None:
    _drop_0005()
    op.create_table(
        "request_tally",
        *_period_columns(),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        *_state_columns(),
        sa.CheckConstraint("period_kind IN ('W', 'M')", name=op.f("ck_request_tally_kind_known")),
        sa.PrimaryKeyConstraint(
            "period_kind",
            "period_start",
            "micro_grid_id",
            "category_code",
            name=op.f("pk_request_tally"),
        ),
    )
    op.create_index(
        "ix_request_tally_micro_grid_period",
        "request_tally",
        ["micro_grid_id", "period_kind", "period_start"],
    )
    op.create_table(
        "request_tally_grid",
        *_period_columns(),
        *_state_columns(),
        sa.CheckConstraint(
            "period_kind IN ('W', 'M')", name=op.f("ck_request_tally_grid_kind_known")
        ),
        sa.PrimaryKeyConstraint(
            "period_kind", "period_start", "micro_grid_id", name=op.f("pk_request_tally_grid")
        ),
    )
    op.create_index(
        "ix_request_tally_grid_micro_grid_period",
        "request_tally_grid",
        ["micro_grid_id", "period_kind", "period_start"],
    )
    op.execute(_function())
    op.execute(TRIGGERS_SQL)
    op.execute(_backfill())


def downgrade() -> None:
    raise NotImplementedError("0008 replaces 0005's tally; restore from a backup to go back")
