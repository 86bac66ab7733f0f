"""Photos of visits (民情日志照片) and the pruning of photos never attached.

``stored_file.visit_id``: a photo may belong to a member's or grid worker's visit (purpose
``visit``), as it may to a request or a check-in, never to two things. A partial index finds
the uploads still attached to nothing by their age, for the worker's pruning job
(``gridmap.files.service.prune_unattached``; the application's role may delete them since
0023).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_UNATTACHED = "request_id IS NULL AND check_in_id IS NULL AND visit_id IS NULL"


def upgrade() -> None:
    op.add_column("stored_file", sa.Column("visit_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_stored_file_visit_id_household_visit"),
        "stored_file",
        "household_visit",
        ["visit_id"],
        ["id"],
    )
    op.create_index("ix_stored_file_visit_id", "stored_file", ["visit_id"])
    op.create_index(
        "ix_stored_file_unattached_uploaded_at",
        "stored_file",
        ["uploaded_at"],
        postgresql_where=sa.text(_UNATTACHED),
    )
    for name in ("purpose_known", "belongs_to_one_thing", "request_photo"):
        op.drop_constraint(op.f(f"ck_stored_file_{name}"), "stored_file", type_="check")
    op.create_check_constraint(
        "purpose_known",
        "stored_file",
        "purpose IN ('intake', 'before', 'after', 'check_in', 'visit')",
    )
    op.create_check_constraint(
        "belongs_to_one_thing",
        "stored_file",
        "num_nonnulls(request_id, check_in_id, visit_id) <= 1",
    )
    op.create_check_constraint(
        "request_photo",
        "stored_file",
        "request_id IS NULL OR purpose IN ('intake', 'before', 'after')",
    )
    op.create_check_constraint(
        "visit_photo", "stored_file", "visit_id IS NULL OR purpose = 'visit'"
    )


def downgrade() -> None:
    op.execute("DELETE FROM stored_file WHERE purpose = 'visit'")
    op.drop_constraint(op.f("ck_stored_file_visit_photo"), "stored_file", type_="check")
    for name in ("purpose_known", "belongs_to_one_thing", "request_photo"):
        op.drop_constraint(op.f(f"ck_stored_file_{name}"), "stored_file", type_="check")
    op.create_check_constraint(
        "purpose_known", "stored_file", "purpose IN ('intake', 'before', 'after', 'check_in')"
    )
    op.create_check_constraint(
        "belongs_to_one_thing", "stored_file", "request_id IS NULL OR check_in_id IS NULL"
    )
    op.create_check_constraint(
        "request_photo", "stored_file", "request_id IS NULL OR purpose <> 'check_in'"
    )
    op.drop_index("ix_stored_file_unattached_uploaded_at", "stored_file")
    op.drop_index("ix_stored_file_visit_id", "stored_file")
    op.drop_constraint(
        op.f("fk_stored_file_visit_id_household_visit"), "stored_file", type_="foreignkey"
    )
    op.drop_column("stored_file", "visit_id")
