"""Revising the category catalogue: a new version; filed requests keep their rules."""

from __future__ import annotations

from sqlalchemy import select

from gridmap.storage.models import Category, ResidentRequest
from tests.conftest import client_for
from tests.helpers import assert_problem, row_counts
from tests.requests.conftest import file

LIMITS = {"response": {"amount": 1, "unit": "hours"}, "handling": {"amount": 2, "unit": "days"}}


def test_system_admin_revises_and_old_requests_keep_their_rules(app, clients, make_user, session):
    worker = clients("grid_worker")
    before = file(worker)
    admin = client_for(app, make_user("system_admin"))
    listed = admin.get("/api/v1/categories").get_json()["categories"]
    garbage = next(c for c in listed if c["code"] == "sanitation.garbage")
    revised = admin.put("/api/v1/categories/sanitation.garbage", json={"time_limits": LIMITS})
    assert revised.status_code == 200, revised.get_data(as_text=True)
    assert revised.get_json()["version"] == garbage["version"] + 1
    after = file(worker)
    versions = dict(
        session.execute(
            select(ResidentRequest.id, Category.version).join(
                Category, Category.id == ResidentRequest.category_id
            )
        ).all()
    )
    assert versions[before["id"]] == garbage["version"]
    assert versions[after["id"]] == garbage["version"] + 1


def test_only_the_system_admin_revises_and_bad_input_changes_nothing(
    app, clients, make_user, session
):
    chief = clients("chief")
    assert_problem(chief.put("/api/v1/categories/sanitation.garbage", json={"name": "x"}), 403)
    admin = client_for(app, make_user("system_admin"))
    before = session.scalar(
        select(Category.version).where(
            Category.code == "sanitation.garbage", Category.valid_to.is_(None)
        )
    )
    counts = row_counts(session)
    bad = [
        ({"time_limits": {"lunch": {"amount": 1, "unit": "hours"}}}, 400, "stage"),
        ({"time_limits": {"response": {"amount": -1, "unit": "hours"}}}, 400, "amount"),
        ({"default_level": "city"}, 400, "default_level"),
    ]
    for body, status, word in bad:
        assert_problem(admin.put("/api/v1/categories/sanitation.garbage", json=body), status, word)
    assert_problem(admin.put("/api/v1/categories/no.such", json={"name": "x"}), 404)
    now = session.scalar(
        select(Category.version).where(
            Category.code == "sanitation.garbage", Category.valid_to.is_(None)
        )
    )
    assert now == before and row_counts(session) == counts
