"""Synthetic residents' requests (群众诉求) at city scale, for the monthly review (一月一研判).

:func:`generate_requests` fills the database with ``count`` requests and their timelines over
the demo city (the grid, households and staff of :func:`gridmap.demo.loader.load`), as residents and
staff would have produced them over the last ``months`` calendar months up to ``end``. Every
draw comes from one seeded generator: the same database, arguments and seed give the same
rows (ids aside).

The generator draws; the rules are the domain's. Routing, owners and the timeline's "why"
come from :mod:`gridmap.requests.service` (``climb``, ``on_duty``, ``street_owner``,
``unstaffed``, ``summoned``, ``owner_detail``), every step is a transition of
:mod:`gridmap.requests.lifecycle`, deadlines and delays are counted by
:class:`gridmap.requests.deadlines.WorkingTimeTable` (the array twin of ``add_working_time``)
and the due date is :func:`gridmap.requests.service.due_at_many`'s.

Where each part lives
---------------------
=============  =================================================================================
``model``      categories, seasons, hour-of-day profiles, place types, texts: the parameters
``city``       the grid, households, staff and categories read from the database in bulk
``span``       the calendar months covered and the weight of each day
``places``     hot-spot places: centres, kernels and trends
``world``      everything the draws need, built once: the city, places, calendar, intensities
``draw``       one block's requests: when, what and where, with their duplicates
``timelines``  the closed loop of each request, drawn step by step up to ``end``
``rows``       the rows of ``resident_request`` and ``request_event`` in binary COPY format
``write``      the staging tables, the writer thread and the loop over blocks
``report``     what was written (:class:`Report`, :class:`Hotspot`, :class:`Block`)
=============  =================================================================================

The submodules are the generator's own: other code imports the names re-exported here.

Scale
-----
Measured on the 2-core development machine, shared with other jobs, over the demo city
(100 000 households, 5 949 micro-grids): 2 000 000 requests and 11.9 M events in 260 s
(7 700 requests/s, 53 600 rows/s), peak memory 1.2 GB, the database growing by 4.4 GB
(requests 0.8, events 3.3, tally 0.3). Python takes 21 s of CPU of it: the time is the
server's, per chunk of 200 000 requests about 9 s for the requests (eight indexes, one of them
GiST, seven foreign keys and the tally's upsert) and 10 s for their 1.2 M events (a foreign
key and the JSON each).

For 20 M requests the same command works unchanged: blocks hold about ``chunk_size``
requests whatever the count, so memory stays near 1.2 GB, and time and size grow linearly —
expect some 45 minutes and 45 GB (plus the WAL the one transaction writes; a larger
``max_wal_size`` spares checkpoints). Twenty millions in one transaction are all or nothing;
``--months`` spreads them (20 M over 12 months is about Beijing's whole 12345 volume of 2023
filed in one district, a stress test rather than a likeness).
"""

from __future__ import annotations

import datetime as dt
import getpass
import time

from sqlalchemy import Connection, create_engine
from sqlalchemy.orm import Session

from gridmap.access import audit, auth
from gridmap.core import clock
from gridmap.core.clock import BEIJING
from gridmap.demo.generator.city import City, MissingCity
from gridmap.demo.generator.model import (
    CATEGORY_MODELS,
    PLACE_TYPES,
    SYNTHETIC_PHONE_PREFIX,
    TZ,
    CategoryModel,
    PlaceType,
)
from gridmap.demo.generator.report import Block, Hotspot, Report
from gridmap.demo.generator.span import Span
from gridmap.demo.generator.world import World
from gridmap.demo.generator.write import write_all
from gridmap.grid import ingest
from gridmap.storage import rate_facts

__all__ = [
    "CATEGORY_MODELS",
    "PLACE_TYPES",
    "SYNTHETIC_PHONE_PREFIX",
    "TZ",
    "Block",
    "CategoryModel",
    "Hotspot",
    "MissingCity",
    "PlaceType",
    "Report",
    "generate_requests",
    "run",
]


def generate_requests(
    connection_or_session: Connection | Session,
    *,
    count: int,
    seed: int,
    months: int = 12,
    end: dt.datetime | None = None,
    progress: ingest.Progress[Block] = iter,
    chunk_size: int = 200_000,
) -> Report:
    """Fill the database with ``count`` synthetic requests and their timelines.

    Parameters
    ----------
    connection_or_session
        Where to write, in its open transaction (not committed here).
    count : int
        How many requests, exactly (duplicates included).
    seed : int
        Seed of every random draw.
    months : int
        Calendar months covered, the last one being that of ``end``.
    end : datetime, optional
        The moment the data is "as of" (aware; default now): nothing happens after it.
    progress : callable
        Wraps the iterable of :class:`Block` (e.g. ``tqdm``).
    chunk_size : int
        Rows per COPY and per ``INSERT … SELECT`` (one tally update each).

    Returns
    -------
    Report

    Raises
    ------
    MissingCity
        The database holds no current micro-grids, households or demo categories.
    """
    _check_arguments(count, months, end, chunk_size)
    clock_started = time.perf_counter()
    conn = (
        connection_or_session.connection()
        if isinstance(connection_or_session, Session)
        else connection_or_session
    )
    city = City.load(conn)
    span = Span.ending(end or clock.now(), months)
    world = World.build(city, span, seed)
    report = Report(
        requests=0,
        events=0,
        first_id=None,
        last_id=None,
        start=span.start.astimezone(TZ),
        end=span.end_time.astimezone(TZ),
        seconds=0.0,
        hotspots=world.hotspots(),
    )
    if count:
        write_all(conn, world, count, seed, progress, chunk_size, report)
        assert report.first_id is not None and report.last_id is not None
        # The 三率 facts the app keeps on each transition, from the timelines just written.
        rate_facts.fill(conn, report.first_id, report.last_id)
    report.seconds = time.perf_counter() - clock_started
    return report


def run(
    database_url: str,
    *,
    count: int,
    seed: int,
    months: int = 12,
    end: dt.datetime | None = None,
    progress: ingest.Progress[Block] = iter,
) -> Report:
    """:func:`generate_requests` on ``database_url`` in one transaction, audited, committed."""
    engine = create_engine(database_url, connect_args={"options": f"-c timezone={BEIJING.key}"})
    try:
        with Session(engine) as session:
            report = generate_requests(
                session, count=count, seed=seed, months=months, end=end, progress=progress
            )
            audit.record(
                session,
                "import.requests",
                username=f"cli:{getpass.getuser()}",
                origin=auth.Origin(user_agent="gen_requests"),
                detail={"written": report.requests, "events": report.events, "seed": seed},
            )
            session.commit()
    finally:
        engine.dispose()
    return report


def _check_arguments(count: int, months: int, end: dt.datetime | None, chunk_size: int) -> None:
    if type(count) is not int or count < 0:
        raise ValueError(f"count must be a whole number >= 0; got {count!r}")
    if type(months) is not int or not 1 <= months <= 60:
        raise ValueError(f"months must be a whole number from 1 to 60; got {months!r}")
    if end is not None and end.utcoffset() is None:
        raise ValueError(f"end must be a timezone-aware datetime; got {end!r}")
    if type(chunk_size) is not int or chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number >= 1; got {chunk_size!r}")
