"""Coverage by patrols, computed in PostGIS, on hand-made tracks with known answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select

from gridmap.spatial.crs import wgs84_to_gcj02
from gridmap.storage import patrols as store
from gridmap.storage.models import Patrol, PatrolReach
from tests.patrols.conftest import HOME, fixes, geojson_of, gpx_of, north_of, now, past_home, walk


def upload(client, data: bytes, kind: str = "application/geo+json", **query):
    args = "&".join(f"{k}={v}" for k, v in ({"work_list": "daily_patrol"} | query).items())
    return client.post(f"/api/v1/patrols/upload?{args}", data=data, content_type=kind)


def uploaded(client, data: bytes, **query) -> int:
    response = upload(client, data, **query)
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.get_json()["id"])


def reached(session, patrol_id: int) -> dict[int, PatrolReach]:
    session.expire_all()
    rows = session.scalars(select(PatrolReach).where(PatrolReach.patrol_id == patrol_id))
    return {r.household_id: r for r in rows}


@pytest.mark.parametrize(
    ("metres_off", "at_20", "at_30"),
    [(10.0, True, True), (25.0, False, True), (35.0, False, False)],
)
def test_pass_by_distance_decides(clients, session, metres_off, at_20, at_30):
    t0 = now() - dt.timedelta(hours=1)
    lon, lat, t = past_home(metres_off, t0)
    patrol_id = uploaded(clients("worker"), geojson_of(lon, lat, t))
    found = reached(session, patrol_id)  # computed with the default, 30 m
    assert (1 in found) is at_30
    if at_30:
        assert found[1].how == "pass_by"
        assert found[1].distance_m == pytest.approx(metres_off, abs=0.05)
        # The walk is closest to HOME at its middle fix: the pass is timed there.
        assert found[1].at.timestamp() == pytest.approx(t[30], abs=0.5)
    store.refresh_reach(session, [patrol_id], 20.0)
    assert (1 in reached(session, patrol_id)) is at_20
    store.refresh_reach(session, [patrol_id], 30.0)
    assert (1 in reached(session, patrol_id)) is at_30
    assert 2 not in found and 3 not in found  # 390 m north, and another micro-grid


def test_check_in_reaches_a_household_the_track_never_passed(clients, session):
    worker = clients("worker")
    start = worker.post("/api/v1/patrols", json={"work_list": "weekly_visit"})
    assert start.status_code == 201, start.get_data(as_text=True)
    patrol_id = start.get_json()["id"]
    lon, lat, t = past_home(10.0, now() - dt.timedelta(minutes=5), n=31)
    t = t - t[-1] + now().timestamp() - 1  # fixes up to a second ago
    worker.post(f"/api/v1/patrols/{patrol_id}/points", json={"points": fixes(lon, lat, t)})
    near_2 = north_of((116.405, 39.9185), 8.0)
    checked = worker.post(
        f"/api/v1/patrols/{patrol_id}/checkins",
        json={
            "household_id": 2,
            "location": {"lon": near_2[0], "lat": near_2[1], "crs": "EPSG:4326"},
            "note": "老人在家，身体良好，电话13912345678",
        },
    )
    assert checked.status_code == 201, checked.get_data(as_text=True)
    assert checked.get_json()["distance_m"] == pytest.approx(8.0, abs=0.05)
    found = reached(session, patrol_id)
    assert found[2].how == "check_in" and 1 not in found  # at once, before the end
    ended = worker.post(f"/api/v1/patrols/{patrol_id}/end", json={})
    assert ended.status_code == 200, ended.get_data(as_text=True)
    found = reached(session, patrol_id)
    assert {h: r.how for h, r in found.items()} == {1: "pass_by", 2: "check_in"}
    assert found[1].distance_m == pytest.approx(10.0, abs=0.05)


def test_a_check_in_wins_over_a_pass_by_of_the_same_household(clients, session):
    worker = clients("worker")
    patrol_id = worker.post("/api/v1/patrols", json={"work_list": "weekly_visit"}).get_json()["id"]
    lon, lat, t = past_home(10.0, now() - dt.timedelta(minutes=5), n=31)
    t = t - t[-1] + now().timestamp() - 1
    worker.post(f"/api/v1/patrols/{patrol_id}/points", json={"points": fixes(lon, lat, t)})
    worker.post(f"/api/v1/patrols/{patrol_id}/checkins", json={"household_id": 1})
    worker.post(f"/api/v1/patrols/{patrol_id}/end", json={})
    found = reached(session, patrol_id)
    assert found[1].how == "check_in" and found[1].distance_m is None  # no position given


def test_a_jump_does_not_cover_the_line_never_walked(clients, session):
    """West of HOME, then (after the phone lost its fix) east of it: the straight line
    between the two parts would pass right over HOME, which nobody visited."""
    t0 = now() - dt.timedelta(hours=1)
    west = walk((HOME[0] - 0.004, HOME[1]), (HOME[0] - 0.0025, HOME[1]), 30, t0)
    east = walk(
        (HOME[0] + 0.0025, HOME[1]), (HOME[0] + 0.004, HOME[1]), 30, t0 + dt.timedelta(seconds=150)
    )
    lon, lat, t = (np.r_[a, b] for a, b in zip(west, east, strict=True))
    patrol_id = uploaded(clients("worker"), gpx_of(lon, lat, t), kind="application/gpx+xml")
    assert 1 not in reached(session, patrol_id)
    patrol = session.get(Patrol, patrol_id)
    assert patrol.track_report["parts"] == 2 and patrol.track_report["breaks"]


def test_a_gcj02_track_is_converted_before_coverage(clients, session):
    t0 = now() - dt.timedelta(hours=2)
    lon, lat, t = past_home(10.0, t0)
    gx, gy = wgs84_to_gcj02(lon, lat)
    right = uploaded(clients("worker"), geojson_of(gx, gy, t), crs="GCJ02")
    assert reached(session, right)[1].distance_m == pytest.approx(10.0, abs=0.1)
    t_later = t + 3600  # another patrol, declared wrongly: 570 m off, it reaches nothing
    wrong = uploaded(clients("worker"), geojson_of(gx, gy, t_later), crs="EPSG:4326")
    assert reached(session, wrong) == {}


def test_reach_of_many_patrols_at_once(clients, session):
    """The function the benchmark times: several patrols recomputed in one statement."""
    ids = []
    for k, metres in enumerate((5.0, 15.0, 45.0)):
        lon, lat, t = past_home(metres, now() - dt.timedelta(hours=3 - k))
        ids.append(uploaded(clients("worker"), geojson_of(lon, lat, t)))
    store.refresh_reach(session, ids, 30.0)
    assert [1 in reached(session, i) for i in ids] == [True, True, False]
