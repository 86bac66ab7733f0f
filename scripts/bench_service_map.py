"""Benchmark: walking circles of 50 sites on a district network and the gap count of 100 000
households (15分钟便民服务圈), next to a plain networkx baseline of the same run.

Loads a database of its own (``gridmap_bench_service_map``): the demo district with
``--households`` households (whole communities) and the synthetic walking network of the whole
committed Dongcheng grid (streets along and through its ~6 000 micro-grids, about 32 000
edges; ``gridmap.spatial.generate.streets``), then ``--sites`` sites at random micro-grids of
the populated communities. Timed, target under 30 s together:

1. gridmap's computation (``gridmap.storage.service_map``, in PostgreSQL with pgRouting): the
   sites placed on the network, one ``pgr_drivingDistance`` for all of them, the circles of
   the 5/10/15-minute bands drawn and stored, every household's walk to its nearest site
   stored and the households outside every 15-minute circle counted;
2. the baseline: the same edges read into a ``networkx.Graph``, ``single_source_dijkstra``
   per site with a cutoff (the reached nodes' concave hull as the circle, the usual recipe),
   one ``multi_source_dijkstra`` for the nearest site, every household snapped to its nearest
   street with a shapely STRtree, and the same count.

The candidate-site analysis is timed on its own (it is not part of the target). Run it through
./scripts/bench (``./scripts/bench service_map``); ``--reuse`` keeps a loaded database.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import TypeVar

import networkx as nx
import numpy as np
import pyogrio
import shapely
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.services import circles, network
from gridmap.spatial.crs import local_metric_crs, transform_xy
from gridmap.spatial.generate.streets import synthetic_streets
from gridmap.storage import service_map
from gridmap.storage.models import Grid, Household, ServiceReach

DATABASE = "gridmap_bench_service_map"
TARGET_S = 30.0
T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def load(url: str, households: int, settings: Settings) -> None:
    engine = create_engine(url)
    with Session(engine) as session:
        start = time.perf_counter()
        demo.load(session, households=households, seed=7, settings=settings)
        grid = pyogrio.read_dataframe(demo.GRID_FILE)
        micro = grid[grid["level"] == "micro"]
        lines = [(None, shapely.to_wkb(g)) for g in synthetic_streets(micro.geometry)]
        check = network.import_network(session, lines, "synthetic")
        session.commit()
        print(
            f"loaded in {time.perf_counter() - start:.0f} s: network of the whole grid, "
            f"{check.edges:,} edges, {check.nodes:,} nodes, {check.components} piece(s)"
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def place_sites(session: Session, count: int, seed: int) -> None:
    """``count`` sites at the label points of random populated micro-grids."""
    populated = select(Household.micro_grid_id).distinct().scalar_subquery()
    points = session.execute(
        select(func.ST_AsBinary(Grid.label_point)).where(Grid.id.in_(populated)).order_by(Grid.code)
    ).all()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(points), size=count, replace=False)
    rows = [
        {
            "code": f"BENCH-{i:03d}",
            "name": f"测试点位{i}",
            "kind": "station",
            "wkb": bytes(points[j][0]),
        }
        for i, j in enumerate(chosen)
    ]
    service_map.upsert_sites(session, rows, replace=True)


def gridmap_run(session: Session, settings: Settings) -> int:
    """The timed part of circles.refresh: circles and every household's walk; the count."""
    bands = circles.band_metres(settings)
    metres = bands[-1][1]
    service_map.clear_results(session)
    starts = service_map.start_sites(session, settings.service_access_m)
    service_map.reach_sites(session, starts, metres)
    service_map.write_isochrones(session, bands)
    service_map.write_reach(session, settings.service_access_m)
    outside = (ServiceReach.walk_m.is_(None)) | (ServiceReach.walk_m > metres)
    return int(session.scalar(select(func.count()).where(outside)) or 0)


def candidates_run(session: Session, settings: Settings) -> list[tuple[int, int]]:
    metres = circles.covered_metres(settings)
    access = settings.service_access_m
    pool = service_map.candidate_pool(session, metres, access, circles.CANDIDATE_POOL)
    cover = service_map.candidate_cover(session, pool, metres, access)
    return circles.greedy(cover, settings.service_candidates)


