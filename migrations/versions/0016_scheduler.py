"""Time-driven work (the scheduler's sweep): warning cards as records, an outbox of
reminders, escalation on lapse per category, and the system account the sweep acts as.

``category.escalate_on_lapse``: the stages (``response``, ``handling``) whose lapse climbs the
request one level by itself (default: none).

``request_card``: a yellow or red card (红黄牌) raised once per stage run of a request
(``request_id``, ``stage``, ``stage_started_at``, ``colour`` unique).

``outbox``: messages for people (a due-soon or overdue reminder to a request's owner), written
in the transaction of the timeline event that caused them, delivered later (``sent_at``);
one per request, stage run and kind.

``app_user`` ``system``: the account the scheduler's timeline events name (inactive, without
role, with a password nobody knows).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op
from argon2 import PasswordHasher
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

GRANTS_SQL = """
GRANT SELECT, INSERT ON request_card TO gridmap_app;
GRANT SELECT, INSERT, UPDATE ON outbox TO gridmap_app;
GRANT USAGE ON SEQUENCE request_card_id_seq, outbox_id_seq TO gridmap_app;
"""


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.add_column(
        "category",
        sa.Column(
            "escalate_on_lapse",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.create_check_constraint(
        "escalate_on_lapse_array", "category", "jsonb_typeof(escalate_on_lapse) = 'array'"
    )
    op.create_table(
        "request_card",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("stage_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("colour", sa.String(length=6), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "colour IN ('yellow', 'red')", name=op.f("ck_request_card_colour_known")
        ),
        sa.CheckConstraint(
            "stage IN ('response', 'handling', 'feedback')",
            name=op.f("ck_request_card_stage_known"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_request_card_request_id_resident_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_card")),
        sa.UniqueConstraint(
            "request_id", "stage", "stage_started_at", "colour", name="uq_request_card_stage_run"
        ),
    )
    op.create_index("ix_request_card_raised_at", "request_card", ["raised_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recipient_user_id", sa.Integer(), nullable=True),
        sa.Column("recipient_person_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("stage_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _created_at(),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('due_soon', 'overdue')", name=op.f("ck_outbox_kind_known")),
        sa.CheckConstraint(
            "jsonb_typeof(payload) = 'object'", name=op.f("ck_outbox_payload_object")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"],
            ["app_user.id"],
            name=op.f("fk_outbox_recipient_user_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_person_id"],
            ["person.id"],
            name=op.f("fk_outbox_recipient_person_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_outbox_request_id_resident_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint(
            "request_id", "stage", "stage_started_at", "kind", name="uq_outbox_stage_run_kind"
        ),
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["created_at"], postgresql_where=sa.text("sent_at IS NULL")
    )
    op.execute(GRANTS_SQL)
    # Nobody logs in as it: inactive, no role, a random password's hash that nobody keeps.
    op.execute(
        sa.text(
            "INSERT INTO app_user (username, password_hash, active) VALUES ('system', :hash, false)"
            " ON CONFLICT (username) DO NOTHING"
        ).bindparams(hash=PasswordHasher().hash(secrets.token_urlsafe(32)))
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("request_card")
    op.drop_constraint("ck_category_escalate_on_lapse_array", "category", type_="check")
    op.drop_column("category", "escalate_on_lapse")
