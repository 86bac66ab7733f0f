"""The OpenAPI document as the contract: what each operation answers on success, every error
status it can answer (one shared error schema), and its headers.

flask-openapi3 builds the document from the routes' parameter and body models; this module
finishes it once, when it is first asked for (:class:`ContractOpenAPI`):

- the success answers come from the route's own ``responses=`` when it declares them, else
  from :data:`SUCCESS` (a model of :mod:`gridmap.api.answers` or
  :mod:`gridmap.api.open311_answers`, or a file's media type);
- the errors are derived, not listed by hand (:func:`error_statuses`): 400 everywhere (bad
  parameters, bodies, NUL…), 503 wherever the database is asked, 404 wherever a path names
  something, 401/403/404 where a login is needed, 409/413/415/422/429 on writes, 412/428
  where ``If-Match`` guards, each as ``application/problem+json`` with
  :class:`gridmap.api.answers.Problem`; and 414, a request line too long for the server in
  front, answered by that server as a page of its own;
- Open311 (``/open311/``) answers JSON or XML by its path's ``{fmt}``, its errors too, as
  GeoReport v2's list (:class:`gridmap.api.open311_answers.Open311Errors`); it takes a login
  or a client application's ``api_key``, and its reads no credentials at all where the
  deployment opens them (``GRIDMAP_OPEN311_PUBLIC_READ``);
- the headers: ``If-Match`` and ``Idempotency-Key`` as request headers where they count,
  ``ETag``, ``Location``, ``Retry-After``, ``WWW-Authenticate``, ``Content-Crs`` as response
  headers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection
from typing import Any

from flask_openapi3 import OpenAPI
from pydantic import BaseModel

from gridmap.api import answers as a
from gridmap.api import open311_answers as o
from gridmap.api.open311 import NewServiceRequest

PROBLEM_JSON = "application/problem+json"
GEOJSON = "application/geo+json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MVT = "application/vnd.mapbox-vector-tile"
XML = "text/xml"
_REF = "#/components/schemas/"
#: OGC API Features (:mod:`gridmap.api.features`): its GeoJSON answers name their CRS.
OGC = "/api/v1/ogc"
#: Open311 GeoReport v2 (:mod:`gridmap.api.open311`): JSON or XML by the path's ``{fmt}``,
#: errors as the spec's list.
OPEN311 = "/open311/"

#: Operations whose writes are guarded by If-Match (RFC 9110: ``*`` or a list of ETags).
IF_MATCH = {
    ("post", "/api/v1/grids/{code}/staff"),
    ("post", "/api/v1/assignments/{assignment_id}/end"),
    ("post", "/api/v1/grids/{code}/coverage"),
    ("put", "/api/v1/grids/{code}/division"),
    ("post", "/api/v1/requests/{request_id}/transitions"),
    ("patch", "/api/v1/buildings/{building_id}"),
    ("put", "/api/v1/buildings/{building_id}/head"),
    ("post", "/api/v1/buildings/{building_id}/head/end"),
    ("put", "/api/v1/buildings/{building_id}/units/{unit}/head"),
    ("post", "/api/v1/buildings/{building_id}/units/{unit}/head/end"),
    ("put", "/api/v1/central-households/{central_id}/neighbours"),
    ("post", "/api/v1/central-households/{central_id}/end"),
    ("post", "/api/v1/party/matches/{match_id}/confirm"),
    ("post", "/api/v1/party/matches/{match_id}/decline"),
    ("post", "/api/v1/party/matches/{match_id}/complete"),
    ("post", "/api/v1/party/wishes/{wish_id}/confirmation"),
}
#: Operations a client may retry safely with the same Idempotency-Key.
IDEMPOTENT = {
    ("post", "/api/v1/requests"),
    ("post", "/api/v1/patrols"),
    ("post", "/api/v1/patrols/{patrol_id}/points"),
    ("post", "/api/v1/patrols/{patrol_id}/checkins"),
    ("post", "/api/v1/patrols/{patrol_id}/end"),
    ("post", "/api/v1/patrols/upload"),
    ("post", "/open311/v2/requests.{fmt}"),
}
#: Answers that carry the resource's ETag (for a later If-Match).
ETAGGED = {
    ("get", "/api/v1/grids/{code}/staff"),
    ("get", "/api/v1/grids/{code}/coverage"),
    ("get", "/api/v1/requests/{request_id}"),
    ("post", "/api/v1/requests"),
    ("post", "/api/v1/grids/{code}/division"),
    ("get", "/api/v1/party/needs/{need_id}"),
    ("post", "/api/v1/party/needs"),
    ("post", "/api/v1/party/needs/from-request/{request_id}"),
    ("post", "/api/v1/party/needs/{need_id}/matches"),
    ("get", "/api/v1/party/matches/{match_id}"),
    ("get", "/api/v1/party/wishes/{wish_id}"),
    *IF_MATCH,
}
#: The residents' public channel (公众上报): no account, every call rate limited.
PUBLIC = "/api/v1/public/"
#: Public operations that never touch the database.
_NO_DATABASE = {("get", "/api/v1/health")}

File = tuple[str, str]  # (media type, description)
Success = dict[int, type[BaseModel] | File | None]

_CSV: File = ("text/csv", "A CSV file (UTF-8 with BOM; formula cells neutralised)")
_XLSX: File = (XLSX, "An Excel workbook")

#: What each operation answers on success, by status.
SUCCESS: dict[tuple[str, str], Success] = {
    ("get", "/api/v1/health"): {200: a.Health},
    ("get", "/api/v1/ready"): {200: a.Readiness},
    ("post", "/api/v1/auth/token"): {200: a.Token},
    ("post", "/api/v1/auth/logout"): {200: a.Status},
    ("get", "/api/v1/auth/me"): {200: a.Me},
    ("post", "/api/v1/auth/password"): {200: a.Status},
    ("post", "/api/v1/auth/notices/read"): {200: a.NoticesRead},
    ("get", "/api/v1/categories"): {200: a.Categories},
    ("put", "/api/v1/categories/{code}"): {200: a.Category},
    ("get", "/api/v1/departments"): {200: a.Departments},
    ("post", "/api/v1/admin/departments"): {201: a.Department},
    ("put", "/api/v1/admin/departments/{department_id}/wecom-robot"): {200: a.WeComRobotSet},
    ("get", "/api/v1/grids"): {200: a.FeatureCollection},
    ("get", "/api/v1/grids/{code}"): {200: a.Feature},
    ("get", "/api/v1/households"): {200: a.FeatureCollection},
    ("get", "/api/v1/households/{household_id}/coverage"): {200: a.HouseholdCoverage},
    ("get", "/api/v1/buildings"): {200: a.FeatureCollection},
    ("get", "/api/v1/buildings/{building_id}"): {200: a.Building},
    ("post", "/api/v1/buildings"): {201: a.Building},
    ("patch", "/api/v1/buildings/{building_id}"): {200: a.Building},
    ("put", "/api/v1/buildings/{building_id}/head"): {200: a.BuildingChanged},
    ("post", "/api/v1/buildings/{building_id}/head/end"): {200: a.BuildingChanged},
    ("put", "/api/v1/buildings/{building_id}/units/{unit}/head"): {200: a.BuildingChanged},
    ("post", "/api/v1/buildings/{building_id}/units/{unit}/head/end"): {200: a.BuildingChanged},
    ("post", "/api/v1/central-households"): {201: a.CentralHousehold},
    ("get", "/api/v1/central-households/{central_id}"): {200: a.CentralHousehold},
    ("put", "/api/v1/central-households/{central_id}/neighbours"): {200: a.CentralHousehold},
    ("post", "/api/v1/central-households/{central_id}/end"): {200: a.CentralHousehold},
    ("get", "/api/v1/locate"): {200: a.Located},
    ("get", "/api/v1/search"): {200: a.SearchResults},
    ("post", "/api/v1/reveal"): {200: a.Revealed},
    ("get", "/api/v1/notifications"): {200: a.Notifications},
    ("put", "/api/v1/notifications/opt-out"): {200: a.OptedOut},
    ("put", "/api/v1/notifications/opt-outs"): {200: a.OptedOut},
    ("get", "/api/v1/notifications/sent"): {200: a.SentNotifications},
    ("get", "/api/v1/households.csv"): {200: _CSV},
    ("get", "/api/v1/grids/{code}/staff"): {200: a.Staff},
    ("post", "/api/v1/grids/{code}/staff"): {201: a.PostMade},
    ("post", "/api/v1/assignments/{assignment_id}/end"): {200: a.PostEnded},
    ("get", "/api/v1/grids/{code}/coverage"): {200: a.GridCoverage},
    ("post", "/api/v1/grids/{code}/coverage"): {200: a.Changed},
    ("put", "/api/v1/grids/{code}/division"): {200: a.Changed},
    ("post", "/api/v1/grids/{code}/division"): {200: a.DivisionProposal},
    ("get", "/api/v1/reports/{name}"): {200: a.Report},
    ("get", "/api/v1/reports/{name}.{fmt}"): {200: _CSV},
    ("get", "/api/v1/rates"): {200: a.Ranking},
    ("get", "/api/v1/rates.{fmt}"): {200: _CSV},
    ("post", "/api/v1/rates-jobs"): {202: a.Job},
    ("get", "/api/v1/requests/overdue"): {200: a.Warnings},
    ("get", "/api/v1/requests"): {200: a.FeatureCollection},
    ("post", "/api/v1/requests"): {201: a.RequestDetail},
    ("get", "/api/v1/requests/{request_id}"): {200: a.RequestDetail},
    ("post", "/api/v1/requests/{request_id}/transitions"): {200: a.RequestDetail},
    ("get", "/api/v1/requests/{request_id}/duplicates"): {200: a.Duplicates},
    ("get", "/api/v1/worklists"): {200: a.WorkLists},
    ("get", "/api/v1/patrols"): {200: a.FeatureCollection},
    ("post", "/api/v1/patrols"): {201: a.Patrol},
    ("post", "/api/v1/patrols/{patrol_id}/points"): {200: a.PointsTaken},
    ("post", "/api/v1/patrols/{patrol_id}/checkins"): {201: a.PointsTaken},
    ("post", "/api/v1/patrols/{patrol_id}/end"): {200: a.Patrol},
    ("post", "/api/v1/patrols/upload"): {201: a.Patrol},
    ("get", "/api/v1/patrols/{patrol_id}"): {200: a.PatrolReplay},
    ("get", "/api/v1/patrols/overdue"): {200: a.Overdue},
    ("get", "/api/v1/households/{household_id}/visits"): {200: a.Visits},
    ("post", "/api/v1/visits"): {201: a.VisitLog},
    ("get", "/api/v1/visits"): {200: a.VisitLogs},
    ("get", "/api/v1/visits/{visit_id}"): {200: a.VisitLog},
    ("post", "/api/v1/visits/{visit_id}/request"): {201: a.RequestDetail},
    ("get", "/api/v1/party/posts"): {200: a.PostKinds},
    ("get", "/api/v1/party/units"): {200: a.PartyUnits},
    ("post", "/api/v1/party/units"): {201: a.PartyUnit},
    ("get", "/api/v1/party/units/{unit_id}/report"): {200: a.UnitReport},
    ("get", "/api/v1/party/my-unit/report"): {200: a.UnitReport},
    ("post", "/api/v1/party/registrations"): {201: a.Registered},
    ("get", "/api/v1/party/me"): {200: a.MyParty},
    ("post", "/api/v1/party/me/registration"): {201: a.Registered},
    ("put", "/api/v1/party/me/posts"): {200: a.MemberPosts},
    ("get", "/api/v1/party/activities"): {200: a.PartyActivities},
    ("post", "/api/v1/party/activities"): {201: a.PartyActivity},
    ("get", "/api/v1/party/activities/{activity_id}"): {200: a.PartyActivity},
    ("post", "/api/v1/party/activities/{activity_id}/attendance"): {200: a.Attendance},
    ("get", "/api/v1/party/me/activities"): {200: a.PartyActivities},
    ("post", "/api/v1/party/me/activities/{activity_id}/signup"): {200: a.Signup, 201: a.Signup},
    ("delete", "/api/v1/party/me/activities/{activity_id}/signup"): {200: a.Signup},
    ("post", "/api/v1/party/me/activities/{activity_id}/check-in"): {200: a.Attendance},
    ("get", "/api/v1/party/report"): {200: a.PartyReport},
    ("post", "/api/v1/party/report-jobs"): {202: a.Job},
    ("get", "/api/v1/party/needs"): {200: a.PartyNeeds},
    ("post", "/api/v1/party/needs"): {201: a.PartyNeed},
    ("get", "/api/v1/party/needs/{need_id}"): {200: a.PartyNeed},
    ("post", "/api/v1/party/needs/from-visit/{visit_id}"): {201: a.PartyNeed},
    ("post", "/api/v1/party/needs/from-request/{request_id}"): {201: a.PartyNeed},
    ("post", "/api/v1/party/needs/{need_id}/matches"): {201: a.PartyMatch},
    ("post", "/api/v1/party/needs/{need_id}/claims"): {201: a.NeedClaimed},
    ("get", "/api/v1/party/resources"): {200: a.PartyResources},
    ("post", "/api/v1/party/resources"): {201: a.PartyResource},
    ("get", "/api/v1/party/matches"): {200: a.PartyMatches},
    ("get", "/api/v1/party/matches/{match_id}"): {200: a.PartyMatch},
    ("post", "/api/v1/party/matches/{match_id}/confirm"): {200: a.PartyMatch},
    ("post", "/api/v1/party/matches/{match_id}/decline"): {200: a.PartyMatch},
    ("post", "/api/v1/party/matches/{match_id}/complete"): {200: a.PartyMatch},
    ("get", "/api/v1/party/claimable"): {200: a.Claimable},
    ("get", "/api/v1/party/lists/map"): {200: a.FeatureCollection},
    ("get", "/api/v1/party/map"): {200: a.FeatureCollection},
    ("get", "/api/v1/party/wishes"): {200: a.SmallWishes},
    ("post", "/api/v1/party/wishes"): {201: a.SmallWish},
    ("post", "/api/v1/party/me/wishes"): {201: a.SmallWish},
    ("get", "/api/v1/party/wishes/{wish_id}"): {200: a.SmallWish},
    ("post", "/api/v1/party/wishes/{wish_id}/claims"): {201: a.SmallWish},
    ("post", "/api/v1/party/wishes/{wish_id}/fulfilment"): {200: a.SmallWish},
    ("post", "/api/v1/party/wishes/{wish_id}/confirmation"): {200: a.SmallWish},
    ("get", "/api/v1/party/wish-counts"): {200: a.WishCounts},
    ("get", "/api/v1/party/me/claims"): {200: a.MyClaims},
    ("get", "/api/v1/review/summary"): {200: a.Review},
    ("get", "/api/v1/review/heat"): {200: a.Review},
    ("get", "/api/v1/review/choropleth"): {200: a.Review},
    ("get", "/api/v1/review/hotspots"): {200: a.Review},
    ("get", "/api/v1/review/grids/{code}"): {200: a.Review},
    ("get", "/api/v1/review/report.xlsx"): {200: _XLSX},
    ("post", "/api/v1/review/report-jobs"): {202: a.Job},
    ("get", "/api/v1/admin/users"): {200: a.Users},
    ("post", "/api/v1/admin/users"): {201: a.UserMade},
    ("post", "/api/v1/admin/users/{user_id}/password"): {200: a.OneTimePassword},
    ("put", "/api/v1/admin/users/{user_id}/role"): {200: a.Status},
    ("post", "/api/v1/admin/users/{user_id}/unlock"): {200: a.Status},
    ("get", "/api/v1/admin/open311-keys"): {200: a.ApiKeys},
    ("post", "/api/v1/admin/open311-keys"): {201: a.ApiKeyIssued},
    ("post", "/api/v1/admin/open311-keys/{key_id}/revoke"): {200: a.Status},
    ("get", "/api/v1/audit"): {200: a.AuditPage},
    ("get", "/api/v1/audit.csv"): {200: _CSV},
    ("get", "/api/v1/jobs/{job_id}"): {200: a.Job},
    ("get", "/api/v1/jobs/{job_id}/file"): {200: ("application/octet-stream", "The job's file")},
    ("post", "/api/v1/grid-imports"): {202: a.Job},
    ("post", "/api/v1/files"): {201: a.StoredFile},
    ("get", "/api/v1/files/{file_id}"): {
        200: ("image/jpeg", "The photo: image/jpeg, image/png or image/webp, as stored")
    },
    ("get", "/api/v1/files/{file_id}/thumbnail"): {200: ("image/jpeg", "The thumbnail")},
    ("get", "/api/v1/files/{file_id}/info"): {200: a.StoredFile},
    ("get", "/api/v1/exports/{layer}.{fmt}"): {200: _CSV},
    ("post", "/api/v1/exports"): {202: a.Job},
    ("post", "/api/v1/grid-imports/{job_id}/confirm"): {202: a.Job},
    ("get", "/api/v1/service-sites"): {200: a.GeoJsonFile},
    ("get", "/api/v1/service-map"): {200: a.ServiceMapState},
    ("get", "/api/v1/service-map/isochrones"): {200: a.GeoJsonFile},
    ("get", "/api/v1/service-map/candidates"): {200: a.GeoJsonFile},
    ("get", "/api/v1/service-map/gaps"): {200: a.ServiceGaps},
    ("get", "/api/v1/service-map/gap-map"): {200: a.GeoJsonFile},
    ("post", "/api/v1/service-imports"): {202: a.Job},
    ("post", "/api/v1/service-map/refresh"): {202: a.Job},
    ("get", "/api/v1/onenet/layers"): {200: a.ForeignLayers},
    ("get", "/api/v1/onenet/layers/{layer_id}"): {200: a.ForeignLayer},
    ("get", "/api/v1/onenet/layers/{layer_id}/cells"): {200: a.FeatureCollection},
    ("get", "/api/v1/onenet/layers/{layer_id}/units"): {200: a.FeatureCollection},
    ("get", "/api/v1/onenet/layers/{layer_id}/draft"): {200: a.FeatureCollection},
    ("post", "/api/v1/onenet/layers"): {202: a.Job},
    ("post", "/api/v1/onenet/layers/{layer_id}/overlay"): {202: a.Job},
    ("get", "/api/v1/tiles/grids.json"): {200: a.TileJson},
    ("get", "/api/v1/tiles/requests.json"): {200: a.TileJson},
    ("get", OGC): {200: a.OgcLandingPage},
    ("get", f"{OGC}/conformance"): {200: a.OgcConformance},
    ("get", f"{OGC}/collections"): {200: a.OgcCollections},
    ("get", f"{OGC}/collections/{{collection_id}}"): {200: a.OgcCollection},
    ("get", f"{OGC}/collections/{{collection_id}}/items"): {200: a.OgcFeatureCollection},
    ("get", f"{OGC}/collections/{{collection_id}}/items/{{feature_id}}"): {200: a.OgcFeature},
    ("get", "/api/v1/public/categories"): {200: a.PublicCategories},
    ("get", "/api/v1/public/captcha"): {200: a.Captcha},
    ("post", "/api/v1/public/codes"): {201: a.CodeSent},
    ("post", "/api/v1/public/photos"): {201: a.PublicPhoto},
    ("post", "/api/v1/public/requests"): {201: a.PublicFiled},
    ("get", "/api/v1/public/requests/{number}"): {200: a.PublicStatus},
    ("get", "/api/v1/public/requests/{number}/photos/{file_id}"): {
        200: ("image/jpeg", "The resident's photo: image/jpeg, image/png or image/webp")
    },
    ("post", "/api/v1/public/requests/{number}/rating"): {200: a.PublicStatus},
    ("post", "/api/v1/public/mine"): {200: a.PublicRequests},
    ("get", "/open311/discovery.{fmt}"): {200: o.Open311Discovery},
    ("get", "/open311/v2/services.{fmt}"): {200: o.Open311Services},
    ("get", "/open311/v2/services/{service_code}.{fmt}"): {200: o.Open311ServiceDefinition},
    ("get", "/open311/v2/requests.{fmt}"): {200: o.Open311Requests},
    ("post", "/open311/v2/requests.{fmt}"): {201: o.Open311Receipts},
    ("get", "/open311/v2/requests/{request_id}.{fmt}"): {200: o.Open311Requests},
    ("get", "/open311/v2/tokens/{token}.{fmt}"): {200: o.Open311Tokens},
}

#: The media types some operations answer instead of application/json.
MEDIA: dict[tuple[str, str], str] = {
    ("get", "/api/v1/service-sites"): GEOJSON,
    ("get", "/api/v1/service-map/isochrones"): GEOJSON,
    ("get", "/api/v1/service-map/candidates"): GEOJSON,
    ("get", "/api/v1/service-map/gap-map"): GEOJSON,
    ("get", "/api/v1/grids"): GEOJSON,
    ("get", "/api/v1/grids/{code}"): GEOJSON,
    ("get", "/api/v1/households"): GEOJSON,
    ("get", "/api/v1/buildings"): GEOJSON,
    ("get", "/api/v1/buildings/{building_id}"): GEOJSON,
    ("post", "/api/v1/buildings"): GEOJSON,
    ("patch", "/api/v1/buildings/{building_id}"): GEOJSON,
    ("get", "/api/v1/requests"): GEOJSON,
    ("get", "/api/v1/patrols"): GEOJSON,
    ("get", "/api/v1/patrols/{patrol_id}"): GEOJSON,
    ("get", "/api/v1/party/lists/map"): GEOJSON,
    ("get", "/api/v1/party/map"): GEOJSON,
    ("get", f"{OGC}/collections/{{collection_id}}/items"): GEOJSON,
    ("get", f"{OGC}/collections/{{collection_id}}/items/{{feature_id}}"): GEOJSON,
}
#: Downloads in either of two formats, by their ``fmt`` path parameter: the second's media type.
_EITHER_FILE = {
    ("get", "/api/v1/reports/{name}.{fmt}"): XLSX,
    ("get", "/api/v1/rates.{fmt}"): XLSX,
    ("get", "/api/v1/exports/{layer}.{fmt}"): GEOJSON,
}

#: Photos are served as stored: a JPEG (the documented first), a PNG or a WebP.
_OTHER_IMAGES = {
    ("get", "/api/v1/files/{file_id}"): ("image/png", "image/webp"),
    ("get", "/api/v1/public/requests/{number}/photos/{file_id}"): ("image/png", "image/webp"),
}

_STATUS_TEXT = {
    400: "Bad request: a parameter, header or body member is malformed (the answer says where)",
    401: "Not logged in, or the login ended (see WWW-Authenticate)",
    403: "The caller's role may not do this (or must first change its one-time password); "
    "Open311: the api_key is unknown or revoked",
    404: "No such resource, or outside the caller's scope (the same answer)",
    409: "Conflicts with the current state (an illegal transition, a duplicate)",
    412: "If-Match names no current ETag: changed since it was loaded (reload and redo)",
    413: "The body is too large",
    414: "The request line (method, path and query) is over 8190 bytes: refused by the server "
    "in front (gunicorn, nginx) with a page of its own, before the app",
    415: "The body's media type is not one this operation reads",
    422: "Well formed, but breaks a rule of the data (or too large for one request)",
    428: "If-Match is required (send the ETag of what you loaded, or *)",
    429: "Too many requests: wait Retry-After seconds",
    503: "The database is unreachable: wait Retry-After seconds",
}
#: Behind a login: not logged in, not allowed, not found (or out of scope), and a rule of the
#: data that a read can meet too (a worker's lists without a linked person, a synchronous
#: download too large for one request).
_SECURED_ERRORS = (401, 403, 404, 422)
_WRITE_ERRORS = (409, 413, 415, 422, 429)
#: Answers in two media types, chosen by a parameter (``format``): media type → model.
ALTERNATIVES: dict[tuple[str, str], dict[str, type[BaseModel]]] = {
    ("get", "/api/v1/patrols/overdue"): {
        "application/json": a.Overdue,
        GEOJSON: a.OverdueLayer,
    },
}
_WRITES = ("post", "put", "patch", "delete")
#: Answered by the server in front of the app, in no format of this document.
FRONT_STATUSES = (414,)


def error_statuses(method: str, path: str, secured: bool) -> list[int]:
    """The error statuses an operation can answer: derived from what it is."""
    found = {400, *FRONT_STATUSES}
    if (method, path) not in _NO_DATABASE:
        found.add(503)
    if secured:
        found.update(_SECURED_ERRORS)
    if method in _WRITES:
        found.update(_WRITE_ERRORS)
    if "{" in path:  # a path naming no resource, or matching no route
        found.add(404)
    if (method, path) in IF_MATCH:
        found.update((412, 428))
    if path == "/api/v1/auth/token":
        found.update((401, 429))
    if path.startswith(PUBLIC):  # 公众上报: every call is rate limited, reads too
        found.add(429)
    return sorted(found)


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


#: RFC 9110's If-Match: * or a comma list of (strong or W/ weak) entity tags.
IF_MATCH_PATTERN = (
    r'^[ \t]*(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)[ \t]*$'
)

_IF_MATCH_PARAM = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of what you loaded (or a comma list of ETags, or * for any "
    "current revision). Compared strongly: a weak W/ tag never matches. Missing: 428; "
    "not current: 412.",
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN, "maxLength": 1000},
}
_IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any 1–200 visible ASCII characters: a retry with the same key and body "
    "answers the first answer again (marked Idempotent-Replayed: true), kept 48 hours.",
    "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$"},
}
_RESPONSE_HEADERS = {
    "ETag": _header("The resource's current revision: send it back as If-Match"),
    "Location": _header("The new resource, or the job to follow"),
    "Retry-After": _header("Seconds to wait", {"type": "integer", "minimum": 0}),
    "WWW-Authenticate": _header('The challenge: Bearer realm="gridmap"'),
    "Content-Crs": _header("The CRS of the coordinates, as <URI> (OGC API Features, Part 2)"),
}


class ContractOpenAPI(OpenAPI):
    """flask-openapi3's app, whose document is finished by :func:`finish`."""

    def generate_spec_json(self) -> None:
        super().generate_spec_json()  # type: ignore[no-untyped-call]
        finish(
            self.spec_json, self._operations(_is_public), self._operations(self._open_by_setting)
        )

    def _operations(self, marked: Callable[[Any], bool]) -> set[tuple[str, str]]:
        """The operations whose view is ``marked``, as the document names them."""
        return {
            (method.lower(), _RULE_PARAMETER.sub(r"{\1}", rule.rule))
            for rule in self.url_map.iter_rules()
            if marked(self.view_functions[rule.endpoint])
            for method in rule.methods or ()
        }

    def _open_by_setting(self, view: Any) -> bool:
        """``@public_when(setting)`` with the setting on in this deployment (credentials then
        optional: without them, the public answer)."""
        setting = getattr(view, "public_when", None)
        return setting is not None and bool(getattr(self.extensions["gridmap.settings"], setting))


