"""Grid revisions (ETag / If-Match for staffing and coverage edits) and where people live.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:12:50.582668
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("grid", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.add_geospatial_column(
        "person",
        sa.Column(
            "home",
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
    )
    op.create_check_constraint(
        "ck_person_home_in_china",
        "person",
        "home IS NULL OR ST_CoveredBy(home, ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490))",
    )


def downgrade() -> None:
    op.drop_constraint("ck_person_home_in_china", "person", type_="check")
    op.drop_geospatial_column("person", "home")
    op.drop_column("grid", "revision")
