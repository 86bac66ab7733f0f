"""Residents' requests (群众诉求): categories, requests, their timeline and intake's
idempotency keys.

The application's role may read and write categories, requests and idempotency keys, but only
SELECT and INSERT the request timeline (``request_event``): like the audit log, the history of
a request is append-only. Events reference their request without a cascade, so a request with
a history cannot be deleted either.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:32:18.840085
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

GRANTS_SQL = """
GRANT SELECT, INSERT, UPDATE, DELETE
  ON category, resident_request, idempotency_key TO gridmap_app;
GRANT SELECT, INSERT ON request_event TO gridmap_app;
REVOKE UPDATE, DELETE, TRUNCATE ON request_event FROM PUBLIC;
GRANT USAGE, SELECT, UPDATE
  ON SEQUENCE category_id_seq, resident_request_id_seq, request_event_id_seq TO gridmap_app;
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("event_class", sa.String(length=10), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_level", sa.String(length=12), server_default="micro", nullable=False),
        sa.Column(
            "time_limits",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name=op.f("ck_category_code_shape")
        ),
        sa.CheckConstraint(
            "default_level IN ('micro', 'zone', 'community', 'street', 'department')",
            name=op.f("ck_category_level_known"),
        ),
        sa.CheckConstraint(
            "event_class IN ('市容环境', '宣传广告', '施工管理', '突发事件', '街面秩序', '邻里纠纷', '养老服务', '物业管理', '水电气暖', '其他')",
            name=op.f("ck_category_class_known"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(time_limits) = 'object'", name=op.f("ck_category_time_limits_object")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_category_validity_ordered")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_category_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint("code", "version", name="uq_category_code_version"),
    )
    op.create_index(
        "uq_category_current_code",
        "category",
        ["code"],
        unique=True,
        postgresql_where="valid_to IS NULL",
    )
    op.create_table(
        "idempotency_key",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "char_length(key) BETWEEN 1 AND 200", name=op.f("ck_idempotency_key_key_length")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_idempotency_key_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_key")),
    )
    op.create_index(
        "ix_idempotency_key_created_at", "idempotency_key", ["created_at"], unique=False
    )
    op.create_geospatial_table(
        "resident_request",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("micro_grid_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("owner_person_id", sa.Integer(), nullable=True),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rating", sa.String(length=20), nullable=True),
        sa.Column("duplicate_of", sa.BigInteger(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("contact_email", sa.Text(), nullable=True),
        sa.Column(
            "photos", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "stage_started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("stage_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "contact_phone IS NULL OR contact_phone ~ '^[0-9+\\-]{5,20}$'",
            name=op.f("ck_resident_request_phone_shape"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(photos) = 'array'", name=op.f("ck_resident_request_photos_array")
        ),
        sa.CheckConstraint(
            "level IN ('micro', 'zone', 'community', 'street', 'department')",
            name=op.f("ck_resident_request_level_known"),
        ),
        sa.CheckConstraint(
            "rating IS NULL OR rating IN ('satisfied', 'basically_satisfied', 'unsatisfied')",
            name=op.f("ck_resident_request_rating_known"),
        ),
        sa.CheckConstraint(
            "source IN ('api', 'page', 'open311')", name=op.f("ck_resident_request_source_known")
        ),
        sa.CheckConstraint(
            "state IN ('reported', 'accepted', 'handling', 'completed', 'feedback', 'archived', 'duplicate')",
            name=op.f("ck_resident_request_state_known"),
        ),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_resident_request_geom_not_empty")),
        sa.CheckConstraint(
            "ST_CoveredBy(geom, ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490))",
            name=op.f("ck_resident_request_geom_in_china"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_resident_request_geom_valid")),
        sa.CheckConstraint(
            "char_length(description) BETWEEN 1 AND 2000",
            name=op.f("ck_resident_request_description_length"),
        ),
        sa.CheckConstraint(
            "duplicate_of IS NULL OR duplicate_of <> id",
            name=op.f("ck_resident_request_not_own_duplicate"),
        ),
        sa.CheckConstraint(
            "reopen_count >= 0", name=op.f("ck_resident_request_reopen_count_positive")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_resident_request_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_resident_request_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            ["resident_request.id"],
            name=op.f("fk_resident_request_duplicate_of_resident_request"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_resident_request_household_id_household"),
        ),
        sa.ForeignKeyConstraint(
            ["micro_grid_id"], ["grid.id"], name=op.f("fk_resident_request_micro_grid_id_grid")
        ),
        sa.ForeignKeyConstraint(
            ["owner_person_id"],
            ["person.id"],
            name=op.f("fk_resident_request_owner_person_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["app_user.id"],
            name=op.f("fk_resident_request_owner_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_request")),
    )
    op.create_index(
        op.f("ix_resident_request_category_id"), "resident_request", ["category_id"], unique=False
    )
    op.create_index(
        op.f("ix_resident_request_created_at"), "resident_request", ["created_at"], unique=False
    )
    op.create_geospatial_index(
        "ix_resident_request_geom",
        "resident_request",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_resident_request_household_id"), "resident_request", ["household_id"], unique=False
    )
    op.create_index(
        op.f("ix_resident_request_micro_grid_id"),
        "resident_request",
        ["micro_grid_id"],
        unique=False,
    )
    op.create_index(
        "ix_resident_request_owner_state",
        "resident_request",
        ["owner_person_id", "state"],
        unique=False,
    )
    op.create_index(
        "ix_resident_request_state_deadline",
        "resident_request",
        ["state", "stage_deadline"],
        unique=False,
    )
    op.create_table(
        "request_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=60), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("owner_person_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "photos", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(
            "jsonb_typeof(photos) = 'array'", name=op.f("ck_request_event_photos_array")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_request_event_request_id_resident_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_event")),
    )
    op.create_index(
        "ix_request_event_request_at", "request_event", ["request_id", "at"], unique=False
    )
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.drop_index("ix_request_event_request_at", table_name="request_event")
    op.drop_table("request_event")
    op.drop_index("ix_resident_request_state_deadline", table_name="resident_request")
    op.drop_index("ix_resident_request_owner_state", table_name="resident_request")
    op.drop_index(op.f("ix_resident_request_micro_grid_id"), table_name="resident_request")
    op.drop_index(op.f("ix_resident_request_household_id"), table_name="resident_request")
    op.drop_geospatial_index(
        "ix_resident_request_geom",
        table_name="resident_request",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_index(op.f("ix_resident_request_created_at"), table_name="resident_request")
    op.drop_index(op.f("ix_resident_request_category_id"), table_name="resident_request")
    op.drop_geospatial_table("resident_request")
    op.drop_index("ix_idempotency_key_created_at", table_name="idempotency_key")
    op.drop_table("idempotency_key")
    op.drop_index(
        "uq_category_current_code", table_name="category", postgresql_where="valid_to IS NULL"
    )
    op.drop_table("category")
