"""Accounts, logins and what a caller may see (scope) and do (capabilities).

Passwords are hashed with argon2. A login is a server-side ``auth_session`` row found by the
SHA-256 of a random secret (a cookie for pages, a bearer token for scripts and phones), so
logout, idle and absolute timeouts end it on the server. Five failed logins in a row lock an
account for 15 minutes (configurable).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.core import clock
from gridmap.core.errors import GridmapError
from gridmap.core.privacy import Disclosure, disclosure_for
from gridmap.core.settings import Settings
from gridmap.storage import change_counts
from gridmap.storage.models import AuthSession, LoginThrottle, User

# argon2-cffi's defaults (RFC 9106's low-memory profile). A hash carries its parameters, so
# any hash verifies whatever the current ones.
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures take the same time; made
# at the first such login rather than at import (a hash costs a noticeable part of a second).
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash new passwords with ``hasher``'s parameters: the test suite's cheap ones, where the
    production cost would take half the CPU of the tests. Never called by the application."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a password of anyone")
    return _dummy_hash


# A name and address quiet this long start their failure count afresh.
_FORGET_AFTER = dt.timedelta(days=1)
# last_seen_at is written at most this often, not on every request.
_TOUCH_EVERY = dt.timedelta(seconds=60)

SIGNED_IN = "signed-in"  # any logged-in account: its own logout and profile
READ = "read"  # grids, households, locate, search: within the scope, personal data masked
REVEAL = "reveal"  # plain personal data, one audit row per reveal
EXPORT = "export"  # downloads of in-scope tables, masked
ASSIGN = "assign"  # staff grids and divide households among members, within the scope
HANDLE = (
    "handle"  # file residents' requests and act on them (gridmap.requests.lifecycle), in the scope
)
ACCOUNTS = "accounts"  # system administrator: create accounts, reset passwords
CATALOGUE = "catalogue"  # system administrator: revise the request categories
ROLES = "roles"  # security administrator: grant roles and scopes, unlock accounts
AUDIT = "audit"  # audit administrator: search and export the audit log
REVIEW = "review"  # the monthly review of where requests concentrate, as aggregates in scope
VERIFY = "verify"  # 回访 and on-site checks (核查) of completed requests, in the scope
VISIT = "visit"  # 民情日志: record visits to households in the scope and file requests for them
#: 楼栋: record buildings and units, their 楼栋长 and 单元长, and 党员中心户, in the scope
BUILDINGS = "buildings"
PARTY = "party"  # 双报到: units, members' registrations, activities and attendance, in scope
SERVE = "serve"  # 党员报到: a member's own posts, activities of their community, check-ins, hours
UNIT_REPORT = "unit-report"  # 双报告: a unit's party organisation reads its members' quarter
CLAIM = (
    "claim"  # 双向认领: a member or unit offers resources, claims needs and 微心愿 of its community
)
IMPORT = "import"  # grid files through the import page: a street's grids, or anywhere (system)

CAPABILITIES: dict[str, frozenset[str]] = {
    "street_admin": frozenset(
        {READ, REVEAL, EXPORT, ASSIGN, HANDLE, REVIEW, IMPORT, BUILDINGS, PARTY}
    ),
    "chief": frozenset({READ, REVEAL, EXPORT, ASSIGN, HANDLE, REVIEW, BUILDINGS, PARTY}),
    "zone_leader": frozenset({READ, REVEAL, EXPORT, ASSIGN, HANDLE, REVIEW, BUILDINGS, PARTY}),
    "grid_worker": frozenset({READ, REVEAL, HANDLE, VISIT, BUILDINGS, PARTY}),
    # A department officer reads and handles its department's requests only (masked).
    "department": frozenset({READ, HANDLE}),
    # A party member (党员分片包户) records visits to the households they cover and files
    # requests for them; acting on requests stays with the staff.
    # An in-service member (在职党员) also reports to the community where they live (双报到).
    "member": frozenset({READ, VISIT, SERVE, CLAIM}),
    # A unit's party organisation (单位党组织) reads the quarter of its own members (双报告),
    # offers its resources and claims needs and wishes of the community it reports to.
    "unit": frozenset({UNIT_REPORT, CLAIM}),
    "auditor": frozenset({READ, EXPORT, REVIEW}),
    "verifier": frozenset({READ, VERIFY}),
    "system_admin": frozenset({ACCOUNTS, CATALOGUE, IMPORT}),
    "security_admin": frozenset({ROLES}),
    "audit_admin": frozenset({AUDIT}),
}
#: Roles whose scope is a grid subtree (a grid-code prefix) and roles scoped to a person.
SUBTREE_ROLES = ("street_admin", "chief", "zone_leader", "grid_worker", "auditor", "verifier")
#: Roles whose scope must be a community (12 digits) or a street (9 digits).
COMMUNITY_OR_STREET_ROLES = ("verifier",)
PERSON_ROLES = ("grid_worker", "member")


class AuthFailed(GridmapError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class LoginThrottled(GridmapError):
    """Too many failed logins of this name from this address: wait ``retry_after`` seconds.
    The same for every name, an account's or not."""

    status = 429
    code = "login-throttled"
    title = "Too many failed logins"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed logins with this username from your address: try again in "
            f"{retry_after} s."
        )
        self.retry_after = retry_after


