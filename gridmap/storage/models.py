"""SQLAlchemy models of the grid, households, people, assignments and coverage; accounts and
the audit log; residents' requests with their categories, timeline and idempotency keys.

Geometries are stored in EPSG:4490 (CGCS2000). The database keeps its own checks as the last
line of defence: geometries valid, non-empty and inside China's envelope, grid codes shaped by
level and unique within a validity period (an exclusion constraint over a date range).
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gridmap.requests import lifecycle

SRID = 4490
#: China's envelope in degrees (lon_min, lat_min, lon_max, lat_max), generous at the edges.
CHINA_ENVELOPE = (73.0, 3.0, 136.0, 54.0)

GRID_LEVELS = ("community", "zone", "micro")
GRID_KINDS = ("ordinary", "dedicated")
PERSON_KINDS = (
    "party_member",
    "grid_worker",
    "volunteer",
    "building_leader",
    "in_service_member",
)
ROLES = ("chief", "zone_leader", "grid_worker", "building_leader")
CARE_TAGS = ("elderly_alone", "disabled", "low_income", "left_behind_child", "veteran")

_ENVELOPE_SQL = "ST_MakeEnvelope({}, {}, {}, {}, {})".format(*CHINA_ENVELOPE, SRID)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _geometry_checks(column: str = "geom") -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(f"ST_IsValid({column})", name="geom_valid"),
        CheckConstraint(f"NOT ST_IsEmpty({column})", name="geom_not_empty"),
        CheckConstraint(f"ST_CoveredBy({column}, {_ENVELOPE_SQL})", name="geom_in_china"),
    )


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Grid(Base):
    """网格: a community (社区), zone (片区) or micro-grid (微网格) polygon.

    Codes: a community carries its 12-digit statistical division code; a zone appends a
    2-digit sequence number, a micro-grid 3 more digits. A redraw closes the old row
    (``valid_to``) and inserts a new one, so history stays queryable.
    """

    __tablename__ = "grid"
    __table_args__ = (
        *_geometry_checks(),
        CheckConstraint(_in_list("level", GRID_LEVELS), name="level_known"),
        CheckConstraint(_in_list("kind", GRID_KINDS), name="kind_known"),
        CheckConstraint(
            "(level = 'community' AND code ~ '^[0-9]{12}$' AND parent_id IS NULL)"
            " OR (level = 'zone' AND code ~ '^[0-9]{14}$' AND parent_id IS NOT NULL)"
            " OR (level = 'micro' AND code ~ '^[0-9]{17}$' AND parent_id IS NOT NULL)",
            name="code_shape",
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        Index("ix_grid_geom", "geom", postgresql_using="gist"),
        Index("ix_grid_current_level", "level", postgresql_where="valid_to IS NULL"),
        Index("ix_grid_code_id", "code", postgresql_include=["id"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(17), index=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10), server_default="ordinary")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    valid_from: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    #: Bumped by every change of staffing or coverage in the grid's subtree or chain, so that
    #: two chiefs editing the same area cannot overwrite each other (ETag / If-Match).
    revision: Mapped[int] = mapped_column(Integer, server_default="0")
    #: ``ST_PointOnSurface(geom)``, kept by the database: where the grid's aggregates are drawn.
    label_point: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False),
        Computed("ST_PointOnSurface(geom)", persisted=True),
    )

    parent: Mapped[Grid | None] = relationship(remote_side=[id])


class Household(Base):
    """户: a household at a point, with its micro-grid derived from the point.

    ``micro_grid_id`` is kept by database triggers (see the migration): set from the point on
    insert when not given and on every move, and recomputed when micro-grids change.
    """

    __tablename__ = "household"
    __table_args__ = (
        *_geometry_checks(),
        CheckConstraint("residents >= 0 AND residents < 100", name="residents_range"),
        CheckConstraint(
            f"care_tags <@ ARRAY[{', '.join(repr(t) for t in CARE_TAGS)}]::text[]",
            name="care_tags_known",
        ),
        Index("ix_household_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    address: Mapped[str] = mapped_column(Text)
    building: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    room: Mapped[str | None] = mapped_column(Text)
    residents: Mapped[int] = mapped_column(Integer, server_default="1")
    care_tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    micro_grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)


class Person(Base):
    """A party member, grid worker, volunteer, building leader or in-service member (在职党员)."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint(_in_list("kind", PERSON_KINDS), name="kind_known"),
        CheckConstraint("phone IS NULL OR phone ~ '^[0-9+\\-]{5,20}$'", name="phone_shape"),
        CheckConstraint(
            f"home IS NULL OR ST_CoveredBy(home, {_ENVELOPE_SQL})", name="home_in_china"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    #: 身份证号: only a keyed hash (to find duplicates) and the masked form are stored.
    id_number_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(20))
    home_community_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    #: Where the person lives: divisions of households keep members near home.
    home: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )


