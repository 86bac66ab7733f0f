"""Queries of 双报到: units, members' registrations and posts, activities, sign-ups and the
quarter's services per member and community.

A staff caller manages a community when it lies in their subtree (a street's or a community's
prefix) or holds it (a zone's or a micro-grid's prefix starts with the community's code).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    delete,
    false,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    SRID,
    ActivitySignup,
    Grid,
    MemberPost,
    MemberRegistration,
    PartyActivity,
    PartyUnit,
    Person,
    ServicePostKind,
)


def community_managed(scope: Scope, community: Any = Grid) -> ColumnElement[bool]:
    """Communities the scope's grid prefixes lie in or hold (deny by default)."""
    conditions = [
        or_(community.code.startswith(p), literal(p).startswith(community.code))
        for p in scope.prefixes
    ]
    return or_(*conditions) if conditions else false()


# ---------------------------------------------------------------------------- posts, units


def post_kinds(session: Session) -> list[tuple[str, str]]:
    """The active kinds of service post, in their order."""
    stmt = (
        select(ServicePostKind.code, ServicePostKind.name)
        .where(ServicePostKind.active)
        .order_by(ServicePostKind.position, ServicePostKind.code)
    )
    return [(row.code, row.name) for row in session.execute(stmt)]


def community_at(session: Session, lon: float, lat: float) -> Any:
    """The current community (id, code, name) holding a point, if any."""
    point = func.ST_Point(lon, lat, SRID)
    stmt = (
        select(Grid.id, Grid.code, Grid.name)
        .where(Grid.level == "community", Grid.valid_to.is_(None))
        .where(func.ST_Intersects(Grid.geom, point))
        .order_by(Grid.id)
        .limit(1)
    )
    return session.execute(stmt).first()


def community_by_code(session: Session, code: str, scope: Scope) -> int | None:
    stmt = select(Grid.id).where(
        Grid.code == code, Grid.level == "community", Grid.valid_to.is_(None)
    )
    return session.scalar(stmt.where(community_managed(scope)))


def add_unit(session: Session, code: str, name: str, community_id: int, on: dt.date) -> int:
    unit = PartyUnit(code=code, name=name, community_id=community_id, reported_on=on)
    session.add(unit)
    session.flush()
    return unit.id


def unit_code_taken(session: Session, code: str) -> bool:
    return session.scalar(select(PartyUnit.id).where(PartyUnit.code == code)) is not None


def units(session: Session, scope: Scope, unit_id: int | None = None) -> list[Row[Any]]:
    """Units reporting to a community the scope manages: id, code, name, reported_on,
    community code and name, and their members registered now."""
    members = (
        select(func.count(func.distinct(MemberRegistration.person_id)))
        .where(MemberRegistration.unit_id == PartyUnit.id, MemberRegistration.valid_to.is_(None))
        .scalar_subquery()
    )
    stmt = (
        select(
            PartyUnit.id,
            PartyUnit.code,
            PartyUnit.name,
            PartyUnit.reported_on,
            Grid.code.label("community_code"),
            Grid.name.label("community_name"),
            members.label("members"),
        )
        .join(Grid, Grid.id == PartyUnit.community_id)
        .where(community_managed(scope))
        .order_by(PartyUnit.code)
    )
    if unit_id is not None:
        stmt = stmt.where(PartyUnit.id == unit_id)
    return list(session.execute(stmt))


def unit_exists(session: Session, unit_id: int) -> bool:
    return session.get(PartyUnit, unit_id) is not None


# ------------------------------------------------------------------------- registrations


def person_kind(session: Session, person_id: int) -> str | None:
    return session.scalar(select(Person.kind).where(Person.id == person_id))


def person_home(session: Session, person_id: int) -> tuple[float, float] | None:
    stmt = select(func.ST_X(Person.home), func.ST_Y(Person.home)).where(
        Person.id == person_id, Person.home.is_not(None)
    )
    found = session.execute(stmt).first()
    return None if found is None else (float(found[0]), float(found[1]))


