"""A check-in's photo (入户签到照片) and a visit's (民情日志照片): uploaded for it, attached
to it, seen by whoever sees the patrol or visit and the household, by nobody outside."""

from __future__ import annotations

from sqlalchemy import func, select

from gridmap.files import stores
from gridmap.storage.models import HouseholdVisit
from tests.helpers import assert_problem
from tests.patrols.test_api import start
from tests.requests.photos import image, upload, uploaded


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


def test_a_visit_carries_its_photos_seen_where_the_visit_is(app, clients, session, tmp_path):
    app.extensions["gridmap.files"] = stores.DiskStore(tmp_path / "files")
    member = clients("member")
    # A member uploads a visit's photos and, for what it claims, proof (after), nothing else.
    assert_problem(upload(member, image(), "intake"), 422, "visit photos only")
    photos = [uploaded(member, image(), "visit")["id"] for _ in range(2)]
    check_in_photo = uploaded(clients("worker"), image(), "check_in")
    body = {"household_id": 1, "channel": "in_person", "photos": photos}
    made = member.post("/api/v1/visits", json=body, headers={"Idempotency-Key": "v-photos"})
    assert made.status_code == 201, made.get_data(as_text=True)
    visit = made.get_json()
    assert visit["photos"] == photos
    # Sent again from the phone's queue: the first answer, the photos attached once.
    again = member.post("/api/v1/visits", json=body, headers={"Idempotency-Key": "v-photos"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == visit
    assert member.get(f"/api/v1/visits/{visit['id']}").get_json()["photos"] == photos
    logs = clients("chief").get("/api/v1/households/1/visits").get_json()["logs"]
    assert logs[0]["photos"] == photos
    for reader in ("member", "worker", "chief", "street"):
        assert clients(reader).get(f"/api/v1/files/{photos[0]}").status_code == 200, reader
    assert_problem(clients("worker_b").get(f"/api/v1/files/{photos[1]}/thumbnail"), 404)
    # A photo already attached, another's upload or one of another purpose: 422, no visit.
    before = _visits(session)
    for photo, said in (
        (photos[0], "already belongs"),
        (check_in_photo["id"], "not a photo you"),
    ):
        refused = member.post("/api/v1/visits", json=body | {"photos": [photo]})
        assert_problem(refused, 422, said)
    own_check_in = uploaded(clients("worker"), image(), "check_in")["id"]
    wrong = clients("worker").post("/api/v1/visits", json=body | {"photos": [own_check_in]})
    assert_problem(wrong, 422, "another purpose")
    assert _visits(session) == before


def _visits(session) -> int:
    return int(session.scalar(select(func.count()).select_from(HouseholdVisit)) or 0)
