"""The service map's uploads with a real worker: the walking network (system administrator)
and service sites (a street administrator, inside the street) are imported by jobs, each of
which queues the refresh of the walking circles; a bad file fails its job and writes nothing.

The network is the river grid of ``tests.services.network_fixture``; the jobs database holds
five households: three at (116.405, 39.907), 575 m from site A at the network's south-west
corner (400 m to the node (200, 200), 141.6 m along the street, 33.5 m to the door), and two at
(116.405, 39.915), 255 m north of the last street: not reached.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import shapely
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.jobs.conftest import JobsDatabase, wait_for_job
from tests.services.network_fixture import lonlat, streets

pytestmark = pytest.mark.usefixtures("worker")
Api = Callable[[str], FlaskClient]


def _geojson(features: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _network() -> bytes:
    lines = streets(bridge=True)
    return _geojson(
        [
            {"type": "Feature", "geometry": shapely.geometry.mapping(line), "properties": {}}
            for line in lines
        ]
    )


def _sites(*sites: tuple[str, float, float]) -> bytes:
    return _geojson(
        [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"编码": code, "名称": f"{code}服务站", "类型": "党群服务站"},
            }
            for code, lon, lat in sites
        ]
    )


def _run(client: FlaskClient, what: str, content: bytes, name: str) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/service-imports",
        data={"file": (io.BytesIO(content), name), "crs": "EPSG:4490", "what": what},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 202, answer.get_json()
    return wait_for_job(client, answer.get_json()["id"])


def _scalar(db: JobsDatabase, sql: str) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


@pytest.fixture
def clean_service_map(jobs_db: JobsDatabase) -> Iterator[None]:
    yield
    with jobs_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM service_site"))
        conn.execute(text("DELETE FROM service_reach"))
        conn.execute(text("DELETE FROM service_candidate"))
        conn.execute(text("DELETE FROM walk_edge"))
        conn.execute(text("DELETE FROM walk_node"))


@pytest.mark.usefixtures("clean_service_map")
def test_network_and_sites_are_imported_and_the_circles_follow(
    api_as: Api, jobs_db: JobsDatabase
) -> None:
    sysadmin, street = api_as("sysadmin"), api_as("street")
    done = _run(sysadmin, "network", _network(), "roads.geojson")
    assert done["state"] == "succeeded", done
    assert (done["result"]["edges"], done["result"]["components"]) == (44, 1)
    assert wait_for_job(sysadmin, done["result"]["refresh_job"])["state"] == "succeeded"

    done = _run(street, "sites", _sites(("A", *lonlat(0, 0))), "sites.geojson")
    assert done["state"] == "succeeded", done
    assert wait_for_job(street, done["result"]["refresh_job"])["state"] == "succeeded"
    assert _scalar(jobs_db, "SELECT count(*) FROM service_isochrone") == 3
    walks = _scalar(jobs_db, "SELECT array_agg(round(walk_m) ORDER BY walk_m) FROM service_reach")
    assert walks == [575, 575, 575, None, None]
    assert street.get("/api/v1/service-map").get_json()["stale"] is False

    outside = _run(street, "sites", _sites(("B", 116.445, 39.915)), "b.geojson")
    assert outside["state"] == "failed" and "管辖范围" in outside["error"]["detail"]
    assert _scalar(jobs_db, "SELECT count(*) FROM service_site WHERE code = 'B'") == 0

    points = _sites(("X", 116.41, 39.91))
    broken = _run(sysadmin, "network", points, "points.geojson")
    assert broken["state"] == "failed" and "线" in broken["error"]["detail"]
    assert _scalar(jobs_db, "SELECT count(*) FROM walk_edge") == 44
