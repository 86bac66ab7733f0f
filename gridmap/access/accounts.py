"""Account administration, split between the separated administrators (三员分立).

The system administrator creates accounts and resets passwords; the security administrator
grants roles and scopes and unlocks accounts. Neither may touch an administrator's account
(that is done with the ``flask gridmap`` commands on the server), so no administrator can give
themselves another's powers. Every change is audited by the caller.

A reset never gives the administrator a usable password (:func:`reset_password`): the server
makes a one-time password that expires, ends the account's logins, and a login with it may
only choose the account's new password (:func:`change_password`). An administrator who logs
in with it to act as the user must first replace the user's password, so the user's own
password stops working, and the notice of the reset (:func:`notices`) waits for them.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridmap.access.auth import (
    COMMUNITY_OR_STREET_ROLES,
    PERSON_ROLES,
    SUBTREE_ROLES,
    forget_failures,
    hash_password,
    verify_password,
)
from gridmap.core import clock, glossary
from gridmap.core.errors import Conflict, InvalidInput, NotFound
from gridmap.storage.models import (
    USER_ROLES,
    AuthSession,
    Department,
    PartyUnit,
    Person,
    User,
    UserNotice,
)

ADMIN_ROLES = ("system_admin", "security_admin", "audit_admin")
_SCOPE = re.compile(r"^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{14}|[0-9]{17})$")
_USERNAME = re.compile(r"^[a-z0-9._-]{3,40}$")

#: The shortest password accepted, in characters (ASVS 4.0 V2.1.1).
MIN_PASSWORD_LENGTH = 12
# Characters a person cannot see or type on purpose: controls, format characters (zero-width
# space and joiners, BOM, bidi marks), unassigned and private-use code points, line and
# paragraph separators, and the letters that render blank (Hangul fillers, braille blank).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp"})
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of leaked password sets, as zxcvbn ships them
    (``zxcvbn.frequency_lists``, lower case); loaded on the first password set."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, username: str | None = None) -> None:
    """Refuse a password that is short, blank, holds invisible characters, is the username
    or is one of the common passwords; the message says which rule, never the password."""
    text = unicodedata.normalize("NFC", password)
    if len(text) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if not text.strip():
        raise InvalidInput("password: not only spaces")
    if any(unicodedata.category(c) in _INVISIBLE_CATEGORIES or c in _BLANK_LETTERS for c in text):
        raise InvalidInput("password: no invisible or control characters (zero-width spaces…)")
    folded = text.strip().casefold()
    if username is not None and folded == username.strip().casefold():
        raise InvalidInput("password: must not be the username")
    if folded in _common_passwords():
        raise InvalidInput("password: one of the most common passwords; choose another")


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no account {user_id}.")
    return user


def user_id(session: Session, username: str) -> int:
    """The id of the account called ``username``."""
    found = session.scalar(select(User.id).where(User.username == username.strip().lower()))
    if found is None:
        raise NotFound(f"There is no account {username!r}.")
    return found


def _not_an_administrator(user: User) -> None:
    if user.role in ADMIN_ROLES:
        raise NotFound(f"There is no account {user.id}.")


def _end_sessions(session: Session, user_id: int, *, keep: int | None = None) -> None:
    """End the account's logins (all but the session ``keep``)."""
    stmt = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    session.execute(stmt.values(revoked_at=func.now()))


def list_users(session: Session) -> list[dict[str, Any]]:
    """Accounts without their secrets."""
    stmt = select(
        User.id,
        User.username,
        User.role,
        User.scope_code,
        User.person_id,
        User.department_id,
        User.party_unit_id,
        User.active,
        User.locked_until,
        User.must_change_password,
    ).order_by(User.id)
    return [dict(r._mapping) for r in session.execute(stmt)]


