"""Initial schema: grids, households, people, assignments, coverage.

Besides the tables: the extensions, an exclusion constraint keeping a grid code unique
within any validity period, and triggers that keep ``household.micro_grid_id`` equal to the
current micro-grid containing the household's point.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:28:56.231356
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

LOCATE_SQL = """
CREATE FUNCTION gridmap_micro_grid_at(p geometry) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT id FROM grid
  WHERE level = 'micro' AND valid_to IS NULL AND ST_Intersects(geom, p)
  ORDER BY id LIMIT 1
$$;

-- A household keeps a given micro-grid only if that grid really contains its point. The bulk
-- import locates millions of households with the same rule in geopandas (tested to agree) and
-- marks its transaction with gridmap.bulk_located, skipping a per-row check that would cost
-- more than the import itself.
CREATE FUNCTION household_set_micro_grid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.micro_grid_id IS NOT NULL
     AND current_setting('gridmap.bulk_located', true) = 'on' THEN
    RETURN NEW;
  END IF;
  IF NEW.micro_grid_id IS NOT NULL AND EXISTS (
       SELECT 1 FROM grid g
       WHERE g.id = NEW.micro_grid_id AND g.level = 'micro' AND g.valid_to IS NULL
         AND ST_Intersects(g.geom, NEW.geom)) THEN
    RETURN NEW;
  END IF;
  NEW.micro_grid_id := gridmap_micro_grid_at(NEW.geom);
  RETURN NEW;
END $$;

CREATE TRIGGER household_micro_grid
  BEFORE INSERT OR UPDATE OF geom, micro_grid_id ON household
  FOR EACH ROW EXECUTE FUNCTION household_set_micro_grid();

-- When a micro-grid appears, moves, closes or goes, its households are located again.
CREATE FUNCTION grid_release_households() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE household SET micro_grid_id = NULL WHERE micro_grid_id = OLD.id;
  RETURN OLD;
END $$;

CREATE FUNCTION grid_relocate_households() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE household h SET micro_grid_id = gridmap_micro_grid_at(h.geom)
    WHERE (h.micro_grid_id = OLD.id OR h.micro_grid_id IS NULL) AND ST_Intersects(h.geom, OLD.geom);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE household h SET micro_grid_id = gridmap_micro_grid_at(h.geom)
    WHERE ST_Intersects(h.geom, NEW.geom)
      AND h.micro_grid_id IS DISTINCT FROM gridmap_micro_grid_at(h.geom);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER grid_release_households BEFORE DELETE ON grid
  FOR EACH ROW WHEN (OLD.level = 'micro') EXECUTE FUNCTION grid_release_households();
CREATE TRIGGER grid_relocate_households_ins AFTER INSERT ON grid
  FOR EACH ROW WHEN (NEW.level = 'micro') EXECUTE FUNCTION grid_relocate_households();
CREATE TRIGGER grid_relocate_households_upd AFTER UPDATE OF geom, valid_to, level ON grid
  FOR EACH ROW WHEN (OLD.level = 'micro' OR NEW.level = 'micro')
  EXECUTE FUNCTION grid_relocate_households();
