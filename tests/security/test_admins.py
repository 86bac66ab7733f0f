"""三员分立: the system, security and audit administrators each do only their own job."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.access import accounts, auth
from gridmap.storage.models import AuditEntry, LoginThrottle, User
from tests.conftest import PASSWORD, ClientFor
from tests.security.conftest import A_PEOPLE, A

REVEAL = {"object": "person", "id": 1, "field": "phone"}


@pytest.fixture
def staff(session: Session, login_as: ClientFor) -> tuple[dict[str, FlaskClient], dict[str, int]]:
    """The three administrators' clients and the ids of every account involved."""
    clients = {role: login_as(role) for role in ("system_admin", "security_admin", "audit_admin")}
    data_user = accounts.create_user(session, "worker-a", PASSWORD)
    accounts.grant_role(session, data_user.id, "zone_leader", scope_code=A + "01")
    session.commit()
    ids = {
        role: accounts.user_id(session, c.get("/api/v1/auth/me").get_json()["username"])
        for role, c in clients.items()
    }
    return clients, ids | {"data": data_user.id}


def _audited(session, action: str, user_id: int) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.object_id == str(user_id)
    )
    return list(session.scalars(stmt))


def _logs_in(session, settings, username: str, password: str) -> bool:
    try:
        auth.login(
            session, username, password, kind="bearer", settings=settings, origin=auth.Origin()
        )
    except (auth.AuthFailed, auth.LoginThrottled):
        return False
    return True


def _data_requests() -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", f"/api/v1/grids/{A}", None),
        ("GET", "/api/v1/grids", None),
        ("GET", "/api/v1/households", None),
        ("GET", "/api/v1/households/1/coverage", None),
        ("GET", "/api/v1/locate?lon=116.405&lat=39.915", None),
        ("GET", f"/api/v1/search?q={A}", None),
        ("GET", "/api/v1/households.csv", None),
        ("POST", "/api/v1/reveal", REVEAL),
        ("GET", "/", None),
    ]


def _refused(client, method: str, url: str, body=None) -> bool:
    response = client.open(url, method=method, json=body)
    return response.status_code == 403 and A_PEOPLE[1][1] not in response.get_data(as_text=True)


def test_system_admin_manages_accounts_only(session, settings, staff):
    clients, ids = staff
    system = clients["system_admin"]
    me = system.get("/api/v1/auth/me").get_json()["username"]

    created = system.post("/api/v1/admin/users", json={"username": "new-one", "password": PASSWORD})
    assert created.status_code == 201
    new_id = created.get_json()["id"]
    [row] = _audited(session, "user.create", new_id)
    assert (row.username, row.outcome, row.ip) == (me, "ok", "127.0.0.1")
    assert session.get(User, new_id).role is None  # no role until the security admin grants one

    url = f"/api/v1/admin/users/{ids['data']}/password"
    reset = system.post(url)
    assert reset.status_code == 200
    assert len(_audited(session, "user.password_reset", ids["data"])) == 1
    assert not _logs_in(session, settings, "worker-a", PASSWORD)
    assert _logs_in(session, settings, "worker-a", reset.get_json()["one_time_password"])
    assert system.get("/api/v1/admin/users").status_code == 200

    for admin in ("security_admin", "audit_admin", "system_admin"):
        url = f"/api/v1/admin/users/{ids[admin]}/password"
        assert system.post(url).status_code == 404, admin
        assert _audited(session, "user.password_reset", ids[admin]) == []
    for method, url, body in [
        ("PUT", f"/api/v1/admin/users/{new_id}/role", {"role": "chief", "scope_code": A}),
        ("POST", f"/api/v1/admin/users/{ids['data']}/unlock", None),
        ("GET", "/api/v1/audit", None),
        ("GET", "/api/v1/audit.csv", None),
        *_data_requests(),
    ]:
        assert _refused(system, method, url, body), url
    assert session.get(User, new_id).role is None


