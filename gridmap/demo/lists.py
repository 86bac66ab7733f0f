"""三张清单 and 微心愿 in the demo: in each community with members, needs of households in
difficulty (from visits' concerns, by kind), resources offered by its units and members, service
projects at every stage (proposed, confirmed, done with a result) and small wishes open, claimed,
fulfilled and confirmed; the demo member's community keeps open ones to claim."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridmap.core import clock
from gridmap.grid import ingest
from gridmap.storage.models import (
    SRID,
    MemberRegistration,
    PartyMatch,
    PartyNeed,
    PartyResource,
    PartyUnit,
    SmallWish,
    User,
)

#: Needs by kind: (title, detail).
NEEDS = {
    "care": ("独居老人需要助餐服务", "行动不便，希望有人每周送餐两次"),
    "repair": ("楼道灯和水龙头需要维修", "家中无人会修，希望有志愿者上门"),
    "errand": ("代购药品和生活用品", "子女不在身边，需要有人帮忙跑腿"),
    "companion": ("希望有人陪伴聊天", "老人长期独居，情绪低落"),
    "learning": ("孩子需要课业辅导", "家长不会辅导初中数学"),
    "health": ("需要定期测量血压", "患有高血压，希望医生上门随访"),
}
#: Resources by kind: (title, detail).
RESOURCES = {
    "room": ("单位会议室周末开放", "可容纳30人，周六全天可用"),
    "skill": ("水电维修技能", "周末可上门维修"),
    "vehicle": ("公务车辆应急接送", "就医接送，需提前一天预约"),
    "money": ("结对帮扶资金", "每季度用于困难家庭慰问"),
    "time": ("每周两小时志愿服务", "周三下午可参加社区服务"),
}
#: What wishes residents in difficulty ask for (微心愿).
WISHES = (
    ("想要一台收音机", "老人喜欢听戏曲"),
    ("想要一副老花镜", "看报纸看不清"),
    ("孩子想要一套课外读物", "小学三年级"),
    ("想要一个助行器", "腿脚不便，出门困难"),
    ("希望有人教用智能手机", "想和外地的孩子视频通话"),
    ("冬天想要一床厚棉被", "家里暖气不太热"),
    ("想要一个血压计", "方便在家测量"),
    ("孩子想要一个新书包", "旧书包已经破了"),
)
RESULTS = ("已上门完成服务，居民满意", "志愿者按期完成，社区已回访")


def _households(session: Session) -> dict[int, list[Any]]:
    """Households in difficulty (with a care tag) by community: id and point."""
    rows = session.execute(
        text(
            """
            SELECT h.id, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, c.id AS community_id
              FROM household h
              JOIN grid m ON m.id = h.micro_grid_id
              JOIN grid c ON c.level = 'community' AND c.valid_to IS NULL
                         AND c.code = left(m.code, 12)
             WHERE cardinality(h.care_tags) > 0
             ORDER BY h.id
            """
        )
    )
    found: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        found[row.community_id].append(row)
    return found


def _providers(session: Session) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    members: dict[int, list[int]] = defaultdict(list)
    stmt = select(MemberRegistration.community_id, MemberRegistration.person_id).where(
        MemberRegistration.valid_to.is_(None)
    )
    for community, person in session.execute(stmt.order_by(MemberRegistration.person_id)):
        members[community].append(person)
    units: dict[int, list[int]] = defaultdict(list)
    for community, unit in session.execute(
        select(PartyUnit.community_id, PartyUnit.id).order_by(PartyUnit.id)
    ):
        units[community].append(unit)
    return members, units


def load(session: Session, *, seed: int) -> ingest.ImportReport:
    """Needs, resources, projects and wishes of every community with members (flushed)."""
    rng = np.random.default_rng(seed + 27)
    recorder = session.scalar(select(User.id).where(User.role == "chief").order_by(User.id))
    households = _households(session)
    members, units = _providers(session)
    counts = {"needs": 0, "resources": 0, "matches": 0, "wishes": 0}
    if recorder is None:
        return ingest.ImportReport("三张清单", written=0)
    for community, homes in households.items():
        if not members.get(community):
            continue
        here = _Community(session, rng, community, recorder, members[community], units[community])
        resources = here.resources(homes)
        counts["resources"] += len(resources)
        picked = rng.permutation(len(homes))
        needs = [homes[i] for i in picked[:6]]
        wishes = [homes[i] for i in picked[6:14]]
        counts["matches"] += here.needs(needs, resources)
        counts["needs"] += len(needs)
        here.wishes(wishes)
        counts["wishes"] += len(wishes)
    session.flush()
    notes = [f"{what}: {n}" for what, n in counts.items()]
    return ingest.ImportReport("三张清单", written=sum(counts.values()), notes=notes)


class _Community:
    """One community's lists: its recorder (the chief), members and units."""

    def __init__(
        self,
        session: Session,
        rng: np.random.Generator,
        community: int,
        recorder: int,
        members: list[int],
        units: list[int],
    ) -> None:
        self.session, self.rng, self.community, self.recorder = session, rng, community, recorder
        self.members, self.units = members, units
        self.now = clock.now()

    def _ago(self, low: int, high: int) -> dt.datetime:
        return self.now - dt.timedelta(days=int(self.rng.integers(low, high)), hours=3)

    def _provider(self) -> dict[str, int | None]:
        if self.units and self.rng.random() < 0.4:
            return {"unit_id": int(self.rng.choice(self.units)), "person_id": None}
        return {"person_id": int(self.rng.choice(self.members)), "unit_id": None}

    def resources(self, homes: list[Any]) -> list[PartyResource]:
        """Two units' rooms or vehicles (placed in the community, near its households) and
        three members' skills or time."""
        made = []
        for unit in self.units[:2]:
            kind = str(self.rng.choice(["room", "vehicle", "room"]))
            near = homes[int(self.rng.integers(len(homes)))]
            offered = self._resource(kind, {"unit_id": unit, "person_id": None})
            offered.place = func.ST_Point(near.lon + 0.0008, near.lat, SRID)
            made.append(offered)
        for person in self.rng.choice(self.members, size=min(3, len(self.members)), replace=False):
            kind = str(self.rng.choice(["skill", "time"]))
            made.append(self._resource(kind, {"person_id": int(person), "unit_id": None}))
        self.session.add_all(made)
        self.session.flush()
        return made

    def _resource(self, kind: str, provider: dict[str, int | None]) -> PartyResource:
        title, detail = RESOURCES[kind]
        return PartyResource(
            community_id=self.community,
            kind=kind,
            title=title,
            detail=detail,
            created_at=self._ago(20, 80),
            **provider,
        )

    def needs(self, homes: list[Any], resources: list[PartyResource]) -> int:
        """Needs of ``homes``; two thirds matched, at every stage of a project."""
        matches = 0
        for i, home in enumerate(homes):
            kind = list(NEEDS)[int(self.rng.integers(len(NEEDS)))]
            title, detail = NEEDS[kind]
            stage = ("open", "proposed", "confirmed", "done", "open", "done")[i % 6]
            need = PartyNeed(
                community_id=self.community,
                kind=kind,
                title=title,
                detail=detail,
                source="resident",
                household_id=home.id,
                place=func.ST_Point(home.lon, home.lat, SRID),
                state={"open": "open", "done": "done"}.get(stage, "matched"),
                recorded_by=self.recorder,
                created_at=self._ago(15, 60),
            )
            self.session.add(need)
            self.session.flush()
            if stage != "open":
                self.session.add(self._match(need, stage, resources))
                matches += 1
        return matches

    def _match(self, need: PartyNeed, stage: str, resources: list[PartyResource]) -> PartyMatch:
        resource = resources[int(self.rng.integers(len(resources)))] if resources else None
        provider = (
            {"unit_id": resource.unit_id, "person_id": resource.person_id}
            if resource
            else self._provider()
        )
        proposed = need.created_at + dt.timedelta(days=2)
        done = stage == "done"
        return PartyMatch(
            need_id=need.id,
            resource_id=resource.id if resource else None,
            proposed_by="community" if resource and resource.unit_id else "provider",
            proposed_at=proposed,
            state=stage,
            confirmed_by=None if stage == "proposed" else self.recorder,
            confirmed_at=None if stage == "proposed" else proposed + dt.timedelta(days=1),
            completed_at=proposed + dt.timedelta(days=6) if done else None,
            result=str(self.rng.choice(RESULTS)) if done else None,
            **provider,
        )

    def wishes(self, homes: list[Any]) -> None:
        """Wishes of ``homes``: open, claimed, fulfilled and confirmed in turn."""
        for i, home in enumerate(homes):
            title, detail = WISHES[int(self.rng.integers(len(WISHES)))]
            state = ("open", "claimed", "fulfilled", "confirmed", "open", "confirmed")[i % 6]
            created = self._ago(10, 50)
            claimed = state != "open"
            fulfilled = state in ("fulfilled", "confirmed")
            self.session.add(
                SmallWish(
                    community_id=self.community,
                    household_id=home.id,
                    title=title,
                    detail=detail,
                    place=func.ST_Point(home.lon, home.lat, SRID),
                    consent_at=created,
                    recorded_by=self.recorder,
                    created_at=created,
                    state=state,
                    claimed_at=created + dt.timedelta(days=1) if claimed else None,
                    fulfilled_at=created + dt.timedelta(days=5) if fulfilled else None,
                    fulfilment="已送到居民家中" if fulfilled else None,
                    confirmed_at=created + dt.timedelta(days=6) if state == "confirmed" else None,
                    confirmed_by=self.recorder if state == "confirmed" else None,
                    confirmed_how="resident" if state == "confirmed" else None,
                    **(self._provider() if claimed else {}),
                )
            )
