"""Benchmark: the memory of the process serving ``GET /api/v1/households.csv``, streamed from a
server-side cursor, against the old fully-buffered export of the same rows, in the same run.

The demo district is loaded with ``--households`` households (default 200,000: whole
communities until they hold that many) into a database of its own. Each export is served by a
fresh server process (the app under werkzeug, one thread), which first answers a warm-up
export of a few rows (so imports and pools are counted in the baseline); then the whole
district is exported as ``demo-auditor`` (scope: the whole demo) and read by the client in
64 KiB chunks, never kept. The server's peak RSS (``VmHWM``) is read from ``/proc`` before and
after. The baseline is the same export built as the endpoint built it before streaming
(pages of 5,000 rows from ``list_households``, the whole CSV joined into one string), served
by the same kind of process at ``/bench/households-buffered.csv``.

Run it through ./scripts/bench (which sets up the database): ``./scripts/bench exports``;
``--reuse`` keeps an already loaded database.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, make_url, select
from sqlalchemy.orm import Session

DATABASE = "gridmap_bench_exports"
ROOT = Path(__file__).resolve().parents[1]
#: Most a streamed export may grow its process over the warm-up, whatever the rows: the
#: server-side cursor's batches and one CSV line (bounded memory, issue 13).
BOUNDED_MB = 16
USER = "demo-auditor"
#: The few rows of the warm-up export (a bbox around one point of the demo).
WARM_UP = "/api/v1/households.csv?bbox=116.40,39.90,116.401,39.901"
STREAMED = "/api/v1/households.csv"
BUFFERED = "/bench/households-buffered.csv"


# ----------------------------------------------------------------------------- the server


def _buffered_route(app: Any) -> None:
    """The export as it was before streaming, for the baseline (same rows, same cells)."""
    from flask import Response

    from gridmap.access.auth import EXPORT
    from gridmap.access.security import caller, requires
    from gridmap.api import serializers
    from gridmap.api.personal import _EXPORT_ROWS, HOUSEHOLD_COLUMNS
    from gridmap.core.cells import csv_lines
    from gridmap.core.db import get_session
    from gridmap.storage import households

    @requires(EXPORT)
    def buffered() -> Response:
        session, who = get_session(), caller()

        def rows() -> Any:
            after, sent = None, 0
            while sent < _EXPORT_ROWS:
                page = households.list_households(
                    session, limit=5000, after_id=after, scope=who.scope
                )
                yield from (serializers.household_cells(r, who.disclosure) for r in page.rows)
                sent += len(page.rows)
                if page.next_cursor is None:
                    return
                after = int(page.next_cursor)

        body = "".join(csv_lines(HOUSEHOLD_COLUMNS, rows()))
        return Response(body, mimetype="text/csv")

    app.add_url_rule(BUFFERED, "bench_buffered", buffered)


def serve(port: int) -> None:
    """The app on ``port`` (``GRIDMAP_DATABASE_URL``), one request at a time."""
    from werkzeug.serving import make_server

    from gridmap import create_app
    from gridmap.core.settings import Settings

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(Settings.from_env())
    _buffered_route(app)
    make_server("127.0.0.1", port, app, threaded=False).serve_forever()


# ----------------------------------------------------------------------------- the client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def _get(base: str, path: str, token: str) -> tuple[int, int, float, float, str]:
    """Bytes and lines read, seconds to the first byte and in all, the body's SHA-256."""
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    start = time.perf_counter()
    size = lines = 0
    first = None
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=600) as response:
        while chunk := response.read(65536):
            first = first or time.perf_counter() - start
            size += len(chunk)
            lines += chunk.count(b"\n")
            digest.update(chunk)
    return size, lines, first or 0.0, time.perf_counter() - start, digest.hexdigest()


def measure(url: str, token: str, path: str) -> dict[str, Any]:
    """Serve ``path`` from a fresh server process; its peak RSS before and after (MB)."""
    port = _free_port()
    env = os.environ | {"GRIDMAP_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                _get(base, "/api/v1/health", token)
                break
            except OSError:
                time.sleep(0.2)
        _get(base, WARM_UP, token)
        warm = _kib(process.pid, "VmHWM") / 1024
        size, lines, first, total, digest = _get(base, path, token)
        peak = _kib(process.pid, "VmHWM") / 1024
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "warm": warm,
        "peak": peak,
        "mb": size / 1e6,
        "rows": lines - 1,
        "first": first,
        "total": total,
        "sha256": digest,
    }


def _load(args: argparse.Namespace) -> str:
    from gridmap.core import db
    from gridmap.core.settings import Settings
    from gridmap.demo import loader as demo
    from gridmap.storage.models import Household

    settings = Settings.from_env()
    url = make_url(settings.migrate_database_url).set(database=DATABASE)
    owner = url.render_as_string(hide_password=False)
    if not args.reuse:
        start = time.perf_counter()
        owner = db.create_database(settings.migrate_database_url, DATABASE)
        engine = create_engine(owner)
        with Session(engine) as session:
            demo.load(session, households=args.households, seed=7, settings=settings)
            session.commit()
        engine.dispose()
        print(f"demo district loaded in {time.perf_counter() - start:.0f} s")
    engine = create_engine(owner)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(Household))
    engine.dispose()
    print(f"demo district: {count:,} households")
    app_url = make_url(settings.database_url).set(database=DATABASE)
    return app_url.render_as_string(hide_password=False)


def _token(url: str) -> str:
    from gridmap.access import auth
    from gridmap.core.settings import Settings

    engine = create_engine(url)
    with Session(engine) as session:
        settings = Settings.from_env()
        origin = auth.Origin("127.0.0.1", "bench")
        _, token = auth.login(
            session, USER, settings.demo_password, kind="bearer", settings=settings, origin=origin
        )
    engine.dispose()
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    url = _load(args)
    token = _token(url)
    print(f"GET /api/v1/households.csv as {USER}, each from a fresh server process")
    cases = (("streamed", STREAMED), ("buffered", BUFFERED))
    found = {name: measure(url, token, path) for name, path in cases}
    for name, m in found.items():
        label = "streamed (server-side cursor)" if name == "streamed" else "baseline: buffered"
        print(
            f"  {label:30} {m['rows']:>9,} rows {m['mb']:6.1f} MB  first byte {m['first']:6.2f} s"
            f"  all {m['total']:6.1f} s  peak RSS {m['peak']:6.0f} MB"
            f" (after warm-up {m['warm']:.0f} MB, +{m['peak'] - m['warm']:.0f} MB)"
        )
    s, b = found["streamed"], found["buffered"]
    print(f"  same bytes: {'yes (meets)' if s['sha256'] == b['sha256'] else 'NO (MISSES)'}")
    growth = (b["peak"] - b["warm"]) / max(s["peak"] - s["warm"], 1)
    print(
        f"  peak RSS streamed / buffered: {s['peak'] / b['peak']:.2f}x; growth over warm-up "
        f"buffered / streamed: {growth:.0f}x; time to first byte buffered / streamed: "
        f"{b['first'] / max(s['first'], 1e-3):.0f}x"
    )
    grown = s["peak"] - s["warm"]
    print(
        f"  target (issue 13): big exports stream with bounded memory, read here as growth over "
        f"warm-up of at most {BOUNDED_MB} MB whatever the rows: +{grown:.0f} MB for "
        f"{s['rows']:,} rows {'meets' if grown <= BOUNDED_MB else 'MISSES'}"
    )


if __name__ == "__main__":
    main()