def _is_public(view: Any) -> bool:
    """``@public``: a blueprint's credentials are then not asked for."""
    return bool(getattr(view, "public", False))


def _schema_of(spec: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A ``$ref`` to ``model``, its schema (and its definitions) added to the components."""
    schema = model.model_json_schema(ref_template=_REF + "{model}", mode="serialization")
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components[model.__name__] = schema
    return {"$ref": _REF + model.__name__}


def _file(spec: dict[str, Any], key: tuple[str, str], media: str) -> dict[str, Any]:
    """The content of a file answer: ``media``, and the other media types it may come in."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    content: dict[str, Any] = {media: binary}
    if _EITHER_FILE.get(key) == GEOJSON:
        content[GEOJSON] = {"schema": _schema_of(spec, a.GeoJsonFile)}
    elif key in _EITHER_FILE:
        content[_EITHER_FILE[key]] = binary
    for other in _OTHER_IMAGES.get(key, ()):
        content[other] = binary
    return content


def _success(
    spec: dict[str, Any], key: tuple[str, str], declared: Success
) -> dict[str, dict[str, Any]]:
    answers: dict[str, dict[str, Any]] = {}
    for status, what in declared.items():
        if what is None:
            answers[str(status)] = {"description": "No content"}
        elif isinstance(what, tuple):
            media, text = what
            answers[str(status)] = {"description": text, "content": _file(spec, key, media)}
        else:
            models = ALTERNATIVES.get(key, dict.fromkeys(_media_types(key), what))
            answers[str(status)] = {
                "description": (what.__doc__ or what.__name__).strip().splitlines()[0],
                "content": {m: {"schema": _schema_of(spec, model)} for m, model in models.items()},
            }
        headers: dict[str, Any] = {}
        if key in ETAGGED and what is not None:
            headers["ETag"] = _RESPONSE_HEADERS["ETag"]
        if key[1].startswith(OGC) and MEDIA.get(key) == GEOJSON:
            headers["Content-Crs"] = _RESPONSE_HEADERS["Content-Crs"]
        if status == 202 or (status == 201 and key in _LOCATED):
            headers["Location"] = _RESPONSE_HEADERS["Location"]
        if headers:
            answers[str(status)]["headers"] = headers
    return answers


#: 201 answers that name the new resource in Location.
_LOCATED = {
    ("post", "/api/v1/requests"),
    ("post", "/api/v1/patrols"),
    ("post", "/api/v1/patrols/upload"),
    ("post", "/api/v1/files"),
}


def _media_types(key: tuple[str, str]) -> tuple[str, ...]:
    """The media types of an operation's answers: GeoReport v2's JSON or XML, by its path."""
    if key[1].startswith(OPEN311):
        return ("application/json", XML)
    return (MEDIA.get(key, "application/json"),)


def _error(status: int, path: str) -> dict[str, Any]:
    if status in FRONT_STATUSES:
        return {"description": _STATUS_TEXT[status]}
    if path.startswith(OPEN311):
        schema = {"$ref": _REF + o.Open311Errors.__name__}
        content = {media: {"schema": schema} for media in _media_types(("", path))}
    else:
        content = {PROBLEM_JSON: {"schema": {"$ref": _REF + "Problem"}}}
    answer: dict[str, Any] = {"description": _STATUS_TEXT[status], "content": content}
    if status in (429, 503):
        answer["headers"] = {"Retry-After": _RESPONSE_HEADERS["Retry-After"]}
    if status == 401:
        answer["headers"] = {"WWW-Authenticate": _RESPONSE_HEADERS["WWW-Authenticate"]}
    return answer


def _absent_not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is sent or left out, never null: ``anyOf [X, null]`` is X (pydantic's
    ``X | None = None``), ``anyOf [X, Y, null]`` is ``anyOf [X, Y]`` (a day or a period)."""
    choices = [c for c in schema.get("anyOf", []) if c.get("type") != "null"]
    if not choices or len(choices) == len(schema["anyOf"]):
        return schema
    plain: dict[str, Any] = {k: v for k, v in schema.items() if k != "anyOf"}
    plain |= choices[0] if len(choices) == 1 else {"anyOf": choices}
    if plain.get("default", 0) is None:
        del plain["default"]
    return plain


def _form(model: type[BaseModel]) -> dict[str, Any]:
    """A form-encoded body of ``model``'s fields, each sent as text or left out (never null)."""
    schema = dict(model.model_json_schema())  # a copy: a Query's schema is shared
    schema["properties"] = {n: _absent_not_null(p) for n, p in schema["properties"].items()}
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


#: Request bodies flask-openapi3 cannot see (the view reads the form itself).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/files"): {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A JPEG, PNG or WebP photo (checked by content)",
                        },
                        "purpose": {
                            "type": "string",
                            "enum": ["intake", "before", "after", "check_in"],
                        },
                    },
                }
            }
        },
    },
    ("post", "/open311/v2/requests.{fmt}"): _form(NewServiceRequest),
    ("post", "/api/v1/public/photos"): {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "draft"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A JPEG, PNG or WebP photo (checked by content)",
                        },
                        "draft": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9_-]{32}$",
                            "description": "The draft token of POST /api/v1/public/codes",
                        },
                    },
                }
            }
        },
    },
    ("post", "/api/v1/service-imports"): {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "what", "crs"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A site layer, a road layer or an OpenStreetMap "
                            "extract (.osm.pbf); README, Service map",
                        },
                        "what": {"type": "string", "enum": ["sites", "network"]},
                        "crs": {"type": "string", "maxLength": 40, "minLength": 1},
                        "layer": {"type": "string", "maxLength": 200},
                        "encoding": {"type": "string", "maxLength": 40},
                        "replace": {"type": "string", "enum": ["true", "false"]},
                    },
                }
            }
        },
    },
    ("post", "/api/v1/onenet/layers"): {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "crs", "name", "department"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A department's grid file, in a format of the "
                            "import page (README, Import); one layer, a code per cell",
                        },
                        "crs": {"type": "string", "maxLength": 40, "minLength": 1},
                        "name": {"type": "string", "maxLength": 100, "minLength": 1},
                        "department": {"type": "string", "maxLength": 30, "minLength": 1},
                        "compare_level": {"type": "string", "enum": ["micro", "zone"]},
                        "layer": {"type": "string", "maxLength": 200},
                        "encoding": {"type": "string", "maxLength": 40},
                    },
                }
            }
        },
    },
    ("post", "/api/v1/grid-imports"): {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "crs"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The grid file, in a format of the import "
                            "page (README, Import)",
                        },
                        "crs": {"type": "string", "maxLength": 40, "minLength": 1},
                        "layer": {"type": "string", "maxLength": 200},
                        "encoding": {"type": "string", "maxLength": 40},
                    },
                }
            }
        },
    },
}