def registration_on(
    session: Session, person_id: int, on: dt.date, *, lock: bool = False
) -> MemberRegistration | None:
    """The member's registration valid on ``on``."""
    stmt = select(MemberRegistration).where(
        MemberRegistration.person_id == person_id,
        MemberRegistration.valid_from <= on,
        or_(MemberRegistration.valid_to.is_(None), MemberRegistration.valid_to > on),
    )
    return session.scalar(stmt.with_for_update() if lock else stmt)


def latest_registration(session: Session, person_id: int) -> MemberRegistration | None:
    stmt = (
        select(MemberRegistration)
        .where(MemberRegistration.person_id == person_id)
        .order_by(MemberRegistration.valid_from.desc())
        .limit(1)
        .with_for_update()
    )
    return session.scalar(stmt)


def add_registration(session: Session, values: dict[str, Any], lon: float, lat: float) -> int:
    row = MemberRegistration(**values, home=func.ST_Point(lon, lat, SRID))
    session.add(row)
    session.flush()
    return row.id


def registration_view(session: Session, person_id: int, on: dt.date) -> Any:
    """The member's registration on ``on`` with its community and unit named."""
    stmt = (
        select(
            MemberRegistration.id,
            MemberRegistration.valid_from,
            MemberRegistration.valid_to,
            Grid.code.label("community_code"),
            Grid.name.label("community_name"),
            PartyUnit.id.label("unit_id"),
            PartyUnit.name.label("unit_name"),
        )
        .join(Grid, Grid.id == MemberRegistration.community_id)
        .outerjoin(PartyUnit, PartyUnit.id == MemberRegistration.unit_id)
        .where(MemberRegistration.person_id == person_id, MemberRegistration.valid_from <= on)
        .where(or_(MemberRegistration.valid_to.is_(None), MemberRegistration.valid_to > on))
    )
    return session.execute(stmt).first()


def member_posts(session: Session, person_id: int) -> list[str]:
    stmt = (
        select(MemberPost.kind).where(MemberPost.person_id == person_id).order_by(MemberPost.kind)
    )
    return list(session.scalars(stmt))


def set_member_posts(session: Session, person_id: int, kinds: list[str]) -> None:
    session.execute(delete(MemberPost).where(MemberPost.person_id == person_id))
    session.add_all(MemberPost(person_id=person_id, kind=k) for k in kinds)
    session.flush()


# ---------------------------------------------------------------------------- activities


def add_activity(session: Session, values: dict[str, Any], lon: float, lat: float) -> int:
    row = PartyActivity(**values, place=func.ST_Point(lon, lat, SRID))
    session.add(row)
    session.flush()
    return row.id


def _signed() -> Any:
    return (
        select(func.count())
        .where(ActivitySignup.activity_id == PartyActivity.id)
        .correlate(PartyActivity)
        .scalar_subquery()
    )


def _attended() -> Any:
    return (
        select(func.count())
        .where(ActivitySignup.activity_id == PartyActivity.id)
        .where(ActivitySignup.attended_at.is_not(None))
        .correlate(PartyActivity)
        .scalar_subquery()
    )


def _activity_columns() -> tuple[Any, ...]:
    return (
        PartyActivity.id,
        PartyActivity.title,
        PartyActivity.kind,
        PartyActivity.starts_at,
        PartyActivity.ends_at,
        PartyActivity.place_name,
        func.ST_X(PartyActivity.place).label("lon"),
        func.ST_Y(PartyActivity.place).label("lat"),
        PartyActivity.wanted,
        Grid.code.label("community_code"),
        Grid.name.label("community_name"),
        _signed().label("signed"),
        _attended().label("attended"),
    )


