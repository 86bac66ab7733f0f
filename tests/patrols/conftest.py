"""Fixtures of the patrol tests: the small grid staffed for patrols, the work lists, clients,
and hand-made tracks whose answers are known (distances measured with pyproj on GRS80, the
ellipsoid of CGCS2000)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI
from pyproj import Geod
from sqlalchemy.orm import Session

from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.grid import ingest
from gridmap.patrols import service as patrols
from tests.conftest import COMMUNITY, ClientFor, MakeUser, client_for
from tests.helpers import households_csv
from tests.security.conftest import B, b_grid_frame

GEOD = Geod(ellps="GRS80")
MICRO = COMMUNITY + "01001"
#: Household 1 (elderly, alone) in micro-grid 01001, covered by member 4; the tracks below
#: run past it.
HOME = (116.405, 39.915)
#: person id → (name, phone, kind); 3 is the worker of 01001, 5 of 02002, 1 the chief.
PEOPLE = {
    1: ("王总", "13800000001", "party_member"),
    3: ("张员", "13800000003", "grid_worker"),
    4: ("赵党", "13800000004", "party_member"),
    5: ("钱员", "13800000005", "grid_worker"),
    12: ("孙员", "13800000012", "grid_worker"),
}


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point ``metres`` due north of ``point`` on the ellipsoid."""
    lon, lat, _ = GEOD.fwd(point[0], point[1], 0.0, metres)
    return float(lon), float(lat)


def walk(
    start: tuple[float, float],
    end: tuple[float, float],
    n: int,
    t0: dt.datetime,
    step_s: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` fixes evenly along a straight line, ``step_s`` seconds apart from ``t0``."""
    f = np.linspace(0.0, 1.0, n)
    lon = start[0] + f * (end[0] - start[0])
    lat = start[1] + f * (end[1] - start[1])
    return lon, lat, t0.timestamp() + np.arange(n) * step_s


def past_home(metres: float, t0: dt.datetime, n: int = 61) -> tuple[Any, Any, Any]:
    """A 340 m walk west to east passing ``metres`` north of HOME at its middle fix."""
    lon, lat = north_of(HOME, metres)
    return walk((lon - 0.002, lat), (lon + 0.002, lat), n, t0)


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(float(seconds), dt.UTC).isoformat().replace("+00:00", "Z")


def gpx_of(lon: Any, lat: Any, t: Any, segments: int = 1) -> bytes:
    """A GPX 1.1 file of one track, split into ``segments`` segments."""
    points = [
        f'<trkpt lat="{y!r}" lon="{x!r}"><time>{iso(s)}</time></trkpt>'
        for x, y, s in zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), t, strict=True)
    ]
    cut = np.array_split(np.arange(len(points)), segments)
    body = "".join(
        "<trkseg>" + "".join(points[i] for i in part) + "</trkseg>" for part in cut if len(part)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="gridmap tests" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>巡查</name>{body}</trk></gpx>"
    ).encode()


def geojson_of(lon: Any, lat: Any, t: Any) -> bytes:
    """A GeoJSON LineString Feature with ``properties.times``."""
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[x, y] for x, y in zip(np.asarray(lon), np.asarray(lat), strict=True)],
        },
        "properties": {"times": [iso(s) for s in t]},
    }
    return json.dumps(feature, default=float).encode()


def fixes(lon: Any, lat: Any, t: Any, first_seq: int = 0) -> list[dict[str, Any]]:
    """Fixes as a phone posts them."""
    return [
        {"seq": first_seq + i, "t": iso(s), "lon": float(x), "lat": float(y)}
        for i, (x, y, s) in enumerate(zip(lon, lat, t, strict=True))
    ]


def _households() -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {"id": 1, "lon": HOME[0], "lat": HOME[1], "address": "测试社区1号楼101"},
        {"id": 2, "lon": 116.405, "lat": 39.9185, "address": "测试社区2号楼202"},
        {"id": 3, "lon": 116.415, "lat": 39.905, "address": "测试社区3号楼303"},
        {"id": 11, "lon": 116.445, "lat": 39.915, "address": "乙社区7号楼702"},
    ]
    tags = {1: "elderly_alone", 3: "disabled"}
    return households_csv([r | {"care_tags": tags.get(r["id"], "")} for r in rows])


@pytest.fixture
def patrol_world(session: Session, settings: Settings, small_grid: gpd.GeoDataFrame) -> None:
    """Community A (the small grid) and B; households 1, 2 in 01001, 3 in 02002, 11 in B;
    chief 1 of A, worker 3 of 01001, worker 5 of 02002, member 4 covering household 1,
    worker 12 of B's 01001; the standard work lists and the demo's special list."""
    ingest.import_grids(session, b_grid_frame(), "EPSG:4490", settings)
    ingest.import_households(session, _households(), "EPSG:4326")
    ingest.import_people(
        session,
        pd.DataFrame(
            [
                [str(pid), name, phone, kind, B if pid > 10 else COMMUNITY]
                for pid, (name, phone, kind) in PEOPLE.items()
            ],
            columns=["id", "name", "phone", "kind", "home_community_code"],
        ),
    )
    posts = [
        ["1", COMMUNITY, "chief"],
        ["3", MICRO, "grid_worker"],
        ["5", COMMUNITY + "02002", "grid_worker"],
        ["12", B + "01001", "grid_worker"],
    ]
    # Posts held since last week: a track from before Beijing midnight still falls in them.
    since = (clock.today() - dt.timedelta(days=7)).isoformat()
    ingest.import_assignments(
        session,
        pd.DataFrame(
            [[*post, since] for post in posts],
            columns=["person_id", "grid_code", "role", "start_date"],
        ),
    )
    ingest.import_coverage(
        session, pd.DataFrame([["4", "1"]], columns=["person_id", "household_id"])
    )
    patrols.seed_work_lists(session)
    session.commit()


@pytest.fixture
def clients(app: OpenAPI, make_user: MakeUser, patrol_world: None) -> ClientFor:
    """Bearer-token clients by name: worker (3), worker_02002 (5), chief, member (4),
    worker_b (12, community B), street (street administrator of A's street)."""
    scopes: dict[str, tuple[str, dict[str, Any]]] = {
        "worker": ("grid_worker", {"scope_code": MICRO, "person_id": 3}),
        "worker_02002": ("grid_worker", {"scope_code": COMMUNITY + "02002", "person_id": 5}),
        "chief": ("chief", {"scope_code": COMMUNITY}),
        "member": ("member", {"person_id": 4}),
        "worker_b": ("grid_worker", {"scope_code": B + "01001", "person_id": 12}),
        "street": ("street_admin", {"scope_code": COMMUNITY[:9]}),
    }
    made: dict[str, FlaskClient] = {}

    def client(name: str) -> FlaskClient:
        if name not in made:
            role, scope = scopes[name]
            made[name] = client_for(app, make_user(role, **scope))
        return made[name]

    return client


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
