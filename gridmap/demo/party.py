"""双报到 in the demo: units' party organisations reporting to the communities, in-service
members registered with the community holding their home (some moved this quarter), their
service posts, and a quarter of activities per community with plausible sign-ups and
attendance (some confirmed by a check-in near the place, some by the organiser)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.core import clock
from gridmap.grid import ingest
from gridmap.party import reporting
from gridmap.storage import party as store
from gridmap.storage.models import (
    ActivitySignup,
    MemberPost,
    MemberRegistration,
    PartyActivity,
    PartyUnit,
    User,
)

#: Units of the district whose party organisations report to a community (驻区单位).
UNIT_NAMES = (
    "东城区税务局",
    "东城区卫生健康委员会",
    "东城区教育委员会",
    "东城区民政局",
    "东城区人民法院",
    "东城区司法局",
    "东城区市场监督管理局",
    "北京市第五中学",
    "东城区第一人民医院",
    "国网北京东城供电公司",
    "中国银行北京东城支行",
    "北京市自来水集团东城营业所",
    "东城区图书馆",
    "东城区文化和旅游局",
    "东城区城市管理委员会",
    "东城区应急管理局",
)
#: Activities by post kind: (title, hours).
ACTIVITIES = {
    "policy_talk": ("社区政策宣讲", 2.0),
    "counselling": ("老年人心理疏导", 2.0),
    "mediation": ("邻里纠纷调解", 3.0),
    "patrol": ("平安巡逻", 3.0),
    "epidemic": ("健康义诊与防疫宣传", 3.0),
    "emergency": ("应急演练", 2.5),
    "environment": ("楼院环境整治", 3.0),
    "civility": ("文明城区创建劝导", 2.0),
    "care": ("独居老人探访", 2.0),
    "culture": ("社区文化活动", 2.5),
}
PLACES = ("社区党群服务中心", "社区广场", "小区楼院", "社区活动室", "社区卫生服务站")


@dataclass(frozen=True)
class Member:
    person_id: int
    community_id: int
    lon: float
    lat: float


def _members(session: Session) -> list[Member]:
    """In-service members (and the party members with a demo account) with a home in a
    community."""
    rows = session.execute(
        text(
            """
            SELECT p.id, g.id AS community_id, ST_X(p.home) AS lon, ST_Y(p.home) AS lat
              FROM person p
              JOIN grid g ON g.level = 'community' AND g.valid_to IS NULL
                         AND ST_Intersects(g.geom, p.home)
             WHERE p.home IS NOT NULL
               AND (p.kind = 'in_service_member'
                    OR p.id IN (SELECT person_id FROM app_user WHERE role = 'member'))
             ORDER BY p.id
            """
        )
    )
    return [Member(r.id, r.community_id, r.lon, r.lat) for r in rows]


def _units(session: Session, communities: list[int], rng: np.random.Generator) -> list[int]:
    """The district's units, each reporting to a community spread over the populated ones."""
    today = clock.today()
    at = np.linspace(0, len(communities) - 1, len(UNIT_NAMES)).round().astype(int)
    rows = [
        {
            "code": f"dc-u-{i + 1:03d}",
            "name": name,
            "community_id": int(communities[at[i]]),
            "reported_on": today - dt.timedelta(days=int(rng.integers(90, 720))),
        }
        for i, name in enumerate(UNIT_NAMES)
    ]
    return list(session.scalars(insert(PartyUnit).returning(PartyUnit.id), rows))


def _register(
    session: Session,
    members: list[Member],
    units: list[int],
    quarter: reporting.Quarter,
    rng: np.random.Generator,
) -> dict[int, list[tuple[int, dt.date, dt.date | None]]]:
    """Register every member; one in twenty moved to another community this quarter. Returns
    each member's (community, from, to) registrations."""
    communities = sorted({m.community_id for m in members})
    days = (min(clock.today(), quarter.last) - quarter.first).days
    rows: list[dict[str, Any]] = []
    periods: dict[int, list[tuple[int, dt.date, dt.date | None]]] = {}
    for m in members:
        unit = int(rng.choice(units))
        since = quarter.first - dt.timedelta(days=int(rng.integers(30, 700)))
        home = f"SRID=4490;POINT({m.lon} {m.lat})"
        base = {"person_id": m.person_id, "unit_id": unit, "home": home}
        if len(communities) > 1 and days > 20 and rng.random() < 0.05:
            moved = quarter.first + dt.timedelta(days=int(rng.integers(10, days - 5)))
            before = int(rng.choice([c for c in communities if c != m.community_id]))
            rows.append(base | {"community_id": before, "valid_from": since, "valid_to": moved})
            rows.append(base | {"community_id": m.community_id, "valid_from": moved})
            periods[m.person_id] = [(before, since, moved), (m.community_id, moved, None)]
        else:
            rows.append(base | {"community_id": m.community_id, "valid_from": since})
            periods[m.person_id] = [(m.community_id, since, None)]
    session.execute(insert(MemberRegistration), [r | {"valid_to": r.get("valid_to")} for r in rows])
    return periods


def _posts(session: Session, members: list[Member], rng: np.random.Generator) -> None:
    kinds = [code for code, _ in store.post_kinds(session)]
    rows = [
        {"person_id": m.person_id, "kind": kind}
        for m in members
        for kind in rng.choice(kinds, size=int(rng.integers(1, 4)), replace=False)
    ]
    session.execute(insert(MemberPost), rows)


