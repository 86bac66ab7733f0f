"""民情日志: visits of party members and grid workers to the households they cover, and the
request filed from a visit in one step.

A member (or grid worker; *visit*) records a visit to a household in their scope (a
household they do not see is 404) and files a request from it; the request's timeline names
the visit. Every write takes an ``Idempotency-Key`` (the first answer is replayed for a
retry, so a phone's offline queue may send a visit twice). Notes are masked in answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from flask import Response, json, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field, StringConstraints

from gridmap.access.auth import READ, VISIT
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import CATEGORY_CODE, Note, Strict, idempotency_key, urgency_factors
from gridmap.api.requests import Urgency, channel_of
from gridmap.api.requests import detail as request_detail
from gridmap.core.db import get_session
from gridmap.core.privacy import Disclosure, mask_text
from gridmap.requests import service as requests_domain
from gridmap.storage.models import VISIT_CHANNELS, VISIT_TOPICS
from gridmap.visits import service as domain

bp = APIBlueprint(
    "visits",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="visits")],
    abp_security=params.BEARER,
)

FileId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,40}$")]
Channel = Literal[VISIT_CHANNELS]  # type: ignore[valid-type]
Topic = Literal[VISIT_TOPICS]  # type: ignore[valid-type]


class VisitBody(Strict):
    household_id: int = Field(ge=1, le=2**63 - 1, description="A household you cover")
    channel: Channel = Field(description="入户 in_person, 电话 phone, 微信 wechat")
    topics: list[Topic] = Field(
        default_factory=list, max_length=len(VISIT_TOPICS), description="What was found"
    )
    note: Note | None = None
    at: params.AwareMoment | None = Field(None, description="Default: now")
    patrol_id: int | None = Field(None, ge=1, le=2**63 - 1, description="Your patrol, if on one")
    photos: list[FileId] = Field(
        default_factory=list,
        max_length=9,
        description="Photos you uploaded for this visit (POST /api/v1/files, purpose visit)",
    )


class FromVisitBody(Strict):
    category: str = Field(pattern=CATEGORY_CODE, description="A category code (service_code)")
    description: str = Field(min_length=1, max_length=2000)
    urgency: Urgency = "normal"


class VisitPath(BaseModel):
    visit_id: int = Field(ge=1, le=2**63 - 1)


class MineQuery(params.Query):
    days: int = Field(7, ge=1, le=30, description="Visits of the last days")
    limit: int = Field(50, ge=1, le=200)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def visit_answer(row: Any, disclosure: Disclosure) -> dict[str, Any]:
    """A visit as answers show it: who, where (the door as ``disclosure`` says), when, how,
    what was found, its photos and the request filed from it."""
    return {
        "id": row.id,
        "household_id": row.household_id,
        "address": disclosure.address(row.address),
        "person": {"id": row.person_id, "name": disclosure.staff_name(row.person_name)},
        "patrol_id": row.patrol_id,
        "at": _iso(row.at),
        "channel": row.channel,
        "topics": list(row.topics),
        "note": mask_text(row.note),
        "request_id": row.request_id,
        "photos": list(row.photos or []),
    }


def _once(
    fingerprint: dict[str, Any],
    write: Callable[[], tuple[int, dict[str, Any], str, int, dict[str, Any]]],
) -> Response:
    """Run ``write`` once per Idempotency-Key (it returns the status, the answer, and the
    audit's action, object id and detail); audits and commits; a retry replays the first."""
    session, who = get_session(), caller()
    audited: list[tuple[str, int, dict[str, Any]]] = []

    def run() -> tuple[int, str]:
        status, answer, action, object_id, audit_detail = write()
        audited.append((action, object_id, audit_detail))
        return status, json.dumps(answer)

    status, text, replayed = requests_domain.once(
        session,
        who.user_id,
        idempotency_key(),
        requests_domain.fingerprint(request.path, fingerprint),
        run,
    )
    if audited:
        action, object_id, audit_detail = audited[0]
        audit_write(action, action.split(".")[0], object_id, audit_detail)
    else:
        session.commit()
    response = Response(text, status=status, mimetype="application/json")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/visits", summary="Record a visit (民情日志) to a household you cover (Idempotency-Key)")
@requires(VISIT)
def record_visit(body: VisitBody) -> Response:
    new = domain.NewVisit(
        household_id=body.household_id,
        channel=body.channel,
        topics=tuple(body.topics),
        note=body.note,
        at=body.at,
        patrol_id=body.patrol_id,
        photos=tuple(body.photos),
    )

    def write() -> tuple[int, dict[str, Any], str, int, dict[str, Any]]:
        session, who = get_session(), caller()
        visit_id = domain.record(session, who, new)
        row = domain.visit(session, who, visit_id)
        audit = {
            "household_id": body.household_id,
            "channel": body.channel,
            "photos": len(body.photos),
        }
        return 201, visit_answer(row, who.disclosure), "visit.record", visit_id, audit

    response = _once(body.model_dump(mode="json"), write)
    if response.status_code == 201:
        response.headers["Location"] = f"/api/v1/visits/{json.loads(response.data)['id']}"
    return response


@bp.get("/visits", summary="Your own visits (民情日志) of the last days, newest first")
@requires(VISIT)
def my_visits(query: MineQuery) -> dict[str, Any]:
    who = caller()
    rows = domain.mine(get_session(), who, query.days, query.limit)
    return {"visits": [visit_answer(r, who.disclosure) for r in rows]}


@bp.get("/visits/<int:visit_id>", summary="One visit (民情日志) to a household in scope")
@requires(READ)
def get_visit(path: VisitPath) -> dict[str, Any]:
    who = caller()
    return visit_answer(domain.visit(get_session(), who, path.visit_id), who.disclosure)


@bp.post(
    "/visits/<int:visit_id>/request",
    summary="File a request for the visit's household (由走访上报; one per visit; Idempotency-Key)",
)
@requires(VISIT)
def file_from_visit(path: VisitPath, body: FromVisitBody) -> Response:
    what = domain.FromVisit(
        category=body.category,
        description=body.description,
        source=channel_of(caller().kind),
        urgency=body.urgency,
    )

    def write() -> tuple[int, dict[str, Any], str, int, dict[str, Any]]:
        request_id = domain.file_request(
            get_session(), caller(), path.visit_id, what, urgency_factors()
        )
        audit = {"source": what.source, "visit_id": path.visit_id}
        return 201, request_detail(request_id), "request.create", request_id, audit

    response = _once(body.model_dump(mode="json"), write)
    if response.status_code == 201:
        answer = json.loads(response.data)
        response.headers["Location"] = f"/api/v1/requests/{answer['id']}"
        response.headers["ETag"] = answer["etag"]
    return response
