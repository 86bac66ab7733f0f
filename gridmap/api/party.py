"""双报到: units and in-service members reporting to a community, service posts, the
activities a community publishes (社区吹哨) and members' sign-ups, check-ins and hours
(党员报到), and the quarter's table against the rule (双报告) with its Excel download.

Staff (*party*: street, community, zone, grid worker) act on the communities their scope
manages (another's activity or unit is 404); a member (*serve*) acts for themselves in the
community they are registered with today.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from gridmap.access.auth import PARTY, REVEAL, SERVE, UNIT_REPORT, Caller
from gridmap.access.security import audit_write, caller, requires
from gridmap.api import params, serializers
from gridmap.api.common import Strict
from gridmap.api.jobs import accepted, job_owner
from gridmap.core import clock
from gridmap.core.db import get_session
from gridmap.core.privacy import Disclosure
from gridmap.party import party_map, report_jobs
from gridmap.party import reporting as domain
from gridmap.storage import party as store

bp = APIBlueprint(
    "party",
    __name__,
    url_prefix="/api/v1/party",
    abp_tags=[Tag(name="party")],
    abp_security=params.BEARER,
)

QUARTER = r"^[0-9]{4}Q[1-4]$"
COMMUNITY = r"^[0-9]{12}$"
POST_KIND = r"^[a-z][a-z0-9_]{1,29}$"
CRS = Field("EPSG:4326", min_length=1, max_length=40, description="As /api/v1/locate's crs")


class Point(Strict):
    lon: float = Field(ge=-180, le=180, description="Longitude in the declared CRS")
    lat: float = Field(ge=-90, le=90, description="Latitude in the declared CRS")
    crs: str = CRS


class UnitBody(Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9._-]{2,30}$", description="The unit's own code")
    name: str = Field(min_length=1, max_length=100)
    community: str = Field(pattern=COMMUNITY, description="The community it reports to")


class UnitPath(BaseModel):
    unit_id: int = Field(ge=1, le=2**31 - 1)


class RegistrationBody(Strict):
    person_id: int = Field(ge=1, le=2**31 - 1, description="An in-service member")
    home: Point | None = Field(None, description="Default: the member's recorded home")
    unit_id: int | None = Field(None, ge=1, le=2**31 - 1, description="The unit they work in")
    since: params.Day | None = Field(None, description="Default: today (a move: the day moved)")


class SelfRegistrationBody(Strict):
    home: Point | None = Field(None, description="Default: your recorded home")
    unit_id: int | None = Field(None, ge=1, le=2**31 - 1, description="The unit you work in")


class PostsBody(Strict):
    kinds: list[str] = Field(max_length=30, description="Codes of /api/v1/party/posts")


class ActivityBody(Strict):
    community: str = Field(pattern=COMMUNITY)
    kind: str = Field(pattern=POST_KIND, description="A post kind of /api/v1/party/posts")
    title: str = Field(min_length=1, max_length=100)
    starts_at: params.AwareMoment
    ends_at: params.AwareMoment = Field(description="After starts_at, within 24 hours")
    place_name: str = Field(min_length=1, max_length=200)
    place: Point
    wanted: int = Field(ge=1, le=1000, description="How many members are wanted")


class ActivityPath(BaseModel):
    activity_id: int = Field(ge=1, le=2**63 - 1)


class ActivityListQuery(BaseModel):
    start: params.Day | None = Field(None, alias="from", description="Default: 30 days ago")
    end: params.Day | None = Field(None, alias="to", description="Default: 90 days on")
    limit: int = Field(200, ge=1, le=1000)


class MineQuery(BaseModel):
    days: int = Field(7, ge=0, le=120, description="Also activities of the last days")
    limit: int = Field(100, ge=1, le=500)


class AttendanceBody(Strict):
    person_id: int = Field(ge=1, le=2**31 - 1, description="A member signed up")
    hours: float | None = Field(
        None, gt=0, le=24, description="Hours to count (2 decimals); default: its length"
    )


class QuarterQuery(BaseModel):
    quarter: str | None = Field(None, pattern=QUARTER, description="YYYYQn; default: this one")
    community: str | None = Field(None, pattern=COMMUNITY)


class UnitReportQuery(BaseModel):
    quarter: str | None = Field(None, pattern=QUARTER, description="YYYYQn; default: this one")


class MapQuery(BaseModel):
    community: str | None = Field(None, pattern=COMMUNITY, description="Default: all of yours")


class ReportJobBody(Strict):
    quarter: str | None = Field(None, pattern=QUARTER, description="YYYYQn; default: this one")
    community: str | None = Field(None, pattern=COMMUNITY)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _activity(row: Any, signed: Any = None) -> dict[str, Any]:
    found = {
        "id": row.id,
        "title": row.title,
        "kind": row.kind,
        "starts_at": _iso(row.starts_at),
        "ends_at": _iso(row.ends_at),
        "place_name": row.place_name,
        "place": {"lon": row.lon, "lat": row.lat},
        "wanted": row.wanted,
        "signed": row.signed,
        "attended": row.attended,
        "community": {"code": row.community_code, "name": row.community_name},
    }
    if signed is not None:
        found["mine"] = {
            "attended_at": _iso(signed.attended_at),
            "how": signed.how,
            "hours": None if signed.hours is None else float(signed.hours),
        }
    return found


def _attendance(entry: dict[str, Any]) -> dict[str, Any]:
    hours = entry["hours"]
    return entry | {
        "attended_at": _iso(entry["attended_at"]),
        "hours": None if hours is None else float(hours),
    }


def _report_row(row: dict[str, Any], disclosure: Disclosure) -> dict[str, Any]:
    return row | {
        "id": row["person_id"],
        "name": disclosure.staff_name(row["name"]),
        "since": row["since"].isoformat(),
        "until": row["until"] and row["until"].isoformat(),
        "hours": float(row["hours"]),
        "quarter_hours": float(row["quarter_hours"]),
    }


def _report(table: domain.Report, disclosure: Disclosure) -> dict[str, Any]:
    return {
        "quarter": table.quarter.label,
        "quarter_name": table.quarter.name,
        "rule": {"services": table.rule.services, "hours": float(table.rule.hours)},
        "summary": table.summary,
        "by_community": table.by_community,
        "rows": [_report_row(r, disclosure) for r in table.rows],
    }


def _unit(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "reported_on": row.reported_on.isoformat(),
        "community": {"code": row.community_code, "name": row.community_name},
        "members": row.members,
    }


def _settings() -> Any:
    return current_app.extensions["gridmap.settings"]


# ---------------------------------------------------------------------------- posts, units


@bp.get("/posts", summary="The kinds of service post (服务岗位) members may choose")
@requires(PARTY, SERVE)
def posts() -> dict[str, Any]:
    return {"posts": [{"code": c, "name": n} for c, n in store.post_kinds(get_session())]}


@bp.get("/units", summary="Units' party organisations (单位党组织) reporting to your communities")
@requires(PARTY)
def units() -> dict[str, Any]:
    return {"results": [_unit(u) for u in store.units(get_session(), caller().scope)]}


@bp.post("/units", summary="Record a unit's party organisation reporting to a community (双报到)")
@requires(PARTY)
def add_unit(body: UnitBody) -> Response:
    session = get_session()
    unit_id = domain.add_unit(session, caller().scope, body.code, body.name, body.community)
    audit_write("party.unit", "party_unit", unit_id, {"code": body.code})
    response = jsonify(_unit(store.units(session, caller().scope, unit_id)[0]))
    response.status_code = 201
    return response


@bp.get(
    "/units/<int:unit_id>/report",
    summary="双报告: a unit's members and their quarter against the rule",
)
@requires(PARTY)
def unit_report(path: UnitPath, query: UnitReportQuery) -> dict[str, Any]:
    who = caller()
    unit, table = domain.unit_report(
        get_session(), who.scope, path.unit_id, domain.quarter(query.quarter), _settings()
    )
    return {"unit": _unit(unit)} | _report(table, who.disclosure)


@bp.get(
    "/my-unit/report",
    summary="双报告: your unit's members and their quarter against the rule (a unit's account)",
)
@requires(UNIT_REPORT)
def my_unit_report(query: UnitReportQuery) -> dict[str, Any]:
    who = caller()
    unit, table = domain.unit_report(
        get_session(), who.scope, domain.unit_of(who), domain.quarter(query.quarter), _settings()
    )
    return {"unit": _unit(unit)} | _report(table, who.disclosure)


# ------------------------------------------------------------------------- registrations


@bp.post(
    "/registrations",
    summary="Register an in-service member with the community holding their home; a later "
    "registration is a move (双报到)",
)
@requires(PARTY)
def register(body: RegistrationBody) -> Response:
    home = body.home
    new = domain.Registration(
        person_id=body.person_id,
        lon=home.lon if home else None,
        lat=home.lat if home else None,
        crs=home.crs if home else "EPSG:4490",
        unit_id=body.unit_id,
        since=body.since,
    )
    found = domain.register(get_session(), new, caller().scope)
    audit_write("party.register", "person", body.person_id, {"community": found["community"]})
    response = jsonify(found)
    response.status_code = 201
    return response


@bp.get("/me", summary="Your 双报到: community, posts and this quarter's services and hours")
@requires(SERVE)
def me() -> dict[str, Any]:
    session, who = get_session(), caller()
    person_id = domain.member_of(session, who)
    found = store.registration_view(session, person_id, clock.today())
    mine = domain.my_quarter(session, person_id, domain.quarter(None), _settings())
    return {
        "registration": found
        and {
            "community": {"code": found.community_code, "name": found.community_name},
            "unit": found.unit_id and {"id": found.unit_id, "name": found.unit_name},
            "since": found.valid_from.isoformat(),
        },
        "posts": store.member_posts(session, person_id),
        "quarter": _quarter(mine),
    }


def _quarter(mine: dict[str, Any]) -> dict[str, Any]:
    return mine | {
        "hours": float(mine["hours"]),
        "rule": {"services": mine["rule"]["services"], "hours": float(mine["rule"]["hours"])},
        "activities": [
            {
                "id": a.id,
                "title": a.title,
                "kind": a.kind,
                "starts_at": _iso(a.starts_at),
                "how": a.how,
                "hours": float(a.hours),
            }
            for a in mine["activities"]
        ],
    }


@bp.post(
    "/me/registration",
    summary="Report to the community where you live (双报到); a later one is a move, "
    "keeping your unit unless you name another",
)
@requires(SERVE)
def register_me(body: SelfRegistrationBody) -> Response:
    session, who = get_session(), caller()
    home = body.home
    new = domain.Registration(
        person_id=domain.member_of(session, who),
        lon=home.lon if home else None,
        lat=home.lat if home else None,
        crs=home.crs if home else "EPSG:4490",
        unit_id=body.unit_id,
        keep_unit=True,
    )
    found = domain.register(session, new)
    audit_write("party.register", "person", new.person_id, {"community": found["community"]})
    response = jsonify(found)
    response.status_code = 201
    return response


@bp.put("/me/posts", summary="Choose your service posts (认领岗位), replacing the earlier choice")
@requires(SERVE)
def choose_posts(body: PostsBody) -> dict[str, Any]:
    session, who = get_session(), caller()
    person_id = domain.member_of(session, who)
    chosen = domain.set_posts(session, person_id, body.kinds)
    audit_write("party.posts", "person", person_id, {"kinds": chosen})
    return {"posts": chosen}


# ---------------------------------------------------------------------------- activities


@bp.get("/activities", summary="Activities of your communities (社区吹哨), by start")
@requires(PARTY)
def activities(query: ActivityListQuery) -> dict[str, Any]:
    today = clock.today()
    first = query.start or today - dt.timedelta(days=30)
    last = query.end or today + dt.timedelta(days=90)
    rows = store.activities(
        get_session(),
        domain.managed(caller().scope),
        domain._midnight(first),
        domain._midnight(last + dt.timedelta(days=1)),
        query.limit,
    )
    return {"results": [_activity(r) for r in rows]}


@bp.post("/activities", summary="Publish an activity for a community's members (社区吹哨)")
@requires(PARTY)
def publish(body: ActivityBody) -> Response:
    new = domain.NewActivity(
        community=body.community,
        kind=body.kind,
        title=body.title,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        place_name=body.place_name,
        lon=body.place.lon,
        lat=body.place.lat,
        crs=body.place.crs,
        wanted=body.wanted,
    )
    session, who = get_session(), caller()
    activity_id = domain.publish(session, who, new)
    audit_write("party.publish", "party_activity", activity_id, {"community": body.community})
    response = jsonify(_activity(domain.activity(session, activity_id, domain.managed(who.scope))))
    response.status_code = 201
    return response


@bp.get("/activities/<int:activity_id>", summary="One activity with its sign-ups and attendance")
@requires(PARTY)
def activity(path: ActivityPath) -> dict[str, Any]:
    session, who = get_session(), caller()
    row = domain.activity(session, path.activity_id, domain.managed(who.scope))
    people = [
        {
            "person_id": s.person_id,
            "name": who.disclosure.staff_name(s.name),
            "signed_at": _iso(s.signed_at),
            "attended_at": _iso(s.attended_at),
            "how": s.how,
            "distance_m": None if s.distance_m is None else round(s.distance_m, 1),
            "hours": None if s.hours is None else float(s.hours),
        }
        for s in store.signups(session, path.activity_id)
    ]
    return _activity(row) | {"signups": people}


@bp.post(
    "/activities/<int:activity_id>/attendance",
    summary="Confirm a signed-up member attended (the organiser), counting the hours",
)
@requires(PARTY)
def confirm(path: ActivityPath, body: AttendanceBody) -> dict[str, Any]:
    session, who = get_session(), caller()
    hours = None if body.hours is None else Decimal(str(round(body.hours, 2)))
    found = domain.confirm(session, who, path.activity_id, body.person_id, hours)
    audit_write("party.confirm", "party_activity", path.activity_id, {"person": body.person_id})
    return _attendance(found)


@bp.get("/me/activities", summary="Activities of your community to sign up for, and yours")
@requires(SERVE)
def my_activities(query: MineQuery) -> dict[str, Any]:
    session, who = get_session(), caller()
    person_id = domain.member_of(session, who)
    found, mine = domain.member_activities(session, person_id, query.days, query.limit)
    return {"results": [_activity(a, mine.get(a.id)) for a in found]}


@bp.post(
    "/me/activities/<int:activity_id>/signup",
    summary="Sign up for an activity of your community (党员报到); 409 when every place is taken",
)
@requires(SERVE)
def sign_up(path: ActivityPath) -> Response:
    session, who = get_session(), caller()
    person_id = domain.member_of(session, who)
    created = domain.sign_up(session, person_id, path.activity_id)
    audit_write("party.signup", "party_activity", path.activity_id, {"new": created})
    response = jsonify({"activity_id": path.activity_id, "signed": True})
    response.status_code = 201 if created else 200
    return response


@bp.delete(
    "/me/activities/<int:activity_id>/signup",
    summary="Withdraw your sign-up before the activity ends, freeing the place",
)
@requires(SERVE)
def cancel_sign_up(path: ActivityPath) -> Response:
    session, who = get_session(), caller()
    domain.cancel_signup(session, domain.member_of(session, who), path.activity_id)
    audit_write("party.cancel", "party_activity", path.activity_id, {})
    return jsonify({"activity_id": path.activity_id, "signed": False})


@bp.post(
    "/me/activities/<int:activity_id>/check-in",
    summary="Check in at the activity's place while it takes place: confirms your attendance",
)
@requires(SERVE)
def check_in(path: ActivityPath, body: Point) -> dict[str, Any]:
    session, who = get_session(), caller()
    person_id = domain.member_of(session, who)
    point = (body.lon, body.lat, body.crs)
    found = domain.check_in(session, person_id, path.activity_id, point, _settings())
    audit_write("party.check_in", "party_activity", path.activity_id, {})
    return _attendance(found)


# ------------------------------------------------------------------------------- the map


def _map_features(found: party_map.PartyMap, who: Caller) -> list[dict[str, Any]]:
    """The party map's layers as GeoJSON features, each with its ``layer``; names as the
    reader sees staff names, phones masked, each person ``revealable`` or not."""
    revealable = found.revealable if REVEAL in who.capabilities else set()

    def _person(entry: dict[str, Any]) -> dict[str, Any]:
        shown = who.disclosure.staff_contact(entry)
        person_id = entry["person_id"]
        return {
            "person_id": person_id,
            "name": shown["name"],
            "phone": shown["phone"],
            "revealable": person_id in revealable,
        }

    features = [
        serializers.feature(
            f"building.{b.id}",
            b.geojson,
            {
                "layer": "building",
                "number": b.number,
                "name": b.name,
                "households": b.households,
                "posts": [
                    {"role": p["role"], "unit": p["unit"]} | _person(dict(p))
                    for p in found.posts.get(b.id, [])
                ],
            },
        )
        for b in found.buildings
    ]
    features += [
        serializers.feature(
            f"central.{c.id}",
            c.geojson,
            {
                "layer": "central",
                "household_id": c.household_id,
                "neighbours": found.neighbours[c.id],
            }
            | _person(c._asdict()),
        )
        for c in found.centrals
    ]
    features += [
        serializers.feature(
            f"member.{m.id}",
            m.geojson,
            {
                "layer": "member",
                "community": {"code": m.community_code, "name": m.community_name},
                "unit": m.unit_name,
                "posts": sorted(m.posts or []),
            }
            | _person({"person_id": m.id, "name": m.name, "phone": m.phone}),
        )
        for m in found.members
    ]
    return features + [
        serializers.feature(
            f"coverage.{c['code']}",
            found.shapes[c["code"]],
            {"layer": "coverage"} | dict(c),
        )
        for c in found.coverage
        if c["code"] in found.shapes
    ]


@bp.get(
    "/map",
    summary="党建地图: buildings with their 楼栋长 and 单元长, 党员中心户 and their neighbours, "
    "registered members' homes with their posts, and micro-grids' coverage (GeoJSON)",
)
@requires(PARTY)
def party_map_layers(query: MapQuery) -> Response:
    who = caller()
    found = party_map.layers(get_session(), who.scope, clock.today(), query.community)
    features = _map_features(found, who)
    return serializers.geojson_response(
        {
            "type": "FeatureCollection",
            "numberReturned": len(features),
            "next": None,
            "features": features,
        }
    )


# ------------------------------------------------------------------------------- reports


@bp.get("/report", summary="The quarter's 双报到 table: members' services and hours vs the rule")
@requires(PARTY)
def report(query: QuarterQuery) -> dict[str, Any]:
    who = caller()
    table = domain.report(
        get_session(), who.scope, domain.quarter(query.quarter), _settings(), query.community
    )
    return _report(table, who.disclosure)


@bp.post(
    "/report-jobs",
    summary="Build the quarter's 双报到 table as Excel in the background: 202 and the job to "
    "poll; its file is at /api/v1/jobs/<id>/file",
)
@requires(PARTY)
def report_job(body: ReportJobBody) -> Response:
    wanted = report_jobs.PartyReportRequest(
        quarter=domain.quarter(body.quarter).label, community=body.community
    )
    job_id = report_jobs.submit(get_session(), job_owner(), wanted)
    audit_write("party.report", "job", job_id, body.model_dump(mode="json"))
    return accepted(job_id)
