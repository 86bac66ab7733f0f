"""Rate limits shared by processes and hosts through Redis, and no 500 when Redis goes away.

Two gunicorn servers of one worker each stand for two hosts. Both count in the private Redis
that ``./scripts/run`` starts (``start_private_redis`` of ``scripts/_setup.sh``, here under a
directory of its own), with the public channel's read limit lowered to N a minute per address
(a read: the servers write nothing into the session's test database). N requests split between
the servers pass and the next is refused 429 by either. Then ``./scripts/stop-db`` stops Redis:
nothing answers 500, readiness says the store is unreachable, and each server counts alone (the
limiter's in-memory fallback, the storage of ``memory://``), so the same N + 1 requests split
between them all pass: the contrast showing that the shared count is what refused. The limit
still holds within one server.
"""

from __future__ import annotations

import redis

from tests.resilience.conftest import (
    call,
    server_errors_logged,
    spawn_gunicorn,
    stop_server,
    until_ready,
)

LIMIT = 4
LIMITED = "/api/v1/public/categories"


def _statuses(bases: list[str], count: int) -> list[int]:
    """``count`` limited reads, sent to the servers in turn."""
    return [call(bases[n % len(bases)], "GET", LIMITED).status for n in range(count)]


def test_servers_share_their_counts_and_serve_on_when_redis_goes(
    private_redis, database_urls, tmp_path
):
    started = private_redis.start()
    uri = started.stdout
    assert uri == f"redis+unix://{private_redis.socket}"
    assert "Starting Redis" in started.stderr
    assert private_redis.start().stdout == uri  # once: a second start finds it answering
    with redis.Redis(unix_socket_path=str(private_redis.socket)) as store:
        assert store.config_get("port") == {"port": "0"}  # no TCP: the 0700 socket only
    assert (private_redis.socket.parent.stat().st_mode & 0o777) == 0o700

    env = {
        "GRIDMAP_RATELIMIT_STORAGE_URI": uri,
        "GRIDMAP_PUBLIC_READ_RATE_LIMIT": f"{LIMIT}/minute",
    }
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    servers = [spawn_gunicorn(database_urls[1], log, workers=1, extra_env=env) for log in logs]
    try:
        bases = [
            until_ready(p, base, "gunicorn", log)
            for (p, base), log in zip(servers, logs, strict=True)
        ]
        for base in bases:
            answer = call(base, "GET", "/api/v1/ready")
            assert (answer.status, answer.json()["rate_limit_store"]) == (200, "ok")

        assert _statuses(bases, LIMIT) == [200] * LIMIT
        for base in bases:  # either server refuses the next: it sees the other's requests
            refused = call(base, "GET", LIMITED)
            assert refused.status == 429
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert refused.json()["status"] == 429
            assert int(refused.headers["Retry-After"]) > 0

        private_redis.stop()
        assert not private_redis.socket.exists()
        for base in bases:
            answer = call(base, "GET", "/api/v1/ready")
            assert answer.status == 200
            assert answer.json() == {
                "status": "degraded",
                "database": "ok",
                "rate_limit_store": "unreachable",
            }
        # Counted apart, the traffic that was refused passes: 3 to the first, 2 to the second.
        assert _statuses(bases, LIMIT + 1) == [200] * (LIMIT + 1)
        # Each server still holds the limit for what it sees alone.
        first, second = bases
        assert [call(first, "GET", LIMITED).status for _ in range(2)] == [200, 429]
        assert call(second, "GET", LIMITED).status == 200
    finally:
        for process, _ in servers:
            stop_server(process)
    for log in logs:
        assert server_errors_logged(log) == [], log.read_text()
