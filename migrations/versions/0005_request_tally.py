"""Review of complaint hotspots: a tally of requests kept current by the database, and a
label point per grid.

``request_tally`` counts the requests filed in each week and month (Asia/Shanghai) per
micro-grid, category code and state. Statement-level triggers with transition tables keep it
current on every INSERT, UPDATE, DELETE and COPY of ``resident_request``, in one grouped upsert
per statement whose rows are locked in key order (so concurrent statements cannot deadlock on
it). The trigger function runs as the owner: the application's role may only read the tally.

``grid.label_point`` is ``ST_PointOnSurface(geom)``, stored: the point a grid's aggregates are
drawn at (heat layer, hot spots) and the centre its neighbours are measured from.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TALLY_FUNCTION_SQL = """
CREATE FUNCTION gridmap_tally_requests() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  row_cols CONSTANT text := 'micro_grid_id, category_id, state, created_at';
  deltas text := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS delta FROM new_rows', row_cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS delta FROM old_rows', row_cols)
    ELSE format('SELECT %1$s, -1 AS delta FROM old_rows'
                ' UNION ALL SELECT %1$s, 1 FROM new_rows', row_cols)
  END;
BEGIN
  EXECUTE format($sql$
    INSERT INTO request_tally AS t
      (period_kind, period_start, micro_grid_id, category_code, state, n)
    SELECT p.kind, p.start, d.micro_grid_id, c.code, d.state, sum(d.delta)
      FROM (%s) AS d
      JOIN category c ON c.id = d.category_id
      CROSS JOIN LATERAL (VALUES
        ('W', date_trunc('week', d.created_at AT TIME ZONE 'Asia/Shanghai')::date),
        ('M', date_trunc('month', d.created_at AT TIME ZONE 'Asia/Shanghai')::date)
      ) AS p(kind, start)
     GROUP BY 1, 2, 3, 4, 5
    HAVING sum(d.delta) <> 0
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (period_kind, period_start, micro_grid_id, category_code, state)
    DO UPDATE SET n = t.n + excluded.n
  $sql$, deltas);
  RETURN NULL;
END $$;
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
REVOKE ALL ON FUNCTION gridmap_tally_requests() FROM PUBLIC;
GRANT SELECT ON request_tally TO gridmap_app;
"""

BACKFILL_SQL = """
INSERT INTO request_tally (period_kind, period_start, micro_grid_id, category_code, state, n)
SELECT p.kind, p.start, r.micro_grid_id, c.code, r.state, count(*)
  FROM resident_request r
  JOIN category c ON c.id = r.category_id
  CROSS JOIN LATERAL (VALUES
    ('W', date_trunc('week', r.created_at AT TIME ZONE 'Asia/Shanghai')::date),
    ('M', date_trunc('month', r.created_at AT TIME ZONE 'Asia/Shanghai')::date)
  ) AS p(kind, start)
 GROUP BY 1, 2, 3, 4, 5;
"""


def upgrade() -> None:
    op.add_column(
        "grid",
        sa.Column(
            "label_point",
            Geometry("POINT", srid=4490, spatial_index=False),
            sa.Computed("ST_PointOnSurface(geom)", persisted=True),
            nullable=True,
        ),
    )
    op.create_table(
        "request_tally",
        sa.Column("period_kind", sa.CHAR(1), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("micro_grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.CheckConstraint("period_kind IN ('W', 'M')", name=op.f("ck_request_tally_kind_known")),
        sa.PrimaryKeyConstraint(
            "period_kind",
            "period_start",
            "micro_grid_id",
            "category_code",
            "state",
            name=op.f("pk_request_tally"),
        ),
    )
    op.execute(TALLY_FUNCTION_SQL)
    op.execute(TRIGGERS_SQL)
    op.execute(BACKFILL_SQL)


def downgrade() -> None:
    for name in ("tally_insert", "tally_update", "tally_delete"):
        op.execute(f"DROP TRIGGER {name} ON resident_request")
    op.execute("DROP FUNCTION gridmap_tally_requests()")
    op.drop_table("request_tally")
    op.drop_column("grid", "label_point")