class Assignment(Base):
    """A person staffing a grid with a role: 总网格长, 网格长, 网格员 or 楼栋长.

    The post runs from ``start_date`` up to, not including, ``end_date``.
    """

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint(_in_list("role", ROLES), name="role_known"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class Coverage(Base):
    """党员分片包户: a member looks after a household."""

    __tablename__ = "coverage"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# --------------------------------------------------------------------------- accounts and audit

#: Roles of a user account. The three administrators (三员分立) hold no data role:
#: the system administrator manages accounts, the security administrator grants roles and
#: scopes, the audit administrator reads the audit log; none can do another's job.
USER_ROLES = (
    "street_admin",
    "chief",
    "zone_leader",
    "grid_worker",
    "member",
    "auditor",
    "system_admin",
    "security_admin",
    "audit_admin",
)
AUDIT_OUTCOMES = ("ok", "denied", "failed")


class User(Base):
    """An account. ``scope_code`` is a grid-code prefix: a county (6 digits), a street (9), a
    community (12), a zone (14) or a micro-grid (17); a member's scope is the households the
    linked person covers."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(_in_list("role", USER_ROLES), name="role_known"),
        CheckConstraint(
            "scope_code IS NULL"
            " OR scope_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$'",
            name="scope_shape",
        ),
        CheckConstraint("username ~ '^[A-Za-z0-9._-]{3,40}$'", name="username_shape"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(20))
    scope_code: Mapped[str | None] = mapped_column(String(17))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    active: Mapped[bool] = mapped_column(server_default="true")
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AuthSession(Base):
    """A login: a browser session (``web``) or a bearer token (``bearer``), kept server-side so
    that logout and timeouts end it. Only a SHA-256 of the secret is stored."""

    __tablename__ = "auth_session"
    __table_args__ = (CheckConstraint("kind IN ('web', 'bearer')", name="kind_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """An append-only audit record: who, when, what, from where, with what outcome.

    The application's database role may only SELECT and INSERT here (see the migration).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(_in_list("outcome", AUDIT_OUTCOMES), name="outcome_known"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str | None] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(20))
    object_id: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(10))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, server_default="{}")


# --------------------------------------------------------------------------- residents' requests

#: Event classes of city management (GB/T 30428 family) and community-service classes.
CATEGORY_CLASSES = (
    "市容环境",
    "宣传广告",
    "施工管理",
    "突发事件",
    "街面秩序",
    "邻里纠纷",
    "养老服务",
    "物业管理",
    "水电气暖",
    "其他",
)
#: Where a request is handled: 小事网格办、大事站所办.
HANDLING_LEVELS = ("micro", "zone", "community", "street", "department")
REQUEST_SOURCES = ("api", "page", "open311")
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
#: The database refuses any state the lifecycle does not know.
REQUEST_STATES = lifecycle.STATES


