"""The service map (15分钟便民服务圈): service sites, the walking network and what the walking
circles computed on it (cached, rebuilt by ``gridmap.services.circles.refresh``)."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import SRID, Base, geometry_checks, in_list

#: The kinds of service site; their Chinese names are ``glossary.SITE_KINDS``.
SITE_KINDS = (
    "centre_street",
    "centre_community",
    "station",
    "canteen",
    "clinic",
    "day_care",
    "convenience",
)
#: Where a street of the walking network came from.
EDGE_ORIGINS = ("osm", "file", "synthetic")


class ServiceSite(Base):
    """服务点位: a 党群服务中心 (street or community level), 党群服务站, 助餐点, clinic, day-care
    centre or 便民 shop, with its opening hours and the services offered there."""

    __tablename__ = "service_site"
    __table_args__ = (
        *geometry_checks(),
        CheckConstraint("code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$'", name="code_shape"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint(in_list("kind", SITE_KINDS), name="kind_known"),
        CheckConstraint(
            "opening_hours IS NULL OR char_length(opening_hours) <= 200", name="hours_length"
        ),
        CheckConstraint("cardinality(services) <= 30", name="services_count"),
        Index("ix_service_site_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(Text)
    #: As the site writes it, e.g. "周一至周五 8:30-17:30".
    opening_hours: Mapped[str | None] = mapped_column(Text)
    services: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class WalkNode(Base):
    """A node of the walking network: a street's end or a crossing shared by two streets.
    ``component`` is its connected piece (``pgr_connectedComponents``)."""

    __tablename__ = "walk_node"
    __table_args__ = (Index("ix_walk_node_geom", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    component: Mapped[int | None] = mapped_column(BigInteger)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))


class WalkEdge(Base):
    """A walkable street piece between two nodes, both ways, with its length in metres."""

    __tablename__ = "walk_edge"
    __table_args__ = (
        *geometry_checks(),
        CheckConstraint(in_list("origin", EDGE_ORIGINS), name="origin_known"),
        CheckConstraint("length_m >= 0", name="length_positive"),
        Index("ix_walk_edge_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[int] = mapped_column(ForeignKey("walk_node.id"), index=True)
    target: Mapped[int] = mapped_column(ForeignKey("walk_node.id"), index=True)
    length_m: Mapped[float] = mapped_column(Double)
    name: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(10))
    geom: Mapped[WKBElement] = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=False))


class ServiceIsochrone(Base):
    """A site's walking circle: the area reached within ``minutes`` on the network."""

    __tablename__ = "service_isochrone"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("service_site.id", ondelete="CASCADE"), primary_key=True
    )
    minutes: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )


class ServiceReach(Base):
    """How far a household walks to its nearest site (metres on the network plus the way to
    and from the street); ``None`` when no site is reachable."""

    __tablename__ = "service_reach"

    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True
    )
    walk_m: Mapped[float | None] = mapped_column(Double)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("service_site.id", ondelete="SET NULL"))


class ServiceCandidate(Base):
    """候选点位: the greedy maximal-coverage proposal, best first: where one more site would
    bring the most uncovered households within the last walking band."""

    __tablename__ = "service_candidate"

    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    node_id: Mapped[int] = mapped_column(BigInteger)
    households: Mapped[int] = mapped_column(Integer)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))


class ServiceMapState(Base):
    """The one row saying when the cached results were computed and how the network looked."""

    __tablename__ = "service_map_state"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: Set by every change of sites or network; cleared by a refresh.
    stale: Mapped[bool] = mapped_column(server_default="true")
    speed_mps: Mapped[float | None] = mapped_column(Double)
    nodes: Mapped[int] = mapped_column(Integer, server_default="0")
    edges: Mapped[int] = mapped_column(Integer, server_default="0")
    components: Mapped[int] = mapped_column(Integer, server_default="0")
    #: Nodes outside the largest connected piece: streets nobody can walk to from the rest.
    detached_nodes: Mapped[int] = mapped_column(Integer, server_default="0")
