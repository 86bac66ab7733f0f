"""The generator of residents' requests: exact counts, places inside their micro-grids, the
tally kept by the database, seasons, clusters, coherent timelines and meaningful rates.

The demo city (the whole committed Dongcheng grid, about 210 000 households: the clusters,
trends and rankings below need a district, not a few communities) with 20 000 requests is
generated once for the module, in a transaction rolled back at the end.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from scipy.spatial import cKDTree
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from gridmap import create_app
from gridmap.access.auth import Scope
from gridmap.core import db
from gridmap.core.settings import Settings
from gridmap.demo import generator as synth
from gridmap.demo import loader as demo
from gridmap.requests import deadlines, lifecycle, rates
from tests.helpers import TALLY_CHECK

#: The demo city's load, in a whole run on a busy machine, took 643 s of this module's set-up
#: (2026-12-05): more than the suite's 15 minutes a test leaves to spare.
pytestmark = pytest.mark.timeout(1800)

COUNT = 20_000
SEED = 11
#: The moment the data is "as of": a Friday afternoon in Beijing.
END = dt.datetime(2026, 11, 20, 15, 30, tzinfo=synth.TZ)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def city(settings: Settings) -> Iterator[tuple[Session, synth.Report]]:
    """The demo city and its generated requests, rolled back after the module.

    Loaded as the database's owner, who may ANALYZE the rows inside the open transaction:
    without statistics the checks below joined 100 000 events to 20 000 requests by nested
    loops for minutes each."""
    assert settings.migrate_database_url
    owner = create_engine(settings.migrate_database_url)
    with owner.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        demo.load(session, seed=3, settings=settings)
        report = synth.generate_requests(session, count=COUNT, seed=SEED, end=END)
        session.flush()
        session.execute(text("ANALYZE"))
        yield session, report
        session.close()
        outer.rollback()
    owner.dispose()


def rows(session: Session, sql: str, **params: Any) -> list[Any]:
    return list(session.execute(text(sql), params).all())


def test_the_count_is_exact_and_the_report_says_what_was_written(city):
    session, report = city
    assert report.requests == COUNT == sum(report.states.values())
    found = rows(
        session,
        "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM resident_request",
    )[0]
    assert tuple(found) == (COUNT, COUNT, report.first_id, report.last_id)
    events = session.scalar(text("SELECT count(*) FROM request_event"))
    assert events == report.events > 5 * COUNT
    assert len(report.hotspots) == sum(t.count for t in synth.PLACE_TYPES)
    assert "requests: 20,000 written" in report.as_text()


def test_the_sequences_continue_after_the_generated_ids(city):
    session, _ = city
    for table in ("resident_request", "request_event"):
        last = session.scalar(text(f"SELECT last_value FROM {table}_id_seq"))
        biggest = session.scalar(text(f"SELECT max(id) FROM {table}"))
        assert last >= biggest


def test_every_request_lies_in_its_micro_grid_and_a_households_at_its_door(city):
    session, _ = city
    outside = session.scalar(
        text(
            "SELECT count(*) FROM resident_request r JOIN grid g ON g.id = r.micro_grid_id"
            " WHERE g.level <> 'micro' OR g.valid_to IS NOT NULL OR NOT ST_Covers(g.geom, r.geom)"
        )
    )
    assert outside == 0
    homes = rows(
        session,
        "SELECT count(*), count(*) FILTER (WHERE ST_Equals(h.geom, r.geom)"
        " AND h.micro_grid_id = r.micro_grid_id)"
        " FROM resident_request r JOIN household h ON h.id = r.household_id",
    )[0]
    assert homes[0] == homes[1] > COUNT / 3  # disputes, care, repairs, heating come from homes
    by_kind = dict(
        rows(
            session,
            "SELECT c.code, avg((r.household_id IS NOT NULL)::int) FROM resident_request r"
            " JOIN category c ON c.id = r.category_id GROUP BY 1",
        )
    )
    assert by_kind["utility.heating"] > 0.85 and by_kind["street.vendor"] < 0.2


def test_the_tallies_equal_a_group_by_over_the_requests(city):
    session, _ = city
    assert tuple(session.execute(text(TALLY_CHECK)).one()) == (0, 0, COUNT)


def monthly(session: Session, code: str) -> dict[int, int]:
    found = rows(
        session,
        "SELECT extract(month FROM r.created_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)"
        " FROM resident_request r JOIN category c ON c.id = r.category_id"
        " WHERE c.code = :code GROUP BY 1",
        code=code,
    )
    return defaultdict(int, dict(found))


def test_the_seasons_show(city):
    session, _ = city
    heating, flooding = monthly(session, "utility.heating"), monthly(session, "emergency.flooding")
    assert heating[1] > 10 * max(heating[7], 1)
    assert flooding[7] > 10 * max(flooding[1], 1)
    noise = monthly(session, "construction.noise")
    assert noise[4] > 2 * noise[1]
    hours = dict(
        rows(
            session,
            "SELECT extract(hour FROM created_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)"
            " FROM resident_request GROUP BY 1",
        )
    )
    assert hours[10] > 8 * hours[3]  # working hours peak, few at night
    weekday = rows(
        session,
        "SELECT extract(isodow FROM created_at AT TIME ZONE 'Asia/Shanghai') < 6, count(*)"
        " FROM resident_request GROUP BY 1 ORDER BY 1",
    )
    rest, work = weekday[0][1], weekday[1][1]
    assert work / 5 > 1.2 * rest / 2


def test_requests_cluster_far_more_than_complete_spatial_randomness(city):
    """Quadrat counts and nearest neighbours of street requests, against as many points drawn
    uniformly in the same city (complete spatial randomness)."""
    session, _ = city
    points = np.array(
        rows(
            session,
            "SELECT ST_X(r.geom), ST_Y(r.geom) FROM resident_request r"
            " JOIN category c ON c.id = r.category_id"
            " WHERE c.code IN ('street.vendor', 'street.parking', 'ads.flyer')",
        )
    )
    uniform = np.array(
        rows(
            session,
            "SELECT ST_X(p.geom), ST_Y(p.geom) FROM (SELECT (ST_Dump(ST_GeneratePoints("
            "ST_Union(geom), :n, 1))).geom FROM grid WHERE level = 'community') AS p",
            n=len(points),
        )
    )
    both = np.vstack([points, uniform])
    metres = (both - both.min(axis=0)) * (111_320 * np.cos(np.radians(39.9)), 110_574)
    key = (metres // 250).astype(np.int64) @ np.array([1, 100_000])
    cells = np.unique(key[len(points) :])  # the quadrats of the city
    observed = np.array([np.count_nonzero(key[: len(points)] == k) for k in cells])
    expected = np.array([np.count_nonzero(key[len(points) :] == k) for k in cells])
    assert observed.var() / observed.mean() > 5 * expected.var() / expected.mean()

    def mean_nearest(xy: np.ndarray) -> float:
        distance, _ = cKDTree(xy).query(xy, k=2)
        return float(distance[:, 1].mean())

    n = len(points)
    assert n > 3000 and mean_nearest(metres[:n]) < 0.9 * mean_nearest(metres[n:])


def test_emerging_places_grow_and_fading_ones_fade(city):
    session, report = city
    counts = {}
    for trend in ("emerging", "fading"):
        spots = [h for h in report.hotspots if h.trend == trend]
        assert len(spots) >= 2
        near = " OR ".join(
            f"ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint({h.lon}, {h.lat}), 4490)"
            f"::geography, {2 * h.sigma_m})"
            for h in spots
        )
        counts[trend] = rows(
            session,
            "SELECT count(*) FILTER (WHERE created_at < :middle),"
            " count(*) FILTER (WHERE created_at >= :late)"
            f" FROM resident_request WHERE {near}",
            middle=END - dt.timedelta(days=240),
            late=END - dt.timedelta(days=90),
        )[0]
    early, late = counts["emerging"]
    assert late > 2 * early  # 3 months hold more than the first 4
    early, late = counts["fading"]
    assert early > 2 * late


def test_timelines_are_coherent_and_rows_match_their_last_step(city):
    session, _ = city
    broken = session.scalar(
        text(
            """
            WITH e AS (
              SELECT e.*, lag(e.to_state) OVER w AS prev_state, lag(e.at) OVER w AS prev_at,
                     row_number() OVER w AS k, count(*) OVER (PARTITION BY request_id) AS n
                FROM request_event e WINDOW w AS (PARTITION BY request_id ORDER BY at, id))
            SELECT count(*) FROM e JOIN resident_request r ON r.id = e.request_id
             WHERE (e.k = 1 AND (e.action <> 'report' OR e.from_state IS NOT NULL
                                 OR e.at <> r.created_at))
                OR (e.k > 1 AND (e.from_state IS DISTINCT FROM e.prev_state
                                 OR e.at <= e.prev_at))
                OR (e.k = e.n AND (e.to_state <> r.state OR e.level <> r.level
                                   OR e.at <> r.updated_at OR r.revision <> e.n - 1
                                   OR e.owner_person_id IS DISTINCT FROM r.owner_person_id))
                OR e.at > :end
            """
        ),
        {"end": END},
    )
    assert broken == 0
    archived = rows(
        session,
        "SELECT string_agg(e.action, ',' ORDER BY e.at) FROM request_event e"
        " JOIN resident_request r ON r.id = e.request_id WHERE r.state = 'archived'"
        " GROUP BY r.id",
    )
    loops = {r[0] for r in archived}
    assert loops >= {
        "report,accept,start,complete,rate,archive",
        "report,accept,start,complete,archive",  # unanswered: the scheduler archived it
        "report,accept,start,complete,rate,complete,rate,archive",  # reopened
        "report,escalate,accept,start,complete,rate,archive",
        "report,accept,start,complete,callback,archive",  # 回访 by the street's verifier
        "report,accept,start,complete,callback,complete,rate,archive",  # unresolved: reopened
    }
    assert all(loop.startswith("report,") and loop.endswith("archive") for loop in loops)


def actor_role(actor: str) -> str:
    return {"12345": "resident", "app": "resident", "page": "resident"}.get(
        actor.removeprefix("synth:"), actor.removeprefix("synth:")
    )


def test_every_step_is_a_legal_transition_by_the_role_that_took_it(city):
    session, _ = city
    events = rows(
        session,
        "SELECT request_id, action, actor, to_state, level, detail FROM request_event"
        " WHERE request_id % 7 = 0 ORDER BY request_id, at, id",
    )
    timelines: dict[int, list[Any]] = defaultdict(list)
    for event in events:
        timelines[event.request_id].append(event)
    for steps in timelines.values():
        state = lifecycle.new_request(steps[0].level)
        for event in steps[1:]:
            args = {
                "rate": {"rating": event.detail.get("rating")},
                "callback": {
                    key: event.detail.get(key) for key in ("resolved", "rating", "channel")
                },
                "escalate": {"reason": event.detail.get("reason")},
                "mark_duplicate": {"original_id": event.detail.get("duplicate_of")},
            }.get(event.action, {})
            move = lifecycle.transition(state, event.action, actor_role(event.actor), **args)
            if event.action in lifecycle.ANSWERS:  # the answer record as the service writes it
                assert (move.resolved, move.channel) == (
                    event.detail["resolved"],
                    event.detail["channel"],
                )
            state = move.after
            assert (state.state, state.level) == (event.to_state, event.level)
    assert len(timelines) > COUNT / 8


def test_stage_clocks_are_those_gridmap_deadlines_computes(city):
    session, _ = city
    sample = rows(
        session,
        """
        SELECT r.state, r.stage_started_at, r.stage_deadline, r.stage_basis, c.time_limits
          FROM resident_request r JOIN category c ON c.id = r.category_id
         WHERE r.state IN ('reported', 'accepted', 'handling', 'completed')
        """,
    )
    assert len(sample) > 50
    for row in sample:
        stage = lifecycle.STAGE_OF[row.state]
        limit = row.time_limits[stage]
        basis = limit.get("basis", "working")
        expected = deadlines.add_time(row.stage_started_at, limit["amount"], limit["unit"], basis)
        assert row.stage_deadline == expected
        assert row.stage_basis == basis
    assert {row.stage_basis for row in sample} == {"working", "clock"}
    recorded = rows(
        session,
        """
        SELECT e.action, e.at, e.detail ->> 'deadline' AS deadline, c.time_limits
          FROM request_event e JOIN resident_request r ON r.id = e.request_id
          JOIN category c ON c.id = r.category_id
         WHERE e.detail ? 'deadline' AND e.request_id % 11 = 0
        """,
    )
    stage_of = {
        "accept": "handling",
        "complete": "feedback",
        "rate": "handling",
        "callback": "handling",
    }
    for row in recorded:
        limit = row.time_limits[stage_of.get(row.action, "response")]
        basis = limit.get("basis", "working")
        expected = deadlines.add_time(row.at, limit["amount"], limit["unit"], basis)
        assert row.deadline == expected.isoformat()


def test_the_working_time_calendar_agrees_with_gridmap_deadlines():
    """Starts at night, at lunch, exactly at 12:00 and 17:30, on holidays and make-up days."""
    first = dt.date(2025, 12, 1)
    clock = deadlines.WorkingTimeTable(first, 120, exact_until=first + dt.timedelta(days=120))
    rng = np.random.default_rng(0)
    base = int(dt.datetime.combine(first, dt.time(), synth.TZ).timestamp())
    starts = base + rng.integers(0, 80 * 86400, 3000)
    edges = [dt.datetime(2026, 2, 13, h, m, tzinfo=synth.TZ) for h, m in ((12, 0), (17, 30))]
    starts[:2] = [int(e.timestamp()) for e in edges]
    for unit, code in (("hours", 1), ("days", 2)):
        for amount in (0, 1, 2, 4, 7, 5):
            got = clock.add_working_time(
                starts, np.full(starts.size, amount), np.full(starts.size, code)
            )
            for start, deadline in zip(starts.tolist(), got.tolist(), strict=True):
                moment = dt.datetime.fromtimestamp(start, dt.UTC)
                expected = deadlines.add_working_time(moment, amount, unit)  # type: ignore[arg-type]
                assert deadline == int(expected.timestamp()), (moment, amount, unit)


def test_old_requests_are_closed_and_recent_ones_open_in_every_state(city):
    session, _ = city
    old = dict(
        rows(
            session,
            "SELECT state, count(*) FROM resident_request WHERE created_at < :before GROUP BY 1",
            before=END - dt.timedelta(days=60),
        )
    )
    assert old["archived"] / sum(old.values()) > 0.95
    recent = dict(
        rows(
            session,
            "SELECT state, count(*) FROM resident_request WHERE created_at >= :since GROUP BY 1",
            since=END - dt.timedelta(days=14),
        )
    )
    assert set(recent) >= {"reported", "accepted", "handling", "completed", "feedback", "archived"}
    overdue = session.scalar(
        text(
            "SELECT count(*) FROM resident_request WHERE state IN"
            " ('reported', 'accepted', 'handling', 'completed') AND stage_deadline < :end"
        ),
        {"end": END},
    )
    assert overdue > 0
    ratings = dict(rows(session, "SELECT rating, count(*) FROM resident_request GROUP BY 1"))
    assert ratings["satisfied"] > ratings["basically_satisfied"] > ratings["unsatisfied"] > 0
    reopened = session.scalar(text("SELECT count(*) FROM resident_request WHERE reopen_count > 0"))
    assert 0 < reopened < 0.1 * COUNT


def test_about_one_in_a_hundred_is_a_duplicate_of_an_earlier_request_like_it(city):
    session, _ = city
    pairs = rows(
        session,
        "SELECT d.created_at > o.created_at AND d.category_id = o.category_id"
        " AND o.state <> 'duplicate' AND ST_DWithin(d.geom::geography, o.geom::geography, 500)"
        " FROM resident_request d JOIN resident_request o ON o.id = d.duplicate_of",
    )
    assert 0.005 * COUNT < len(pairs) <= 0.01 * COUNT
    assert all(ok for (ok,) in pairs)
    assert (
        session.scalar(
            text(
                "SELECT count(*) FROM resident_request"
                " WHERE (state = 'duplicate') <> (duplicate_of IS NOT NULL)"
            )
        )
        == 0
    )


def test_contacts_are_plainly_synthetic(city):
    session, _ = city
    phones = rows(
        session,
        "SELECT DISTINCT left(contact_phone, 4) FROM resident_request"
        " WHERE contact_phone IS NOT NULL",
    )
    assert phones == [(synth.SYNTHETIC_PHONE_PREFIX,)]
    names = rows(
        session,
        "SELECT DISTINCT right(contact_name, 2) FROM resident_request"
        " WHERE contact_name IS NOT NULL",
    )
    assert {n for (n,) in names} == {"先生", "女士"}


def test_the_rates_of_a_generated_month_are_neither_all_zero_nor_all_one(city):
    """三率 of September as its monthly report sees them, at the end of the month."""
    session, _ = city
    september = rates.period("2026-09")
    ranking = rates.ranking(
        session, Scope(prefixes=("110101",)), september, level="community", now=september.end
    )
    total = rates.Tally()
    for row in ranking.rows:
        for name in vars(total):
            setattr(total, name, getattr(total, name) + row[name])
    response, resolution, satisfaction = (rate or 0.0 for rate in total.rates())
    assert 0.75 < response < 0.95, total  # about a tenth answered late
    assert 0.85 < resolution < 1.0, total
    assert 0.85 < satisfaction < 0.99, total
    for rate in ("response_rate", "resolution_rate", "satisfaction_rate"):
        values = [r[rate] for r in ranking.rows if r[rate] is not None]
        assert len(values) > 50 and min(values) < max(values)
    assert {r["board"] for r in ranking.rows} >= {"red", "black"}


def test_the_same_seed_gives_the_same_requests(city):
    session, _ = city

    def generated(seed: int) -> list[tuple[Any, ...]]:
        nested = session.begin_nested()
        report = synth.generate_requests(session, count=1500, seed=seed, months=2, end=END)
        found = rows(
            session,
            "SELECT r.id - :first, r.category_id, ST_AsText(r.geom), r.household_id, r.state,"
            " r.created_at, r.updated_at, r.stage_deadline, r.duplicate_of - :first,"
            " r.description, r.contact_phone,"
            " (SELECT string_agg(e.action || e.at::text || (e.detail - 'duplicate_of')::text,"
            "  ',' ORDER BY e.id) FROM request_event e WHERE e.request_id = r.id)"
            " FROM resident_request r WHERE r.id BETWEEN :first AND :last ORDER BY r.id",
            first=report.first_id,
            last=report.last_id,
        )
        nested.rollback()
        return [tuple(r) for r in found]

    once, again = generated(5), generated(5)
    assert len(once) == 1500 and once == again
    assert generated(6) != once


def test_a_failure_in_the_writer_reaches_the_caller(city, monkeypatch):
    session, _ = city
    monkeypatch.setattr(
        synth.write, "_INSERT_EVENTS", "SELECT no_such_column FROM pg_temp.synth_event"
    )
    nested = session.begin_nested()
    with pytest.raises(psycopg.errors.UndefinedColumn):
        synth.generate_requests(session, count=500, seed=1, months=1, end=END)
    nested.rollback()


def test_without_a_city_nothing_is_written_and_the_error_says_why(session):
    with pytest.raises(synth.MissingCity, match="load-demo"):
        synth.generate_requests(session, count=10, seed=1)


def test_the_flask_command_generates_and_audits_in_one_transaction(city, settings):
    session, _ = city
    app = create_app(settings)
    db.use_sessions(
        app, sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")
    )
    nested = session.begin_nested()  # the module's requests stay as they are
    before = session.scalar(text("SELECT count(*) FROM resident_request"))
    result = app.test_cli_runner().invoke(
        args=["gridmap", "gen-requests", "--count", "300", "--months", "1", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "requests: 300 written" in result.output
    assert session.scalar(text("SELECT count(*) FROM resident_request")) == before + 300
    audited = session.scalar(
        text("SELECT detail ->> 'written' FROM audit_log WHERE action = 'import.requests'")
    )
    assert audited == "300"
    nested.rollback()


def test_the_commands_refuse_an_empty_database(runner, database_urls):
    result = runner.invoke(args=["gridmap", "gen-requests", "--count", "10"])
    assert result.exit_code == 1 and "load-demo" in result.output
    script = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_requests.py"), "--count", "10",
         "--database-url", database_urls[0]],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert script.returncode == 1 and "load-demo" in script.stderr


def test_arguments_are_checked_first(session):
    for bad in ({"count": -1}, {"count": 10, "months": 0}):
        with pytest.raises(ValueError):
            synth.generate_requests(session, seed=1, **{"count": 10} | bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        synth.generate_requests(session, count=1, seed=1, end=dt.datetime(2026, 1, 1))


def test_every_demo_category_has_a_model():
    assert [c[0] for c in demo.CATEGORIES] == [m.code for m in synth.CATEGORY_MODELS]
    assert abs(sum(m.share for m in synth.CATEGORY_MODELS) - 1) < 1e-9
    assert all(len(m.months) == 12 for m in synth.CATEGORY_MODELS)
