"""Queries of the three lists and 微心愿: needs, resources, service projects (matches), wishes,
their photos, the published rows (no household, no exact point) and the counts per claimant.

Points are published rounded to a grid of ``ROUND_DEGREES`` (about 200 m), so that no door can
be read from them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from gridmap.storage.models import (
    SRID,
    Grid,
    Household,
    HouseholdVisit,
    MemberRegistration,
    PartyMatch,
    PartyNeed,
    PartyPhoto,
    PartyResource,
    PartyUnit,
    Person,
    ResidentRequest,
    SmallWish,
)
from gridmap.storage.party import community_managed

#: Published points snap to this grid (degrees): about 200 m, never a door.
ROUND_DEGREES = 0.002


def _rounded(column: Any, axis: Any) -> Any:
    return func.round(axis(column) / ROUND_DEGREES) * ROUND_DEGREES


def community_of_code(session: Session, code: str, scope_where: ColumnElement[bool]) -> Any:
    stmt = select(Grid.id, Grid.code, Grid.name).where(
        Grid.code == code, Grid.level == "community", Grid.valid_to.is_(None), scope_where
    )
    return session.execute(stmt).first()


def community_holding(session: Session, lon: float, lat: float) -> int | None:
    point = func.ST_Point(lon, lat, SRID)
    stmt = (
        select(Grid.id)
        .where(Grid.level == "community", Grid.valid_to.is_(None))
        .where(func.ST_Intersects(Grid.geom, point))
        .order_by(Grid.id)
        .limit(1)
    )
    return session.scalar(stmt)


def household_point(session: Session, household_id: int) -> tuple[float, float] | None:
    stmt = select(func.ST_X(Household.geom), func.ST_Y(Household.geom)).where(
        Household.id == household_id
    )
    found = session.execute(stmt).first()
    return None if found is None else (float(found[0]), float(found[1]))


def community_middle(session: Session, community_id: int) -> tuple[float, float]:
    middle = func.ST_PointOnSurface(Grid.geom)
    stmt = select(func.ST_X(middle), func.ST_Y(middle)).where(Grid.id == community_id)
    found = session.execute(stmt).one()
    return float(found[0]), float(found[1])


def unit_community(session: Session, unit_id: int) -> int | None:
    return session.scalar(select(PartyUnit.community_id).where(PartyUnit.id == unit_id))


def member_community(session: Session, person_id: int, on: Any) -> Any:
    """The member's community today and their registered home (lon, lat or None)."""
    stmt = select(
        MemberRegistration.community_id,
        func.ST_X(MemberRegistration.home).label("lon"),
        func.ST_Y(MemberRegistration.home).label("lat"),
    ).where(
        MemberRegistration.person_id == person_id,
        MemberRegistration.valid_from <= on,
        or_(MemberRegistration.valid_to.is_(None), MemberRegistration.valid_to > on),
    )
    return session.execute(stmt).first()


def visit_row(session: Session, visit_id: int) -> HouseholdVisit | None:
    return session.get(HouseholdVisit, visit_id)


def request_place(session: Session, request_id: int) -> Any:
    stmt = select(
        ResidentRequest.household_id,
        func.ST_X(ResidentRequest.geom).label("lon"),
        func.ST_Y(ResidentRequest.geom).label("lat"),
    ).where(ResidentRequest.id == request_id)
    return session.execute(stmt).first()


def need_for(
    session: Session, *, visit_id: int | None = None, request_id: int | None = None
) -> Any:
    column = PartyNeed.visit_id if visit_id is not None else PartyNeed.request_id
    return session.scalar(select(PartyNeed.id).where(column == (visit_id or request_id)))


# ---------------------------------------------------------------------------------- needs


def add(session: Session, row: Any) -> int:
    session.add(row)
    session.flush()
    return int(row.id)


def point(lon: float, lat: float) -> Any:
    return func.ST_Point(lon, lat, SRID)


