"""Staffing and coverage of a grid, with ETag / If-Match against lost updates."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, current_app, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import ASSIGN, READ
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import Strict
from gridmap.core import clock
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput
from gridmap.grid import assignment

bp = APIBlueprint(
    "assignment",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="assignment")],
    abp_security=params.BEARER,
)


class StaffQuery(params.Query):
    history: bool = Field(False, description="Include posts that have ended")


class NewPost(Strict):
    person_id: int = Field(ge=1)
    role: Literal["chief", "zone_leader", "grid_worker", "building_leader"]
    start_date: params.Day | None = None


class PostPath(BaseModel):
    assignment_id: int = Field(ge=1)


class EndPost(Strict):
    end_date: params.Day | None = Field(None, description="Default: today")


class CoverageChange(Strict):
    op: Literal["assign", "release"]
    person_id: int | None = Field(None, ge=1, description="The member (assign only)")
    household_ids: list[int] = Field(min_length=1, max_length=20_000)


def _answer(body: dict[str, Any], etag: str, status: int = 200) -> Response:
    response = jsonify(body | {"etag": etag})
    response.status_code = status
    response.headers["ETag"] = etag
    return response


@bp.get("/grids/<code>/staff", summary="Who staffs a grid (ETag for later changes)")
@requires(READ)
def staff(path: params.GridPath, query: StaffQuery) -> Response:
    who = caller()
    etag, posts = assignment.staffing(get_session(), path.code, who.scope, history=query.history)
    return _answer({"assignments": [who.disclosure.staff_contact(p) for p in posts]}, etag)


@bp.post("/grids/<code>/staff", summary="Give a person a post in a grid (needs If-Match)")
@requires(ASSIGN)
def add_staff(path: params.GridPath, body: NewPost) -> Response:
    post_id, etag = assignment.assign_staff(
        get_session(),
        path.code,
        body.person_id,
        body.role,
        body.start_date,
        caller().scope,
        request.headers.get("If-Match"),
    )
    audit_write(
        "staff.assign", "grid", path.code, body.model_dump(mode="json") | {"assignment": post_id}
    )
    return _answer({"id": post_id}, etag, 201)


@bp.post("/assignments/<int:assignment_id>/end", summary="End a post (needs If-Match)")
@requires(ASSIGN)
def end_staff(path: PostPath, body: EndPost) -> Response:
    end = body.end_date or clock.today()
    code, etag = assignment.end_staff(
        get_session(), path.assignment_id, end, caller().scope, request.headers.get("If-Match")
    )
    audit_write("staff.end", "grid", code, {"assignment": path.assignment_id})
    return _answer({"id": path.assignment_id, "end_date": end.isoformat()}, etag)


@bp.get("/grids/<code>/coverage", summary="A grid's households, their members, the candidates")
@requires(READ)
def coverage(path: params.GridPath) -> Response:
    who = caller()
    state = assignment.coverage_state(get_session(), path.code, who.scope)
    state["members"] = [who.disclosure.staff_contact(m) for m in state["members"]]
    return _answer(state, state.pop("etag"))


@bp.post("/grids/<code>/coverage", summary="Give households to a member or release them")
@requires(ASSIGN)
def change_coverage(path: params.GridPath, body: CoverageChange) -> Response:
    if (body.op == "assign") != (body.person_id is not None):
        raise InvalidInput("person_id is needed to assign and not allowed to release")
    changed, etag = assignment.change_coverage(
        get_session(),
        path.code,
        person_id=body.person_id,
        household_ids=body.household_ids,
        scope=caller().scope,
        if_match=request.headers.get("If-Match"),
    )
    audit_write(
        f"coverage.{body.op}",
        "grid",
        path.code,
        {"person_id": body.person_id, "households": len(body.household_ids)},
    )
    return _answer({"changed": changed}, etag)


class DivisionRequest(Strict):
    member_ids: list[int] = Field(min_length=1, max_length=2000)
    min_load: float | None = Field(
        None, ge=0, description="Default: ⌊mean load / 1.2⌋ (mean: weighted households/members)"
    )
    max_load: float | None = Field(
        None, gt=0, description="Default: ⌈mean load × 1.2⌉, at least the heaviest household"
    )
    care_weight: float = Field(2.0, ge=1, le=10)
    fresh: bool = Field(False, description="Ignore who covers what today")


class Pair(Strict):
    household_id: int = Field(ge=1)
    person_id: int | None = Field(None, ge=1)


class DivisionAccept(Strict):
    assignments: list[Pair] = Field(min_length=1, max_length=50_000)


@bp.post("/grids/<code>/division", summary="Propose a balanced division (writes nothing)")
@requires(ASSIGN)
def propose_division(path: params.GridPath, body: DivisionRequest) -> Response:
    if body.min_load is not None and body.max_load is not None and body.min_load > body.max_load:
        raise InvalidInput(f"min_load {body.min_load} is above max_load {body.max_load}")
    proposal = assignment.propose(
        get_session(),
        path.code,
        body.member_ids,
        caller().scope,
        min_load=body.min_load,
        max_load=body.max_load,
        care_weight=body.care_weight,
        fresh=body.fresh,
        time_limit=current_app.extensions["gridmap.settings"].division_time_limit_seconds,
    )
    return _answer(proposal, proposal.pop("etag"))


@bp.put("/grids/<code>/division", summary="Accept a division in one transaction (If-Match)")
@requires(ASSIGN)
def accept_division(path: params.GridPath, body: DivisionAccept) -> Response:
    pairs = {p.household_id: p.person_id for p in body.assignments}
    if len(pairs) != len(body.assignments):
        raise InvalidInput("each household may appear once in assignments")
    changed, etag = assignment.accept_division(
        get_session(), path.code, pairs, caller().scope, request.headers.get("If-Match")
    )
    audit_write(
        "coverage.division", "grid", path.code, {"households": len(pairs), "changed": changed}
    )
    return _answer({"changed": changed}, etag)
