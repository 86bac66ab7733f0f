"""Benchmark: bulk locate on the import path, and the latency of /api/v1/locate.

Generates a city (default 1 000 000 households, ≈ 10 000 micro-grids over Dongcheng; the
households are generated a million at a time and written to a CSV file), then prints, each next
to a baseline measured in the same run:

1. bulk locate of the import path (``gridmap.spatial.locate.locate_points``) against
   ``geopandas.sjoin(predicate="intersects")`` on the same points and polygons (the first
   million households);
2. the household import as ``flask gridmap import-households FILE`` runs it (read in chunks,
   locate + COPY + the database's consistency trigger, one transaction), rows/s and the peak
   RSS of that process, next to the same file's first ``--baseline-rows`` read whole into one
   DataFrame first (how the command read files before streaming), rolled back;
3. the API on a gunicorn server: p50/p99 of ``GET /api/v1/locate``, a household's
   ``/coverage`` and ``/auth/me`` (the login check alone) over N requests one at a time, then
   throughput and p50/p99 under wrk at 1, 8 and 32 clients, each next to the bare
   ``GET /api/v1/health`` of the same server, with the project's targets (throughput at
   least 0.7× health's at 8 and 32 clients, p99 at most 10 ms at one client);
4. in headless Chromium on the map page (zoom 17 around a random household), the time from a
   click on a household's marker to its coverage panel shown, over ``--clicks`` households in
   view, p50/p95 against the target (p95 at most 100 ms).

``--api-only`` measures only the API, on the ``gridmap_bench`` database an earlier run left.
wrk (Debian package ``wrk``) must be installed.

Run it through ./scripts/bench (which sets up the database); it uses a database of its own
(``gridmap_bench``) and leaves the served one alone.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from gridmap.access import accounts, auth
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.demo.shape import DEFAULT
from gridmap.grid import ingest
from gridmap.spatial.generate import generate_grid, generate_population
from gridmap.spatial.locate import locate_points

ROOT = Path(__file__).resolve().parents[1]

BENCH_PASSWORD = "bench-password"


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_bulk_locate(micro: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> None:
    ids = micro["id"].to_numpy()
    geoms = micro.geometry.values
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=micro.crs)
    ours = locate_points(lon, lat, ids, geoms)
    joined = gpd.sjoin(points, micro[["id", "geometry"]], predicate="intersects", how="left")
    theirs = joined.groupby(level=0)["id"].min().reindex(points.index).fillna(-1).to_numpy()
    assert (ours == theirs).all(), "locate_points and sjoin disagree"
    polygons = micro[["id", "geometry"]]
    t_ours = best_of(3, lambda: locate_points(lon, lat, ids, geoms))
    t_built = best_of(3, lambda: gpd.sjoin(points, polygons, predicate="intersects"))
    t_sjoin = best_of(
        3,
        lambda: gpd.sjoin(
            gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=micro.crs),
            polygons,
            predicate="intersects",
        ),
    )
    n = len(lon)
    print(f"bulk locate, {n:,} points in {len(micro):,} micro-grids (best of 3)")
    rows = [
        ("import path: locate_points(lon, lat)", t_ours),
        ("baseline: points_from_xy + geopandas.sjoin", t_sjoin),
        ("sjoin alone, points already built", t_built),
    ]
    for name, t in rows:
        print(f"  {name:44s} {t:6.2f} s {n / t:>11,.0f} points/s")
    print(
        f"  ratio baseline / import path: {t_sjoin / t_ours:.2f}x (target >= 1.0x); "
        f"against sjoin alone: {t_built / t_ours:.2f}x"
    )


_PIECE = 1_000_000
CRS = ("--crs", "EPSG:4490")

#: The import as it read files before streaming: the whole file into one DataFrame.
_WHOLE_FILE_IMPORT = """
import sys
import pandas as pd
from gridmap import create_app
from gridmap.core import db
from gridmap.grid import ingest
app = create_app()
with app.app_context():
    frame = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False, nrows=int(sys.argv[2]))
    session = db.get_session()
    ingest.import_households(session, frame, "EPSG:4490")
    session.rollback()
