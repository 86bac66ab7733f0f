"""Benchmark: the 一张网 overlay of a 2,000-cell foreign layer with the demo district's
micro-grids, in PostGIS, next to geopandas' ``overlay`` of the same layers in the same run.

Loads the demo (Dongcheng's 5,949 micro-grids and their households) into a database of its own
(``gridmap_bench_onenet``) and imports a foreign layer of ``--cells`` cells made to look like
another department's grid: a third of our micro-grids as they are, shifted ``--shift`` metres
(cells that align), the rest of the district cut into Voronoi cells of random seeds (cells
that split ours). It prints, measured in the same run:

1. PostGIS (:func:`gridmap.onenet.overlay.compute`): the whole overlay as the job runs it:
   the pieces with their areas and shares, the households in each, every cell's verdict
   (Hausdorff distance to its best unit) and the per-community summary;
2. PostGIS doing only what the baseline does: the pieces' areas and shares, one query;
3. the baseline: ``geopandas.overlay(how="intersection")`` of the two layers, both projected to
   the Gauss–Krüger zone first, with the pieces' areas and their shares of cell and unit (no
   households, no verdicts: the work of (2), less than (1)). The pieces' total areas are
   compared.

Run it through ./scripts/bench (which sets up the database): ``./scripts/bench onenet``;
``--reuse`` keeps an already loaded database.
"""

from __future__ import annotations

import argparse
import os
import time

import geopandas as gpd
import shapely
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.demo import loader as demo
from gridmap.onenet import layers, overlay
from gridmap.spatial.crs import local_metric_crs
from gridmap.spatial.generate.department_grid import department_grid
from gridmap.storage.models import ForeignLayer, Grid, OnenetPiece

DATABASE = "gridmap_bench_onenet"
TARGET_S = 10.0


def load_district(url: str, settings: Settings) -> None:
    engine = create_engine(url)
    start = time.perf_counter()
    with Session(engine) as session:
        reports = demo.load(session, seed=7, settings=settings)
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    loaded = next(r.written for r in reports if r.kind == "households")
    print(f"demo district: {loaded:,} households loaded in {time.perf_counter() - start:.0f} s")


def micro_grids(session: Session) -> gpd.GeoDataFrame:
    rows = session.execute(
        select(Grid.id, Grid.code, func.ST_AsBinary(Grid.geom)).where(
            Grid.level == "micro", Grid.valid_to.is_(None)
        )
    ).all()
    return gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "code": [r[1] for r in rows]},
        geometry=shapely.from_wkb([bytes(r[2]) for r in rows]),
        crs=4490,
    )


#: The pieces' areas and shares alone, as the overlay's first step computes them.
PIECES_ONLY = text(
    """
    SELECT count(*), sum(deg / cell_deg * cell_m2), sum(deg / unit_deg)
    FROM (
        SELECT c.area_m2 AS cell_m2, ST_Area(c.geom) AS cell_deg, ST_Area(u.geom) AS unit_deg,
               CASE WHEN ST_CoveredBy(c.geom, u.geom) THEN ST_Area(c.geom)
                    WHEN ST_CoveredBy(u.geom, c.geom) THEN ST_Area(u.geom)
                    ELSE ST_Area(ST_Intersection(c.geom, u.geom)) END AS deg
        FROM foreign_cell c
        JOIN grid u ON ST_Intersects(c.geom, u.geom)
        WHERE c.layer_id = :layer AND u.level = 'micro' AND u.valid_to IS NULL
    ) AS cut
    WHERE deg > 0
    """
)


def pieces_only(session: Session, layer_id: int) -> float:
    session.execute(text("SET LOCAL jit = off"))
    start = time.perf_counter()
    session.execute(PIECES_ONLY, {"layer": layer_id}).one()
    return time.perf_counter() - start


