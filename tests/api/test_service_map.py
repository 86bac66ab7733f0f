"""The service map's API: sites, circles, candidates and gaps in scope; uploads refused before
any job when they are wrong (problem+json, nothing written)."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.core.settings import Settings
from gridmap.services import circles
from gridmap.storage.models import Job, JobUpload
from tests.conftest import COMMUNITY, MakeUser, client_for
from tests.helpers import assert_problem
from tests.services.network_fixture import add_households, add_site, load_network

GEOJSON = "application/geo+json"


def _river_world(session: Session, settings: Settings) -> None:
    load_network(session, bridge=True)
    add_households(session, ["H1", "H2", "H3", "H4", "H5", "H6"])
    add_site(session, "A-1", 0, 0, kind="centre_community")
    circles.refresh(session, settings)
    session.commit()


def _as(app, make_user: MakeUser, role: str, scope: str | None = COMMUNITY) -> FlaskClient:
    return client_for(app, make_user(role, scope))


def test_a_chief_reads_sites_circles_candidates_and_gaps(
    app, session: Session, settings: Settings, small_grid: object, make_user: MakeUser
) -> None:
    _river_world(session, settings)
    chief = _as(app, make_user, "chief")
    sites = chief.get("/api/v1/service-sites?kind=centre_community")
    assert sites.mimetype == GEOJSON
    [site] = sites.get_json()["features"]
    assert site["id"] == "A-1" and site["properties"]["kind"] == "centre_community"
    circles_answer = chief.get("/api/v1/service-map/isochrones").get_json()["features"]
    assert [f["properties"]["minutes"] for f in circles_answer] == [15, 10, 5]
    candidates = chief.get("/api/v1/service-map/candidates").get_json()["features"]
    assert [c["properties"]["households"] for c in candidates] == [2, 1]
    gaps = chief.get("/api/v1/service-map/gaps").get_json()
    assert gaps["communities"][0]["uncovered"] == 3
    assert {r["code"][-5:]: r["uncovered"] for r in gaps["rows"]} == {
        "01001": 1,
        "01002": 0,
        "02002": 2,
    }
    gap_map = chief.get(f"/api/v1/service-map/gap-map?grid={COMMUNITY}02").get_json()
    assert [(f["id"][-5:], f["properties"]["share"]) for f in gap_map["features"]] == [
        ("02002", 1.0)
    ]
    state = chief.get("/api/v1/service-map").get_json()
    assert state["stale"] is False and state["minutes"] == [5, 10, 15]
    assert (state["edges"], state["components"]) == (44, 1)


def test_another_communitys_chief_sees_no_gap_nor_candidate_here(
    app, session: Session, settings: Settings, small_grid: object, make_user: MakeUser
) -> None:
    _river_world(session, settings)
    other = _as(app, make_user, "chief", "110101002003")
    assert other.get("/api/v1/service-map/gaps").get_json() == {"rows": [], "communities": []}
    assert other.get("/api/v1/service-map/candidates").get_json()["features"] == []
    assert other.get(f"/api/v1/service-map/gaps?grid={COMMUNITY}").get_json()["rows"] == []


def test_roles_without_review_are_refused(app, make_user: MakeUser) -> None:
    worker = _as(app, make_user, "grid_worker", COMMUNITY + "01001")
    assert_problem(worker.get("/api/v1/service-map/gaps"), 403)
    assert_problem(worker.get("/api/v1/service-sites"), 403)


def test_bad_queries_are_400_problems(app, make_user: MakeUser) -> None:
    chief = _as(app, make_user, "chief")
    assert_problem(chief.get("/api/v1/service-sites?kind=shop"), 400)
    assert_problem(chief.get("/api/v1/service-sites?bbox=116.5,39.9,116.4,39.8"), 400)
    assert_problem(chief.get("/api/v1/service-map/gaps?grid=12ab"), 400)


def _upload(client: FlaskClient, **fields: str) -> Any:
    empty = io.BytesIO(b'{"type": "FeatureCollection", "features": []}')
    data: dict[str, Any] = {"file": (empty, "s.geojson"), "crs": "EPSG:4490", "what": "sites"}
    return client.post(
        "/api/v1/service-imports", data=data | fields, content_type="multipart/form-data"
    )


def test_bad_uploads_are_refused_before_any_job(app, session: Session, make_user: MakeUser) -> None:
    street = _as(app, make_user, "street_admin", COMMUNITY[:9])
    before = session.scalar(select(func.count()).select_from(Job))
    assert_problem(_upload(street, what="roads"), 400)
    assert_problem(_upload(street, replace="maybe"), 400)
    assert_problem(_upload(street, crs="EPSG:9999"), 400)
    # The network and a replacement of every site are the whole district's.
    assert_problem(_upload(street, what="network"), 403)
    assert_problem(_upload(street, replace="true"), 403)
    assert_problem(_upload(_as(app, make_user, "chief"), what="sites"), 403)
    assert session.scalar(select(func.count()).select_from(Job)) == before
    assert session.scalar(select(func.count()).select_from(JobUpload)) == 0
    accepted = _upload(street)
    assert accepted.status_code == 202, accepted.get_json()
