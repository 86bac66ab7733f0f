"""Patrols and visits (3+N work lists): lists, patrols, their points, check-ins and reach."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import ENVELOPE_SQL, SRID, Base, in_array, in_list
from gridmap.storage.models.grid import CARE_TAGS, GRID_LEVELS, ROLES

#: The "3+N" work lists: 日巡查 daily patrol, 周探访 weekly visit, 月摸排 monthly survey, and
#: N special lists (fire safety, flood season...).
WORK_LIST_KINDS = ("daily_patrol", "weekly_visit", "monthly_survey", "special")
#: What a list asks for: the grid patrolled (``grid``), every household (``all``), or the
#: households with one of the list's care tags (``care``).
WORK_LIST_TARGETS = ("grid", "all", "care")
#: How often: each day, each week (Monday to Sunday), each month, or once within the validity.
WORK_LIST_PERIODS = ("day", "week", "month", "once")
#: Who carries a list: the staff holding a post of that role at the list's grid level, or
#: ``member``, the members for the households they cover (党员分片包户).
WORK_LIST_ROLES = (*ROLES, "member")
#: How a patrol reached a household: a check-in there, or its track passing close by.
REACH_HOWS = ("check_in", "pass_by")
PATROL_SOURCES = ("live", "upload")


class WorkList(Base):
    """工作清单: one of the 3+N lists and its rule: which households or grids, how often, by
    whom, where (``grid_code``: grids whose code starts with it; None everywhere) and when
    (special lists run once within their validity)."""

    __tablename__ = "work_list"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name="code_shape"),
        CheckConstraint(in_list("kind", WORK_LIST_KINDS), name="kind_known"),
        CheckConstraint(in_list("target", WORK_LIST_TARGETS), name="target_known"),
        CheckConstraint(in_list("period", WORK_LIST_PERIODS), name="period_known"),
        CheckConstraint(in_list("grid_level", GRID_LEVELS), name="level_known"),
        CheckConstraint(in_list("min_reach", REACH_HOWS), name="min_reach_known"),
        CheckConstraint(
            f"{in_array('roles', WORK_LIST_ROLES)} AND cardinality(roles) > 0", name="roles_known"
        ),
        CheckConstraint(in_array("care_tags", CARE_TAGS), name="care_tags_known"),
        CheckConstraint(
            "grid_code IS NULL"
            " OR grid_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$'",
            name="grid_code_shape",
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("period <> 'once' OR valid_to IS NOT NULL", name="once_bounded"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(10))
    care_tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    period: Mapped[str] = mapped_column(String(10))
    #: The weakest reach that counts: ``check_in`` (a visit) or ``pass_by`` (a patrol nearby).
    min_reach: Mapped[str] = mapped_column(String(10), server_default="check_in")
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    grid_level: Mapped[str] = mapped_column(String(10), server_default="micro")
    grid_code: Mapped[str | None] = mapped_column(String(17))
    valid_from: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Patrol(Base):
    """巡查/走访记录: a worker's patrol or round of visits for one work list.

    ``track`` is the cleaned GPS track (``gridmap.spatial.tracks``), a MultiLineString M whose
    M is the UNIX time of each fix; None while a live patrol runs (its fixes are in
    ``patrol_point``) or when too few usable fixes came. ``track_report`` says what cleaning
    dropped and why. A person has at most one open patrol (``ended_at`` unset) at a time.
    """

    __tablename__ = "patrol"
    __table_args__ = (
        CheckConstraint("track IS NULL OR ST_IsValid(track)", name="track_valid"),
        CheckConstraint("track IS NULL OR NOT ST_IsEmpty(track)", name="track_not_empty"),
        CheckConstraint(
            f"track IS NULL OR ST_CoveredBy(track, {ENVELOPE_SQL})", name="track_in_china"
        ),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="times_ordered"),
        CheckConstraint(in_list("source", PATROL_SOURCES), name="source_known"),
        CheckConstraint("jsonb_typeof(track_report) = 'object'", name="report_object"),
        Index("ix_patrol_track", "track", postgresql_using="gist"),
        Index("ix_patrol_person_started", "person_id", "started_at"),
        Index("ix_patrol_list_started", "work_list_id", "started_at"),
        # What the fixes' foreign key names: their partition key is the patrol's start.
        UniqueConstraint("id", "started_at"),
        Index(
            "uq_patrol_open_person", "person_id", unique=True, postgresql_where="ended_at IS NULL"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    #: The account that recorded it: a worker records only their own patrols.
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    work_list_id: Mapped[int] = mapped_column(ForeignKey("work_list.id"))
    #: The grid patrolled (the worker's post), None for rounds of a member's households.
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))
    #: The coordinate system the fixes were declared in (converted on the way in).
    source_crs: Mapped[str] = mapped_column(String(20), server_default="EPSG:4326")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    track: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTILINESTRINGM", srid=SRID, dimension=3, spatial_index=False)
    )
    track_report: Mapped[dict[str, object]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PatrolPoint(Base):
    """A GPS fix posted by a phone during a live patrol, as received (converted to EPSG:4490).

    Append-only. ``seq`` is the phone's own number for the fix: a batch posted again stores
    nothing twice. The track is cleaned from these when the patrol ends.

    Partitioned by month on ``patrol_started_at``, the patrol's start carried by every fix
    (migration 0034, :mod:`gridmap.storage.partitions`): a patrol's fixes are in one
    partition, read by naming its start, and since the start follows from the patrol (the
    foreign key), the database's primary key ``(patrol_id, seq, patrol_started_at)`` is as
    unique as ``(patrol_id, seq)``. ``patrol_id`` and ``seq`` identify a fix to the ORM.
    """

    __tablename__ = "patrol_point"
    __table_args__ = (
        ForeignKeyConstraint(
            ["patrol_id", "patrol_started_at"],
            ["patrol.id", "patrol.started_at"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        CheckConstraint("seq >= 0", name="seq_positive"),
        CheckConstraint(f"ST_CoveredBy(geom, {ENVELOPE_SQL})", name="geom_in_china"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy_positive"),
    )

    patrol_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    accuracy_m: Mapped[float | None] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    patrol_started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PatrolCheckIn(Base):
    """入户签到: a worker at a household during a patrol: when, where the phone was (and how
    far from the household), a note and a photo. Append-only."""

    __tablename__ = "patrol_check_in"
    __table_args__ = (
        CheckConstraint(
            f"geom IS NULL OR ST_CoveredBy(geom, {ENVELOPE_SQL})", name="geom_in_china"
        ),
        CheckConstraint("note IS NULL OR char_length(note) <= 2000", name="note_length"),
        CheckConstraint("photo IS NULL OR char_length(photo) <= 500", name="photo_length"),
        Index("ix_patrol_check_in_household_at", "household_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: No cascade: a patrol with check-ins cannot be deleted by the application.
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrol.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    distance_m: Mapped[float | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PatrolReach(Base):
    """Derived: the households a patrol reached, how (``check_in`` wins over ``pass_by``),
    when and how far from the track or check-in. Recomputed by
    ``gridmap.storage.patrols.refresh_reach`` when a patrol ends or is uploaded, and on every
    check-in."""

    __tablename__ = "patrol_reach"
    __table_args__ = (
        CheckConstraint(in_list("how", REACH_HOWS), name="how_known"),
        Index("ix_patrol_reach_household_at", "household_id", "at"),
    )

    patrol_id: Mapped[int] = mapped_column(
        ForeignKey("patrol.id", ondelete="CASCADE"), primary_key=True
    )
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True
    )
    how: Mapped[str] = mapped_column(String(10))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    distance_m: Mapped[float | None] = mapped_column()


#: How a visit was made: at the door (入户), by telephone or by WeChat.
VISIT_CHANNELS = ("in_person", "phone", "wechat")
#: What a visit found (民情日志 topics; labels in ``gridmap.core.glossary.VISIT_TOPICS``).
VISIT_TOPICS = (
    "health",
    "housing",
    "employment",
    "disputes",
    "elderly_care",
    "safety",
    "environment",
    "policy",
    "other",
)


class HouseholdVisit(Base):
    """民情日志: a member's or grid worker's visit to a household they cover — when, how
    (入户, 电话, 微信), the topics found and a note; the patrol it was made on, if any, and
    the request filed from it (``request_id``). An in-person visit counts for the household
    lists as a check-in would. Append-only but for ``request_id``."""

    __tablename__ = "household_visit"
    __table_args__ = (
        CheckConstraint(in_list("channel", VISIT_CHANNELS), name="channel_known"),
        CheckConstraint(in_array("topics", VISIT_TOPICS), name="topics_known"),
        CheckConstraint("note IS NULL OR char_length(note) <= 2000", name="note_length"),
        Index("ix_household_visit_household_at", "household_id", "at"),
        Index("ix_household_visit_person_at", "person_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    #: The account that recorded it.
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrol.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(10))
    topics: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    note: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("resident_request.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