def baseline(theirs: gpd.GeoDataFrame, ours: gpd.GeoDataFrame) -> tuple[float, float, int]:
    """geopandas overlay with areas and shares: (seconds, total piece area m², pieces)."""
    start = time.perf_counter()
    crs = local_metric_crs(float(ours.geometry.iloc[0].centroid.x))
    a = theirs[["code", "geometry"]].to_crs(crs)
    b = ours[["id", "geometry"]].to_crs(crs)
    a["cell_area"] = a.area
    b["unit_area"] = b.area
    pieces = gpd.overlay(a, b, how="intersection", keep_geom_type=True)
    pieces["area"] = pieces.area
    pieces["share_of_cell"] = pieces["area"] / pieces["cell_area"]
    pieces["share_of_grid"] = pieces["area"] / pieces["unit_area"]
    seconds = time.perf_counter() - start
    return seconds, float(pieces["area"].sum()), len(pieces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--shift", type=float, default=3.0, help="m, the aligned third")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="overlay runs, the best is shown")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    args = parser.parse_args()

    settings = Settings.from_env()
    url = make_url(settings.migrate_database_url).set(database=DATABASE)
    url_text = url.render_as_string(hide_password=False)
    if not args.reuse:
        url_text = db.create_database(settings.migrate_database_url, DATABASE)
        load_district(url_text, settings)
    engine = create_engine(url_text)
    rule = overlay.Rule.of(settings)
    with Session(engine) as session:
        session.execute(text("DELETE FROM foreign_layer"))
        ours = micro_grids(session)
        theirs = department_grid(ours, args.cells, shift_m=args.shift, seed=args.seed)
        start = time.perf_counter()
        layer_id, report = layers.import_layer(
            session,
            theirs,
            "EPSG:4490",
            layers.LayerSpec("基准测试图层", "police", "micro"),
            settings,
            filename="bench.gpkg",
            scope_code=None,
            user_id=None,
        )
        session.commit()
        imported = time.perf_counter() - start
        session.execute(text("ANALYZE foreign_cell"))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            counts = overlay.compute(session, layer_id, rule)
            session.commit()
            times.append(time.perf_counter() - start)
        only = min(pieces_only(session, layer_id) for _ in range(args.runs))
        session.rollback()
        area = float(
            session.scalar(
                select(func.sum(OnenetPiece.area_m2)).where(OnenetPiece.layer_id == layer_id)
            )
            or 0
        )
        pieces = session.scalar(
            select(func.count()).select_from(OnenetPiece).where(OnenetPiece.layer_id == layer_id)
        )
        session.execute(text("DELETE FROM foreign_layer WHERE id = :i"), {"i": layer_id})
        session.commit()
        assert session.scalar(select(func.count()).select_from(ForeignLayer)) == 0
    engine.dispose()
    base_s, base_area, base_pieces = baseline(theirs, ours)
    best = min(times)
    load = os.getloadavg()
    print(
        f"foreign layer: {len(theirs):,} cells ({args.cells // 3} of ours shifted "
        f"{args.shift:g} m, the rest Voronoi) imported and checked in {imported:.1f} s, "
        f"{len(report.notes)} notes; our grid: {len(ours):,} micro-grids"
    )
    print(f"verdicts: {counts['cells']}")
    print(
        f"PostGIS overlay (pieces, households, verdicts, summary): best {best:.2f} s of "
        f"{', '.join(f'{t:.2f}' for t in times)}; {pieces:,} pieces, {area / 1e6:.3f} km²"
    )
    print(f"PostGIS pieces only (areas, shares: the baseline's work): best {only:.2f} s")
    print(
        f"geopandas overlay baseline (pieces, areas, shares only): {base_s:.2f} s; "
        f"{base_pieces:,} pieces, {base_area / 1e6:.3f} km²"
    )
    verdict = "meets" if best < TARGET_S else "MISSES"
    print(
        f"ratio PostGIS/baseline: whole overlay {best / base_s:.2f}x, pieces only "
        f"{only / base_s:.2f}x; whole overlay {best:.2f} s {verdict} the {TARGET_S:g} s target; "
        f"area difference {abs(area - base_area) / base_area:.2e}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


if __name__ == "__main__":
    main()