def activities(
    session: Session,
    where: ColumnElement[bool],
    first: dt.datetime,
    last: dt.datetime,
    limit: int,
) -> list[Row[Any]]:
    """Activities starting in [first, last) of the communities ``where`` allows."""
    stmt = (
        select(*_activity_columns())
        .join(Grid, Grid.id == PartyActivity.community_id)
        .where(where, PartyActivity.starts_at >= first, PartyActivity.starts_at < last)
        .order_by(PartyActivity.starts_at, PartyActivity.id)
        .limit(limit)
    )
    return list(session.execute(stmt))


def activity(session: Session, activity_id: int, where: ColumnElement[bool]) -> Row[Any] | None:
    stmt = (
        select(*_activity_columns())
        .join(Grid, Grid.id == PartyActivity.community_id)
        .where(PartyActivity.id == activity_id, where)
    )
    return session.execute(stmt).first()


def lock_activity(session: Session, activity_id: int) -> PartyActivity | None:
    """The activity, locked until the transaction ends: sign-ups for it queue up here, so
    the count of places taken is exact."""
    stmt = select(PartyActivity).where(PartyActivity.id == activity_id).with_for_update()
    return session.scalar(stmt)


def signup_count(session: Session, activity_id: int) -> int:
    stmt = select(func.count()).where(ActivitySignup.activity_id == activity_id)
    return int(session.scalar(stmt) or 0)


def signup(session: Session, activity_id: int, person_id: int) -> ActivitySignup | None:
    return session.get(ActivitySignup, (activity_id, person_id), with_for_update=True)


def add_signup(session: Session, activity_id: int, person_id: int, at: dt.datetime) -> None:
    session.add(ActivitySignup(activity_id=activity_id, person_id=person_id, signed_at=at))
    session.flush()


def delete_signup(session: Session, activity_id: int, person_id: int) -> None:
    session.execute(
        delete(ActivitySignup).where(
            ActivitySignup.activity_id == activity_id, ActivitySignup.person_id == person_id
        )
    )
    session.flush()


def signups(session: Session, activity_id: int) -> list[Row[Any]]:
    """Who signed up: person id and name, when, and their attendance."""
    stmt = (
        select(
            ActivitySignup.person_id,
            Person.name,
            ActivitySignup.signed_at,
            ActivitySignup.attended_at,
            ActivitySignup.how,
            ActivitySignup.distance_m,
            ActivitySignup.hours,
        )
        .join(Person, Person.id == ActivitySignup.person_id)
        .where(ActivitySignup.activity_id == activity_id)
        .order_by(ActivitySignup.signed_at, ActivitySignup.person_id)
    )
    return list(session.execute(stmt))


def signed_by(session: Session, person_id: int, activity_ids: list[int]) -> dict[int, Any]:
    """The member's sign-ups among ``activity_ids``, by activity."""
    stmt = select(
        ActivitySignup.activity_id,
        ActivitySignup.attended_at,
        ActivitySignup.how,
        ActivitySignup.hours,
    ).where(ActivitySignup.person_id == person_id, ActivitySignup.activity_id.in_(activity_ids))
    return {row.activity_id: row for row in session.execute(stmt)}


def distance_to_place(session: Session, activity_id: int, lon: float, lat: float) -> float:
    """Metres from a point to the activity's place, on the spheroid (as a patrol's check-in
    is measured from its household, ``storage.patrols.add_check_in``)."""
    point = func.ST_Point(lon, lat, SRID)
    stmt = select(
        func.ST_Distance(func.geography(point), func.geography(PartyActivity.place))
    ).where(PartyActivity.id == activity_id)
    return float(session.scalar(stmt) or 0.0)


def mark_attended(
    session: Session, activity_id: int, person_id: int, values: dict[str, Any]
) -> None:
    session.execute(
        update(ActivitySignup)
        .where(ActivitySignup.activity_id == activity_id, ActivitySignup.person_id == person_id)
        .values(**values)
    )


# ---------------------------------------------------------------------------- the quarter

