"""Page views: thin adapters from a request to a map builder or a query, and a template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from gridmap import jobs
from gridmap.access import accounts, audit, auth
from gridmap.access.auth import (
    ACCOUNTS,
    ASSIGN,
    AUDIT,
    CLAIM,
    EXPORT,
    HANDLE,
    IMPORT,
    PARTY,
    READ,
    REVIEW,
    ROLES,
    SERVE,
    SIGNED_IN,
    UNIT_REPORT,
    VISIT,
)
from gridmap.access.security import (
    SESSION_COOKIE,
    audit_write,
    caller,
    csp_nonce,
    limiter,
    origin,
    password_change_step,
    public,
    requires,
)
from gridmap.core import clock, glossary
from gridmap.core.db import get_session
from gridmap.core.errors import GridmapError, NotFound
from gridmap.core.settings import Settings
from gridmap.public import service as public_channel
from gridmap.requests import service as residents_requests
from gridmap.review import service as review
from gridmap.storage import grids
from gridmap.storage import notifications as notification_store
from gridmap.storage import requests as request_store
from gridmap.storage import review as review_store
from gridmap.web.maps import (
    PAGE_JS,
    PUBLIC_JS,
    REQUESTS_JS,
    build_assign_map,
    build_grid_map,
    build_patrol_map,
    build_public_map,
    build_requests_map,
    build_review_map,
    build_scripted_map,
    public_config,
    render_parts,
    requests_config,
)
from gridmap.web.params import (
    AUDIT_PAGE_SIZE,
    RANKING_BY,
    RANKING_LEVELS,
    AuditFilters,
    RankingFilters,
    assign_grid_code,
    inbox_tab,
    inbox_tabs,
    local_time,
)

#: The report job's page module (it has no map).
REPORT_JOB_JS = "js/pages/report_job.js"

# The web package owns every asset (Leaflet under vendor/, the page's own under js/ and css/).
# They are served at /assets because Flask always claims /static for the app's own static
# route, which would shadow a blueprint's route at the same path.
bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

#: The header's links: (label, endpoint, capabilities that open it).
_NAV = (
    ("网格地图", "web.grid_map_page", frozenset({READ})),
    ("分配包户", "web.assign_page", frozenset({ASSIGN})),
    ("诉求", "web.requests_inbox", frozenset({READ})),
    ("上报诉求", "web.request_new", frozenset({HANDLE})),
    ("诉求地图", "web.requests_map", frozenset({READ})),
    ("红黑榜", "web.requests_ranking", frozenset({READ})),
    ("一月一研判", "web.review_page", frozenset({REVIEW})),
    (glossary.SERVICE_MAP["title"], "web.service_map_page", frozenset({REVIEW})),
    ("巡查走访", "web.patrol_page", frozenset({HANDLE})),
    ("民情日志", "web.visits_page", frozenset({VISIT})),
    ("我的双报到", "web.my_party_page", frozenset({SERVE})),
    ("双报到", "web.party_page", frozenset({PARTY})),
    ("双报告", "web.unit_party_page", frozenset({UNIT_REPORT})),
    ("三张清单", "web.party_lists_page", frozenset({PARTY})),
    ("党建地图", "web.party_map_page", frozenset({PARTY})),
    ("身边可认领", "web.party_claim_page", frozenset({CLAIM})),
    ("巡查回放", "web.patrols_page", frozenset({ASSIGN})),
    ("网格导入", "web.grid_import_page", frozenset({IMPORT})),
    (glossary.ONENET["nav"], "web.onenet_page", frozenset({REVIEW})),
    ("审计日志", "web.audit_page", frozenset({AUDIT})),
    ("账号", "web.accounts_page", frozenset({ACCOUNTS, ROLES})),
    ("发送记录", "web.notifications_sent_page", frozenset({ACCOUNTS})),
)
# auth.login's English messages, as the login page says them.
_LOGIN_ERRORS = {
    "Wrong username or password.": "用户名或密码错误。",
    "This account is disabled or has no role yet.": "账号已停用或未分配角色，请联系安全管理员。",
    "This one-time password has expired: ask the system administrator for a new one.": (
        "一次性密码已过期，请联系系统管理员重新重置密码。"
    ),
}
# accounts.change_password's refusals (and the password rules), as the change-password page
# says them; matched by the start of the English message.
_PASSWORD_ERRORS = (
    ("current_password:", "当前密码（或一次性密码）不正确。"),
    ("new_password: must differ", "新密码不能与当前密码或一次性密码相同。"),
    ("new_password: at least", f"新密码至少需要 {accounts.MIN_PASSWORD_LENGTH} 个字符。"),
    ("new_password: not only spaces", "新密码不能只有空格。"),
    ("new_password: no invisible", "新密码不能含有不可见字符或控制字符。"),
    ("new_password: must not be the username", "新密码不能与用户名相同。"),
    ("new_password: one of the most common", "新密码是常见密码之一，请换一个。"),
)


def _asset_url(path: str) -> str:
    return url_for("web.static", filename=path)


@bp.app_context_processor
def _signed_in_user() -> dict[str, Any]:
    """``me``: who is signed in and the pages their role opens, for the header (or None)."""
    who: auth.Caller | None = g.get("caller")
    if who is None:
        return {"me": None}
    nav = (
        []
        if who.must_change_password
        else [
            {"label": label, "url": url_for(endpoint), "current": request.endpoint == endpoint}
            for label, endpoint, needs in _NAV
            if needs & who.capabilities
        ]
    )
    return {"me": {"username": who.username, "role": _role_label(who.role), "nav": nav}}


def _role_label(role: str) -> str:
    return glossary.label(glossary.USER_ROLES, role)


@bp.app_context_processor
def _glossary() -> dict[str, Any]:
    """``glossary``: the labels every page script reads (base.html writes them as JSON)."""
    return {"glossary": glossary.for_pages()}


@bp.app_template_filter("local_time")
def _local_time_filter(value: Any) -> str:
    return local_time(value) if value is not None else ""


@bp.app_template_filter("compact_json")
def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


@bp.get("/")
@requires(READ)
def grid_map_page() -> str:
    """网格地图: the grid chief's map page (communities, zones, micro-grids, households)."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    who = caller()
    grid_map = build_grid_map(
        settings,
        asset_url=_asset_url,
        api_root=f"{request.script_root}/api/v1",
        assign_url=url_for("web.assign_page") if ASSIGN in who.capabilities else None,
        requests_period=review.last_month() if REVIEW in who.capabilities else None,
    )
    return render_template("map.html", map=render_parts(grid_map, nonce=csp_nonce()))


