"""CPU time per API request: the gunicorn workers' and PostgreSQL's, next to /health's.

On a machine shared with other work, throughput shares move with everyone else's load;
the CPU a request costs (its worker's and every PostgreSQL process's of this cluster, read
from /proc) moves far less, and on a 2-core machine where the API is CPU-bound, health's
CPU per request over a view's is the throughput share that view can reach. Requests one at
a time over one connection (the series of ``bench locate``), ``--rounds`` rounds, every
series on each server in turn (``--compare-with`` another checkout's code, repeatable).
Needs the ``gridmap_bench`` database of an earlier ``./scripts/bench locate``.

    ./scripts/bench api_cpu [--requests 600] [--rounds 3] [--compare-with DIR ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from bench_locate import ROOT, api_series, bench_token, latencies, serve
from sqlalchemy import make_url

from gridmap.core.settings import Settings

_TICK = os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> set[int]:
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.add(int(name))
    return found


def _cpu_ms(pids: set[int]) -> float:
    """User and system CPU time of ``pids`` (ms; a process gone in between counts 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="per series and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--compare-with", type=Path, action="append", default=[])
    args = parser.parse_args()
    settings = Settings.from_env()
    owner = make_url(settings.migrate_database_url).set(database="gridmap_bench")
    owner_url = owner.render_as_string(hide_password=False)
    app_url = make_url(settings.database_url).set(database="gridmap_bench")
    data_dir = Path(os.environ.get("GRIDMAP_PG_DATA", ROOT / "var" / "pg"))
    with open(data_dir / "postmaster.pid") as pid_file:
        postmaster = int(pid_file.readline())
    token = bench_token(owner_url)
    series = api_series(owner_url, args.requests)
    roots = [ROOT] + [path.resolve() for path in args.compare_with]
    servers = [serve(app_url.render_as_string(hide_password=False), args.workers, r) for r in roots]
    costs: dict[tuple[Path, str], list[float]] = {}
    try:
        for _, port in servers:
            for paths in series.values():  # warm every worker and its pooled connections
                latencies(port, paths[:100], token)
        for _ in range(args.rounds):
            for name, paths in series.items():
                for root, (server, port) in zip(roots, servers, strict=True):
                    pids = _children(server.pid) | _children(postmaster)
                    before = _cpu_ms(pids)
                    latencies(port, paths, token)
                    spent = _cpu_ms(pids | _children(postmaster)) - before
                    costs.setdefault((root, name), []).append(spent / len(paths))
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait()
    _report(roots, list(series), costs, args)


def _report(
    roots: list[Path],
    series: list[str],
    costs: dict[tuple[Path, str], list[float]],
    args: argparse.Namespace,
) -> None:
    print(
        f"CPU ms per request (gunicorn workers + PostgreSQL), {args.requests} requests one at a "
        f"time per series, median of {args.rounds} rounds; health / view = the throughput share "
        "a CPU-bound server can reach"
    )
    for root in roots:
        health = statistics.median(costs[root, series[0]])
        for name in series:
            found = costs[root, name]
            cost = statistics.median(found)
            print(
                f"  {'' if root == ROOT else f'[{root}] '}{name:22s} {cost:6.2f} ms   "
                f"health / this {health / cost:5.2f}x"
                f"   (rounds {', '.join(f'{x:.2f}' for x in found)})"
            )


if __name__ == "__main__":
    main()
