"""Background jobs: procrastinate's queue schema, gridmap's ``job`` records and uploads.

The queue's tables, types, functions and triggers are procrastinate's own schema SQL, applied
as the library ships it (``procrastinate.schema.SchemaManager.get_schema``, version 3.10.0 is
pinned in requirements.txt). A later procrastinate release ships migration SQL files of its
own (``procrastinate/sql/migrations``): upgrading the package means a new revision here
applying those, never re-running this one.

Grants of the application's role: the web process defers jobs (an INSERT through
``procrastinate_defer_jobs_v1``) and the worker, which connects as the same role, fetches,
locks, finishes and retries them, registers itself and writes its heartbeat, so both need
read and write on the queue's tables. ``job`` and ``job_upload`` are ordinary tables of the
application.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

QUEUE_TABLES = (
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
)

GRANTS_SQL = f"""
GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(QUEUE_TABLES)} TO gridmap_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON job, job_upload TO gridmap_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO gridmap_app;
"""


def _apply_queue_schema() -> None:
    # Straight to the driver without parameters: the script holds several statements and
    # dollar-quoted function bodies, which SQLAlchemy's text() would scan for bind markers.
    driver = op.get_bind().connection.dbapi_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(SchemaManager.get_schema())


def upgrade() -> None:
    _apply_queue_schema()
    op.create_table(
        "job_upload",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("size = octet_length(content)", name=op.f("ck_job_upload_size_matches")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_job_upload_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_upload")),
    )
    op.create_index(op.f("ix_job_upload_user_id"), "job_upload", ["user_id"], unique=False)
    op.create_table(
        "job",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("scope_code", sa.String(length=17), nullable=True),
        sa.Column("state", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("progress", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("upload_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("queue_id", sa.BigInteger(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(state = 'failed') = (error IS NOT NULL)", name=op.f("ck_job_error_when_failed")
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_job_progress_range")),
        sa.CheckConstraint(
            "(state = 'succeeded') = (result IS NOT NULL)",
            name=op.f("ck_job_result_when_succeeded"),
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_job_state_known"),
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["job.id"], name=op.f("fk_job_parent_id_job")),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["job_upload.id"], name=op.f("fk_job_upload_id_job_upload")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_job_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(op.f("ix_job_parent_id"), "job", ["parent_id"], unique=False)
    op.create_index(op.f("ix_job_upload_id"), "job", ["upload_id"], unique=False)
    op.create_index(op.f("ix_job_user_id"), "job", ["user_id"], unique=False)
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.drop_table("job")
    op.drop_table("job_upload")
    op.execute(f"DROP TABLE {', '.join(QUEUE_TABLES)} CASCADE")
    op.execute(
        """
        DO $$
        DECLARE f regprocedure;
        BEGIN
          FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%'
          LOOP
            EXECUTE 'DROP FUNCTION ' || f || ' CASCADE';
          END LOOP;
        END $$;
        """
    )
    op.execute(
        "DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,"
        " procrastinate_job_status CASCADE"
    )
