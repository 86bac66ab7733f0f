"""API keys of client applications (Open311's ``api_key``), issued by the system
administrator.

A key is issued per client application (a 12345 hotline connector, a resident app) with a
role and scope like a user's, and sees and files exactly what an account with that role and
scope would. The key is shown once, when issued; only its SHA-256 is stored (a key carries
256 random bits, so a fast hash is enough, as for login tokens). A revoked key stops at once.
Each key acts through an account of its own (``apikey-<id>``: inactive, without role, with a
password nobody knows), so the requests it files and its audit rows name it, and nothing of
the accounts' rules (foreign keys, the audit trigger's names) needs an exception.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.access.accounts import check_scope
from gridmap.access.auth import PERSON_ROLES, SUBTREE_ROLES, Caller, Scope, hash_password
from gridmap.core import clock
from gridmap.core.errors import Conflict, InvalidInput, NotFound
from gridmap.storage.models import API_KEY_ROLES, ApiKey, User

#: Every key starts with this, so a leaked one is recognisable (e.g. by secret scanners).
KEY_PREFIX = "gm311_"
#: ``Caller.kind`` of a caller authenticated by an API key.
KIND = "api_key"


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``key`` is shown once to the administrator and never stored."""

    id: int
    name: str
    key: str = field(repr=False)
    key_prefix: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(
    session: Session,
    name: str,
    role: str,
    *,
    scope_code: str | None,
    person_id: int | None,
    created_by: int,
) -> IssuedKey:
    """Issue a key for the client application ``name`` with a data role and its scope
    (checked as an account's grant is)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("name: 1 to 100 characters, the client application's name")
    check_scope(session, role, scope_code, person_id, API_KEY_ROLES)
    key_id = int(session.scalar(select(func.nextval("api_key_id_seq"))) or 0)
    account = User(
        username=f"apikey-{key_id}",
        password_hash=hash_password(secrets.token_urlsafe(32)),
        active=False,
    )
    session.add(account)
    session.flush()
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        name=name,
        key_hash=_digest(key),
        key_prefix=key[: len(KEY_PREFIX) + 4],
        user_id=account.id,
        role=role,
        scope_code=scope_code,
        person_id=person_id,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return IssuedKey(row.id, name, key, row.key_prefix)


def list_keys(session: Session) -> list[dict[str, Any]]:
    """Every key, without its secret, newest first."""
    stmt = select(
        ApiKey.id,
        ApiKey.name,
        ApiKey.key_prefix,
        ApiKey.role,
        ApiKey.scope_code,
        ApiKey.person_id,
        ApiKey.created_by,
        ApiKey.created_at,
        ApiKey.revoked_at,
        ApiKey.revoked_by,
    ).order_by(ApiKey.id.desc())
    return [dict(r._mapping) for r in session.execute(stmt)]


def revoke(session: Session, key_id: int, *, by: int) -> None:
    """Revoke a key: it authenticates nothing from now on."""
    row = session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise NotFound(f"There is no API key {key_id}.")
    if row.revoked_at is not None:
        raise Conflict(f"API key {key_id} was revoked already.")
    row.revoked_at, row.revoked_by = clock.now(), by
    session.flush()


def resolve(session: Session, key: str) -> Caller | None:
    """The caller of an API key that is issued and not revoked, else None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    found = session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.key_hash == _digest(key), ApiKey.revoked_at.is_(None))
    ).first()
    if found is None:
        return None
    row, account = found
    # The key's role and scope, read as an account's are (gridmap.access.auth.scope_of).
    prefixes = (row.scope_code,) if row.role in SUBTREE_ROLES and row.scope_code else ()
    person = row.person_id if row.role in PERSON_ROLES else None
    return Caller(account.id, account.username, row.role, Scope(prefixes, person), 0, KIND)
