"""Change counts: one number per kind of data that a process may keep derived copies of.

``change_count`` holds a row per name, counted up by statement-level triggers in the
transaction that makes the change, so the new number becomes visible exactly when the change
does, to every process at once:

- ``login``: a login ended or changed (``auth_session`` written but for ``last_seen_at``,
  the minute's touch; a session deleted) or an
  account changed in what a caller is made of (role, scope, person, department, active, the
  one-time password step, the name). A web process may then keep the caller of a token it
  checked a moment ago and read only this number per request; logout, an administrator's
  lock or reset still take effect on the very next request, in every process.
- ``grid``: any grid written. Grid tiles are kept per scope and this number.

The trigger function runs as the owner: the application's role may only read the counts.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

COUNT_FUNCTION_SQL = """
CREATE FUNCTION gridmap_count_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE change_count SET n = n + 1 WHERE name = TG_ARGV[0];
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION gridmap_count_change() FROM PUBLIC;
"""

#: (trigger, event, table, count): the changes each count follows.
TRIGGERS = (
    # Every column but last_seen_at, which each login's requests write once a minute.
    (
        "count_login_changed",
        "UPDATE OF revoked_at, created_at, token_hash, user_id, kind",
        "auth_session",
        "login",
    ),
    ("count_login_deleted", "DELETE", "auth_session", "login"),
    (
        "count_login_account",
        "UPDATE OF username, role, scope_code, person_id, department_id, party_unit_id,"
        " active, must_change_password",
        "app_user",
        "login",
    ),
    ("count_login_account_deleted", "DELETE", "app_user", "login"),
    ("count_grid_written", "INSERT OR UPDATE OR DELETE", "grid", "grid"),
    ("count_grid_truncated", "TRUNCATE", "grid", "grid"),
)


def upgrade() -> None:
    op.create_table(
        "change_count",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("name IN ('login', 'grid')", name=op.f("ck_change_count_name_known")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_count")),
    )
    op.execute("INSERT INTO change_count (name) VALUES ('login'), ('grid')")
    op.execute("GRANT SELECT ON change_count TO gridmap_app")
    op.execute(COUNT_FUNCTION_SQL)
    for name, event, table, count in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION gridmap_count_change('{count}')"
        )


def downgrade() -> None:
    for name, _, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION gridmap_count_change()")
    op.drop_table("change_count")