def test_security_admin_grants_data_roles_and_unlocks_only(session, settings, staff):
    clients, ids = staff
    security = clients["security_admin"]
    newcomer = accounts.create_user(session, "newcomer", PASSWORD)
    session.commit()

    url = f"/api/v1/admin/users/{newcomer.id}/role"
    grant = {"role": "zone_leader", "scope_code": A + "02"}
    assert security.put(url, json=grant).status_code == 200
    [row] = _audited(session, "user.role", newcomer.id)
    assert row.detail["role"] == "zone_leader" and row.outcome == "ok"
    session.refresh(newcomer)
    assert (newcomer.role, newcomer.scope_code) == ("zone_leader", A + "02")

    for admin_role in ("system_admin", "security_admin", "audit_admin"):
        response = security.put(url, json={"role": admin_role})
        assert response.status_code == 400, admin_role
    for admin in ("system_admin", "security_admin", "audit_admin"):
        target = f"/api/v1/admin/users/{ids[admin]}/role"
        assert (
            security.put(target, json={"role": "street_admin", "scope_code": A}).status_code == 404
        )
        assert security.post(f"/api/v1/admin/users/{ids[admin]}/unlock").status_code == 404
    session.expire_all()
    assert session.get(User, newcomer.id).role == "zone_leader"
    roles = dict(session.execute(select(User.id, User.role).where(User.id.in_(ids.values()))).all())
    assert roles == {
        ids["system_admin"]: "system_admin",
        ids["security_admin"]: "security_admin",
        ids["audit_admin"]: "audit_admin",
        ids["data"]: "zone_leader",
    }

    session.add(
        LoginThrottle(
            username="worker-a",
            ip="",
            failures=9,
            blocked_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
        )
    )
    session.commit()
    assert not _logs_in(session, settings, "worker-a", PASSWORD)
    assert security.post(f"/api/v1/admin/users/{ids['data']}/unlock").status_code == 200
    assert len(_audited(session, "user.unlock", ids["data"])) == 1
    assert _logs_in(session, settings, "worker-a", PASSWORD)

    for method, target, body in [
        ("POST", "/api/v1/admin/users", {"username": "sneaky", "password": PASSWORD}),
        ("POST", f"/api/v1/admin/users/{ids['data']}/password", None),
        ("GET", "/api/v1/audit", None),
        ("GET", "/api/v1/audit.csv", None),
        *_data_requests(),
    ]:
        assert _refused(security, method, target, body), target
    assert session.scalar(select(func.count()).where(User.username == "sneaky")) == 0
    assert _logs_in(session, settings, "worker-a", PASSWORD)


def test_audit_admin_searches_and_exports_the_audit_log_only(session, staff):
    clients, ids = staff
    auditor = clients["audit_admin"]
    me = auditor.get("/api/v1/auth/me").get_json()["username"]
    system_name = clients["system_admin"].get("/api/v1/auth/me").get_json()["username"]
    clients["system_admin"].post(
        "/api/v1/admin/users", json={"username": "traced", "password": PASSWORD}
    )

    found = auditor.get(f"/api/v1/audit?username={system_name}&action=user.create")
    assert found.status_code == 200
    [entry] = found.get_json()["entries"]
    assert entry["detail"] == {"username": "traced"} and entry["outcome"] == "ok"
    by_object = auditor.get(f"/api/v1/audit?object_type=user&object_id={entry['object_id']}")
    assert [e["id"] for e in by_object.get_json()["entries"]] == [entry["id"]]
    since = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert auditor.get("/api/v1/audit", query_string={"since": since}).get_json()["entries"] == []

    before = session.scalar(select(func.count()).select_from(AuditEntry))
    export = auditor.get(f"/api/v1/audit.csv?username={system_name}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert "user.create" in export.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before + 1
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.action, last.username, last.object_type) == ("export", me, "audit")

    for method, url, body in [
        ("GET", "/api/v1/admin/users", None),
        ("POST", "/api/v1/admin/users", {"username": "sneaky", "password": PASSWORD}),
        ("POST", f"/api/v1/admin/users/{ids['data']}/password", None),
        ("PUT", f"/api/v1/admin/users/{ids['data']}/role", {"role": "chief", "scope_code": A}),
        ("POST", f"/api/v1/admin/users/{ids['data']}/unlock", None),
        *_data_requests(),
    ]:
        assert _refused(auditor, method, url, body), url
