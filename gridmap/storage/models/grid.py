"""The grid (社区—片区网格—微网格), households, people, posts and coverage."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridmap.storage.models.base import ENVELOPE_SQL, SRID, Base, geometry_checks, in_list

GRID_LEVELS = ("community", "zone", "micro")
GRID_KINDS = ("ordinary", "dedicated")
PERSON_KINDS = (
    "party_member",
    "grid_worker",
    "volunteer",
    "building_leader",
    "in_service_member",
)
ROLES = ("chief", "zone_leader", "grid_worker", "building_leader")
CARE_TAGS = ("elderly_alone", "disabled", "low_income", "left_behind_child", "veteran")


class Grid(Base):
    """网格: a community (社区), zone (片区) or micro-grid (微网格) polygon.

    Codes: a community carries its 12-digit statistical division code; a zone appends a
    2-digit sequence number, a micro-grid 3 more digits. A redraw closes the old row
    (``valid_to``) and inserts a new one, so history stays queryable; a row drawn the same day
    is corrected in place instead, so no row has ``valid_from = valid_to`` (an empty period).
    A retired grid is closed and has no successor (``gridmap.grid.ingest.redraw``).
    """

    __tablename__ = "grid"
    __table_args__ = (
        *geometry_checks(),
        CheckConstraint(in_list("level", GRID_LEVELS), name="level_known"),
        CheckConstraint(in_list("kind", GRID_KINDS), name="kind_known"),
        CheckConstraint(
            "(level = 'community' AND code ~ '^[0-9]{12}$' AND parent_id IS NULL)"
            " OR (level = 'zone' AND code ~ '^[0-9]{14}$' AND parent_id IS NOT NULL)"
            " OR (level = 'micro' AND code ~ '^[0-9]{17}$' AND parent_id IS NOT NULL)",
            name="code_shape",
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        Index("ix_grid_geom", "geom", postgresql_using="gist"),
        Index("ix_grid_current_level", "level", postgresql_where="valid_to IS NULL"),
        Index("ix_grid_code_id", "code", postgresql_include=["id"]),
        # Prefix scope checks (code LIKE '110101%') under the database's C.UTF-8 (0029).
        Index(
            "ix_grid_code_pattern",
            "code",
            postgresql_ops={"code": "text_pattern_ops"},
            postgresql_include=["id"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(17), index=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10), server_default="ordinary")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    valid_from: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    #: Bumped by every change of staffing or coverage in the grid's subtree or chain, so that
    #: two chiefs editing the same area cannot overwrite each other (ETag / If-Match).
    revision: Mapped[int] = mapped_column(Integer, server_default="0")
    #: ``ST_PointOnSurface(geom)``, kept by the database: where the grid's aggregates are drawn.
    label_point: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False),
        Computed("ST_PointOnSurface(geom)", persisted=True),
    )

    parent: Mapped[Grid | None] = relationship(remote_side=[id])


class Household(Base):
    """户: a household at a point, with its micro-grid derived from the point.

    ``micro_grid_id`` is kept by database triggers (see the migration): set from the point on
    insert when not given and on every move, and recomputed when micro-grids change.
    """

    __tablename__ = "household"
    __table_args__ = (
        *geometry_checks(),
        CheckConstraint("residents >= 0 AND residents < 100", name="residents_range"),
        CheckConstraint(
            f"care_tags <@ ARRAY[{', '.join(repr(t) for t in CARE_TAGS)}]::text[]",
            name="care_tags_known",
        ),
        Index("ix_household_geom", "geom", postgresql_using="gist"),
        # Open311's address_string: a household by its address, a building by its number's
        # prefix (gridmap.grid.addresses; the keys are migration 0036's columns).
        Index("ix_household_address_key", "address_key"),
        Index("ix_household_building_key", "building_key"),
        # The unit is one of the household's building (migration 0025).
        ForeignKeyConstraint(
            ["unit_id", "building_id"],
            ["building_unit.id", "building_unit.building_id"],
            ondelete="SET NULL (unit_id)",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    address: Mapped[str] = mapped_column(Text)
    building: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    room: Mapped[str | None] = mapped_column(Text)
    residents: Mapped[int] = mapped_column(Integer, server_default="1")
    care_tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    micro_grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    #: 楼栋 and 单元 as records (``gridmap.party.buildings``), beside the address's text.
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id", ondelete="SET NULL"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: ``gridmap_address_key(address)`` and ``gridmap_building_key(address)``, set by the
    #: database's trigger (or, in a bulk import, by ``gridmap.storage.address_keys``).
    address_key: Mapped[str] = mapped_column(
        Text(collation="C"), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    building_key: Mapped[str | None] = mapped_column(
        Text(collation="C"), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )


class Person(Base):
    """A party member, grid worker, volunteer, building leader or in-service member (在职党员)."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint(in_list("kind", PERSON_KINDS), name="kind_known"),
        CheckConstraint("phone IS NULL OR phone ~ '^[0-9+\\-]{5,20}$'", name="phone_shape"),
        CheckConstraint(
            f"home IS NULL OR ST_CoveredBy(home, {ENVELOPE_SQL})", name="home_in_china"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    #: 身份证号: only a keyed hash (to find duplicates) and the masked form are stored.
    id_number_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(20))
    home_community_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    #: Where the person lives: divisions of households keep members near home.
    home: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )


class Assignment(Base):
    """A person staffing a grid with a role: 总网格长, 网格长, 网格员 or 楼栋长.

    The post runs from ``start_date`` up to, not including, ``end_date``.
    """

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint(in_list("role", ROLES), name="role_known"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class Coverage(Base):
    """党员分片包户: a member looks after a household."""

    __tablename__ = "coverage"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