_QUARTER_SQL = text(
    """
    WITH reg AS (
      SELECT r.id, r.person_id, r.community_id, r.unit_id, r.valid_from, r.valid_to
        FROM member_registration r
       WHERE r.valid_from < :last AND (r.valid_to IS NULL OR r.valid_to > :first)
    ), served AS (
      SELECT s.person_id, s.hours, (a.starts_at AT TIME ZONE 'Asia/Shanghai')::date AS day
        FROM activity_signup s
        JOIN party_activity a ON a.id = s.activity_id
       WHERE s.attended_at IS NOT NULL
         AND a.starts_at >= :start AND a.starts_at < :end
    ), part AS (
      SELECT reg.id, reg.person_id, reg.community_id, reg.unit_id,
             greatest(reg.valid_from, :first) AS since,
             CASE WHEN reg.valid_to IS NULL OR reg.valid_to > :last THEN NULL
                  ELSE reg.valid_to END AS until,
             count(sv.person_id) AS services,
             coalesce(sum(sv.hours), 0) AS hours
        FROM reg
        LEFT JOIN served sv
          ON sv.person_id = reg.person_id AND sv.day >= reg.valid_from
         AND (reg.valid_to IS NULL OR sv.day < reg.valid_to)
       GROUP BY reg.id, reg.person_id, reg.community_id, reg.unit_id, reg.valid_from,
                reg.valid_to
    ), whole AS (
      SELECT part.*,
             sum(part.services) OVER (PARTITION BY part.person_id) AS quarter_services,
             sum(part.hours) OVER (PARTITION BY part.person_id) AS quarter_hours
        FROM part
    )
    SELECT w.person_id, p.name, w.since, w.until, w.services, w.hours,
           w.quarter_services, w.quarter_hours, w.unit_id, u.name AS unit_name,
           g.code AS community_code, g.name AS community_name
      FROM whole w
      JOIN person p ON p.id = w.person_id
      JOIN grid g ON g.id = w.community_id
      LEFT JOIN party_unit u ON u.id = w.unit_id
     WHERE EXISTS (SELECT 1 FROM unnest(CAST(:prefixes AS text[])) AS x(prefix)
                    WHERE starts_with(g.code, x.prefix) OR starts_with(x.prefix, g.code))
       AND (CAST(:community AS text) IS NULL OR g.code = :community)
       AND (CAST(:unit_id AS integer) IS NULL OR w.unit_id = :unit_id)
     ORDER BY g.code, p.name, w.person_id, w.since
    """
)


def quarter_parts(
    session: Session,
    days: tuple[dt.date, dt.date],
    moments: tuple[dt.datetime, dt.datetime],
    prefixes: tuple[str, ...],
    community: str | None = None,
    unit_id: int | None = None,
) -> list[Row[Any]]:
    """Each member's registrations overlapping the quarter [first, last) in the communities
    ``prefixes`` manage: the services attended and hours counted while registered there
    (attributed by the activity's date in Beijing), beside the member's quarter totals; only
    ``community`` (a code) or only the members of unit ``unit_id`` when given."""
    params: dict[str, Any] = {
        "first": days[0],
        "last": days[1],
        "start": moments[0],
        "end": moments[1],
        "prefixes": list(prefixes),
        "community": community,
        "unit_id": unit_id,
    }
    return list(session.execute(_QUARTER_SQL, params))


def member_hours(
    session: Session, person_id: int, start: dt.datetime, end: dt.datetime
) -> list[Row[Any]]:
    """The member's attended activities starting in [start, end): id, title, kind, when,
    how and hours."""
    stmt = (
        select(
            PartyActivity.id,
            PartyActivity.title,
            PartyActivity.kind,
            PartyActivity.starts_at,
            ActivitySignup.how,
            ActivitySignup.hours,
        )
        .join(ActivitySignup, ActivitySignup.activity_id == PartyActivity.id)
        .where(ActivitySignup.person_id == person_id, ActivitySignup.attended_at.is_not(None))
        .where(PartyActivity.starts_at >= start, PartyActivity.starts_at < end)
        .order_by(PartyActivity.starts_at)
    )
    return list(session.execute(stmt))
