"""Benchmark: coverage by patrols for a day in a district, in PostGIS, next to naive baselines.

Loads the demo (the first communities of Dongcheng's grid holding 100 000 households) into a
database of its own (``gridmap_bench_patrols``), then walks 500 two-hour patrols at one fix
every 5 s (1 440 fixes each): a walk at 1.2 m/s along a street lattice (70 m blocks) around a
micro-grid of a grid worker, with 3 m of GPS noise. The tracks are cleaned and stored as the upload
path does. It prints, measured in the same run:

1. PostGIS (``gridmap.storage.patrols.refresh_reach``): the day's patrols in one statement,
   and one call per patrol as the app makes when each one ends;
2. the naive baseline: per track, a Python loop over every household with shapely's
   distance (in metres, Gauss–Krüger), timed on a few tracks and scaled to the day;
3. a vectorised baseline without the database: one shapely STRtree ``dwithin`` query of all
   tracks against all households, which also cross-checks PostGIS's answer.

Run it through ./scripts/bench (which sets up the database): ``./scripts/bench patrols``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from gridmap.access import accounts
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.spatial.crs import CGCS2000, local_metric_crs, transform_xy
from gridmap.spatial.tracks import RawTrack, clean_track
from gridmap.storage import patrols as store
from gridmap.storage.models import (
    Assignment,
    Grid,
    Household,
    PatrolReach,
    WorkList,
)

ROOT = Path(__file__).resolve().parents[1]

DATABASE = "gridmap_bench_patrols"
METRES = 30.0
#: The project's target: the PostGIS coverage at least this many times the naive loop's speed.
SPEEDUP_TARGET = 10.0
#: Share of household reaches on which PostGIS and the STRtree may differ (float rounding at
#: exactly the pass-by distance); more means one of them is wrong.
AGREEMENT_TOLERANCE = 1e-3
BLOCK_M = 70.0
SPEED_MPS = 1.2
STEP_S = 5.0
NOISE_M = 3.0
M_PER_DEG_LAT = 111_000.0


def street_walk(
    rng: np.random.Generator, lon0: float, lat0: float, fixes: int, radius_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """``fixes`` positions STEP_S apart of a walk along a street lattice around a point."""
    length = SPEED_MPS * STEP_S * fixes
    blocks = int(length / BLOCK_M) + 2
    bound = int(radius_m / BLOCK_M)
    moves = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    node = np.zeros(2, dtype=int)
    nodes = [node.copy()]
    for _ in range(blocks):  # one step per block: a hundred or so turns per walk
        step = moves[rng.integers(4)]
        if np.any(np.abs(node + step) > bound):
            step = -step
        node = node + step
        nodes.append(node.copy())
    xy = np.array(nodes, dtype=float) * BLOCK_M
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    at = np.arange(fixes) * SPEED_MPS * STEP_S
    x = np.interp(at, along, xy[:, 0]) + rng.normal(0, NOISE_M, fixes)
    y = np.interp(at, along, xy[:, 1]) + rng.normal(0, NOISE_M, fixes)
    m_per_deg_lon = M_PER_DEG_LAT * np.cos(np.radians(lat0))
    return lon0 + x / m_per_deg_lon, lat0 + y / M_PER_DEG_LAT


def load_district(url: str, households: int, settings: Settings) -> None:
    engine = create_engine(url)
    with Session(engine) as session:
        start = time.perf_counter()
        reports = demo.load(session, households=households, seed=7, settings=settings)
        loaded = next(r.written for r in reports if r.kind == "households")
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(
        f"demo district: {loaded:,} households (whole communities, asked {households:,}) "
        f"loaded in {time.perf_counter() - start:.0f} s"
    )


def workers(session: Session, count: int) -> list[Any]:
    """``count`` micro-grids with their grid worker and a point inside it. A full-time worker
    holds every micro-grid of a zone (one per 300–500 households), so a worker may walk two
    of them the same day, as a 100 000-household district's ~250 workers would."""
    stmt = (
        select(
            Assignment.person_id,
            Grid.id.label("grid_id"),
            func.ST_X(Grid.label_point).label("lon"),
            func.ST_Y(Grid.label_point).label("lat"),
        )
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(Assignment.role == "grid_worker", Grid.level == "micro")
        .order_by(Assignment.person_id, Grid.code)
    )
    rows = list(session.execute(stmt).all())
    picked = np.random.default_rng(11).choice(len(rows), size=min(count, len(rows)), replace=False)
    return [rows[i] for i in sorted(picked)]


def store_patrols(session: Session, walkers: list[Any], fixes: int, radius_m: float) -> list[Any]:
    """One cleaned, stored patrol per worker today; returns (id, lon, lat) per patrol."""
    rng = np.random.default_rng(5)
    user = accounts.create_user(session, "bench-patrols", "bench-password")
    daily = session.scalar(select(WorkList.id).where(WorkList.code == "daily_patrol"))
    nine = dt.datetime.combine(dt.date.today(), dt.time(1, 0), dt.UTC)
    out = []
    start = time.perf_counter()
    for k, w in enumerate(walkers):
        lon, lat = street_walk(rng, float(w.lon), float(w.lat), fixes, radius_m)
        began = nine + dt.timedelta(minutes=k % 240)
        t = began.timestamp() + np.arange(fixes) * STEP_S
        track = clean_track(RawTrack(lon, lat, t)).require_line()
        values = {
            "person_id": w.person_id,
            "user_id": user.id,
            "work_list_id": daily,
            "grid_id": w.grid_id,
            "source": "upload",
            "started_at": began,
        }
        patrol_id = store.insert_patrol(session, values)
        ended = began + dt.timedelta(seconds=float(t[-1] - t[0]))
        store.finish_patrol(
            session, patrol_id, ended_at=ended, track_wkb=track.wkb(), report=track.report
        )
        out.append((patrol_id, track.lon, track.lat))
    session.commit()
    print(
        f"tracks: {len(out)} patrols x {fixes} fixes generated, cleaned and stored in "
        f"{time.perf_counter() - start:.1f} s"
    )
    return out


