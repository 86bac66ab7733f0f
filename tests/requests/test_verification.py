"""Independent verification and 回访: the verifier role, callbacks, on-site checks (核查), and
that nobody rates, verifies or calls back a request they handled or own."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_openapi3 import OpenAPI

from gridmap.access.auth import Caller, Scope
from gridmap.requests import lifecycle
from gridmap.requests import service as domain
from gridmap.storage.models import USER_ROLES, ResidentRequest
from tests.conftest import COMMUNITY, MakeUser, client_for
from tests.helpers import assert_problem
from tests.requests.conftest import act, file, intake_body

STREET = COMMUNITY[:9]
M1 = COMMUNITY + "01001"
PHOTO = "https://img.example/check.jpg"
#: The judging actions and a valid body of each.
JUDGING: dict[str, dict[str, Any]] = {
    "rate": {"action": "rate", "rating": "satisfied"},
    "callback": {
        "action": "callback",
        "resolved": "resolved",
        "rating": "satisfied",
        "channel": "phone",
    },
    "verify": {"action": "verify", "photos": [PHOTO]},
}
#: The scope each role's account gets in the matrix (in the small grid's street).
ROLE_SCOPE: dict[str, str | None] = {
    "street_admin": STREET,
    "chief": COMMUNITY,
    "zone_leader": COMMUNITY + "01",
    "grid_worker": M1,
    "auditor": COMMUNITY,
    "verifier": COMMUNITY,
}
#: The owner of the request at each grid level and its account (the level's person).
HANDLERS: dict[str, tuple[str, str, int | None]] = {
    "micro": ("grid_worker", M1, 3),
    "zone": ("zone_leader", COMMUNITY + "01", 2),
    "community": ("chief", COMMUNITY, 1),
    "street": ("street_admin", STREET, None),
}


def current(client: FlaskClient, rid: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/requests/{rid}")
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def step(client: FlaskClient, rid: int, **body: Any) -> dict[str, Any]:
    """Take a step with the request's current ETag (asserting 200)."""
    response = act(client, rid, current(client, rid)["etag"], **body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


@pytest.fixture
def handlers(
    app: OpenAPI, make_user: MakeUser, staff: None, officers: Callable[[str], FlaskClient]
) -> dict[str, FlaskClient]:
    """The owner's account at each level, the street's made first (it owns the street level's
    requests), and the officer of the department the street summons (城管执法队)."""
    made = {}
    for level in ("street", "community", "zone", "micro"):
        role, scope, person = HANDLERS[level]
        made[level] = client_for(app, make_user(role, scope, person))
    made["department"] = officers("cg")
    return made


def climb_and_complete(
    handlers: dict[str, FlaskClient], departments: dict[str, int], level: str
) -> int:
    """A request filed in micro-grid 01001 and handled on its way up: the owner of each level
    below ``level`` accepts, starts and escalates it; the owner at ``level`` completes it."""
    rid = file(handlers["micro"])["id"]
    top = lifecycle.LEVELS.index(level)
    for below in lifecycle.LEVELS[:top]:
        owner = handlers[below]
        step(owner, rid, action="accept")
        step(owner, rid, action="start")
        extra = {"department_id": departments["cg"]} if below == "street" else {}
        step(owner, rid, action="escalate", reason="超出本级处置能力", **extra)
    for action in ("accept", "start", "complete"):
        step(handlers[level], rid, action=action)
    return rid


def tied_account(
    app: OpenAPI, make_user: MakeUser, handlers: dict[str, FlaskClient], role: str, level: str
) -> FlaskClient:
    """An account of ``role`` that handled or owns the request: the level's handler itself
    when ``role`` handled it on the way up, else an account linked to person 3, the grid
    worker who accepted it first."""
    if role == "department":  # the summoned department's officer (a stranger below it: 404)
        return handlers["department"]
    top = lifecycle.LEVELS.index(level)
    for below, (handler_role, _, _) in HANDLERS.items():
        if handler_role == role and lifecycle.LEVELS.index(below) <= top:
            return handlers[below]
    return client_for(app, make_user(role, ROLE_SCOPE.get(role), 3))


@pytest.mark.parametrize("level", lifecycle.LEVELS)
def test_no_account_that_handled_or_owns_a_request_may_judge_it(
    app, make_user, handlers, departments, session, level
):
    rid = climb_and_complete(handlers, departments, level)
    before = session.get(ResidentRequest, rid, populate_existing=True).revision
    state = lifecycle.RequestState("completed", level)
    # A unit's party organisation (双报告) handles and owns no request: it cannot be tied.
    for role in (r for r in USER_ROLES if r != "unit"):
        tied = tied_account(app, make_user, handlers, role, level)
        for action, body in JUDGING.items():
            seen = tied.get(f"/api/v1/requests/{rid}").get_json()
            etag = seen.get("etag") or '"request-0.0"'
            assert not set(JUDGING) & set(seen.get("allowed_actions", ())), (role, seen)
            response = act(tied, rid, etag, **body)
            assert response.status_code in (403, 404, 409), (role, action, response.get_json())
            if role in lifecycle.ROLES and action in lifecycle.allowed_actions(state, role):
                # The rule table lets the role judge this level: only independence refuses.
                problem = assert_problem(response, 403, "independent")
                assert problem["code"] == "own-work", (role, action)
    row = session.get(ResidentRequest, rid, populate_existing=True)
    assert (row.state, row.revision) == ("completed", before)
    # An independent verifier of the street may.
    verifier = client_for(app, make_user("verifier", STREET))
    answered = step(verifier, rid, **JUDGING["callback"], note="电话回访，居民确认已清运")
    assert (answered["state"], answered["rating"]) == ("feedback", "satisfied")
    record = answered["timeline"][-1]
    assert record["action"] == "callback"
    assert (record["detail"]["resolved"], record["detail"]["channel"]) == ("resolved", "phone")


def test_a_unit_can_no_longer_complete_rate_and_archive_its_own_request(app, make_user, handlers):
    street = handlers["street"]
    r = file(street, category="ads.billboard")
    assert r["level"] == "street"
    for action in ("accept", "start", "complete"):
        r = step(street, r["id"], action=action)
    # Its own work: the page offers no judging of it.
    assert r["allowed_actions"] == ["comment"]
    problem = assert_problem(
        act(street, r["id"], r["etag"], action="rate", rating="satisfied"), 403
    )
    assert problem["code"] == "own-work"
    assert_problem(act(street, r["id"], r["etag"], action="archive"), 409)
    verifier = client_for(app, make_user("verifier", STREET))
    r = step(verifier, r["id"], **JUDGING["callback"])
    # The answer is independent: the street closes the loop.
    assert step(street, r["id"], action="archive")["state"] == "archived"


def test_an_unresolved_callback_reopens_the_request(app, make_user, handlers):
    worker = handlers["micro"]
    rid = file(worker)["id"]
    for action in ("accept", "start", "complete"):
        step(worker, rid, action=action)
    verifier = client_for(app, make_user("verifier", COMMUNITY))
    r = step(
        verifier,
        rid,
        action="callback",
        resolved="unresolved",
        rating="unsatisfied",
        channel="on_site",
        note="上门查看，垃圾仍未清运",
    )
    assert (r["state"], r["reopen_count"], r["stage"]) == ("handling", 1, "handling")
    assert r["timeline"][-1]["detail"]["resolved"] == "unresolved"
    # The worker completes it again; the next answer closes it.
    step(worker, rid, action="complete")
    r = step(verifier, rid, **JUDGING["callback"])
    assert r["state"] == "feedback"


def test_a_verifier_handles_nothing_and_sees_only_its_scope(app, make_user, handlers):
    rid = file(handlers["micro"])["id"]
    verifier = client_for(app, make_user("verifier", COMMUNITY))
    seen = current(verifier, rid)
    assert seen["allowed_actions"] == []
    problem = assert_problem(act(verifier, rid, seen["etag"], action="accept"), 409)
    assert problem["code"] == "illegal-transition"
    assert_problem(verifier.post("/api/v1/requests", json=intake_body()), 403)
    elsewhere = client_for(app, make_user("verifier", "110101002"))
    assert_problem(elsewhere.get(f"/api/v1/requests/{rid}"), 404)


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [
        ({"action": "callback", "rating": "satisfied", "channel": "phone"}, 400, "resolved"),
        ({**JUDGING["callback"], "channel": "letter"}, 400, "channel"),
        ({**JUDGING["callback"], "resolved": "maybe"}, 400, "resolved"),
        ({"action": "verify"}, 400, "photo"),
    ],
)
def test_malformed_callbacks_and_checks_are_400(app, make_user, handlers, body, status, word):
    worker = handlers["micro"]
    rid = file(worker)["id"]
    for action in ("accept", "start", "complete"):
        step(worker, rid, action=action)
    verifier = client_for(app, make_user("verifier", COMMUNITY))
    response = act(verifier, rid, current(verifier, rid)["etag"], **body)
    assert_problem(response, status)
    assert word in response.get_data(as_text=True)
    assert current(verifier, rid)["state"] == "completed"


