"""Residents' requests: categories, requests, their timeline, idempotency keys and tallies."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.requests import lifecycle
from gridmap.storage.models.base import ENVELOPE_SQL, SRID, Base, in_list

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
HANDLING_LEVELS = lifecycle.LEVELS
REQUEST_SOURCES = ("api", "page", "open311", "public")
#: 查询码: what a resident types to follow a request filed through the public channel
#: (12 characters; no 0/O, 1/I/L to misread).
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RATINGS = lifecycle.RATINGS
#: The database refuses any state the lifecycle does not know.
REQUEST_STATES = lifecycle.STATES
STAGES = tuple(dict.fromkeys(s for s in lifecycle.STAGE_OF.values() if s is not None))
#: 红黄牌 raised by the scheduler, and the kinds of message in the outbox.
CARD_COLOURS = ("yellow", "red")
OUTBOX_KINDS = (
    "due_soon",
    "overdue",
    "assigned",
    "returned",
    "summoned",
    "accepted",
    "completed",
    "please_rate",
    # The public channel's one-time code (公众上报), to the phone it verifies.
    "verify_code",
)
#: Messages the recipient asked for just now: sent although they opted out of the others.
OUTBOX_ASKED_FOR = ("verify_code",)
#: How a message in the outbox ended: sent, not sent to a recipient who opted out, or given
#: up after the last retry.
OUTBOX_OUTCOMES = ("sent", "opted_out", "gave_up")
#: How a stage limit is counted (``gridmap.requests.deadlines``).
STAGE_BASES = ("working", "clock")
#: 一般, 紧急, 特急: an urgent request's limits are shortened (``GRIDMAP_URGENCY_FACTORS``).
URGENCIES = ("normal", "urgent", "critical")


class Category(Base):
    """诉求类别: one version of a category of requests with its rules.

    ``time_limits`` holds the limit of each stage, ``{stage: {"amount": n, "unit": "hours" |
    "days", "basis": "clock" | "working"}}``, counted in elapsed or working time (working when
    ``basis`` is left out); ``escalate_on_lapse`` the stages whose lapse climbs the request one
    level by itself (the scheduler, :mod:`gridmap.requests.sweeps`). An edit closes the current
    version (``valid_to``) and inserts the next one, so a request keeps the rules of the
    version it was filed under.
    """

    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("code ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name="code_shape"),
        CheckConstraint(in_list("event_class", CATEGORY_CLASSES), name="class_known"),
        CheckConstraint(in_list("default_level", HANDLING_LEVELS), name="level_known"),
        CheckConstraint("jsonb_typeof(time_limits) = 'object'", name="time_limits_object"),
        CheckConstraint(
            "jsonb_typeof(escalate_on_lapse) = 'array'", name="escalate_on_lapse_array"
        ),
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
    escalate_on_lapse: Mapped[list[object]] = mapped_column(JSONB, server_default="[]")
    #: 核查: a verifier must confirm on site, with a photo, before the request is closed.
    requires_check: Mapped[bool] = mapped_column(server_default="false")
    #: 处置后照片: completing a request needs an "after" photo of the result.
    requires_after_photo: Mapped[bool] = mapped_column(server_default="false")
    #: 公众上报: residents may choose it on the public channel.
    open_to_public: Mapped[bool] = mapped_column(server_default="true")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    valid_from: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ResidentRequest(Base):
    """群众诉求: a resident's request, located to its micro-grid and owned at every moment.

    The owner is a person (grid worker, zone leader, chief), or, once escalated beyond the
    community, the street (``owner_user_id``, a street administrator, may be unset: the whole
    street's scope sees it) or a summoned department (``department_id``). Contact details are
    personal data: masked in every answer. ``revision`` is the ETag's counter.
    """

    __tablename__ = "resident_request"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        CheckConstraint("NOT ST_IsEmpty(geom)", name="geom_not_empty"),
        CheckConstraint(f"ST_CoveredBy(geom, {ENVELOPE_SQL})", name="geom_in_china"),
        CheckConstraint("char_length(description) BETWEEN 1 AND 2000", name="description_length"),
        CheckConstraint(in_list("state", REQUEST_STATES), name="state_known"),
        CheckConstraint(in_list("level", HANDLING_LEVELS), name="level_known"),
        CheckConstraint(in_list("source", REQUEST_SOURCES), name="source_known"),
        CheckConstraint(f"rating IS NULL OR {in_list('rating', RATINGS)}", name="rating_known"),
        CheckConstraint("reopen_count >= 0", name="reopen_count_positive"),
        CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
        CheckConstraint(
            "contact_phone IS NULL OR contact_phone ~ '^[0-9+\\-]{5,20}$'", name="phone_shape"
        ),
        CheckConstraint("jsonb_typeof(photos) = 'array'", name="photos_array"),
        CheckConstraint(in_list("stage_basis", STAGE_BASES), name="stage_basis_known"),
        CheckConstraint(in_list("urgency", URGENCIES), name="urgency_known"),
        CheckConstraint(
            f"tracking_number IS NULL OR tracking_number ~ '^[{TRACKING_ALPHABET}]{{12}}$'",
            name="tracking_number_shape",
        ),
        UniqueConstraint("tracking_number", name="uq_resident_request_tracking_number"),
        Index("ix_resident_request_geom", "geom", postgresql_using="gist"),
        # A vector tile's raw points: inside a box and filed in the reviewed periods (0007).
        Index("ix_resident_request_geom_created_at", "geom", "created_at", postgresql_using="gist"),
        Index("ix_resident_request_owner_state", "owner_person_id", "state"),
        Index("ix_resident_request_state_deadline", "state", "stage_deadline"),
        # The review's overdue filter: the few requests whose clock runs, by deadline (0035).
        Index(
            "ix_resident_request_running_clock",
            "stage_deadline",
            "created_at",
            postgresql_include=["micro_grid_id", "category_id"],
            postgresql_where=text(in_list("state", lifecycle.CLOCKED)),
        ),
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
    #: The summoned department (职能部门) owning it at level ``department``.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
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
    #: How the running stage's limit is counted: its yellow card is measured the same way.
    stage_basis: Mapped[str] = mapped_column(String(8), server_default="working")
    #: 一般, 紧急 or 特急: shortens every stage limit by its configured factor.
    urgency: Mapped[str] = mapped_column(String(8), server_default="normal")
    #: The resolution rate's due date (``gridmap.requests.rates``): the first handling stage's
    #: deadline once accepted, before that the response stage's deadline (else the filing time).
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    revision: Mapped[int] = mapped_column(Integer, server_default="0")
    #: 查询码 of a request filed through the public channel (公众上报), else None.
    tracking_number: Mapped[str | None] = mapped_column(String(12))


class RequestEvent(Base):
    """One step of a request's timeline: who did what, when, from which state to which.

    Append-only: the application's database role may only SELECT and INSERT here.
    Partitioned by month on ``at`` (migration 0034, :mod:`gridmap.storage.partitions`): the
    database's primary key is ``(id, at)``; ``id`` alone identifies a row to the ORM. A query
    of a request's timeline that bounds ``at`` (from the request's ``created_at``) reads only
    the months it spans.
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


