"""三张清单 and 微心愿 (party building): residents' needs (需求清单), what units and members
offer (资源清单), the service projects that match them (服务清单) with two-way claiming
(双向认领), and residents' small wishes (微心愿) claimed and fulfilled by members and units."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import ENVELOPE_SQL, SRID, Base, in_list

#: What a need asks for (需求).
NEED_KINDS = ("care", "repair", "errand", "companion", "learning", "health", "other")
#: Where a need came from: recorded for a resident, one click from a visit or from a request.
NEED_SOURCES = ("resident", "visit", "request")
NEED_STATES = ("open", "matched", "done", "closed")
#: What a unit or member offers (资源): a room, a skill, a vehicle, money, time.
RESOURCE_KINDS = ("room", "skill", "vehicle", "money", "time")
#: A service project (服务项目): proposed by either side, confirmed by the community, done
#: with a result; or declined (the need is open again).
MATCH_STATES = ("proposed", "confirmed", "done", "declined")
MATCH_PROPOSERS = ("provider", "community")
WISH_STATES = ("open", "claimed", "fulfilled", "confirmed", "withdrawn")
#: Who confirmed a fulfilled wish: the resident (through the worker's account) or the worker.
WISH_CONFIRMERS = ("resident", "worker")

_ONE_PROVIDER = "(unit_id IS NULL) <> (person_id IS NULL)"


def _text_length(column: str, low: int, high: int) -> CheckConstraint:
    return CheckConstraint(
        f"char_length({column}) BETWEEN {low} AND {high}", name=f"{column}_length"
    )


class PartyNeed(Base):
    """需求: what a resident needs, published without personal data: the household and the
    exact point stay here (``household_id``, ``place``), the list shows the kind, the text and
    a rounded point."""

    __tablename__ = "party_need"
    __table_args__ = (
        CheckConstraint(in_list("kind", NEED_KINDS), name="kind_known"),
        CheckConstraint(in_list("source", NEED_SOURCES), name="source_known"),
        CheckConstraint(in_list("state", NEED_STATES), name="state_known"),
        _text_length("title", 1, 60),
        _text_length("detail", 0, 500),
        CheckConstraint(f"ST_CoveredBy(place, {ENVELOPE_SQL})", name="place_in_china"),
        CheckConstraint("(source = 'visit') = (visit_id IS NOT NULL)", name="visit_source"),
        CheckConstraint("(source = 'request') = (request_id IS NOT NULL)", name="request_source"),
        Index("ix_party_need_community_id_state", "community_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, server_default="")
    source: Mapped[str] = mapped_column(String(10))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("household_visit.id"), unique=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("resident_request.id"), unique=True)
    place: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    state: Mapped[str] = mapped_column(String(10), server_default="open")
    recorded_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer, server_default="1")


class PartyResource(Base):
    """资源: what a unit (``unit_id``) or a member (``person_id``) offers its community."""

    __tablename__ = "party_resource"
    __table_args__ = (
        CheckConstraint(in_list("kind", RESOURCE_KINDS), name="kind_known"),
        CheckConstraint(_ONE_PROVIDER, name="one_provider"),
        _text_length("title", 1, 60),
        _text_length("detail", 0, 500),
        CheckConstraint(
            f"place IS NULL OR ST_CoveredBy(place, {ENVELOPE_SQL})", name="place_in_china"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, server_default="")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("party_unit.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    place: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    available: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PartyMatch(Base):
    """服务项目: a need matched with a provider (a unit or a member) and perhaps one of its
    resources, proposed by either side (认领), confirmed by the community and run to its
    result. One live (not declined) match per need: a partial unique index, behind the lock
    on the need that makes concurrent claims queue."""

    __tablename__ = "party_match"
    __table_args__ = (
        CheckConstraint(in_list("state", MATCH_STATES), name="state_known"),
        CheckConstraint(in_list("proposed_by", MATCH_PROPOSERS), name="proposer_known"),
        CheckConstraint(_ONE_PROVIDER, name="one_provider"),
        CheckConstraint("result IS NULL OR char_length(result) <= 1000", name="result_length"),
        CheckConstraint("(state = 'done') = (completed_at IS NOT NULL)", name="done_completed"),
        Index(
            "uq_party_match_need_id_live",
            "need_id",
            unique=True,
            postgresql_where=text("state <> 'declined'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("party_need.id"), index=True)
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("party_resource.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("party_unit.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    proposed_by: Mapped[str] = mapped_column(String(10))
    proposed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(10), server_default="proposed")
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, server_default="1")


class SmallWish(Base):
    """微心愿: a resident's small wish, recorded with their consent (``consent_at``) by a
    worker or member; published with its title, text and a rounded point only. Claimed by a
    member or a unit (one claimant: the row lock and the state decide), fulfilled with proof
    (photos, ``party_photo``), confirmed by the resident or the worker."""

    __tablename__ = "small_wish"
    __table_args__ = (
        CheckConstraint(in_list("state", WISH_STATES), name="state_known"),
        CheckConstraint(
            f"confirmed_how IS NULL OR {in_list('confirmed_how', WISH_CONFIRMERS)}",
            name="confirmer_known",
        ),
        _text_length("title", 1, 60),
        _text_length("detail", 0, 300),
        CheckConstraint(f"ST_CoveredBy(place, {ENVELOPE_SQL})", name="place_in_china"),
        CheckConstraint(
            "(state IN ('open', 'withdrawn')) = (unit_id IS NULL AND person_id IS NULL)",
            name="claimed_has_claimant",
        ),
        CheckConstraint("unit_id IS NULL OR person_id IS NULL", name="one_claimant"),
        Index("ix_small_wish_community_id_state", "community_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, server_default="")
    place: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    consent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(10), server_default="open")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("party_unit.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilment: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    confirmed_how: Mapped[str | None] = mapped_column(String(10))
    revision: Mapped[int] = mapped_column(Integer, server_default="1")


class PartyPhoto(Base):
    """A photo (``stored_file``) of a service project's result or a wish's fulfilment."""

    __tablename__ = "party_photo"
    __table_args__ = (CheckConstraint("(match_id IS NULL) <> (wish_id IS NULL)", name="one_owner"),)

    file_id: Mapped[str] = mapped_column(ForeignKey("stored_file.id"), primary_key=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("party_match.id"), index=True)
    wish_id: Mapped[int | None] = mapped_column(ForeignKey("small_wish.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
