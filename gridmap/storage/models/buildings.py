"""Buildings (楼栋) and their units (单元), the posts on them (楼栋长, 单元长) and the member
households that look after their neighbours (党员中心户).

A building stands in a micro-grid, drawn as a footprint polygon or a point. A household links
to its building and unit (``household.building_id``/``unit_id``, kept beside the address's
free text). A post has one current holder (no ``end_date``) and keeps its history. A 党员中心户
is a household with a party member living in it, looking after listed neighbour households of
its building or micro-grid; a neighbour is looked after by one 中心户 at a time.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import SRID, Base, geometry_checks, in_list

#: 楼栋长 (a building's) and 单元长 (a unit's).
BUILDING_POSTS = ("building_head", "unit_head")
#: The kinds of person who may hold a building's post: a party member or a resident volunteer.
POST_HOLDER_KINDS = ("party_member", "in_service_member", "volunteer", "building_leader")
#: The kinds of person whose household may be a 党员中心户.
CENTRAL_MEMBER_KINDS = ("party_member", "in_service_member")
BUILDING_GEOMETRIES = ("ST_Point", "ST_Polygon", "ST_MultiPolygon")


class Building(Base):
    """楼栋: a building in a micro-grid, its footprint (or a point) and its number."""

    __tablename__ = "building"
    __table_args__ = (
        *geometry_checks(),
        CheckConstraint(in_list("ST_GeometryType(geom)", BUILDING_GEOMETRIES), name="geom_kind"),
        CheckConstraint("char_length(number) BETWEEN 1 AND 40", name="number_length"),
        CheckConstraint("name IS NULL OR char_length(name) <= 100", name="name_length"),
        CheckConstraint("floors IS NULL OR floors BETWEEN 1 AND 200", name="floors_range"),
        UniqueConstraint("micro_grid_id", "number"),
        Index("ix_building_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    micro_grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    #: 楼号 as the addresses write it without 号楼/栋/幢: ``12``, ``3A``.
    number: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    floors: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
    #: Where the building is drawn as a point and located: inside its footprint.
    label_point: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False),
        Computed("ST_PointOnSurface(geom)", persisted=True),
    )
    #: Bumped by every change of the building, its units, posts and 中心户 (ETag / If-Match).
    revision: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class BuildingUnit(Base):
    """单元: a stairwell of a building, numbered within it."""

    __tablename__ = "building_unit"
    __table_args__ = (
        CheckConstraint("char_length(number) BETWEEN 1 AND 20", name="number_length"),
        CheckConstraint("floors IS NULL OR floors BETWEEN 1 AND 200", name="floors_range"),
        UniqueConstraint("building_id", "number"),
        # What a household's (unit_id, building_id) refers to: a unit of that very building.
        UniqueConstraint("id", "building_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(Text)
    floors: Mapped[int | None] = mapped_column(Integer)


class BuildingPost(Base):
    """楼栋长 (``unit_id`` null) or 单元长 of a unit, held from ``start_date`` up to, not
    including, ``end_date``; one current holder per post."""

    __tablename__ = "building_post"
    __table_args__ = (
        CheckConstraint(in_list("role", BUILDING_POSTS), name="role_known"),
        CheckConstraint("(role = 'building_head') = (unit_id IS NULL)", name="role_matches_unit"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        ForeignKeyConstraint(
            ["unit_id", "building_id"],
            ["building_unit.id", "building_unit.building_id"],
            ondelete="CASCADE",
        ),
        Index(
            "uq_building_post_current",
            "building_id",
            text("coalesce(unit_id, 0)"),
            unique=True,
            postgresql_where=text("end_date IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class CentralHousehold(Base):
    """党员中心户: a household where a party member lives, looking after its neighbours from
    ``start_date`` up to, not including, ``end_date``; one current designation a household."""

    __tablename__ = "central_household"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        Index(
            "uq_central_household_current",
            "household_id",
            unique=True,
            postgresql_where=text("end_date IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    #: The member of the household who does the looking after.
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, server_default="0")


class CentralNeighbour(Base):
    """A neighbour household a current 党员中心户 looks after (removed when it ends)."""

    __tablename__ = "central_neighbour"
    __table_args__ = (UniqueConstraint("household_id"),)

    central_id: Mapped[int] = mapped_column(
        ForeignKey("central_household.id", ondelete="CASCADE"), primary_key=True
    )
    household_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("household.id", ondelete="CASCADE"), primary_key=True
    )
