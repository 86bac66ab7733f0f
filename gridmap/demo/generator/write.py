"""Writing: the staging tables, the writer thread and the loop over blocks.

Arrays are built with numpy per block of days, COPYed (binary) into temporary staging tables
in chunks of ``chunk_size`` rows and moved into ``resident_request`` and ``request_event``
with one ``INSERT … SELECT`` per chunk, which builds the geometry and the JSON in the server.
``request_tally`` follows by its statement triggers (one upsert per chunk). A writer thread
feeds the database while the next block is drawn. Ids come from the tables' sequences,
reserved at once (``gridmap_reserve_ids``). Everything happens in the caller's transaction:
the caller commits, and a failure leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from sqlalchemy import Connection

from gridmap.demo.generator.draw import Drawn, day_blocks, draw_block
from gridmap.demo.generator.model import CATEGORY_MODELS, DUPLICATE_SHARE, LEVELS, REASONS, SOURCES
from gridmap.demo.generator.report import Block, Report
from gridmap.demo.generator.rows import EVENT_COLUMNS, REQUEST_COLUMNS, STATE_AFTER, Chunk, chunks
from gridmap.demo.generator.timelines import (
    ACTORS,
    RATINGS,
    REOPEN,
    STATES,
    STEPS,
    VERIFIER,
    Timeline,
    live,
)
from gridmap.demo.generator.world import World
from gridmap.grid import ingest
from gridmap.requests import deadlines

_SQL_TYPES: Final = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float8": "double precision",
    "timestamptz": "timestamptz",
}
_COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER: Final = b"\xff\xff"

_INSERT_REQUESTS = """
INSERT INTO resident_request
  (id, category_id, description, geom, household_id, micro_grid_id, level, owner_person_id,
   owner_user_id, department_id, state, reopen_count, rating, duplicate_of, contact_name,
   contact_phone, source, created_at, updated_at, stage_started_at, stage_deadline, revision,
   due_at, stage_basis)
SELECT s.id, s.category_id, d.body, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4490),
       NULLIF(s.household_id, 0), s.micro_grid_id, (%(levels)s::text[])[s.level],
       NULLIF(s.owner_person_id, 0), NULLIF(s.owner_user_id, 0),
       (%(departments)s::int[])[NULLIF(s.department, 0)], (%(states)s::text[])[s.state],
       s.reopen_count, (%(ratings)s::text[])[NULLIF(s.rating, 0)], NULLIF(s.duplicate_of, 0),
       n.body, NULLIF(s.contact_phone, 0)::text, (%(sources)s::text[])[s.source],
       s.created_at, s.updated_at, s.stage_started_at, NULLIF(s.stage_deadline, %(none)s),
       s.revision, s.due_at, (%(bases)s::text[])[s.stage_basis]
  FROM pg_temp.synth_request s
  JOIN pg_temp.synth_text d ON d.idx = s.description
  LEFT JOIN pg_temp.synth_text n ON n.idx = s.contact_name
"""

# The event's detail as gridmap.requests.service writes it: what the move echoes, and its owner.
# Built as text (the owner's part staged once per owner) and parsed once: twice as fast as
# jsonb_build_object.
_INSERT_EVENTS = """
INSERT INTO request_event
  (id, request_id, at, actor, action, from_state, to_state, level, owner_person_id, detail)
