"""Benchmark: p95 of vector tiles at z12–z16, gridmap's /api/v1/tiles next to tipg.

Serves the app with gunicorn (``deploy/gunicorn.conf.py``: gthread workers, here two) on the
review database (default ``gridmap_review2m``: the Dongcheng demo with 2 M generated
requests), logs in over HTTP (``POST /api/v1/auth/token``) and fetches a random sample of
tiles per zoom, one request at a time, for two areas:

- **street**: ``demo-street`` (a street administrator) over the tiles of its street;
- **demo area**: ``demo-auditor`` (scope: the whole county, so every row) over the whole demo.

Grid tiles are asked for twice: ``cold``, each request made after the grids' revision was
counted up (untimed, as the owner: ``UPDATE change_count``), so that every tile is made; then
``kept``, the same tiles after one untimed pass over them (kept in the workers and in the
private Redis that every worker shares, started as ``./scripts/run`` starts it, its kept tiles
removed at the start).

Next to it, in the same run, tipg (pinned in requirements-bench.txt, installed in its own
``.venv-bench``, created when missing) serves the same tables from the same database under
uvicorn, asked for the same tiles with the same columns and filters: today's grids of the
zoom's level; requests filed in the reviewed month, not merged as duplicates. tipg has no
scope and draws every request at every zoom (its 10 000-feature cap per tile aside), where
gridmap draws counts per grid below z16. Both are asked as a browser asks (``Accept-Encoding:
gzip``), one request to gridmap and then the same tile to tipg, in turn, so both see the same
load on a shared machine; the sizes are those of the tiles as produced, and gzipped. Each row
says whether it meets the project's targets: p95 ≤ 50 ms, and for grid tiles at least 2× as
fast as tipg's at p95 (issue 20). The load (``uptime``) is printed at the start and the end.

Run it through ./scripts/bench (``./scripts/bench tiles``); the database is migrated to
head first when it is behind (migration 0007 adds the tile indexes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import json
import math
import os
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
from sqlalchemy import Engine, create_engine, make_url, text

from gridmap.access import rate_limits
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.grid.tile_cache import SharedTiles
from gridmap.review import service as review
from gridmap.storage import tiles

ROOT = Path(__file__).resolve().parents[1]

BENCH_VENV = ROOT / ".venv-bench"
TARGET_MS = 50.0
#: Grid tiles, kept per scope and grid change count, at least this many times as fast as
#: tipg's at p95 (issue 20).
GRID_TARGET = 2.0
ACCOUNTS = (("street", "demo-street"), ("demo area", "demo-auditor"))
#: States the review counts by default (every state but "duplicate").
TIPG_REQUEST_FILTER = "state <> 'duplicate'"


@dataclass(frozen=True)
class Timed:
    """Latencies (ms) and tile sizes (bytes, raw and gzipped) of one series of requests."""

    ms: np.ndarray
    raw: np.ndarray
    gzipped: np.ndarray

    def p(self, q: float) -> float:
        return float(np.percentile(self.ms, q))


# ------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, path: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"nothing answers {path} on port {port}")


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, ready: str) -> Iterator[None]:
    server = subprocess.Popen(command, cwd=ROOT, env=os.environ | env)
    try:
        wait_until_up(port, ready)
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


def gridmap_server(url: str, port: int, workers: int) -> Iterator[None]:
    # The deployment's settings (gthread workers, which keep a connection alive as uvicorn
    # does; the app loaded before the workers fork), with the benchmark's workers and port.
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    return serving(command, {"GRIDMAP_DATABASE_URL": url}, port, "/api/v1/health")


def bench_python() -> Path:
    """The Python of .venv-bench, created from requirements-bench.txt when missing."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print("creating .venv-bench with tipg (requirements-bench.txt) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "-r", "requirements-bench.txt"]
        subprocess.run(pip, cwd=ROOT, check=True)
    return python