def baseline_run(url: str, settings: Settings) -> int:
    """networkx and shapely on the same data: circles per site, nearest site, the count."""
    engine = create_engine(url)
    with engine.connect() as conn:
        edges = conn.execute(
            text("SELECT source, target, length_m, ST_AsBinary(geom) FROM walk_edge")
        ).all()
        nodes = conn.execute(text("SELECT id, ST_X(geom), ST_Y(geom) FROM walk_node")).all()
        sites = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM service_site ORDER BY code")
        ).all()
        homes = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM household")).all()
    engine.dispose()
    metres = circles.covered_metres(settings)
    graph = nx.Graph()
    graph.add_weighted_edges_from((s, t, w) for s, t, w, _ in edges)
    node_ids = np.array([n[0] for n in nodes])
    zone = local_metric_crs(float(np.mean([n[1] for n in nodes])))
    nx_, ny_ = transform_xy([n[1] for n in nodes], [n[2] for n in nodes], "EPSG:4490", zone)
    node_tree = shapely.STRtree(shapely.points(nx_, ny_))
    sx, sy = transform_xy([s[0] for s in sites], [s[1] for s in sites], "EPSG:4490", zone)
    starts = node_ids[node_tree.nearest(shapely.points(sx, sy))]
    position = dict(zip(node_ids.tolist(), zip(nx_, ny_, strict=True), strict=True))
    for start in starts.tolist():
        for _minutes, band in circles.band_metres(settings):
            reached = nx.single_source_dijkstra_path_length(
                graph, start, cutoff=band, weight="weight"
            )
            hull = shapely.concave_hull(
                shapely.multipoints([position[n] for n in reached]), ratio=0.3
            )
            assert not hull.is_empty or len(reached) < 3
    best = nx.multi_source_dijkstra_path_length(graph, set(starts.tolist()), cutoff=metres)
    lines = shapely.from_wkb([e[3] for e in edges])
    lines = shapely.transform(
        lines, lambda c: np.column_stack(transform_xy(c[:, 0], c[:, 1], "EPSG:4490", zone))
    )
    hx, hy = transform_xy([h[0] for h in homes], [h[1] for h in homes], "EPSG:4490", zone)
    points = shapely.points(hx, hy)
    which, gap = shapely.STRtree(lines).query_nearest(
        points, return_distance=True, all_matches=False
    )
    along = shapely.line_locate_point(lines[which[1]], points[which[0]])
    source = np.array([e[0] for e in edges])[which[1]]
    target = np.array([e[1] for e in edges])[which[1]]
    length = np.array([e[2] for e in edges])[which[1]]
    far = np.inf
    via_s = np.array([best.get(s, far) for s in source.tolist()]) + along
    via_t = np.array([best.get(t, far) for t in target.tolist()]) + (length - along)
    walk = np.minimum(via_s, via_t) + gap
    walk[gap > settings.service_access_m] = far
    return int((walk > metres).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    args = parser.parse_args()
    settings = Settings.from_env()
    url = make_url(settings.migrate_database_url).set(database=DATABASE)
    url = url.render_as_string(hide_password=False)
    if not args.reuse:
        url = db.create_database(settings.migrate_database_url, DATABASE)
        load(url, args.households, settings)
    engine = create_engine(url)
    with Session(engine) as session:
        place_sites(session, args.sites, seed=3)
        session.commit()
        edges = session.scalar(text("SELECT count(*) FROM walk_edge"))
        homes = session.scalar(text("SELECT count(*) FROM household"))
        t_gridmap, uncovered = timed(lambda: gridmap_run(session, settings))
        t_candidates, picks = timed(lambda: candidates_run(session, settings))
        session.commit()
    engine.dispose()
    t_base, base_uncovered = timed(lambda: baseline_run(url, settings))
    load1, load5, _ = os.getloadavg()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, load {load1:.2f}/{load5:.2f}, "
        f"{os.cpu_count()} CPUs: {args.sites} sites, {edges:,} edges, {homes:,} households, "
        f"bands {settings.service_minutes} min at {settings.walking_speed_mps} m/s"
    )
    print(f"  gridmap (pgRouting, circles stored + every walk)  {t_gridmap:7.2f} s  "
          f"uncovered {uncovered:,}  (target < {TARGET_S:g} s)")  # fmt: skip
    print(f"  baseline (networkx Dijkstra + STRtree, no writes) {t_base:7.2f} s  "
          f"uncovered {base_uncovered:,}")  # fmt: skip
    print(f"  ratio baseline / gridmap: {t_base / t_gridmap:.2f}x")
    print(f"  candidate sites (greedy, {len(picks)} picks): {t_candidates:.2f} s, "
          f"newly covered {[h for _, h in picks]}")  # fmt: skip


if __name__ == "__main__":
    main()
