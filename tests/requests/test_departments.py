"""Departments as participants (街乡吹哨、部门报到): records and accounts, the summons, the
department's own steps (报到, 退单, 延期, 协办, 督办), its inbox and its row of the 三率."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text, update

from gridmap.core import clock
from gridmap.requests import deadlines
from gridmap.storage.models import AuditEntry, RequestExtension, ResidentRequest
from tests.helpers import assert_problem
from tests.requests.conftest import IN_02001, act, file


def _step(client, request_id, etag, **body):
    response = act(client, request_id, etag, **body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _summoned(clients, departments, key="cg", **extra):
    """A request the street has summoned department ``key`` to (state reported)."""
    street = clients("street_admin")
    r = file(street, category="ads.billboard")
    return _step(
        street,
        r["id"],
        r["etag"],
        action="escalate",
        reason="街乡吹哨",
        department_id=departments[key],
        **extra,
    )


def _handling(clients, officers, departments, key="cg"):
    r = _summoned(clients, departments, key)
    r = _step(officers(key), r["id"], r["etag"], action="accept", note="已报到")
    return _step(officers(key), r["id"], r["etag"], action="start")


def _ids(client, query=""):
    body = client.get(f"/api/v1/requests{query}").get_json()
    return [f["id"] for f in body["features"]]


# ----------------------------------------------------------------------- records and accounts


def test_the_system_administrator_records_departments(app, make_user, departments):
    from tests.conftest import client_for

    system = client_for(app, make_user("system_admin"))
    body = {"code": "t.gr", "name": "供热中心", "kind": "供热", "scope_code": "110101"}
    made = system.post("/api/v1/admin/departments", json=body)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json() | {"id": 0} == body | {"id": 0, "active": True}
    assert_problem(system.post("/api/v1/admin/departments", json=body), 409, "taken")
    wrong = system.post("/api/v1/admin/departments", json=body | {"code": "t.x", "kind": "电视"})
    assert wrong.status_code == 400
    listed = system.get("/api/v1/departments?serving=11010100100101001").get_json()
    # The far one serves another district.
    assert {d["code"] for d in listed["departments"]} == {"t.cg", "t.sw", "t.zj", "t.gr"}
    worker = client_for(app, make_user("grid_worker", "11010100100101001", 3))
    assert_problem(worker.post("/api/v1/admin/departments", json=body | {"code": "t.y"}), 403)


def test_a_department_account_needs_its_department(app, make_user, session, departments):
    from tests.conftest import client_for

    security = client_for(app, make_user("security_admin"))
    system = client_for(app, make_user("system_admin"))
    new = system.post(
        "/api/v1/admin/users", json={"username": "dept-officer", "password": "a-long-password-9"}
    ).get_json()
    grant = f"/api/v1/admin/users/{new['id']}/role"
    assert_problem(security.put(grant, json={"role": "department"}), 400, "department_id")
    assert_problem(
        security.put(
            grant,
            json={
                "role": "chief",
                "scope_code": "110101001001",
                "department_id": departments["cg"],
            },
        ),
        400,
        "only for role department",
    )
    ok = security.put(grant, json={"role": "department", "department_id": departments["sw"]})
    assert ok.status_code == 200, ok.get_data(as_text=True)


def test_the_free_text_column_is_gone(session):
    found = session.execute(
        text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'resident_request' AND column_name LIKE 'department%'"
        )
    ).scalars()
    assert sorted(found) == ["department_id"]


# ---------------------------------------------------------------------------------- summons


def test_the_street_summons_only_a_department_serving_the_place(clients, departments):
    street = clients("street_admin")
    r = file(street, category="ads.billboard")
    refused = act(
        street, r["id"], r["etag"], action="escalate", reason="x", department_id=departments["far"]
    )
    assert_problem(refused, 422, "does not serve")
    ghost = act(street, r["id"], r["etag"], action="escalate", reason="x", department_id=99999)
    assert_problem(ghost, 422, "does not serve")


def test_the_department_accepts_handles_and_completes_its_own_requests(
    clients, officers, departments, session
):
    r = _summoned(clients, departments, time_limit={"amount": 4, "unit": "hours"})
    cg, sw = officers("cg"), officers("sw")
    assert _ids(cg, "?mine=true&state=reported") == [r["id"]]  # 待报到
    assert _ids(sw) == []
    # Another department neither sees nor acts on it.
    assert_problem(sw.get(f"/api/v1/requests/{r['id']}"), 404)
    assert_problem(act(sw, r["id"], r["etag"], action="accept"), 404)
    seen = cg.get(f"/api/v1/requests/{r['id']}").get_json()
    assert seen["allowed_actions"] == [
        "accept",
        "return",
        "mark_duplicate",
        "comment",
        "set_urgency",
    ]
    # Contact details stay masked for the department.
    assert seen["contact"]["phone"] != "13912345678"
    r = _step(cg, r["id"], r["etag"], action="accept", note="已报到")
    r = _step(cg, r["id"], r["etag"], action="start")
    assert _ids(cg, "?mine=true&state=accepted,handling") == [r["id"]]  # 办理中
    r = _step(
        cg,
        r["id"],
        r["etag"],
        action="complete",
        note="已拆除",
        photos=["https://img.example/a.jpg"],
    )
    assert r["state"] == "completed"
    assert r["timeline"][-1]["photos"] == ["https://img.example/a.jpg"]
    assert r["timeline"][-1]["actor"].endswith("-department")
    audited = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_id == str(r["id"]))
    ).all()
    assert {"request.accept", "request.start", "request.complete"} <= set(audited)
    # The department never rates nor archives its own work.
    assert_problem(act(cg, r["id"], r["etag"], action="rate", rating="satisfied"), 409)


def test_a_return_needs_a_reason_and_the_street_reroutes(clients, officers, departments):
    r = _summoned(clients, departments)
    cg, street = officers("cg"), clients("street_admin")
    assert_problem(act(cg, r["id"], r["etag"], action="return"), 400, "reason")
    r = _step(cg, r["id"], r["etag"], action="return", reason="不属于城管职责，建议住建")
    assert (r["level"], r["state"], r["owner"]["department_id"]) == ("street", "reported", None)
    assert r["timeline"][-1]["detail"]["reason"] == "不属于城管职责，建议住建"
    # Returned: no longer the department's.
    assert_problem(cg.get(f"/api/v1/requests/{r['id']}"), 404)
    r = _step(
        street,
        r["id"],
        r["etag"],
        action="escalate",
        reason="改派住建",
        department_id=departments["zj"],
    )
    assert r["owner"]["department"] == "住建委"
    assert _ids(officers("zj"), "?mine=true") == [r["id"]]
    # The street may also move it straight from one department to another.
    r = _step(
        street,
        r["id"],
        r["etag"],
        action="reassign",
        reason="供水问题",
        department_id=departments["sw"],
    )
    assert (r["level"], r["owner"]["department"]) == ("department", "供水所")
    assert_problem(officers("zj").get(f"/api/v1/requests/{r['id']}"), 404)


# ------------------------------------------------------------------------------- 延期 extension


def test_one_extension_at_a_time_approved_or_refused_by_the_street(
    clients, officers, departments, session
):
    r = _handling(clients, officers, departments)
    cg, street = officers("cg"), clients("street_admin")
    before = dt.datetime.fromisoformat(r["stage_deadline"])
    limit = {"amount": 2, "unit": "days"}
    assert_problem(
        act(cg, r["id"], r["etag"], action="ask_extension", reason="x"), 400, "time_limit"
    )
    none = {"amount": 0, "unit": "days"}
    zero = act(cg, r["id"], r["etag"], action="ask_extension", reason="x", time_limit=none)
    assert_problem(zero, 400, "at least 1")
    r = _step(
        cg, r["id"], r["etag"], action="ask_extension", reason="需协调产权单位", time_limit=limit
    )
    assert r["extension"]["amount"] == 2 and r["stage_deadline"] == before.isoformat()
    assert r["timeline"][-1]["detail"]["extension"] == limit
    assert dt.datetime.fromisoformat(r["timeline"][-1]["detail"]["deadline"]) == before
    assert _ids(street, "?extension_pending=true") == [r["id"]]
    second = act(cg, r["id"], r["etag"], action="ask_extension", reason="再延", time_limit=limit)
    assert_problem(second, 409, "already has an extension")
    # Only the street answers.
    assert_problem(act(cg, r["id"], r["etag"], action="approve_extension"), 409)
    r = _step(street, r["id"], r["etag"], action="approve_extension")
    after = dt.datetime.fromisoformat(r["stage_deadline"])
    assert after == deadlines.add_working_time(before, 2, "days")
    assert r["extension"] is None
    assert dt.datetime.fromisoformat(r["timeline"][-1]["detail"]["previous_deadline"]) == before
    assert_problem(act(street, r["id"], r["etag"], action="approve_extension"), 409, "no extension")
    r = _step(cg, r["id"], r["etag"], action="ask_extension", reason="材料未到", time_limit=limit)
    assert_problem(act(street, r["id"], r["etag"], action="refuse_extension"), 400, "reason")
    r = _step(street, r["id"], r["etag"], action="refuse_extension", reason="时限足够")
    assert r["stage_deadline"] == after.isoformat()
    states = session.scalars(
        select(RequestExtension.state)
        .where(RequestExtension.request_id == r["id"])
        .order_by(RequestExtension.id)
    ).all()
    assert states == ["approved", "refused"]


# ---------------------------------------------------------------------------------- 协办


def test_co_handlers_see_and_comment_but_never_complete(clients, officers, departments):
    r = _handling(clients, officers, departments)
    street, sw, zj = clients("street_admin"), officers("sw"), officers("zj")
    assert_problem(act(street, r["id"], r["etag"], action="add_cohandler"), 400, "cohandler_ids")
    far = act(
        street, r["id"], r["etag"], action="add_cohandler", cohandler_ids=[departments["far"]]
    )
    assert_problem(far, 422, "does not serve")
    lead = act(
        street, r["id"], r["etag"], action="add_cohandler", cohandler_ids=[departments["cg"]]
    )
    assert_problem(lead, 422, "leads")
    r = _step(
        street,
        r["id"],
        r["etag"],
        action="add_cohandler",
        cohandler_ids=[departments["sw"], departments["zj"]],
    )
    assert {d["name"] for d in r["cohandlers"]} == {"供水所", "住建委"}
    assert {d["name"] for d in r["timeline"][-1]["detail"]["cohandlers"]} == {"供水所", "住建委"}
    assert _ids(sw, "?cohandling=true") == [r["id"]]  # 协办
    assert _ids(sw, "?mine=true") == []
    seen = sw.get(f"/api/v1/requests/{r['id']}").get_json()
    assert seen["allowed_actions"] == ["comment"]
    r = _step(sw, r["id"], r["etag"], action="comment", note="已关闭阀门")
    assert_problem(act(zj, r["id"], r["etag"], action="complete"), 409, "co_department")
    r = _step(officers("cg"), r["id"], r["etag"], action="complete", note="已修复")
    # A return to the street ends the co-handling.
    r2 = _handling(clients, officers, departments)
    r2 = _step(
        street, r2["id"], r2["etag"], action="add_cohandler", cohandler_ids=[departments["sw"]]
    )
    _step(officers("cg"), r2["id"], r2["etag"], action="return", reason="非本部门")
    assert_problem(sw.get(f"/api/v1/requests/{r2['id']}"), 404)


# ---------------------------------------------------------------------------------- 督办


def test_the_street_supervises_a_late_department(clients, officers, departments, session):
    r = _handling(clients, officers, departments)
    street = clients("street_admin")
    limit = {"amount": 4, "unit": "hours"}
    early = act(street, r["id"], r["etag"], action="supervise", reason="催办", time_limit=limit)
    assert_problem(early, 409, "not late")
    assert_problem(
        act(officers("cg"), r["id"], r["etag"], action="supervise", reason="x", time_limit=limit),
        409,
    )
    # The handling stage ran out an hour ago.
    session.execute(
        update(ResidentRequest)
        .where(ResidentRequest.id == r["id"])
        .values(stage_deadline=clock.now() - dt.timedelta(hours=1))
    )
    session.commit()
    r = _step(
        street,
        r["id"],
        r["etag"],
        action="supervise",
        reason="超期未办结，限时办理",
        time_limit=limit,
    )
    event = r["timeline"][-1]
    assert event["action"] == "supervise" and event["detail"]["reason"].startswith("超期")
    at = dt.datetime.fromisoformat(event["at"])
    assert dt.datetime.fromisoformat(r["stage_deadline"]) == deadlines.add_working_time(
        at, 4, "hours"
    )
    assert dt.datetime.fromisoformat(event["detail"]["deadline"]) == dt.datetime.fromisoformat(
        r["stage_deadline"]
    )


# -------------------------------------------------------------------------------- 三率 row


def test_a_department_is_a_row_of_the_rates_by_owner(clients, officers, departments):
    r = _handling(clients, officers, departments)
    month = dt.datetime.fromisoformat(r["created_at"]).astimezone(clock.BEIJING).strftime("%Y-%m")
    body = officers("cg").get(f"/api/v1/rates?by=owner&period={month}").get_json()
    rows = {row["code"]: row for row in body["rows"]}
    assert set(rows) == {f"department:{departments['cg']}"}
    assert rows[f"department:{departments['cg']}"]["name"] == "城管执法队"
    street = clients("street_admin").get(f"/api/v1/rates?by=owner&period={month}").get_json()
    assert f"department:{departments['cg']}" in {row["code"] for row in street["rows"]}


def test_a_co_handler_reads_only_its_own_row(clients, officers, departments):
    r = _handling(clients, officers, departments)
    street = clients("street_admin")
    _step(street, r["id"], r["etag"], action="add_cohandler", cohandler_ids=[departments["sw"]])
    month = dt.datetime.fromisoformat(r["created_at"]).astimezone(clock.BEIJING).strftime("%Y-%m")
    body = officers("sw").get(f"/api/v1/rates?by=owner&period={month}").get_json()
    assert body["rows"] == []


# -------------------------------------------------------------------------------- 社区吹哨


def test_the_community_calls_up_its_grid_workers(clients, session):
    """The chief (owner at community level) calls up worker 3 (posted in the community) to a
    request in 02001, outside the worker's own micro-grid: the worker then sees it and may
    comment, never complete. Person 5 has no post: refused (422)."""
    chief, worker = clients("chief"), clients("grid_worker")
    r = file(chief, IN_02001)  # nobody below: the chief owns it (首接负责)
    assert (r["level"], r["owner"]["person_id"]) == ("community", 1)
    assert_problem(worker.get(f"/api/v1/requests/{r['id']}"), 404)
    assert_problem(act(chief, r["id"], r["etag"], action="call_helpers"), 400, "helper_ids")
    nobody = act(chief, r["id"], r["etag"], action="call_helpers", helper_ids=[5])
    assert_problem(nobody, 422, "neither a grid worker")
    assert_problem(act(worker, r["id"], r["etag"], action="call_helpers", helper_ids=[3]), 404)
    r = _step(chief, r["id"], r["etag"], action="call_helpers", helper_ids=[3], note="请协助")
    assert r["timeline"][-1]["detail"]["helpers"] == [3]
    seen = worker.get(f"/api/v1/requests/{r['id']}").get_json()
    assert seen["allowed_actions"] == ["comment"]
    r = _step(worker, r["id"], r["etag"], action="comment", note="已到现场查看")
    r = _step(chief, r["id"], r["etag"], action="accept")
    r = _step(chief, r["id"], r["etag"], action="start")
    assert_problem(act(worker, r["id"], r["etag"], action="complete"), 409, "helper")
    # Handed up to the street: the helpers leave it.
    r = _step(chief, r["id"], r["etag"], action="escalate", reason="需街道协调")
    assert_problem(worker.get(f"/api/v1/requests/{r['id']}"), 404)