class RequestCard(Base):
    """红黄牌 raised: a yellow or red card of one stage run of a request (the stage and when it
    began), raised once by the scheduler with a timeline event."""

    __tablename__ = "request_card"
    __table_args__ = (
        CheckConstraint(in_list("colour", CARD_COLOURS), name="colour_known"),
        CheckConstraint(in_list("stage", STAGES), name="stage_known"),
        UniqueConstraint(
            "request_id", "stage", "stage_started_at", "colour", name="uq_request_card_stage_run"
        ),
        Index("ix_request_card_raised_at", "raised_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("resident_request.id"))
    stage: Mapped[str] = mapped_column(String(12))
    stage_started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    colour: Mapped[str] = mapped_column(String(6))
    #: The stage deadline the card was raised against.
    deadline: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Outbox(Base):
    """A message for someone, written in the transaction of the event that caused it and
    delivered later by the sender (:mod:`gridmap.notify.sender`); one per request, stage run
    and kind. The recipient is an account, a person, a department (its accounts and its WeCom
    group robot) or a phone (the resident's); a level's whole scope has none: the payload
    names it. ``outcome`` is set once the message is done with (``sent_at`` when sent);
    until then ``next_attempt_at`` says when it is tried next."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(in_list("kind", OUTBOX_KINDS), name="kind_known"),
        CheckConstraint("jsonb_typeof(payload) = 'object'", name="payload_object"),
        CheckConstraint(in_list("outcome", OUTBOX_OUTCOMES), name="outcome_known"),
        CheckConstraint("attempts >= 0 AND key_round >= 0", name="attempts_counted"),
        CheckConstraint("(outcome = 'sent') = (sent_at IS NOT NULL)", name="sent_when_sent"),
        UniqueConstraint(
            "request_id", "stage", "stage_started_at", "kind", name="uq_outbox_stage_run_kind"
        ),
        Index("ix_outbox_due", "next_attempt_at", postgresql_where="outcome IS NULL"),
        # The daily prune's: messages done with, by age (migration 0040).
        Index("ix_outbox_done_created_at", "created_at", postgresql_where="outcome IS NOT NULL"),
        Index("ix_outbox_recipient_user_id", "recipient_user_id"),
        Index("ix_outbox_recipient_person_id", "recipient_person_id"),
        Index("ix_outbox_recipient_department_id", "recipient_department_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recipient_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    recipient_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    #: The resident's contact phone (shown masked everywhere).
    recipient_phone: Mapped[str | None] = mapped_column(String(20))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("resident_request.id"))
    stage: Mapped[str | None] = mapped_column(String(12))
    stage_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, object]] = mapped_column(JSONB)
    #: Urgent messages are sent in quiet hours too.
    urgent: Mapped[bool] = mapped_column(server_default="false")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    #: Bumped when a provider refused the message: the next try is a new message to it (a new
    #: idempotency key); a try whose answer was lost keeps the key, so it is not sent twice.
    key_round: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(10))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


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

    #: How many statements changed this row (migration 0035): the stored hot spots of a
    #: period hold the sum over their periods, and are stale once it moved.
    changes: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RequestRateFact(Base):
    """What one request contributes to the 三率 (:mod:`gridmap.requests.rates`), kept as its
    timeline grows (:mod:`gridmap.storage.rate_facts`, migration 0035) so that the rates of
    a period read one row per request instead of replaying its timeline. No row: never
    accepted, no response deadline, never answered.

    ``accepted_at``: its first ``accept``; ``response_deadline``: the deadline of the
    response stage that accept closed (before it: of the open one); ``first_answer_at`` and
    ``last_answer_at``: its first and latest answer (``rate`` or ``callback``), and the
    latest one's satisfaction and 已解决.
    """

    __tablename__ = "request_rate_fact"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("resident_request.id", ondelete="CASCADE"), primary_key=True
    )
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    response_deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    first_answer_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_answer_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answer_rating: Mapped[str | None] = mapped_column(String(40))
    answer_resolved: Mapped[bool | None] = mapped_column(Boolean)


class ReviewHotSpots(Base):
    """The hot-spot answer of a review whose periods are over (:func:`gridmap.review.service.
    hot_spots`), by its filter (``key``), valid while the grid change count and the tally's
    change sum over the periods it read (``stamp``) are those it was computed under."""

    __tablename__ = "review_hot_spots"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    stamp: Mapped[str] = mapped_column(Text)
    answer: Mapped[dict[str, object]] = mapped_column(JSONB)
    computed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
