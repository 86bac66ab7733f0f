"""The 三率 ranking (红黑榜) as a download: the one check of its parameters, the file, and the
background job (``requests.rates``) the ranking page asks for.

The synchronous ``GET /api/v1/rates.<fmt>`` and the job read the same :class:`RateRequest`
through the same :func:`check` (the period, and an area inside the caller's scope), so a job
is refused at once for what the download would refuse; the job's worker checks again, as of
when it runs. (The ranking page's JSON, ``GET /api/v1/rates``, answers an area outside the
scope with no rows, as before: members and grid workers see it without a grid prefix.)
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.auth import Scope, job_disclosure, job_scope
from gridmap.core.cells import csv_lines
from gridmap.core.errors import NotFound
from gridmap.core.privacy import Disclosure
from gridmap.core.replica import Replica
from gridmap.core.settings import Settings
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.requests import rates
from gridmap.storage import jobs as job_store
from gridmap.storage.jobs import JobRecord
from gridmap.storage.review import review_prefixes

KIND = "requests.rates"
#: Where the job is asked for (named by the synchronous export's refusal).
ROUTE = "/api/v1/rates-jobs"
Format = Literal["csv", "xlsx"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class RateRequest:
    """What a ranking download is asked for: ``GET /api/v1/rates``' parameters."""

    by: rates.By = "grid"
    level: rates.Level = "micro"
    month: str | None = None
    first: dt.date | None = None
    last: dt.date | None = None
    grid: str | None = None

    def params(self) -> dict[str, Any]:
        """As JSON, for the job's record."""
        found = asdict(self)
        for key in ("first", "last"):
            found[key] = found[key] and found[key].isoformat()
        return found

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RateRequest:
        days = {k: params.get(k) and dt.date.fromisoformat(params[k]) for k in ("first", "last")}
        return cls(
            by=params["by"],
            level=params["level"],
            month=params.get("month"),
            grid=params.get("grid"),
            **days,
        )


def check(scope: Scope, wanted: RateRequest) -> tuple[str, ...]:
    """Refuse a download of a bad period (400) or of an area outside the scope (404, as if it
    did not exist); the grid subtrees it covers."""
    rates.period(wanted.month, wanted.first, wanted.last)
    prefixes = review_prefixes(scope, wanted.grid)
    if wanted.grid is not None and not prefixes:
        raise NotFound(f"grid {wanted.grid} is not in your area")
    return prefixes


def table(
    session: Session,
    scope: Scope,
    wanted: RateRequest,
    settings: Settings,
    disclosure: Disclosure,
) -> rates.Ranking:
    """The ranking asked for (the rows of ``scope`` only: an area outside it has none), owners
    named as ``disclosure`` says."""
    return rates.ranking(
        session,
        scope,
        rates.period(wanted.month, wanted.first, wanted.last),
        by=wanted.by,
        level=wanted.level,
        grid_code=wanted.grid,
        weights=settings.weights,
        size=settings.rate_board_size,
        min_filed=settings.rate_board_min_filed,
        disclosure=disclosure,
        formula=rates.Formula.of(settings),
    )


def export_file(ranking: rates.Ranking, fmt: Format) -> tuple[str, bytes]:
    """The download's file name and content."""
    name = f"rates-{ranking.by}-{ranking.level}-{ranking.period.label}.{fmt}".replace("..", "_")
    if fmt == "xlsx":
        return name, rates.to_xlsx(ranking)
    cells = ([rates.cell(r, key) for key, _ in rates.COLUMNS] for r in ranking.rows)
    lines = csv_lines([heading for _, heading in rates.COLUMNS], cells)
    return name, (csv_header(ranking) + "".join(lines).lstrip("\ufeff")).encode()


def csv_header(ranking: rates.Ranking) -> str:
    """The CSV's header block: the title and how the ranking was made (:func:`rates.notes`),
    one ``label,text`` line each, then a blank line before the table's headings (the file
    starts with the byte-order mark)."""
    block = csv_lines([ranking.title], (list(line) for line in rates.notes(ranking)))
    return "".join(block) + "\r\n"


def audit_detail(ranking: rates.Ranking) -> dict[str, Any]:
    """What the audit row of an export of ``ranking`` says (besides its period)."""
    return {
        "by": ranking.by,
        "level": ranking.level,
        "grid": ranking.grid_code,
        "rows": len(ranking.rows),
    }


def submit(session: Session, owner: Owner, wanted: RateRequest, fmt: Format) -> int:
    """Queue the download of ``wanted``; refused at once where the download would be."""
    check(job_scope(owner.scope_code), wanted)
    return enqueue(session, KIND, owner, params=wanted.params() | {"format": fmt})


def handlers(settings: Settings) -> dict[str, Handler]:
    return {KIND: functools.partial(build, settings=settings, replica=Replica(settings))}


def build(
    session: Session, job: JobRecord, report: Report, *, settings: Settings, replica: Replica
) -> dict[str, Any]:
    """Compute the ranking (from the replica when there is one), store its file with the job,
    audit the export."""
    report(10, "计算三率")
    wanted = RateRequest.from_params(job.params)
    check(job_scope(job.scope_code), wanted)
    disclosure = job_disclosure(session, job.user_id)
    with replica.reads(session) as reads:
        ranking = table(reads, job_scope(job.scope_code), wanted, settings, disclosure)
    fmt: Format = "csv" if job.params.get("format") == "csv" else "xlsx"
    report(80, "生成文件")
    name, body = export_file(ranking, fmt)
    file_id = job_store.add_upload(session, job.user_id, name, body)
    audit.record(
        session,
        "export",
        username=job.username,
        object_type="rates",
        object_id=ranking.period.label,
        detail=audit_detail(ranking) | {"format": fmt, "job": job.id},
    )
    media = MEDIA_TYPES[fmt]
    return {"file": {"id": file_id, "name": name, "media_type": media, "size": len(body)}}
