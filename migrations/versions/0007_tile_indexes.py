"""Indexes of the vector tiles: requests by place and filing time, the tally by micro-grid.

- ``ix_resident_request_geom_created_at``: a multicolumn GiST (``btree_gist``, installed by
  0001) on ``(geom, created_at)``. A z16 tile of raw points asks for the requests inside a
  small box *and* filed in the reviewed periods; with the plain GiST on ``geom`` PostgreSQL
  either reads every request ever filed in the box or ANDs it with a bitmap of every request
  of the periods, which grows with the city's volume (a month of 20 M a year is 1.7 M rows).
  The multicolumn index answers both conditions in one descent.
- ``ix_request_tally_micro_grid_period``: ``(micro_grid_id, period_kind, period_start)``. The
  count tiles sum the tally of the micro-grids inside a tile; the primary key starts with the
  period, so without this index each micro-grid's lookup scans the whole period's tally.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_resident_request_geom_created_at",
        "resident_request",
        ["geom", "created_at"],
        postgresql_using="gist",
    )
    op.create_index(
        "ix_request_tally_micro_grid_period",
        "request_tally",
        ["micro_grid_id", "period_kind", "period_start"],
    )


def downgrade() -> None:
    op.drop_index("ix_request_tally_micro_grid_period", table_name="request_tally")
    op.drop_index("ix_resident_request_geom_created_at", table_name="resident_request")
