"""双报到: ``service_post_kind`` (the 10 kinds of service post of the seeds, a table a
deployment may edit), ``party_unit`` (单位党组织 and the community it reports to),
``member_registration`` (an in-service member reported to the community where they live, one
community per date: a move closes a registration and opens the next), ``member_post`` (posts a
member chose), ``party_activity`` (社区吹哨: an activity a community publishes) and
``activity_signup`` (党员报到: sign-ups, attendance and hours). ``app_user`` gains the role
``unit`` and ``party_unit_id``: a unit's party organisation reads its members' quarter (双报告).

Grants of the application's role: SELECT, INSERT and UPDATE on all of them; DELETE of a
member's chosen posts only (a member may drop a post).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

ENVELOPE = "ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490)"
#: The ten kinds of service post (服务岗位): the seeds name 政策宣讲 and 心理辅导 "等10类", and
#: elsewhere 纠纷调解, 义务巡逻/治安巡逻, 疫情防控, 应急救援, 结对帮扶, 文明创建 and 文化活动.
POST_KINDS = (
    ("policy_talk", "政策宣讲"),
    ("counselling", "心理辅导"),
    ("mediation", "纠纷调解"),
    ("patrol", "治安巡逻"),
    ("epidemic", "疫情防控"),
    ("emergency", "应急救援"),
    ("environment", "环境整治"),
    ("civility", "文明创建"),
    ("care", "关爱帮扶"),
    ("culture", "文化活动"),
)
ROLES_BEFORE = (
    "street_admin",
    "chief",
    "zone_leader",
    "grid_worker",
    "department",
    "member",
    "auditor",
    "verifier",
    "system_admin",
    "security_admin",
    "audit_admin",
)
ROLES_AFTER = (*ROLES_BEFORE[:6], "unit", *ROLES_BEFORE[6:])
TABLES = (
    "service_post_kind",
    "party_unit",
    "member_registration",
    "member_post",
    "party_activity",
    "activity_signup",
)
GRANTS_SQL = "\n".join(
    [
        *(f"GRANT SELECT, INSERT, UPDATE ON {t} TO gridmap_app;" for t in TABLES),
        "GRANT DELETE ON member_post TO gridmap_app;",
        "GRANT USAGE ON SEQUENCE party_unit_id_seq TO gridmap_app;",
        "GRANT USAGE ON SEQUENCE member_registration_id_seq TO gridmap_app;",
        "GRANT USAGE ON SEQUENCE party_activity_id_seq TO gridmap_app;",
    ]
)


def _point(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        geoalchemy2.types.Geometry(
            geometry_type="POINT", srid=4490, spatial_index=False, from_text="ST_GeomFromEWKT"
        ),
        nullable=nullable,
    )


def _post_kinds() -> None:
    kind = op.create_table(
        "service_post_kind",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.CheckConstraint(
            "code ~ '^[a-z][a-z0-9_]{1,29}$'", name=op.f("ck_service_post_kind_code_shape")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service_post_kind")),
    )
    op.bulk_insert(
        kind,
        [
            {"code": code, "name": name, "position": i + 1}
            for i, (code, name) in enumerate(POST_KINDS)
        ],
    )


def _units_and_members() -> None:
    op.create_table(
        "party_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "code ~ '^[A-Za-z0-9._-]{2,30}$'", name=op.f("ck_party_unit_code_shape")
        ),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 100", name=op.f("ck_party_unit_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["grid.id"], name=op.f("fk_party_unit_community_id_grid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_unit")),
        sa.UniqueConstraint("code", name=op.f("uq_party_unit_code")),
    )
    op.create_index(op.f("ix_party_unit_community_id"), "party_unit", ["community_id"])
    op.create_table(
        "member_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        _point("home", True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from",
            name=op.f("ck_member_registration_dates_ordered"),
        ),
        sa.CheckConstraint(
            f"home IS NULL OR ST_CoveredBy(home, {ENVELOPE})",
            name=op.f("ck_member_registration_home_in_china"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_member_registration_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["grid.id"], name=op.f("fk_member_registration_community_id_grid")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["party_unit.id"], name=op.f("fk_member_registration_unit_id_party_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_registration")),
    )
    for column in ("person_id", "community_id", "unit_id"):
        op.create_index(op.f(f"ix_member_registration_{column}"), "member_registration", [column])
    op.execute(
        "ALTER TABLE member_registration ADD CONSTRAINT ex_member_registration_period "
        "EXCLUDE USING gist (person_id WITH =, daterange(valid_from, valid_to) WITH &&)"
    )
    op.create_table(
        "member_post",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_member_post_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kind"],
            ["service_post_kind.code"],
            name=op.f("fk_member_post_kind_service_post_kind"),
        ),
        sa.PrimaryKeyConstraint("person_id", "kind", name=op.f("pk_member_post")),
    )


def _activities() -> None:
    op.create_table(
        "party_activity",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place_name", sa.Text(), nullable=False),
        _point("place", False),
        sa.Column("wanted", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_party_activity_times_ordered")),
        sa.CheckConstraint(
            "ends_at <= starts_at + interval '24 hours'",
            name=op.f("ck_party_activity_one_day_at_most"),
        ),
        sa.CheckConstraint(
            "wanted BETWEEN 1 AND 1000", name=op.f("ck_party_activity_wanted_range")
        ),
        sa.CheckConstraint(
            "char_length(title) BETWEEN 1 AND 100", name=op.f("ck_party_activity_title_length")
        ),
        sa.CheckConstraint(
            "char_length(place_name) BETWEEN 1 AND 200",
            name=op.f("ck_party_activity_place_name_length"),
        ),
        sa.CheckConstraint(
            f"ST_CoveredBy(place, {ENVELOPE})", name=op.f("ck_party_activity_place_in_china")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["grid.id"], name=op.f("fk_party_activity_community_id_grid")
        ),
        sa.ForeignKeyConstraint(
            ["kind"],
            ["service_post_kind.code"],
            name=op.f("fk_party_activity_kind_service_post_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["organiser_id"], ["app_user.id"], name=op.f("fk_party_activity_organiser_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_activity")),
    )
    op.create_index(
        "ix_party_activity_community_id_starts_at",
        "party_activity",
        ["community_id", "starts_at"],
    )
    op.create_table(
        "activity_signup",
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("how", sa.String(length=10), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("distance_m", sa.Double(), nullable=True),
        sa.Column("hours", sa.Numeric(4, 2), nullable=True),
        sa.CheckConstraint(
            "how IS NULL OR how IN ('organiser', 'check_in')",
            name=op.f("ck_activity_signup_how_known"),
        ),
        sa.CheckConstraint(
            "(attended_at IS NULL) = (how IS NULL) AND (how IS NULL) = (hours IS NULL)",
            name=op.f("ck_activity_signup_attendance_whole"),
        ),
        sa.CheckConstraint(
            "hours IS NULL OR (hours > 0 AND hours <= 24)",
            name=op.f("ck_activity_signup_hours_range"),
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["party_activity.id"],
            name=op.f("fk_activity_signup_activity_id_party_activity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_activity_signup_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["app_user.id"],
            name=op.f("fk_activity_signup_confirmed_by_app_user"),
        ),
        sa.PrimaryKeyConstraint("activity_id", "person_id", name=op.f("pk_activity_signup")),
    )
    op.create_index(op.f("ix_activity_signup_person_id"), "activity_signup", ["person_id"])


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _unit_accounts() -> None:
    op.add_column("app_user", sa.Column("party_unit_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_app_user_party_unit_id_party_unit"),
        "app_user",
        "party_unit",
        ["party_unit_id"],
        ["id"],
    )
    op.create_index(op.f("ix_app_user_party_unit_id"), "app_user", ["party_unit_id"])
    op.drop_constraint(op.f("ck_app_user_role_known"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role_known"), "app_user", _in("role", ROLES_AFTER))
    op.create_check_constraint(
        op.f("ck_app_user_unit_link"),
        "app_user",
        "coalesce(role = 'unit', false) = (party_unit_id IS NOT NULL)",
    )


def upgrade() -> None:
    _post_kinds()
    _units_and_members()
    _activities()
    _unit_accounts()
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_app_user_unit_link"), "app_user", type_="check")
    op.execute(
        "DELETE FROM auth_session WHERE user_id IN (SELECT id FROM app_user WHERE role = 'unit')"
    )
    op.execute("UPDATE app_user SET role = NULL WHERE role = 'unit'")
    op.drop_constraint(op.f("ck_app_user_role_known"), "app_user", type_="check")
    op.create_check_constraint(
        op.f("ck_app_user_role_known"), "app_user", _in("role", ROLES_BEFORE)
    )
    op.drop_index(op.f("ix_app_user_party_unit_id"), table_name="app_user")
    op.drop_column("app_user", "party_unit_id")
    for table in reversed(TABLES):
        op.drop_table(table)
