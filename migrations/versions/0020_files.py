"""Uploaded photos (照片): ``stored_file``, and categories that need an "after" photo.

``stored_file`` records every photo kept in the object store: who uploaded it, what it
belongs to (a request or a patrol's check-in), its type, sizes, pixels, SHA-256 and the EXIF
place and time kept as data. ``category.requires_after_photo``: completing a request of that
category version needs a 处置后 photo.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "category",
        sa.Column("requires_after_photo", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_table(
        "stored_file",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(10), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("check_in_id", sa.BigInteger(), nullable=True),
        sa.Column("media_type", sa.String(20), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("thumbnail_bytes", sa.Integer(), nullable=False),
        sa.Column("original_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "exif", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint("id ~ '^[A-Za-z0-9_-]{16,40}$'", name="id_shape"),
        sa.CheckConstraint(
            "purpose IN ('intake', 'before', 'after', 'check_in')", name="purpose_known"
        ),
        sa.CheckConstraint(
            "media_type IN ('image/jpeg', 'image/png', 'image/webp')", name="media_type_known"
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_shape"),
        sa.CheckConstraint(
            "size_bytes > 0 AND thumbnail_bytes > 0 AND original_bytes > 0", name="sizes_positive"
        ),
        sa.CheckConstraint("width > 0 AND height > 0", name="pixels_positive"),
        sa.CheckConstraint("jsonb_typeof(exif) = 'object'", name="exif_object"),
        sa.CheckConstraint(
            "request_id IS NULL OR check_in_id IS NULL", name="belongs_to_one_thing"
        ),
        sa.CheckConstraint("check_in_id IS NULL OR purpose = 'check_in'", name="check_in_photo"),
        sa.CheckConstraint("request_id IS NULL OR purpose <> 'check_in'", name="request_photo"),
        sa.ForeignKeyConstraint(["uploaded_by"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["resident_request.id"]),
        sa.ForeignKeyConstraint(["check_in_id"], ["patrol_check_in.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("uploaded_by", "request_id", "check_in_id", "sha256"):
        op.create_index(f"ix_stored_file_{column}", "stored_file", [column])
    op.execute("GRANT SELECT, INSERT, UPDATE ON stored_file TO gridmap_app")


def downgrade() -> None:
    op.drop_table("stored_file")
    op.drop_column("category", "requires_after_photo")