def grant_choices(session: Session) -> dict[str, list[dict[str, Any]]]:
    """What a role is granted for besides a scope, to pick from: the departments (role
    ``department``) and the units' party organisations with their community (role ``unit``)."""
    departments = select(Department.id, Department.name).order_by(Department.name, Department.id)
    units = select(PartyUnit.id, PartyUnit.code, PartyUnit.name).order_by(
        PartyUnit.name, PartyUnit.id
    )
    return {
        "departments": [dict(r._mapping) for r in session.execute(departments)],
        "units": [dict(r._mapping) for r in session.execute(units)],
    }


def create_user(session: Session, username: str, password: str) -> User:
    """A new account with no role: it cannot log in until a role is granted."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidInput("username: 3–40 letters, digits, '.', '_' or '-'")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise Conflict(f"The username {name!r} is taken.")
    check_password(password, name)
    user = User(username=name, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


#: The one-time password's letters: capitals and digits a person cannot misread (no 0/O,
#: 1/I/L); 4 groups of 4 carry 79 bits.
ONE_TIME_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
ONE_TIME_GROUPS, ONE_TIME_GROUP_LENGTH = 4, 4


@dataclass(frozen=True)
class OneTimePassword:
    """A reset's one-time password, shown once to the administrator to hand over."""

    password: str = field(repr=False)  # never in a log line
    expires_at: dt.datetime


def one_time_password() -> str:
    """A new one-time password, e.g. ``K7QH-M2XA-94RT-WNPE`` (from :mod:`secrets`)."""
    groups = (
        "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(ONE_TIME_GROUP_LENGTH))
        for _ in range(ONE_TIME_GROUPS)
    )
    return "-".join(groups)


def reset_password(
    session: Session, user_id: int, *, admin: str, valid_for: dt.timedelta
) -> OneTimePassword:
    """An administrator's reset: the account's password becomes a one-time password that
    logs in for ``valid_for`` and only to choose a new password; every login of the account
    ends; the user is told at their next login who (``admin``) reset it and when."""
    user = _user(session, user_id)
    _not_an_administrator(user)
    password, now = one_time_password(), clock.now()
    user.password_hash = hash_password(password)
    user.must_change_password, user.password_expires_at = True, now + valid_for
    user.failed_logins, user.locked_until = 0, None
    _end_sessions(session, user.id)
    session.add(UserNotice(user_id=user.id, kind="password_reset", actor=admin, at=now))
    session.flush()
    return OneTimePassword(password, now + valid_for)


def set_password(
    session: Session, user_id: int, password: str, *, admins_too: bool = False
) -> None:
    """Set a usable password (the server's ``flask gridmap reset-password``) and end the
    account's logins."""
    user = _user(session, user_id)
    if not admins_too:
        _not_an_administrator(user)
    check_password(password, user.username)
    user.password_hash = hash_password(password)
    user.must_change_password, user.password_expires_at = False, None
    user.failed_logins, user.locked_until = 0, None
    _end_sessions(session, user.id)


def change_password(
    session: Session, user_id: int, current: str, new: str, *, keep_session: int
) -> None:
    """The user's own change: ``current`` is their password (or the one-time password of a
    reset); ``new`` must follow the password policy and differ from it. Ends the account's
    other logins; the one-time state is over."""
    user = _user(session, user_id)
    if not verify_password(user, current):
        raise InvalidInput("current_password: not the current password of this account")
    if unicodedata.normalize("NFC", new) == unicodedata.normalize("NFC", current):
        raise InvalidInput("new_password: must differ from the current (or one-time) password")
    try:
        check_password(new, user.username)
    except InvalidInput as exc:
        raise InvalidInput(f"new_{exc.detail}") from None
    user.password_hash = hash_password(new)
    user.must_change_password, user.password_expires_at = False, None
    _end_sessions(session, user.id, keep=keep_session)


def notices(
    session: Session, user_id: int, *, unread_only: bool, limit: int = 20
) -> list[dict[str, Any]]:
    """The account's notices, newest first, each with its Chinese ``text``."""
    stmt = (
        select(UserNotice)
        .where(UserNotice.user_id == user_id)
        .order_by(UserNotice.at.desc(), UserNotice.id.desc())
        .limit(limit)
    )
    if unread_only:
        stmt = stmt.where(UserNotice.read_at.is_(None))
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "text": notice_text(n.kind, n.actor, n.at),
            "at": n.at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None,
        }
        for n in session.scalars(stmt)
    ]