class OneTimePasswordExpired(AuthFailed):
    """The right one-time password, past its expiry: only a new reset helps. Said only to
    whoever typed it, so it reveals nothing a wrong guess would."""

    code = "one-time-password-expired"


class Forbidden(GridmapError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


@dataclass(frozen=True)
class Scope:
    """What a caller may see: grids whose code starts with one of ``prefixes``, the
    households in them, and the households that person ``person_id`` covers; a department
    account (``department_id``) sees only the requests summoned to or co-handled by its
    department (no grid, no household); a unit's account (``party_unit_id``), only its own
    members' 双报到 quarter."""

    prefixes: tuple[str, ...] = ()
    person_id: int | None = None
    department_id: int | None = None
    party_unit_id: int | None = None

    @property
    def empty(self) -> bool:
        return (
            not self.prefixes
            and self.person_id is None
            and self.department_id is None
            and self.party_unit_id is None
        )


def job_scope(code: str | None) -> Scope:
    """The scope a background job runs in: its owner's grid prefix when it was asked for (the
    roles that export have one prefix and no person)."""
    return Scope((code,) if code else ())


def job_disclosure(session: Session, user_id: int) -> Disclosure:
    """What a background job shows plain: its owner's role's rule, as of when it runs (an
    account whose role has changed since gets what its role gives now)."""
    return disclosure_for(session.scalar(select(User.role).where(User.id == user_id)))


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request."""

    user_id: int
    username: str
    role: str
    scope: Scope
    session_id: int
    kind: str  # "web" or "bearer"
    #: Logged in with a one-time password: may only choose a new password (and log out).
    must_change_password: bool = False

    @property
    def capabilities(self) -> frozenset[str]:
        return CAPABILITIES.get(self.role, frozenset()) | {SIGNED_IN}

    @property
    def disclosure(self) -> Disclosure:
        """What this caller reads plain (doors of their duty, staff names): one rule."""
        return disclosure_for(self.role)


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the audit log."""

    ip: str | None = None
    user_agent: str | None = None


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise GridmapError("A password needs at least 8 characters.")
    return _hasher.hash(password)


def scope_of(user: User) -> Scope:
    prefixes = (user.scope_code,) if user.role in SUBTREE_ROLES and user.scope_code else ()
    person = user.person_id if user.role in PERSON_ROLES else None
    department = user.department_id if user.role == "department" else None
    unit = user.party_unit_id if user.role == "unit" else None
    return Scope(prefixes, person, department, unit)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refuse(session: Session, action: str, username: str, origin: Origin, why: str) -> None:
    audit.record(
        session, action, username=username, outcome="denied", origin=origin, detail={"reason": why}
    )
    session.commit()


def login(
    session: Session,
    username: str,
    password: str,
    *,
    kind: str,
    settings: Settings,
    origin: Origin,
) -> tuple[Caller, str]:
    """Check a password and open a session; returns the caller and its secret token.

    An unknown username and a wrong password answer alike (401, the same words) after the
    same work: one password hash verified, against a dummy hash for an unknown name. Failures
    are throttled per typed name and client address (:func:`_throttle`): once
    ``login_free_failures`` have failed, the pair waits 1 s, then 2, 4… up to
    ``login_max_delay_seconds`` before the next try, answered 429 without a hash, for an
    account and a made-up name alike. Other addresses are not held back, so nobody can lock
    an account out. Failures are committed (the count, the audit row) before the error is
    raised, so a rolled-back request cannot undo them. A one-time password (an
    administrator's reset) logs in until it expires, into the change-password step only
    (``Caller.must_change_password``).
    """
    name = username.strip().lower()
    address = (origin.ip or "")[:64]
    throttle = _throttle(session, name[:200], address)
    now = clock.now()
    if throttle.blocked_until is not None and throttle.blocked_until > now:
        _refuse(session, "login", name, origin, "throttled")
        raise LoginThrottled(math.ceil((throttle.blocked_until - now).total_seconds()))
    user = session.scalar(select(User).where(User.username == name))
    if not _verify(user.password_hash if user else _dummy(), password) or user is None:
        if throttle.failures == 0:  # a new name and address: clear out the day-old ones
            prune_throttles(session)
        _fail(throttle, now, settings)
        _refuse(
            session, "login", name, origin, "unknown user" if user is None else "wrong password"
        )
        raise AuthFailed("Wrong username or password.")
    session.delete(throttle)
    if not user.active or user.role is None:
        _refuse(session, "login", name, origin, "inactive or without a role")
        raise AuthFailed("This account is disabled or has no role yet.")
    if user.password_expires_at is not None and user.password_expires_at <= now:
        _refuse(session, "login", name, origin, "one-time password expired")
        raise OneTimePasswordExpired(
            "This one-time password has expired: ask the system administrator for a new one."
        )
    token = secrets.token_urlsafe(32)
    row = AuthSession(token_hash=_digest(token), user_id=user.id, kind=kind)
    session.add(row)
    session.flush()
    caller = _caller(user, row.id, kind)
    detail = {"kind": kind} | ({"one_time_password": True} if user.must_change_password else {})
    audit.record(session, "login", caller=caller, origin=origin, detail=detail)
    session.commit()
    return caller, token


def _caller(user: User, session_id: int, kind: str) -> Caller:
    """The caller of a login of ``user`` (an active account with a role)."""
    return Caller(
        user.id,
        user.username,
        user.role or "",
        scope_of(user),
        session_id,
        kind,
        must_change_password=user.must_change_password,
    )


def _throttle(session: Session, name: str, address: str) -> LoginThrottle:
    """The throttle row of this name and address, locked for this login (made when new)."""
    session.execute(
        insert(LoginThrottle).values(username=name, ip=address).on_conflict_do_nothing()
    )
    return session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.username == name, LoginThrottle.ip == address)
        .with_for_update()
    ).one()