def test_a_category_that_requires_a_check_closes_only_after_it(app, make_user, handlers, session):
    domain.revise_category(session, "sanitation.garbage", requires_check=True)
    session.commit()
    worker, chief = handlers["micro"], handlers["community"]
    rid = file(worker)["id"]
    for action in ("accept", "start", "complete"):
        step(worker, rid, action=action)
    verifier = client_for(app, make_user("verifier", COMMUNITY))
    etag = current(verifier, rid)["etag"]
    for who, body in ((verifier, JUDGING["callback"]), (chief, JUDGING["rate"])):
        problem = assert_problem(act(who, rid, etag, **body), 409, "on-site check")
        assert problem["code"] == "check-missing"
    # Unresolved is no closing: it reopens without a check.
    unresolved = {**JUDGING["callback"], "resolved": "unresolved"}
    assert step(verifier, rid, **unresolved)["state"] == "handling"
    step(worker, rid, action="complete")
    checked = step(verifier, rid, action="verify", photos=[PHOTO], note="现场已清理")
    assert checked["state"] == "completed"
    assert checked["timeline"][-1]["photos"] == [PHOTO]
    assert step(chief, rid, **JUDGING["rate"])["state"] == "feedback"
    assert step(chief, rid, action="archive")["state"] == "archived"


