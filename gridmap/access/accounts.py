"""Account administration, split between the separated administrators (三员分立).

The system administrator creates accounts and resets passwords; the security administrator
grants roles and scopes and unlocks accounts. Neither may touch an administrator's account
(that is done with the ``flask gridmap`` commands on the server), so no administrator can give
themselves another's powers. Every change is audited by the caller.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridmap.access.auth import PERSON_ROLES, SUBTREE_ROLES, forget_failures, hash_password
from gridmap.core.errors import Conflict, InvalidInput, NotFound
from gridmap.storage.models import USER_ROLES, AuthSession, Person, User

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


def _end_sessions(session: Session, user_id: int) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


def list_users(session: Session) -> list[dict[str, Any]]:
    """Accounts without their secrets."""
    stmt = select(
        User.id,
        User.username,
        User.role,
        User.scope_code,
        User.person_id,
        User.active,
        User.locked_until,
    ).order_by(User.id)
    return [dict(r._mapping) for r in session.execute(stmt)]


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


def reset_password(
    session: Session, user_id: int, password: str, *, admins_too: bool = False
) -> None:
    """Set a new password and end the account's sessions."""
    user = _user(session, user_id)
    if not admins_too:
        _not_an_administrator(user)
    check_password(password, user.username)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    _end_sessions(session, user.id)


def grant_role(
    session: Session,
    user_id: int,
    role: str,
    *,
    scope_code: str | None = None,
    person_id: int | None = None,
    admins_too: bool = False,
) -> None:
    """Give an account its role and scope (checked against the role's needs)."""
    user = _user(session, user_id)
    if not admins_too:
        _not_an_administrator(user)
        if role in ADMIN_ROLES:
            raise InvalidInput("administrator roles are granted on the server, not here")
    if role not in USER_ROLES:
        raise InvalidInput(f"role must be one of {list(USER_ROLES)}")
    if role in SUBTREE_ROLES and not (scope_code and _SCOPE.match(scope_code)):
        raise InvalidInput(f"role {role} needs scope_code: a grid code or its 6/9-digit prefix")
    if role in PERSON_ROLES and role not in SUBTREE_ROLES and person_id is None:
        raise InvalidInput(f"role {role} needs person_id: the member whose households it sees")
    if person_id is not None and session.get(Person, person_id) is None:
        raise InvalidInput(f"person_id: there is no person {person_id}")
    user.role, user.scope_code, user.person_id = role, scope_code, person_id
    _end_sessions(session, user.id)


def unlock(session: Session, user_id: int) -> None:
    """Lift the login throttling of an account's name, from every address."""
    user = _user(session, user_id)
    _not_an_administrator(user)
    user.failed_logins, user.locked_until = 0, None
    forget_failures(session, user.username)
