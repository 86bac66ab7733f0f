"""Departments as participants (街乡吹哨、部门报到): ``department`` rows, requests and accounts
linked to them, co-handling departments (协办), the people a community calls up (社区吹哨) and
extension requests (延期).

The free-text ``resident_request.department`` becomes ``department_id``: each distinct text
becomes a department (kind 其他, serving the district of its requests, code ``dept-<n>``),
then the column is dropped. ``app_user`` gains ``department_id`` and the role ``department``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

KINDS = ("城管", "住建", "市场监管", "供热", "供水", "供电", "燃气", "水务", "公安派出所", "其他")
ROLES_BEFORE = (
    "street_admin",
    "chief",
    "zone_leader",
    "grid_worker",
    "member",
    "auditor",
    "verifier",
    "system_admin",
    "security_admin",
    "audit_admin",
)
ROLES_AFTER = (*ROLES_BEFORE[:4], "department", *ROLES_BEFORE[4:])

# Every department named in free text: one row per distinct name, serving the district of the
# first request that named it.
MOVE_TEXT_SQL = """
INSERT INTO department (code, name, kind, scope_code)
SELECT 'dept-' || row_number() OVER (ORDER BY d.name), d.name, '其他', d.district
  FROM (SELECT DISTINCT ON (btrim(r.department)) btrim(r.department) AS name,
               left(g.code, 6) AS district
          FROM resident_request r JOIN grid g ON g.id = r.micro_grid_id
         WHERE r.department IS NOT NULL AND btrim(r.department) <> ''
         ORDER BY btrim(r.department), r.id) d;
UPDATE resident_request r SET department_id = d.id
  FROM department d WHERE d.name = btrim(r.department);
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("scope_code", sa.String(length=9), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.CheckConstraint(
            "code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name=op.f("ck_department_code_shape")
        ),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 100", name=op.f("ck_department_name_length")
        ),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f("ck_department_kind_known")),
        sa.CheckConstraint(
            "scope_code ~ '^([0-9]{6}|[0-9]{9})$'", name=op.f("ck_department_scope_shape")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("code", name=op.f("uq_department_code")),
    )
    op.add_column("resident_request", sa.Column("department_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_resident_request_department_id_department"),
        "resident_request",
        "department",
        ["department_id"],
        ["id"],
    )
    op.create_index(
        op.f("ix_resident_request_department_id"), "resident_request", ["department_id"]
    )
    op.execute(MOVE_TEXT_SQL)
    op.drop_column("resident_request", "department")

    op.add_column("app_user", sa.Column("department_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_app_user_department_id_department"),
        "app_user",
        "department",
        ["department_id"],
        ["id"],
    )
    op.create_index(op.f("ix_app_user_department_id"), "app_user", ["department_id"])
    op.drop_constraint(op.f("ck_app_user_role_known"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role_known"), "app_user", _in("role", ROLES_AFTER))
    op.create_check_constraint(
        op.f("ck_app_user_department_link"),
        "app_user",
        "coalesce(role = 'department', false) = (department_id IS NOT NULL)",
    )

    op.create_table(
        "request_cohandler",
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_request_cohandler_request_id_resident_request"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_request_cohandler_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("request_id", "department_id", name=op.f("pk_request_cohandler")),
    )
    op.create_index(
        op.f("ix_request_cohandler_department_id"), "request_cohandler", ["department_id"]
    )
    op.create_table(
        "request_helper",
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_request_helper_request_id_resident_request"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_request_helper_person_id_person")
        ),
        sa.PrimaryKeyConstraint("request_id", "person_id", name=op.f("pk_request_helper")),
    )
    op.create_index(op.f("ix_request_helper_person_id"), "request_helper", ["person_id"])
    op.create_table(
        "request_extension",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=5), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'refused', 'withdrawn')",
            name=op.f("ck_request_extension_state_known"),
        ),
        sa.CheckConstraint(
            "unit IN ('hours', 'days')", name=op.f("ck_request_extension_unit_known")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_request_extension_amount_positive")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["resident_request.id"],
            name=op.f("fk_request_extension_request_id_resident_request"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_request_extension_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_extension")),
    )
    op.create_index(op.f("ix_request_extension_request_id"), "request_extension", ["request_id"])
    op.create_index(
        "uq_request_extension_pending",
        "request_extension",
        ["request_id"],
        unique=True,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.execute("GRANT SELECT, INSERT, UPDATE ON department, request_extension TO gridmap_app")
    op.execute("GRANT SELECT, INSERT, DELETE ON request_cohandler, request_helper TO gridmap_app")
    op.execute("GRANT USAGE ON SEQUENCE department_id_seq, request_extension_id_seq TO gridmap_app")


def downgrade() -> None:
    op.drop_table("request_extension")
    op.drop_table("request_helper")
    op.drop_table("request_cohandler")
    op.drop_constraint(op.f("ck_app_user_department_link"), "app_user", type_="check")
    op.execute(
        "DELETE FROM auth_session WHERE user_id IN "
        "(SELECT id FROM app_user WHERE role = 'department')"
    )
    op.execute("UPDATE app_user SET role = NULL WHERE role = 'department'")
    op.drop_constraint(op.f("ck_app_user_role_known"), "app_user", type_="check")
    op.create_check_constraint(
        op.f("ck_app_user_role_known"), "app_user", _in("role", ROLES_BEFORE)
    )
    op.drop_index(op.f("ix_app_user_department_id"), table_name="app_user")
    op.drop_column("app_user", "department_id")
    op.add_column("resident_request", sa.Column("department", sa.Text(), nullable=True))
    op.execute(
        "UPDATE resident_request r SET department = d.name "
        "FROM department d WHERE d.id = r.department_id"
    )
    op.drop_index(op.f("ix_resident_request_department_id"), table_name="resident_request")
    op.drop_column("resident_request", "department_id")
    op.drop_table("department")
