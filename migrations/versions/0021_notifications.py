"""Notifications (通知): more kinds of message in the outbox, their delivery, opt-outs and the
departments' WeCom group robots.

``outbox`` gains the kinds ``assigned`` (a request handed to you), ``returned`` (退单: handed
back down to you), ``summoned`` (街乡吹哨: a department, for its accounts and its group robot)
and, for the resident at the request's contact phone, ``accepted``, ``completed`` and
``please_rate``; a department (``recipient_department_id``) or a phone
(``recipient_phone``) may be the recipient; ``urgent`` messages ignore quiet hours. The
sender's bookkeeping: ``attempts``, ``next_attempt_at`` (backoff), ``key_round`` (bumped when a
provider refused, so that the next try gets a new idempotency key), ``last_error`` and
``outcome`` (``sent``, ``opted_out``, ``gave_up``); ``sent_at`` stays the moment it was sent.
``request_id`` and the stage run may be empty for a message that belongs to no request.

``notification_delivery``: what was sent (or, in the demo, what would have been), by which
channel, to whom, and the provider's answer; written in the transaction that marks the
message sent, one per message and channel.

``notification_optout``: a recipient (a phone, an account, a person or a department) that
receives nothing but the page's own list.

``department.wecom_webhook``: the department's WeCom group robot (企业微信群机器人).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

KINDS_BEFORE = ("due_soon", "overdue")
KINDS_AFTER = (
    *KINDS_BEFORE,
    "assigned",
    "returned",
    "summoned",
    "accepted",
    "completed",
    "please_rate",
)
CHANNELS = ("sms", "wecom", "page")
OUTCOMES = ("sent", "opted_out", "gave_up")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.add_column("department", sa.Column("wecom_webhook", sa.Text(), nullable=True))
    op.create_check_constraint(
        "wecom_webhook_https",
        "department",
        "wecom_webhook IS NULL OR (wecom_webhook ~ '^https?://[^ ]+$'"
        " AND char_length(wecom_webhook) <= 500)",
    )
    op.drop_constraint(op.f("ck_outbox_kind_known"), "outbox", type_="check")
    op.create_check_constraint("kind_known", "outbox", _in("kind", KINDS_AFTER))
    for column in ("request_id", "stage", "stage_started_at"):
        op.alter_column("outbox", column, nullable=True)
    op.add_column("outbox", sa.Column("recipient_department_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_outbox_recipient_department_id_department"),
        "outbox",
        "department",
        ["recipient_department_id"],
        ["id"],
    )
    op.add_column("outbox", sa.Column("recipient_phone", sa.String(20), nullable=True))
    op.add_column(
        "outbox", sa.Column("urgent", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("outbox", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "outbox", sa.Column("key_round", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("outbox", _now("next_attempt_at"))
    op.add_column("outbox", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("outbox", sa.Column("outcome", sa.String(10), nullable=True))
    op.create_check_constraint("outcome_known", "outbox", _in("outcome", OUTCOMES))
    op.create_check_constraint("attempts_counted", "outbox", "attempts >= 0 AND key_round >= 0")
    op.create_check_constraint(
        "sent_when_sent", "outbox", "(outcome = 'sent') = (sent_at IS NOT NULL)"
    )
    # Reminders of 0016 already marked sent keep their meaning.
    op.execute("UPDATE outbox SET outcome = 'sent' WHERE sent_at IS NOT NULL")
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.create_index(
        "ix_outbox_due", "outbox", ["next_attempt_at"], postgresql_where=sa.text("outcome IS NULL")
    )
    op.create_index("ix_outbox_recipient_user_id", "outbox", ["recipient_user_id"])
    op.create_index("ix_outbox_recipient_person_id", "outbox", ["recipient_person_id"])
    op.create_index("ix_outbox_recipient_department_id", "outbox", ["recipient_department_id"])

    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _now("delivered_at"),
        sa.CheckConstraint(
            _in("channel", CHANNELS), name=op.f("ck_notification_delivery_channel_known")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_notification_delivery_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
        sa.UniqueConstraint(
            "outbox_id", "channel", name="uq_notification_delivery_message_channel"
        ),
    )
    op.create_index(
        "ix_notification_delivery_delivered_at", "notification_delivery", ["delivered_at"]
    )
    op.create_table(
        "notification_optout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        _now("created_at"),
        sa.CheckConstraint(
            "num_nonnulls(phone, user_id, person_id, department_id) = 1",
            name=op.f("ck_notification_optout_one_recipient"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_notification_optout_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_notification_optout_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_notification_optout_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_optout")),
        sa.UniqueConstraint("phone", name="uq_notification_optout_phone"),
        sa.UniqueConstraint("user_id", name="uq_notification_optout_user_id"),
        sa.UniqueConstraint("person_id", name="uq_notification_optout_person_id"),
        sa.UniqueConstraint("department_id", name="uq_notification_optout_department_id"),
    )
    op.execute("GRANT SELECT, INSERT ON notification_delivery TO gridmap_app")
    op.execute("GRANT SELECT, INSERT, DELETE ON notification_optout TO gridmap_app")
    op.execute(
        "GRANT USAGE ON SEQUENCE notification_delivery_id_seq, notification_optout_id_seq "
        "TO gridmap_app"
    )


def downgrade() -> None:
    op.drop_table("notification_optout")
    op.drop_table("notification_delivery")
    op.execute(
        "DELETE FROM outbox WHERE " + _in("kind", KINDS_AFTER[2:]) + " OR request_id IS NULL"
    )
    for name in ("department_id", "person_id", "user_id"):
        op.drop_index(f"ix_outbox_recipient_{name}", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index(
        "ix_outbox_unsent", "outbox", ["created_at"], postgresql_where=sa.text("sent_at IS NULL")
    )
    for name in ("sent_when_sent", "attempts_counted", "outcome_known"):
        op.drop_constraint(op.f(f"ck_outbox_{name}"), "outbox", type_="check")
    for column in (
        "outcome",
        "last_error",
        "next_attempt_at",
        "key_round",
        "attempts",
        "urgent",
        "recipient_phone",
        "recipient_department_id",
    ):
        op.drop_column("outbox", column)
    for column in ("request_id", "stage", "stage_started_at"):
        op.alter_column("outbox", column, nullable=False)
    op.drop_constraint(op.f("ck_outbox_kind_known"), "outbox", type_="check")
    op.create_check_constraint("kind_known", "outbox", _in("kind", KINDS_BEFORE))
    op.drop_constraint(op.f("ck_department_wecom_webhook_https"), "department", type_="check")
    op.drop_column("department", "wecom_webhook")
