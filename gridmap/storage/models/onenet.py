"""一张网 (多网合一): other departments' grid layers, kept apart from ours, and their overlay
with our zones or micro-grids.

A foreign layer (``foreign_layer``) is one department's grid as imported: its cells
(``foreign_cell``) never mix with ``grid``. The overlay (``gridmap.onenet.overlay``) writes
what each cell cuts of our units (``onenet_piece``), each cell's verdict (the overlay columns
of ``foreign_cell``) and a summary per community (``onenet_summary``); ``fingerprint`` says
which state of both layers the stored overlay was computed from, so a change of either shows
it stale until it is computed again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import SRID, Base, geometry_checks, in_list

#: The level of our grid a foreign layer is compared with.
COMPARE_LEVELS = ("zone", "micro")
#: A foreign cell's verdict: the same as one of our units (within the tolerance), the union
#: of whole units of ours, cutting through at least one of our units, or on none of ours.
CELL_STATUSES = ("aligned", "merges", "splits", "outside")


class ForeignLayer(Base):
    """外部门网格图层: one department's grid layer, as imported, with its validity report."""

    __tablename__ = "foreign_layer"
    __table_args__ = (
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint("department ~ '^[a-z_]{2,30}$'", name="department_shape"),
        CheckConstraint(in_list("compare_level", COMPARE_LEVELS), name="compare_level_known"),
        CheckConstraint("scope_code IS NULL OR scope_code ~ '^[0-9]{6,17}$'", name="scope_shape"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(String(30))
    compare_level: Mapped[str] = mapped_column(String(10), server_default="micro")
    #: The importer's grid-code prefix: who may see the layer as a whole (None: anyone).
    scope_code: Mapped[str | None] = mapped_column(String(17))
    filename: Mapped[str] = mapped_column(Text)
    crs: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    #: The validity report (overlaps and gaps of the department's own cells), GeoJSON.
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    #: Both layers' state the stored overlay was computed from; None: never computed.
    fingerprint: Mapped[str | None] = mapped_column(Text)
    overlay_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The rule the overlay used: tolerance (m) and the smallest share that counts.
    tolerance_m: Mapped[float | None] = mapped_column(Float)
    min_share: Mapped[float | None] = mapped_column(Float)


class ForeignCell(Base):
    """外部门网格: a cell of a foreign layer, and its verdict from the last overlay."""

    __tablename__ = "foreign_cell"
    __table_args__ = (
        *geometry_checks(),
        UniqueConstraint("layer_id", "code"),
        CheckConstraint("char_length(code) BETWEEN 1 AND 60", name="code_length"),
        CheckConstraint(
            "status IS NULL OR " + in_list("status", CELL_STATUSES), name="status_known"
        ),
        Index("ix_foreign_cell_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer_id: Mapped[int] = mapped_column(
        ForeignKey("foreign_layer.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    area_m2: Mapped[float] = mapped_column(Float)
    status: Mapped[str | None] = mapped_column(String(10))
    #: The unit of ours the cell overlaps most, and how far their outlines are apart.
    best_grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    hausdorff_m: Mapped[float | None] = mapped_column(Float)
    symdiff_m2: Mapped[float | None] = mapped_column(Float)
    households: Mapped[int | None] = mapped_column(Integer)


class OnenetPiece(Base):
    """What a foreign cell cuts of one of our units: the area, its share of each, the
    households inside both."""

    __tablename__ = "onenet_piece"
    __table_args__ = (
        CheckConstraint("share_of_cell BETWEEN 0 AND 1.000001", name="share_of_cell_range"),
        CheckConstraint("share_of_grid BETWEEN 0 AND 1.000001", name="share_of_grid_range"),
    )

    cell_id: Mapped[int] = mapped_column(
        ForeignKey("foreign_cell.id", ondelete="CASCADE"), primary_key=True
    )
    grid_id: Mapped[int] = mapped_column(
        ForeignKey("grid.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: The cell's layer, repeated for the overlay's queries (the cell's key deletes the
    #: piece with its layer: a third key would only cost the overlay's inserts).
    layer_id: Mapped[int] = mapped_column(Integer, index=True)
    area_m2: Mapped[float] = mapped_column(Float)
    share_of_cell: Mapped[float] = mapped_column(Float)
    share_of_grid: Mapped[float] = mapped_column(Float)
    households: Mapped[int] = mapped_column(Integer, server_default="0")


class OnenetSummary(Base):
    """How far a community is from 一张网 with one foreign layer: the area and households of
    the community in aligned cells."""

    __tablename__ = "onenet_summary"

    layer_id: Mapped[int] = mapped_column(
        ForeignKey("foreign_layer.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(
        ForeignKey("grid.id", ondelete="CASCADE"), primary_key=True
    )
    units: Mapped[int] = mapped_column(Integer)
    aligned_units: Mapped[int] = mapped_column(Integer)
    split_units: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[float] = mapped_column(Float)
    aligned_area_m2: Mapped[float] = mapped_column(Float)
    households: Mapped[int] = mapped_column(Integer)
    aligned_households: Mapped[int] = mapped_column(Integer)
