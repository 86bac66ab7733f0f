"""Benchmark: the bulk household import against today's row-by-row path and a bare COPY.

Generates a city (≈ 10 000 micro-grids over Dongcheng) and ``--households`` households into
a CSV file (see ``bench_locate``), then, in a database of its own (``gridmap_bench_import``),
each next to the others in the same run:

1. baseline: the file's bytes sent by ``COPY … FROM STDIN (FORMAT csv)`` into a bare table
   (no constraint, no index, no trigger; the server parses the CSV), rolled back;
2. ``flask gridmap import-households FILE --row-by-row`` (today's path: chunks COPYed
   straight into ``household``) on the first ``--baseline-rows`` rows, then emptied;
3. ``flask gridmap import-households FILE`` (the bulk path) on the whole file, into the empty
   table;

with rows/s and each import process's peak RSS; then each target of the bulk path (issue 20:
at least 4x today's rows/s, 10 M households in at most 90 s, peak RSS at most 500 MB) met or
missed. Run it through ./scripts/bench import.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psycopg
import pyogrio
from bench_locate import CRS, ROOT, load_city, timed_process, write_households
from sqlalchemy import make_url

from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.spatial.generate import generate_grid

TARGET_10M_SECONDS = 90
TARGET_RATIO = 4.0
TARGET_PEAK_MB = 500

_BARE_TABLE = """
CREATE TEMPORARY TABLE bare (
  id bigint, lon double precision, lat double precision, address text, building text,
  unit text, room text, residents integer, care_tags text
)
"""


def bare_copy(owner_url: str, path: Path) -> float:
    """Seconds to COPY the CSV file's bytes into a bare table (the server parses them)."""
    url = make_url(owner_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        conn.execute(_BARE_TABLE)
        start = time.perf_counter()
        with (
            conn.cursor().copy("COPY bare FROM STDIN (FORMAT csv, HEADER)") as copy,
            path.open("rb") as f,
        ):
            for block in iter(lambda: f.read(1 << 20), b""):
                copy.write(block)
        seconds = time.perf_counter() - start
        conn.rollback()
    return seconds


def empty_households(owner_url: str) -> None:
    url = make_url(owner_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("TRUNCATE household CASCADE")
        conn.execute("VACUUM ANALYZE household")


def first_rows(path: Path, rows: int, into: Path) -> None:
    """The CSV's header and first ``rows`` rows (lines: no field holds a line break)."""
    with path.open("rb") as src, into.open("wb") as out:
        for i, line in enumerate(src):
            if i > rows:
                break
            out.write(line)


def line(name: str, rows: int, seconds: float, peak_mb: float | None = None) -> str:
    peak = f"  peak RSS {peak_mb:6,.0f} MB" if peak_mb is not None else ""
    return f"  {name:46s} {rows:>11,} rows {seconds:7.1f} s {rows / seconds:>10,.0f} rows/s{peak}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=200, help="≈ 50 micro-grids each")
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=1_000_000,
        help="rows of today's row-by-row import (the first of the file)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()

    outline = pyogrio.read_dataframe(ROOT / "data" / "boundaries" / "dongcheng.geojson")
    start = time.perf_counter()
    grid = generate_grid(outline.geometry.iloc[0], communities=args.communities, seed=2)
    workdir = tempfile.TemporaryDirectory(prefix="gridmap-bench-")
    csv_path = Path(workdir.name) / "households.csv"
    population = write_households(grid, args.households, csv_path)
    print(
        f"generated {len(grid):,} grids, {args.households:,} households "
        f"({csv_path.stat().st_size / 2**20:,.0f} MB CSV) in {time.perf_counter() - start:.1f} s"
    )

    settings = Settings.from_env()
    owner = db.create_database(settings.migrate_database_url, "gridmap_bench_import")
    app_url = (
        make_url(settings.database_url)
        .set(database="gridmap_bench_import")
        .render_as_string(hide_password=False)
    )
    load_city(owner, grid, population)
    env = os.environ | {"GRIDMAP_DATABASE_URL": app_url, "FLASK_APP": "gridmap"}
    command = ["-m", "flask", "gridmap", "import-households"]

    t_bare = bare_copy(owner, csv_path)
    n_slow = min(args.baseline_rows, args.households)
    slow_path = csv_path
    if n_slow < args.households:
        slow_path = Path(workdir.name) / "first.csv"
        first_rows(csv_path, n_slow, slow_path)
    t_slow, mb_slow = timed_process([*command, str(slow_path), *CRS, "--row-by-row"], env)
    empty_households(owner)
    t_bulk, mb_bulk = timed_process([*command, str(csv_path), *CRS], env)
    workdir.cleanup()

    n = args.households
    load_after = os.getloadavg()
    print(
        f"household import, each in a process of its own "
        f"(load average {load_before[0]:.2f} before, {load_after[0]:.2f} after)"
    )
    print(line("baseline: bare server-side COPY (csv)", n, t_bare))
    print(line("today: import-households --row-by-row", n_slow, t_slow, mb_slow))
    print(line("bulk: import-households", n, t_bulk, mb_bulk))
    ratio = (n / t_bulk) / (n_slow / t_slow)
    ten_million = 10_000_000 / (n / t_bulk)
    how = "took" if n == 10_000_000 else "extrapolated from this run"
    print(f"  bulk time / bare COPY: {t_bulk / t_bare:.1f}x")
    print(
        verdict(
            f"bulk rows/s / row-by-row >= {TARGET_RATIO:.0f}x",
            f"{ratio:.2f}x",
            ratio >= TARGET_RATIO,
        )
    )
    print(
        verdict(
            f"10 M households <= {TARGET_10M_SECONDS} s",
            f"{ten_million:.0f} s ({how})",
            ten_million <= TARGET_10M_SECONDS,
        )
    )
    peak = mb_bulk
    print(
        verdict(f"bulk peak RSS <= {TARGET_PEAK_MB} MB", f"{peak:.0f} MB", peak <= TARGET_PEAK_MB)
    )


def verdict(target: str, measured: str, met: bool) -> str:
    return f"  target {target:40s} {measured:32s} {'met' if met else 'missed'}"


if __name__ == "__main__":
    main()
