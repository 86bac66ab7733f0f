"""职能部门: the departments a street summons (街乡吹哨、部门报到), as the system administrator
records them: a code, a Chinese name, a kind and the area served (a district's 6-digit or a
street's 9-digit code prefix)."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from gridmap.core.errors import Conflict, InvalidInput, NotFound
from gridmap.storage import departments as store
from gridmap.storage.models import DEPARTMENT_KINDS

_CODE: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
_SCOPE: Final = re.compile(r"^([0-9]{6}|[0-9]{9})$")


def create(session: Session, code: str, name: str, kind: str, scope_code: str) -> int:
    """Record a department; returns its id (not committed). A taken code is a 409."""
    if not _CODE.match(code):
        raise InvalidInput("code: 2–40 lower-case letters, digits, '.', '_' or '-'")
    if not name.strip() or len(name.strip()) > 100:
        raise InvalidInput("name: 1–100 characters")
    if kind not in DEPARTMENT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DEPARTMENT_KINDS)}")
    if not _SCOPE.match(scope_code):
        raise InvalidInput("scope_code: the district (6 digits) or street (9 digits) served")
    values: dict[str, Any] = {
        "code": code,
        "name": name.strip(),
        "kind": kind,
        "scope_code": scope_code,
    }
    found = store.add_department(session, values)
    if found is None:
        raise Conflict(f"The department code {code!r} is taken.")
    return found


def set_wecom_webhook(session: Session, department_id: int, url: str | None) -> str | None:
    """Give a department its WeCom group robot (企业微信群机器人), the webhook address the
    robot's settings show, or take it away (None); returns the address's host (not committed).
    The key in its query is a secret: it is never shown again."""
    host = None
    if url is not None:
        wrong = InvalidInput("url: the robot's webhook address, https://…/webhook/send?key=…")
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as error:  # e.g. a bracketed host that is no IPv6 address
            raise wrong from error
        if parts.scheme not in ("https", "http") or not host or any(c.isspace() for c in url):
            raise wrong
        if len(url) > 500:
            raise InvalidInput("url: at most 500 characters")
    if not store.set_wecom_webhook(session, department_id, url):
        raise NotFound(f"There is no department {department_id}.")
    return host