@bp.get("/assign")
@requires(ASSIGN)
def assign_page() -> str:
    """分配包户: staff a zone or micro-grid and divide its households among members
    (党员分片包户); without ``grid`` the page offers the caller's zones."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    code = assign_grid_code(request.args)
    grid = None
    if code is not None:
        grid = grids.get_grid(get_session(), code, None, caller().scope)
        if grid is None:
            raise NotFound(f"There is no grid with code {code}.")
    assign_map = build_assign_map(
        settings,
        asset_url=_asset_url,
        grid_code=code,
        api_root=f"{request.script_root}/api/v1",
        reports_root=f"{request.script_root}/api/v1/reports",
    )
    return render_template(
        "assign.html", map=render_parts(assign_map, nonce=csp_nonce()), grid=grid
    )


def _requests_config(page: str, **extra: Any) -> dict[str, Any]:
    """The configuration of a page of ``gridmap-requests.js``: the API, the request pages."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    who = caller()
    urls = {"inbox": url_for("web.requests_inbox"), "map": url_for("web.requests_map")}
    # A department handles what it is summoned to; it files nothing (it has no grid).
    if HANDLE in who.capabilities and who.role != "department":
        urls["new"] = url_for("web.request_new")
    # A department sees requests, not grids: its pages name a micro-grid by its code alone.
    extra.setdefault("gridNames", who.role != "department")
    return requests_config(
        settings, page=page, api_root=f"{request.script_root}/api/v1", urls=urls, **extra
    )


