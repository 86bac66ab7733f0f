"""The outbox's retention: ``gridmap_prune_outbox(keep_days)`` deletes the messages done with
(sent, refused, given up) that were written more than ``keep_days`` ago (never fewer than 30),
with their deliveries, and returns how many messages went. ``flask gridmap prune`` calls it
daily with ``GRIDMAP_OUTBOX_KEEP_DAYS``.

The app's role may not delete from either table (a delivery is the record of what was sent):
the function is ``SECURITY DEFINER``, like the audit log's prune. It locks the messages it
deletes first, so a sender finishing one of them meanwhile cannot leave a delivery behind. The
partial index on ``created_at`` spares the daily prune a read of the whole outbox.

Revision ID: 0040
Revises: 0036
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0040"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_done_created_at",
        "outbox",
        ["created_at"],
        postgresql_where="outcome IS NOT NULL",
    )
    op.execute(
        """
CREATE FUNCTION gridmap_prune_outbox(keep_days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  cutoff timestamptz := now() - make_interval(days => GREATEST(keep_days, 30));
  gone bigint[];
BEGIN
  SELECT coalesce(array_agg(id), '{}') INTO gone FROM (
    SELECT id FROM outbox WHERE outcome IS NOT NULL AND created_at < cutoff FOR UPDATE
  ) done;
  DELETE FROM notification_delivery WHERE outbox_id = ANY (gone);
  DELETE FROM outbox WHERE id = ANY (gone);
  RETURN cardinality(gone);
END $$;
REVOKE ALL ON FUNCTION gridmap_prune_outbox(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gridmap_prune_outbox(integer) TO gridmap_app;
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION gridmap_prune_outbox(integer)")
    op.drop_index("ix_outbox_done_created_at", table_name="outbox")