def tipg_server(url: str, port: int) -> Iterator[None]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    env = {
        "DATABASE_URL": plain,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.resident_request", "public.grid"]',
        "TIPG_TILE_BUFFER": str(tiles.BUFFER),  # the same buffer as gridmap's tiles
        "TIPG_TILE_RESOLUTION": str(tiles.EXTENT),
    }
    command = [str(bench_python()), "-m", "uvicorn", "tipg.main:app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--log-level", "warning"]
    return serving(command, env, port, "/collections/public.resident_request")


# ----------------------------------------------------------------------------------- tiles


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def sample_tiles(
    engine: Engine, prefix: str, z: int, samples: int, rng: np.random.Generator
) -> tuple[list[tuple[int, int, int]], int]:
    """``samples`` tiles of zoom ``z`` (drawn with replacement when fewer exist) among those
    holding one of today's grids under ``prefix``; and how many such tiles exist."""
    with engine.connect() as conn:
        w, s, e, n = conn.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Extent(geom)"
                " AS b FROM grid WHERE valid_to IS NULL AND code LIKE :p) AS e"
            ),
            {"p": prefix + "%"},
        ).one()
        x0, y0 = tile_of(w, n, z)
        x1, y1 = tile_of(e, s, z)
        found = conn.execute(
            text(
                "SELECT x, y FROM generate_series(CAST(:x0 AS int), CAST(:x1 AS int)) AS x,"
                " generate_series(CAST(:y0 AS int), CAST(:y1 AS int)) AS y"
                " WHERE EXISTS (SELECT FROM grid WHERE valid_to IS NULL AND code LIKE :p AND"
                " ST_Intersects(geom, ST_Transform(ST_TileEnvelope(CAST(:z AS int), x, y), 4490)))"
            ),
            {"x0": x0, "x1": x1, "y0": y0, "y1": y1, "z": z, "p": prefix + "%"},
        ).all()
    chosen = rng.choice(len(found), size=samples, replace=len(found) < samples)
    return [(z, found[i][0], found[i][1]) for i in chosen], len(found)


def _body(response: http.client.HTTPResponse) -> bytes:
    body = response.read()
    if response.getheader("Content-Encoding") == "gzip":
        return gzip.decompress(body)
    return body


class Client:
    """One keep-alive connection to a server, asking as a browser does (gzip taken)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Accept-Encoding": "gzip"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> tuple[float, bytes]:
        """Milliseconds to the whole answer, and the tile as produced. A connection the
        server closed while idle (gunicorn keeps one 2 s while tipg makes slow tiles) is
        opened again, as a browser would, and the request timed from there."""
        try:
            start = time.perf_counter()
            self.conn.request("GET", path, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()
            start = time.perf_counter()
            self.conn.request("GET", path, headers=self.headers)
            response = self.conn.getresponse()
        body = _body(response)
        ms = (time.perf_counter() - start) * 1000
        if response.status not in (200, 204):
            raise RuntimeError(f"{path} answered {response.status}: {body[:300]!r}")
        return ms, body

    def close(self) -> None:
        self.conn.close()


def _timed(ms: list[float], bodies: list[bytes]) -> Timed:
    raw = [len(b) for b in bodies]
    gzipped = [len(zlib.compress(b, 6)) if b else 0 for b in bodies]
    return Timed(np.array(ms), np.array(raw), np.array(gzipped))


def fetch(client: Client, paths: list[str]) -> Timed:
    answers = [client.get(path) for path in paths]
    return _timed([a[0] for a in answers], [a[1] for a in answers])


def side_by_side(
    ours: Client,
    theirs: Client,
    paths: tuple[list[str], list[str]],
    before: Callable[[], None] | None = None,
) -> tuple[Timed, Timed]:
    """Each tile from gridmap, then the same from tipg, in turn; ``before`` (untimed) runs
    before each of gridmap's requests."""
    mine: list[tuple[float, bytes]] = []
    other: list[tuple[float, bytes]] = []
    for path, their_path in zip(*paths, strict=True):
        if before:
            before()
        mine.append(ours.get(path))
        other.append(theirs.get(their_path))
    return (
        _timed([a[0] for a in mine], [a[1] for a in mine]),
        _timed([a[0] for a in other], [a[1] for a in other]),
    )


