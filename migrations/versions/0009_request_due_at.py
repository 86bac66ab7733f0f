"""Each request's due date, so that 三率 read only the requests that can count in a period.

``resident_request.due_at`` is the due date of the resolution rate (``gridmap.requests.rates``): the
deadline of the first handling stage, recorded on the first ``accept`` (that accept's moment
when the stage has no limit); before any accept, the deadline of the open response stage, else
the filing time. The application keeps it on intake and on every transition; this migration
fills it from the timelines. With it (and ``updated_at``, moved by every transition) a
period's candidates are the requests filed, due or changed in it, instead of a year of them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 06:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FILL_SQL = """
UPDATE resident_request r
   SET due_at = coalesce(a.deadline, a.at)
  FROM (SELECT DISTINCT ON (request_id) request_id, at,
               (detail->>'deadline')::timestamptz AS deadline
          FROM request_event WHERE action = 'accept'
         ORDER BY request_id, at, id) a
 WHERE a.request_id = r.id;
UPDATE resident_request SET due_at = coalesce(stage_deadline, created_at) WHERE due_at IS NULL;
"""


def upgrade() -> None:
    op.add_column("resident_request", sa.Column("due_at", sa.DateTime(timezone=True)))
    # The tally does not depend on due dates: no need to run its trigger over every request.
    op.execute("ALTER TABLE resident_request DISABLE TRIGGER tally_update")
    op.execute(FILL_SQL)
    op.execute("ALTER TABLE resident_request ENABLE TRIGGER tally_update")
    op.alter_column("resident_request", "due_at", nullable=False)
    op.create_index("ix_resident_request_due_at", "resident_request", ["due_at"])
    op.create_index("ix_resident_request_updated_at", "resident_request", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_resident_request_updated_at", table_name="resident_request")
    op.drop_index("ix_resident_request_due_at", table_name="resident_request")
    op.drop_column("resident_request", "due_at")
