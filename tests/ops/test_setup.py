"""The set-up's private cluster archives its WAL to pgBackRest, also when it predates backups."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.ops.conftest import Private, connect, throwaway

ARCHIVE_BLOCK = re.compile(r"# WAL archiving.*?archive_timeout = \d+\n", re.S)


def _state(private: Private, engines) -> tuple[str, str, object]:
    """archive_mode, archive_command and the postmaster's start time."""
    engine = connect(engines, private.url("postgres", database="postgres"))
    with engine.connect() as conn:
        return (
            conn.scalar(text("SHOW archive_mode")),
            conn.scalar(text("SHOW archive_command")),
            conn.scalar(text("SELECT pg_postmaster_start_time()")),
        )


def test_an_older_cluster_gets_archiving_once_and_a_new_one_has_it(engines):
    with throwaway() as private:
        first = private.setup_function("start_private_cluster")
        assert "Creating the pgBackRest stanza 'gridmap'" in first.stderr
        mode, command, _ = _state(private, engines)
        assert mode == "on" and f"--config={private.root}/pgbackrest/pgbackrest.conf" in command
        for engine in engines:
            engine.dispose()

        # As set up before backups existed: no archive settings.
        conf = private.data / "postgresql.conf"
        conf.write_text(ARCHIVE_BLOCK.sub("", conf.read_text()))
        private.pg_ctl("-m", "fast", "-w", "restart", "-l", str(private.data / "server.log"))
        assert _state(private, engines)[0] == "off"

        upgraded = private.setup_function("start_private_cluster")
        assert "Enabling WAL archiving" in upgraded.stderr
        assert "Creating the pgBackRest stanza" not in upgraded.stderr
        mode, _, started = _state(private, engines)
        assert mode == "on"

        again = private.setup_function("start_private_cluster")
        assert again.stderr == ""
        assert _state(private, engines)[2] == started
        private.setup_function("pgbackrest_as_postgres check")
