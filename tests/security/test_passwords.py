"""The password policy (at least 12 characters; not blank, invisible, the username or one of
the 30,000 most common passwords that zxcvbn ships) on every way a password is set, and every
refusal in the audit log with its reason."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gridmap.access import accounts
from gridmap.core.errors import InvalidInput
from gridmap.core.settings import Settings
from gridmap.storage.models import AuditEntry, User
from tests.conftest import PASSWORD, client_for

WEAK = [
    ("short-pass1", "at least 12"),
    (" " * 12, "not only spaces"),
    ("\u3000" * 12, "not only spaces"),
    ("\u200b" * 12, "invisible"),
    ("good-password\u200b", "invisible"),
    ("pass\u2060word-long-one", "invisible"),
    ("\u3164" * 12, "invisible"),
    ("password1234", "common"),
    ("Qwertyuiop12", "common"),
    ("new-account-01", "username"),
]
GOOD = ["correct horse battery", "网格员巡查-2026-东城", Settings().demo_password, PASSWORD]


@pytest.mark.parametrize(("password", "rule"), WEAK)
def test_weak_passwords_are_refused_saying_which_rule(password, rule):
    with pytest.raises(InvalidInput, match=rule) as refused:
        accounts.check_password(password, "new-account-01")
    assert password.strip() not in refused.value.detail or not password.strip()


@pytest.mark.parametrize("password", GOOD)
def test_good_passwords_pass(password):
    accounts.check_password(password, "new-account-01")


def _refusals(session, action: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.outcome != "ok")
            .order_by(AuditEntry.id)
        )
    )


def test_the_api_refuses_weak_passwords_and_audits_each_refusal(login_as, session):
    system = login_as("system_admin")
    for password, rule in WEAK:
        body = {"username": "new-account-01", "password": password}
        response = system.post("/api/v1/admin/users", json=body)
        assert response.status_code == 400, (password, response.get_data(as_text=True))
        assert rule in response.get_json()["detail"]
    assert session.scalar(select(func.count()).where(User.username == "new-account-01")) == 0
    refused = _refusals(session, "admin.create_user")
    assert len(refused) == len(WEAK)
    assert all(r.username and r.username.endswith("system-admin") for r in refused)
    assert [r.detail["reason"] for r in refused] == [accounts_reason(p) for p, _ in WEAK]
    for row, (password, _) in zip(refused, WEAK, strict=True):
        assert not password.strip() or password.strip() not in str(row.detail)


def accounts_reason(password: str) -> str:
    try:
        accounts.check_password(password, "new-account-01")
    except InvalidInput as exc:
        return exc.detail
    raise AssertionError(password)


def test_a_weak_new_password_is_refused_and_audited(app, make_user, session):
    """The user's own change follows the same policy, and says which rule."""
    user = client_for(app, make_user("auditor", "110101"))
    for password, rule in WEAK[:-1]:
        body = {"current_password": PASSWORD, "new_password": password}
        response = user.post("/api/v1/auth/password", json=body)
        assert response.status_code == 400, password
        assert rule in response.get_json()["detail"]
    refused = _refusals(session, "auth.change_password")
    assert len(refused) == len(WEAK) - 1
    assert refused[0].detail["reason"] == "new_password: at least 12 characters"
    for row, (password, _) in zip(refused, WEAK, strict=False):
        assert not password.strip() or password.strip() not in str(row.detail)


def test_the_command_line_refuses_a_weak_password(runner, session):
    result = runner.invoke(
        args=[
            "gridmap",
            "create-user",
            "cli-user",
            "--role",
            "auditor",
            "--password",
            "password1234",
        ]
    )
    assert result.exit_code != 0
    assert "common" in result.output
    assert session.scalar(select(func.count()).where(User.username == "cli-user")) == 0


def test_refused_reads_are_audited_too(login_as, anonymous, session):
    """Access-control failures of reads: a member at the audit log (403), no token (401)."""
    assert login_as("member").get("/api/v1/audit").status_code == 403
    assert anonymous.get("/api/v1/requests").status_code == 401
    denied = {
        (r.action, r.detail["status"], r.username is None)
        for r in session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied"))
    }
    assert ("admin.search_audit", 403, False) in denied
    assert ("requests.list_requests", 401, True) in denied