def gridmap_paths(layer: str, chosen: list[tuple[int, int, int]], month: str) -> list[str]:
    query = f"?period={month}" if layer == "requests" else ""
    return [f"/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt{query}" for z, x, y in chosen]


def tipg_paths(layer: str, chosen: list[tuple[int, int, int]], month: dt.date) -> list[str]:
    out = []
    for z, x, y in chosen:
        if layer == "grids":
            level = tiles.grid_level(z)
            query = {
                "properties": "code,name,level",
                "filter": f"level = '{level}' AND valid_to IS NULL",
            }
            collection = "public.grid"
        else:
            after = (month + dt.timedelta(days=32)).replace(day=1)
            window = f"{month.isoformat()}T00:00:00+08:00/{after.isoformat()}T00:00:00+08:00"
            query = {
                "properties": "id,category_id,state,created_at",
                "datetime": window,
                "datetime-column": "created_at",
                "filter": TIPG_REQUEST_FILTER,
            }
            collection = "public.resident_request"
        tail = urlencode(query, quote_via=quote)
        out.append(f"/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}?{tail}")
    return out


# ------------------------------------------------------------------------------ the run


def login(port: int, username: str, password: str) -> tuple[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": username, "password": password})
    conn.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    conn.close()
    if "token" not in answer:
        raise RuntimeError(f"cannot log in as {username}: {answer}")
    return answer["token"], answer["user"]["scope"][0]


def migrate_if_behind(owner_url: str) -> None:
    engine = create_engine(owner_url)
    with engine.connect() as conn:
        version = conn.scalar(text("SELECT version_num FROM alembic_version"))
    engine.dispose()
    heads = sorted(p.name[:4] for p in (ROOT / "migrations" / "versions").glob("[0-9]*.py"))
    if version != heads[-1]:
        print(f"migrating the database from {version} to {heads[-1]} ...", flush=True)
        db.migrate(owner_url)


def verdicts(layer: str, ours: Timed, theirs: Timed) -> str:
    """The project's targets for this row, met or missed."""
    said = [f"p95<={TARGET_MS:.0f}ms {'met' if ours.p(95) <= TARGET_MS else 'MISSED'}"]
    if layer != "requests":
        fast = ours.p(95) * GRID_TARGET <= theirs.p(95)
        said.append(f"{GRID_TARGET:.0f}x tipg {'met' if fast else 'MISSED'}")
    return ", ".join(said)


def report(area: str, z: int, layer: str, ours: Timed, theirs: Timed, distinct: int) -> bool:
    """Print one row; whether it meets its targets."""
    ratio = ours.p(95) / theirs.p(95)
    said = verdicts(layer, ours, theirs)
    print(
        f"  {area:9s} z{z:<2d} {layer:8s} {distinct:5d} "
        f"{ours.p(50):7.1f} {ours.p(95):7.1f} {ours.ms.max():7.1f} "
        f"{ours.raw.mean() / 1024:7.1f} {ours.gzipped.mean() / 1024:6.1f}   "
        f"{theirs.p(50):7.1f} {theirs.p(95):7.1f} {theirs.raw.mean() / 1024:8.1f} "
        f"{theirs.gzipped.mean() / 1024:6.1f}   {ratio:5.2f}x  {said}",
        flush=True,
    )
    return "MISSED" not in said


def load() -> str:
    """The load averages (1, 5, 15 minutes), as ``uptime`` prints them."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def forget_kept_tiles(uri: str | None) -> int:
    """Remove the grid tiles kept in Redis by earlier runs; how many there were."""
    if not uri or not rate_limits.is_shared(uri):
        return 0
    return SharedTiles(uri).clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="gridmap_review2m")
    parser.add_argument("--samples", type=int, default=200, help="tiles per zoom and area")
    parser.add_argument("--zooms", default="12,13,14,15,16")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--month", help="YYYY-MM reviewed (default: last month, as the page)")
    parser.add_argument("--password", default=os.environ.get("GRIDMAP_DEMO_PASSWORD"))
    args = parser.parse_args()

    settings = Settings.from_env()
    app_url = make_url(settings.database_url).set(database=args.database)
    owner_url = make_url(settings.migrate_database_url).set(database=args.database)
    migrate_if_behind(owner_url.render_as_string(hide_password=False))
    url = app_url.render_as_string(hide_password=False)
    engine = create_engine(url)
    label = args.month or review.last_month()
    month = dt.date.fromisoformat(label + "-01")
    zooms = [int(z) for z in args.zooms.split(",")]
    password = args.password or settings.demo_password
    rng = np.random.default_rng(12)
    ports = free_port(), free_port()
    uri = os.environ.get("GRIDMAP_RATELIMIT_STORAGE_URI")
    forgotten = forget_kept_tiles(uri)
    owner = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    owner_conn = owner.connect()

    def new_revision() -> None:  # as a grid's write would: every kept tile is stale
        owner_conn.execute(text("UPDATE change_count SET n = n + 1 WHERE name = 'grid'"))

    print(f"vector tiles of {args.database}, requests of {label}, {args.samples} tiles per zoom")
    print(
        f"kept grid tiles shared in {uri or 'no Redis (memory://: each worker keeps its own)'}"
        f" ({forgotten} left by earlier runs removed); load at start {load()}"
    )
    met = total = 0
    with gridmap_server(url, ports[0], args.workers), tipg_server(url, ports[1]):
        for area, username in ACCOUNTS:
            token, prefix = login(ports[0], username, password)
            ours, theirs = Client(ports[0], token), Client(ports[1])
            print(
                f"\n{area}: {username} (scope {prefix}); gridmap (gunicorn gthread, {args.workers} "
                "workers) | tipg (uvicorn); ms, KiB per tile (raw, gzip)"
            )
            print(
                "  area      zoom layer    tiles  p50     p95     max     KiB    gzip  "
                "    tipg p50  p95     KiB      gzip    p95 ratio  targets"
            )
            floor = fetch(ours, ["/api/v1/auth/me"] * args.samples)
            health = fetch(theirs, ["/healthz"] * args.samples)
            print(
                f"  floor: gridmap GET /api/v1/auth/me (login only) p50 {floor.p(50):.1f} "
                f"p95 {floor.p(95):.1f} ms; tipg GET /healthz p50 {health.p(50):.1f} "
                f"p95 {health.p(95):.1f} ms"
            )
            for z in zooms:
                chosen, distinct = sample_tiles(engine, prefix, z, args.samples, rng)
                for layer in ("grids", "requests"):
                    paths = gridmap_paths(layer, chosen, label), tipg_paths(layer, chosen, month)
                    fetch(ours, paths[0][:20])  # warm every worker's connections
                    fetch(theirs, paths[1][:20])
                    if layer == "requests":
                        rows = [("requests", side_by_side(ours, theirs, paths))]
                    else:
                        cold = side_by_side(ours, theirs, paths, new_revision)
                        fetch(ours, sorted(set(paths[0])))  # each tile made once, untimed
                        rows = [("cold", cold), ("kept", side_by_side(ours, theirs, paths))]
                    for name, (mine, other) in rows:
                        met += report(area, z, name, mine, other, distinct)
                        total += 1
            ours.close()
            theirs.close()
    owner_conn.close()
    owner.dispose()
    engine.dispose()
    print(
        f"\ntargets: p95 <= {TARGET_MS:.0f} ms per tile; grid tiles at least {GRID_TARGET:.0f}x "
        f"as fast as tipg's at p95 (ratio <= {1 / GRID_TARGET:.2f}x); ratio = gridmap p95 / "
        f"tipg p95. Rows meeting every target of theirs: {met} of {total}. "
        f"Load at end {load()}"
    )


if __name__ == "__main__":
    main()
