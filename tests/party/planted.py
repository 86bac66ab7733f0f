"""双报到 planted in the security tests' two communities (``tests.security.conftest``): unit
801 reporting to A and 811 to B; member 4 (A) registered with A, member 13 (B) with B in unit
811; activity 801 in A and 811 in B, started an hour ago, each attended by its member."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.core import clock
from gridmap.storage.models import (
    SRID,
    ActivitySignup,
    Grid,
    MemberRegistration,
    PartyActivity,
    PartyUnit,
)

#: id → (community code, member person id, the place's lon/lat).
PLANTED = {
    801: ("110101001001", 4, (116.405, 39.915)),
    811: ("110101002003", 13, (116.445, 39.915)),
}


def plant_party(session: Session) -> None:
    organiser = accounts.create_user(session, "planter-party", "planter-password-1")
    began = clock.now() - dt.timedelta(hours=1)
    for planted_id, (code, person, (lon, lat)) in PLANTED.items():
        community = session.scalar(select(Grid.id).where(Grid.code == code))
        assert community is not None
        point = func.ST_Point(lon, lat, SRID)
        session.add(
            PartyUnit(
                id=planted_id,
                code=f"unit-{planted_id}",
                name=f"单位{planted_id}",
                community_id=community,
                reported_on=clock.today(),
            )
        )
        session.flush()
        session.add(
            MemberRegistration(
                person_id=person,
                community_id=community,
                unit_id=planted_id,
                home=point,
                valid_from=clock.today() - dt.timedelta(days=400),
            )
        )
        session.add(
            PartyActivity(
                id=planted_id,
                community_id=community,
                kind="patrol",
                title=f"巡逻{planted_id}",
                starts_at=began,
                ends_at=began + dt.timedelta(hours=3),
                place_name="党群服务中心",
                place=point,
                wanted=10,
                organiser_id=organiser.id,
            )
        )
        session.flush()
        session.add(
            ActivitySignup(
                activity_id=planted_id,
                person_id=person,
                signed_at=began - dt.timedelta(days=1),
                attended_at=began,
                how="organiser",
                confirmed_by=organiser.id,
                hours=Decimal(3),
            )
        )
    session.flush()
