"""Patrols and visits (3+N work lists): the lists' rules, patrols with their cleaned tracks, the
fixes phones post during a live patrol, check-ins at households, and the households each patrol
reached (derived).

Grants of the application's role: it may edit work lists and patrols (ending one writes its
track), and rewrite ``patrol_reach``, which is derived and recomputed from the track and the
check-ins; but only SELECT and INSERT the raw evidence, ``patrol_point`` (the fixes as received)
and ``patrol_check_in``: like the audit log and a request's timeline they are append-only.
Check-ins reference their patrol without a cascade, so a patrol with check-ins cannot be
deleted either. ``uq_patrol_open_person`` allows one open patrol per person.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:27:50.177348
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

GRANTS_SQL = """
GRANT SELECT, INSERT, UPDATE, DELETE ON work_list, patrol_reach TO gridmap_app;
GRANT SELECT, INSERT, UPDATE ON patrol TO gridmap_app;
GRANT SELECT, INSERT ON patrol_point, patrol_check_in TO gridmap_app;
REVOKE UPDATE, DELETE, TRUNCATE ON patrol_point, patrol_check_in FROM PUBLIC;
GRANT USAGE, SELECT, UPDATE
  ON SEQUENCE work_list_id_seq, patrol_id_seq, patrol_check_in_id_seq TO gridmap_app;
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=10), nullable=False),
        sa.Column("care_tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("min_reach", sa.String(length=10), server_default="check_in", nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("grid_level", sa.String(length=10), server_default="micro", nullable=False),
        sa.Column("grid_code", sa.String(length=17), nullable=True),
        sa.Column("valid_from", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "care_tags <@ ARRAY['elderly_alone', 'disabled', 'low_income', 'left_behind_child', 'veteran']::text[]",
            name=op.f("ck_work_list_care_tags_known"),
        ),
        sa.CheckConstraint(
            "code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name=op.f("ck_work_list_code_shape")
        ),
        sa.CheckConstraint(
            "grid_code IS NULL OR grid_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$'",
            name=op.f("ck_work_list_grid_code_shape"),
        ),
        sa.CheckConstraint(
            "grid_level IN ('community', 'zone', 'micro')", name=op.f("ck_work_list_level_known")
        ),
        sa.CheckConstraint(
            "kind IN ('daily_patrol', 'weekly_visit', 'monthly_survey', 'special')",
            name=op.f("ck_work_list_kind_known"),
        ),
        sa.CheckConstraint(
            "min_reach IN ('check_in', 'pass_by')", name=op.f("ck_work_list_min_reach_known")
        ),
        sa.CheckConstraint(
            "period <> 'once' OR valid_to IS NOT NULL", name=op.f("ck_work_list_once_bounded")
        ),
        sa.CheckConstraint(
            "period IN ('day', 'week', 'month', 'once')", name=op.f("ck_work_list_period_known")
        ),
        sa.CheckConstraint(
            "roles <@ ARRAY['chief', 'zone_leader', 'grid_worker', 'building_leader', 'member']::text[] AND cardinality(roles) > 0",
            name=op.f("ck_work_list_roles_known"),
        ),
        sa.CheckConstraint(
            "target IN ('grid', 'all', 'care')", name=op.f("ck_work_list_target_known")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_work_list_validity_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_list")),
        sa.UniqueConstraint("code", name=op.f("uq_work_list_code")),
    )
    op.create_geospatial_table(
        "patrol",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("work_list_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_crs", sa.String(length=20), server_default="EPSG:4326", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "track",
            Geometry(
                geometry_type="MULTILINESTRINGM",
                srid=4490,
                dimension=3,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "track_report",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "jsonb_typeof(track_report) = 'object'", name=op.f("ck_patrol_report_object")
        ),
        sa.CheckConstraint("source IN ('live', 'upload')", name=op.f("ck_patrol_source_known")),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_patrol_times_ordered")
        ),
        sa.CheckConstraint(
            "track IS NULL OR NOT ST_IsEmpty(track)", name=op.f("ck_patrol_track_not_empty")
        ),
        sa.CheckConstraint(
            "track IS NULL OR ST_CoveredBy(track, ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490))",
            name=op.f("ck_patrol_track_in_china"),
        ),
        sa.CheckConstraint(
            "track IS NULL OR ST_IsValid(track)", name=op.f("ck_patrol_track_valid")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_patrol_grid_id_grid")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_patrol_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_patrol_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["work_list_id"], ["work_list.id"], name=op.f("fk_patrol_work_list_id_work_list")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol")),
    )
    op.create_index(op.f("ix_patrol_grid_id"), "patrol", ["grid_id"], unique=False)
    op.create_index(
        "ix_patrol_list_started", "patrol", ["work_list_id", "started_at"], unique=False
    )
    op.create_index("ix_patrol_person_started", "patrol", ["person_id", "started_at"], unique=False)
    op.create_geospatial_index(
        "ix_patrol_track",
        "patrol",
        ["track"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_patrol_user_id"), "patrol", ["user_id"], unique=False)
    op.create_index(
        "uq_patrol_open_person",
        "patrol",
        ["person_id"],
        unique=True,
        postgresql_where="ended_at IS NULL",
    )
    op.create_geospatial_table(
        "patrol_check_in",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("patrol_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("distance_m", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "geom IS NULL OR ST_CoveredBy(geom, ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490))",
            name=op.f("ck_patrol_check_in_geom_in_china"),
        ),
        sa.CheckConstraint(
            "note IS NULL OR char_length(note) <= 2000", name=op.f("ck_patrol_check_in_note_length")
        ),
        sa.CheckConstraint(
            "photo IS NULL OR char_length(photo) <= 500",
            name=op.f("ck_patrol_check_in_photo_length"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_patrol_check_in_household_id_household"),
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"], ["patrol.id"], name=op.f("fk_patrol_check_in_patrol_id_patrol")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_check_in")),
    )
    op.create_index(
        "ix_patrol_check_in_household_at", "patrol_check_in", ["household_id", "at"], unique=False
    )
    op.create_index(
        op.f("ix_patrol_check_in_patrol_id"), "patrol_check_in", ["patrol_id"], unique=False
    )
    op.create_geospatial_table(
        "patrol_point",
        sa.Column("patrol_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
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
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "ST_CoveredBy(geom, ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490))",
            name=op.f("ck_patrol_point_geom_in_china"),
        ),
        sa.CheckConstraint(
            "accuracy_m IS NULL OR accuracy_m >= 0", name=op.f("ck_patrol_point_accuracy_positive")
        ),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_patrol_point_seq_positive")),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["patrol.id"],
            name=op.f("fk_patrol_point_patrol_id_patrol"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patrol_id", "seq", name=op.f("pk_patrol_point")),
    )
    op.create_table(
        "patrol_reach",
        sa.Column("patrol_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("how", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_m", sa.Double(), nullable=True),
        sa.CheckConstraint(
            "how IN ('check_in', 'pass_by')", name=op.f("ck_patrol_reach_how_known")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_patrol_reach_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["patrol.id"],
            name=op.f("fk_patrol_reach_patrol_id_patrol"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patrol_id", "household_id", name=op.f("pk_patrol_reach")),
    )
    op.create_index(
        "ix_patrol_reach_household_at", "patrol_reach", ["household_id", "at"], unique=False
    )
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.drop_index("ix_patrol_reach_household_at", table_name="patrol_reach")
    op.drop_table("patrol_reach")
    op.drop_geospatial_table("patrol_point")
    op.drop_index(op.f("ix_patrol_check_in_patrol_id"), table_name="patrol_check_in")
    op.drop_index("ix_patrol_check_in_household_at", table_name="patrol_check_in")
    op.drop_geospatial_table("patrol_check_in")
    op.drop_index("uq_patrol_open_person", table_name="patrol", postgresql_where="ended_at IS NULL")
    op.drop_index(op.f("ix_patrol_user_id"), table_name="patrol")
    op.drop_geospatial_index(
        "ix_patrol_track", table_name="patrol", postgresql_using="gist", column_name="track"
    )
    op.drop_index("ix_patrol_person_started", table_name="patrol")
    op.drop_index("ix_patrol_list_started", table_name="patrol")
    op.drop_index(op.f("ix_patrol_grid_id"), table_name="patrol")
    op.drop_geospatial_table("patrol")
    op.drop_table("work_list")