class Category(Base):
    """诉求类别: one version of a category of requests with its rules.

    ``time_limits`` holds the limit of each stage, ``{stage: {"amount": n, "unit": "hours" |
    "days"}}``, counted in working time. An edit closes the current version (``valid_to``) and
    inserts the next one, so a request keeps the rules of the version it was filed under.
    """

    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name="code_shape"),
        CheckConstraint(_in_list("event_class", CATEGORY_CLASSES), name="class_known"),
        CheckConstraint(_in_list("default_level", HANDLING_LEVELS), name="level_known"),
        CheckConstraint("jsonb_typeof(time_limits) = 'object'", name="time_limits_object"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        UniqueConstraint("code", "version", name="uq_category_code_version"),
        Index("uq_category_current_code", "code", unique=True, postgresql_where="valid_to IS NULL"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(Text)
    event_class: Mapped[str] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(Text)
    default_level: Mapped[str] = mapped_column(String(12), server_default="micro")
    time_limits: Mapped[dict[str, object]] = mapped_column(JSONB, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    valid_from: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ResidentRequest(Base):
    """群众诉求: a resident's request, located to its micro-grid and owned at every moment.

    The owner is a person (grid worker, zone leader, chief), or, once escalated beyond the
    community, the street (``owner_user_id``, a street administrator, may be unset: the whole
    street's scope sees it) or a summoned department (``department``). Contact details are
    personal data: masked in every answer. ``revision`` is the ETag's counter.
    """

    __tablename__ = "resident_request"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        CheckConstraint("NOT ST_IsEmpty(geom)", name="geom_not_empty"),
        CheckConstraint(f"ST_CoveredBy(geom, {_ENVELOPE_SQL})", name="geom_in_china"),
        CheckConstraint("char_length(description) BETWEEN 1 AND 2000", name="description_length"),
        CheckConstraint(_in_list("state", REQUEST_STATES), name="state_known"),
        CheckConstraint(_in_list("level", HANDLING_LEVELS), name="level_known"),
        CheckConstraint(_in_list("source", REQUEST_SOURCES), name="source_known"),
        CheckConstraint(f"rating IS NULL OR {_in_list('rating', RATINGS)}", name="rating_known"),
        CheckConstraint("reopen_count >= 0", name="reopen_count_positive"),
        CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
        CheckConstraint(
            "contact_phone IS NULL OR contact_phone ~ '^[0-9+\\-]{5,20}$'", name="phone_shape"
        ),
        CheckConstraint("jsonb_typeof(photos) = 'array'", name="photos_array"),
        Index("ix_resident_request_geom", "geom", postgresql_using="gist"),
        # A vector tile's raw points: inside a box and filed in the reviewed periods (0007).
        Index("ix_resident_request_geom_created_at", "geom", "created_at", postgresql_using="gist"),
        Index("ix_resident_request_owner_state", "owner_person_id", "state"),
        Index("ix_resident_request_state_deadline", "state", "stage_deadline"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    micro_grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    level: Mapped[str] = mapped_column(String(12))
    owner_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    department: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    reopen_count: Mapped[int] = mapped_column(Integer, server_default="0")
    rating: Mapped[str | None] = mapped_column(String(20))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("resident_request.id"))
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[object]] = mapped_column(JSONB, server_default="[]")
    source: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    #: When the current stage began and when its time limit runs out (None: no limit).
    stage_started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    stage_deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The resolution rate's due date (``gridmap.requests.rates``): the first handling stage's
    #: deadline once accepted, before that the response stage's deadline (else the filing time).
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    revision: Mapped[int] = mapped_column(Integer, server_default="0")


class RequestEvent(Base):
    """One step of a request's timeline: who did what, when, from which state to which.

    Append-only: the application's database role may only SELECT and INSERT here.
    """

    __tablename__ = "request_event"
    __table_args__ = (
        CheckConstraint("jsonb_typeof(photos) = 'array'", name="photos_array"),
        Index("ix_request_event_request_at", "request_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: No cascade: a request with a timeline cannot be deleted by the application.
    request_id: Mapped[int] = mapped_column(ForeignKey("resident_request.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(12))
    owner_person_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[object]] = mapped_column(JSONB, server_default="[]")
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, server_default="{}")


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` of a user's write and the answer it got, so that a retry gets
    the same answer and a key reused for another body is refused."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        CheckConstraint("char_length(key) BETWEEN 1 AND 200", name="key_length"),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    #: The answer exactly as sent (JSON text), so that a replay is byte for byte the same.
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class _TallyColumns:
    """A period (week ``W`` or month ``M``, by filing date in Asia/Shanghai), a micro-grid (the
    version the requests were filed in) and how many of its requests are in each state now."""

    period_kind: Mapped[str] = mapped_column(CHAR(1), primary_key=True)
    period_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    micro_grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), primary_key=True)
    reported: Mapped[int] = mapped_column(Integer, server_default="0")
    accepted: Mapped[int] = mapped_column(Integer, server_default="0")
    handling: Mapped[int] = mapped_column(Integer, server_default="0")
    completed: Mapped[int] = mapped_column(Integer, server_default="0")
    feedback: Mapped[int] = mapped_column(Integer, server_default="0")
    archived: Mapped[int] = mapped_column(Integer, server_default="0")
    duplicate: Mapped[int] = mapped_column(Integer, server_default="0")


class RequestTally(_TallyColumns, Base):
    """Requests filed per period, micro-grid and category code, a count column per state.
    Kept current by statement triggers on ``resident_request`` (migration 0008); the
    application only reads it."""

    __tablename__ = "request_tally"
    __table_args__ = (
        CheckConstraint("period_kind IN ('W', 'M')", name="kind_known"),
        Index("ix_request_tally_micro_grid_period", "micro_grid_id", "period_kind", "period_start"),
    )

    category_code: Mapped[str] = mapped_column(String(40), primary_key=True)


class RequestTallyGrid(_TallyColumns, Base):
    """:class:`RequestTally` summed over categories: at most one row per micro-grid and
    period, what a review without a category filter reads."""

    __tablename__ = "request_tally_grid"
    __table_args__ = (
        CheckConstraint("period_kind IN ('W', 'M')", name="kind_known"),
        Index(
            "ix_request_tally_grid_micro_grid_period",
            "micro_grid_id",
            "period_kind",
            "period_start",
        ),
    )


# ------------------------------------------------------------------- patrols and visits (3+N)

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


def _in_array(column: str, values: tuple[str, ...]) -> str:
    return f"{column} <@ ARRAY[{', '.join(repr(v) for v in values)}]::text[]"


class WorkList(Base):
    """工作清单: one of the 3+N lists and its rule: which households or grids, how often, by
    whom, where (``grid_code``: grids whose code starts with it; None everywhere) and when
    (special lists run once within their validity)."""

    __tablename__ = "work_list"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name="code_shape"),
        CheckConstraint(_in_list("kind", WORK_LIST_KINDS), name="kind_known"),
        CheckConstraint(_in_list("target", WORK_LIST_TARGETS), name="target_known"),
        CheckConstraint(_in_list("period", WORK_LIST_PERIODS), name="period_known"),
        CheckConstraint(_in_list("grid_level", GRID_LEVELS), name="level_known"),
        CheckConstraint(_in_list("min_reach", REACH_HOWS), name="min_reach_known"),
        CheckConstraint(
            f"{_in_array('roles', WORK_LIST_ROLES)} AND cardinality(roles) > 0", name="roles_known"
        ),
        CheckConstraint(_in_array("care_tags", CARE_TAGS), name="care_tags_known"),
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
            f"track IS NULL OR ST_CoveredBy(track, {_ENVELOPE_SQL})", name="track_in_china"
        ),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="times_ordered"),
        CheckConstraint(_in_list("source", PATROL_SOURCES), name="source_known"),
        CheckConstraint("jsonb_typeof(track_report) = 'object'", name="report_object"),
        Index("ix_patrol_track", "track", postgresql_using="gist"),
        Index("ix_patrol_person_started", "person_id", "started_at"),
        Index("ix_patrol_list_started", "work_list_id", "started_at"),
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
    """

    __tablename__ = "patrol_point"
    __table_args__ = (
        CheckConstraint("seq >= 0", name="seq_positive"),
        CheckConstraint(f"ST_CoveredBy(geom, {_ENVELOPE_SQL})", name="geom_in_china"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy_positive"),
    )

    patrol_id: Mapped[int] = mapped_column(
        ForeignKey("patrol.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    accuracy_m: Mapped[float | None] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PatrolCheckIn(Base):
    """入户签到: a worker at a household during a patrol: when, where the phone was (and how
    far from the household), a note and a photo. Append-only."""

    __tablename__ = "patrol_check_in"
    __table_args__ = (
        CheckConstraint(
            f"geom IS NULL OR ST_CoveredBy(geom, {_ENVELOPE_SQL})", name="geom_in_china"
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
        CheckConstraint(_in_list("how", REACH_HOWS), name="how_known"),
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
