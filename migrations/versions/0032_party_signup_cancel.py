"""A member withdraws a sign-up before the activity ends (取消报名), freeing its place: the
application's role may delete rows of ``activity_signup`` (it could only add and change them).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("GRANT DELETE ON activity_signup TO gridmap_app;")


def downgrade() -> None:
    op.execute("REVOKE DELETE ON activity_signup FROM gridmap_app;")