def test_a_check_before_a_reopening_does_not_count(app, make_user, handlers, session):
    domain.revise_category(session, "sanitation.garbage", requires_check=True)
    session.commit()
    worker = handlers["micro"]
    rid = file(worker)["id"]
    for action in ("accept", "start", "complete"):
        step(worker, rid, action=action)
    verifier = client_for(app, make_user("verifier", COMMUNITY))
    step(verifier, rid, action="verify", photos=[PHOTO])
    step(verifier, rid, **{**JUDGING["callback"], "resolved": "unresolved"})
    step(worker, rid, action="complete")
    problem = assert_problem(
        act(verifier, rid, current(verifier, rid)["etag"], **JUDGING["callback"]), 409
    )
    assert problem["code"] == "check-missing"


def test_owning_reads_the_owner_columns_and_the_levels_scope() -> None:
    worker = Caller(7, "w", "grid_worker", Scope(("1",), 3), 0, "bearer")
    owners = {"owner_user_id": None, "department_id": None}
    row = SimpleNamespace(level="micro", owner_person_id=3, **owners)
    assert domain.owns(row, worker, {"owner_user_id": 7, "owner_person_id": 3})
    other = SimpleNamespace(
        level="micro", owner_person_id=5, owner_user_id=None, department_id=None
    )
    assert not domain.owns(other, worker, {"owner_user_id": 7, "owner_person_id": 3})
    # Nobody on duty: the level's scope owns it, so a grid worker there is no judge of it.
    nobody = SimpleNamespace(
        level="micro", owner_person_id=None, owner_user_id=None, department_id=None
    )
    assert domain.owns(nobody, worker, {"owner_user_id": 7})
    leader = Caller(8, "l", "zone_leader", Scope(("1",)), 0, "bearer")
    assert not domain.owns(nobody, leader, {"owner_user_id": 8})
    street = SimpleNamespace(
        level="street", owner_person_id=None, owner_user_id=8, department_id=None
    )
    assert domain.owns(street, leader, {"owner_user_id": 8})


def test_the_administrators_create_verifiers_of_a_community_or_a_street(app, make_user, staff):
    system = client_for(app, make_user("system_admin"))
    security = client_for(app, make_user("security_admin"))
    made = system.post(
        "/api/v1/admin/users", json={"username": "callback-desk", "password": "回访核查-密码-2026"}
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    url = f"/api/v1/admin/users/{made.get_json()['id']}/role"
    for scope in (COMMUNITY + "01", M1, COMMUNITY[:6], None):
        response = security.put(url, json={"role": "verifier", "scope_code": scope})
        assert_problem(response, 400, "scope_code")
    for scope in (STREET, COMMUNITY):
        response = security.put(url, json={"role": "verifier", "scope_code": scope})
        assert response.status_code == 200, response.get_data(as_text=True)
