"""An administrator's password reset gives a one-time password: the account must choose a
new one before anything else (``must_change_password``), and the one-time password stops
logging in at ``password_expires_at``. ``user_notice`` tells the account's user about it at
their next login (who reset it, when), until read.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column("must_change_password", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "app_user", sa.Column("password_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "user_notice",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('password_reset')", name=op.f("ck_user_notice_kind_known")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_notice_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_notice")),
    )
    op.create_index("ix_user_notice_user_id", "user_notice", ["user_id"], unique=False)
    op.execute("GRANT SELECT, INSERT, UPDATE ON user_notice TO gridmap_app")
    op.execute("GRANT USAGE, SELECT, UPDATE ON SEQUENCE user_notice_id_seq TO gridmap_app")


def downgrade() -> None:
    op.drop_index("ix_user_notice_user_id", table_name="user_notice")
    op.drop_table("user_notice")
    op.drop_column("app_user", "password_expires_at")
    op.drop_column("app_user", "must_change_password")