def _requests_map_page(template: str, config: dict[str, Any], **context: Any) -> str:
    settings: Settings = current_app.extensions["gridmap.settings"]
    requests_map = build_requests_map(settings, asset_url=_asset_url, config=config)
    parts = render_parts(requests_map, nonce=csp_nonce())
    return render_template(template, map=parts, **context)


@bp.get("/review")
@requires(REVIEW)
def review_page() -> str:
    """一月一研判: where requests concentrate — heat, choropleth, hot spots, time slider."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    session, who = get_session(), caller()
    box = review_store.extent(session, who.scope.prefixes)
    categories = [
        {"code": c.code, "name": c.name} for c in request_store.current_categories(session)
    ]
    config = {
        "apiRoot": f"{request.script_root}/api/v1",
        "requestsUrl": f"{request.script_root}/requests",
        "categories": categories,
        "periods": review.recent_periods(),
        "defaultPeriod": review.last_month(),
        "bounds": [[box[1], box[0]], [box[3], box[2]]] if box else None,
    }
    review_map = build_review_map(settings, asset_url=_asset_url, config=config)
    report_urls = None
    if EXPORT in who.capabilities:
        # The workbook is a job the page's button asks for (POST /api/v1/review/report-jobs).
        report_urls = {"html": url_for("web.review_report")}
    return render_template(
        "review.html",
        map=render_parts(review_map, nonce=csp_nonce()),
        categories=categories,
        areas=review_store.areas(session, who.scope.prefixes),
        report_urls=report_urls,
    )


@bp.get("/service-map")
@requires(REVIEW)
def service_map_page() -> str:
    """15分钟便民服务圈: sites, walking circles, the gap map, candidate sites and the table."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    session, who = get_session(), caller()
    box = review_store.extent(session, who.scope.prefixes)
    config = {
        "apiRoot": f"{request.script_root}/api/v1",
        "bounds": [[box[1], box[0]], [box[3], box[2]]] if box else None,
    }
    built = build_scripted_map("service_map", settings, asset_url=_asset_url, config=config)
    # Sites may be imported by a street administrator; the network is the whole district's.
    upload = {"network": not who.scope.prefixes} if IMPORT in who.capabilities else None
    return render_template(
        "service_map.html", map=render_parts(built, nonce=csp_nonce()), upload=upload
    )


@bp.get("/review/report")
@requires(EXPORT)
def review_report() -> WerkzeugResponse:
    """一月一研判报告: the report of ``month`` (default last month) for the area ``grid``
    (default the caller's scope) is built by a background job; this queues it (a bad month or
    an area outside the scope is refused now) and sends the browser to the job's page."""
    from gridmap.review import report_jobs

    who = caller()
    month = request.args.get("month") or review.last_month()
    grid = request.args.get("grid") or None
    owner = jobs.Owner.of(who.user_id, who.username, who.scope.prefixes)
    job_id = report_jobs.submit(get_session(), owner, month, grid, "html")
    detail = {"month": month, "grid": grid, "format": "html"}
    audit_write("review_report.request", "job", job_id, detail)
    return redirect(url_for("web.review_report_job", job_id=job_id), 303)


@bp.get("/review/report/jobs/<int:job_id>")
@requires(EXPORT)
def review_report_job(job_id: int) -> Response | tuple[str, int]:
    """The report job's page: "生成中" with its progress while it runs (the page polls and
    reloads), then the report itself as the job stored it (its owner's only: 404 otherwise)."""
    from gridmap.review import report_jobs

    session, who = get_session(), caller()
    found = jobs.status(session, job_id, user_id=who.user_id, admin=False)
    if found["kind"] != report_jobs.KIND:
        raise NotFound("没有这个报告任务（no such report job）")
    if found["state"] == "succeeded":
        name, media_type, body = jobs.result_file(session, job_id, user_id=who.user_id, admin=False)
        headers = {} if media_type.startswith("text/html") else _attachment(name)
        return Response(body, mimetype=media_type, headers=headers)
    config = {"apiRoot": f"{request.script_root}/api/v1", "job": found}
    status = int(found["error"]["status"]) if found["state"] == "failed" else 200
    page = render_template(
        "review_report_job.html",
        job=found,
        config=config,
        script=_asset_url(REPORT_JOB_JS),
    )
    return page, status


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename={name}"}


