"""Accounts, sessions and the audit log; the application's database role.

``gridmap_app`` is the role the application connects as (its login is set up by the
deployment: ./scripts/run does it for the private cluster). It may read and write the data
tables but only SELECT and INSERT the audit log, so the log is append-only for the
application; pruning past the retention period goes through a SECURITY DEFINER function
that refuses to delete anything younger than 180 days.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:53:08.063485
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

APP_ROLE_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridmap_app') THEN
    CREATE ROLE gridmap_app NOLOGIN;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO gridmap_app;
GRANT SELECT, INSERT, UPDATE, DELETE
  ON grid, household, person, assignment, coverage, app_user, auth_session TO gridmap_app;
GRANT SELECT ON alembic_version, spatial_ref_sys TO gridmap_app;
GRANT SELECT, INSERT ON audit_log TO gridmap_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO gridmap_app;

CREATE FUNCTION gridmap_prune_audit(keep_days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  removed bigint;
BEGIN
  DELETE FROM audit_log WHERE at < now() - make_interval(days => GREATEST(keep_days, 180));
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
REVOKE ALL ON FUNCTION gridmap_prune_audit(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gridmap_prune_audit(integer) TO gridmap_app;
"""

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=60), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=True),
        sa.Column("object_id", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(
            "outcome IN ('ok', 'denied', 'failed')", name=op.f("ck_audit_log_outcome_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"], unique=False)
    op.create_index(op.f("ix_audit_log_user_id"), "audit_log", ["user_id"], unique=False)
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("scope_code", sa.String(length=17), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('street_admin', 'chief', 'zone_leader', 'grid_worker', 'member', 'auditor', 'system_admin', 'security_admin', 'audit_admin')",
            name=op.f("ck_app_user_role_known"),
        ),
        sa.CheckConstraint(
            "scope_code IS NULL OR scope_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$'",
            name=op.f("ck_app_user_scope_shape"),
        ),
        sa.CheckConstraint(
            "username ~ '^[A-Za-z0-9._-]{3,40}$'", name=op.f("ck_app_user_username_shape")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_app_user_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_index(op.f("ix_app_user_person_id"), "app_user", ["person_id"], unique=False)
    op.create_table(
        "auth_session",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('web', 'bearer')", name=op.f("ck_auth_session_kind_known")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_auth_session_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_session_token_hash")),
    )
    op.create_index(op.f("ix_auth_session_user_id"), "auth_session", ["user_id"], unique=False)
    op.drop_index(
        op.f("ix_household_address_trgm"),
        table_name="household",
        postgresql_ops={"address": "gin_trgm_ops"},
        postgresql_using="gin",
    )
    op.add_column("person", sa.Column("id_number_digest", sa.String(length=64), nullable=True))
    op.add_column("person", sa.Column("id_number_masked", sa.String(length=18), nullable=True))
    op.create_unique_constraint(op.f("uq_person_id_number_digest"), "person", ["id_number_digest"])
    # ### end Alembic commands ###
    op.execute(APP_ROLE_SQL)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS gridmap_prune_audit(integer)")
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM gridmap_app")
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM gridmap_app")
    op.drop_constraint(op.f("uq_person_id_number_digest"), "person", type_="unique")
    op.drop_column("person", "id_number_masked")
    op.drop_column("person", "id_number_digest")
    op.create_index(
        op.f("ix_household_address_trgm"),
        "household",
        ["address"],
        unique=False,
        postgresql_ops={"address": "gin_trgm_ops"},
        postgresql_using="gin",
    )
    op.drop_index(op.f("ix_auth_session_user_id"), table_name="auth_session")
    op.drop_table("auth_session")
    op.drop_index(op.f("ix_app_user_person_id"), table_name="app_user")
    op.drop_table("app_user")
    op.drop_index(op.f("ix_audit_log_user_id"), table_name="audit_log")
    op.drop_index("ix_audit_log_object", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
