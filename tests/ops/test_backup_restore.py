"""Backups that restore: a full backup, then a restore onto a new directory (the latest state,
or a point in time), as ``scripts/backup`` and ``scripts/restore`` do it for an operator.

Must hold: the restored cluster runs the app (its role logs in, its user logs in over the API),
every table of the public schema is identical (row counts and row checksums), the audit log is
still append-only for the app role; a point-in-time restore between two writes keeps the first
and not the second. Durations are printed (``-s``) for the README.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import psycopg.errors
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from gridmap import create_app
from gridmap.access import accounts, audit, auth
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.grid import ingest
from tests.conftest import COMMUNITY, PASSWORD, small_grid_frame
from tests.ops.conftest import Private, connect, throwaway
from tests.resilience.conftest import free_port


def _settings(private: Private, port: int | None = None) -> Settings:
    return Settings(
        database_url=private.url("gridmap_app", port),
        migrate_database_url=private.url("gridmap", port),
        basemap_crs="none",
    )


@pytest.fixture(scope="module")
def loaded(private: Private) -> Private:
    """The cluster with a small grid, a street administrator, a login and audit rows; backed up."""
    settings = _settings(private)
    engine = create_engine(settings.database_url)
    with Session(engine) as session:
        ingest.import_grids(session, small_grid_frame(), "EPSG:4490", settings)
        user = accounts.create_user(session, "ops-admin", PASSWORD)
        accounts.grant_role(session, user.id, "street_admin", scope_code=COMMUNITY[:9])
        audit.record(session, "ops.loaded", username="ops-admin", detail={"n": 1})
        session.commit()
        auth.login(
            session, "ops-admin", PASSWORD, kind="bearer", settings=settings, origin=auth.Origin()
        )
        session.commit()
    engine.dispose()
    backup = private.run("scripts/backup")
    print(f"\nfull backup: {backup.seconds:.1f} s")
    assert "full backup:" in backup.stdout
    return private


def _tables(engine: Engine) -> dict[str, tuple[int, str | None]]:
    """Each public table's row count and a checksum over its rows' text, in a stable order."""
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        names = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).all()
        return {
            name: tuple(
                conn.execute(
                    text(
                        f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) "
                        f"FROM {quote(name)} t"
                    )
                ).one()
            )
            for name in names
        }


def _restore(private: Private, *target: str) -> tuple[int, float]:
    port = free_port()
    done = private.run(
        "scripts/restore", str(private.root / f"restored-{port}"), str(port), *target
    )
    assert done.stdout.strip().endswith(f"@127.0.0.1:{port}/gridmap?passfile={private.passfile}")
    return port, done.seconds


@pytest.fixture(scope="module")
def restored(loaded: Private) -> int:
    """The port of a copy restored to the latest state archived."""
    loaded.archive_wal()
    port, seconds = _restore(loaded)
    print(f"\nrestore of the latest state: {seconds:.1f} s")
    return port


def test_a_restored_cluster_is_identical_and_runs_the_app(loaded: Private, restored: int, engines):
    original = _tables(connect(engines, loaded.url("gridmap")))
    copy = _tables(connect(engines, loaded.url("gridmap", restored)))
    assert {"grid", "app_user", "audit_log", "auth_session"} <= original.keys()
    assert original["grid"][0] == 7 and original["audit_log"][0] >= 1
    assert copy == original

    app = create_app(_settings(loaded, restored))
    try:
        _log_in_and_read_the_grid(app.test_client())
    finally:
        db.dispose(app)


def _log_in_and_read_the_grid(client: FlaskClient) -> None:
    answer = client.post("/api/v1/auth/token", json={"username": "ops-admin", "password": PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    token = answer.get_json()["token"]
    grid = client.get(f"/api/v1/grids/{COMMUNITY}", headers={"Authorization": f"Bearer {token}"})
    assert grid.status_code == 200, grid.get_json()


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET outcome = 'failed'", "DELETE FROM audit_log"]
)
def test_the_audit_log_stays_append_only_after_a_restore(
    loaded: Private, restored: int, engines, statement
):
    app_role = connect(engines, loaded.url("gridmap_app", restored))
    with app_role.connect() as conn:
        assert conn.scalar(text("SELECT current_user")) == "gridmap_app"
        with pytest.raises(ProgrammingError) as refused:
            conn.execute(text(statement))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
        conn.rollback()
        conn.execute(
            text("INSERT INTO audit_log (action, outcome, detail) VALUES ('ops.t', 'ok', '{}')")
        )
        conn.rollback()


def _write(engine: Engine, action: str) -> datetime:
    """Commit one audit row; the database's time just after the commit."""
    with Session(engine) as session:
        audit.record(session, action, username="ops-admin")
        session.commit()
        after: datetime = session.scalar(text("SELECT clock_timestamp()"))
    return after


def test_point_in_time_recovery_keeps_the_first_write_and_not_the_second(loaded: Private, engines):
    app_role = connect(engines, loaded.url("gridmap_app"))
    between = _write(app_role, "ops.pitr.a")
    time.sleep(0.5)
    _write(app_role, "ops.pitr.b")
    loaded.archive_wal()
    port, seconds = _restore(loaded, "--target", str(between))
    print(f"\npoint-in-time restore: {seconds:.1f} s")
    restored = connect(engines, loaded.url("gridmap", port))
    with restored.connect() as conn:
        actions = set(
            conn.scalars(text("SELECT action FROM audit_log WHERE action LIKE 'ops.pitr.%'"))
        )
    assert actions == {"ops.pitr.a"}


def test_a_new_server_restores_as_primary_and_archives_again(loaded: Private, engines):
    loaded.archive_wal()
    with throwaway() as server:
        shutil.copytree(loaded.root / "backups", server.root / "backups", symlinks=True)
        done = server.run("scripts/restore", "--primary")
        print(f"\nrestore as a new primary: {done.seconds:.1f} s")
        original = _tables(connect(engines, loaded.url("gridmap")))
        assert _tables(connect(engines, server.url("gridmap"))) == original
        assert server.setup_function("start_private_cluster").stderr == ""
        backup = server.run("scripts/backup")
        assert "full backup:" in backup.stdout
        for engine in engines:
            engine.dispose()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--target", "not a time"], "is not a time"),
        (["--target", "2001-01-01 00:00:00+08"], "before the end of the oldest backup"),
        (["--target", "2999-01-01 00:00:00+08"], "is in the future"),
    ],
)
def test_restore_refuses_a_bad_target_time(loaded: Private, arguments, message):
    done = loaded.run(
        "scripts/restore", str(loaded.root / "never"), "54999", *arguments, check=False
    )
    assert done.returncode != 0 and message in done.stderr
    assert not (loaded.root / "never").exists()


def test_backup_and_restore_refuse_a_missing_repository_or_stanza(private: Private, tmp_path: Path):
    for repository, message in [
        (tmp_path / "none", "no backup repository"),
        (tmp_path, "no stanza"),
    ]:
        where = f"GRIDMAP_BACKUP_DIR={repository}"
        backup = private.run("env", where, "scripts/backup", check=False)
        copy = str(tmp_path / "copy")
        restore = private.run("env", where, "scripts/restore", copy, "54999", check=False)
        assert backup.returncode == 1 and message in backup.stderr
        assert restore.returncode == 1 and message in restore.stderr