def postgis(session: Session, ids: list[int]) -> tuple[float, float, set[tuple[int, int]]]:
    """Seconds for the whole day in one statement, for one call per patrol, and the pairs."""
    session.execute(text("ANALYZE patrol"))
    start = time.perf_counter()
    store.refresh_reach(session, ids, METRES)
    session.commit()
    t_all = time.perf_counter() - start
    start = time.perf_counter()
    for patrol_id in ids:
        store.refresh_reach(session, [patrol_id], METRES)
    session.commit()
    t_each = time.perf_counter() - start
    pairs = session.execute(select(PatrolReach.patrol_id, PatrolReach.household_id)).all()
    return t_all, t_each, {(int(p), int(h)) for p, h in pairs}


def metric(lon: np.ndarray, lat: np.ndarray, zone: str) -> tuple[np.ndarray, np.ndarray]:
    return transform_xy(lon, lat, CGCS2000, zone)


def naive(tracks: list[Any], points: list[Any], ids: np.ndarray, zone: str) -> float:
    """Seconds per track of a Python loop over every household with shapely's distance."""
    start = time.perf_counter()
    for _, lon, lat in tracks:
        line = shapely.LineString(np.column_stack(metric(lon, lat, zone)))
        reached = []
        for household_id, point in zip(ids, points, strict=True):
            if line.distance(point) <= METRES:
                reached.append(household_id)
    return (time.perf_counter() - start) / len(tracks)


def strtree(
    tracks: list[Any], hx: np.ndarray, hy: np.ndarray, ids: np.ndarray, zone: str
) -> tuple[float, set[tuple[int, int]]]:
    """Seconds of one vectorised STRtree dwithin query of every track, and its pairs."""
    start = time.perf_counter()
    tree = shapely.STRtree(shapely.points(hx, hy))
    lines = [shapely.LineString(np.column_stack(metric(lon, lat, zone))) for _, lon, lat in tracks]
    which, found = tree.query(lines, predicate="dwithin", distance=METRES)
    elapsed = time.perf_counter() - start
    return elapsed, {(int(tracks[i][0]), int(ids[j])) for i, j in zip(which, found, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--patrols", type=int, default=500)
    parser.add_argument("--fixes", type=int, default=1440, help="per patrol, 5 s apart")
    parser.add_argument("--radius", type=float, default=400.0, help="m around the micro-grid")
    parser.add_argument("--naive-tracks", type=int, default=5, help="tracks timed naively")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    args = parser.parse_args()

    settings = Settings.from_env()
    url = make_url(settings.migrate_database_url).set(database=DATABASE)
    url = url.render_as_string(hide_password=False)
    if not args.reuse:
        url = db.create_database(settings.migrate_database_url, DATABASE)
        load_district(url, args.households, settings)
    engine = create_engine(url)
    with Session(engine) as session:
        session.execute(text("DELETE FROM patrol_reach"))
        session.execute(text("DELETE FROM patrol"))
        session.commit()
        walkers = workers(session, args.patrols)
        tracks = store_patrols(session, walkers, args.fixes, args.radius)
        t_all, t_each, pairs = postgis(session, [t[0] for t in tracks])
        houses = session.execute(
            select(Household.id, func.ST_X(Household.geom), func.ST_Y(Household.geom))
        ).all()
    engine.dispose()
    ids = np.array([h[0] for h in houses])
    zone = local_metric_crs(float(np.mean([h[1] for h in houses])))
    hx, hy = metric(np.array([h[1] for h in houses]), np.array([h[2] for h in houses]), zone)
    t_tree, tree_pairs = strtree(tracks, hx, hy, ids, zone)
    sample = tracks[: args.naive_tracks]
    per_track = naive(sample, list(shapely.points(hx, hy)), ids, zone)
    t_naive = per_track * len(tracks)

    n, fixes = len(tracks), args.fixes
    print(
        f"coverage of {n} patrols x {fixes} fixes against {len(ids):,} households "
        f"(pass-by {METRES:g} m): {len(pairs):,} household reaches, "
        f"{len({h for _, h in pairs}):,} households"
    )
    rows = [
        ("PostGIS, the day in one statement", t_all),
        ("PostGIS, one call per ended patrol", t_each),
        (f"naive Python loop (timed on {len(sample)} tracks, scaled)", t_naive),
        ("vectorised STRtree dwithin, no database", t_tree),
    ]
    for name, seconds in rows:
        print(f"  {name:52s} {seconds:8.2f} s  {seconds / n * 1000:8.1f} ms/patrol")
    ratio = t_naive / t_all
    print(
        f"  ratio naive / PostGIS (one statement): {ratio:.0f}x "
        f"({'meets' if ratio >= SPEEDUP_TARGET else 'MISSES'} >= {SPEEDUP_TARGET:g}x)"
    )
    print(f"  ratio STRtree / PostGIS (one statement): {t_tree / t_all:.2f}x")
    differ = len(pairs ^ tree_pairs)
    share = differ / max(len(pairs | tree_pairs), 1)
    print(
        f"  PostGIS and STRtree agree on {len(pairs & tree_pairs):,} pairs, differ on {differ} "
        f"({100 * share:.3f} %, {'meets' if share <= AGREEMENT_TOLERANCE else 'MISSES'} <= "
        f"{100 * AGREEMENT_TOLERANCE:g} %: only households at the pass-by edge may differ)"
    )


if __name__ == "__main__":
    main()