def _need_rows() -> Any:
    claimant = _claimant_name(PartyMatch)
    return (
        select(
            PartyNeed.id,
            PartyNeed.kind,
            PartyNeed.title,
            PartyNeed.detail,
            PartyNeed.source,
            PartyNeed.state,
            PartyNeed.created_at,
            PartyNeed.revision,
            _rounded(PartyNeed.place, func.ST_X).label("lon"),
            _rounded(PartyNeed.place, func.ST_Y).label("lat"),
            Grid.code.label("community_code"),
            Grid.name.label("community_name"),
            PartyMatch.id.label("match_id"),
            PartyMatch.state.label("match_state"),
            claimant.label("claimant"),
        )
        .join(Grid, Grid.id == PartyNeed.community_id)
        .outerjoin(
            PartyMatch, and_(PartyMatch.need_id == PartyNeed.id, PartyMatch.state != "declined")
        )
        .outerjoin(PartyUnit, PartyUnit.id == PartyMatch.unit_id)
        .outerjoin(Person, Person.id == PartyMatch.person_id)
    )


def _claimant_name(table: Any) -> Any:
    """A unit by its name, a member as 党员 (their name is theirs: the staff pages read
    members through their own endpoints)."""
    return case(
        (table.unit_id.is_not(None), PartyUnit.name),
        (table.person_id.is_not(None), literal("在职党员")),
        else_=None,
    )


def needs(
    session: Session, where: ColumnElement[bool], states: tuple[str, ...], limit: int
) -> list[Row[Any]]:
    stmt = _need_rows().where(where).order_by(PartyNeed.created_at.desc(), PartyNeed.id.desc())
    if states:
        stmt = stmt.where(PartyNeed.state.in_(states))
    return list(session.execute(stmt.limit(limit)))


def need(session: Session, need_id: int, where: ColumnElement[bool]) -> Row[Any] | None:
    return session.execute(_need_rows().where(PartyNeed.id == need_id, where)).first()


def lock_need(session: Session, need_id: int) -> PartyNeed | None:
    return session.scalar(select(PartyNeed).where(PartyNeed.id == need_id).with_for_update())


def set_need_state(session: Session, need_id: int, state: str) -> None:
    session.execute(
        update(PartyNeed)
        .where(PartyNeed.id == need_id)
        .values(state=state, revision=PartyNeed.revision + 1)
    )


def need_managed(scope: Any) -> ColumnElement[bool]:
    return community_managed(scope)


# ------------------------------------------------------------------------------ resources


def resources(
    session: Session, where: ColumnElement[bool], limit: int, resource_id: int | None = None
) -> list[Row[Any]]:
    stmt = (
        select(
            PartyResource.id,
            PartyResource.kind,
            PartyResource.title,
            PartyResource.detail,
            PartyResource.available,
            PartyResource.created_at,
            PartyResource.unit_id,
            PartyResource.person_id,
            _rounded(PartyResource.place, func.ST_X).label("lon"),
            _rounded(PartyResource.place, func.ST_Y).label("lat"),
            _claimant_name(PartyResource).label("provider"),
            Grid.code.label("community_code"),
            Grid.name.label("community_name"),
        )
        .join(Grid, Grid.id == PartyResource.community_id)
        .outerjoin(PartyUnit, PartyUnit.id == PartyResource.unit_id)
        .where(where)
        .order_by(PartyResource.created_at.desc(), PartyResource.id.desc())
        .limit(limit)
    )
    if resource_id is not None:
        stmt = stmt.where(PartyResource.id == resource_id)
    return list(session.execute(stmt))


def resource(session: Session, resource_id: int) -> PartyResource | None:
    return session.get(PartyResource, resource_id)


# -------------------------------------------------------------------------------- matches


def live_match(session: Session, need_id: int) -> PartyMatch | None:
    return session.scalar(
        select(PartyMatch).where(PartyMatch.need_id == need_id, PartyMatch.state != "declined")
    )


def lock_match(session: Session, match_id: int) -> PartyMatch | None:
    return session.scalar(select(PartyMatch).where(PartyMatch.id == match_id).with_for_update())


def matches(
    session: Session, where: ColumnElement[bool], limit: int, match_id: int | None = None
) -> list[Row[Any]]:
    photos = (
        select(func.coalesce(func.array_agg(PartyPhoto.file_id), literal([])))
        .where(PartyPhoto.match_id == PartyMatch.id)
        .scalar_subquery()
    )
    stmt = (
        select(
            PartyMatch.id,
            PartyMatch.state,
            PartyMatch.proposed_by,
            PartyMatch.proposed_at,
            PartyMatch.confirmed_at,
            PartyMatch.completed_at,
            PartyMatch.result,
            PartyMatch.revision,
            PartyMatch.resource_id,
            PartyMatch.unit_id,
            PartyMatch.person_id,
            _claimant_name(PartyMatch).label("provider"),
            PartyNeed.id.label("need_id"),
            PartyNeed.title.label("need_title"),
            PartyNeed.kind.label("need_kind"),
            PartyResource.title.label("resource_title"),
            Grid.code.label("community_code"),
            Grid.name.label("community_name"),
            photos.label("photos"),
        )
        .join(PartyNeed, PartyNeed.id == PartyMatch.need_id)
        .join(Grid, Grid.id == PartyNeed.community_id)
        .outerjoin(PartyUnit, PartyUnit.id == PartyMatch.unit_id)
        .outerjoin(PartyResource, PartyResource.id == PartyMatch.resource_id)
        .where(where)
        .order_by(PartyMatch.proposed_at.desc(), PartyMatch.id.desc())
        .limit(limit)
    )
    if match_id is not None:
        stmt = stmt.where(PartyMatch.id == match_id)
    return list(session.execute(stmt))


