"""Small helpers shared by the storage and API tests."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