def notice_text(kind: str, actor: str, at: dt.datetime) -> str:
    """A notice as its user reads it, the time in Beijing."""
    when = clock.local_text(at)
    return glossary.NOTICES[kind].format(at=when, actor=actor)


def mark_notices_read(session: Session, user_id: int) -> int:
    """Mark the account's unread notices read (they were shown); returns how many."""
    found = session.execute(
        update(UserNotice)
        .where(UserNotice.user_id == user_id, UserNotice.read_at.is_(None))
        .values(read_at=clock.now())
    )
    return int(getattr(found, "rowcount", 0) or 0)


def grant_role(
    session: Session,
    user_id: int,
    role: str,
    *,
    scope_code: str | None = None,
    person_id: int | None = None,
    department_id: int | None = None,
    party_unit_id: int | None = None,
    admins_too: bool = False,
) -> None:
    """Give an account its role and scope (checked against the role's needs): a
    ``department`` account acts for the department ``department_id``, a ``unit`` account
    for the unit's party organisation ``party_unit_id`` (双报告)."""
    user = _user(session, user_id)
    if not admins_too:
        _not_an_administrator(user)
        if role in ADMIN_ROLES:
            raise InvalidInput("administrator roles are granted on the server, not here")
    check_scope(session, role, scope_code, person_id)
    _check_department(session, role, department_id)
    _check_unit(session, role, party_unit_id)
    user.role, user.scope_code, user.person_id = role, scope_code, person_id
    user.department_id, user.party_unit_id = department_id, party_unit_id
    _end_sessions(session, user.id)


def check_scope(
    session: Session,
    role: str,
    scope_code: str | None,
    person_id: int | None,
    roles: tuple[str, ...] = USER_ROLES,
) -> None:
    """Refuse a role (one of ``roles``) without the scope it needs: a grid-code prefix for
    the roles that see a subtree, a person for a member."""
    if role not in roles:
        raise InvalidInput(f"role must be one of {list(roles)}")
    if role in SUBTREE_ROLES and not (scope_code and _SCOPE.match(scope_code)):
        raise InvalidInput(f"role {role} needs scope_code: a grid code or its 6/9-digit prefix")
    if role in COMMUNITY_OR_STREET_ROLES and len(scope_code or "") not in (9, 12):
        raise InvalidInput(f"role {role} needs scope_code: a street (9 digits) or a community (12)")
    if role in PERSON_ROLES and role not in SUBTREE_ROLES and person_id is None:
        raise InvalidInput(f"role {role} needs person_id: the member whose households it sees")
    if person_id is not None and session.get(Person, person_id) is None:
        raise InvalidInput(f"person_id: there is no person {person_id}")


def _check_department(session: Session, role: str, department_id: int | None) -> None:
    """A department account names its (active) department; no other account names one."""
    if role != "department":
        if department_id is not None:
            raise InvalidInput("department_id is only for role department")
        return
    if department_id is None:
        raise InvalidInput("role department needs department_id: the department it acts for")
    found = session.get(Department, department_id)
    if found is None or not found.active:
        raise InvalidInput(f"department_id: there is no active department {department_id}")


def _check_unit(session: Session, role: str, party_unit_id: int | None) -> None:
    """A unit's account names its unit; no other account names one."""
    if role != "unit":
        if party_unit_id is not None:
            raise InvalidInput("party_unit_id is only for role unit")
        return
    if party_unit_id is None:
        raise InvalidInput("role unit needs party_unit_id: the unit's party organisation")
    if session.get(PartyUnit, party_unit_id) is None:
        raise InvalidInput(f"party_unit_id: there is no unit {party_unit_id}")


def unlock(session: Session, user_id: int) -> None:
    """Lift the login throttling of an account's name, from every address."""
    user = _user(session, user_id)
    _not_an_administrator(user)
    user.failed_logins, user.locked_until = 0, None
    forget_failures(session, user.username)