@bp.get("/requests")
@requires(READ)
def requests_inbox() -> str:
    """诉求工作台: the caller's requests by tab — mine, due soon (黄牌), overdue (红牌), all."""
    who = caller()
    tabs = inbox_tabs(who.role)
    tab = inbox_tab(request.args, handles=HANDLE in who.capabilities, tabs=tabs)
    return render_template(
        "requests.html",
        tab=tab,
        tabs=tabs,
        config=_requests_config("inbox", tab=tab),
        scripts=[_asset_url(PAGE_JS), _asset_url(REQUESTS_JS)],
    )


@bp.get("/requests/new")
@requires(HANDLE)
def request_new() -> str:
    """上报诉求: the intake form, with a map to pick the place."""
    categories = request_store.current_categories(get_session())
    return _requests_map_page("request_new.html", _requests_config("new"), categories=categories)


@bp.get("/requests/map")
@requires(READ)
def requests_map() -> str:
    """诉求地图: open requests in the visible area, coloured by urgency (红黄牌)."""
    return _requests_map_page("requests_map.html", _requests_config("map"))


@bp.get("/requests/ranking")
@requires(READ)
def requests_ranking() -> str:
    """红黑榜: the 三率 ranking of the caller's grids for a month, with the Excel download for
    roles that may export."""
    filters = RankingFilters.from_args(request.args)
    return render_template(
        "ranking.html",
        filters=filters,
        levels=RANKING_LEVELS,
        bys=RANKING_BY,
        may_export=EXPORT in caller().capabilities,
        config=_requests_config("ranking", query=filters.api_args()),
        scripts=[_asset_url(PAGE_JS), _asset_url(REQUESTS_JS)],
    )


@bp.get("/requests/<int:request_id>")
@requires(READ)
def request_detail(request_id: int) -> str:
    """诉求详情: one request, its place, its timeline and the actions the caller may take
    (404 outside the caller's scope, as the API answers)."""
    residents_requests.get(get_session(), request_id, caller())
    config = _requests_config("detail", requestId=request_id)
    may_list = PARTY in caller().capabilities  # 一键转需求 (三张清单)
    return _requests_map_page(
        "request_detail.html", config, request_id=request_id, may_list=may_list
    )


def _patrol_page(template: str, page: str, **extra: Any) -> str:
    settings: Settings = current_app.extensions["gridmap.settings"]
    config = {"page": page, "apiRoot": f"{request.script_root}/api/v1"} | extra
    patrol_map = build_patrol_map(settings, asset_url=_asset_url, config=config)
    return render_template(template, map=render_parts(patrol_map, nonce=csp_nonce()))


@bp.get("/patrol")
@requires(HANDLE)
def patrol_page() -> str:
    """巡查走访: a worker's phone page — today's 3+N lists, start and end a patrol whose fixes
    the browser posts as it moves, check in at households, upload a GPX/GeoJSON track."""
    return _patrol_page("patrol.html", "worker", today=clock.today().isoformat())


@bp.get("/visits")
@requires(VISIT)
def visits_page() -> str:
    """民情日志: a member's or grid worker's phone page — record a visit to a household they
    cover (入户/电话/微信, the topics found, a note) and file a request from it in one step;
    kept on the phone while offline and sent when the connection returns."""
    api = f"{request.script_root}/api/v1"
    return render_template("visits.html", api_root=api, today=clock.today().isoformat())


