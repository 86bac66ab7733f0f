"""Buildings (楼栋) and units (单元), their posts (楼栋长, 单元长) and 党员中心户.

``building`` (a footprint or a point in a micro-grid, its number, name and floors),
``building_unit``, ``building_post`` (one current holder a post, with history),
``central_household`` (a member household looking after its neighbours) and
``central_neighbour``; ``household.building_id`` and ``household.unit_id`` link a household to
its building and unit beside the address's free text. The links of existing households are
made where buildings are recorded (``gridmap.party.buildings.link_households``): no building
exists before this migration, so there is nothing to match yet.

Grants of the application's role: every table read and written (posts and designations are
ended, never deleted, by the application; a building's units may be replaced).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

ENVELOPE = "ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490)"

#: A building or unit number as addresses write it, compared: NFKC, no spaces, lower case,
#: without the word after it (``12号楼``, ``12栋``, ``12幢``, ``2单元`` → ``12``, ``2``).
NUMBER_KEY_SQL = r"""
CREATE FUNCTION gridmap_number_key(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(regexp_replace(
    regexp_replace(normalize(coalesce(t, ''), NFKC), '\s', '', 'g'),
    '(号楼|号|栋|幢|座|楼|单元)$', ''))
$$;
"""

GRANTS_SQL = """
GRANT SELECT, INSERT, UPDATE, DELETE
  ON building, building_unit, central_neighbour TO gridmap_app;
GRANT SELECT, INSERT, UPDATE ON building_post, central_household TO gridmap_app;
GRANT USAGE ON SEQUENCE building_id_seq, building_unit_id_seq, building_post_id_seq,
  central_household_id_seq TO gridmap_app;
"""


def _checks(table: str) -> list[sa.CheckConstraint]:
    return [
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f(f"ck_{table}_geom_valid")),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f(f"ck_{table}_geom_not_empty")),
        sa.CheckConstraint(
            f"ST_CoveredBy(geom, {ENVELOPE})", name=op.f(f"ck_{table}_geom_in_china")
        ),
    ]


def _buildings() -> None:
    op.create_table(
        "building",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("micro_grid_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("floors", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry("GEOMETRY", srid=4490, spatial_index=False),
            nullable=False,
        ),
        sa.Column(
            "label_point",
            Geometry("POINT", srid=4490, spatial_index=False),
            sa.Computed("ST_PointOnSurface(geom)", persisted=True),
            nullable=True,
        ),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        *_checks("building"),
        sa.CheckConstraint(
            "ST_GeometryType(geom) IN ('ST_Point', 'ST_Polygon', 'ST_MultiPolygon')",
            name=op.f("ck_building_geom_kind"),
        ),
        sa.CheckConstraint(
            "char_length(number) BETWEEN 1 AND 40", name=op.f("ck_building_number_length")
        ),
        sa.CheckConstraint(
            "name IS NULL OR char_length(name) <= 100", name=op.f("ck_building_name_length")
        ),
        sa.CheckConstraint(
            "floors IS NULL OR floors BETWEEN 1 AND 200", name=op.f("ck_building_floors_range")
        ),
        sa.ForeignKeyConstraint(
            ["micro_grid_id"], ["grid.id"], name=op.f("fk_building_micro_grid_id_grid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
        sa.UniqueConstraint(
            "micro_grid_id", "number", name=op.f("uq_building_micro_grid_id_number")
        ),
    )
    op.create_index("ix_building_geom", "building", ["geom"], postgresql_using="gist")
    op.create_index(op.f("ix_building_micro_grid_id"), "building", ["micro_grid_id"])
    op.create_table(
        "building_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("floors", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "char_length(number) BETWEEN 1 AND 20", name=op.f("ck_building_unit_number_length")
        ),
        sa.CheckConstraint(
            "floors IS NULL OR floors BETWEEN 1 AND 200",
            name=op.f("ck_building_unit_floors_range"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_building_unit_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building_unit")),
        sa.UniqueConstraint(
            "building_id", "number", name=op.f("uq_building_unit_building_id_number")
        ),
        sa.UniqueConstraint("id", "building_id", name=op.f("uq_building_unit_id_building_id")),
    )


def _posts() -> None:
    op.create_table(
        "building_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "role IN ('building_head', 'unit_head')", name=op.f("ck_building_post_role_known")
        ),
        sa.CheckConstraint(
            "(role = 'building_head') = (unit_id IS NULL)",
            name=op.f("ck_building_post_role_matches_unit"),
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date",
            name=op.f("ck_building_post_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_building_post_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id", "building_id"],
            ["building_unit.id", "building_unit.building_id"],
            name=op.f("fk_building_post_unit_id_building_unit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_building_post_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building_post")),
    )
    op.create_index(op.f("ix_building_post_building_id"), "building_post", ["building_id"])
    op.create_index(op.f("ix_building_post_person_id"), "building_post", ["person_id"])
    op.create_index(
        "uq_building_post_current",
        "building_post",
        ["building_id", sa.text("coalesce(unit_id, 0)")],
        unique=True,
        postgresql_where=sa.text("end_date IS NULL"),
    )


def _central_households() -> None:
    op.create_table(
        "central_household",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date",
            name=op.f("ck_central_household_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_central_household_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_central_household_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_central_household")),
    )
    op.create_index(
        op.f("ix_central_household_household_id"), "central_household", ["household_id"]
    )
    op.create_index(op.f("ix_central_household_person_id"), "central_household", ["person_id"])
    op.create_index(
        "uq_central_household_current",
        "central_household",
        ["household_id"],
        unique=True,
        postgresql_where=sa.text("end_date IS NULL"),
    )
    op.create_table(
        "central_neighbour",
        sa.Column("central_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["central_id"],
            ["central_household.id"],
            name=op.f("fk_central_neighbour_central_id_central_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_central_neighbour_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("central_id", "household_id", name=op.f("pk_central_neighbour")),
        sa.UniqueConstraint("household_id", name=op.f("uq_central_neighbour_household_id")),
    )


def upgrade() -> None:
    _buildings()
    _posts()
    _central_households()
    op.add_column("household", sa.Column("building_id", sa.Integer(), nullable=True))
    op.add_column("household", sa.Column("unit_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_household_building_id_building"),
        "household",
        "building",
        ["building_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_household_unit_id_building_unit"),
        "household",
        "building_unit",
        ["unit_id", "building_id"],
        ["id", "building_id"],
        ondelete="SET NULL (unit_id)",
    )
    op.create_index(op.f("ix_household_building_id"), "household", ["building_id"])
    op.create_index(op.f("ix_household_unit_id"), "household", ["unit_id"])
    op.execute(NUMBER_KEY_SQL)
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.execute("DROP FUNCTION gridmap_number_key(text)")
    op.drop_index(op.f("ix_household_unit_id"), table_name="household")
    op.drop_index(op.f("ix_household_building_id"), table_name="household")
    op.drop_constraint(op.f("fk_household_unit_id_building_unit"), "household")
    op.drop_constraint(op.f("fk_household_building_id_building"), "household")
    op.drop_column("household", "unit_id")
    op.drop_column("household", "building_id")
    for table in ("central_neighbour", "central_household", "building_post", "building_unit"):
        op.drop_table(table)
    op.drop_table("building")