def _fail(throttle: LoginThrottle, now: dt.datetime, settings: Settings) -> None:
    """Count a failure; past the free ones, the next try waits twice as long each time. A
    pair quiet for a day starts afresh."""
    if throttle.failures and now - throttle.last_failure_at > _FORGET_AFTER:
        throttle.failures = 0
    throttle.failures += 1
    throttle.last_failure_at = now
    over = throttle.failures - settings.login_free_failures
    if over > 0:
        delay = min(2.0 ** min(over - 1, 30), settings.login_max_delay_seconds)
        throttle.blocked_until = now + dt.timedelta(seconds=delay)


def forget_failures(session: Session, username: str) -> None:
    """Lift the throttling of a name from every address (the security administrator's
    unlock)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


def prune_throttles(session: Session) -> int:
    """Drop throttle rows quiet for a day (they would start afresh anyway); returns how many.
    Run at each first failure of a new name and address, so the table holds about a day of
    them at most."""
    cut = clock.now() - _FORGET_AFTER
    found = session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < cut))
    return int(getattr(found, "rowcount", 0) or 0)


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is the account's current password (or one-time password)."""
    return _verify(user.password_hash, password)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except VerificationError:
        return False


@dataclass(frozen=True)
class _Checked:
    """A token found valid: its caller, the ``login`` change count read before it was
    checked, and its session's times (for the timeouts)."""

    caller: Caller
    count: int
    created_at: dt.datetime
    last_seen_at: dt.datetime


