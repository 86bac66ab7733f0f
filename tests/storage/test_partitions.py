"""Month partitions (migration 0034): queries bounded by time read only their months, the
audit log's retention drops exactly the months past its window and the chain still verifies,
rows of any time are stored, and the coming months' partitions are made ahead.

A database of its own: these tests make and drop partitions as the owner and commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.core import clock
from gridmap.storage import partitions
from gridmap.storage import patrols as patrol_store
from gridmap.storage.models import RequestEvent
from tests.conftest import create_test_database, drop_test_database
from tests.security.test_audit_chain import RESEAL

GENESIS = "0" * 64


@dataclass
class Roles:
    owner: Engine
    app: Engine


@pytest.fixture(scope="module")
def roles() -> Iterator[Roles]:
    name = "gridmap_test_partitions"
    owner_url, app_url = create_test_database(name)
    owner, app = create_engine(owner_url), create_engine(app_url)
    yield Roles(owner, app)
    owner.dispose()
    app.dispose()
    drop_test_database(name)


def _owner(roles: Roles, *statements: str) -> None:
    with roles.owner.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _month(offset: int) -> dt.date:
    """The first day of the Beijing month ``offset`` months from the database's now."""
    today = dt.datetime.now(clock.BEIJING).date().replace(day=1)
    months = today.year * 12 + today.month - 1 + offset
    return dt.date(months // 12, months % 12 + 1, 1)


def _name(table: str, month: dt.date) -> str:
    return f"{table}_p{month:%Y%m}"


def _partitions(roles: Roles, table: str) -> list[str]:
    with roles.owner.connect() as conn:
        return list(
            conn.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"
                ),
                {"t": table},
            )
        )


