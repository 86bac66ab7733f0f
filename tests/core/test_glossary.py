"""Every code a user can meet has its one Chinese label in the glossary."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
from flask_openapi3 import OpenAPI

import gridmap
from gridmap.core import clock, glossary
from gridmap.core.errors import GridmapError
from gridmap.grid import import_jobs
from gridmap.requests import lifecycle
from gridmap.spatial import balance
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
        (models.VISIT_CHANNELS, glossary.VISIT_CHANNELS),
        (models.VISIT_TOPICS, glossary.VISIT_TOPICS),
        (models.JOB_STATES, glossary.JOB_STATES),
        (models.NOTICE_KINDS, glossary.NOTICES),
        (models.OUTBOX_KINDS, glossary.OUTBOX_KINDS),
        (models.NOTICE_CHANNELS, glossary.NOTICE_CHANNELS),
        (models.OUTBOX_OUTCOMES, glossary.NOTICE_OUTCOMES),
        ((import_jobs.VALIDATE, import_jobs.IMPORT), glossary.JOB_KINDS),
        (models.AUDIT_OUTCOMES, glossary.AUDIT_OUTCOMES),
        (models.NEED_KINDS, glossary.NEED_KINDS),
        (models.RESOURCE_KINDS, glossary.RESOURCE_KINDS),
        (models.NEED_STATES, glossary.NEED_STATES),
        (models.MATCH_STATES, glossary.MATCH_STATES),
        (models.WISH_STATES, glossary.WISH_STATES),
        (balance.SOLUTIONS, glossary.DIVISION_SOLUTIONS),
        (models.SITE_KINDS, glossary.SITE_KINDS),
    ],
)
def test_every_code_has_a_label(codes: tuple[str, ...], labels: dict[str, str]) -> None:
    assert set(codes) <= set(labels), f"no label for {set(codes) - set(labels)}"


def test_the_pages_get_the_whole_glossary_as_json() -> None:
    tables: dict[str, Any] = glossary.for_pages()
    assert tables["levels"]["zone"] == "片区网格" and tables["overdue"] == "超期"
    assert tables["hotSpotBins"]["-3"] == glossary.HOT_SPOT_BINS[-3]


def test_the_pages_get_the_glossarys_tables_in_its_order(app: OpenAPI) -> None:
    """A report's columns are shown in the glossary's order, not sorted by their codes."""
    page = app.test_client().get("/login").get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="gm-glossary"[^>]*>(.*?)</script>', page)
    assert found is not None
    columns = json.loads(found.group(1))["partyReportColumns"]
    assert list(columns) == list(glossary.PARTY_REPORT_COLUMNS)
    assert list(columns) != sorted(columns)


def _subclasses(cls: type[GridmapError]) -> list[type[GridmapError]]:
    return [cls] + [c for sub in cls.__subclasses__() for c in _subclasses(sub)]


def test_every_problem_a_page_can_meet_has_a_chinese_message() -> None:
    """A page shows a refused call by its problem code (core/api.js): every code the errors
    carry, and those of Werkzeug's HTTP errors and the unexpected one, has its message."""
    for module in pkgutil.walk_packages(gridmap.__path__, "gridmap."):
        importlib.import_module(module.name)  # every error class defined, wherever it lives
    codes = {cls.code for cls in _subclasses(GridmapError)}
    assert {"no-linked-person", "division-infeasible", "stale", "import-rejected"} <= codes
    codes |= {"method-not-allowed", "request-entity-too-large", "too-many-requests", "internal"}
    assert codes <= set(glossary.PROBLEMS), f"no message for {codes - set(glossary.PROBLEMS)}"
    assert all(not any(c.isascii() and c.isalpha() for c in m) for m in glossary.PROBLEMS.values())
    pages: dict[str, Any] = glossary.for_pages()
    assert pages["problems"] == glossary.PROBLEMS and "{status}" in pages["problemStatus"]


def test_one_time_format_for_people() -> None:
    moment = dt.datetime(2026, 12, 3, 8, 41, 7, tzinfo=dt.UTC)
    assert clock.local_text(moment) == "2026-12-03 16:41"
    assert clock.local_text(moment, seconds=True) == "2026-12-03 16:41:07"
    assert clock.local_text(None) == ""


#: An audited action written as a literal where the code records it.
_AUDITED = re.compile(
    r'(?:audit_write|_audit|_once|audit\.record)\(\s*(?:session,\s*)?"([a-z_]+(?:\.[a-z_]+)?)"'
)

#: What an API write's audit row names as its object (``audit_write(action, object, ...)``).
_AUDITED_OBJECT = re.compile(r'audit_write\(\s*"[a-z_.]+",\s*"([a-z_]+)"')


def test_every_audited_action_is_named_on_the_audit_page() -> None:
    """The audit page names an action and its object from the glossary; only a refused call's
    endpoint (not written anywhere as an action) is left to 其他操作 with its code."""
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in Path(gridmap.__path__[0]).rglob("*.py")
    )
    written = set(_AUDITED.findall(source))
    assert {"login", "logout", "reveal", "request.create", "patrol.start"} <= written
    assert written <= set(glossary.AUDIT_ACTIONS), (
        f"unnamed: {written - set(glossary.AUDIT_ACTIONS)}"
    )
    objects = set(_AUDITED_OBJECT.findall(source))
    assert {"request", "file", "small_wish"} <= objects
    assert objects <= set(glossary.AUDIT_OBJECTS), (
        f"unnamed: {objects - set(glossary.AUDIT_OBJECTS)}"
    )