SELECT s.id, s.request_id, s.at, (%(actors)s::text[])[s.actor],
       CASE WHEN s.actor = %(verifier)s AND s.rating > 0 THEN 'callback'
            ELSE (%(actions)s::text[])[s.step] END,
       (%(befores)s::text[])[s.step], (%(afters)s::text[])[s.step],
       (%(levels)s::text[])[s.level], NULLIF(s.owner_person_id, 0),
       ('{'
        || CASE WHEN s.source > 0 THEN '"source": "' || (%(sources)s::text[])[s.source]
                || '", "category_version": ' || s.category_version || ', ' ELSE '' END
        || CASE WHEN s.reason > 0
                THEN '"reason": "' || (%(reasons)s::text[])[s.reason] || '", ' ELSE '' END
        || CASE WHEN s.rating > 0
                THEN '"rating": "' || (%(ratings)s::text[])[s.rating] || '", '
                     || '"resolved": "' || CASE WHEN s.rating = 3 THEN 'unresolved'
                                                ELSE 'resolved' END || '", '
                     || '"channel": "' || CASE WHEN s.actor = %(verifier)s THEN 'phone'
                                               ELSE 'resident' END || '", '
                ELSE '' END
        || CASE WHEN s.duplicate_of > 0
                THEN '"duplicate_of": ' || s.duplicate_of || ', ' ELSE '' END
        || CASE WHEN s.step = %(reopen)s THEN '"reopened": true, ' ELSE '' END
        || CASE WHEN s.deadline <> %(none)s
                THEN '"deadline": "' || to_char(s.deadline AT TIME ZONE 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00", '
                ELSE '' END
        || '"owner": ' || o.body || '}')::jsonb
  FROM pg_temp.synth_event s
  JOIN pg_temp.synth_text o ON o.idx = s.owner
"""


def _reserve(cursor: Any, table: str, n: int) -> int:
    """The first of ``n`` ids taken from ``table``'s sequence at once (through a database
    function: the application's role has no ``setval``)."""
    # An empty run (no requests) still asks for one id: the function takes at least one.
    cursor.execute("SELECT gridmap_reserve_ids(%(table)s, %(n)s)", {"table": table, "n": max(n, 1)})
    return int(cursor.fetchone()[0])


def _stage_table(name: str, columns: Sequence[tuple[str, str]]) -> str:
    body = ", ".join(f"{column} {_SQL_TYPES[kind]} NOT NULL" for column, kind in columns)
    return f"CREATE TEMP TABLE {name} ({body})"


class _Writer:
    """Moves chunks into the tables through the staging tables, in a thread of its own so
    that the database works while the next block is drawn."""

    def __init__(self, raw: Any, texts: list[str], departments: list[int]) -> None:
        self.raw = raw
        self.events = 0
        self.error: BaseException | None = None
        self.params: dict[str, Any] = {
            "levels": list(LEVELS),
            "states": list(STATES),
            "bases": list(deadlines.BASIS_CODES),
            "ratings": list(RATINGS),
            "sources": list(SOURCES),
            "departments": departments,
            "actors": list(ACTORS),
            "verifier": VERIFIER,
            "actions": [s.action for s in STEPS],
            "befores": [s.before for s in STEPS],
            "afters": [s.after for s in STEPS],
            "reasons": list(REASONS),
            "reopen": REOPEN + 1,
            "none": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        }
        with raw.cursor() as cur:
            for name, columns in (
                ("synth_request", REQUEST_COLUMNS),
                ("synth_event", EVENT_COLUMNS),
            ):
                cur.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
                cur.execute(_stage_table(name, columns))
            cur.execute("DROP TABLE IF EXISTS pg_temp.synth_text")
            cur.execute(
                "CREATE TEMP TABLE synth_text (idx integer PRIMARY KEY, body text NOT NULL)"
            )
            with cur.copy("COPY synth_text (idx, body) FROM STDIN") as copy:
                for i, body in enumerate(texts, start=1):
                    copy.write_row((i, body))
            cur.execute("ANALYZE synth_text")
        self._queue: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._work, name="synth-writer", daemon=True)
        self._thread.start()

    def put(self, chunk: Chunk) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(chunk)

    def close(self, *, failed: bool = False) -> int:
        """Wait for the chunks in hand and drop the staging tables; returns the events
        written (re-raises what the thread met, unless the caller already failed)."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None and not failed:
            raise self.error
        if not failed:
            with self.raw.cursor() as cur:
                cur.execute(
                    "DROP TABLE pg_temp.synth_request, pg_temp.synth_event, pg_temp.synth_text"
                )
        return self.events

    def _work(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self.error is not None:
                continue  # drain: the main thread will raise it
            try:
                self._write(chunk)
            except BaseException as error:  # handed to the main thread
                self.error = error

    def _write(self, chunk: Chunk) -> None:
        with self.raw.cursor() as cur:
            cur.execute("TRUNCATE pg_temp.synth_request, pg_temp.synth_event")
            self._copy(cur, "synth_request", chunk.requests)
            if chunk.events.size:
                first = _reserve(cur, "request_event", int(chunk.events.size))
                chunk.events["id"] = first + np.arange(chunk.events.size)
                self._copy(cur, "synth_event", chunk.events)
            cur.execute(_INSERT_REQUESTS, self.params)
            if chunk.events.size:
                cur.execute(_INSERT_EVENTS, self.params)
            self.events += int(chunk.events.size)

    @staticmethod
    def _copy(cur: Any, table: str, rows: Any) -> None:
        with cur.copy(f"COPY pg_temp.{table} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_COPY_HEADER)
            for lo in range(0, rows.size, 100_000):
                copy.write(rows[lo : lo + 100_000].tobytes())
            copy.write(_COPY_TRAILER)


def write_all(
    conn: Connection,
    world: World,
    count: int,
    seed: int,
    progress: ingest.Progress[Block],
    chunk_size: int,
    report: Report,
) -> None:
    """Draw the counts, then each block: requests, timelines, rows; hand chunks to the
    writer."""
    rng = np.random.default_rng([seed, 1])
    duplicates = round(count * DUPLICATE_SHARE)
    weights = world.intensity.ravel() / world.intensity.sum()
    counts = rng.multinomial(count - duplicates, weights).reshape(world.intensity.shape)
    bounds = day_blocks(counts, chunk_size)
    base = np.array([counts[:, :, a:b].sum() for a, b in bounds], dtype=np.int64)
    extra = rng.multinomial(duplicates, base / base.sum()) if base.sum() else np.zeros_like(base)
    extra = np.minimum(extra, base)
    blocks = [
        Block(i + 1, world.span.days[a], world.span.days[b - 1], int(base[i] + extra[i]))
        for i, (a, b) in enumerate(bounds)
    ]
    raw = conn.connection.driver_connection
    assert raw is not None, "the connection is closed"
    with raw.cursor() as cur:
        next_id = _reserve(cur, "resident_request", sum(b.requests for b in blocks))
    report.first_id = next_id
    writer = _Writer(raw, world.texts, world.department_ids())
    try:
        for block in progress(blocks):
            a, b = bounds[block.number - 1]
            block_rng = np.random.default_rng([seed, 2, block.number])
            drawn = draw_block(world, block_rng, counts[:, :, a:b], a, int(extra[block.number - 1]))
            life = live(world, block_rng, drawn)
            ids = next_id + np.arange(drawn.created.size, dtype=np.int64)
            next_id += drawn.created.size
            _count(report, drawn, life)
            for chunk in chunks(world, block_rng, drawn, life, ids, chunk_size):
                writer.put(chunk)
    except BaseException:
        writer.close(failed=True)
        raise
    report.events = writer.close()
    report.last_id = next_id - 1


def _count(report: Report, d: Drawn, life: Timeline) -> None:
    report.requests += d.created.size
    states = np.bincount(STATE_AFTER[life.last], minlength=len(STATES))
    for state, n in zip(STATES, states.tolist(), strict=True):
        report.states[state] = report.states.get(state, 0) + n
    per_category = np.bincount(d.category, minlength=len(CATEGORY_MODELS))
    for model, n in zip(CATEGORY_MODELS, per_category.tolist(), strict=True):
        report.categories[model.code] = report.categories.get(model.code, 0) + n
