"""Every code a user can meet has its one Chinese label in the glossary."""

from __future__ import annotations

from typing import Any

import pytest

from gridmap.core import glossary
from gridmap.grid import import_jobs
from gridmap.requests import lifecycle
from gridmap.storage import models


@pytest.mark.parametrize(
    ("codes", "labels"),
    [
        (models.GRID_LEVELS, glossary.LEVELS),
        (models.HANDLING_LEVELS, glossary.LEVELS),
        (models.GRID_KINDS, glossary.GRID_KINDS),
        (models.PERSON_KINDS, glossary.PERSON_KINDS),
        (models.ROLES, glossary.GRID_ROLES),
        (models.CARE_TAGS, glossary.CARE_TAGS),
        (models.USER_ROLES, glossary.USER_ROLES),
        (models.REQUEST_STATES, glossary.STATES),
        (models.REQUEST_STATES, glossary.STATE_NOTES),
        (lifecycle.ACTIONS, glossary.ACTIONS),
        (lifecycle.RATINGS, glossary.RATINGS),
        (tuple(lifecycle.STAGE_OF[s] for s in lifecycle.CLOCKED), glossary.STAGES),
        (models.REQUEST_SOURCES, glossary.SOURCES),
        (models.WORK_LIST_KINDS, glossary.WORK_LIST_KINDS),
        (models.REACH_HOWS, glossary.VISIT_HOW),
        (models.JOB_STATES, glossary.JOB_STATES),
        (models.NOTICE_KINDS, glossary.NOTICES),
        ((import_jobs.VALIDATE, import_jobs.IMPORT), glossary.JOB_KINDS),
    ],
)
def test_every_code_has_a_label(codes: tuple[str, ...], labels: dict[str, str]) -> None:
    assert set(codes) <= set(labels), f"no label for {set(codes) - set(labels)}"


def test_the_pages_get_the_whole_glossary_as_json() -> None:
    tables: dict[str, Any] = glossary.for_pages()
    assert tables["levels"]["zone"] == "片区网格" and tables["overdue"] == "超期"
    assert tables["hotSpotBins"]["-3"] == glossary.HOT_SPOT_BINS[-3]
