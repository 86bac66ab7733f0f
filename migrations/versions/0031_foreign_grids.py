"""一张网: other departments' grid layers (外部门网格), kept apart from ours, and their overlay.

``foreign_layer`` and ``foreign_cell`` hold a department's grid as imported (its validity
report with the layer); ``onenet_piece`` what each cell cuts of our zones or micro-grids,
``onenet_summary`` each community's distance from 一张网. The overlay is rewritten whole by
``gridmap.onenet.overlay``, so the application's role may delete its rows.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

_ENVELOPE = "ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490)"

GRANTS_SQL = """
GRANT SELECT, INSERT, UPDATE, DELETE
  ON foreign_layer, foreign_cell, onenet_piece, onenet_summary TO gridmap_app;
GRANT USAGE ON SEQUENCE foreign_layer_id_seq, foreign_cell_id_seq TO gridmap_app;
"""


def upgrade() -> None:
    op.create_table(
        "foreign_layer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=30), nullable=False),
        sa.Column("compare_level", sa.String(length=10), server_default="micro", nullable=False),
        sa.Column("scope_code", sa.String(length=17), nullable=True),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("crs", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.Integer(), nullable=True),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "report", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("fingerprint", sa.Text(), nullable=True),
        sa.Column("overlay_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tolerance_m", sa.Float(), nullable=True),
        sa.Column("min_share", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 100", name=op.f("ck_foreign_layer_name_length")
        ),
        sa.CheckConstraint(
            "department ~ '^[a-z_]{2,30}$'", name=op.f("ck_foreign_layer_department_shape")
        ),
        sa.CheckConstraint(
            "compare_level IN ('zone', 'micro')",
            name=op.f("ck_foreign_layer_compare_level_known"),
        ),
        sa.CheckConstraint(
            "scope_code IS NULL OR scope_code ~ '^[0-9]{6,17}$'",
            name=op.f("ck_foreign_layer_scope_shape"),
        ),
        sa.ForeignKeyConstraint(
            ["imported_by"], ["app_user.id"], name=op.f("fk_foreign_layer_imported_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_foreign_layer")),
    )
    op.create_geospatial_table(
        "foreign_cell",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4490,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=True),
        sa.Column("best_grid_id", sa.Integer(), nullable=True),
        sa.Column("hausdorff_m", sa.Float(), nullable=True),
        sa.Column("symdiff_m2", sa.Float(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_foreign_cell_geom_valid")),
        sa.CheckConstraint("NOT ST_IsEmpty(geom)", name=op.f("ck_foreign_cell_geom_not_empty")),
        sa.CheckConstraint(
            f"ST_CoveredBy(geom, {_ENVELOPE})", name=op.f("ck_foreign_cell_geom_in_china")
        ),
        sa.CheckConstraint(
            "char_length(code) BETWEEN 1 AND 60", name=op.f("ck_foreign_cell_code_length")
        ),
        sa.CheckConstraint(
            "status IS NULL OR status IN ('aligned', 'merges', 'splits', 'outside')",
            name=op.f("ck_foreign_cell_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["best_grid_id"], ["grid.id"], name=op.f("fk_foreign_cell_best_grid_id_grid")
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["foreign_layer.id"],
            name=op.f("fk_foreign_cell_layer_id_foreign_layer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_foreign_cell")),
        sa.UniqueConstraint("layer_id", "code", name=op.f("uq_foreign_cell_layer_id_code")),
    )
    op.create_geospatial_index(
        "ix_foreign_cell_geom",
        "foreign_cell",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_foreign_cell_layer_id"), "foreign_cell", ["layer_id"], unique=False)
    op.create_table(
        "onenet_piece",
        sa.Column("cell_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("share_of_cell", sa.Float(), nullable=False),
        sa.Column("share_of_grid", sa.Float(), nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "share_of_cell BETWEEN 0 AND 1.000001",
            name=op.f("ck_onenet_piece_share_of_cell_range"),
        ),
        sa.CheckConstraint(
            "share_of_grid BETWEEN 0 AND 1.000001",
            name=op.f("ck_onenet_piece_share_of_grid_range"),
        ),
        sa.ForeignKeyConstraint(
            ["cell_id"],
            ["foreign_cell.id"],
            name=op.f("fk_onenet_piece_cell_id_foreign_cell"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_onenet_piece_grid_id_grid"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("cell_id", "grid_id", name=op.f("pk_onenet_piece")),
    )
    op.create_index(op.f("ix_onenet_piece_grid_id"), "onenet_piece", ["grid_id"], unique=False)
    op.create_index(op.f("ix_onenet_piece_layer_id"), "onenet_piece", ["layer_id"], unique=False)
    op.create_table(
        "onenet_summary",
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("aligned_units", sa.Integer(), nullable=False),
        sa.Column("split_units", sa.Integer(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("aligned_area_m2", sa.Float(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("aligned_households", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["grid.id"],
            name=op.f("fk_onenet_summary_community_id_grid"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["foreign_layer.id"],
            name=op.f("fk_onenet_summary_layer_id_foreign_layer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("layer_id", "community_id", name=op.f("pk_onenet_summary")),
    )
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    op.drop_table("onenet_summary")
    op.drop_index(op.f("ix_onenet_piece_layer_id"), table_name="onenet_piece")
    op.drop_index(op.f("ix_onenet_piece_grid_id"), table_name="onenet_piece")
    op.drop_table("onenet_piece")
    op.drop_index(op.f("ix_foreign_cell_layer_id"), table_name="foreign_cell")
    op.drop_geospatial_index(
        "ix_foreign_cell_geom",
        table_name="foreign_cell",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("foreign_cell")
    op.drop_table("foreign_layer")