@bp.get("/party/me")
@requires(SERVE)
def my_party_page() -> str:
    """我的双报到: an in-service member's phone page — report to the community where they live,
    choose service posts, sign up for the community's activities, check in at one, and this
    quarter's services and hours against the rule."""
    api = f"{request.script_root}/api/v1"
    return render_template("party_me.html", api_root=api)


@bp.get("/party")
@requires(PARTY)
def party_page() -> str:
    """双报到: the chief's page — publish activities (社区吹哨), confirm attendance, and the
    quarter's table of members against the rule with its Excel download (双报告)."""
    scope = caller().scope.prefixes
    community = next((p[:12] for p in scope if len(p) >= 12), "")
    config = {"apiRoot": f"{request.script_root}/api/v1", "community": community}
    return render_template("party.html", config=config)


@bp.get("/party/unit")
@requires(UNIT_REPORT)
def unit_party_page() -> str:
    """双报告: a unit's party organisation reads its members' quarter against the rule."""
    return render_template("party_unit.html", api_root=f"{request.script_root}/api/v1")


@bp.get("/party/lists")
@requires(PARTY)
def party_lists_page() -> str:
    """三张清单: the chief's map of open needs and resources near each other (legend), the
    needs, the service projects to confirm and the 微心愿 to confirm, with their counts."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    config = {"apiRoot": f"{request.script_root}/api/v1"}
    lists_map = build_scripted_map("lists", settings, asset_url=_asset_url, config=config)
    community = next((p[:12] for p in caller().scope.prefixes if len(p) >= 12), "")
    return render_template(
        "party_lists.html",
        map=render_parts(lists_map, nonce=csp_nonce()),
        community=community,
        need_kinds=glossary.NEED_KINDS,
    )


@bp.get("/party/map")
@requires(PARTY)
def party_map_page() -> str:
    """党建地图: the chief's map of buildings with their 楼栋长, 党员中心户 and the neighbours
    they look after, posts, registered members' homes and the micro-grids' coverage, with a
    layer control and legends; the layers come from ``/api/v1/party/map``."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    config = {"apiRoot": f"{request.script_root}/api/v1"}
    party_map = build_scripted_map("party_map", settings, asset_url=_asset_url, config=config)
    return render_template("party_map.html", map=render_parts(party_map, nonce=csp_nonce()))


@bp.get("/party/claim")
@requires(CLAIM)
def party_claim_page() -> str:
    """身边可认领: a member's or unit's phone page — the open needs and 微心愿 of its community,
    nearest first, each claimed with one tap; the wishes it claimed to fulfil with a photo;
    and what it offers (资源清单)."""
    return render_template(
        "party_claim.html",
        api_root=f"{request.script_root}/api/v1",
        resource_kinds=glossary.RESOURCE_KINDS,
    )


@bp.get("/manifest.webmanifest")
@public
def manifest() -> Response:
    """The web app manifest of the worker's pages, installed on a phone's home screen (offline
    through ``js/sw.js``)."""
    app = {
        "name": "网格化服务管理 · 巡查走访",
        "short_name": "巡查走访",
        "lang": "zh-CN",
        "start_url": url_for("web.patrol_page"),
        "scope": f"{request.script_root}/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b71c1c",
        "icons": [
            {"src": _asset_url(f"img/icon-{n}.png"), "sizes": f"{n}x{n}", "type": "image/png"}
            for n in (192, 512)
        ],
        "shortcuts": [{"name": "民情日志", "url": url_for("web.visits_page")}],
    }
    return Response(json.dumps(app, ensure_ascii=False), mimetype="application/manifest+json")


#: The assets the service worker keeps when it installs: every script, style and image.
_OFFLINE_SUFFIXES = (".js", ".css", ".png", ".svg")


def _offline_assets() -> list[str]:
    root = Path(bp.static_folder or "")
    return sorted(
        _asset_url(path.relative_to(root).as_posix())
        for path in root.rglob("*")
        if path.suffix in _OFFLINE_SUFFIXES and path.name != "sw.js"
    )