def add_photos(session: Session, file_ids: list[str], **owner: int) -> None:
    session.add_all(PartyPhoto(file_id=f, **owner) for f in file_ids)
    session.flush()


def photos_taken(session: Session, file_ids: list[str]) -> list[str]:
    stmt = select(PartyPhoto.file_id).where(PartyPhoto.file_id.in_(file_ids))
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------------- wishes


def _wish_rows() -> Any:
    photos = (
        select(func.coalesce(func.array_agg(PartyPhoto.file_id), literal([])))
        .where(PartyPhoto.wish_id == SmallWish.id)
        .scalar_subquery()
    )
    return (
        select(
            SmallWish.id,
            SmallWish.title,
            SmallWish.detail,
            SmallWish.state,
            SmallWish.created_at,
            SmallWish.claimed_at,
            SmallWish.fulfilled_at,
            SmallWish.fulfilment,
            SmallWish.confirmed_at,
            SmallWish.confirmed_how,
            SmallWish.revision,
            SmallWish.unit_id,
            SmallWish.person_id,
            _rounded(SmallWish.place, func.ST_X).label("lon"),
            _rounded(SmallWish.place, func.ST_Y).label("lat"),
            _claimant_name(SmallWish).label("claimant"),
            Grid.code.label("community_code"),
            Grid.name.label("community_name"),
            photos.label("photos"),
        )
        .join(Grid, Grid.id == SmallWish.community_id)
        .outerjoin(PartyUnit, PartyUnit.id == SmallWish.unit_id)
    )


def wishes(
    session: Session, where: ColumnElement[bool], states: tuple[str, ...], limit: int
) -> list[Row[Any]]:
    stmt = _wish_rows().where(where).order_by(SmallWish.created_at.desc(), SmallWish.id.desc())
    if states:
        stmt = stmt.where(SmallWish.state.in_(states))
    return list(session.execute(stmt.limit(limit)))


def wish(session: Session, wish_id: int, where: ColumnElement[bool]) -> Row[Any] | None:
    return session.execute(_wish_rows().where(SmallWish.id == wish_id, where)).first()


def lock_wish(session: Session, wish_id: int) -> SmallWish | None:
    return session.scalar(select(SmallWish).where(SmallWish.id == wish_id).with_for_update())


def update_wish(session: Session, wish_id: int, values: dict[str, Any]) -> None:
    session.execute(
        update(SmallWish)
        .where(SmallWish.id == wish_id)
        .values(**values, revision=SmallWish.revision + 1)
    )


def update_match(session: Session, match_id: int, values: dict[str, Any]) -> None:
    session.execute(
        update(PartyMatch)
        .where(PartyMatch.id == match_id)
        .values(**values, revision=PartyMatch.revision + 1)
    )


def claimed_by(
    session: Session, person_id: int | None, unit_id: int | None, limit: int
) -> tuple[list[Row[Any]], list[Row[Any]]]:
    """The wishes and service projects a member or unit claimed, newest first."""
    if person_id is not None:
        of_wish, of_match = SmallWish.person_id == person_id, PartyMatch.person_id == person_id
    else:
        of_wish, of_match = SmallWish.unit_id == unit_id, PartyMatch.unit_id == unit_id
    wishes = _wish_rows().where(of_wish).order_by(SmallWish.claimed_at.desc(), SmallWish.id)
    projects = matches(session, of_match, limit)
    return list(session.execute(wishes.limit(limit))), projects


# ---------------------------------------------------------------------------- near me, map


def distance_to(column: Any, lon: float, lat: float) -> Any:
    here = func.ST_Point(lon, lat, SRID)
    return func.ST_DistanceSphere(column, here)


