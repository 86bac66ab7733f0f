"""A check-in's photo (入户签到照片): uploaded for a check-in, attached to it, seen by whoever
sees the patrol and the household, by nobody outside."""

from __future__ import annotations

from gridmap.files import stores
from tests.helpers import assert_problem
from tests.patrols.test_api import start
from tests.requests.photos import image, uploaded


def test_a_check_in_photo_is_seen_where_the_check_in_is(app, clients, tmp_path):
    app.extensions["gridmap.files"] = stores.DiskStore(tmp_path / "files")
    worker = clients("worker")
    photo = uploaded(worker, image(), "check_in")
    intake_photo = uploaded(worker, image(), "intake")
    patrol_id = start(worker, "weekly_visit")
    checkins = f"/api/v1/patrols/{patrol_id}/checkins"
    wrong = worker.post(checkins, json={"household_id": 1, "photo": intake_photo["id"]})
    assert_problem(wrong, 422, "another purpose")
    checked = worker.post(checkins, json={"household_id": 1, "photo": photo["id"]})
    assert checked.status_code == 201, checked.get_data(as_text=True)
    assert clients("street").get(photo["url"]).status_code == 200
    assert clients("chief").get(photo["thumbnail_url"]).status_code == 200
    assert_problem(clients("worker_b").get(photo["url"]), 404)
    again = worker.post(checkins, json={"household_id": 1, "photo": photo["id"]})
    assert_problem(again, 422, "already belongs")
