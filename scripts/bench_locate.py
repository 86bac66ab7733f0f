"""Benchmark: bulk locate on the import path, and the latency of /api/v1/locate.

Generates a city (default 1 000 000 households, ≈ 10 000 micro-grids over Dongcheng), then
prints, each next to a baseline measured in the same run:

1. bulk locate of the import path (``gridmap.spatial.locate.locate_points``) against
   ``geopandas.sjoin(predicate="intersects")`` on the same points and polygons;
2. the whole household import (locate + COPY + the database's consistency trigger), rows/s;
3. p50/p99 of ``GET /api/v1/locate`` over N requests to a gunicorn server, next to the
   trivial ``GET /api/v1/health`` of the same server.

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
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
from sqlalchemy import create_engine, make_url
from sqlalchemy.orm import Session

from gridmap.access import accounts, auth
from gridmap.core import db
from gridmap.core.settings import Settings
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


def load_city(url: str, grid: gpd.GeoDataFrame, population) -> str:  # type: ignore[no-untyped-def]
    """Import the city as the import commands do; returns a bearer token of a county account."""
    engine = create_engine(url)
    with Session(engine) as session:
        start = time.perf_counter()
        ingest.import_grids(session, grid, "EPSG:4490", Settings())
        t_grid = time.perf_counter() - start
        start = time.perf_counter()
        ingest.import_households(session, population.households, "EPSG:4490")
        t_households = time.perf_counter() - start
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
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    n = len(population.households)
    print(f"import: {len(grid):,} grids validated and written in {t_grid:.1f} s")
    print(
        f"import: {n:,} households located and written in {t_households:.1f} s "
        f"({n / t_households:,.0f} rows/s)"
    )
    return token


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


def bench_http(url: str, token: str, lon: np.ndarray, lat: np.ndarray, requests: int) -> None:
    port = free_port()
    env = os.environ | {"GRIDMAP_DATABASE_URL": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "gridmap:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                latencies(port, ["/api/v1/health"])
                break
            except OSError:
                time.sleep(0.1)
        rng = np.random.default_rng(3)
        pick = rng.choice(len(lon), size=requests, replace=False)
        locate = [f"/api/v1/locate?lon={lon[i]:.7f}&lat={lat[i]:.7f}" for i in pick]
        latencies(port, locate[:50] + ["/api/v1/health"] * 50, token)  # warm every worker
        t_locate = latencies(port, locate, token)
        t_me = latencies(port, ["/api/v1/auth/me"] * requests, token)
        t_health = latencies(port, ["/api/v1/health"] * requests)
    finally:
        server.terminate()
        server.wait()
    print(f"GET /api/v1/locate over {requests} requests (gunicorn, 4 sync workers, sequential)")
    rows = (("locate", t_locate), ("auth/me (login only)", t_me), ("health (baseline)", t_health))
    for name, t in rows:
        print(
            f"  {name:22s} p50 {np.percentile(t, 50):6.2f} ms   p99 {np.percentile(t, 99):6.2f} ms"
        )
    ratio = np.percentile(t_locate, 50) / np.percentile(t_health, 50)
    print(f"  locate p50 / health p50  {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=200, help="≈ 50 micro-grids each")
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()

    outline = pyogrio.read_dataframe(ROOT / "data" / "boundaries" / "dongcheng.geojson")
    start = time.perf_counter()
    grid = generate_grid(outline.geometry.iloc[0], communities=args.communities, seed=2)
    population = generate_population(grid, households=args.households, seed=2)
    print(
        f"generated {len(grid):,} grids, {len(population.households):,} households "
        f"in {time.perf_counter() - start:.1f} s"
    )

    households = population.households
    lon, lat = households.geometry.x.to_numpy(), households.geometry.y.to_numpy()
    micro = grid[grid["level"] == "micro"].reset_index(drop=True)
    micro["id"] = np.arange(1, len(micro) + 1)
    bench_bulk_locate(micro, lon, lat)

    settings = Settings.from_env()
    owner = db.create_database(settings.migrate_database_url, "gridmap_bench")
    app_role = make_url(settings.database_url).set(database="gridmap_bench")
    token = load_city(owner, grid, population)
    bench_http(app_role.render_as_string(hide_password=False), token, lon, lat, args.requests)


if __name__ == "__main__":
    main()