@bp.get("/sw.js")
@public
def service_worker() -> Response:
    """The service worker that keeps the worker's pages and assets for offline use; served
    at the root so that its scope covers /patrol and /visits, with the list of assets to
    keep written into it (a page's module imports are not in its DOM)."""
    script = (Path(bp.static_folder or "") / "js" / "sw.js").read_text(encoding="utf-8")
    script = script.replace(
        "const PRECACHE = [];", f"const PRECACHE = {json.dumps(_offline_assets())};"
    )
    response = Response(script, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/patrols")
@requires(ASSIGN)
def patrols_page() -> str:
    """巡查回放: a chief replays a day's patrols (track, check-ins, households reached) and
    sees the duties still overdue per worker and grid."""
    return _patrol_page("patrols.html", "replay", today=clock.today().isoformat())


@bp.get("/grids/import")
@requires(IMPORT)
def grid_import_page() -> str:
    """网格导入: upload a grid file, see its check on the map (problems, what a redraw would
    change), confirm to import it; both steps run as background jobs the page polls."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    config = {
        "apiRoot": f"{request.script_root}/api/v1",
        "maxUploadBytes": settings.max_upload_bytes,
    }
    import_map = build_scripted_map("grid_import", settings, asset_url=_asset_url, config=config)
    return render_template(
        "grid_import.html",
        map=render_parts(import_map, nonce=csp_nonce()),
        crs_choices=glossary.INPUT_CRS,
        changes=glossary.IMPORT_CHANGES,
        max_upload_mb=settings.max_upload_bytes / 1e6,
    )


@bp.get("/onenet")
@requires(REVIEW)
def onenet_page() -> str:
    """一张网比对: another department's grid over ours, where they disagree, the distance of
    each community from 一张网, the export for the departments' meeting; a street
    administrator imports a department's layer here too. Its data comes from the API."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    who = caller()
    box = review_store.extent(get_session(), who.scope.prefixes)
    config = {
        "apiRoot": f"{request.script_root}/api/v1",
        "bounds": [[box[1], box[0]], [box[3], box[2]]] if box else None,
        "maxUploadBytes": settings.max_upload_bytes,
        "toleranceM": settings.onenet_tolerance_m,
        "mayImport": IMPORT in who.capabilities,
    }
    onenet_map = build_scripted_map("onenet", settings, asset_url=_asset_url, config=config)
    return render_template(
        "onenet.html",
        map=render_parts(onenet_map, nonce=csp_nonce()),
        words=glossary.ONENET,
        statuses=glossary.ONENET_STATUSES,
        verdicts=glossary.ONENET_VERDICTS,
        departments=glossary.ONENET_DEPARTMENTS,
        levels={k: glossary.LEVELS[k] for k in ("micro", "zone")},
        crs_choices=glossary.INPUT_CRS,
        formats={k: glossary.EXPORT_FORMATS[k] for k in ("csv", "gpkg", "geojson")},
        may_import=IMPORT in who.capabilities,
        rule=glossary.ONENET["rule"].format(tolerance=f"{settings.onenet_tolerance_m:g}"),
    )


def _home(who: auth.Caller) -> str:
    """The first page a role can use: administrators without READ get theirs, never a 403;
    a department's is its inbox (部门报到: it has no grid to map)."""
    if who.role == "department":
        return url_for("web.requests_inbox")
    if UNIT_REPORT in who.capabilities:
        return url_for("web.unit_party_page")
    if READ in who.capabilities:
        return url_for("web.grid_map_page")
    if AUDIT in who.capabilities:
        return url_for("web.audit_page")
    return url_for("web.accounts_page")


def _may_open(who: auth.Caller, path: str) -> bool:
    """Whether ``path`` (app-relative) is a page this caller's role opens."""
    try:
        endpoint, _ = current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:  # unknown, or a redirect to elsewhere
        return False
    if endpoint == "web.login_form":
        return False
    view = current_app.view_functions[endpoint]
    needs: frozenset[str] = getattr(view, "capabilities", frozenset())
    return bool(getattr(view, "public", False) or needs & who.capabilities)


def _landing(who: auth.Caller, target: str | None) -> str:
    """Where to go after login: ``target`` when it is a same-site page the caller may open
    (never another host), else the caller's home page; after a one-time password, the
    change-password page."""
    if who.must_change_password:
        return url_for("web.password_page")
    if (
        target
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and not urlsplit(target).netloc
        and _may_open(who, urlsplit(target).path)
    ):
        return request.script_root + target
    return _home(who)


def _login_page(error: str | None = None, username: str = "") -> str:
    return render_template(
        "login.html", next=request.args.get("next"), error=error, username=username
    )


@bp.get("/login")
@public
def login_form() -> str | Response:
    who: auth.Caller | None = g.get("caller")
    if who is not None:  # already signed in
        return redirect(_landing(who, request.args.get("next")))  # type: ignore[return-value]
    return _login_page()


def _login_error(exc: GridmapError, settings: Settings) -> str:
    if isinstance(exc, auth.LoginThrottled):
        return f"登录失败次数过多，请 {exc.retry_after} 秒后再试。"
    return _LOGIN_ERRORS.get(exc.detail, "登录失败，请重试。")


@bp.post("/login")
@limiter.limit(lambda: str(current_app.extensions["gridmap.settings"].login_rate_limit))
@public
def login() -> Response | tuple[str, int]:
    """Check the password; on success set the session cookie and go where the user was going."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    username = request.form.get("username", "")
    try:
        who, token = auth.login(
            get_session(),
            username,
            request.form.get("password", ""),
            kind="web",
            settings=settings,
            origin=origin(),
        )
    except GridmapError as exc:
        return _login_page(_login_error(exc, settings), username), exc.status
    session.clear()  # a new CSRF token for the new login
    response = redirect(_landing(who, request.args.get("next")))
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=request.is_secure, path="/"
    )
    return response  # type: ignore[return-value]


@bp.post("/logout")
@requires(SIGNED_IN)
@password_change_step
def logout() -> Response:
    auth.logout(get_session(), caller(), origin())
    session.clear()
    response = redirect(url_for("web.login_form"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response  # type: ignore[return-value]


def _password_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    """The change-password page; the notices it shows are marked read (they were seen)."""
    who, session = caller(), get_session()
    unread = accounts.notices(session, who.user_id, unread_only=True)
    if unread:
        accounts.mark_notices_read(session, who.user_id)
        session.commit()
    page = render_template(
        "password.html",
        forced=who.must_change_password,
        notices=unread,
        error=error,
        min_length=accounts.MIN_PASSWORD_LENGTH,
    )
    return page, status


@bp.get("/password")
@requires(SIGNED_IN)
@password_change_step
def password_page() -> tuple[str, int]:
    """修改密码: choose a new password; after a login with a one-time password, the only
    page open, with the notice of who reset the password and when."""
    return _password_page()


def _password_error(exc: GridmapError) -> str:
    for start, text in _PASSWORD_ERRORS:
        if exc.detail.startswith(start):
            return text
    return "密码修改失败，请重试。"


@bp.post("/password")
@requires(SIGNED_IN)
@password_change_step
def change_password() -> Response | tuple[str, int]:
    """Check the current (or one-time) password and set the new one; the other logins of
    the account end, this one goes on to the home page."""
    who, form = caller(), request.form
    if form.get("new_password", "") != form.get("new_password_again", ""):
        return _password_page("两次输入的新密码不一致。", 400)
    try:
        accounts.change_password(
            get_session(),
            who.user_id,
            form.get("current_password", ""),
            form.get("new_password", ""),
            keep_session=who.session_id,
        )
    except GridmapError as exc:
        get_session().rollback()
        return _password_page(_password_error(exc), exc.status)
    audit_write("user.password_change", "user", who.user_id)
    return redirect(_home(who))  # type: ignore[return-value]


@bp.get("/audit")
@requires(AUDIT)
def audit_page() -> tuple[str, int]:
    """审计日志: search the audit log, newest first, a page at a time, and export it."""
    filters = AuditFilters.from_args(request.args)
    rows = [] if filters.error else audit.search(get_session(), **filters.search_args())
    more = rows[AUDIT_PAGE_SIZE - 1]["id"] if len(rows) > AUDIT_PAGE_SIZE else None
    page = render_template(
        "audit.html",
        filters=filters,
        rows=rows[:AUDIT_PAGE_SIZE],
        more_before_id=more,
        action_labels=glossary.AUDIT_ACTIONS,
        object_labels=glossary.AUDIT_OBJECTS,
        outcome_labels=glossary.AUDIT_OUTCOMES,
        other_action=glossary.AUDIT_OTHER_ACTION,
    )
    return page, 400 if filters.error else 200


#: Messages the sent-messages page shows, newest first.
SENT_PAGE_SIZE = 200


@bp.get("/notifications/sent")
@requires(ACCOUNTS)
def notifications_sent_page() -> str:
    """发送记录: what the sender delivered, or in the demo would have (the resident's
    messages with their masked phone, the departments' robots, the staff lists)."""
    rows = notification_store.deliveries(get_session(), SENT_PAGE_SIZE)
    return render_template(
        "notifications_sent.html",
        rows=[r._asdict() | {"at": clock.local_text(r.delivered_at)} for r in rows],
        kind_labels=glossary.OUTBOX_KINDS,
        channel_labels=glossary.NOTICE_CHANNELS,
    )


@bp.get("/accounts")
@requires(SIGNED_IN)
def accounts_page() -> str:
    """账号: the signed-in account, and every account for the system and security admins
    (who change them through the API or the command line)."""
    who, session = caller(), get_session()
    admin = bool({ACCOUNTS, ROLES} & who.capabilities)
    users = accounts.list_users(session) if admin else []
    may_grant = ROLES in who.capabilities
    scripts = [_asset_url("js/pages/accounts.js")] if {ACCOUNTS, ROLES} & who.capabilities else []
    return render_template(
        "accounts.html",
        users=users,
        admin=admin,
        may_grant=may_grant,
        choices=accounts.grant_choices(session) if may_grant else {},
        may_reset=ACCOUNTS in who.capabilities,
        admin_roles=accounts.ADMIN_ROLES,
        role_labels=glossary.USER_ROLES,
        notices=accounts.notices(session, who.user_id, unread_only=False),
        scripts=scripts,
    )


# ------------------------------------------------------------------------ 公众上报 (no account)


@bp.get("/public")
@public
def public_file_page() -> str:
    """我要反映: a resident files a request (category, place, words, photos, phone code)."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    session = get_session()
    config = public_config(
        settings,
        page="file",
        bounds=review_store.extent(session, ("",)),
        maxPhotos=settings.public_max_photos,
        maxPhotoBytes=settings.public_max_photo_bytes,
        statusUrl=url_for("web.public_status_page", number="NUMBER"),
    )
    parts = render_parts(
        build_public_map(settings, asset_url=_asset_url, config=config), nonce=csp_nonce()
    )
    categories = public_channel.categories(session)
    return render_template("public_file.html", map=parts, categories=categories)


@bp.get("/public/track")
@public
def public_track_page() -> str:
    """查询进度: by tracking number, or 我的诉求 after a phone code."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    config = public_config(
        settings, page="track", statusUrl=url_for("web.public_status_page", number="NUMBER")
    )
    return render_template("public_track.html", config=config, script=_asset_url(PUBLIC_JS))


@bp.get("/public/r/<number>")
@public
def public_status_page(number: str) -> str:
    """诉求进度: the timeline in plain words, the resident's photos, the rating once."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    config = public_config(settings, page="status", number=number.strip().upper()[:12])
    return render_template("public_status.html", config=config, script=_asset_url(PUBLIC_JS))