class RecentLogins:
    """The callers of tokens this process checked a moment ago, each with the ``login``
    change count it was checked under (``change_count``, migration 0033).

    A token is taken from here only while that count is unchanged: a logout, a timeout, an
    administrator's lock, reset or change of role or scope counts it up in the same
    transaction, so every process checks every token afresh from the next request on. A
    request then costs one read of one number instead of the session and account rows. An
    entry is used for at most ``_TOUCH_EVERY``, so ``last_seen_at`` is still written that
    often and the timeouts are judged from fresh times.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._found: dict[tuple[str, str], _Checked] = {}

    def get(self, key: tuple[str, str], count: int, now: dt.datetime) -> Caller | None:
        found = self._found.get(key)
        if found is None or found.count != count or now - found.last_seen_at > _TOUCH_EVERY:
            return None
        return found.caller

    def trusted(self, key: tuple[str, str], now: dt.datetime) -> tuple[Caller, int] | None:
        """The caller of a token checked a moment ago and the count it was checked under,
        whatever the count is now: for a caller who will compare the count before answering
        (see gridmap.access.security)."""
        found = self._found.get(key)
        if found is None or found.count < 0 or now - found.last_seen_at > _TOUCH_EVERY:
            return None
        return found.caller, found.count

    def put(self, key: tuple[str, str], checked: _Checked | None) -> None:
        if checked is None:
            self._found.pop(key, None)
            return
        if len(self._found) >= self._size:
            self._found.clear()  # a flood of tokens: start afresh rather than grow
        self._found[key] = checked


def resolve(
    session: Session,
    token: str,
    kind: str,
    settings: Settings,
    recent: RecentLogins | None = None,
    *,
    writable: bool = True,
    counts: change_counts.ChangeCounts | None = None,
) -> Caller | None:
    """The caller holding ``token``, or None when it is unknown, revoked or timed out.

    With ``recent``, a token checked a moment ago under the current ``login`` change count
    costs that one read (see :class:`RecentLogins`). ``writable=False`` (a read replica while
    the primary is away) only reads: a timed-out session is refused but not marked revoked,
    and the idle clock is not moved on. ``counts``: the change counts the caller has just
    read for this request (else they are read here).
    """
    if recent is None:
        checked = _check(session, _digest(token), kind, settings, writable=writable)
        return checked.caller if checked else None
    # The count is read before the rows are: a change committed in between makes the entry
    # stale at once, never the other way round.
    count = (counts or change_counts.read(session)).login
    key = (_digest(token), kind)
    found = recent.get(key, count, clock.now())
    if found is not None:
        return found
    checked = _check(session, key[0], kind, settings, count)
    recent.put(key, checked)
    return checked.caller if checked else None


def recently_checked(token: str, kind: str, recent: RecentLogins) -> tuple[Caller, int] | None:
    """The caller of ``token`` as this process checked it a moment ago, and the ``login``
    change count it was checked under, without reading anything: valid only if the count
    is still that one (the caller must read it before answering)."""
    return recent.trusted((_digest(token), kind), clock.now())


def _check(
    session: Session,
    digest: str,
    kind: str,
    settings: Settings,
    count: int = 0,
    *,
    writable: bool = True,
) -> _Checked | None:
    """Find the session of a token's digest and judge it (timeouts, account)."""
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.token_hash == digest,
            AuthSession.kind == kind,
            AuthSession.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    auth, user = row
    now = clock.now()
    idle = dt.timedelta(minutes=settings.idle_timeout_minutes)
    absolute = dt.timedelta(hours=settings.absolute_timeout_hours)
    if now - auth.last_seen_at > idle or now - auth.created_at > absolute:
        if writable:
            auth.revoked_at = now
            session.commit()
        return None
    if not user.active or user.role is None:
        return None
    if writable and now - auth.last_seen_at > _TOUCH_EVERY:
        auth.last_seen_at = now
        session.commit()
    caller = _caller(user, auth.id, kind)
    if now - auth.created_at + _TOUCH_EVERY > absolute:
        # Within a touch of its absolute timeout: not kept, so the timeout is met on time.
        return _Checked(caller, -1, auth.created_at, auth.last_seen_at)
    return _Checked(caller, count, auth.created_at, auth.last_seen_at)


def logout(session: Session, caller: Caller, origin: Origin) -> None:
    """End the caller's session on the server."""
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == caller.session_id)
        .values(revoked_at=clock.now())
    )
    audit.record(session, "logout", caller=caller, origin=origin)
    session.commit()
