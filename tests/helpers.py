"""Small helpers shared by the storage and API tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.core import clock
from gridmap.storage.models import Assignment, Coverage, Grid, Household, Person

TABLES = (Grid, Household, Person, Assignment, Coverage)


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every table, to prove that a rejected input changed nothing."""
    return {
        m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in TABLES
    }


def households_csv(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A household table as read from a CSV: every value text."""
    return pd.DataFrame(rows).astype(str)


PROBLEM = "application/problem+json"


def assert_problem(response, status, *words):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["detail"]
    for word in words:
        assert word in body["detail"]
    return body


#: Differences between the request tallies (migration 0008) and a GROUP BY over the requests:
#: ``(per-category rows that differ, per-grid rows that differ, requests counted by month)``.
TALLY_CHECK = """
WITH grouped AS (
  SELECT k.kind, k.start, r.micro_grid_id, c.code, r.state, count(*) AS n
    FROM resident_request r JOIN category c ON c.id = r.category_id
   CROSS JOIN LATERAL (VALUES
     ('W', date_trunc('week', r.created_at AT TIME ZONE 'Asia/Shanghai')::date),
     ('M', date_trunc('month', r.created_at AT TIME ZONE 'Asia/Shanghai')::date)) AS k(kind, start)
   GROUP BY 1, 2, 3, 4, 5),
tallied AS (
  SELECT period_kind, period_start, micro_grid_id, category_code, s.state, s.n
    FROM request_tally
   CROSS JOIN LATERAL (VALUES ('reported', reported), ('accepted', accepted),
     ('handling', handling), ('completed', completed), ('feedback', feedback),
     ('archived', archived), ('duplicate', duplicate)) AS s(state, n)
   WHERE s.n <> 0),
per_grid AS (
  SELECT period_kind, period_start, micro_grid_id,
         reported + accepted + handling + completed + feedback + archived + duplicate AS n
    FROM request_tally_grid)
SELECT (SELECT count(*) FROM grouped g FULL JOIN tallied t
          ON (g.kind, g.start, g.micro_grid_id, g.code, g.state, g.n)
           = (t.period_kind, t.period_start, t.micro_grid_id, t.category_code, t.state, t.n)
         WHERE g.n IS NULL OR t.n IS NULL) AS category_mismatches,
       (SELECT count(*) FROM (SELECT kind, start, micro_grid_id, sum(n) AS n
                                FROM grouped GROUP BY 1, 2, 3) g
          FULL JOIN (SELECT * FROM per_grid WHERE n <> 0) t
          ON (g.kind, g.start, g.micro_grid_id, g.n)
           = (t.period_kind, t.period_start, t.micro_grid_id, t.n)
         WHERE g.n IS NULL OR t.n IS NULL) AS grid_mismatches,
       (SELECT sum(n) FROM grouped WHERE kind = 'M') AS requests
"""


@contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Within the block, :mod:`gridmap.core.clock` says it is ``moment`` (for every caller)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: moment.astimezone(dt.UTC))
        yield
