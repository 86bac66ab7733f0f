"""Members' visits (民情日志): ``household_visit``, a member's or grid worker's visit to a
household they cover (when, how: 入户/电话/微信, the topics found, a note), the patrol it was
made on and the request filed from it.

Grants of the application's role: SELECT and INSERT, and UPDATE of ``request_id`` only (the
request filed from a visit is linked afterwards); a visit is evidence, never rewritten.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

CHANNELS = ("in_person", "phone", "wechat")
TOPICS = (
    "health",
    "housing",
    "employment",
    "disputes",
    "elderly_care",
    "safety",
    "environment",
    "policy",
    "other",
)

GRANTS_SQL = """
GRANT SELECT, INSERT ON household_visit TO gridmap_app;
GRANT UPDATE (request_id) ON household_visit TO gridmap_app;
REVOKE UPDATE, DELETE, TRUNCATE ON household_visit FROM PUBLIC;
GRANT USAGE ON SEQUENCE household_visit_id_seq TO gridmap_app;
"""


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def upgrade() -> None:
    op.create_table(
        "household_visit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("patrol_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("topics", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            f"channel IN ({_quoted(CHANNELS)})", name=op.f("ck_household_visit_channel_known")
        ),
        sa.CheckConstraint(
            f"topics <@ ARRAY[{_quoted(TOPICS)}]::text[]",
            name=op.f("ck_household_visit_topics_known"),
        ),
        sa.CheckConstraint(
            "note IS NULL OR char_length(note) <= 2000",
            name=op.f("ck_household_visit_note_length"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_household_visit_household_id_household"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_household_visit_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_household_visit_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"], ["patrol.id"], name=op.f("fk_household_visit_patrol_id_patrol")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_household_visit_request_id_resident_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_visit")),
        sa.UniqueConstraint("request_id", name=op.f("uq_household_visit_request_id")),
    )
    op.create_index("ix_household_visit_household_at", "household_visit", ["household_id", "at"])
    op.create_index("ix_household_visit_person_at", "household_visit", ["person_id", "at"])
    op.create_index(
        op.f("ix_household_visit_patrol_id"), "household_visit", ["patrol_id"], unique=False
    )
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.drop_table("household_visit")
