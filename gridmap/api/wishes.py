"""微心愿: residents' small wishes, recorded with consent by staff (*party*) or a member
(*serve*), claimed and fulfilled with proof by a member or unit (*claim*), confirmed by the
staff (If-Match), and counted per member and unit. A published wish names no resident, phone
or door."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import CLAIM, PARTY, SERVE
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params
from gridmap.api.common import Agreed, Strict
from gridmap.api.lists import match_view, wish_view
from gridmap.api.party import COMMUNITY
from gridmap.core.db import get_session
from gridmap.party import lists
from gridmap.party import wishes as domain
from gridmap.storage import lists as store
from gridmap.storage.models import WISH_CONFIRMERS, WISH_STATES

bp = APIBlueprint(
    "wishes",
    __name__,
    url_prefix="/api/v1/party",
    abp_tags=[Tag(name="party wishes")],
    abp_security=params.BEARER,
)

WishState = Literal[WISH_STATES]  # type: ignore[valid-type]
Confirmer = Literal[WISH_CONFIRMERS]  # type: ignore[valid-type]


class WishBody(Strict):
    title: str = Field(min_length=1, max_length=60, description="Published: no name or door")
    detail: str = Field("", max_length=300, description="Published: no name, phone or door")
    community: str = Field(pattern=COMMUNITY, description="One of your communities")
    household_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="The household (kept, never published)"
    )
    consent: Agreed = Field(description="The resident agreed to publish the wish")


class MemberWishBody(Strict):
    title: str = Field(min_length=1, max_length=60, description="Published: no name or door")
    detail: str = Field("", max_length=300, description="Published: no name, phone or door")
    consent: Agreed = Field(description="The resident agreed to publish the wish")


class WishPath(BaseModel):
    wish_id: int = Field(ge=1, le=2**63 - 1)


class WishesQuery(BaseModel):
    state: WishState | None = None
    limit: int = Field(200, ge=1, le=1000)


class FulfilBody(Strict):
    note: str = Field("", max_length=300, description="What was done (published)")
    photos: list[str] = Field(
        min_length=1, max_length=9, description="Ids of photos you uploaded, as proof"
    )


class CountsQuery(BaseModel):
    quarter: str | None = Field(
        None, pattern=r"^[0-9]{4}Q[1-4]$", description="YYYYQn: that quarter's claims; default all"
    )


class ConfirmBody(Strict):
    how: Confirmer = Field(description="resident: the resident confirmed; worker: you did")


def _answer(wish_id: int, status: int = 200) -> Response:
    row = domain.wish(get_session(), wish_id, lists.managed(caller().scope))
    response = jsonify(wish_view(row))
    response.headers["ETag"] = domain.wish_etag(row.id, row.revision)
    response.status_code = status
    return response


def _claimed(wish_id: int, status: int = 200) -> Response:
    session = get_session()
    claimant = lists.claimant_of(session, caller())
    row = domain.wish(session, wish_id, lists.of_community(claimant.community_id))
    response = jsonify(wish_view(row))
    response.status_code = status
    return response


@bp.get("/wishes", summary="微心愿 of your communities, newest first")
@requires(PARTY)
def wishes(query: WishesQuery) -> dict[str, Any]:
    states = (query.state,) if query.state else ()
    rows = store.wishes(get_session(), lists.managed(caller().scope), states, query.limit)
    return {"results": [wish_view(r) for r in rows]}


@bp.post("/wishes", summary="Record a resident's 微心愿 with their consent (your community)")
@requires(PARTY)
def record(body: WishBody) -> Response:
    new = domain.NewWish(body.title, body.detail, body.community, body.household_id)
    return _recorded(domain.record(get_session(), caller(), new), body.community)


@bp.post(
    "/me/wishes",
    summary="Record a resident's 微心愿 with their consent, in the community you report to",
)
@requires(SERVE)
def record_mine(body: MemberWishBody) -> Response:
    new = domain.NewWish(body.title, body.detail)
    return _recorded(domain.record(get_session(), caller(), new, member=True), None)


def _recorded(wish_id: int, community: str | None) -> Response:
    audit_write("party.wish", "small_wish", wish_id, {"community": community})
    row = domain.wish(get_session(), wish_id, lists.recorded_anywhere())
    response = jsonify(wish_view(row))
    response.status_code = 201
    return response


@bp.get("/wishes/<int:wish_id>", summary="One 微心愿 with its claim, proof and confirmation")
@requires(PARTY)
def wish(path: WishPath) -> Response:
    return _answer(path.wish_id)


@bp.post(
    "/wishes/<int:wish_id>/claims",
    summary="认领 an open 微心愿 of your community; 409 when someone was first",
)
@requires(CLAIM)
def claim(path: WishPath) -> Response:
    session, who = get_session(), caller()
    domain.claim(session, lists.claimant_of(session, who), path.wish_id)
    audit_write("party.wish_claim", "small_wish", path.wish_id, {})
    return _claimed(path.wish_id, 201)


@bp.post(
    "/wishes/<int:wish_id>/fulfilment",
    summary="You fulfilled the wish you claimed: a note and photos as proof",
)
@requires(CLAIM)
def fulfil(path: WishPath, body: FulfilBody) -> Response:
    session, who = get_session(), caller()
    claimant = lists.claimant_of(session, who)
    domain.fulfil(session, who, claimant, path.wish_id, (body.note, body.photos))
    audit_write("party.wish_fulfil", "small_wish", path.wish_id, {"photos": len(body.photos)})
    return _claimed(path.wish_id)


@bp.post(
    "/wishes/<int:wish_id>/confirmation",
    summary="The resident or the worker confirms a fulfilled wish (If-Match)",
)
@requires(PARTY)
def confirm(path: WishPath, body: ConfirmBody) -> Response:
    domain.confirm(get_session(), caller(), path.wish_id, body.how, request.headers.get("If-Match"))
    audit_write("party.wish_confirm", "small_wish", path.wish_id, {"how": body.how})
    return _answer(path.wish_id)


@bp.get(
    "/me/claims",
    summary="What you (a member or unit) claimed: 微心愿 to fulfil and service projects",
)
@requires(CLAIM)
def my_claims() -> dict[str, Any]:
    session = get_session()
    claimant = lists.claimant_of(session, caller())
    found_wishes, projects = store.claimed_by(session, claimant.person_id, claimant.unit_id, 100)
    return {
        "wishes": [wish_view(w) for w in found_wishes],
        "matches": [match_view(m) for m in projects],
    }


@bp.get(
    "/wish-counts",
    summary="微心愿 claimed, fulfilled and confirmed per member and unit in your communities",
)
@requires(PARTY)
def counts(query: CountsQuery) -> dict[str, Any]:
    return {"results": domain.counts(get_session(), caller(), query.quarter)}
