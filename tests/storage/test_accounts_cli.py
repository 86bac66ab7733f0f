"""Account commands on the server: the only way to make administrators; every one audited."""

from __future__ import annotations

from sqlalchemy import select

from gridmap.storage.models import AuditEntry, User
from tests.conftest import COMMUNITY


def _audit_actions(session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_create_user_and_reset_password(runner, session, small_grid):
    made = runner.invoke(
        args=[
            "gridmap",
            "create-user",
            "Zhang.San",
            "--role",
            "chief",
            "--scope",
            COMMUNITY,
            "--password",
            "first-password",
        ],
    )
    assert made.exit_code == 0, made.output
    user = session.scalar(select(User).where(User.username == "zhang.san"))
    assert (user.role, user.scope_code) == ("chief", COMMUNITY)
    reset = runner.invoke(
        args=["gridmap", "reset-password", "zhang.san", "--password", "second-password"]
    )
    assert reset.exit_code == 0, reset.output
    assert _audit_actions(session)[-2:] == ["user.create", "user.password"]


def test_create_user_refuses_bad_input_and_writes_nothing(runner, session):
    cases = [
        ["bad name!", "--role", "chief", "--scope", COMMUNITY],
        ["wang", "--role", "chief"],  # a chief needs a scope
        ["wang", "--role", "member"],  # a member needs a person
        ["wang", "--role", "chief", "--scope", "12345"],
    ]
    for args in cases:
        result = runner.invoke(args=["gridmap", "create-user", *args, "--password", "long-enough"])
        assert result.exit_code == 1 and "error:" in result.output, (args, result.output)
    # Only the migrations' accounts: the scheduler's (0016), the public channel's (0023).
    assert sorted(session.scalars(select(User.username))) == ["public", "system"]
    assert _audit_actions(session) == []


def test_administrators_are_made_on_the_server(runner, session):
    result = runner.invoke(
        args=[
            "gridmap",
            "create-user",
            "audit-boss",
            "--role",
            "audit_admin",
            "--password",
            "long-enough-now",
        ],
    )
    assert result.exit_code == 0, result.output
    assert session.scalar(select(User.role).where(User.username == "audit-boss")) == "audit_admin"


def test_imports_are_audited(runner, session, tmp_path, small_grid):
    path = tmp_path / "people.csv"
    path.write_text("id,name,phone,kind\n1,王五,13900000000,party_member\n")
    assert runner.invoke(args=["gridmap", "import-people", str(path)]).exit_code == 0
    row = session.execute(
        select(AuditEntry.action, AuditEntry.username, AuditEntry.detail).order_by(
            AuditEntry.id.desc()
        )
    ).first()
    assert row.action == "import.people" and row.username.startswith("cli:")
    assert row.detail["written"] == 1