CREATE TRIGGER grid_relocate_households_del AFTER DELETE ON grid
  FOR EACH ROW WHEN (OLD.level = 'micro') EXECUTE FUNCTION grid_relocate_households();
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_geospatial_table(
        "grid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=17), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), server_default="ordinary", nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "valid_from",
            sa.Date(),
            server_default=sa.text("CURRENT_DATE"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "(level = 'community' AND code ~ '^[0-9]{12}$' AND parent_id IS NULL) OR (level = 'zone' AND code ~ '^[0-9]{14}$' AND parent_id IS NOT NULL) OR (level = 'micro' AND code ~ '^[0-9]{17}$' AND parent_id IS NOT NULL)",
            name=op.f("ck_grid_code_shape"),
        ),
        sa.CheckConstraint("kind IN ('ordinary', 'dedicated')", name=op.f("ck_grid_kind_known")),
        sa.CheckConstraint(
            "level IN ('community', 'zone', 'micro')", name=op.f("ck_grid_level_known")
        ),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_grid_geom_not_empty")),
        sa.CheckConstraint(
            "ST_CoveredBy(geom, ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490))",
            name=op.f("ck_grid_geom_in_china"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_grid_geom_valid")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from",
            name=op.f("ck_grid_validity_ordered"),
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["grid.id"], name=op.f("fk_grid_parent_id_grid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid")),
    )
    op.create_index(op.f("ix_grid_code"), "grid", ["code"], unique=False)
    op.create_index(
        "ix_grid_current_level",
        "grid",
        ["level"],
        unique=False,
        postgresql_where="valid_to IS NULL",
    )
    op.create_geospatial_index(
        "ix_grid_geom",
        "grid",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_grid_parent_id"), "grid", ["parent_id"], unique=False)
    op.create_geospatial_table(
        "household",
        sa.Column("id", sa.BigInteger(), nullable=False),
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
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("building", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("room", sa.Text(), nullable=True),
        sa.Column("residents", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "care_tags",
            postgresql.ARRAY(sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("micro_grid_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "care_tags <@ ARRAY['elderly_alone', 'disabled', 'low_income', 'left_behind_child', 'veteran']::text[]",
            name=op.f("ck_household_care_tags_known"),
        ),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_household_geom_not_empty")),
        sa.CheckConstraint(
            "ST_CoveredBy(geom, ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490))",
            name=op.f("ck_household_geom_in_china"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_household_geom_valid")),
        sa.CheckConstraint(
            "residents >= 0 AND residents < 100",
            name=op.f("ck_household_residents_range"),
        ),
        sa.ForeignKeyConstraint(
            ["micro_grid_id"], ["grid.id"], name=op.f("fk_household_micro_grid_id_grid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
    )
    op.create_geospatial_index(
        "ix_household_geom",
        "household",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_household_micro_grid_id"), "household", ["micro_grid_id"], unique=False
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("home_community_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('party_member', 'grid_worker', 'volunteer', 'building_leader', 'in_service_member')",
            name=op.f("ck_person_kind_known"),
        ),
        sa.CheckConstraint(
            "phone IS NULL OR phone ~ '^[0-9+\\-]{5,20}$'",
            name=op.f("ck_person_phone_shape"),
        ),
        sa.ForeignKeyConstraint(
            ["home_community_id"],
            ["grid.id"],
            name=op.f("fk_person_home_community_id_grid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    op.create_index(
        op.f("ix_person_home_community_id"),
        "person",
        ["home_community_id"],
        unique=False,
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column(
            "start_date",
            sa.Date(),
            server_default=sa.text("CURRENT_DATE"),
            nullable=False,
        ),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "role IN ('chief', 'zone_leader', 'grid_worker', 'building_leader')",
            name=op.f("ck_assignment_role_known"),
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date",
            name=op.f("ck_assignment_dates_ordered"),
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grid.id"], name=op.f("fk_assignment_grid_id_grid")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_assignment_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
    )
    op.create_index(op.f("ix_assignment_grid_id"), "assignment", ["grid_id"], unique=False)
    op.create_index(op.f("ix_assignment_person_id"), "assignment", ["person_id"], unique=False)
    op.create_table(
        "coverage",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_coverage_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_coverage_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "household_id", name=op.f("pk_coverage")),
    )
    op.create_index(op.f("ix_coverage_household_id"), "coverage", ["household_id"], unique=False)
    op.execute(
        "ALTER TABLE grid ADD CONSTRAINT ex_grid_code_period EXCLUDE USING gist "
        "(code WITH =, daterange(valid_from, valid_to) WITH &&)"
    )
    op.execute(
        "CREATE INDEX ix_household_address_trgm ON household USING gin (address gin_trgm_ops)"
    )
    op.execute(LOCATE_SQL)


def downgrade() -> None:
    for trigger in (
        "grid_release_households",
        "grid_relocate_households_ins",
        "grid_relocate_households_upd",
        "grid_relocate_households_del",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON grid")
    op.execute("DROP TRIGGER IF EXISTS household_micro_grid ON household")
    op.execute(
        "DROP FUNCTION IF EXISTS grid_relocate_households, grid_release_households, "
        "household_set_micro_grid, gridmap_micro_grid_at"
    )
    op.drop_index(op.f("ix_coverage_household_id"), table_name="coverage")
    op.drop_table("coverage")
    op.drop_index(op.f("ix_assignment_person_id"), table_name="assignment")
    op.drop_index(op.f("ix_assignment_grid_id"), table_name="assignment")
    op.drop_table("assignment")
    op.drop_index(op.f("ix_person_home_community_id"), table_name="person")
    op.drop_table("person")
    op.drop_index(op.f("ix_household_micro_grid_id"), table_name="household")
    op.drop_geospatial_index(
        "ix_household_geom",
        table_name="household",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("household")
    op.drop_index(op.f("ix_grid_parent_id"), table_name="grid")
    op.drop_geospatial_index(
        "ix_grid_geom", table_name="grid", postgresql_using="gist", column_name="geom"
    )
    op.drop_index("ix_grid_current_level", table_name="grid", postgresql_where="valid_to IS NULL")
    op.drop_index(op.f("ix_grid_code"), table_name="grid")
    op.drop_geospatial_table("grid")