def _activities(
    session: Session,
    members: list[Member],
    quarter: reporting.Quarter,
    organiser: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """About one activity a fortnight per community, from the quarter's start to two weeks
    ahead, at 9:00 or 14:00 at a member's home area."""
    by_community: dict[int, list[Member]] = {}
    for m in members:
        by_community.setdefault(m.community_id, []).append(m)
    end = clock.today() + dt.timedelta(days=14)
    rows = []
    for community, here in sorted(by_community.items()):
        day = quarter.first + dt.timedelta(days=int(rng.integers(0, 10)))
        while day <= end:
            kind = str(rng.choice(list(ACTIVITIES)))
            title, hours = ACTIVITIES[kind]
            at = here[int(rng.integers(len(here)))]
            starts = dt.datetime.combine(
                day, dt.time(9 if rng.random() < 0.5 else 14), clock.BEIJING
            )
            rows.append(
                {
                    "community_id": community,
                    "kind": kind,
                    "title": title,
                    "starts_at": starts,
                    "ends_at": starts + dt.timedelta(hours=hours),
                    "place_name": str(rng.choice(PLACES)),
                    "place": f"SRID=4490;POINT({at.lon + 0.0005} {at.lat})",
                    "wanted": int(rng.integers(4, 11)),
                    "organiser_id": organiser,
                }
            )
            day += dt.timedelta(days=int(rng.integers(10, 19)))
    ids = session.scalars(insert(PartyActivity).returning(PartyActivity.id), rows)
    return [r | {"id": i} for r, i in zip(rows, ids, strict=True)]


def _community_on(periods: list[tuple[int, dt.date, dt.date | None]], day: dt.date) -> int | None:
    for community, first, last in periods:
        if first <= day and (last is None or day < last):
            return community
    return None


def _signups(
    session: Session,
    activities: list[dict[str, Any]],
    periods: dict[int, list[tuple[int, dt.date, dt.date | None]]],
    organiser: int,
    rng: np.random.Generator,
) -> int:
    """Members of the activity's community on its day sign up (a member's appetite varies:
    some serve often, some never); 85% of past sign-ups attended, 60% of those checked in
    near the place."""
    appetite = {pid: float(rng.beta(1.2, 2.0)) for pid in periods}
    now = clock.now()
    rows = []
    for a in activities:
        day = a["starts_at"].astimezone(clock.BEIJING).date()
        here = [p for p, ps in periods.items() if _community_on(ps, day) == a["community_id"]]
        keen = [p for p in here if rng.random() < appetite[p]]
        for pid in keen[: a["wanted"]]:
            row: dict[str, Any] = {
                "activity_id": a["id"],
                "person_id": pid,
                "signed_at": a["starts_at"] - dt.timedelta(days=int(rng.integers(1, 6))),
                "attended_at": None,
                "how": None,
                "confirmed_by": None,
                "distance_m": None,
                "hours": None,
            }
            if a["ends_at"] < now and rng.random() < 0.85:
                hours = Decimal(str((a["ends_at"] - a["starts_at"]).total_seconds() / 3600))
                checked_in = rng.random() < 0.6
                row |= {
                    "attended_at": a["starts_at"] + dt.timedelta(minutes=int(rng.integers(0, 20))),
                    "how": "check_in" if checked_in else "organiser",
                    "confirmed_by": None if checked_in else organiser,
                    "distance_m": round(float(rng.uniform(5, 150)), 1) if checked_in else None,
                    "hours": hours.quantize(Decimal("0.01")),
                }
            rows.append(row)
    if rows:
        session.execute(insert(ActivitySignup), rows)
    return len(rows)


def _unit_account(session: Session, password: str) -> None:
    """``demo-unit``: the account of the unit with the most members (双报告)."""
    unit = session.scalar(
        select(MemberRegistration.unit_id)
        .where(MemberRegistration.valid_to.is_(None))
        .group_by(MemberRegistration.unit_id)
        .order_by(func.count().desc(), MemberRegistration.unit_id)
        .limit(1)
    )
    user = accounts.create_user(session, "demo-unit", password)
    accounts.grant_role(session, user.id, "unit", party_unit_id=unit)


def load(session: Session, *, seed: int, password: str) -> ingest.ImportReport:
    """Units, registrations, posts, this quarter's activities and attendance, and the
    account ``demo-unit`` of a unit (flushed)."""
    rng = np.random.default_rng(seed + 18)
    members = _members(session)
    organiser = session.scalar(select(User.id).where(User.role == "chief").order_by(User.id))
    if not members or organiser is None:
        return ingest.ImportReport("双报到", written=0)
    quarter = reporting.quarter(None)
    communities = sorted({m.community_id for m in members})
    units = _units(session, communities, rng)
    periods = _register(session, members, units, quarter, rng)
    _posts(session, members, rng)
    activities = _activities(session, members, quarter, organiser, rng)
    signed = _signups(session, activities, periods, organiser, rng)
    session.flush()
    _unit_account(session, password)
    written = len(units) + len(members) + len(activities) + signed
    return ingest.ImportReport("双报到", written=written)
