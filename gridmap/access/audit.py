"""The audit log (审计日志): every write and every reveal of personal data.

Rows are only ever inserted: the application's database role has no UPDATE or DELETE on the
table. The database, not the application, sets each row's time, its user name (from its
``user_id``), its id and its place in a SHA-256 hash chain (migration 0014); :func:`verify`
recomputes the chain. Pruning past the retention period goes through
``gridmap_prune_audit``, which never removes rows younger than 180 days and records where the
chain now starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from gridmap.core.storable import scrub
from gridmap.storage.models import AuditEntry

if TYPE_CHECKING:
    from gridmap.access.auth import Caller, Origin

COLUMNS = (
    "id",
    "at",
    "username",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "ip",
    "user_agent",
    "detail",
)


#: ``audit_log.object_id``'s length.
OBJECT_ID_LENGTH = AuditEntry.object_id.type.length


def record(
    session: Session,
    action: str,
    *,
    caller: Caller | None = None,
    username: str | None = None,
    object_type: str | None = None,
    object_id: object = None,
    outcome: str = "ok",
    origin: Origin | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit row to the session's transaction.

    The row's time and, when there is a caller, its user name are the database's (a trigger
    overrides them); ``username`` names the actor only when there is no caller (a failed
    login's attempted name, ``cli:<user>``)."""
    session.execute(
        insert(AuditEntry).values(
            user_id=caller.user_id if caller else None,
            username=caller.username if caller else scrub(username),
            action=action,
            object_type=object_type,
            # A refused path's id as far as the column holds it (the path is in ``detail``).
            object_id=None if object_id is None else scrub(str(object_id))[:OBJECT_ID_LENGTH],
            outcome=outcome,
            ip=origin.ip if origin else None,
            user_agent=scrub((origin.user_agent or "")[:300]) if origin else None,
            # What a caller sent (a refused path, a typed name) is kept, minus what
            # PostgreSQL cannot store: a refusal of a NUL is audited like any other.
            detail=scrub(detail or {}),
        )
    )


def _matching(
    *,
    username: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> Select[Any]:
    """Audit rows matching the filters, newest first (keyset paging by id), at most ``limit``."""
    stmt = select(*(getattr(AuditEntry, c) for c in COLUMNS)).order_by(AuditEntry.id.desc())
    filters = {
        AuditEntry.username: username,
        AuditEntry.object_type: object_type,
        AuditEntry.object_id: object_id,
        AuditEntry.action: action,
    }
    for column, value in filters.items():
        if value:
            stmt = stmt.where(column == value)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    return stmt.limit(limit)


def search(session: Session, **filters: Any) -> list[dict[str, Any]]:
    """Audit rows matching the filters (those of :func:`_matching`), newest first."""
    return [dict(r._mapping) for r in session.execute(_matching(**filters))]


def export_extent(session: Session, **filters: Any) -> tuple[int, int | None]:
    """How many rows an export with these filters holds, and the newest one's id (None when
    there are none): counted before the export's own audit row is written."""
    found = _matching(**filters).subquery()
    count, newest = session.execute(select(func.count(), func.max(found.c.id))).one()
    return int(count), newest


def stream(
    session: Session, newest_id: int, *, batch: int = 1000, **filters: Any
) -> Iterator[dict[str, Any]]:
    """The rows of :func:`search` up to id ``newest_id``, through a server-side cursor
    ``batch`` rows at a time (the session's transaction must stay open meanwhile)."""
    stmt = _matching(**filters).where(AuditEntry.id <= newest_id)
    result = session.execute(stmt, execution_options={"yield_per": batch})
    try:
        for row in result:
            yield dict(row._mapping)
    finally:
        result.close()


def prune(session: Session, keep_days: int) -> int:
    """Delete rows older than ``keep_days`` (never fewer than 180); returns how many."""
    return int(session.scalar(select(func.gridmap_prune_audit(keep_days))) or 0)


class Verdict(NamedTuple):
    """What :func:`verify` found: rows checked in chain order up to the first broken one."""

    checked: int
    #: The first row that breaks the chain (for rows missing at the end: the last row left).
    broken_id: int | None
    #: ``changed``, ``missing`` or ``inserted`` (out of chain); ``None`` when intact.
    problem: str | None
    detail: str | None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def as_text(self) -> str:
        if self.intact:
            return f"{self.checked} rows, chain intact"
        where = "no row left" if self.broken_id is None else f"row id {self.broken_id}"
        return (
            f"audit chain broken at {where} ({self.problem}): {self.detail};"
            f" {self.checked} rows before it are intact"
        )


def verify(session: Session) -> Verdict:
    """Recompute the hash chain from its anchor to its head (``gridmap_verify_audit``, one
    snapshot, so concurrent writes and prunes do not disturb it)."""
    found = func.gridmap_verify_audit().table_valued("checked", "broken_id", "problem", "detail")
    checked, broken_id, problem, detail = session.execute(select(*found.c)).one()
    return Verdict(int(checked), broken_id, problem, detail)
