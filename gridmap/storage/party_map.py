"""Queries of the chief's party map (党建地图): 党员中心户 with the neighbours they look after,
the homes of the members registered with a community (双报到) and their service posts, and
the micro-grids' coverage (党员分片包户). Buildings and their posts come from
``storage.buildings``.

Everything is limited to what ``scope`` sees: households and micro-grids in its subtree, and
members' homes that lie in one of its micro-grids.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2.functions import ST_AsGeoJSON
from sqlalchemy import Row, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    CentralHousehold,
    CentralNeighbour,
    Grid,
    Household,
    MemberPost,
    MemberRegistration,
    PartyUnit,
    Person,
)
from gridmap.storage.scoping import grid_visible, household_visible, person_visible


def centrals(session: Session, scope: Scope) -> list[Row[Any]]:
    """The current 党员中心户 of visible households: id, household, the member (id, name,
    phone) and the household's point."""
    stmt = (
        select(
            CentralHousehold.id,
            CentralHousehold.household_id,
            Person.id.label("person_id"),
            Person.name,
            Person.phone,
            ST_AsGeoJSON(Household.geom, 7, 0).label("geojson"),
        )
        .join(Household, Household.id == CentralHousehold.household_id)
        .join(Person, Person.id == CentralHousehold.person_id)
        .where(CentralHousehold.end_date.is_(None), household_visible(scope))
        .order_by(CentralHousehold.id)
    )
    return list(session.execute(stmt))


def neighbour_points(session: Session, central_ids: list[int], scope: Scope) -> list[Row[Any]]:
    """The visible neighbour households of ``central_ids``: central, household, [lon, lat]."""
    stmt = (
        select(
            CentralNeighbour.central_id,
            Household.id,
            func.ST_X(Household.geom).label("lon"),
            func.ST_Y(Household.geom).label("lat"),
        )
        .join(Household, Household.id == CentralNeighbour.household_id)
        .where(CentralNeighbour.central_id.in_(central_ids), household_visible(scope))
        .order_by(CentralNeighbour.central_id, Household.id)
    )
    return list(session.execute(stmt))


def _home_visible(scope: Scope) -> Any:
    """A registration's home lies in a current micro-grid the scope sees."""
    micro = aliased(Grid)
    return exists().where(
        micro.level == "micro",
        micro.valid_to.is_(None),
        grid_visible(scope, micro),
        func.ST_Intersects(micro.geom, MemberRegistration.home),
    )


def member_homes(session: Session, scope: Scope, on: dt.date) -> list[Row[Any]]:
    """Members registered on ``on`` whose home the scope sees: person (id, name, phone), the
    community (code, name), the unit's name, their service posts and the home's point."""
    posts = (
        select(func.array_agg(func.distinct(MemberPost.kind)))
        .where(MemberPost.person_id == MemberRegistration.person_id)
        .correlate(MemberRegistration)
        .scalar_subquery()
    )
    stmt = (
        select(
            Person.id,
            Person.name,
            Person.phone,
            Grid.code.label("community_code"),
            Grid.name.label("community_name"),
            PartyUnit.name.label("unit_name"),
            posts.label("posts"),
            ST_AsGeoJSON(MemberRegistration.home, 7, 0).label("geojson"),
        )
        .join(Person, Person.id == MemberRegistration.person_id)
        .join(Grid, Grid.id == MemberRegistration.community_id)
        .outerjoin(PartyUnit, PartyUnit.id == MemberRegistration.unit_id)
        .where(MemberRegistration.home.is_not(None))
        .where(
            MemberRegistration.valid_from <= on,
            or_(MemberRegistration.valid_to.is_(None), MemberRegistration.valid_to > on),
        )
        .where(_home_visible(scope))
        .order_by(Person.id)
    )
    return list(session.execute(stmt))


def micro_grids(session: Session, scope: Scope) -> list[Row[Any]]:
    """The current micro-grids the scope sees: code, name and outline as GeoJSON."""
    stmt = (
        select(Grid.code, Grid.name, ST_AsGeoJSON(Grid.geom, 6, 0).label("geojson"))
        .where(Grid.level == "micro", Grid.valid_to.is_(None), grid_visible(scope))
        .order_by(Grid.code)
    )
    return list(session.execute(stmt))


def revealable(session: Session, person_ids: list[int], scope: Scope) -> set[int]:
    """Of ``person_ids``, those whose name and phone the scope may reveal today (the rule of
    ``/api/v1/reveal``: people staffing, covering or holding a post in it)."""
    if not person_ids:
        return set()
    stmt = select(Person.id).where(Person.id.in_(person_ids), person_visible(scope, Person.id))
    return set(session.scalars(stmt))
