"""Passwords of the private cluster's roles, for ``scripts/_setup.sh`` and ``scripts/restore``.

The passwords live in one file only, ``var/pgpass`` (libpq's password file format, mode 0600),
which the set-up exports as ``PGPASSFILE``: URLs, command lines and logs never carry them. The
server is given SCRAM-SHA-256 verifiers computed here, never the passwords themselves, so not
even a failed ``ALTER ROLE`` logged by PostgreSQL shows one.

    cluster_passwords.py passfile PATH   create PATH, or add the roles it lacks (no output)
    cluster_passwords.py alter PATH      read "role|rolpassword" lines (pg_authid, as postgres)
                                         on stdin; print an ALTER ROLE for each role whose
                                         stored verifier does not match its password in PATH

Standard library only: it runs before and without the virtualenv.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import tempfile
from pathlib import Path

#: The roles the private cluster's clients log in as (the owner, and the application's).
ROLES = ("gridmap", "gridmap_app")
#: Hosts the passwords are offered to: the cluster listens on 127.0.0.1 only (``localhost`` for
#: a client that names it so). Any port: a restored copy runs on a port of its own.
HOSTS = ("127.0.0.1", "localhost")
ITERATIONS = 4096


def read_passwords(path: Path) -> dict[str, str]:
    """Role → password from a password file written by :func:`ensure_passfile`."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 5 and not line.startswith("#"):
            found.setdefault(fields[3], fields[4])
    return found


def ensure_passfile(path: Path) -> None:
    """Create ``path`` (mode 0600) with a random password for each role it does not hold yet.

    Existing passwords are kept; the file is rewritten only when a role was missing, and is
    replaced atomically so that a reader never sees half of it.
    """
    passwords = read_passwords(path)
    missing = [role for role in ROLES if role not in passwords]
    if missing:
        # token_urlsafe: letters, digits, - and _, nothing libpq would need escaped.
        passwords.update({role: secrets.token_urlsafe(32) for role in missing})
        lines = [f"{host}:*:*:{role}:{passwords[role]}" for role in ROLES for host in HOSTS]
        text = "# Written by scripts/_setup.sh: the private cluster's passwords.\n"
        text += "\n".join(lines) + "\n"
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".pgpass-")  # mode 0600
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    path.chmod(0o600)  # libpq ignores a password file others may read


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """SCRAM-SHA-256's stored key and server key (RFC 5802, RFC 7677)."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return hashlib.sha256(client_key).digest(), server_key


def verifier(password: str) -> str:
    """The ``rolpassword`` PostgreSQL stores for ``password`` (a fresh random salt)."""
    salt = secrets.token_bytes(16)
    stored, server = _keys(password, salt, ITERATIONS)
    return f"SCRAM-SHA-256${ITERATIONS}:{_b64(salt)}${_b64(stored)}:{_b64(server)}"


def matches(password: str, stored_verifier: str) -> bool:
    """Whether ``stored_verifier`` (``pg_authid.rolpassword``) is one of ``password``."""
    try:
        method, rest = stored_verifier.split("$", 1)
        iterations_salt, keys = rest.split("$")
        iterations, salt = iterations_salt.split(":")
        stored, server = keys.split(":")
        if method != "SCRAM-SHA-256":
            return False
        want = _keys(password, base64.b64decode(salt), int(iterations))
    except ValueError:  # no password, an MD5 hash or anything else: not a match
        return False
    return hmac.compare_digest(_b64(want[0]), stored) and hmac.compare_digest(_b64(want[1]), server)


def alter_statements(path: Path, authid_rows: list[str]) -> list[str]:
    """ALTER ROLE statements for the roles of ``authid_rows`` whose verifier is not current."""
    passwords = read_passwords(path)
    statements = []
    for row in authid_rows:
        role, _, stored = row.partition("|")
        if role in ROLES and not matches(passwords[role], stored):
            statements.append(f"ALTER ROLE {role} PASSWORD '{verifier(passwords[role])}';")
    return statements


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("passfile", "alter"):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[2])
    if argv[1] == "passfile":
        ensure_passfile(path)
    else:
        for statement in alter_statements(path, sys.stdin.read().splitlines()):
            print(statement)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
