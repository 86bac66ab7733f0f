"""The set-up's private cluster archives its WAL to pgBackRest, also when it predates backups."""

from __future__ import annotations

import re

from tests.ops.conftest import Private, throwaway

ARCHIVE_BLOCK = re.compile(r"# WAL archiving.*?archive_timeout = \d+\n", re.S)


def _state(private: Private) -> tuple[str, str, str]:
    """archive_mode, archive_command and the postmaster's start time."""
    mode, command, started = private.psql(
        "SHOW archive_mode; SHOW archive_command; SELECT pg_postmaster_start_time()"
    )
    return mode, command, started


def test_an_older_cluster_gets_archiving_once_and_a_new_one_has_it():
    with throwaway() as private:
        first = private.setup_function("start_private_cluster")
        assert "Creating the pgBackRest stanza 'gridmap'" in first.stderr
        mode, command, _ = _state(private)
        assert mode == "on" and f"--config={private.root}/pgbackrest/pgbackrest.conf" in command

        # As set up before backups existed: no archive settings.
        conf = private.data / "postgresql.conf"
        conf.write_text(ARCHIVE_BLOCK.sub("", conf.read_text()))
        private.pg_ctl("-m", "fast", "-w", "restart", "-l", str(private.data / "server.log"))
        assert _state(private)[0] == "off"

        upgraded = private.setup_function("start_private_cluster")
        assert "Enabling WAL archiving" in upgraded.stderr
        assert "Creating the pgBackRest stanza" not in upgraded.stderr
        mode, _, started = _state(private)
        assert mode == "on"

        again = private.setup_function("start_private_cluster")
        assert again.stderr == ""
        assert _state(private)[2] == started
        private.setup_function("pgbackrest_as_postgres check")