#: A werkzeug rule's ``<converter:name>`` part, which the document writes ``{name}``.
_RULE_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def finish(
    spec: dict[str, Any],
    public: Collection[tuple[str, str]] = (),
    optional: Collection[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Finish flask-openapi3's document in place (see the module docstring); ``public``
    operations need no credentials, ``optional`` ones take them or answer without."""
    _schema_of(spec, a.Problem)
    _schema_of(spec, o.Open311Errors)
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if (method, path) in public:
                op["security"] = []
            if (method, path) in optional:
                op["security"] = [*op.get("security", []), {}]
            _finish_operation(spec, method, path, op)
    if "ValidationErrorModel" not in str(spec["paths"]):
        spec["components"]["schemas"].pop("ValidationErrorModel", None)
    return spec


def _finish_operation(spec: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> None:
    key = (method, path)
    responses: dict[str, Any] = op.setdefault("responses", {})
    own = {s: r for s, r in responses.items() if s.startswith("2")}
    if not any(r.get("content") for r in own.values()):
        own = {}  # flask-openapi3's placeholder: the route declared no success answer
    responses.clear()
    responses.update(own or _success(spec, key, SUCCESS.get(key, {})))
    secured = bool(op.get("security"))
    for status in error_statuses(method, path, secured):
        responses[str(status)] = _error(status, path)
    parameters: list[dict[str, Any]] = op.setdefault("parameters", [])
    for parameter in parameters:
        parameter["schema"] = _absent_not_null(parameter.get("schema", {}))
    if key in BODIES:
        op["requestBody"] = copy.deepcopy(BODIES[key])
    if key in IF_MATCH:
        parameters.append(copy.deepcopy(_IF_MATCH_PARAM))
    if key in IDEMPOTENT:
        parameters.append(copy.deepcopy(_IDEMPOTENCY_PARAM))
    if not parameters:
        del op["parameters"]
