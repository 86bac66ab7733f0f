"""Duplicate candidates (same category, near in place and time) and the bbox of the list."""

from __future__ import annotations

from tests.helpers import assert_problem
from tests.requests.conftest import IN_01001, file


def test_candidates_are_near_same_category_and_nearest_first(clients):
    worker = clients("grid_worker")
    first = file(worker)
    near = file(worker, point=(IN_01001[0] + 0.0005, IN_01001[1]))  # ≈ 43 m east
    far = file(worker, point=(IN_01001[0] + 0.004, IN_01001[1]))  # ≈ 340 m east
    other = file(worker, category="sanitation.graffiti")
    response = worker.get(f"/api/v1/requests/{first['id']}/duplicates")
    assert response.status_code == 200, response.get_data(as_text=True)
    found = response.get_json()["candidates"]
    assert [c["id"] for c in found] == [near["id"]]
    assert 30 < found[0]["distance_m"] < 60
    wider = worker.get(f"/api/v1/requests/{first['id']}/duplicates?radius_m=1000").get_json()
    assert [c["id"] for c in wider["candidates"]] == [near["id"], far["id"]]
    assert other["id"] not in {c["id"] for c in wider["candidates"]}
    assert "1391234" not in response.get_data(as_text=True)


def test_candidates_respect_scope_and_input(clients):
    worker, outsider = clients("grid_worker"), clients("member")
    first = file(worker)
    assert_problem(outsider.get(f"/api/v1/requests/{first['id']}/duplicates"), 404)
    assert_problem(worker.get(f"/api/v1/requests/{first['id']}/duplicates?radius_m=-1"), 400)
    assert_problem(worker.get("/api/v1/requests/999999/duplicates"), 404)


def test_the_list_filters_by_bbox(clients):
    worker, chief = clients("grid_worker"), clients("chief")
    west = file(worker)
    east = file(chief, point=(116.415, 39.915))
    found = chief.get("/api/v1/requests?bbox=116.40,39.91,116.41,39.92").get_json()["features"]
    assert [f["id"] for f in found] == [west["id"]]
    both = chief.get("/api/v1/requests?bbox=116.40,39.90,116.42,39.92").get_json()["features"]
    assert {f["id"] for f in both} == {west["id"], east["id"]}
    assert_problem(chief.get("/api/v1/requests?bbox=116.42,39.9,116.40,39.92"), 400, "bbox")
