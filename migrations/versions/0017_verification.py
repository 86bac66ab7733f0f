"""Independent verification and 回访: the verifier role and the category's on-site check.

``app_user.role`` may be ``verifier`` (核查回访员, a community's or a street's): it records
回访 (``callback``) and on-site checks (``verify``) of completed requests and handles nothing.
``category.requires_check``: a request of that category version is closed (feedback,
archived) only after a verifier's on-site check with a photo. The answers themselves are
timeline events (``request_event.detail``: ``resolved``, ``rating``, ``channel``), so no
table is added.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BEFORE = (
    "street_admin",
    "chief",
    "zone_leader",
    "grid_worker",
    "member",
    "auditor",
    "system_admin",
    "security_admin",
    "audit_admin",
)
_AFTER = (*_BEFORE[:6], "verifier", *_BEFORE[6:])


def _roles(roles: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{r}'" for r in roles) + ")"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_app_user_role_known"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role_known"), "app_user", _roles(_AFTER))
    op.add_column(
        "category",
        sa.Column("requires_check", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("category", "requires_check")
    op.execute("DELETE FROM app_user WHERE role = 'verifier'")
    op.drop_constraint(op.f("ck_app_user_role_known"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role_known"), "app_user", _roles(_BEFORE))
