"""The patrol API: a live patrol from a phone (idempotent fixes, check-ins), uploads, replay,
a household's visits, work lists, overdue duties, refusals and scope."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import func, select, text

from gridmap.spatial.crs import wgs84_to_gcj02
from gridmap.storage.models import AuditEntry, Patrol, PatrolCheckIn, PatrolPoint
from tests.conftest import COMMUNITY
from tests.helpers import assert_problem, clock_at
from tests.patrols.conftest import (
    HOME,
    MICRO,
    fixes,
    geojson_of,
    gpx_of,
    now,
    past_home,
)
from tests.patrols.test_coverage import upload, uploaded

POINTS = "/api/v1/patrols/{}/points"
#: 9999-12-31T23:59:59Z as UNIX seconds.
YEAR_9999 = 253402300799.0


def start(client, work_list: str = "daily_patrol", **body) -> int:
    response = client.post("/api/v1/patrols", json={"work_list": work_list} | body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/api/v1/patrols/{response.get_json()['id']}"
    return int(response.get_json()["id"])


def recent_walk(metres: float = 10.0, n: int = 31):
    """A walk past HOME whose last fix was a second ago."""
    lon, lat, t = past_home(metres, now() - dt.timedelta(minutes=5), n=n)
    return lon, lat, t - t[-1] + now().timestamp() - 1


def count(session, model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return int(session.scalar(stmt) or 0)


# ----------------------------------------------------------------------------- live patrol


def test_a_live_patrol_from_start_to_replay(clients, session):
    worker = clients("worker")
    patrol_id = start(worker, "weekly_visit")
    lon, lat, t = recent_walk()
    batch = {"points": fixes(lon, lat, t)}
    first = worker.post(POINTS.format(patrol_id), json=batch)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json() | {} == {
        "patrol_id": patrol_id,
        "received": 31,
        "stored": 31,
        "duplicates": 0,
        "points": 31,
    }
    again = worker.post(POINTS.format(patrol_id), json=batch).get_json()
    assert (again["stored"], again["duplicates"], again["points"]) == (0, 31, 31)
    checked = worker.post(
        f"/api/v1/patrols/{patrol_id}/checkins",
        json={
            "household_id": 1,
            "note": "独居老人，电话13912345678",
            "photo": "https://x.cn/1.jpg",
        },
    )
    assert checked.status_code == 201, checked.get_data(as_text=True)
    live = worker.get(f"/api/v1/patrols/{patrol_id}").get_json()
    assert live["properties"]["state"] == "running"
    assert len(live["features"][0]["geometry"]["coordinates"][0]) == 31  # cleaned on the fly
    ended = worker.post(f"/api/v1/patrols/{patrol_id}/end", json={})
    assert ended.status_code == 200, ended.get_data(as_text=True)
    summary = ended.get_json()
    assert summary["state"] == "ended" and summary["report"]["points_kept"] == 31
    assert summary["grid_code"] == MICRO and summary["length_m"] == pytest.approx(340, abs=5)
    replay = worker.get(f"/api/v1/patrols/{patrol_id}")
    assert replay.status_code == 200 and replay.mimetype == "application/geo+json"
    body = replay.get_json()
    track, *others = body["features"]
    assert track["geometry"]["type"] == "MultiLineString"
    assert len(track["properties"]["times"][0]) == 31
    assert track["properties"]["times"][0][0] == pytest.approx(t[0], abs=0.01)
    kinds = {f["properties"]["kind"]: f for f in others}
    assert kinds["check_in"]["properties"]["note"] == "独居老人，电话139****5678"
    assert kinds["reached"]["properties"]["how"] == "check_in"
    assert body["properties"]["person"] == {"id": 3, "name": "张员"}  # staff read staff names
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "patrol").order_by(AuditEntry.id)
    ).all()
    # The patrol is audited, not each batch of fixes (one every few seconds).
    assert actions == ["patrol.start", "patrol.check_in", "patrol.end"]


def test_a_retried_batch_with_its_key_replays_the_first_answer(clients, session):
    worker = clients("worker")
    patrol_id = start(worker)
    lon, lat, t = recent_walk()
    headers = {"Idempotency-Key": "batch-0001"}
    batch = {"points": fixes(lon, lat, t)[:10]}
    first = worker.post(POINTS.format(patrol_id), json=batch, headers=headers)
    retry = worker.post(POINTS.format(patrol_id), json=batch, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_data() == first.get_data()
    assert count(session, PatrolPoint, patrol_id=patrol_id) == 10
    other = {"points": fixes(lon, lat, t)[10:]}
    reused = worker.post(POINTS.format(patrol_id), json=other, headers=headers)
    assert_problem(reused, 422, "different request body")
    overlapping = {"points": fixes(lon, lat, t)[5:20]}  # a phone resending part of a batch
    assert worker.post(POINTS.format(patrol_id), json=overlapping).get_json()["stored"] == 10
    assert count(session, PatrolPoint, patrol_id=patrol_id) == 20


def test_gcj02_fixes_are_stored_converted(clients, session):
    worker = clients("worker")
    patrol_id = start(worker, crs="GCJ02")
    lon, lat, t = recent_walk()
    gx, gy = wgs84_to_gcj02(lon, lat)
    worker.post(POINTS.format(patrol_id), json={"points": fixes(gx, gy, t)})
    worker.post(f"/api/v1/patrols/{patrol_id}/end", json={})
    coords = worker.get(f"/api/v1/patrols/{patrol_id}").get_json()["features"][0]["geometry"]
    got = np.array(coords["coordinates"][0])
    np.testing.assert_allclose(got[:, 0], lon, atol=1e-7)
    np.testing.assert_allclose(got[:, 1], lat, atol=1e-7)
    assert session.get(Patrol, patrol_id).source_crs == "gcj02"


def test_one_running_patrol_per_worker_and_no_writes_after_the_end(clients):
    worker = clients("worker")
    patrol_id = start(worker)
    assert_problem(worker.post("/api/v1/patrols", json={"work_list": "daily_patrol"}), 409)
    lon, lat, t = recent_walk()
    worker.post(POINTS.format(patrol_id), json={"points": fixes(lon, lat, t)})
    assert worker.post(f"/api/v1/patrols/{patrol_id}/end", json={}).status_code == 200
    assert_problem(worker.post(f"/api/v1/patrols/{patrol_id}/end", json={}), 409, "ended")
    late = worker.post(POINTS.format(patrol_id), json={"points": fixes(lon, lat, t)})
    assert_problem(late, 409, "ended")
    assert start(worker) != patrol_id  # a new one may begin


def test_a_patrol_without_usable_fixes_ends_without_a_track(clients, session):
    worker = clients("worker")
    patrol_id = start(worker)
    ended = worker.post(f"/api/v1/patrols/{patrol_id}/end", json={})
    assert ended.status_code == 200 and ended.get_json()["report"]["points_in"] == 0
    assert session.get(Patrol, patrol_id).track is None
    replay = worker.get(f"/api/v1/patrols/{patrol_id}").get_json()
    assert replay["features"][0]["geometry"] is None


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (lambda p: p[0] | {"lon": 2.35, "lat": 48.85}, 400, "point 0"),
        (lambda p: p[0] | {"lon": 39.9, "lat": 116.4}, 400, "swapped"),
        (lambda p: p[0] | {"t": "2020-01-01T00:00:00Z"}, 400, "before the patrol began"),
        (lambda p: p[0] | {"t": "2020-01-01T00:00:00"}, 400, "timezone"),
        (lambda p: p[0] | {"seq": -1}, 400, "seq"),
        (lambda p: p[0] | {"lon": "116.4"}, 400, "lon"),
        (lambda p: p[0] | {"accuracy_m": -3}, 400, "accuracy_m"),
    ],
)
def test_bad_fixes_are_refused_and_nothing_is_stored(clients, session, change, status, words):
    worker = clients("worker")
    patrol_id = start(worker)
    lon, lat, t = recent_walk(n=3)
    points = fixes(lon, lat, t)
    response = worker.post(POINTS.format(patrol_id), json={"points": [change(points), *points[1:]]})
    body = assert_problem(response, status)
    assert words in json.dumps(body, ensure_ascii=False)
    assert count(session, PatrolPoint, patrol_id=patrol_id) == 0


def test_check_in_refusals(clients):
    worker = clients("worker")
    patrol_id = start(worker, "weekly_visit")
    checkins = f"/api/v1/patrols/{patrol_id}/checkins"
    assert_problem(worker.post(checkins, json={"household_id": 11}), 404)  # B's household
    assert_problem(worker.post(checkins, json={"household_id": 999_999}), 404)
    far = {"household_id": 1, "location": {"lon": 2.35, "lat": 48.85}}
    assert_problem(worker.post(checkins, json=far), 400, "outside China")
    old = {"household_id": 1, "at": "2020-01-01T08:00:00+08:00"}
    assert_problem(worker.post(checkins, json=old), 400, "before the patrol began")
    assert_problem(worker.post(checkins, json={"household_id": 1, "note": ""}), 400)


def test_only_a_worker_records_and_only_their_own(clients, session):
    assert_problem(clients("member").post("/api/v1/patrols", json={"work_list": "x1"}), 403)
    chief = clients("chief")  # an account without a person
    assert_problem(
        chief.post("/api/v1/patrols", json={"work_list": "daily_patrol"}), 422, "not linked"
    )
    patrol_id = start(clients("worker"))
    lon, lat, t = recent_walk(n=3)
    batch = {"points": fixes(lon, lat, t)}
    assert_problem(chief.post(POINTS.format(patrol_id), json=batch), 403, "Only the worker")
    assert_problem(clients("worker_b").post(POINTS.format(patrol_id), json=batch), 404)
    assert_problem(clients("worker").post(POINTS.format(999_999), json=batch), 404)
    unknown = clients("worker_02002").post("/api/v1/patrols", json={"work_list": "no-such"})
    assert_problem(unknown, 422, "daily_patrol")
    elsewhere = {"work_list": "daily_patrol", "grid": "110101002003"}
    assert_problem(clients("worker_02002").post("/api/v1/patrols", json=elsewhere), 404)
    assert count(session, PatrolPoint) == 0 and count(session, PatrolCheckIn) == 0


# --------------------------------------------------------------------------------- uploads


def test_gpx_upload_as_a_multipart_file(clients, session):
    lon, lat, t = past_home(10.0, now() - dt.timedelta(hours=2))
    response = clients("worker").post(
        "/api/v1/patrols/upload?work_list=daily_patrol",
        data={"file": (__import__("io").BytesIO(gpx_of(lon, lat, t, 2)), "track.gpx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    summary = response.get_json()
    assert summary["source"] == "upload" and summary["grid_code"] == MICRO
    assert summary["started_at"] == dt.datetime.fromtimestamp(t[0], dt.UTC).isoformat()
    assert summary["report"]["points_kept"] == 61
    visits = clients("chief").get("/api/v1/households/1/visits").get_json()["visits"]
    assert visits[0]["patrol_id"] == summary["id"] and visits[0]["how"] == "pass_by"
    assert visits[0]["person"] == {"id": 3, "name": "张员"}
    assert visits[0]["distance_m"] == pytest.approx(10.0, abs=0.1)


def test_geojson_upload_in_the_body_and_the_same_file_again(clients):
    lon, lat, t = past_home(10.0, now() - dt.timedelta(hours=2))
    data = geojson_of(lon, lat, t)
    worker = clients("worker")
    first = uploaded(worker, data)
    again = upload(worker, data)
    assert_problem(again, 409, f"patrol {first}")
    keyed = worker.post(
        "/api/v1/patrols/upload?work_list=daily_patrol",
        data=data,
        content_type="application/geo+json",
        headers={"Idempotency-Key": "upload-1"},
    )
    assert keyed.status_code == 409  # refused answers are not stored: the key stays free


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda lon, lat, t: b"", 400, "send the track"),
        (lambda lon, lat, t: b"<gpx><trk><trkseg></trkseg></trk></gpx>", 400, "no points"),
        (lambda lon, lat, t: b"<gpx><trk><trkseg><trkpt", 400, "not a readable GPX"),
        (lambda lon, lat, t: gpx_of(lon * 0 + 2.35, lat * 0 + 48.85, t), 400, "point 0"),
        (lambda lon, lat, t: gpx_of(lon * 0 + HOME[0], lat * 0 + HOME[1], t), 400, "no usable"),
        (
            lambda lon, lat, t: geojson_of(lon, lat, t).replace(b"116.403", b"NaN", 1),
            400,
            "point 0: coordinate is not a finite number",
        ),
        (lambda lon, lat, t: b'{"type": "Feature"}', 400, "geometry"),
        # Year 9999 (a device's "never" date): past pandas' nanosecond range, a 500 before.
        (lambda lon, lat, t: geojson_of(lon, lat, t * 0 + YEAR_9999), 400, "point 0: time 9999"),
        (lambda lon, lat, t: gpx_of(lon, lat, t * 0 + YEAR_9999), 400, "point 0: time 9999"),
        (lambda lon, lat, t: b"GIF89a", 400, "neither GPX"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_4xx(clients, session, make, status, words):
    lon, lat, t = past_home(10.0, now() - dt.timedelta(hours=2))
    response = upload(clients("worker"), make(lon, lat, t), kind="application/octet-stream")
    body = assert_problem(response, status)
    assert words in body["detail"]
    assert count(session, Patrol) == 0


def test_messy_uploads_are_cleaned_with_a_report(clients):
    lon, lat, t = past_home(10.0, now() - dt.timedelta(hours=2))
    lon = lon.copy()
    lon[20] += 0.05  # a teleport
    order = np.r_[0:10, 30:40, 10:30, 40:61]  # segments merged out of order
    data = gpx_of(lon[order], lat[order], t[order])
    report = upload(clients("worker"), data, kind="application/gpx+xml").get_json()["report"]
    assert report["reordered"] == 20
    assert report["dropped"]["teleport"] == 1 and report["dropped_points"]["teleport"] == [30]
    assert report["points_kept"] == 60 and report["parts"] == 1


def test_upload_refusals_by_role_and_grid(clients):
    lon, lat, t = past_home(10.0, now() - dt.timedelta(hours=2))
    data = geojson_of(lon, lat, t)
    assert_problem(upload(clients("member"), data), 403)
    assert_problem(upload(clients("street"), data), 422, "not linked")
    assert_problem(upload(clients("worker"), data, grid="110101002003"), 404)
    assert_problem(upload(clients("worker"), data, crs="EPSG:3857"), 400, "unsupported")


# ------------------------------------------------------------------------------- reading


def test_scope_of_a_patrol(clients):
    patrol_id = uploaded(clients("worker"), geojson_of(*past_home(10.0, now())))
    url = f"/api/v1/patrols/{patrol_id}"
    for name in ("worker", "chief", "street", "member"):  # the member's household was reached
        assert clients(name).get(url).status_code == 200, name
    outside = clients("worker_b").get(url)
    ghost = clients("worker_b").get("/api/v1/patrols/999999")
    assert_problem(outside, 404)
    assert outside.get_json()["detail"].replace(str(patrol_id), "#") == ghost.get_json()[
        "detail"
    ].replace("999999", "#")
    assert_problem(clients("worker_02002").get(url), 404)  # another micro-grid, nothing reached
    assert_problem(clients("worker_b").get("/api/v1/households/1/visits"), 404)
    listed = clients("worker_b").get("/api/v1/patrols").get_json()
    assert listed["features"] == []
    mine = clients("chief").get(f"/api/v1/patrols?grid={MICRO}").get_json()["features"]
    assert [f["id"] for f in mine] == [patrol_id]
    assert mine[0]["geometry"]["type"] == "MultiLineString"


def test_patrols_of_a_day_and_person(clients):
    # A day apart, so on two Beijing dates whatever the hour the test runs at.
    within_the_hour = now() - dt.timedelta(hours=1)
    yesterday = within_the_hour - dt.timedelta(days=1)
    old = uploaded(clients("worker"), geojson_of(*past_home(10.0, yesterday)))
    new = uploaded(clients("worker"), geojson_of(*past_home(10.0, within_the_hour)))
    chief = clients("chief")
    day = (yesterday + dt.timedelta(hours=8)).date().isoformat()
    assert [f["id"] for f in chief.get(f"/api/v1/patrols?date={day}").get_json()["features"]] == [
        old
    ]
    assert [f["id"] for f in chief.get("/api/v1/patrols?person_id=3").get_json()["features"]] == [
        new,
        old,
    ]
    paged = chief.get("/api/v1/patrols?limit=1").get_json()
    assert paged["next"] == str(new) and [f["id"] for f in paged["features"]] == [new]


# ------------------------------------------------------------------ work lists and overdue


def _lists(client, query: str = "") -> dict[str, dict]:
    response = client.get(f"/api/v1/worklists{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {entry["code"]: entry for entry in response.get_json()["lists"]}


def test_a_workers_lists_of_the_day_fill_as_they_work(clients):
    worker = clients("worker")
    lists = _lists(worker)
    assert set(lists) == {"daily_patrol", "weekly_visit", "monthly_survey", "fire_safety"}
    assert lists["daily_patrol"]["items"] == [
        {"type": "grid", "done_at": None, "done": False, "code": MICRO, "name": "1-001"}
    ]
    visit = lists["weekly_visit"]["items"]
    assert [(i["id"], i["care_tags"], i["done"]) for i in visit] == [(1, ["elderly_alone"], False)]
    # The worker knocks on this door: the address is whole (masking follows duty).
    assert visit[0]["address"] == "测试社区1号楼101"
    assert [i["id"] for i in lists["monthly_survey"]["items"]] == [1, 2]
    # The street administrator, who oversees at a distance, reads the same list masked.
    street = _lists(clients("street"), "?person_id=3")
    assert street["weekly_visit"]["items"][0]["address"] == "测试社区*号楼***"
    patrol_id = start(worker, "weekly_visit")
    worker.post(f"/api/v1/patrols/{patrol_id}/checkins", json={"household_id": 1})
    lists = _lists(worker)
    assert lists["weekly_visit"]["done"] == 1 and lists["weekly_visit"]["due"] == 0
    assert lists["monthly_survey"]["due"] == 2  # a visit is no survey: each list its own
    assert lists["daily_patrol"]["due"] == 1
    worker.post(f"/api/v1/patrols/{patrol_id}/end", json={})
    start(worker, "daily_patrol")  # patrolling the micro-grid today
    assert _lists(worker)["daily_patrol"]["done"] == 1


def test_lists_of_someone_else(clients):
    assert set(_lists(clients("chief"), "?person_id=5")) == {
        "daily_patrol",
        "weekly_visit",  # household 3: disabled
        "monthly_survey",
    }
    assert _lists(clients("chief"), "?person_id=5&work_list=monthly_survey").keys() == {
        "monthly_survey"
    }
    assert_problem(clients("chief").get("/api/v1/worklists"), 422, "not linked")
    assert_problem(clients("worker_b").get("/api/v1/worklists?person_id=3"), 404)
    member_view = _lists(clients("member"), "?person_id=3")  # only the household it covers
    assert [i["id"] for i in member_view["monthly_survey"]["items"]] == [1]
    last_month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).isoformat()
    assert "fire_safety" not in _lists(clients("worker"), f"?date={last_month}")


def test_overdue_counts_per_worker_and_grid(clients):
    chief = clients("chief")
    worker = clients("worker")
    patrol_id = start(worker, "weekly_visit")
    worker.post(f"/api/v1/patrols/{patrol_id}/checkins", json={"household_id": 1})
    response = chief.get("/api/v1/patrols/overdue")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    due = {e["code"]: (e["due"], e["total"]) for e in body["lists"]}
    assert due == {
        "daily_patrol": (2, 2),
        "weekly_visit": (1, 2),
        "monthly_survey": (3, 3),
        "fire_safety": (1, 1),
    }
    workers = {w["person_id"]: w for w in body["by_worker"]}
    assert workers[3]["name"] == "张员" and workers[3]["due"]["weekly_visit"] == 0
    assert workers[5]["due"] == {"daily_patrol": 1, "weekly_visit": 1, "monthly_survey": 1}
    grids = {g["code"]: g["due"] for g in body["by_grid"]}
    assert grids[MICRO] == {
        "daily_patrol": 1,
        "weekly_visit": 0,
        "monthly_survey": 2,
        "fire_safety": 1,
    }
    rows = {(r["work_list"], r.get("id", r.get("code"))) for r in body["rows"]}
    assert ("weekly_visit", 3) in rows and ("weekly_visit", 1) not in rows
    assert ("daily_patrol", MICRO) in rows
    zones = chief.get("/api/v1/patrols/overdue?level=zone").get_json()["by_grid"]
    assert [z["code"] for z in zones] == [COMMUNITY + "01", COMMUNITY + "02"]


def test_overdue_as_map_layers_in_scope(clients):
    layer = clients("chief").get(f"/api/v1/patrols/overdue?format=geojson&grid={MICRO}")
    assert layer.status_code == 200 and layer.mimetype == "application/geo+json"
    features = layer.get_json()["features"]
    types = {(f["properties"]["work_list"], f["geometry"]["type"]) for f in features}
    assert ("daily_patrol", "MultiPolygon") in types and ("weekly_visit", "Point") in types
    assert all(f["properties"].get("micro_grid_code", MICRO) == MICRO for f in features)
    outside = clients("worker_b").get("/api/v1/patrols/overdue?format=geojson").get_json()
    assert all(f["id"] != 1 and "110101001001" not in str(f["id"]) for f in outside["features"])
    assert_problem(clients("chief").get("/api/v1/patrols/overdue?limit=100000"), 400)
    limited = clients("chief").get("/api/v1/patrols/overdue?limit=2").get_json()
    assert limited["numberReturned"] == 2 and sum(e["due"] for e in limited["lists"]) == 8


def test_a_patrol_long_ago_stores_its_fixes_in_the_default_partition(clients, session):
    """No month partition so far back (migration 0034 makes them from the oldest row moved):
    the DEFAULT one takes the fixes, and a batch posted again stores nothing twice."""
    moment = now() - dt.timedelta(days=8000)
    worker = clients("worker")
    with clock_at(moment):
        patrol_id = start(worker)
        lon, lat, t = past_home(10.0, moment, n=5)
        batch = {"points": fixes(lon, lat, t - 30)}
        first = worker.post(POINTS.format(patrol_id), json=batch)
        again = worker.post(POINTS.format(patrol_id), json=batch)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert (first.get_json()["stored"], again.get_json()["stored"]) == (5, 0)
    where = session.scalars(
        text("SELECT DISTINCT tableoid::regclass::text FROM patrol_point WHERE patrol_id = :p"),
        {"p": patrol_id},
    ).all()
    assert where == ["patrol_point_default"]
