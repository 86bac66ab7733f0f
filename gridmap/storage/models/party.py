"""双报到 (party building): units' party organisations (单位党组织) and in-service members
(在职党员) reporting to a community, the service posts (服务岗位) members choose, the activities a
community publishes (社区吹哨) and members' sign-ups, attendance and hours (党员报到)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import ENVELOPE_SQL, SRID, Base, in_list

#: How a member's attendance was confirmed: by the organiser, or by a check-in near the place
#: within the activity's time.
ATTENDANCE_HOWS = ("organiser", "check_in")


class ServicePostKind(Base):
    """服务岗位: a kind of service post a community sets up (政策宣讲, 心理辅导… 10 kinds in the
    seeds); the list is a table so a deployment may rename, add or retire kinds."""

    __tablename__ = "service_post_kind"
    __table_args__ = (CheckConstraint("code ~ '^[a-z][a-z0-9_]{1,29}$'", name="code_shape"),)

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(server_default="true")


class PartyUnit(Base):
    """单位党组织: a unit's party organisation and the community it reports to (双报到)."""

    __tablename__ = "party_unit"
    __table_args__ = (
        CheckConstraint("code ~ '^[A-Za-z0-9._-]{2,30}$'", name="code_shape"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    reported_on: Mapped[dt.date] = mapped_column(Date)


class MemberRegistration(Base):
    """An in-service member reported to the community where they live, from ``valid_from`` up
    to, not including, ``valid_to``; a move closes one and opens the next (never overlapping,
    an exclusion constraint of the migration), so each date has its one community."""

    __tablename__ = "member_registration"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates_ordered"),
        CheckConstraint(
            f"home IS NULL OR ST_CoveredBy(home, {ENVELOPE_SQL})", name="home_in_china"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    #: The unit the member works in (工作在单位), whose 双报告 counts them.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("party_unit.id"), index=True)
    #: The home point that located the community.
    home: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


class MemberPost(Base):
    """A service post a member has chosen (认领岗位)."""

    __tablename__ = "member_post"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(ForeignKey("service_post_kind.code"), primary_key=True)


class PartyActivity(Base):
    """社区吹哨: an activity a community publishes for its members: when, where, which post,
    how many wanted, who organises it."""

    __tablename__ = "party_activity"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="times_ordered"),
        CheckConstraint("ends_at <= starts_at + interval '24 hours'", name="one_day_at_most"),
        CheckConstraint("wanted BETWEEN 1 AND 1000", name="wanted_range"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 100", name="title_length"),
        CheckConstraint("char_length(place_name) BETWEEN 1 AND 200", name="place_name_length"),
        CheckConstraint(f"ST_CoveredBy(place, {ENVELOPE_SQL})", name="place_in_china"),
        Index("ix_party_activity_community_id_starts_at", "community_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    kind: Mapped[str] = mapped_column(ForeignKey("service_post_kind.code"))
    title: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    place_name: Mapped[str] = mapped_column(Text)
    place: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    wanted: Mapped[int] = mapped_column(Integer)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ActivitySignup(Base):
    """A member signed up for an activity, and their attendance once confirmed: by whom and
    how, the check-in's distance from the place, and the hours it counts."""

    __tablename__ = "activity_signup"
    __table_args__ = (
        CheckConstraint(f"how IS NULL OR {in_list('how', ATTENDANCE_HOWS)}", name="how_known"),
        CheckConstraint(
            "(attended_at IS NULL) = (how IS NULL) AND (how IS NULL) = (hours IS NULL)",
            name="attendance_whole",
        ),
        CheckConstraint("hours IS NULL OR (hours > 0 AND hours <= 24)", name="hours_range"),
    )

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("party_activity.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True, index=True)
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    how: Mapped[str | None] = mapped_column(String(10))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    distance_m: Mapped[float | None] = mapped_column()
    hours: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
