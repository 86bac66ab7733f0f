"""The person's home check constraint under its conventional name.

0003 created it as ``ck_person_home_in_china``, which the naming convention prefixed a second
time (``ck_person_ck_person_home_in_china``); the model names it ``ck_person_home_in_china``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE person RENAME CONSTRAINT ck_person_ck_person_home_in_china"
        " TO ck_person_home_in_china"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE person RENAME CONSTRAINT ck_person_home_in_china"
        " TO ck_person_ck_person_home_in_china"
    )
