"""三张清单 and 微心愿 planted in the security tests' two communities, beside
``tests.party.planted`` (unit 801 and member 4 in A, unit 811 and member 13 in B):

- need 801 (open) and 802 (matched: project 801, claimed by member 4) for household 1 of A;
  need 811 and 812 (project 811, member 13) for household 11 of B;
- resource 801 (unit 801's room) in A, 811 (unit 811's) in B, both near their needs;
- wish 801 (open) and 802 (fulfilled by member 4) for household 1 of A; 811 and 812 (member
  13) for household 11 of B.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.core import clock
from gridmap.storage.models import (
    SRID,
    Grid,
    PartyMatch,
    PartyNeed,
    PartyResource,
    SmallWish,
)

#: id → (community code, household, member, the household's lon/lat).
PLANTED = {
    801: ("110101001001", 1, 4, (116.405, 39.915)),
    811: ("110101002003", 11, 13, (116.445, 39.915)),
}


def plant_lists(session: Session) -> None:
    recorder = accounts.create_user(session, "planter-lists", "planter-password-1")
    now = clock.now()
    for planted_id, (code, household, member, (lon, lat)) in PLANTED.items():
        community = session.scalar(select(Grid.id).where(Grid.code == code))
        assert community is not None
        point = func.ST_Point(lon, lat, SRID)
        common: dict[str, Any] = {"community_id": community, "place": point, "created_at": now}
        for offset, state in ((0, "open"), (1, "matched")):
            session.add(
                PartyNeed(
                    id=planted_id + offset,
                    kind="repair",
                    title=f"楼道灯维修{planted_id + offset}",
                    source="resident",
                    household_id=household,
                    state=state,
                    recorded_by=recorder.id,
                    **common,
                )
            )
        session.add(
            PartyResource(
                id=planted_id,
                kind="room",
                title=f"会议室{planted_id}",
                unit_id=planted_id,
                community_id=community,
                place=func.ST_Point(lon + 0.001, lat, SRID),
                created_at=now,
            )
        )
        session.flush()
        session.add(
            PartyMatch(
                id=planted_id,
                need_id=planted_id + 1,
                person_id=member,
                proposed_by="provider",
                proposed_at=now,
            )
        )
        wish = common | {"household_id": household, "recorded_by": recorder.id, "consent_at": now}
        session.add(SmallWish(id=planted_id, title=f"收音机{planted_id}", **wish))
        session.add(
            SmallWish(
                id=planted_id + 1,
                title=f"轮椅{planted_id + 1}",
                state="fulfilled",
                person_id=member,
                claimed_at=now,
                fulfilled_at=now,
                **wish,
            )
        )
    session.flush()