def _plan_of(session: Session, query: Callable[[], Any]) -> str:
    """The plan PostgreSQL makes for the last SELECT ``query`` runs, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        query()
    finally:
        event.remove(connection, "before_cursor_execute", record)
    statement, parameters = seen[-1]
    rows = connection.exec_driver_sql(f"EXPLAIN (COSTS OFF) {statement}", parameters)
    return "\n".join(r[0] for r in rows)


def _read(plan: str, table: str) -> set[str]:
    return set(re.findall(rf"\b({table}_(?:p\d{{6}}|default))\b", plan))


@pytest.fixture
def months_back(roles: Roles) -> Iterator[list[dt.date]]:
    """Month partitions 11, 10 and 5 months back, beside those the migration made."""
    months = [_month(-11), _month(-10), _month(-5)]
    for table in partitions.PARTITIONED:
        _owner(roles, *(f"SELECT gridmap_partition_month('{table}', '{m}')" for m in months))
    yield months
    for table in partitions.PARTITIONED:
        _owner(roles, *(f"DROP TABLE IF EXISTS {_name(table, m)}" for m in months))


def test_the_migration_made_this_month_the_next_three_and_a_default(roles):
    for table in partitions.PARTITIONED:
        ahead = [_name(table, _month(i)) for i in range(partitions.MONTHS_AHEAD + 1)]
        assert set(ahead) | {f"{table}_default"} <= set(_partitions(roles, table))


def test_a_patrols_fixes_are_read_from_its_start_month_only(roles, months_back):
    started = dt.datetime.combine(months_back[0], dt.time(9), clock.BEIJING)
    with Session(roles.app) as session:
        plan = _plan_of(session, lambda: patrol_store.points_of(session, 1, started))
        count_plan = _plan_of(session, lambda: patrol_store.point_count(session, 1, started))
    assert _read(plan, "patrol_point") == {_name("patrol_point", months_back[0])}
    assert _read(count_plan, "patrol_point") == {_name("patrol_point", months_back[0])}


def test_the_audit_log_by_time_range_reads_only_those_months(roles, months_back):
    since = dt.datetime.combine(months_back[0], dt.time(12), clock.BEIJING)
    until = dt.datetime.combine(months_back[1], dt.time(12), clock.BEIJING)
    with Session(roles.app) as session:
        plan = _plan_of(session, lambda: audit.search(session, since=since, until=until))
    assert _read(plan, "audit_log") == {_name("audit_log", m) for m in months_back[:2]}


def test_a_requests_timeline_by_request_and_time_reads_only_that_month(roles):
    month = _month(0)
    start = dt.datetime.combine(month, dt.time(0), clock.BEIJING)
    stmt = select(RequestEvent.at, RequestEvent.action).where(
        RequestEvent.request_id == 1,
        RequestEvent.at >= start,
        RequestEvent.at < start + dt.timedelta(days=7),
    )
    with Session(roles.app) as session:
        plan = _plan_of(session, lambda: session.execute(stmt).all())
    assert _read(plan, "request_event") == {_name("request_event", month)}
    assert "ix_request_event_request_at" in plan or "request_id" in plan


def _fresh_chain(roles: Roles) -> None:
    _owner(
        roles,
        "TRUNCATE audit_log",
        f"UPDATE audit_chain_head SET seq = 0, hash = '{GENESIS}'",
        f"UPDATE audit_chain_anchor SET seq = 0, hash = '{GENESIS}', pruned_at = NULL",
    )


def _write(roles: Roles, n: int, **values: Any) -> list[int]:
    with Session(roles.app) as session:
        for i in range(n):
            audit.record(session, "test.partition", detail={"i": i}, **values)
        session.commit()
        return list(session.scalars(text("SELECT id FROM audit_log ORDER BY chain_seq")))


def _where(roles: Roles) -> dict[int, str]:
    with roles.app.connect() as conn:
        rows = conn.execute(text("SELECT id, tableoid::regclass::text FROM audit_log")).all()
    return {int(r[0]): str(r[1]) for r in rows}


def _verdict(roles: Roles) -> audit.Verdict:
    with Session(roles.app) as session:
        return audit.verify(session)


def test_retention_drops_exactly_the_months_past_the_window_and_the_chain_verifies(
    roles, months_back
):
    _fresh_chain(roles)
    ids = _write(roles, 6)
    in_month = {m: dt.datetime.combine(m, dt.time(12), clock.BEIJING) for m in months_back}
    aged = {
        ids[0]: in_month[months_back[0]],
        ids[1]: in_month[months_back[0]] + dt.timedelta(hours=1),
        ids[2]: in_month[months_back[1]],
        # No month partition 200 days back: the DEFAULT partition holds it.
        ids[3]: dt.datetime.now(dt.UTC) - dt.timedelta(days=200),
    }
    _owner(
        roles,
        *(f"UPDATE audit_log SET at = '{at.isoformat()}' WHERE id = {i}" for i, at in aged.items()),
        RESEAL,
    )
    where = _where(roles)
    assert [where[i] for i in ids[:4]] == [
        _name("audit_log", months_back[0]),
        _name("audit_log", months_back[0]),
        _name("audit_log", months_back[1]),
        "audit_log_default",
    ]
    assert _verdict(roles).intact
    before = _partitions(roles, "audit_log")
    with Session(roles.app) as session:
        removed = audit.prune(session, 180)
        session.commit()
    assert removed == 4
    gone = {_name("audit_log", months_back[0]), _name("audit_log", months_back[1])}
    # The month within the window (five months back, empty) and every other one stay.
    assert _partitions(roles, "audit_log") == [p for p in before if p not in gone]
    assert _name("audit_log", months_back[2]) in _partitions(roles, "audit_log")
    assert sorted(_where(roles)) == ids[4:]
    verdict = _verdict(roles)
    assert verdict.intact and verdict.checked == 2
    with roles.owner.connect() as conn:
        assert conn.scalar(text("SELECT seq FROM audit_chain_anchor")) == 4


def test_an_audit_row_sent_with_a_time_of_its_own_is_sealed_into_this_month(roles):
    _fresh_chain(roles)
    with Session(roles.app) as session:
        session.execute(
            text(
                "INSERT INTO audit_log (at, action, outcome, detail, chain_seq, prev_hash, hash)"
                " VALUES ('1999-03-01T00:00:00Z', 'test.forged_time', 'ok', '{}', 1, '', '')"
            )
        )
        session.commit()
    assert list(_where(roles).values()) == [_name("audit_log", _month(0))]
    with roles.app.connect() as conn:
        at = conn.scalar(text("SELECT at FROM audit_log"))
    assert abs(at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert _verdict(roles).intact


def test_without_its_month_a_row_lands_in_default_and_moves_in_when_the_month_is_made(roles):
    _fresh_chain(roles)
    this_month = _name("audit_log", _month(0))
    _owner(roles, f"DROP TABLE {this_month}")
    _write(roles, 2)
    assert set(_where(roles).values()) == {"audit_log_default"}
    with Session(roles.app) as session:
        made = partitions.make_ahead(session)
        session.commit()
    # This month's partition of the audit log; every other table had all of its months.
    assert made == 1
    assert set(_where(roles).values()) == {this_month}
    assert _verdict(roles).intact


def test_the_maintenance_step_makes_the_coming_months_ahead(roles):
    later = [_month(partitions.MONTHS_AHEAD - 1), _month(partitions.MONTHS_AHEAD)]
    _owner(
        roles,
        *(f"DROP TABLE {_name(t, m)}" for t in partitions.PARTITIONED for m in later),
    )
    with Session(roles.app) as session:
        made = partitions.make_ahead(session)
        again = partitions.make_ahead(session)
        session.commit()
    assert (made, again) == (2 * len(partitions.PARTITIONED), 0)
    for table in partitions.PARTITIONED:
        assert {_name(table, m) for m in later} <= set(_partitions(roles, table))


def test_the_application_may_not_make_a_partition_of_another_table(roles):
    with roles.app.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("SELECT gridmap_partition_month('app_user', '2026-01-01')"))


@pytest.mark.parametrize("table", partitions.PARTITIONED)
def test_the_application_reaches_the_partitions_only_through_their_parent(roles, table):
    """Privileges are checked on the parent: a partition grants the application nothing, so
    the audit log's months cannot be written around the append-only parent."""
    for part in (_name(table, _month(0)), f"{table}_default"):
        for statement in (f"SELECT count(*) FROM {part}", f"DELETE FROM {part}"):
            with roles.app.connect() as conn, pytest.raises(ProgrammingError, match="denied"):
                conn.execute(text(statement))
    with roles.app.connect() as conn:
        assert conn.scalar(text(f"SELECT count(*) >= 0 FROM {table}"))
