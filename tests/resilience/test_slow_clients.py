"""The slow-client drill: 50 connections that send a byte a second do not stop the service.

nginx (``deploy/nginx.conf``, as ``./scripts/run`` serves) reads requests at the client's
pace and hands gunicorn only whole ones; without it, gunicorn's 16 threads were held by the
first 16 slow clients and the probes timed out.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from tests.resilience.conftest import Deployment, call, start_nginx, stop_server

SLOW_CLIENTS = 50
DRILL_SECONDS = 20
PROBE_INTERVAL = 0.2


@pytest.fixture(scope="module")
def front(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    upstream = deployment.base_url.removeprefix("http://")
    process, base = start_nginx(upstream, tmp_path_factory.mktemp("nginx"))
    yield base
    stop_server(process)


def _trickle(port: int, stop: threading.Event, body: bool) -> None:
    """Send a request a byte a second; when the server gives up on us, start again."""
    head = b"GET /api/v1/ready HTTP/1.1\r\nHost: drill\r\nX-Slow: "
    if body:
        head = b"POST /api/v1/auth/token HTTP/1.1\r\nHost: drill\r\nContent-Length: 500\r\n\r\n"
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(head)
                while not stop.wait(1.0):
                    s.sendall(b"a")
        except OSError:
            stop.wait(0.5)  # cut off (408) or refused: the drill keeps pressing


def test_fifty_byte_a_second_clients_do_not_stop_the_probe(front: str) -> None:
    port = int(front.rsplit(":", 1)[1])
    stop = threading.Event()
    slow = [
        threading.Thread(target=_trickle, args=(port, stop, n % 2 == 1), daemon=True)
        for n in range(SLOW_CLIENTS)
    ]
    for thread in slow:
        thread.start()
    time.sleep(2)  # every slow client is connected and holding on
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + DRILL_SECONDS
    try:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                answer = call(front, "GET", "/api/v1/ready", timeout=5)
                if answer.status != 200:
                    failures.append(f"HTTP {answer.status}")
            except OSError as exc:
                failures.append(repr(exc))
            latencies.append(time.monotonic() - started)
            time.sleep(PROBE_INTERVAL)
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert failures == []
    assert p99 < 1.0, f"p99 {p99:.3f} s over {len(latencies)} probes"