"""


def write_households(grid: gpd.GeoDataFrame, total: int, path: Path):  # type: ignore[no-untyped-def]
    """Generate ``total`` households a million at a time into a CSV file (lon, lat columns,
    care tags joined by ';'); returns the first million's population (people, posts)."""
    first = None
    written = 0
    while written < total or first is None:
        piece = generate_population(
            grid, shape=DEFAULT, spread_households=min(_PIECE, total - written), seed=2 + written
        )
        first = first or piece
        h = piece.households
        pd.DataFrame(
            {
                "id": h["id"].to_numpy() + written,
                "lon": h.geometry.x.to_numpy(),
                "lat": h.geometry.y.to_numpy(),
                "address": h["address"],
                "building": h["building"],
                "unit": h["unit"],
                "room": h["room"],
                "residents": h["residents"],
                "care_tags": [";".join(t) for t in h["care_tags"]],
            }
        ).to_csv(path, mode="a" if written else "w", header=not written, index=False)
        written += len(h)
    return first


#: Runs ``python -c CODE ARGS…`` or ``python -m MODULE ARGS…`` and, at exit, writes its peak
#: resident memory (VmHWM: this program's own, unlike ``ru_maxrss``, which also counts the
#: forked parent's memory before ``exec``) to the file named by ``BENCH_PEAK_FILE``.
_MEASURED = """
import atexit, os, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(str(kb))
atexit.register(peak)
flag, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if flag == "-c":
    exec(compile(target, "<bench>", "exec"))
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def timed_process(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``python -c …`` or ``python -m …``; its wall time (s) and peak RSS (MB)."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        errors = Path(tmp) / "stderr"
        start = time.perf_counter()
        with errors.open("w") as err:
            done = subprocess.run(
                [sys.executable, "-c", _MEASURED, *args],
                cwd=ROOT,
                env=env | {"BENCH_PEAK_FILE": str(peak_file)},
                stderr=err,
                check=False,
            )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{args[:3]} failed: {errors.read_text()[-2000:]}")
        return seconds, int(peak_file.read_text()) / 1024


def bench_household_import(app_url: str, path: Path, total: int, baseline_rows: int) -> None:
    env = os.environ | {"GRIDMAP_DATABASE_URL": app_url, "FLASK_APP": "gridmap"}
    n_base = min(baseline_rows, total)
    t_base, mb_base = timed_process(["-c", _WHOLE_FILE_IMPORT, str(path), str(n_base)], env)
    t_stream, mb_stream = timed_process(
        ["-m", "flask", "gridmap", "import-households", str(path), *CRS], env
    )
    print(f"household import from a {path.stat().st_size / 2**20:,.0f} MB CSV (separate processes)")
    print(
        f"  flask gridmap import-households (streamed) {total:>11,} rows {t_stream:7.1f} s "
        f"{total / t_stream:>8,.0f} rows/s  peak RSS {mb_stream:6,.0f} MB"
    )
    print(
        f"  baseline: whole file read first          {n_base:>11,} rows {t_base:7.1f} s "
        f"{n_base / t_base:>8,.0f} rows/s  peak RSS {mb_base:6,.0f} MB"
    )
    print(
        f"  rows/s streamed / baseline: {(total / t_stream) / (n_base / t_base):.2f}x; "
        f"peak RSS streamed / baseline: {mb_stream / mb_base:.2f}x (target: streamed <= 500 MB)"
    )


def load_city(url: str, grid: gpd.GeoDataFrame, population) -> str:  # type: ignore[no-untyped-def]
    """Import the city as the import commands do; returns a bearer token of a county account.

    Households are imported afterwards, from the file, by :func:`bench_household_import`.
    """
    engine = create_engine(url)
    with Session(engine) as session:
        start = time.perf_counter()
        ingest.import_grids(session, grid, "EPSG:4490", Settings())
        t_grid = time.perf_counter() - start
        ingest.import_people(session, population.people.astype(str).replace({"None": ""}))
        ingest.import_assignments(session, population.assignments.astype(str))
        user = accounts.create_user(session, "bench", BENCH_PASSWORD)
        accounts.grant_role(session, user.id, "street_admin", scope_code="110101")
        session.commit()
        _, token = auth.login(
            session,
            "bench",
            BENCH_PASSWORD,
            kind="bearer",
            settings=Settings(),
            origin=auth.Origin(),
        )
    engine.dispose()
    print(f"import: {len(grid):,} grids validated and written in {t_grid:.1f} s")
    return token


def analyze(url: str) -> None:
    engine = create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def latencies(port: int, paths: list[str], token: str = "") -> np.ndarray:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    out = []
    for path in paths:
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - start)
        if response.status not in (200, 404):
            raise RuntimeError(f"{path} answered {response.status}")
    conn.close()
    return np.array(out) * 1000


#: The project's targets for the API (issue 20): throughput at 8 and 32 clients at least
#: this share of /health's, and p99 at one client at most this many ms.
TARGET_SHARE = 0.7
TARGET_P99_MS = 10.0

#: wrk's Lua: the paths in turn, with the bearer token; one line of figures at the end.
_WRK_SCRIPT = """
local paths = {%s}
local i = 0
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("FIGURES %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests per second, p50 and p99 (ms), non-2xx answers."""

    per_second: float
    p50: float
    p99: float
    refused: int


def wrk(port: int, paths: list[str], token: str, clients: int, seconds: float) -> Load:
    """``clients`` connections (at most 2 threads: 2 cores) asking for ``paths`` in turn."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), token))
        script.flush()
        done = subprocess.run(
            [
                "wrk",
                f"-t{min(clients, 2)}",
                f"-c{clients}",
                f"-d{round(seconds)}s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(x for x in done.stdout.splitlines() if x.startswith("FIGURES"))
    count, micros, p50, p99, refused = (int(v) for v in line.split()[1:])
    # 404: a point outside every grid of the scope, as the sequential run allows.
    return Load(count / (micros / 1e6), p50 / 1000, p99 / 1000, refused)


def serve(url: str, workers: int, root: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = os.environ | {"GRIDMAP_DATABASE_URL": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "gridmap:create_app()",
        ],
        cwd=root,
        env=env | {"PYTHONPATH": str(root)},
    )
    for _ in range(100):
        try:
            latencies(port, ["/api/v1/health"])
            break
        except OSError:
            time.sleep(0.1)
    return server, port


@dataclass(frozen=True)
class Run:
    """How the API is loaded: the database, the token, each series' paths, requests one at
    a time, seconds per wrk row, gunicorn workers, rounds of wrk rows."""

    url: str
    token: str
    series: dict[str, list[str]]
    requests: int
    seconds: float
    workers: int
    rounds: int = 1


@dataclass
class Figures:
    """What one server measured."""

    root: Path
    sequential: dict[str, np.ndarray] = field(default_factory=dict)
    loads: dict[tuple[str, int], list[Load]] = field(default_factory=dict)
    clicks: Clicks | None = None


def bench_http(run: Run, roots: list[Path], panel: Panel | None = None) -> None:
    """p50/p99 one request at a time, then wrk at 1, 8 and 32 clients, of every series
    next to /health on the same server in the same run (``run.rounds`` times over, each
    row's share taken against the health row of its own round), then (with ``panel``) the
    click → coverage panel in Chromium; one gunicorn server per checkout in ``roots``, all
    serving at once, every row measured on each in turn (so a change of the machine's load
    falls on all of them alike)."""
    servers = [serve(run.url, run.workers, root) for root in roots]
    figures = [Figures(root) for root in roots]
    try:
        _measure(run, [port for _, port in servers], figures, panel)
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait()
    for found in figures:
        print(
            f"{'' if found.root == ROOT else f'[the app of {found.root}] '}"
            f"GET over {run.requests} requests one at a time (http.client), then wrk "
            f"{run.seconds:.0f} s per row (gunicorn, {run.workers} sync workers, bearer token; "
            "health has no login)"
            + (
                f", {run.rounds} rounds: medians, shares against their round's health"
                * (run.rounds > 1)
            )
            + (", every row on each server in turn" * (len(roots) > 1))
        )
        report(found.sequential, found.loads, list(run.series))
        if found.clicks is not None:
            report_clicks(found.clicks)


def _measure(run: Run, ports: list[int], figures: list[Figures], panel: Panel | None) -> None:
    """Every figure of ``bench_http``, each row on every server in turn."""
    for port in ports:
        for paths in run.series.values():  # warm every worker
            latencies(port, paths[:50] + ["/api/v1/health"] * 50, run.token)
    for name, paths in run.series.items():
        for port, found in zip(ports, figures, strict=True):
            found.sequential[name] = latencies(port, paths[: run.requests], run.token)
    rows = [(c, name, paths) for c in (1, 8, 32) for name, paths in run.series.items()]
    for _ in range(run.rounds):
        for clients, name, paths in rows:
            for port, found in zip(ports, figures, strict=True):
                load = wrk(port, paths, run.token, clients, run.seconds)
                found.loads.setdefault((name, clients), []).append(load)
    for port, found in zip(ports, figures, strict=True):
        if panel is not None:
            found.clicks = click_to_panel(port, panel.web_token, panel.lon, panel.lat, panel.clicks)


def report(
    sequential: dict[str, np.ndarray], rows: dict[tuple[str, int], list[Load]], series: list[str]
) -> None:
    """The figures of one server: one at a time, then wrk's rows, then the targets (the
    median of each row's rounds; a share is the median of its rounds' shares)."""
    loads = {key: _median(found) for key, found in rows.items()}
    shares = {
        (name, clients): float(
            np.median(
                [
                    row.per_second / health.per_second
                    for row, health in zip(found, rows["health (baseline)", clients], strict=True)
                ]
            )
        )
        for (name, clients), found in rows.items()
    }
    for name, t in sequential.items():
        print(
            f"  {name:22s} p50 {np.percentile(t, 50):6.2f} ms   p99 {np.percentile(t, 99):6.2f} ms"
        )
    print("  wrk: clients  endpoint                 req/s    p50 ms   p99 ms  non-2xx  / health")
    for clients in (1, 8, 32):
        for name in series:
            load = loads[name, clients]
            print(
                f"  {clients:12d}  {name:22s} {load.per_second:8.0f} {load.p50:8.2f} "
                f"{load.p99:8.2f} {load.refused:8d}   {shares[name, clients]:5.2f}x"
            )
    print(
        f"  targets: req/s >= {TARGET_SHARE}x health at 8 and 32 clients; "
        f"p99 <= {TARGET_P99_MS:.0f} ms at 1 client (idle machine)"
    )
    for name in series:
        if name.startswith("health"):
            continue
        worst = min(shares[name, c] for c in (8, 32))
        p99 = loads[name, 1].p99
        met = worst >= TARGET_SHARE and p99 <= TARGET_P99_MS
        print(
            f"  {name:22s} {worst:.2f}x at worst, p99 {p99:.2f} ms at 1 client: "
            f"{'meets' if met else 'misses'} the targets"
        )


def _median(loads: list[Load]) -> Load:
    """A row's rounds as one: the median of each figure, the refusals summed."""
    return Load(
        float(np.median([x.per_second for x in loads])),
        float(np.median([x.p50 for x in loads])),
        float(np.median([x.p99 for x in loads])),
        sum(x.refused for x in loads),
    )


def report_clicks(clicks: Clicks) -> None:
    """The click → coverage panel figures against their target."""
    total, fetched = clicks.total, clicks.fetched
    p95 = np.percentile(total, 95)
    print(
        f"  click → coverage panel (Chromium, {len(total)} clicks on the {clicks.markers} "
        f"household markers in view at zoom 17): p50 {np.percentile(total, 50):.1f} ms  "
        f"p95 {p95:.1f} ms (target p95 <= {TARGET_PANEL_MS:.0f} ms: "
        f"{'meets' if p95 <= TARGET_PANEL_MS else 'misses'}); of which the coverage request "
        f"p50 {np.nanpercentile(fetched, 50):.1f} ms  p95 {np.nanpercentile(fetched, 95):.1f} ms"
    )


@dataclass(frozen=True)
class Panel:
    """The click → coverage panel run: a page login, the map's centre, how many clicks."""

    web_token: str
    lon: float
    lat: float
    clicks: int


def map_centre(owner_url: str) -> tuple[float, float]:
    """A random household's point: the map page opens there."""
    engine = create_engine(owner_url)
    with engine.connect() as conn:
        sample = text("SELECT ST_X(geom), ST_Y(geom) FROM household ORDER BY random() LIMIT 1")
        lon, lat = conn.execute(sample).one()
    engine.dispose()
    return float(lon), float(lat)


def api_series(owner_url: str, requests: int) -> dict[str, list[str]]:
    """The paths of each series: random households' points for locate, random households'
    coverage, the login check alone and the bare endpoint."""
    engine = create_engine(owner_url)
    with engine.connect() as conn:
        sample = text("SELECT id, ST_X(geom), ST_Y(geom) FROM household ORDER BY random() LIMIT :n")
        rows = conn.execute(sample, {"n": requests}).all()
    engine.dispose()
    return {
        "health (baseline)": ["/api/v1/health"] * requests,
        "auth/me (login only)": ["/api/v1/auth/me"] * requests,
        "locate": [f"/api/v1/locate?lon={lon:.7f}&lat={lat:.7f}" for _, lon, lat in rows],
        "coverage": [f"/api/v1/households/{hid}/coverage" for hid, _, _ in rows],
    }


def bench_token(owner_url: str, kind: str = "bearer") -> str:
    """A new token of the benchmark's account: bearer (``--api-only``) or a page's login."""
    engine = create_engine(owner_url)
    with Session(engine) as session:
        _, token = auth.login(
            session,
            "bench",
            BENCH_PASSWORD,
            kind=kind,
            settings=Settings(),
            origin=auth.Origin(),
        )
    engine.dispose()
    return token


#: The click → coverage panel target (issue 20): p95 in Chromium.
TARGET_PANEL_MS = 100.0
CHROMIUM = "/usr/bin/chromium"

#: In the page: click a household's marker, resolve with the ms until its coverage panel is
#: filled (``#gm-household[data-state=loaded]`` for that household), as a person waits.
_CLICK_JS = """
(id) => new Promise((resolve, reject) => {
  const panel = document.getElementById('gm-household');
  const marker = document.querySelector(`path.gm-hh-${id}`);
  if (!marker) { reject(new Error(`no marker of household ${id}`)); return; }
  const watch = new MutationObserver(() => {
    if (panel.dataset.householdId === String(id) && panel.dataset.state === 'loaded') {
      watch.disconnect();
      const total = performance.now() - start;
      const fetched = performance.getEntriesByType('resource')
        .filter((e) => e.name.endsWith(`/households/${id}/coverage`) && e.startTime >= start);
      resolve([total, fetched.length ? fetched[0].duration : NaN]);
    } else if (panel.dataset.state === 'error') {
      watch.disconnect();
      reject(new Error(`the panel of household ${id} failed`));
    }
  });
  watch.observe(panel, { attributes: true, attributeFilter: ['data-state'] });
  const start = performance.now();
  marker.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));
})
"""


@dataclass(frozen=True)
class Clicks:
    """ms from each click to its panel, of each panel's coverage request (the browser's
    resource timing), and the household markers in view."""

    total: np.ndarray
    fetched: np.ndarray
    markers: int


def click_to_panel(port: int, web_token: str, lon: float, lat: float, clicks: int) -> Clicks:
    """ms from a click on a household's marker on the map page (zoom 17 around ``lon``,
    ``lat``) to its coverage panel shown, over ``clicks`` households in view (each once, in
    turn; every one fetches its coverage from the API), in headless Chromium."""
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": "gridmap_session", "value": web_token, "url": base}])
        page = context.new_page()
        page.goto(f"{base}/#map=17/{lat:.6f}/{lon:.6f}")
        page.wait_for_selector("path.gm-household", timeout=120_000)
        page.wait_for_load_state("networkidle")
        ids = page.eval_on_selector_all(
            "path.gm-household",
            "els => els.flatMap(e => [...e.classList].filter(c => c.startsWith('gm-hh-'))"
            ".map(c => c.slice(6)))",
        )
        if not ids:
            raise RuntimeError("no household marker in view")
        times = [page.evaluate(_CLICK_JS, ids[i % len(ids)]) for i in range(clicks + 5)]
        markers = len(ids)
        browser.close()
    # The first clicks warm the page's code.
    return Clicks(np.array([t for t, _ in times[5:]]), np.array([f for _, f in times[5:]]), markers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=200, help="≈ 50 micro-grids each")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=1_000_000,
        help="rows of the whole-file baseline import (it holds them all in memory)",
    )
    parser.add_argument("--seconds", type=int, default=10, help="of each wrk row")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="wrk rows this many times over (medians; on a busy machine, shares steadier)",
    )
    parser.add_argument(
        "--clicks",
        type=int,
        default=50,
        help="clicks on household markers in Chromium, each timed to its coverage panel (0: none)",
    )
    parser.add_argument(
        "--compare-with",
        type=Path,
        action="append",
        default=[],
        help="also serve the API from this checkout's code (e.g. an export of main), same run"
        " (repeatable)",
    )
    parser.add_argument(
        "--api-only",
        action="store_true",
        help="only the API figures, on the gridmap_bench database of an earlier run",
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    owner = make_url(settings.migrate_database_url).set(database="gridmap_bench")
    app_url = make_url(settings.database_url).set(database="gridmap_bench")
    if args.api_only:
        token = bench_token(owner.render_as_string(hide_password=False))
    else:
        token = build_city(args, settings)
    owner_url = owner.render_as_string(hide_password=False)
    series = api_series(owner_url, args.requests)
    panel = None
    if args.clicks:
        panel = Panel(bench_token(owner_url, "web"), *map_centre(owner_url), args.clicks)
    run = Run(
        app_url.render_as_string(hide_password=False),
        token,
        series,
        args.requests,
        args.seconds,
        args.workers,
        args.rounds,
    )
    bench_http(run, [ROOT] + [path.resolve() for path in args.compare_with], panel)


def build_city(args: argparse.Namespace, settings: Settings) -> str:
    """Generate, locate in bulk, import (each next to its baseline); returns a bearer token."""
    outline = pyogrio.read_dataframe(ROOT / "data" / "boundaries" / "dongcheng.geojson")
    start = time.perf_counter()
    grid = generate_grid(outline.geometry.iloc[0], communities=args.communities, seed=2)
    workdir = tempfile.TemporaryDirectory(prefix="gridmap-bench-")
    csv_path = Path(workdir.name) / "households.csv"
    population = write_households(grid, args.households, csv_path)
    print(
        f"generated {len(grid):,} grids, {args.households:,} households (CSV) "
        f"in {time.perf_counter() - start:.1f} s"
    )

    households = population.households
    lon, lat = households.geometry.x.to_numpy(), households.geometry.y.to_numpy()
    micro = grid[grid["level"] == "micro"].reset_index(drop=True)
    micro["id"] = np.arange(1, len(micro) + 1)
    bench_bulk_locate(micro, lon, lat)

    owner = db.create_database(settings.migrate_database_url, "gridmap_bench")
    app_role = make_url(settings.database_url).set(database="gridmap_bench")
    token = load_city(owner, grid, population)
    app_url = app_role.render_as_string(hide_password=False)
    bench_household_import(app_url, csv_path, args.households, args.baseline_rows)
    workdir.cleanup()
    analyze(owner)
    return token


if __name__ == "__main__":
    main()
