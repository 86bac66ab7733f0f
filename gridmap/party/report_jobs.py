"""The quarter's 双报到 table as an Excel download, built by a background job the page follows
(as the 三率 download, ``requests.rate_jobs``): the one check of its parameters, the workbook
and the job ``party.report``."""

from __future__ import annotations

import functools
import io
from dataclasses import asdict, dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.access.auth import Scope, job_disclosure, job_scope
from gridmap.core import glossary
from gridmap.core.cells import safe_row
from gridmap.core.errors import NotFound
from gridmap.core.privacy import Disclosure
from gridmap.core.replica import Replica
from gridmap.core.settings import Settings
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.party import reporting
from gridmap.storage import jobs as job_store
from gridmap.storage import party as store
from gridmap.storage.jobs import JobRecord

KIND = "party.report"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The table's columns: key → heading (the glossary's).
COLUMNS = tuple(glossary.PARTY_REPORT_COLUMNS.items())


@dataclass(frozen=True)
class PartyReportRequest:
    """Which quarter (``YYYYQn``) and, optionally, one community (its code)."""

    quarter: str
    community: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PartyReportRequest:
        return cls(quarter=params["quarter"], community=params.get("community"))


def check(session: Session, scope: Scope, wanted: PartyReportRequest) -> reporting.Quarter:
    """Refuse a bad quarter (400) or a community outside the scope (404)."""
    found = reporting.quarter(wanted.quarter)
    if wanted.community and store.community_by_code(session, wanted.community, scope) is None:
        raise NotFound(f"There is no community {wanted.community}.")
    return found


def submit(session: Session, owner: Owner, wanted: PartyReportRequest) -> int:
    """Queue the download; refused at once where it would fail."""
    check(session, job_scope(owner.scope_code), wanted)
    return enqueue(session, KIND, owner, params=asdict(wanted))


def cell(row: dict[str, Any], key: str, disclosure: Disclosure) -> Any:
    """A value as the workbook shows it."""
    value = row[key]
    if key == "name":
        return disclosure.staff_name(value)
    if key == "met":
        return glossary.PARTY_MET[value]
    if key in ("since", "until"):
        return value.isoformat() if value else ""
    if key in ("hours", "quarter_hours"):
        return float(value)
    return "" if value is None else value


def to_xlsx(table: reporting.Report, disclosure: Disclosure) -> bytes:
    """A title, the rule, the headings and one row per member and community."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.quarter.name)
    title = glossary.PARTY_REPORT["title"].format(quarter=table.quarter.name)
    rule = glossary.PARTY_REPORT["rule"].format(
        services=table.rule.services, hours=float(table.rule.hours)
    )
    sheet.append(safe_row([title]))
    sheet.append(safe_row([rule]))
    sheet.append(safe_row(heading for _, heading in COLUMNS))
    for row in table.rows:
        sheet.append(safe_row(cell(row, key, disclosure) for key, _ in COLUMNS))
    summary = table.summary
    sheet.append(safe_row([]))
    sheet.append(safe_row([glossary.PARTY_REPORT["summary"].format(**summary)]))
    by_community = book.create_sheet(glossary.PARTY_REPORT["by_community"])
    by_community.append(safe_row(glossary.PARTY_COMMUNITY_COLUMNS.values()))
    for entry in table.by_community:
        by_community.append(safe_row(entry[key] for key in glossary.PARTY_COMMUNITY_COLUMNS))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def handlers(settings: Settings) -> dict[str, Handler]:
    return {KIND: functools.partial(build, settings=settings, replica=Replica(settings))}


def build(
    session: Session, job: JobRecord, report: Report, *, settings: Settings, replica: Replica
) -> dict[str, Any]:
    """Compute the table as of now (from the replica when there is one), store the workbook
    with the job, audit the export."""
    report(10, glossary.PARTY_REPORT["computing"])
    wanted = PartyReportRequest.from_params(job.params)
    scope = job_scope(job.scope_code)
    quarter = check(session, scope, wanted)
    with replica.reads(session) as reads:
        table = reporting.report(reads, scope, quarter, settings, wanted.community)
    report(80, glossary.PARTY_REPORT["writing"])
    body = to_xlsx(table, job_disclosure(session, job.user_id))
    name = f"party-{quarter.label}-{wanted.community or job.scope_code or 'all'}.xlsx"
    file_id = job_store.add_upload(session, job.user_id, name, body)
    audit.record(
        session,
        "export",
        username=job.username,
        object_type="party_report",
        object_id=quarter.label,
        detail={"community": wanted.community, "rows": len(table.rows), "job": job.id},
    )
    return {"file": {"id": file_id, "name": name, "media_type": XLSX, "size": len(body)}}
