"""Malformed bodies for the patrol writes, sent by a worker whose patrol is running (so that
the body alone decides): each valid body with one field wrong, missing or null, or fixes of
junk. Expected: a 4xx every time, never a 5xx, and nothing stored. (The resilience suite
fuzzes every write endpoint with raw garbage; this adds wrong values in well-formed bodies.)"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.storage.models import Patrol, PatrolCheckIn, PatrolPoint
from tests.patrols.conftest import fixes, now, past_home
from tests.patrols.test_api import count, start

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(["界" * 5000, "2026-13-45T99:00:00Z", "NaN", "\x00", "1e400"]),
)


def _valid(patrol_id: int) -> dict[str, tuple[str, dict[str, Any]]]:
    lon, lat, t = past_home(10.0, now() - dt.timedelta(seconds=30), n=3)
    return {
        "start": ("/api/v1/patrols", {"work_list": "daily_patrol", "crs": "GCJ02"}),
        "points": (
            f"/api/v1/patrols/{patrol_id}/points",
            {"crs": "EPSG:4326", "points": fixes(lon, lat, t)},
        ),
        "check-in": (
            f"/api/v1/patrols/{patrol_id}/checkins",
            {"household_id": 1, "note": "在家", "location": {"lon": 116.405, "lat": 39.915}},
        ),
        "end": (f"/api/v1/patrols/{patrol_id}/end", {"ended_at": now().isoformat()}),
    }


# Fields whose absence or null is valid: dropping them leaves a valid body.
OPTIONAL = {"crs", "note", "location", "ended_at", "accuracy_m"}


@st.composite
def broken(draw: st.DrawFn, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``body`` with one field (or a fix's field) wrong, missing or null; and whether that
    still makes a valid body (an optional field dropped)."""
    out = json.loads(json.dumps(body))
    target = out
    if "points" in out and draw(st.booleans()):
        target = out["points"][draw(st.integers(0, len(out["points"]) - 1))]
    name = draw(st.sampled_from(sorted(target)))
    how = draw(st.sampled_from(["junk", "junk", "junk", "null", "missing"]))
    if how == "missing":
        target.pop(name)
    else:
        junk = JUNK.filter(lambda v: v is not None and v != target[name])
        target[name] = None if how == "null" else draw(junk)
    text_note = name == "note" and isinstance(target.get(name), str)  # any text is a note
    return out, (how != "junk" and name in OPTIONAL) or text_note


@pytest.mark.parametrize("case", ["start", "points", "check-in", "end"])
def test_wrong_values_in_well_formed_bodies_are_refused(clients, session, case):
    worker = clients("worker_02002") if case == "start" else clients("worker")
    patrol_id = start(clients("worker"), "weekly_visit")
    url, body = _valid(patrol_id)[case]
    before = (count(session, Patrol), count(session, PatrolPoint), count(session, PatrolCheckIn))
    wrong: list[str] = []
    accepted: list[int] = []

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(broken(body))
    def fuzz(case_: tuple[dict[str, Any], bool]) -> None:
        sent, valid = case_
        response = worker.post(url, data=json.dumps(sent), content_type="application/json")
        refused = 400 <= response.status_code < 500
        if not refused and not (response.status_code < 300 and valid):
            wrong.append(f"{response.status_code}: {json.dumps(sent, ensure_ascii=False)[:200]}")
        if response.status_code < 300:
            accepted.append(response.status_code)
        if response.status_code < 300 and case == "start":  # a valid start: close it again
            worker.post(f"/api/v1/patrols/{response.get_json()['id']}/end", json={})

    fuzz()
    assert not wrong, wrong[:5]
    after = (count(session, Patrol), count(session, PatrolPoint), count(session, PatrolCheckIn))
    if not accepted:
        assert after == before
