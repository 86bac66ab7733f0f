"""A block's rows of ``resident_request`` and ``request_event`` as arrays, in PostgreSQL's binary
COPY format (1-based codes into the writer's lists, 0 for NULL), cut into chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
from numpy.typing import NDArray

from gridmap.demo.generator.draw import Drawn
from gridmap.demo.generator.model import ANONYMOUS_SHARE, NEVER, Ints
from gridmap.demo.generator.timelines import (
    DUPLICATE,
    ESCALATE,
    REOPEN,
    REPORT,
    STATES,
    STEPS,
    Timeline,
)
from gridmap.demo.generator.world import World
from gridmap.requests import lifecycle

_PG_EPOCH: Final = 946_684_800  # 2000-01-01T00:00:00Z in Unix seconds
REQUEST_COLUMNS: Final = (
    ("id", "int8"),
    ("category_id", "int4"),
    ("description", "int4"),
    ("lon", "float8"),
    ("lat", "float8"),
    ("household_id", "int8"),
    ("micro_grid_id", "int4"),
    ("level", "int2"),
    ("owner_person_id", "int4"),
    ("owner_user_id", "int4"),
    ("department", "int2"),
    ("state", "int2"),
    ("reopen_count", "int2"),
    ("rating", "int2"),
    ("duplicate_of", "int8"),
    ("contact_name", "int4"),
    ("contact_phone", "int8"),
    ("source", "int2"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("stage_started_at", "timestamptz"),
    ("stage_deadline", "timestamptz"),
    ("revision", "int4"),
    ("due_at", "timestamptz"),
    ("stage_basis", "int2"),
)
EVENT_COLUMNS: Final = (
    ("id", "int8"),
    ("request_id", "int8"),
    ("at", "timestamptz"),
    ("step", "int2"),
    ("actor", "int2"),
    ("level", "int2"),
    ("owner_person_id", "int4"),
    ("owner", "int4"),
    ("deadline", "timestamptz"),
    ("rating", "int2"),
    ("duplicate_of", "int8"),
    ("reason", "int2"),
    ("source", "int2"),
    ("category_version", "int4"),
)
STATE_AFTER = np.array([STATES.index(s.after) for s in STEPS])


def _request_rows(
    world: World, rng: np.random.Generator, d: Drawn, life: Timeline, ids: Ints
) -> dict[str, NDArray[Any]]:
    """The block's rows of ``resident_request`` (1-based codes, 0 for NULL)."""
    city, n = world.city, d.created.size
    present = life.at < NEVER
    columns = np.arange(n)
    named = rng.random(n) >= ANONYMOUS_SHARE
    phone = 10_000_000_000 + rng.integers(0, 10_000_000, n)  # 1000xxxxxxx
    return {
        "id": ids,
        "category_id": city.category_id[d.category],
        "description": world.descriptions[
            d.category, rng.integers(0, world.descriptions.shape[1], n)
        ],
        "lon": d.lon,
        "lat": d.lat,
        "household_id": np.where(d.household >= 0, city.house_id[np.maximum(d.household, 0)], 0),
        "micro_grid_id": city.micro_id[d.micro],
        "level": life.owner.level + 1,
        "owner_person_id": life.owner.person,
        "owner_user_id": life.owner.user,
        "department": life.owner.department,
        "state": STATE_AFTER[life.last] + 1,
        "reopen_count": present[REOPEN].astype(np.int64),
        "rating": life.row_rating,
        "duplicate_of": np.where(life.last == DUPLICATE, ids[np.maximum(d.original, 0)], 0),
        "contact_name": np.where(named, world.names[rng.integers(0, world.names.size, n)], 0),
        "contact_phone": np.where(named & (rng.random(n) < 0.9), phone, 0),
        "source": life.source,
        "created_at": d.created,
        "updated_at": life.at[life.last, columns],
        "stage_started_at": life.started,
        "stage_deadline": life.deadline,
        "revision": present.sum(axis=0) - 1,
        "due_at": life.due,
        "stage_basis": _stage_basis(world, d, life) + 1,
    }


def _stage_basis(world: World, d: Drawn, life: Timeline) -> Ints:
    """How the running stage's limit of each request is counted (working for no stage)."""
    stages = [lifecycle.STAGE_OF[cast("lifecycle.State", s.after)] or "" for s in STEPS]
    stage = np.array(stages)[life.last]
    basis = np.zeros(d.created.size, dtype=np.int64)
    for name, (_, _, codes) in world.city.limits.items():
        basis = np.where(stage == name, codes[d.category], basis)
    return basis


def _event_rows(world: World, d: Drawn, life: Timeline, ids: Ints) -> dict[str, NDArray[Any]]:
    """The block's rows of ``request_event``, request by request, step by step."""
    step, req = np.nonzero(life.at < NEVER)
    order = np.lexsort((step, req))
    step, req = step[order], req[order]
    report, escalate = step == REPORT, step == ESCALATE
    routed, now = life.routed, life.owner
    return {
        "id": np.zeros(step.size, dtype=np.int64),  # the writer takes them from the sequence
        "request_id": ids[req],
        "at": life.at[step, req],
        "step": step + 1,
        "actor": life.actor[step, req],
        "level": np.where(report, routed.level[req], now.level[req]) + 1,
        "owner_person_id": np.where(report, routed.person[req], now.person[req]),
        "owner": np.where(
            report, routed.detail[req], np.where(escalate, now.detail[req], now.plain[req])
        ),
        "deadline": life.step_deadline[step, req],
        "rating": life.rating[step, req],
        "duplicate_of": np.where(step == DUPLICATE, ids[np.maximum(d.original[req], 0)], 0),
        "reason": np.where(escalate, life.reason[req], 0),
        "source": np.where(report, life.source[req], 0),
        "category_version": np.where(report, world.city.category_version[d.category[req]], 0),
    }


_BINARY: Final = {
    "int2": ">i2",
    "int4": ">i4",
    "int8": ">i8",
    "float8": ">f8",
    "timestamptz": ">i8",
}


def _binary_rows(columns: Sequence[tuple[str, str]], values: Mapping[str, NDArray[Any]]) -> Any:
    """Rows in PostgreSQL's binary COPY format as one structured array: every field has a
    fixed width (no NULL: the staging tables use 0 and 2000-01-01 for "none")."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for name, kind in columns:
        fields += [(f"{name}__size", ">i4"), (name, _BINARY[kind])]
    rows = np.empty(len(values[columns[0][0]]), dtype=fields)
    rows["count"] = len(columns)
    for name, kind in columns:
        rows[f"{name}__size"] = np.dtype(_BINARY[kind]).itemsize
        value = values[name]
        if kind == "timestamptz":
            value = np.where(value < NEVER, (value - _PG_EPOCH) * 1_000_000, 0)
        rows[name] = value
    return rows


@dataclass
class Chunk:
    requests: Any
    events: Any


def chunks(
    world: World, rng: np.random.Generator, d: Drawn, life: Timeline, ids: Ints, size: int
) -> Iterator[Chunk]:
    requests = _binary_rows(REQUEST_COLUMNS, _request_rows(world, rng, d, life, ids))
    event_values = _event_rows(world, d, life, ids)
    events = _binary_rows(EVENT_COLUMNS, event_values)
    owner = event_values["request_id"] - ids[0] if ids.size else np.zeros(0, dtype=np.int64)
    for lo in range(0, ids.size, size):
        a, b = np.searchsorted(owner, [lo, lo + size])
        yield Chunk(requests[lo : lo + size], events[a:b])
