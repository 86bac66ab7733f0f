"""The scheduler's sweep in-process, with the clock set (``clock_at``): cards and reminders
once per stage run, escalation by the category's rule up to the street, unrated requests
archived once. (Two worker processes at once: tests/jobs/test_sweep_workers.py.)

``sanitation.garbage`` allows 2 working hours to respond, 1 working day to handle and 3 to
feed back; 2024-11-04 is a Monday.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.core.errors import InvalidInput
from gridmap.requests import rates, service, sweeps
from gridmap.storage.models import Outbox, RequestCard, RequestEvent, ResidentRequest, User
from tests.conftest import COMMUNITY
from tests.helpers import clock_at
from tests.requests.conftest import IN_01001
from tests.requests.timelines import M1, Desk, nov


@pytest.fixture
def desk(session: Session, staff: None, monkeypatch: pytest.MonkeyPatch) -> Desk:
    return Desk(session, monkeypatch)


def _sweep(session: Session, moment: Any) -> dict[str, int]:
    with clock_at(moment):
        return sweeps.sweep(session, archive_unrated_days=7)


def _events(session: Session, rid: int, action: str) -> list[RequestEvent]:
    stmt = select(RequestEvent).where(RequestEvent.request_id == rid, RequestEvent.action == action)
    return list(session.scalars(stmt.order_by(RequestEvent.id)).all())


def _cards(session: Session, rid: int) -> list[tuple[str, str]]:
    stmt = select(RequestCard.stage, RequestCard.colour).where(RequestCard.request_id == rid)
    return [(str(s), str(c)) for s, c in session.execute(stmt.order_by(RequestCard.id))]


def test_a_yellow_then_a_red_card_with_their_reminders_each_once(session, desk):
    chief = desk.caller("sw-chief", "chief", scope_code=COMMUNITY)
    rid = desk.file(chief, IN_01001, nov(4, 10))  # grid worker 3 owns it; due at 12:00
    assert _sweep(session, nov(4, 11)) == dict(cards=0, reminders=0, escalated=0, archived=0)
    assert _sweep(session, nov(4, 11, 40))["cards"] == 1  # the last 20 %: from 11:36
    assert _sweep(session, nov(4, 11, 50))["cards"] == 0
    assert _cards(session, rid) == [("response", "yellow")]
    assert _sweep(session, nov(4, 12, 1)) == dict(cards=1, reminders=1, escalated=0, archived=0)
    assert _sweep(session, nov(5, 9))["cards"] == 0
    assert _cards(session, rid) == [("response", "yellow"), ("response", "red")]
    events = _events(session, rid, "card")
    assert [e.detail["card"] for e in events] == ["yellow", "red"]
    assert {e.actor for e in events} == {"system"}
    system = session.scalar(select(User.id).where(User.username == "system"))
    assert {e.actor_user_id for e in events} == {system}
    reminders = Outbox.kind.in_(("due_soon", "overdue"))  # the intake told its owner too
    messages = session.scalars(select(Outbox).where(Outbox.request_id == rid, reminders)).all()
    assert sorted(m.kind for m in messages) == ["due_soon", "overdue"]
    assert [m.urgent for m in sorted(messages, key=lambda m: m.kind)] == [False, True]
    assert {m.recipient_person_id for m in messages} == {3}
    assert all(m.sent_at is None and "诉求" in str(m.payload["text"]) for m in messages)
    row = session.get(ResidentRequest, rid)
    assert row is not None and row.state == "reported" and row.level == "micro"  # no rule


def test_a_new_stage_run_gets_its_own_cards(session, desk):
    worker = desk.caller("sw-worker", "grid_worker", scope_code=M1, person_id=3)
    rid = desk.file(worker, IN_01001, nov(4, 10))
    _sweep(session, nov(4, 12, 30))  # red for the response stage
    desk.act(rid, worker, nov(4, 13, 45), "accept")  # the handling stage: 1 working day
    assert _sweep(session, nov(4, 14))["cards"] == 0
    assert _sweep(session, nov(6, 9))["cards"] == 1
    assert _cards(session, rid) == [("response", "red"), ("handling", "red")]


def test_a_lapsed_stage_climbs_one_level_by_rule_up_to_the_street(session, desk):
    service.revise_category(session, "sanitation.garbage", escalate_on_lapse=["response"])
    worker = desk.caller("sw-worker2", "grid_worker", scope_code=M1, person_id=3)
    rid = desk.file(worker, IN_01001, nov(4, 10))
    assert _sweep(session, nov(4, 12, 30))["escalated"] == 1
    assert _sweep(session, nov(4, 12, 31))["escalated"] == 0  # the zone's clock just started
    row = session.get(ResidentRequest, rid)
    assert row is not None and (row.level, row.state, row.owner_person_id) == (
        "zone",
        "reported",
        2,
    )
    climbed = _events(session, rid, "escalate")
    assert len(climbed) == 1 and climbed[0].actor == "system"
    assert climbed[0].detail["lapsed_stage"] == "response"
    assert "自动上报" in str(climbed[0].detail["reason"])
    assert _cards(session, rid) == [("response", "red")]  # the lapse is on record
    _sweep(session, nov(5, 9))  # the zone's 2 hours ran out at 15:30: to the community
    _sweep(session, nov(6, 9))  # and the community's: to the street
    _sweep(session, nov(8, 9))  # never further: a department is summoned by people
    levels = [e.level for e in _events(session, rid, "escalate")]
    assert levels == ["zone", "community", "street"]
    session.expire_all()
    row = session.get(ResidentRequest, rid)
    assert row is not None and row.level == "street" and row.department_id is None
    assert [c for c in _cards(session, rid) if c[1] == "red"] == [("response", "red")] * 4


def test_a_category_without_the_rule_never_escalates(session, desk):
    worker = desk.caller("sw-worker3", "grid_worker", scope_code=M1, person_id=3)
    rid = desk.file(worker, IN_01001, nov(4, 10))
    assert _sweep(session, nov(20, 9))["escalated"] == 0
    assert _events(session, rid, "escalate") == []


def test_an_unrated_request_is_archived_once_after_the_configured_days(session, desk):
    worker = desk.caller("sw-worker4", "grid_worker", scope_code=M1, person_id=3)
    leader = desk.caller("sw-leader", "zone_leader", scope_code=COMMUNITY + "01")
    unrated, rated = desk.file(worker, IN_01001, nov(4, 9)), desk.file(worker, IN_01001, nov(4, 9))
    for rid in (unrated, rated):
        desk.act(rid, worker, nov(4, 9, 30), "accept")
        desk.act(rid, worker, nov(4, 9, 40), "start")
        desk.act(rid, worker, nov(4, 15), "complete")
    desk.act(rated, leader, nov(5, 10), "rate", rating="satisfied")
    assert _sweep(session, nov(11, 14, 59))["archived"] == 0  # 7 days after 15:00 on the 4th
    assert _sweep(session, nov(11, 15, 1))["archived"] == 1
    assert _sweep(session, nov(12, 9))["archived"] == 0
    archived = _events(session, unrated, "archive")
    assert len(archived) == 1 and archived[0].actor == "system"
    assert archived[0].detail["unrated_days"] == 7 and "未评价" in str(archived[0].detail["reason"])
    session.expire_all()
    assert session.get(ResidentRequest, unrated).state == "archived"
    assert session.get(ResidentRequest, rated).state == "feedback"


def test_the_feedback_deadline_of_the_category_is_never_cut_short(session, desk):
    worker = desk.caller("sw-worker5", "grid_worker", scope_code=M1, person_id=3)
    rid = desk.file(worker, IN_01001, nov(4, 9))
    desk.act(rid, worker, nov(4, 9, 30), "accept")
    desk.act(rid, worker, nov(4, 9, 40), "start")
    desk.act(rid, worker, nov(4, 15), "complete")  # 回访 due 3 working days later: the 7th
    with clock_at(nov(6, 9)):
        assert sweeps.sweep(session, archive_unrated_days=1)["archived"] == 0
    with clock_at(nov(7, 17, 31)):
        assert sweeps.sweep(session, archive_unrated_days=1)["archived"] == 1


@pytest.mark.parametrize(
    "stages", [["feedback"], ["response", "response"], "response", [{"stage": "response"}]]
)
def test_escalate_on_lapse_names_open_stages_only(session, catalogue, stages):
    with pytest.raises(InvalidInput, match="escalate_on_lapse"):
        service.revise_category(session, "sanitation.garbage", escalate_on_lapse=stages)


def test_the_category_api_shows_and_revises_the_rule(session, catalogue, admin):
    answer = admin.put(
        "/api/v1/categories/sanitation.garbage", json={"escalate_on_lapse": ["handling"]}
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["escalate_on_lapse"] == ["handling"]
    refused = admin.put("/api/v1/categories/sanitation.garbage", json={"escalate_on_lapse": ["x"]})
    assert refused.status_code == 400


def test_the_remembered_yellow_moments_judge_as_the_cards_do(session, desk):
    worker = desk.caller("sw-worker6", "grid_worker", scope_code=M1, person_id=3)
    rid = desk.file(worker, IN_01001, nov(8, 16))  # Friday: due on Monday at 10:00
    row = session.get(ResidentRequest, rid)
    assert row is not None
    moments = [nov(8, 16) + dt.timedelta(minutes=7 * i) for i in range(4 * 24 * 60 // 7)]
    judged = [sweeps._may_have_a_card(row, t) for t in moments]
    assert judged == [rates.card(row, t) is not None for t in moments]
    assert 0 < judged.index(True) < len(judged) - 1


def test_a_request_awaiting_its_on_site_check_is_not_archived_until_checked(session, desk):
    """核查: the category requires a verifier's check before closing, so the sweep leaves the
    request completed (and the other requests' archiving goes on) until a check follows."""
    service.revise_category(session, "sanitation.garbage", requires_check=True)
    worker = desk.caller("sw-worker6", "grid_worker", scope_code=M1, person_id=3)
    verifier = desk.caller("sw-verifier", "verifier", scope_code=COMMUNITY)
    rid = desk.file(worker, IN_01001, nov(4, 9))
    desk.act(rid, worker, nov(4, 9, 30), "accept")
    desk.act(rid, worker, nov(4, 9, 40), "start")
    desk.act(rid, worker, nov(4, 15), "complete")
    assert _sweep(session, nov(12, 9))["archived"] == 0
    desk.act(rid, verifier, nov(12, 10), "verify", photos=("https://photos.example/1.jpg",))
    assert _sweep(session, nov(12, 11))["archived"] == 1
    session.expire_all()
    assert session.get(ResidentRequest, rid).state == "archived"
