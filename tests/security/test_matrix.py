"""Role × scope matrix over every endpoint: deny by default, 404 outside the scope, no leaks.

The endpoints come from ``app.url_map``: a view that declares neither capabilities nor
``public`` fails ``test_every_endpoint_is_public_or_declares_capabilities``, and a data
endpoint without a probe in ``PROBES`` fails ``test_every_data_endpoint_is_in_the_matrix``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select, update
from werkzeug.routing import Rule

from gridmap.access import security
from gridmap.access.auth import (
    BUILDINGS,
    CAPABILITIES,
    EXPORT,
    PARTY,
    READ,
    REVEAL,
    REVIEW,
    SIGNED_IN,
)
from gridmap.core import clock
from gridmap.files import service as files
from gridmap.files import stores
from gridmap.storage import files as file_store
from gridmap.storage.models import (
    Patrol,
    PatrolCheckIn,
    ResidentRequest,
    ServiceCandidate,
    ServiceIsochrone,
    ServiceSite,
)
from tests.conftest import ClientFor, client_for, small_grid_frame
from tests.onenet.planted import plant_as, shifted
from tests.requests.photos import image
from tests.security.conftest import (
    A_PEOPLE,
    ADMIN_ROLES,
    B_HOUSEHOLDS,
    B_NAMES,
    B_PEOPLE,
    B_REQUESTS,
    DATA_ROLES,
    GHOST,
    GHOST_ID,
    RESIDENT_NAME,
    A,
    B,
    b_grid_frame,
    b_secrets,
)

PROBLEM = "application/problem+json"
MVT = "application/vnd.mapbox-vector-tile"
DATA_CAPABILITIES = {READ, EXPORT, REVEAL}
#: Endpoints needing a data capability that hold no object of their own to probe.
NO_OBJECT_ENDPOINTS = {
    "web.grid_map_page": "the page shell; its layers come from the API",
    "web.requests_inbox": "the page shell; its rows come from the probed request list",
    "web.requests_map": "the page shell; its markers come from the probed request list",
    "web.requests_ranking": "the page shell; its rows come from the probed rates endpoint",
    "web.request_detail": "renders one request through the same scoped query as the probed API",
    "web.review_report_job": "a report job's page: its owner's only, as GET /api/v1/jobs/<id>"
    " (tests/api/test_review_report.py); the report itself is probed as review report page",
    "open311.services": "the category catalogue is the same for every scope",
    "features.collections": "the collections' descriptions; their items are probed",
    "features.collection": "a collection's description; its items are probed",
    "tilejson.grids": "the tile URLs and fields of a layer; the grid tiles are probed",
    "open311.service_definition": "the category catalogue is the same for every scope",
    "departments.list_departments": "the departments a street may summon: the same list for "
    "every scope, no personal data",
}

#: Endpoints of the aggregate capability (REVIEW) that are the same for every scope: they hold
#: no household, person or request, so there is nothing of B to keep from A. Every other
#: REVIEW endpoint is probed (test_every_review_endpoint_is_probed_or_unscoped).
UNSCOPED_REVIEW_ENDPOINTS = {
    "service_map.service_sites": "service sites are public facilities (name, kind, hours)",
    "service_map.service_isochrones": "the walking circles: sites and streets only",
    "service_map.service_map_state": "when the circles were computed and the network's size",
    "web.service_map_page": "the page shell; its layers come from the probed API",
}

#: method, URL, JSON body and, for a write guarded by If-Match, its headers.
Request = (
    tuple[str, str, dict[str, Any] | None] | tuple[str, str, dict[str, Any] | None, dict[str, str]]
)


@dataclass(frozen=True)
class Probe:
    """One read or write of an object, in A (``inside``) and in B (``outside``).

    ``kind`` says what an out-of-scope answer is: ``one`` a 404 identical (digits aside) to
    the ``ghost``'s, an object that never existed; ``features``/``results``/``csv`` an empty
    collection; ``list`` an unfiltered list that must hold nothing of B.
    """

    name: str
    capability: str
    kind: str
    inside: Request
    outside: Request
    ghost: Request | None = None


def _get(url: str) -> Request:
    return ("GET", url, None)


def _guarded(method: str, url: str, body: dict[str, Any] | None = None) -> Request:
    """A write naming any current revision (``If-Match: *``): scope decides, not staleness."""
    return (method, url, body, {"If-Match": "*"})


def _building_at(lon: float, lat: float) -> Request:
    geometry = {"type": "Point", "coordinates": [lon, lat]}
    return ("POST", "/api/v1/buildings", {"geometry": geometry, "number": "99"})


def reveal_request(obj: str, oid: int, field: str) -> Request:
    return ("POST", "/api/v1/reveal", {"object": obj, "id": oid, "field": field})


A_BBOX = "116.40,39.90,116.42,39.92"
B_BBOX = "116.44,39.90,116.46,39.92"
B_POINT = "lon=116.445&lat=39.915"
#: The month the planted requests are filed in (now, in Beijing), for the request tiles.
THIS_MONTH = clock.today().strftime("%Y-%m")
#: Vector tiles: micro-grids of A (z15) and of B; the planted requests' point, where A's and
#: B's requests lie side by side (z16, raw points), and B's micro-grids (z14, counts).
A_GRID_TILE = "/api/v1/tiles/grids/15/26979/12415.mvt"
B_GRID_TILE = "/api/v1/tiles/grids/15/26983/12415.mvt"
PLANTED_TILE = f"/api/v1/tiles/requests/16/53959/24831.mvt?period={THIS_MONTH}"
B_COUNT_TILE = f"/api/v1/tiles/requests/14/13491/6207.mvt?period={THIS_MONTH}"

#: Photos planted by ``photo_world``, by what they belong to: (A's, B's, one never uploaded),
#: attached to request 501/511, to the check-in of patrol 601/611, to visit 701/711. The
#: never-uploaded id differs from B's in digits only, so that the two 404s can be compared.
PHOTOS = {
    kind: tuple(f"{kind.replace('_', '')}Photo000000{n}" for n in (a, b, 999))
    for kind, a, b in (("request", 501, 511), ("check_in", 601, 611), ("visit", 701, 711))
}

#: The OGC API Features collections.
OGC = "/api/v1/ogc/collections"

#: 一张网: the foreign layers planted by ``onenet_world`` (A's micro-grids and B's, each
#: shifted 3 m, imported for A's street and for B's) and one that never existed.
A_LAYER, B_LAYER = 801, 811
ONENET = "/api/v1/onenet/layers"

PROBES = (
    Probe(
        "community",
        READ,
        "one",
        _get(f"/api/v1/grids/{A}"),
        _get(f"/api/v1/grids/{B}"),
        _get(f"/api/v1/grids/{GHOST}"),
    ),
    Probe(
        "zone",
        READ,
        "one",
        _get(f"/api/v1/grids/{A}01"),
        _get(f"/api/v1/grids/{B}01"),
        _get(f"/api/v1/grids/{GHOST}01"),
    ),
    Probe(
        "micro-grid",
        READ,
        "one",
        _get(f"/api/v1/grids/{A}01001"),
        _get(f"/api/v1/grids/{B}01001"),
        _get(f"/api/v1/grids/{GHOST}01001"),
    ),
    Probe(
        "grid children",
        READ,
        "features",
        _get(f"/api/v1/grids?parent={A}01"),
        _get(f"/api/v1/grids?parent={B}01"),
    ),
    Probe(
        "grids in bbox",
        READ,
        "features",
        _get(f"/api/v1/grids?bbox={A_BBOX}"),
        _get(f"/api/v1/grids?bbox={B_BBOX}"),
    ),
    Probe("all grids", READ, "list", _get("/api/v1/grids"), _get("/api/v1/grids")),
    Probe(
        "micro-grids",
        READ,
        "list",
        _get("/api/v1/grids?level=micro"),
        _get("/api/v1/grids?level=micro"),
    ),
    Probe(
        "households of a grid",
        READ,
        "features",
        _get(f"/api/v1/households?grid={A}01001"),
        _get(f"/api/v1/households?grid={B}"),
    ),
    Probe(
        "households in bbox",
        READ,
        "features",
        _get(f"/api/v1/households?bbox={A_BBOX}"),
        _get(f"/api/v1/households?bbox={B_BBOX}"),
    ),
    Probe("all households", READ, "list", _get("/api/v1/households"), _get("/api/v1/households")),
    Probe(
        "staff of a grid",
        READ,
        "one",
        _get(f"/api/v1/grids/{A}01001/staff"),
        _get(f"/api/v1/grids/{B}01001/staff"),
        _get(f"/api/v1/grids/{GHOST}01001/staff"),
    ),
    Probe(
        "coverage of a grid",
        READ,
        "one",
        _get(f"/api/v1/grids/{A}01/coverage"),
        _get(f"/api/v1/grids/{B}01/coverage"),
        _get(f"/api/v1/grids/{GHOST}01/coverage"),
    ),
    Probe(
        "household coverage",
        READ,
        "one",
        _get("/api/v1/households/1/coverage"),
        _get("/api/v1/households/11/coverage"),
        _get(f"/api/v1/households/{GHOST_ID}/coverage"),
    ),
    Probe(
        "locate",
        READ,
        "one",
        _get("/api/v1/locate?lon=116.405&lat=39.915"),
        _get(f"/api/v1/locate?{B_POINT}"),
        _get("/api/v1/locate?lon=116.505&lat=39.955"),
    ),
    Probe(
        "locate CGCS2000",
        READ,
        "one",
        _get("/api/v1/locate?lon=116.405&lat=39.915&crs=EPSG:4490"),
        _get(f"/api/v1/locate?{B_POINT}&crs=EPSG:4490"),
        _get("/api/v1/locate?lon=116.505&lat=39.955&crs=EPSG:4490"),
    ),
    Probe(
        "search code", READ, "results", _get(f"/api/v1/search?q={A}"), _get(f"/api/v1/search?q={B}")
    ),
    Probe(
        "search zone code",
        READ,
        "results",
        _get(f"/api/v1/search?q={A}01"),
        _get(f"/api/v1/search?q={B}01"),
    ),
    Probe(
        "search county prefix",
        READ,
        "list",
        _get(f"/api/v1/search?q={A[:6]}"),
        _get(f"/api/v1/search?q={A[:6]}"),
    ),
    Probe(
        "search name",
        READ,
        "results",
        _get("/api/v1/search?q=测试社区"),
        _get("/api/v1/search?q=乙社区"),
    ),
    Probe(
        "search address",
        READ,
        "results",
        _get("/api/v1/search?q=12号楼"),
        _get("/api/v1/search?q=7号楼"),
    ),
    Probe(
        "export grid",
        EXPORT,
        "csv",
        _get(f"/api/v1/households.csv?grid={A}01001"),
        _get(f"/api/v1/households.csv?grid={B}"),
    ),
    Probe(
        "export bbox",
        EXPORT,
        "csv",
        _get(f"/api/v1/households.csv?bbox={A_BBOX}"),
        _get(f"/api/v1/households.csv?bbox={B_BBOX}"),
    ),
    Probe(
        "export all", EXPORT, "list", _get("/api/v1/households.csv"), _get("/api/v1/households.csv")
    ),
    Probe(
        "gis export of a grid",
        EXPORT,
        "one",
        _get(f"/api/v1/exports/households.geojson?grid={A}01001"),
        _get(f"/api/v1/exports/households.geojson?grid={B}"),
        _get(f"/api/v1/exports/households.geojson?grid={GHOST}"),
    ),
    Probe(
        "gis export all",
        EXPORT,
        "list",
        _get("/api/v1/exports/requests.csv?header=en&geometry=wkt"),
        _get("/api/v1/exports/requests.csv?header=en&geometry=wkt"),
    ),
    Probe(
        "gis export job of a grid",
        EXPORT,
        "one",
        ("POST", "/api/v1/exports", {"layer": "grids", "format": "gpkg", "grid": A + "01001"}),
        ("POST", "/api/v1/exports", {"layer": "grids", "format": "gpkg", "grid": B}),
        ("POST", "/api/v1/exports", {"layer": "grids", "format": "gpkg", "grid": GHOST}),
    ),
    Probe(
        "gis export of a foreign layer",
        EXPORT,
        "one",
        _get(f"/api/v1/exports/onenet.geojson?foreign_layer={A_LAYER}"),
        _get(f"/api/v1/exports/onenet.geojson?foreign_layer={B_LAYER}"),
        _get(f"/api/v1/exports/onenet.geojson?foreign_layer={GHOST_ID}"),
    ),
    Probe("foreign layers", READ, "list", _get(ONENET), _get(ONENET)),
    Probe(
        "foreign layer",
        READ,
        "one",
        _get(f"{ONENET}/{A_LAYER}"),
        _get(f"{ONENET}/{B_LAYER}"),
        _get(f"{ONENET}/{GHOST_ID}"),
    ),
    Probe(
        "foreign layer cells",
        READ,
        "one",
        _get(f"{ONENET}/{A_LAYER}/cells"),
        _get(f"{ONENET}/{B_LAYER}/cells"),
        _get(f"{ONENET}/{GHOST_ID}/cells"),
    ),
    Probe(
        "foreign layer draft",
        READ,
        "one",
        _get(f"{ONENET}/{A_LAYER}/draft"),
        _get(f"{ONENET}/{B_LAYER}/draft"),
        _get(f"{ONENET}/{GHOST_ID}/draft"),
    ),
    Probe(
        "foreign layer units",
        READ,
        "one",
        _get(f"{ONENET}/{A_LAYER}/units"),
        _get(f"{ONENET}/{B_LAYER}/units"),
        _get(f"{ONENET}/{GHOST_ID}/units"),
    ),
    Probe(
        "report in a grid",
        READ,
        "features",
        _get(f"/api/v1/reports/coverage?grid={A}"),
        _get(f"/api/v1/reports/coverage?grid={B}"),
    ),
    Probe(
        "report",
        READ,
        "list",
        _get("/api/v1/reports/coverage?level=zone"),
        _get("/api/v1/reports/coverage?level=zone"),
    ),
    Probe(
        "report export",
        EXPORT,
        "list",
        _get("/api/v1/reports/uncovered.csv"),
        _get("/api/v1/reports/uncovered.csv"),
    ),
    Probe("requests", READ, "list", _get("/api/v1/requests"), _get("/api/v1/requests")),
    Probe(
        "requests of a grid",
        READ,
        "features",
        _get(f"/api/v1/requests?grid={A}01001"),
        _get(f"/api/v1/requests?grid={B}"),
    ),
    Probe(
        "request",
        READ,
        "one",
        _get("/api/v1/requests/501"),
        _get("/api/v1/requests/511"),
        _get(f"/api/v1/requests/{GHOST_ID}"),
    ),
    Probe(
        "duplicate candidates",
        READ,
        "one",
        _get("/api/v1/requests/501/duplicates"),
        _get("/api/v1/requests/511/duplicates"),
        _get(f"/api/v1/requests/{GHOST_ID}/duplicates"),
    ),
    Probe("rates", READ, "list", _get("/api/v1/rates"), _get("/api/v1/rates")),
    Probe(
        "rates of a grid",
        READ,
        "features",
        _get(f"/api/v1/rates?grid={A}01001"),
        _get(f"/api/v1/rates?grid={B}"),
    ),
    Probe(
        "rates by owner in a grid",
        READ,
        "features",
        _get(f"/api/v1/rates?by=owner&grid={A}"),
        _get(f"/api/v1/rates?by=owner&grid={B}"),
    ),
    Probe("rates export", EXPORT, "list", _get("/api/v1/rates.csv"), _get("/api/v1/rates.csv")),
    Probe(
        "rates export of a grid",
        EXPORT,
        "one",
        _get(f"/api/v1/rates.csv?grid={A}01001&level=micro"),
        _get(f"/api/v1/rates.csv?grid={B}&level=micro"),
        _get(f"/api/v1/rates.csv?grid={GHOST}&level=micro"),
    ),
    Probe(
        "rates job of a grid",
        EXPORT,
        "one",
        ("POST", "/api/v1/rates-jobs", {"grid": A + "01001", "level": "micro"}),
        ("POST", "/api/v1/rates-jobs", {"grid": B, "level": "micro"}),
        ("POST", "/api/v1/rates-jobs", {"grid": GHOST, "level": "micro"}),
    ),
    Probe(
        "review report workbook",
        EXPORT,
        "one",
        _get(f"/api/v1/review/report.xlsx?month=2024-01&grid={A}"),
        _get(f"/api/v1/review/report.xlsx?month=2024-01&grid={B}"),
        _get(f"/api/v1/review/report.xlsx?month=2024-01&grid={GHOST}"),
    ),
    Probe(
        "review report job",
        EXPORT,
        "one",
        ("POST", "/api/v1/review/report-jobs", {"month": "2024-01", "grid": A}),
        ("POST", "/api/v1/review/report-jobs", {"month": "2024-01", "grid": B}),
        ("POST", "/api/v1/review/report-jobs", {"month": "2024-01", "grid": GHOST}),
    ),
    Probe(
        "review report page",
        EXPORT,
        "one",
        _get(f"/review/report?month=2024-01&grid={A}"),
        _get(f"/review/report?month=2024-01&grid={B}"),
        _get(f"/review/report?month=2024-01&grid={GHOST}"),
    ),
    Probe(
        "overdue requests",
        READ,
        "list",
        _get("/api/v1/requests/overdue"),
        _get("/api/v1/requests/overdue"),
    ),
    Probe(
        "overdue requests of a grid",
        READ,
        "features",
        _get(f"/api/v1/requests/overdue?grid={A}01001&warning=red"),
        _get(f"/api/v1/requests/overdue?grid={B}&warning=red"),
    ),
    Probe(
        "open311 requests",
        READ,
        "list",
        _get("/open311/v2/requests.json"),
        _get("/open311/v2/requests.json"),
    ),
    Probe(
        "open311 requests by id",
        READ,
        "features",
        _get("/open311/v2/requests.json?service_request_id=501"),
        _get("/open311/v2/requests.json?service_request_id=511,512"),
    ),
    Probe(
        "open311 request",
        READ,
        "one",
        _get("/open311/v2/requests/501.json"),
        _get("/open311/v2/requests/511.json"),
        _get(f"/open311/v2/requests/{GHOST_ID}.json"),
    ),
    Probe(
        "open311 token",
        READ,
        "one",
        _get("/open311/v2/tokens/501.json"),
        _get("/open311/v2/tokens/511.json"),
        _get(f"/open311/v2/tokens/{GHOST_ID}.json"),
    ),
    Probe("grid tile", READ, "features", _get(A_GRID_TILE), _get(B_GRID_TILE)),
    Probe("request tile", REVIEW, "features", _get(PLANTED_TILE), _get(B_COUNT_TILE)),
    Probe(
        "patrol",
        READ,
        "one",
        _get("/api/v1/patrols/601"),
        _get("/api/v1/patrols/611"),
        _get(f"/api/v1/patrols/{GHOST_ID}"),
    ),
    Probe("patrols", READ, "list", _get("/api/v1/patrols"), _get("/api/v1/patrols")),
    Probe(
        "party activity",
        PARTY,
        "one",
        _get("/api/v1/party/activities/801"),
        _get("/api/v1/party/activities/811"),
        _get(f"/api/v1/party/activities/{GHOST_ID}"),
    ),
    Probe(
        "party activities",
        PARTY,
        "list",
        _get("/api/v1/party/activities"),
        _get("/api/v1/party/activities"),
    ),
    Probe(
        "confirm attendance",
        PARTY,
        "one",
        ("POST", "/api/v1/party/activities/801/attendance", {"person_id": 4}),
        ("POST", "/api/v1/party/activities/811/attendance", {"person_id": 13}),
        ("POST", f"/api/v1/party/activities/{GHOST_ID}/attendance", {"person_id": 13}),
    ),
    Probe(
        "party units",
        PARTY,
        "list",
        _get("/api/v1/party/units"),
        _get("/api/v1/party/units"),
    ),
    Probe(
        "unit report",
        PARTY,
        "one",
        _get("/api/v1/party/units/801/report"),
        _get("/api/v1/party/units/811/report"),
        _get(f"/api/v1/party/units/{GHOST_ID}/report"),
    ),
    Probe(
        "quarterly report",
        PARTY,
        "results",
        _get("/api/v1/party/report"),
        _get(f"/api/v1/party/report?community={B}"),
    ),
    Probe(
        "quarterly report download",
        PARTY,
        "one",
        ("POST", "/api/v1/party/report-jobs", {}),
        ("POST", "/api/v1/party/report-jobs", {"community": B}),
        ("POST", "/api/v1/party/report-jobs", {"community": GHOST}),
    ),
    Probe(
        "needs",
        PARTY,
        "list",
        _get("/api/v1/party/needs"),
        _get("/api/v1/party/needs"),
    ),
    Probe(
        "need",
        PARTY,
        "one",
        _get("/api/v1/party/needs/801"),
        _get("/api/v1/party/needs/811"),
        _get(f"/api/v1/party/needs/{GHOST_ID}"),
    ),
    Probe(
        "record a need",
        PARTY,
        "one",
        ("POST", "/api/v1/party/needs", {"community": A, "kind": "care", "title": "助餐"}),
        ("POST", "/api/v1/party/needs", {"community": B, "kind": "care", "title": "助餐"}),
        ("POST", "/api/v1/party/needs", {"community": GHOST, "kind": "care", "title": "助餐"}),
    ),
    Probe(
        "need from a request",
        PARTY,
        "one",
        ("POST", "/api/v1/party/needs/from-request/501", {"kind": "care", "title": "助餐"}),
        ("POST", "/api/v1/party/needs/from-request/511", {"kind": "care", "title": "助餐"}),
        (
            "POST",
            f"/api/v1/party/needs/from-request/{GHOST_ID}",
            {"kind": "care", "title": "助餐"},
        ),
    ),
    Probe(
        "pair a need with a resource",
        PARTY,
        "one",
        ("POST", "/api/v1/party/needs/801/matches", {"resource_id": 801}),
        ("POST", "/api/v1/party/needs/811/matches", {"resource_id": 811}),
        ("POST", f"/api/v1/party/needs/{GHOST_ID}/matches", {"resource_id": 811}),
    ),
    Probe(
        "resources",
        PARTY,
        "list",
        _get("/api/v1/party/resources"),
        _get("/api/v1/party/resources"),
    ),
    Probe(
        "service projects",
        PARTY,
        "list",
        _get("/api/v1/party/matches"),
        _get("/api/v1/party/matches"),
    ),
    Probe(
        "service project",
        PARTY,
        "one",
        _get("/api/v1/party/matches/801"),
        _get("/api/v1/party/matches/811"),
        _get(f"/api/v1/party/matches/{GHOST_ID}"),
    ),
    Probe(
        "needs and resources map",
        PARTY,
        "list",
        _get("/api/v1/party/lists/map"),
        _get("/api/v1/party/lists/map"),
    ),
    Probe(
        "party map",
        PARTY,
        "features",
        _get("/api/v1/party/map"),
        _get(f"/api/v1/party/map?community={B}"),
    ),
    Probe(
        "wishes",
        PARTY,
        "list",
        _get("/api/v1/party/wishes"),
        _get("/api/v1/party/wishes"),
    ),
    Probe(
        "wish",
        PARTY,
        "one",
        _get("/api/v1/party/wishes/801"),
        _get("/api/v1/party/wishes/811"),
        _get(f"/api/v1/party/wishes/{GHOST_ID}"),
    ),
    Probe(
        "record a wish",
        PARTY,
        "one",
        ("POST", "/api/v1/party/wishes", {"community": A, "title": "收音机", "consent": True}),
        ("POST", "/api/v1/party/wishes", {"community": B, "title": "收音机", "consent": True}),
        ("POST", "/api/v1/party/wishes", {"community": GHOST, "title": "收音机", "consent": True}),
    ),
    Probe(
        "wish counts",
        PARTY,
        "list",
        _get("/api/v1/party/wish-counts"),
        _get("/api/v1/party/wish-counts"),
    ),
    Probe(
        "visit log",
        READ,
        "one",
        _get("/api/v1/visits/701"),
        _get("/api/v1/visits/711"),
        _get(f"/api/v1/visits/{GHOST_ID}"),
    ),
    Probe(
        "patrols of a grid",
        READ,
        "features",
        _get(f"/api/v1/patrols?grid={A}01001"),
        _get(f"/api/v1/patrols?grid={B}"),
    ),
    Probe(
        "request photo",
        READ,
        "one",
        _get(f"/api/v1/files/{PHOTOS['request'][0]}/info"),
        _get(f"/api/v1/files/{PHOTOS['request'][1]}/info"),
        _get(f"/api/v1/files/{PHOTOS['request'][2]}/info"),
    ),
    Probe(
        "check-in photo",
        READ,
        "one",
        _get(f"/api/v1/files/{PHOTOS['check_in'][0]}"),
        _get(f"/api/v1/files/{PHOTOS['check_in'][1]}"),
        _get(f"/api/v1/files/{PHOTOS['check_in'][2]}"),
    ),
    Probe(
        "visit photo",
        READ,
        "one",
        _get(f"/api/v1/files/{PHOTOS['visit'][0]}/thumbnail"),
        _get(f"/api/v1/files/{PHOTOS['visit'][1]}/thumbnail"),
        _get(f"/api/v1/files/{PHOTOS['visit'][2]}/thumbnail"),
    ),
    Probe(
        "household visits",
        READ,
        "one",
        _get("/api/v1/households/1/visits"),
        _get("/api/v1/households/11/visits"),
        _get(f"/api/v1/households/{GHOST_ID}/visits"),
    ),
    Probe(
        "work lists of a worker",
        READ,
        "one",
        _get("/api/v1/worklists?person_id=3"),
        _get("/api/v1/worklists?person_id=12"),
        _get(f"/api/v1/worklists?person_id={GHOST_ID}"),
    ),
    Probe(
        "overdue duties",
        READ,
        "list",
        _get("/api/v1/patrols/overdue"),
        _get("/api/v1/patrols/overdue"),
    ),
    Probe(
        "overdue duties layer of a grid",
        READ,
        "features",
        _get(f"/api/v1/patrols/overdue?grid={A}01001&format=geojson"),
        _get(f"/api/v1/patrols/overdue?grid={B}&format=geojson"),
    ),
    Probe(
        "reveal staff name",
        REVEAL,
        "one",
        reveal_request("person", 3, "name"),
        reveal_request("person", 12, "name"),
        reveal_request("person", GHOST_ID, "name"),
    ),
    Probe(
        "reveal chief phone",
        REVEAL,
        "one",
        reveal_request("person", 1, "phone"),
        reveal_request("person", 11, "phone"),
        reveal_request("person", GHOST_ID, "phone"),
    ),
    Probe(
        "reveal member phone",
        REVEAL,
        "one",
        reveal_request("person", 4, "phone"),
        reveal_request("person", 13, "phone"),
        reveal_request("person", GHOST_ID, "phone"),
    ),
    Probe(
        "reveal address",
        REVEAL,
        "one",
        reveal_request("household", 1, "address"),
        reveal_request("household", 11, "address"),
        reveal_request("household", GHOST_ID, "address"),
    ),
    Probe(
        "OGC micro-grids in bbox",
        READ,
        "features",
        _get(f"{OGC}/grids-micro/items?bbox={A_BBOX}"),
        _get(f"{OGC}/grids-micro/items?bbox={B_BBOX}"),
    ),
    Probe(
        "OGC households in bbox",
        READ,
        "features",
        _get(f"{OGC}/households/items?bbox={A_BBOX}"),
        _get(f"{OGC}/households/items?bbox={B_BBOX}"),
    ),
    Probe(
        "OGC all households",
        READ,
        "list",
        _get(f"{OGC}/households/items"),
        _get(f"{OGC}/households/items"),
    ),
    Probe(
        "OGC household",
        READ,
        "one",
        _get(f"{OGC}/households/items/1"),
        _get(f"{OGC}/households/items/11"),
        _get(f"{OGC}/households/items/{GHOST_ID}"),
    ),
    Probe(
        "OGC all requests",
        READ,
        "list",
        _get(f"{OGC}/requests/items"),
        _get(f"{OGC}/requests/items"),
    ),
    Probe(
        "OGC request",
        READ,
        "one",
        _get(f"{OGC}/requests/items/501"),
        _get(f"{OGC}/requests/items/511"),
        _get(f"{OGC}/requests/items/{GHOST_ID}"),
    ),
    Probe(
        "buildings in bbox",
        READ,
        "features",
        _get(f"/api/v1/buildings?bbox={A_BBOX}"),
        _get(f"/api/v1/buildings?bbox={B_BBOX}"),
    ),
    Probe(
        "buildings of a grid",
        READ,
        "features",
        _get(f"/api/v1/buildings?grid={A}01001"),
        _get(f"/api/v1/buildings?grid={B}"),
    ),
    Probe("all buildings", READ, "list", _get("/api/v1/buildings"), _get("/api/v1/buildings")),
    Probe(
        "building",
        READ,
        "one",
        _get("/api/v1/buildings/901?history=true"),
        _get("/api/v1/buildings/911?history=true"),
        _get(f"/api/v1/buildings/{GHOST_ID}?history=true"),
    ),
    Probe(
        "central household",
        READ,
        "one",
        _get("/api/v1/central-households/901"),
        _get("/api/v1/central-households/911"),
        _get(f"/api/v1/central-households/{GHOST_ID}"),
    ),
    Probe(
        "record a building",
        BUILDINGS,
        "one",
        _building_at(116.4061, 39.9161),
        _building_at(116.4461, 39.9161),
        _building_at(116.505, 39.955),
    ),
    Probe(
        "change a building",
        BUILDINGS,
        "one",
        _guarded("PATCH", "/api/v1/buildings/901", {"floors": 7}),
        _guarded("PATCH", "/api/v1/buildings/911", {"floors": 7}),
        _guarded("PATCH", f"/api/v1/buildings/{GHOST_ID}", {"floors": 7}),
    ),
    Probe(
        "give 楼栋长",
        BUILDINGS,
        "one",
        _guarded("PUT", "/api/v1/buildings/901/head", {"person_id": 1}),
        _guarded("PUT", "/api/v1/buildings/911/head", {"person_id": 1}),
        _guarded("PUT", f"/api/v1/buildings/{GHOST_ID}/head", {"person_id": 1}),
    ),
    Probe(
        "end 楼栋长",
        BUILDINGS,
        "one",
        _guarded("POST", "/api/v1/buildings/901/head/end", {}),
        _guarded("POST", "/api/v1/buildings/911/head/end", {}),
        _guarded("POST", f"/api/v1/buildings/{GHOST_ID}/head/end", {}),
    ),
    Probe(
        "give 单元长",
        BUILDINGS,
        "one",
        _guarded("PUT", "/api/v1/buildings/901/units/2/head", {"person_id": 4}),
        _guarded("PUT", "/api/v1/buildings/911/units/3/head", {"person_id": 4}),
        _guarded("PUT", f"/api/v1/buildings/{GHOST_ID}/units/2/head", {"person_id": 4}),
    ),
    Probe(
        "end 单元长",
        BUILDINGS,
        "one",
        _guarded("POST", "/api/v1/buildings/901/units/2/head/end", {}),
        _guarded("POST", "/api/v1/buildings/911/units/3/head/end", {}),
        _guarded("POST", f"/api/v1/buildings/{GHOST_ID}/units/2/head/end", {}),
    ),
    Probe(
        "designate 党员中心户",
        BUILDINGS,
        "one",
        ("POST", "/api/v1/central-households", {"household_id": 2, "person_id": 1}),
        ("POST", "/api/v1/central-households", {"household_id": 12, "person_id": 1}),
        ("POST", "/api/v1/central-households", {"household_id": GHOST_ID, "person_id": 1}),
    ),
    Probe(
        "neighbours of a 党员中心户",
        BUILDINGS,
        "one",
        _guarded("PUT", "/api/v1/central-households/901/neighbours", {"household_ids": []}),
        _guarded("PUT", "/api/v1/central-households/911/neighbours", {"household_ids": []}),
        _guarded("PUT", f"/api/v1/central-households/{GHOST_ID}/neighbours", {"household_ids": []}),
    ),
    Probe(
        "end a 党员中心户",
        BUILDINGS,
        "one",
        _guarded("POST", "/api/v1/central-households/901/end", {}),
        _guarded("POST", "/api/v1/central-households/911/end", {}),
        _guarded("POST", f"/api/v1/central-households/{GHOST_ID}/end", {}),
    ),
    Probe(
        "service gaps",
        REVIEW,
        "list",
        _get("/api/v1/service-map/gaps"),
        _get("/api/v1/service-map/gaps"),
    ),
    Probe(
        "service gaps of a grid",
        REVIEW,
        "features",
        _get(f"/api/v1/service-map/gaps?grid={A}"),
        _get(f"/api/v1/service-map/gaps?grid={B}"),
    ),
    Probe(
        "service gap map of a grid",
        REVIEW,
        "features",
        _get(f"/api/v1/service-map/gap-map?grid={A}01"),
        _get(f"/api/v1/service-map/gap-map?grid={B}01"),
    ),
    Probe(
        "candidate sites",
        REVIEW,
        "list",
        _get("/api/v1/service-map/candidates"),
        _get("/api/v1/service-map/candidates"),
    ),
    Probe(
        "candidate sites of a grid",
        REVIEW,
        "features",
        _get(f"/api/v1/service-map/candidates?grid={A}"),
        _get(f"/api/v1/service-map/candidates?grid={B}"),
    ),
    Probe(
        "OGC patrols in bbox",
        READ,
        "features",
        _get(f"{OGC}/patrols/items?bbox={A_BBOX}"),
        _get(f"{OGC}/patrols/items?bbox={B_BBOX}"),
    ),
)


@pytest.fixture
def photo_world(app, session, request_world, patrol_world, tmp_path) -> None:
    """The photos of ``PHOTOS`` (rows and bytes in a disk store of the test's own)."""
    objects = stores.DiskStore(tmp_path / "files")
    app.extensions["gridmap.files"] = objects
    photo = image()
    for kind, pair in PHOTOS.items():
        for file_id, owner in zip(pair[:2], _owners(session, kind), strict=True):
            file_store.insert_file(session, _photo_row(file_id, kind, owner, len(photo)))
            objects.put(files.photo_key(file_id), photo, "image/jpeg")
            objects.put(files.thumbnail_key(file_id), photo, "image/jpeg")
    session.commit()


def _owners(session, kind: str) -> list[dict[str, int]]:
    """What the A and B photos of ``kind`` are attached to, with their uploader."""
    if kind == "request":
        user = session.scalar(select(Patrol.user_id).where(Patrol.id == 601))
        return [{"request_id": 501, "uploaded_by": user}, {"request_id": 511, "uploaded_by": user}]
    found = []
    for patrol_id in (601, 611):
        user = session.scalar(select(Patrol.user_id).where(Patrol.id == patrol_id))
        if kind == "visit":
            found.append({"visit_id": patrol_id + 100, "uploaded_by": user})
        else:
            check_in = session.scalar(
                select(PatrolCheckIn.id).where(PatrolCheckIn.patrol_id == patrol_id)
            )
            found.append({"check_in_id": check_in, "uploaded_by": user})
    return found


def _photo_row(file_id: str, kind: str, owner: dict[str, int], size: int) -> dict[str, Any]:
    return owner | {
        "id": file_id,
        "purpose": "intake" if kind == "request" else kind,
        "uploaded_at": clock.now(),
        "media_type": "image/jpeg",
        "size_bytes": size,
        "thumbnail_bytes": size,
        "original_bytes": size,
        "width": 64,
        "height": 48,
        "sha256": "0" * 64,
        "exif": {},
    }


@pytest.fixture
def service_world(session, world) -> None:
    """A service site, a drawn circle and a candidate site in A and in B (the circles and
    candidates as a refresh would leave them)."""
    for rank, (code, lon, lat) in enumerate(
        (("SITE-A", 116.405, 39.915), ("SITE-B", 116.445, 39.915)), start=1
    ):
        point = f"SRID=4490;POINT({lon} {lat})"
        site = ServiceSite(code=code, name=code, kind="station", geom=point)
        session.add(site)
        session.flush()
        circle = f"SRID=4490;{MultiPolygon([box(lon - 1e-3, lat - 1e-3, lon + 1e-3, lat + 1e-3)])}"
        session.add(ServiceIsochrone(site_id=site.id, minutes=15, geom=circle))
        session.add(ServiceCandidate(rank=rank, node_id=rank, households=3 - rank, geom=point))
    session.commit()


@pytest.fixture
def onenet_world(session, settings, world) -> None:
    """The foreign layers ``A_LAYER`` (named for A) and ``B_LAYER`` (named for B, so that its
    name in an answer to A is a leak)."""
    grids = pd.concat([small_grid_frame(), b_grid_frame()], ignore_index=True)
    a_cells = shifted(grids[grids["code"].str.startswith(A)], "micro", 3.0)
    b_cells = shifted(grids[grids["code"].str.startswith(B)], "micro", 3.0)
    plant_as(session, settings, a_cells, A_LAYER, name="测试社区警格", scope_code=A[:9])
    plant_as(session, settings, b_cells, B_LAYER, name=f"{B_NAMES[0]}警格", scope_code=B[:9])
    session.commit()


@pytest.fixture
def login_as(
    login_as: ClientFor,
    request_world: None,
    patrol_world: None,
    photo_world: None,
    building_world: None,
    service_world: None,
    onenet_world: None,
) -> ClientFor:
    """The security suite's ``login_as``, in a world that also holds residents' requests,
    patrols, photos, buildings, the service map and other departments' grid layers."""
    return login_as


def _error_type(url: str) -> str:
    """Open311 answers errors in its own JSON shape; the rest of the API in problem+json."""
    return "application/json" if url.startswith("/open311/") else PROBLEM


def send(client, request: Request):
    method, url, body, *headers = request
    return client.open(url, method=method, json=body, headers=headers[0] if headers else None)


def _digits_blurred(text: str) -> str:
    return re.sub(r"\d+", "#", text)


def _ids(response) -> list[str]:
    """Ids of the features, results or CSV rows of a collection answer."""
    if response.status_code == 204:  # an empty vector tile
        return []
    if response.mimetype == MVT:  # features of grids (code) or of requests (id)
        layers = mapbox_vector_tile.decode(response.get_data()).values()
        found = [f["properties"] for layer in layers for f in layer["features"]]
        return [str(p.get("id", p.get("code"))) for p in found]
    if response.mimetype == "text/csv":
        lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()[1:]
        return [line.split(",")[0] for line in lines]
    body = response.get_json(force=True)
    if isinstance(body, list):  # Open311: services or service requests
        return [str(i.get("service_request_id", i.get("service_code"))) for i in body]
    if "rows" in body:  # a report: rows of grids (code) or of households and people (id)
        return [str(row.get("code", row.get("id"))) for row in body["rows"]]
    items = body.get("features", body.get("results", []))
    return [str(item["id"]) for item in items]


def _outside_failures(role: str, probe: Probe, client) -> list[str]:
    """What is wrong with the answer to ``probe``'s out-of-scope request, if anything."""
    response = send(client, probe.outside)
    text = response.get_data().decode(errors="replace")  # a workbook is bytes
    failures = [f"leaks {s!r}" for s in b_secrets() if s in text]
    if probe.capability not in CAPABILITIES[role]:
        if response.status_code != 403:
            failures.append(f"status {response.status_code}, expected 403")
        return failures
    if probe.kind == "one":
        assert probe.ghost is not None
        ghost = send(client, probe.ghost)
        if response.status_code != 404 or response.mimetype != _error_type(probe.outside[1]):
            failures.append(f"status {response.status_code} {response.mimetype}, expected 404")
        if _digits_blurred(text) != _digits_blurred(ghost.get_data(as_text=True)):
            failures.append("answer differs from a never-existing object's: confirms existence")
        return failures
    if response.status_code not in (200, 204):
        return [*failures, f"status {response.status_code}, expected 200 and nothing of B"]
    ids = _ids(response)
    b_ids = {str(i) for i in B_HOUSEHOLDS} | {B}
    if probe.kind != "list" and ids:
        failures.append(f"expected an empty collection, got {ids}")
    if probe.kind == "list" and (set(ids) & b_ids or any(i.startswith(B) for i in ids)):
        failures.append(f"lists objects of B: {ids}")
    if B in text:
        failures.append("mentions B's code")
    return failures


def _inside_failures(role: str, probe: Probe, client) -> list[str]:
    response = send(client, probe.inside)
    expected = 200 if probe.capability in CAPABILITIES[role] else 403
    # A job asked for is accepted (202), a record made (201), or a page queued a job and
    # sends the browser to the job's page (303): success all the same.
    succeeded = expected == 200 and response.status_code in (200, 201, 202, 303)
    if response.status_code != expected and not succeeded:
        return [f"status {response.status_code}, expected {expected}"]
    if expected == 200 and probe.kind != "one" and not _ids(response):
        return ["an in-scope collection is empty"]
    return []


@pytest.mark.parametrize("role", DATA_ROLES)
def test_every_out_of_scope_read_and_write_is_denied(login_as, role):
    client = login_as(role)
    failures = {p.name: f for p in PROBES if (f := _outside_failures(role, p, client))}
    assert failures == {}, f"{role} scoped to {A} reached community {B}"


@pytest.mark.parametrize("role", DATA_ROLES)
def test_every_in_scope_read_succeeds(login_as, role):
    client = login_as(role)
    failures = {p.name: f for p in PROBES if (f := _inside_failures(role, p, client))}
    assert failures == {}, f"{role} scoped to {A} could not reach its own community"


@pytest.mark.parametrize("role", ("chief", "zone_leader", "grid_worker", "street_admin"))
def test_in_scope_reveal_gives_the_plain_value(login_as, role):
    client = login_as(role)
    assert send(client, reveal_request("person", 1, "phone")).get_json()["value"] == A_PEOPLE[1][1]
    assert send(client, reveal_request("person", 4, "name")).get_json()["value"] == A_PEOPLE[4][0]


@pytest.mark.parametrize("role", ("street_admin", "chief", "auditor"))
def test_request_tiles_follow_the_micro_grid_not_the_point(login_as, role):
    """B's planted requests lie at the very point of A's: the tile there shows A's only."""
    assert sorted(_ids(send(login_as(role), _get(PLANTED_TILE)))) == ["501", "502"]


def _rules(app) -> list[Rule]:
    return list(app.url_map.iter_rules())


def _is_public(app, endpoint: str) -> bool:
    view = app.view_functions[endpoint]
    return getattr(view, "public", False) or endpoint.startswith(security._PUBLIC_ENDPOINTS)


def _needed(app, endpoint: str) -> frozenset[str]:
    return frozenset(getattr(app.view_functions[endpoint], "capabilities", frozenset()))


def test_every_endpoint_is_public_or_declares_capabilities(app):
    known = set().union(*CAPABILITIES.values()) | {SIGNED_IN}
    undeclared = [
        r.endpoint
        for r in _rules(app)
        if not _is_public(app, r.endpoint) and not _needed(app, r.endpoint)
    ]
    unknown = {r.endpoint: _needed(app, r.endpoint) - known for r in _rules(app)}
    assert undeclared == []
    assert {e: c for e, c in unknown.items() if c} == {}
    public = {r.endpoint for r in _rules(app) if _is_public(app, r.endpoint)}
    assert public <= {
        "static",
        "web.static",
        "health.health",
        "health.ready",
        "auth.token",
        "web.login_form",
        "web.login",
        # The worker pages' web app: its manifest and service worker, code and names only.
        "web.manifest",
        "web.service_worker",
        # OGC API Features' landing page and conformance classes: links and class names only.
        "features.landing",
        "features.landing_slash",
        "features.conformance",
        "open311.discovery",  # GeoReport v2's discovery document says where the API is
    } | PUBLIC_CHANNEL | {e for e in public if e.startswith(("openapi.", "swagger."))}


#: 公众上报 (gridmap.public): open to anyone, a phone proven by its code, a request followed by
#: its tracking number alone (test_the_public_channel_shows_a_request_by_its_number_only).
PUBLIC_CHANNEL = {
    "public.categories",
    "public.captcha",
    "public.ask_code",
    "public.upload_photo",
    "public.file_request",
    "public.request_status",
    "public.request_photo",
    "public.rate",
    "public.mine",
    "web.public_file_page",
    "web.public_track_page",
    "web.public_status_page",
}


def test_the_public_channel_shows_a_request_by_its_number_only(
    app, anonymous, login_as, request_world, session
):
    """A tracking number shows its own request, in plain words: no contact, no staff, no
    note; any other number is the same 404; the number opens no staff endpoint; a code or a
    draft token never comes back in an answer."""
    rid = next(iter(B_REQUESTS))
    number = "ABCDEFGHJK23"
    session.execute(
        update(ResidentRequest)
        .where(ResidentRequest.id == rid)
        .values(tracking_number=number, source="public")
    )
    session.commit()
    shown = anonymous.get(f"/api/v1/public/requests/{number}")
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    assert not [s for s in b_secrets() if s in text]
    assert RESIDENT_NAME not in text and f"1361234{rid:04d}" not in text
    assert set(shown.get_json()) == {
        "tracking_number",
        "category",
        "state",
        "created_at",
        "timeline",
        "photos",
        "may_rate",
        "answer",
    }
    ghost = anonymous.get("/api/v1/public/requests/ABCDEFGHJK24")
    wrong_photo = anonymous.get(f"/api/v1/public/requests/{number}/photos/AAAAAAAAAAAAAAAAAAAAAAAA")
    assert ghost.status_code == wrong_photo.status_code == 404
    assert ghost.mimetype == wrong_photo.mimetype == PROBLEM
    assert anonymous.get(f"/api/v1/requests/{rid}").status_code == 401
    assert login_as("grid_worker").get(f"/api/v1/requests/{rid}").status_code == 404
    shape_refused = anonymous.get("/api/v1/public/requests/abcdefghjk23")
    assert shape_refused.status_code == 400


def test_every_data_endpoint_is_in_the_matrix(app):
    adapter = app.url_map.bind("localhost")
    probed = set()
    for probe in PROBES:
        for method, url, *_ in (probe.inside, probe.outside):
            endpoint, _args = adapter.match(url.split("?")[0], method=method)
            probed.add(endpoint)
            assert probe.capability in _needed(app, endpoint), probe.name
    data = {r.endpoint for r in _rules(app) if _needed(app, r.endpoint) & DATA_CAPABILITIES}
    assert data - probed == set(NO_OBJECT_ENDPOINTS)


def test_every_review_endpoint_is_probed_or_unscoped(app):
    """The aggregates in scope (REVIEW) that come from the service map and later rooms: each
    is probed, or listed as holding nothing of any scope."""
    adapter = app.url_map.bind("localhost")
    probed = {
        adapter.match(url.split("?")[0], method=method)[0]
        for probe in PROBES
        for method, url, *_ in (probe.inside, probe.outside)
    }
    service = {
        r.endpoint
        for r in _rules(app)
        if REVIEW in _needed(app, r.endpoint)
        and r.endpoint.startswith(("service_map.", "web.service_map"))
    }
    assert service - probed == set(UNSCOPED_REVIEW_ENDPOINTS)


def test_an_undeclared_view_is_refused(app, login_as):
    app.add_url_rule("/api/v1/undeclared", "undeclared", lambda: {"secret": "13812340001"})
    app.add_url_rule("/undeclared-page", "undeclared_page", lambda: "13812340001")
    street = login_as("street_admin")
    assert street.get("/api/v1/undeclared").status_code == 403
    assert street.get("/undeclared-page").status_code == 403
    assert app.test_client().get("/api/v1/undeclared").status_code == 401


def _sample_url(rule: Rule) -> str:
    """A concrete URL for ``rule``: numbers for int arguments, A's code for the rest."""
    values = {}
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        values[name] = {"IntegerConverter": 1, "AnyConverter": "json"}.get(converter, A)
    built = rule.build(values, append_unknown=False)
    assert built is not None
    return built[1]


def _protected(app) -> list[tuple[str, str, str]]:
    return [
        (r.endpoint, method, _sample_url(r))
        for r in _rules(app)
        if not _is_public(app, r.endpoint)
        for method in sorted((r.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def test_without_login_the_api_answers_401_and_pages_redirect_to_login(app, anonymous, world):
    checked = 0
    for endpoint, method, url in _protected(app):
        response = anonymous.open(url, method=method, json={})
        text = response.get_data(as_text=True)
        assert not [s for s in b_secrets() if s in text], endpoint
        if url.startswith(("/api/", "/open311/")):
            expected = (401, _error_type(url))
            assert (response.status_code, response.mimetype) == expected, endpoint
        else:
            assert response.status_code == 302, endpoint
            assert response.location.startswith("/login?next="), endpoint
        checked += 1
    assert checked >= 20  # every protected route of the app, not a sample


@pytest.mark.parametrize("role", DATA_ROLES + ADMIN_ROLES)
def test_roles_lacking_the_capability_get_403_everywhere(app, login_as, role):
    client = login_as(role)
    refused = 0
    for endpoint, method, url in _protected(app):
        if _needed(app, endpoint) & (CAPABILITIES[role] | {SIGNED_IN}):
            continue
        response = client.open(url, method=method, json={})
        assert response.status_code == 403, (endpoint, method)
        if url.startswith("/api/"):
            assert response.mimetype == PROBLEM, endpoint
        text = response.get_data(as_text=True)
        assert not [s for s in b_secrets() + [p for v in A_PEOPLE.values() for p in v] if s in text]
        refused += 1
    assert refused >= 5


def test_out_of_scope_people_are_never_named(login_as):
    """The plain names and phones of B's people reach no one scoped to A, even via reveal."""
    client = login_as("street_admin")
    for pid, (name, phone) in B_PEOPLE.items():
        for field in ("name", "phone"):
            text = send(client, reveal_request("person", pid, field)).get_data(as_text=True)
            assert name not in text and phone not in text


def test_the_matrix_detects_a_caller_who_can_see_b(
    app,
    make_user,
    request_world,
    patrol_world,
    photo_world,
    building_world,
    service_world,
    onenet_world,
):
    """The checks above can fail: a county-wide street admin (scope 110101, which holds B) is
    caught by every probe."""
    county = client_for(app, make_user("street_admin", A[:6]))
    missed = [p.name for p in PROBES if not _outside_failures("street_admin", p, county)]
    assert missed == []
