"""Patrols and visits (巡查走访) and the 3+N work lists, for a worker's phone and a chief's map.

A worker (an account linked to a person, with *handle*) starts a live patrol, posts fixes in
batches (each fix numbered by the phone: a batch posted twice stores nothing twice), checks in
at households and ends it; or uploads a finished GPX/GeoJSON track. Every write takes an
``Idempotency-Key`` (the first answer is replayed for a retry). Readers (*read*) get a
person's lists of the day, a patrol for replay, a household's last visits and the overdue
duties of their scope as JSON or GeoJSON layers. Names, addresses and numbers in notes are
masked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any, Literal

from flask import Response, current_app, json, request
from flask_openapi3 import APIBlueprint, RawModel, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import HANDLE, READ
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params, serializers
from gridmap.api.common import Location, Note, Photo, Strict, idempotency_key
from gridmap.api.visits import visit_answer
from gridmap.core import clock
from gridmap.core.db import get_session
from gridmap.core.errors import InvalidInput
from gridmap.core.privacy import Disclosure, mask_text
from gridmap.patrols import service as domain
from gridmap.requests import service as requests_domain
from gridmap.storage import patrols as store
from gridmap.storage.grids import Page
from gridmap.visits import service as visits_domain

bp = APIBlueprint(
    "patrols",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="patrols")],
    abp_security=params.BEARER,
)

LIST_CODE = r"^[a-z0-9][a-z0-9._-]{1,39}$"
GRID_CODE = params.GRID_CODE
CRS_TEXT = "EPSG:4326, EPSG:4490, EPSG:4491–4554, GCJ02 (AMap/Tencent) or BD09 (Baidu)"
MAX_ID = 2**31 - 1
_UPLOAD_TYPES = ["application/gpx+xml", "application/geo+json", "multipart/form-data"]
_TRACK_TYPES = {
    "application/gpx+xml": "gpx",
    "application/geo+json": "geojson",
    "application/json": "geojson",
}


class StartBody(Strict):
    work_list: str = Field(pattern=LIST_CODE, description="The list done, e.g. daily_patrol")
    grid: str | None = Field(
        None, pattern=GRID_CODE, description="The grid patrolled (default: your post)"
    )
    started_at: params.AwareMoment | None = Field(None, description="Default: now")
    crs: str = Field(
        "EPSG:4326", min_length=1, max_length=40, description=f"Of the fixes: {CRS_TEXT}"
    )


class FixBody(Strict):
    seq: int = Field(ge=0, le=MAX_ID, description="The phone's number of the fix")
    t: params.AwareMoment = Field(description="When, with its offset")
    lon: float = Field(allow_inf_nan=False)
    lat: float = Field(allow_inf_nan=False)
    accuracy_m: float | None = Field(None, ge=0, le=100_000, allow_inf_nan=False)


class PointsBody(Strict):
    crs: str | None = Field(None, min_length=1, max_length=40, description="Default: the patrol's")
    points: list[FixBody] = Field(min_length=1, max_length=5000)


class CheckInBody(Strict):
    household_id: int = Field(ge=1, le=2**63 - 1)
    at: params.AwareMoment | None = Field(None, description="Default: now")
    location: Location | None = Field(None, description="Where the phone was")
    note: Note | None = None
    photo: Photo | None = None


class EndBody(Strict):
    ended_at: params.AwareMoment | None = Field(None, description="Default: now")


class PatrolPath(BaseModel):
    patrol_id: int = Field(ge=1, le=2**63 - 1)


class UploadQuery(params.Query):
    work_list: str = Field("daily_patrol", pattern=LIST_CODE)
    crs: str = Field("EPSG:4326", max_length=40, description=CRS_TEXT)
    format: Literal["gpx", "geojson"] | None = Field(
        None, description="Default: from the content type or the file's first character"
    )
    grid: str | None = Field(None, pattern=GRID_CODE, description="Default: from the track")


class TrackFile(RawModel):
    """The track file: the whole body, or the multipart field ``file``."""

    mimetypes: list[str] = _UPLOAD_TYPES


class WorkListQuery(params.Query):
    person_id: int | None = Field(None, ge=1, le=MAX_ID, description="Default: yours")
    date: params.Day | None = Field(None, description="Default: today (Beijing)")
    work_list: str | None = Field(None, pattern=LIST_CODE)


class PatrolListQuery(params.PageQuery):
    date: params.Day | None = Field(None, description="Patrols begun on this day (Beijing)")
    person_id: int | None = Field(None, ge=1, le=MAX_ID)
    grid: str | None = Field(None, pattern=GRID_CODE, description="Patrols of this subtree")
    work_list: str | None = Field(None, pattern=LIST_CODE)


class OverdueQuery(params.Query):
    date: params.Day | None = Field(None, description="Default: today (Beijing)")
    grid: str | None = Field(None, pattern=GRID_CODE, description="Duties in this subtree")
    work_list: str | None = Field(None, pattern=LIST_CODE)
    level: params.GridLevel = Field("micro", description="Level of the counts per grid")
    format: Literal["json", "geojson"] = Field("json", description="geojson: a map layer")
    limit: int | None = Field(None, ge=1, description="Rows (default 1000, counts complete)")


class VisitsQuery(params.Query):
    limit: int = Field(20, ge=1, le=100)


# ---------------------------------------------------------------------------------- answers


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _person(person_id: int, name: str | None, disclosure: Disclosure) -> dict[str, Any]:
    """A grid worker or member: staff, named as ``disclosure`` says staff are."""
    return {"id": person_id, "name": disclosure.staff_name(name)}


def patrol_properties(row: Any, disclosure: Disclosure) -> dict[str, Any]:
    """A patrol as lists and the replay show it: who, which list, where, when."""
    return {
        "id": row.id,
        "person": _person(row.person_id, row.person_name, disclosure),
        "work_list": {"code": row.list_code, "name": row.list_name, "kind": row.list_kind},
        "grid_code": row.grid_code,
        "grid_name": row.grid_name,
        "source": row.source,
        "source_crs": row.source_crs,
        "state": "running" if row.ended_at is None else "ended",
        "started_at": _iso(row.started_at),
        "ended_at": _iso(row.ended_at),
        "length_m": _round(row.length_m),
        "report": row.track_report,
    }


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(float(lon), 7), round(float(lat), 7)]}


def _replay(found: dict[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    """A patrol as a FeatureCollection: the track (times per vertex, UNIX seconds), its
    check-ins and the households it reached."""
    parts = found["parts"]
    track = {
        "type": "Feature",
        "id": "track",
        "geometry": (
            {"type": "MultiLineString", "coordinates": [p["coordinates"] for p in parts]}
            if parts
            else None
        ),
        "properties": {"kind": "track", "times": [p["times"] for p in parts]},
    }
    check_ins = [
        {
            "type": "Feature",
            "id": f"check-in-{c.id}",
            "geometry": _point(c.lon, c.lat),
            "properties": {
                "kind": "check_in",
                "household_id": c.household_id,
                "at": _iso(c.at),
                "note": mask_text(c.note),
                "photo": c.photo,
                "distance_m": _round(c.distance_m),
            },
        }
        for c in found["check_ins"]
    ]
    reached = [
        {
            "type": "Feature",
            "id": f"reached-{r.household_id}",
            "geometry": _point(r.lon, r.lat),
            "properties": {
                "kind": "reached",
                "household_id": r.household_id,
                "address": disclosure.address(r.address),
                "how": r.how,
                "at": _iso(r.at),
                "distance_m": _round(r.distance_m),
            },
        }
        for r in found["reached"]
    ]
    return {
        "type": "FeatureCollection",
        "id": found["patrol"].id,
        "properties": patrol_properties(found["patrol"], disclosure),
        "features": [track, *check_ins, *reached],
    }


def _duty(row: Any, disclosure: Disclosure) -> dict[str, Any]:
    """One duty of a list: a household (its door as ``disclosure`` says) or a grid, done or
    due."""
    base = {"type": row.target, "done_at": _iso(row.done_at), "done": row.done_at is not None}
    if row.target == "grid":
        return base | {"code": row.grid_code, "name": row.grid_name}
    return base | {
        "id": row.household_id,
        "address": disclosure.address(row.address),
        "care_tags": list(row.care_tags or []),
        "micro_grid_code": row.grid_code,
        "lon": round(float(row.lon), 7),
        "lat": round(float(row.lat), 7),
    }


def _rule(rule: Any, period: domain.Period) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name": rule.name,
        "kind": rule.kind,
        "target": rule.target,
        "care_tags": list(rule.care_tags),
        "period": rule.period,
        "period_first_day": period.first_day,
        "period_last_day": period.last_day,
        "min_reach": rule.min_reach,
    }


def _work_lists(found: dict[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    lists = []
    for entry in found["lists"]:
        items = [_duty(r, disclosure) for r in entry["rows"]]
        done = sum(1 for i in items if i["done"])
        lists.append(
            _rule(entry["rule"], entry["period"])
            | {"done": done, "due": len(items) - done, "items": items}
        )
    person = found["person"]
    return {
        "person": _person(person.id, person.name, disclosure),
        "date": found["date"],
        "lists": lists,
    }


def _overdue_row(entry: dict[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    row, rule = entry["row"], entry["rule"]
    duty = _duty(row, disclosure)
    duty.pop("done")
    duty.pop("done_at")
    return duty | {
        "work_list": rule.code,
        "kind": rule.kind,
        "person_ids": sorted(row.person_ids),
        "last_reached_at": _iso(entry["last"]),
    }


def _overdue(found: dict[str, Any], geojson: bool, disclosure: Disclosure) -> Response:
    counts = {
        "date": found["date"],
        "lists": [
            _rule(e["rule"], e["period"]) | {"total": e["total"], "due": e["due"]}
            for e in found["lists"]
        ],
        "by_worker": [e | {"name": disclosure.staff_name(e["name"])} for e in found["by_person"]],
        "by_grid": found["by_grid"],
    }
    rows = [_overdue_row(e, disclosure) for e in found["rows"]]
    if not geojson:
        return _json(counts | {"numberReturned": len(rows), "rows": rows})
    features = [
        serializers.feature(
            r.get("id", r.get("code")), e["row"].geojson, r | {"id": r.get("id", r.get("code"))}
        )
        for r, e in zip(rows, found["rows"], strict=True)
    ]
    layer = {"type": "FeatureCollection", "numberReturned": len(features), "features": features}
    return Response(json.dumps(layer | {"counts": counts}), mimetype=serializers.GEOJSON)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _visit(row: Any, disclosure: Disclosure) -> dict[str, Any]:
    return {
        "patrol_id": row.patrol_id,
        "person": _person(row.person_id, row.person_name, disclosure),
        "work_list": {"code": row.list_code, "name": row.list_name, "kind": row.list_kind},
        "how": row.how,
        "at": _iso(row.at),
        "distance_m": _round(row.distance_m),
        "note": mask_text(row.note),
    }


# ------------------------------------------------------------------------------ writing


def _settings() -> Any:
    return current_app.extensions["gridmap.settings"]


def _once(
    action: str | None,
    fingerprint: dict[str, Any],
    write: Callable[[], tuple[int, dict[str, Any], int, dict[str, Any]]],
) -> Response:
    """Run ``write`` once per Idempotency-Key: it returns the status, the answer, the
    patrol's id and the audit detail. Audits as ``action`` (unless None) and commits; a retry
    replays the first answer."""
    session, who = get_session(), caller()
    audited: list[tuple[int, dict[str, Any]]] = []

    def run() -> tuple[int, str]:
        status, answer, patrol_id, detail = write()
        audited.append((patrol_id, detail))
        return status, json.dumps(answer)

    status, text, replayed = requests_domain.once(
        session,
        who.user_id,
        idempotency_key(),
        requests_domain.fingerprint(request.path, fingerprint),
        run,
    )
    if audited and action is not None:
        audit_write(action, "patrol", audited[0][0], audited[0][1])
    else:
        session.commit()
    response = Response(text, status=status, mimetype="application/json")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _summary(patrol_id: int) -> dict[str, Any]:
    who = caller()
    row = store.get_patrol(get_session(), patrol_id, who.scope)
    if row is None:  # recorded by the caller, so visible unless its grid left the scope
        return {"id": patrol_id}
    return patrol_properties(row, who.disclosure)


def _track_file() -> tuple[bytes, str | None]:
    """The uploaded file (multipart field ``file``, or the whole body) and its format as the
    content type says, if it does."""
    upload = request.files.get("file")
    if upload is not None:
        data = upload.read()
        name = (upload.filename or "").lower()
        kind = "gpx" if name.endswith(".gpx") else None
        kind = "geojson" if name.endswith((".geojson", ".json")) else kind
    else:
        data = request.get_data(cache=False)
        kind = _TRACK_TYPES.get(request.mimetype)
    if not data.strip():
        raise InvalidInput(
            "send the track: a GPX or GeoJSON file as the body, or as multipart field 'file'"
        )
    return data, kind


# ----------------------------------------------------------------------------------- routes


@bp.get("/worklists", summary="A person's 3+N work lists of a day: duties done and due")
@requires(READ)
def work_lists(query: WorkListQuery) -> Response:
    session, who = get_session(), caller()
    person_id = query.person_id or domain.person_of(session, who)
    found = domain.work_lists(
        session, who.scope, person_id, query.date or clock.today(), query.work_list
    )
    return _json(_work_lists(found, who.disclosure))


@bp.post("/patrols", summary="Start a live patrol as yourself (Idempotency-Key)")
@requires(HANDLE)
def start_patrol(body: StartBody) -> Response:
    def write() -> tuple[int, dict[str, Any], int, dict[str, Any]]:
        patrol_id = domain.start(
            get_session(),
            caller(),
            list_code=body.work_list,
            grid_code=body.grid,
            started_at=body.started_at,
            crs=body.crs,
        )
        return 201, _summary(patrol_id), patrol_id, {"work_list": body.work_list}

    response = _once("patrol.start", body.model_dump(mode="json"), write)
    if response.status_code == 201:
        response.headers["Location"] = f"/api/v1/patrols/{json.loads(response.data)['id']}"
    return response


@bp.post(
    "/patrols/<int:patrol_id>/points",
    summary="Post fixes of your running patrol (numbered: a batch posted twice stores once)",
)
@requires(HANDLE)
def post_points(path: PatrolPath, body: PointsBody) -> Response:
    fixes = [domain.Fix(p.seq, p.t, p.lon, p.lat, p.accuracy_m) for p in body.points]

    def write() -> tuple[int, dict[str, Any], int, dict[str, Any]]:
        answer = domain.add_fixes(get_session(), caller(), path.patrol_id, fixes, body.crs)
        detail = {k: answer[k] for k in ("received", "stored")}
        return 200, answer, path.patrol_id, detail

    # Not audited: a batch comes every few seconds; the patrol's start and end are.
    return _once(None, body.model_dump(mode="json"), write)


@bp.post(
    "/patrols/<int:patrol_id>/checkins", summary="Check in at a household (入户签到) on patrol"
)
@requires(HANDLE)
def check_in(path: PatrolPath, body: CheckInBody) -> Response:
    place = body.location
    new = domain.NewCheckIn(
        household_id=body.household_id,
        at=body.at,
        lon=place.lon if place else None,
        lat=place.lat if place else None,
        crs=place.crs if place else "EPSG:4326",
        note=body.note,
        photo=body.photo,
    )

    def write() -> tuple[int, dict[str, Any], int, dict[str, Any]]:
        answer = domain.check_in(get_session(), caller(), path.patrol_id, new)
        return 201, answer, path.patrol_id, {"household_id": body.household_id}

    return _once("patrol.check_in", body.model_dump(mode="json"), write)


@bp.post("/patrols/<int:patrol_id>/end", summary="End your patrol: clean its track, coverage")
@requires(HANDLE)
def end_patrol(path: PatrolPath, body: EndBody) -> Response:
    def write() -> tuple[int, dict[str, Any], int, dict[str, Any]]:
        domain.end(get_session(), caller(), path.patrol_id, _settings(), body.ended_at)
        summary = _summary(path.patrol_id)
        return 200, summary, path.patrol_id, {"points": summary.get("report", {}).get("points_in")}

    return _once("patrol.end", body.model_dump(mode="json"), write)


@bp.post(
    "/patrols/upload",
    summary="Upload a finished patrol: a GPX or GeoJSON track (body or multipart 'file')",
)
@requires(HANDLE)
def upload_patrol(query: UploadQuery, raw: TrackFile) -> Response:
    data, kind = _track_file()
    fmt = query.format or kind

    def write() -> tuple[int, dict[str, Any], int, dict[str, Any]]:
        patrol_id = domain.upload(
            get_session(),
            caller(),
            data,
            _settings(),
            fmt=fmt,
            list_code=query.work_list,
            crs=query.crs,
            grid_code=query.grid,
        )
        summary = _summary(patrol_id)
        return 201, summary, patrol_id, {"work_list": query.work_list, "bytes": len(data)}

    digest = hashlib.sha256(data).hexdigest()
    response = _once("patrol.upload", query.model_dump(mode="json") | {"file": digest}, write)
    if response.status_code == 201:
        response.headers["Location"] = f"/api/v1/patrols/{json.loads(response.data)['id']}"
    return response


@bp.get("/patrols", summary="Patrols in scope, newest first (GeoJSON, tracks simplified)")
@requires(READ)
def list_patrols(query: PatrolListQuery) -> Response:
    limit, before = params.parse_page(query)
    since = until = None
    if query.date is not None:
        since = domain.midnight(query.date)
        until = domain.midnight(query.date + dt.timedelta(days=1))
    wanted = store.PatrolFilter(since, until, query.person_id, query.grid, query.work_list)
    who = caller()
    rows, after = store.list_patrols(
        get_session(), wanted, who.scope, limit=limit, before_id=before
    )
    features = [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": json.loads(r.geojson) if r.geojson else None,
            "properties": patrol_properties(r, who.disclosure),
        }
        for r in rows
    ]
    return serializers.feature_collection(
        features, Page(rows, None if after is None else str(after))
    )


@bp.get(
    "/patrols/<int:patrol_id>",
    summary="A patrol for replay: track with times, check-ins, households reached (GeoJSON)",
)
@requires(READ)
def get_patrol(path: PatrolPath) -> Response:
    who = caller()
    found = domain.detail(get_session(), path.patrol_id, who.scope, _settings())
    return serializers.geojson_response(_replay(found, who.disclosure))


@bp.get(
    "/patrols/overdue",
    summary="Duties still due in scope (care visits, surveys, daily patrols), counts per "
    "worker and grid; format=geojson for a map layer",
)
@requires(READ)
def overdue(query: OverdueQuery) -> Response:
    maximum = _settings().max_page_size
    limit = min(1000, maximum) if query.limit is None else query.limit
    if limit > maximum:
        raise InvalidInput(f"limit must be at most {maximum}, not {limit}")
    who = caller()
    found = domain.overdue(
        get_session(),
        who.scope,
        query.date or clock.today(),
        grid_code=query.grid,
        list_code=query.work_list,
        level=query.level,
        limit=limit,
        geometry=query.format == "geojson",
    )
    return _overdue(found, query.format == "geojson", who.disclosure)


@bp.get(
    "/households/<int:household_id>/visits",
    summary="A household's last patrols and visits: who, when, how (check-in or pass-by), "
    "and its visit logs (民情日志)",
)
@requires(READ)
def household_visits(path: params.HouseholdPath, query: VisitsQuery) -> dict[str, Any]:
    who, session = caller(), get_session()
    rows = domain.household_visits(session, path.household_id, who.scope, query.limit)
    logs = visits_domain.of_household(session, who, path.household_id, query.limit)
    return {
        "household_id": path.household_id,
        "visits": [_visit(r, who.disclosure) for r in rows],
        "logs": [visit_answer(r, who.disclosure) for r in logs],
    }
