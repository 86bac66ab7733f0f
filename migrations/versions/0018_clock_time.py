"""Clock-time stages and urgency levels of residents' requests.

A category's stage limit may say how it is counted, ``{"amount", "unit", "basis": "clock" |
"working"}`` (``gridmap.requests.deadlines``); a limit without ``basis`` (every row so far)
counts working time, so the categories need no change.

``resident_request.stage_basis``: how the running stage's limit is counted, so that its yellow
card (the last 20 % of the allowed time) is measured the same way; ``'working'`` for every
request so far, which was counted in working time.

``resident_request.urgency``: 一般 (``normal``), 紧急 (``urgent``) or 特急 (``critical``), set at
intake and changed by the owner or a supervisor; an urgent request's limits are shortened by
the factor configured for its level (``GRIDMAP_URGENCY_FACTORS``). ``'normal'`` for every
request so far.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Constant defaults: PostgreSQL adds the columns without rewriting the table.
    op.add_column(
        "resident_request",
        sa.Column("stage_basis", sa.String(8), server_default="working", nullable=False),
    )
    op.add_column(
        "resident_request",
        sa.Column("urgency", sa.String(8), server_default="normal", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_resident_request_stage_basis_known"),
        "resident_request",
        "stage_basis IN ('working', 'clock')",
    )
    op.create_check_constraint(
        op.f("ck_resident_request_urgency_known"),
        "resident_request",
        "urgency IN ('normal', 'urgent', 'critical')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_resident_request_urgency_known"), "resident_request", type_="check")
    op.drop_constraint(
        op.f("ck_resident_request_stage_basis_known"), "resident_request", type_="check"
    )
    op.drop_column("resident_request", "urgency")
    op.drop_column("resident_request", "stage_basis")
