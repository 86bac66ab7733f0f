"""The private cluster is not open to every local user.

Must hold on a cluster the set-up built, migrated as the owner role: no ``trust`` in
pg_hba.conf; over TCP every role needs its password (kept in a 0600 password file, never in a
URL), ``postgres`` gets in only by peer over the socket; ``gridmap`` is no superuser and cannot
create roles; ``gridmap_app`` cannot UPDATE or DELETE the audit log. A cluster set up before
passwords (trust, a superuser owner, no password file) is brought to the same state by the
next set-up, once, and left alone after. ``./scripts/run``'s secret key is made once, 0600.
"""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from gridmap.core.settings import DEVELOPMENT_SECRET_KEY, Settings
from tests.ops.conftest import ROOT, Private, connect, throwaway

ROLES = ("gridmap", "gridmap_app")


def _head() -> str:
    """The newest migration's revision."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()
    assert head
    return head


def _refused(url: str) -> str:
    """The error of a connection to ``url`` that must fail."""
    engine = create_engine(url)
    try:
        with pytest.raises(OperationalError) as refused, engine.connect():
            pass
    finally:
        engine.dispose()
    return str(refused.value.orig)


def _without_passfile(url: str, passfile: Path) -> str:
    """``url`` with an empty password file: libpq has no password to offer."""
    passfile.touch(mode=0o600)
    return make_url(url).update_query_dict({"passfile": str(passfile)}).render_as_string()


def test_the_password_file_is_the_owners_alone_and_holds_each_role(private: Private):
    mode = private.passfile.stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    lines = [line for line in private.passfile.read_text().splitlines() if line[:1] != "#"]
    assert {line.split(":")[3] for line in lines} == set(ROLES)
    assert all(len(line.split(":")[4]) >= 40 for line in lines)


@pytest.mark.parametrize("role", ROLES)
def test_tcp_needs_the_password(private: Private, role: str, engines, tmp_path: Path):
    error = _refused(_without_passfile(private.url(role), tmp_path / "empty"))
    assert "no password supplied" in error
    wrong = make_url(private.url(role)).set(password="not-the-password")
    assert "password authentication failed" in _refused(wrong.render_as_string(False))
    with connect(engines, private.url(role)).connect() as conn:
        assert conn.scalar(text("SELECT current_user")) == role


def test_postgres_gets_in_by_peer_over_the_socket_only(private: Private, tmp_path: Path):
    url = _without_passfile(private.url("postgres", database="postgres"), tmp_path / "empty")
    assert "no password supplied" in _refused(url)
    assert private.psql("SELECT current_user") == ["postgres"]


def test_no_connection_is_trusted(private: Private):
    rules = private.psql(
        "SELECT concat_ws(' ', type, array_to_string(database, ','),"
        " array_to_string(user_name, ','), address, auth_method, array_to_string(options, ','))"
        " FROM pg_hba_file_rules ORDER BY line_number"
    )
    assert rules == [
        "local all postgres peer map=cluster",
        "local replication postgres peer map=cluster",
        "local all all scram-sha-256",
        "host all all 127.0.0.1 scram-sha-256",
        "host all all ::1 scram-sha-256",
    ]
    [stored] = private.psql(
        "SELECT string_agg(rolname || '=' || left(rolpassword, 14), ' ' ORDER BY rolname)"
        " FROM pg_authid WHERE rolname IN ('postgres', 'gridmap', 'gridmap_app')"
    )
    assert stored == "gridmap=SCRAM-SHA-256$ gridmap_app=SCRAM-SHA-256$"


def test_the_owner_is_no_superuser_and_migrated_everything(private: Private, engines):
    owner = connect(engines, private.url("gridmap"))
    with owner.connect() as conn:
        super_, createrole, createdb = conn.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
                " WHERE rolname = current_user"
            )
        ).one()
        assert (super_, createrole, createdb) == (False, False, True)
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == _head()
        assert (
            conn.scalar(
                text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'audit_log'")
            )
            == "gridmap"
        )
        assert conn.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"))
        with pytest.raises(ProgrammingError) as refused:
            conn.execute(text("CREATE ROLE gridmap_probe"))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
        conn.rollback()
        with pytest.raises(ProgrammingError) as refused:
            conn.execute(text("COPY (SELECT 1) TO PROGRAM 'true'"))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET outcome = 'failed'", "DELETE FROM audit_log"]
)
def test_the_app_role_cannot_rewrite_the_audit_log(private: Private, engines, statement: str):
    with connect(engines, private.url("gridmap_app")).connect() as conn:
        with pytest.raises(ProgrammingError) as refused:
            conn.execute(text(statement))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


#: The cluster as the set-up before passwords left it: initdb -A trust's pg_hba.conf.
OLD_HBA = """\
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
"""


def test_a_cluster_set_up_before_passwords_is_secured_once():
    with throwaway() as private:
        private.setup_function("start_private_cluster")
        # Back to the old set-up's state: trust, a superuser owner, no passwords nor their file,
        # the extensions only where the migrations (as superuser) created them.
        (private.data / "pg_hba.conf").write_text(OLD_HBA)
        private.psql(
            "ALTER ROLE gridmap SUPERUSER NOCREATEDB PASSWORD NULL;"
            " ALTER ROLE gridmap_app PASSWORD NULL; REVOKE pg_signal_backend FROM gridmap"
        )
        private.psql("DROP EXTENSION pgrouting, postgis, btree_gist, pg_trgm", database="template1")
        private.passfile.unlink()
        _, started = private.psql("SELECT pg_reload_conf(); SELECT pg_postmaster_start_time()")
        assert (
            private.psql("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'")[0]
            == "5"
        )

        upgraded = private.setup_function("start_private_cluster").stderr
        for step in (
            "Requiring passwords (scram-sha-256)",
            "Making the owner role gridmap an ordinary one",
            "Setting the passwords of gridmap and gridmap_app",
            "Creating the extensions postgis btree_gist pg_trgm pgrouting in template1",
        ):
            assert step in upgraded
        assert private.psql("SELECT pg_postmaster_start_time()") == [started]  # a reload only
        assert stat.S_IMODE(private.passfile.stat().st_mode) == 0o600
        assert private.psql(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = 'gridmap';"
            " SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'"
        ) == ["f|t", "0"]
        engine = create_engine(private.url("gridmap", database="template1"))
        try:
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT count(*) FROM pg_extension")) == 5
        finally:
            engine.dispose()

        assert private.setup_function("start_private_cluster").stderr == ""


def test_run_makes_its_secret_key_once_and_keeps_it_to_the_owner():
    with throwaway() as place:
        show = 'use_secret_key; printf %s "$GRIDMAP_SECRET_KEY"'
        first = place.setup_function(show)
        assert "Making a secret key" in first.stderr
        key = first.stdout
        assert len(key) == 64 and key != DEVELOPMENT_SECRET_KEY
        assert (place.root / "secret_key").read_text().strip() == key
        assert stat.S_IMODE((place.root / "secret_key").stat().st_mode) == 0o600
        again = place.setup_function(show)
        assert (again.stdout, again.stderr) == (key, "")
        given = place.run(
            "env",
            "GRIDMAP_SECRET_KEY=given-by-the-operator",
            "bash",
            "-c",
            f"source scripts/_setup.sh; {show}",
        )
        assert given.stdout == "given-by-the-operator"
        assert Settings(env="production", secret_key=key).secret_key == key
