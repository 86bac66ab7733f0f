"""Accounts, login sessions and the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridmap.storage.models.base import Base, in_list

#: Roles of a user account. A verifier (核查回访员) of a community or a street records 回访
#: and on-site checks and handles nothing. The three administrators (三员分立) hold no data
#: role: the system administrator manages accounts, the security administrator grants roles
#: and scopes, the audit administrator reads the audit log; none can do another's job.
USER_ROLES = (
    "street_admin",
    "chief",
    "zone_leader",
    "grid_worker",
    "department",
    "member",
    "unit",
    "auditor",
    "verifier",
    "system_admin",
    "security_admin",
    "audit_admin",
)
AUDIT_OUTCOMES = ("ok", "denied", "failed")
#: What a notice to an account's user tells (the text is the glossary's ``NOTICES``).
NOTICE_KINDS = ("password_reset",)
#: Roles an API key may be issued with: the data roles, never an administrator's.
API_KEY_ROLES = ("street_admin", "chief", "zone_leader", "grid_worker", "member", "auditor")
#: The kinds of data whose changes ``change_count`` counts.
CHANGE_COUNTS = ("login", "grid")


class User(Base):
    """An account. ``scope_code`` is a grid-code prefix: a county (6 digits), a street (9), a
    community (12), a zone (14) or a micro-grid (17); a member's scope is the households the
    linked person covers; a department account's, the requests of its department."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(in_list("role", USER_ROLES), name="role_known"),
        CheckConstraint(
            "scope_code IS NULL"
            " OR scope_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$'",
            name="scope_shape",
        ),
        CheckConstraint("username ~ '^[A-Za-z0-9._-]{3,40}$'", name="username_shape"),
        # A department account acts for exactly one department; no other account does.
        CheckConstraint(
            "coalesce(role = 'department', false) = (department_id IS NOT NULL)",
            name="department_link",
        ),
        # A unit's account (单位党组织, 双报告) reads its own unit's members; no other does.
        CheckConstraint(
            "coalesce(role = 'unit', false) = (party_unit_id IS NOT NULL)", name="unit_link"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(20))
    scope_code: Mapped[str | None] = mapped_column(String(17))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    #: The department a ``department`` account acts for (职能部门).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    #: The unit a ``unit`` account reads the 双报告 of (单位党组织).
    party_unit_id: Mapped[int | None] = mapped_column(ForeignKey("party_unit.id"), index=True)
    active: Mapped[bool] = mapped_column(server_default="true")
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    #: The password is a one-time password from an administrator's reset: a login with it
    #: may only choose a new password (and log out).
    must_change_password: Mapped[bool] = mapped_column(server_default="false")
    #: When that one-time password stops logging in (None: the password does not expire).
    password_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserNotice(Base):
    """A notice to an account's user about their account, shown at their next login (the
    change-password page, ``GET /api/v1/auth/me``) until read: e.g. that an administrator
    reset their password, when and who (``actor``)."""

    __tablename__ = "user_notice"
    __table_args__ = (CheckConstraint(in_list("kind", NOTICE_KINDS), name="kind_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    #: The username of the administrator who acted.
    actor: Mapped[str] = mapped_column(String(60))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """An API key of a client application (Open311), issued by the system administrator with
    a role and scope like a user's. Only the SHA-256 of the key is stored, and its first
    characters (``key_prefix``) to recognise it; ``revoked_at`` ends it. The key acts through
    an account of its own (``user_id``: ``apikey-<id>``, inactive, without role or known
    password), which its requests' ``created_by`` and its audit rows name."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint(in_list("role", API_KEY_ROLES), name="role_known"),
        CheckConstraint(
            "scope_code IS NULL"
            " OR scope_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$'",
            name="scope_shape",
        ),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    scope_code: Mapped[str | None] = mapped_column(String(17))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class LoginThrottle(Base):
    """Failed logins of one typed username from one address, and until when that pair must
    wait (progressive delay). Keyed by the name as typed, whether an account has it or not,
    so the answers cannot tell the two apart; one address cannot lock an account out for
    everyone else."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_last_failure_at", "last_failure_at"),)

    username: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: The client's address ('' when unknown).
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, server_default="0")
    last_failure_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    blocked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


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

    The application's database role may only SELECT and INSERT here. A trigger (migration
    0014) sets ``id``, ``at`` (the database's clock), ``chain_seq``, ``prev_hash`` and
    ``hash`` whatever the insert says, and ``username`` from ``app_user`` when ``user_id`` is
    set; rows without ``user_id`` (failed logins, the CLI) keep the name they were given.

    Partitioned by month on ``at`` (migration 0034, :mod:`gridmap.storage.partitions`): the
    database's primary key is ``(id, at)`` and the chain position is unique with ``at``, as a
    partitioned table requires; ``id`` alone identifies a row to the ORM (one sequence).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(in_list("outcome", AUDIT_OUTCOMES), name="outcome_known"),
        UniqueConstraint("chain_seq", "at", name="uq_audit_log_chain_seq"),
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
    #: Position in the hash chain (1, 2, …; the prune moves the chain's start forward).
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 (hex) of the row before in the chain, or the anchor's.
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 (hex) of ``gridmap_audit_canonical(row)``, which includes ``prev_hash``.
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The audit chain's last position and hash (one row). Audited transactions lock it in
    turn; only the audit trigger writes it."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("one", name="one_row"),)

    one: Mapped[bool] = mapped_column(primary_key=True, server_default="true")
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class ChangeCount(Base):
    """How many times a kind of data has changed: one row per ``name``, counted up by
    statement-level triggers (migration 0033) in the transaction of the change, so a process
    that keeps something derived from that data (a login's caller, a grid tile) knows it is
    still current by reading one number. ``login``: a login ended, an account changed;
    ``grid``: any grid written. Only the triggers write it."""

    __tablename__ = "change_count"
    __table_args__ = (CheckConstraint(in_list("name", CHANGE_COUNTS), name="name_known"),)

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default="0")


class AuditChainAnchor(Base):
    """Where the audit chain now starts (one row): the position and hash of the last row
    pruned (0 and 64 zeros before any). Only ``gridmap_prune_audit`` writes it."""

    __tablename__ = "audit_chain_anchor"
    __table_args__ = (CheckConstraint("one", name="one_row"),)

    one: Mapped[bool] = mapped_column(primary_key=True, server_default="true")
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    pruned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
