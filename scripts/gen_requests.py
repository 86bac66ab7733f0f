"""Fill a database holding the demo city with synthetic residents' requests (群众诉求).

    python scripts/gen_requests.py [--count 2000000] [--seed 1] [--months 12]
                                   [--database-url postgresql+psycopg://…]

The database defaults to ``GRIDMAP_MIGRATE_DATABASE_URL``, else ``GRIDMAP_DATABASE_URL``; it
must hold the demo city (``flask gridmap load-demo``). Everything is written in one
transaction: on any error nothing is. Prints the progress of each block of days, then the
totals and the rate. The model is described in ``gridmap/demo/generator/`` (its package
docstring says which module holds what).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy.exc import OperationalError

from gridmap.core.errors import GridmapError
from gridmap.demo import generator as synth


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2_000_000, help="requests (default 2 M)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=12, help="calendar months up to now")
    parser.add_argument(
        "--end", type=dt.datetime.fromisoformat, help="as of (ISO, with offset; default now)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GRIDMAP_MIGRATE_DATABASE_URL")
        or os.environ.get("GRIDMAP_DATABASE_URL"),
        help="default: GRIDMAP_MIGRATE_DATABASE_URL, else GRIDMAP_DATABASE_URL",
    )
    return parser.parse_args(argv)


def _progress(
    started: float, total: int
) -> Callable[[Iterable[synth.Block]], Iterator[synth.Block]]:
    """Prints each block as it is drawn, with the requests handed over so far."""

    def wrap(blocks: Iterable[synth.Block]) -> Iterator[synth.Block]:
        drawn = 0
        for block in blocks:
            elapsed = time.perf_counter() - started
            rate = drawn / elapsed if drawn else 0.0
            print(
                f"block {block.number}: {block.first_day}..{block.last_day}, "
                f"{block.requests:,} requests; {drawn:,}/{total:,} handed over after "
                f"{elapsed:.0f} s ({rate:,.0f} requests/s)",
                flush=True,
            )
            drawn += block.requests
            yield block

    return wrap


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if not args.database_url:
        print("error: give --database-url or set GRIDMAP_DATABASE_URL", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        report = synth.run(
            args.database_url,
            count=args.count,
            seed=args.seed,
            months=args.months,
            end=args.end,
            progress=_progress(started, args.count),
        )
    except (GridmapError, ValueError) as exc:
        print(f"error: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"error: cannot use the database: {exc.orig}", file=sys.stderr)
        return 2
    print(report.as_text())
    elapsed = time.perf_counter() - started
    print(
        f"total: {report.requests:,} requests and {report.events:,} events in {elapsed:.1f} s, "
        f"{(report.requests + report.events) / elapsed:,.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