def claimable(
    session: Session, community_id: int, here: tuple[float, float] | None, limit: int
) -> tuple[list[Row[Any]], list[Row[Any]]]:
    """Open needs and open wishes of a community, nearest ``here`` first (newest first
    without a point), with their distance in metres (to the exact point, rounded to 100 m)."""

    def near(stmt: Any, table: Any) -> Any:
        if here is None:
            return stmt.add_columns(literal(None).label("distance_m")).order_by(
                table.created_at.desc()
            )
        distance = func.round(distance_to(table.place, *here) / 100) * 100
        return stmt.add_columns(distance.label("distance_m")).order_by(distance, table.id)

    open_needs = near(
        _need_rows().where(PartyNeed.community_id == community_id, PartyNeed.state == "open"),
        PartyNeed,
    )
    open_wishes = near(
        _wish_rows().where(SmallWish.community_id == community_id, SmallWish.state == "open"),
        SmallWish,
    )
    return (
        list(session.execute(open_needs.limit(limit))),
        list(session.execute(open_wishes.limit(limit))),
    )


def map_layer(session: Session, where: ColumnElement[bool], limit: int) -> list[Row[Any]]:
    """Open needs and available resources with a place, as (kind of row, id, kind, title,
    rounded lon, lat), and for each need the nearest available resource of its community
    within 1 km."""
    nearest = (
        select(PartyResource.id)
        .where(
            PartyResource.community_id == PartyNeed.community_id,
            PartyResource.available,
            PartyResource.place.is_not(None),
            func.ST_DWithin(
                func.geography(PartyResource.place), func.geography(PartyNeed.place), 1000
            ),
        )
        .order_by(func.ST_Distance(PartyResource.place, PartyNeed.place))
        .limit(1)
        .correlate(PartyNeed)
        .scalar_subquery()
    )
    need_rows = (
        select(
            literal("need").label("layer"),
            PartyNeed.id,
            PartyNeed.kind,
            PartyNeed.title,
            _rounded(PartyNeed.place, func.ST_X).label("lon"),
            _rounded(PartyNeed.place, func.ST_Y).label("lat"),
            nearest.label("near_resource_id"),
            Grid.code.label("community_code"),
        )
        .join(Grid, Grid.id == PartyNeed.community_id)
        .where(where, PartyNeed.state == "open")
        .limit(limit)
    )
    resource_rows = (
        select(
            literal("resource").label("layer"),
            PartyResource.id,
            PartyResource.kind,
            PartyResource.title,
            _rounded(PartyResource.place, func.ST_X).label("lon"),
            _rounded(PartyResource.place, func.ST_Y).label("lat"),
            literal(None).label("near_resource_id"),
            Grid.code.label("community_code"),
        )
        .join(Grid, Grid.id == PartyResource.community_id)
        .where(where, PartyResource.available, PartyResource.place.is_not(None))
        .limit(limit)
    )
    return list(session.execute(need_rows)) + list(session.execute(resource_rows))


# --------------------------------------------------------------------------------- counts


def wish_counts(session: Session, where: ColumnElement[bool]) -> tuple[list[Any], list[Any]]:
    """Wishes claimed, fulfilled (fulfilled or confirmed) and confirmed, per member and per
    unit and community, of the communities ``where`` selects."""
    done = SmallWish.state.in_(("fulfilled", "confirmed"))
    confirmed = SmallWish.state == "confirmed"
    counts = (
        func.count().filter(done).label("fulfilled"),
        func.count().filter(confirmed).label("confirmed"),
        func.count().label("claimed"),
    )
    base = select().select_from(SmallWish).join(Grid, Grid.id == SmallWish.community_id)
    members = (
        base.add_columns(SmallWish.person_id, Person.name, Grid.code, *counts)
        .join(Person, Person.id == SmallWish.person_id)
        .where(where)
        .group_by(SmallWish.person_id, Person.name, Grid.code)
        .order_by(SmallWish.person_id, Grid.code)
    )
    units = (
        base.add_columns(SmallWish.unit_id, PartyUnit.name, Grid.code, *counts)
        .join(PartyUnit, PartyUnit.id == SmallWish.unit_id)
        .where(where)
        .group_by(SmallWish.unit_id, PartyUnit.name, Grid.code)
        .order_by(SmallWish.unit_id, Grid.code)
    )
    return list(session.execute(members)), list(session.execute(units))
