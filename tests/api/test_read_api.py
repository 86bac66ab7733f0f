"""The read API on real PostGIS: grids, households, coverage, locate, search, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from shapely.geometry import box
from sqlalchemy import func, select, text

from gridmap.grid import ingest
from gridmap.spatial.crs import wgs84_to_bd09
from tests.conftest import COMMUNITY, MID_LON, N, S, W, client_for, small_grid_frame
from tests.helpers import PROBLEM, assert_problem, row_counts, statements_during


def test_grids_by_level_bbox_and_pages(client, staffed):
    micro = client.get("/api/v1/grids?level=micro").get_json()
    assert micro["type"] == "FeatureCollection" and micro["numberReturned"] == 4
    assert micro["features"][0]["geometry"]["type"] == "MultiPolygon"
    west = client.get("/api/v1/grids?level=micro&bbox=116.401,39.901,116.405,39.919").get_json()
    assert {f["id"] for f in west["features"]} == {COMMUNITY + "01001", COMMUNITY + "01002"}
    first = client.get("/api/v1/grids?limit=3").get_json()
    second = client.get(f"/api/v1/grids?limit=3&cursor={first['next']}").get_json()
    third = client.get(f"/api/v1/grids?limit=3&cursor={second['next']}").get_json()
    ids = [f["id"] for page in (first, second, third) for f in page["features"]]
    assert len(ids) == len(set(ids)) == 7 and third["next"] is None
    children = client.get(f"/api/v1/grids?parent={COMMUNITY}").get_json()
    assert children["numberReturned"] == 2


def test_one_grid_has_children_and_staff(client, staffed):
    body = client.get(f"/api/v1/grids/{COMMUNITY}01").get_json()
    assert [c["code"] for c in body["properties"]["children"]] == [
        COMMUNITY + "01001",
        COMMUNITY + "01002",
    ]
    # Staff read each other's names (亮明身份); phones stay masked.
    assert body["properties"]["staff"][0]["name"] == "李长"
    assert body["properties"]["staff"][0]["phone"] == "138****0002"
    assert_problem(client.get(f"/api/v1/grids/{COMMUNITY[:-1]}9"), 404, "no grid")


def test_past_grid_shows_the_children_and_staff_of_that_day(client, session, settings, staffed):
    session.execute(text("UPDATE grid SET valid_from = current_date - 30"))
    session.execute(text("UPDATE assignment SET start_date = current_date - 10"))
    # Today zone 01 is redrawn (a new row) and micro-grid 01001 absorbs 01002.
    frame = small_grid_frame().iloc[[1, 3, 4]].copy()
    frame["status"] = ["", "", "retired"]
    frame.loc[frame.index[1], "geometry"] = box(W, S, MID_LON, N)
    ingest.import_grids(session, frame, "EPSG:4490", settings, redraw=True)
    session.commit()
    day = session.scalar(select(func.current_date())) - dt.timedelta(days=1)
    zone, micro = f"/api/v1/grids/{COMMUNITY}01", f"/api/v1/grids/{COMMUNITY}01001"

    def children(url: str) -> list[str]:
        return [c["code"] for c in client.get(url).get_json()["properties"]["children"]]

    assert children(f"{zone}?at={day}") == [COMMUNITY + "01001", COMMUNITY + "01002"]
    assert children(zone) == [COMMUNITY + "01001"]
    listed = client.get(f"/api/v1/grids?parent={COMMUNITY}01&at={day}").get_json()
    assert listed["numberReturned"] == 2
    for url in (f"{micro}?at={day}", micro):  # the worker's post followed the redraw
        assert [s["name"] for s in client.get(url).get_json()["properties"]["staff"]] == ["张员"]
    before = client.get(f"{micro}?at={day - dt.timedelta(days=15)}").get_json()  # no post yet
    assert before["properties"]["staff"] == []


def test_locate_gives_chain_with_staff(client, staffed):
    body = client.get("/api/v1/locate?lon=116.405&lat=39.915").get_json()
    grids = body["grids"]
    assert grids["micro"]["code"] == COMMUNITY + "01001"
    assert grids["micro"]["staff"][0] == {
        "person_id": 3,
        "name": "张员",
        "phone": "138****0003",
        "role": "grid_worker",
    }
    assert grids["zone"]["staff"][0]["role"] == "zone_leader"
    assert grids["community"]["staff"][0]["role"] == "chief"


def test_locate_converts_declared_crs(client, staffed):
    blon, blat = wgs84_to_bd09([116.4150], [39.9150])
    body = client.get(f"/api/v1/locate?lon={blon[0]}&lat={blat[0]}&crs=BD09").get_json()
    assert body["grids"]["micro"]["code"] == COMMUNITY + "02001"
    assert abs(body["point"]["lon"] - 116.415) < 1e-5


@pytest.mark.parametrize(
    ("query", "status", "word"),
    [
        ("lon=116.5&lat=39.99", 404, "outside every grid"),
        ("lon=39.915&lat=116.405", 400, "swapped"),
        ("lon=2.35&lat=48.85", 400, "outside China"),
        ("lon=nan&lat=39.9", 400, ""),
        ("lon=abc&lat=39.9", 400, "lon"),
        ("lat=39.9", 400, "lon"),
        ("lon=116.4&lat=39.9&crs=EPSG:3857", 400, "EPSG:4490"),
    ],
)
def test_locate_bad_input(client, staffed, query, status, word):
    assert_problem(client.get(f"/api/v1/locate?{query}"), status, word)


def test_households_and_their_coverage(client, staffed):
    page = client.get("/api/v1/households?bbox=116.40,39.90,116.42,39.92").get_json()
    props = {f["id"]: f["properties"] for f in page["features"]}
    assert props[1]["covered"] is True and props[2]["covered"] is False
    assert props[2]["care_tags"] == ["elderly_alone"]
    in_zone = client.get(f"/api/v1/households?grid={COMMUNITY}02").get_json()
    assert [f["id"] for f in in_zone["features"]] == [2]
    cov = client.get("/api/v1/households/1/coverage").get_json()
    assert [(m["name"], m["phone"]) for m in cov["members"]] == [("赵党", "138****0004")]
    assert cov["grids"]["micro"]["staff"][0]["name"] == "张员"
    # The street administrator has no duty to the household: its door stays masked.
    assert cov["household"]["address"] == "东城区测试社区*号楼*单元***"
    assert cov["grids"]["community"]["code"] == COMMUNITY
    assert_problem(client.get("/api/v1/households/999/coverage"), 404, "999")


def test_locate_and_coverage_are_one_statement_each(client, session, staffed):
    """A locate costs one SQL statement, staff included; a household's coverage one too, for
    its grids, staff and members and its building's panel (楼栋长 and 单元长; 党员中心户).
    The login check of a token checked a moment ago goes with it in the same round trip
    (psycopg's pipeline, which SQLAlchemy's statement events do not see)."""
    client.get("/api/v1/auth/me")
    for url in ("/api/v1/locate?lon=116.405&lat=39.915", "/api/v1/households/1/coverage"):
        answers: list[Any] = []

        def ask(url: str = url, out: list[Any] = answers) -> None:
            out.append(client.get(url))

        run = statements_during(session, ask)
        assert answers[0].status_code == 200
        assert len(run) == 1 and "change_count" not in run[0], run


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("/api/v1/grids?bbox=1,2,3", "bbox"),
        ("/api/v1/grids?bbox=116.42,39.90,116.40,39.92", "minimums"),
        ("/api/v1/grids?bbox=39.9,116.4,39.92,116.42", "swapped"),
        ("/api/v1/grids?limit=100000", "at most"),
        ("/api/v1/grids?cursor=abc", "cursor"),
        ("/api/v1/grids?level=street", "level"),
        ("/api/v1/households?limit=0", "limit"),
        ("/api/v1/search?q=", "q"),
    ],
)
def test_bad_query_parameters_are_400_problems(client, staffed, url, word):
    assert_problem(client.get(url), 400, word)


def test_search_by_code_name_and_address(client, staffed):
    by_code = client.get(f"/api/v1/search?q={COMMUNITY}02").get_json()["results"]
    assert by_code[0]["id"] == COMMUNITY + "02" and len(by_code[0]["bbox"]) == 4
    by_address = client.get("/api/v1/search?q=2号楼").get_json()["results"]
    assert [r["id"] for r in by_address if r["type"] == "household"] == [2]
    assert client.get("/api/v1/search?q=%25").get_json()["results"] == []


def test_openapi_describes_the_api(client):
    spec = client.get("/api/openapi.json").get_json()
    for path in (
        "/api/v1/locate",
        "/api/v1/grids",
        "/api/v1/grids/{code}",
        "/api/v1/households",
        "/api/v1/households/{household_id}/coverage",
    ):
        assert path in spec["paths"]
    assert client.get("/api/swagger").status_code == 200


def test_unknown_route_and_huge_body_are_problems(client, session, staffed):
    before = row_counts(session)
    assert_problem(client.get("/api/v1/nothing"), 404)
    big = client.post("/api/v1/locate", data=b"x" * (11 * 1024 * 1024))
    assert big.status_code in (405, 413) and big.mimetype == PROBLEM
    assert row_counts(session) == before


def test_a_workers_household_panel_and_locate_name_the_parents_of_its_micro_grid(
    app, make_user, staffed
):
    """The chain above a worker's micro-grid is not secret: the panel and locate name its zone
    and community (with their staff, phones masked, marked out of scope), not "not in a
    grid"; a point of the next micro-grid is still outside everything the worker sees."""
    worker = client_for(app, make_user("grid_worker", COMMUNITY + "01001", person_id=3))
    cov = worker.get("/api/v1/households/1/coverage").get_json()
    chain = {level: (g["code"], g["in_scope"]) for level, g in cov["grids"].items()}
    assert chain == {
        "micro": (COMMUNITY + "01001", True),
        "zone": (COMMUNITY + "01", False),
        "community": (COMMUNITY, False),
    }
    assert cov["grids"]["zone"]["staff"] == [
        {"person_id": 2, "name": "李长", "phone": "138****0002", "role": "zone_leader"}
    ]
    assert cov["grids"]["community"]["name"] and cov["grids"]["community"]["staff"]
    located = worker.get("/api/v1/locate?lon=116.405&lat=39.915").get_json()["grids"]
    assert {level: g["code"] for level, g in located.items()} == {
        "micro": COMMUNITY + "01001",
        "zone": COMMUNITY + "01",
        "community": COMMUNITY,
    }
    assert_problem(worker.get("/api/v1/locate?lon=116.415&lat=39.905"), 404, "outside")
    # Named is not disclosed: the parents' staff stay out of the worker's reveal.
    for person_id in (1, 2):
        refused = worker.post("/api/v1/reveal", json=_phone_of(person_id))
        assert_problem(refused, 404, "person")
    own = worker.post("/api/v1/reveal", json=_phone_of(3)).get_json()
    assert own["value"] == "13800000003"
    # Its zone leader sees the same household with the zone in scope, the community not.
    leader = client_for(app, make_user("zone_leader", COMMUNITY + "01"))
    grids = leader.get("/api/v1/households/1/coverage").get_json()["grids"]
    assert [grids[level]["in_scope"] for level in ("micro", "zone", "community")] == [
        True,
        True,
        False,
    ]
    assert_problem(leader.post("/api/v1/reveal", json=_phone_of(1)), 404, "person")
    assert leader.post("/api/v1/reveal", json=_phone_of(2)).status_code == 200


def _phone_of(person_id: int) -> dict[str, object]:
    return {"object": "person", "id": person_id, "field": "phone"}
