"""Notifications: the messages the request's events put in the outbox (in the event's
transaction), and the sender delivering them against local providers that check the
protocols as documented (tests/provider_servers.py): retries with backoff, quiet hours,
opt-outs, the staff list and the log of what was sent."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridmap.access import retention
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.notify import channels, sender
from gridmap.requests import sweeps
from gridmap.storage import notifications as store
from gridmap.storage.models import Department, NotificationDelivery, Outbox
from tests.helpers import clock_at
from tests.provider_servers import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    AliyunSmsServer,
    WeComServer,
    documented_signature,
)
from tests.requests.conftest import act, file

PHONE = "13912345678"
#: 10:00 in Beijing, outside the default quiet hours (22:00-07:00).
DAY = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)
#: 23:30 in Beijing.
NIGHT = dt.datetime(2026, 12, 3, 15, 30, tzinfo=dt.UTC)


@pytest.fixture
def sms() -> Iterator[AliyunSmsServer]:
    server = AliyunSmsServer()
    yield server
    server.close()


@pytest.fixture
def wecom() -> Iterator[WeComServer]:
    server = WeComServer()
    yield server
    server.close()


def test_the_signature_matches_alibaba_clouds_documented_example() -> None:
    """The worked example of Alibaba Cloud's signature documentation (ECS DescribeRegions,
    AccessKey secret ``testsecret``, GET): its published signature."""
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert channels.rpc_signature(params, "testsecret", method="GET") == (
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    )
    posted = channels.rpc_signature(params, "testsecret")
    assert posted == documented_signature(params, "testsecret")


def _live(sms: AliyunSmsServer, **changes: object) -> Settings:
    values: dict[str, object] = {
        "notify_mode": "live",
        "sms_endpoint": sms.url + "/",
        "sms_access_key_id": ACCESS_KEY_ID,
        "sms_access_key_secret": ACCESS_KEY_SECRET,
        "sms_sign_name": "网格通",
        "sms_template": "SMS_100001",
        "notify_timeout_seconds": 5,
    }
    return Settings(**(values | changes))


def _send(session: Session, settings: Settings) -> dict[str, int]:
    return sender.send_due(session, sender.Outlet.of(settings), sender.Policy.of(settings))


def _messages(session: Session, request_id: int) -> list[Outbox]:
    stmt = select(Outbox).where(Outbox.request_id == request_id).order_by(Outbox.id)
    return list(session.scalars(stmt))


def _step(client, r, **body):
    response = act(client, r["id"], r["etag"], **body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_each_event_writes_its_messages_with_the_event(session, clients) -> None:
    worker = clients("grid_worker")
    with clock_at(DAY):
        r = file(clients("chief"))
        kinds = [
            (m.kind, m.recipient_person_id, m.recipient_phone) for m in _messages(session, r["id"])
        ]
        assert kinds == [("assigned", 3, None)]
        r = _step(worker, r, action="accept")
        r = _step(worker, r, action="start")
        r = _step(worker, r, action="complete", note="已清运")
    messages = _messages(session, r["id"])
    assert [m.kind for m in messages] == ["assigned", "accepted", "completed", "please_rate"]
    resident = messages[1:]
    assert {m.recipient_phone for m in resident} == {PHONE}
    assert (
        resident[0].payload["text"]
        == f"您反映的诉求（编号 {r['id']}，暴露垃圾、垃圾满溢）已受理，正在处理"
    )
    assert all(m.outcome is None and m.sent_at is None for m in messages)


def test_a_refused_transition_writes_no_message(session, clients) -> None:
    r = file(clients("chief"))
    before = len(_messages(session, r["id"]))
    response = act(clients("grid_worker"), r["id"], '"request-1.999"', action="accept")
    assert response.status_code == 412
    assert len(_messages(session, r["id"])) == before


def test_returned_and_summoned(session, clients, departments) -> None:
    street = clients("street_admin")
    session.execute(
        update(Department)
        .where(Department.id == departments["cg"])
        .values(wecom_webhook="http://127.0.0.1:9/cgi-bin/webhook/send?key=x")
    )
    r = file(street, category="ads.billboard")
    r = _step(street, r, action="escalate", reason="街乡吹哨", department_id=departments["cg"])
    r = _step(street, r, action="return", reason="不属本部门职责")
    kinds = [(m.kind, m.recipient_department_id) for m in _messages(session, r["id"])]
    assert ("summoned", departments["cg"]) in kinds
    assert kinds[-1][0] == "returned"


def test_sms_follows_alibaba_clouds_protocol_and_is_sent_once(session, clients, sms) -> None:
    worker = clients("grid_worker")
    with clock_at(DAY):
        r = file(clients("chief"))
        _step(worker, r, action="accept")
        assert _send(session, _live(sms)) == {"sent": 2}
        assert _send(session, _live(sms)) == {}
    [body] = sms.bodies
    assert body["PhoneNumbers"] == PHONE and body["SignName"] == "网格通"
    assert json.loads(body["TemplateParam"])["id"] == str(r["id"])
    accepted = _messages(session, r["id"])[1]
    assert accepted.outcome == "sent" and sms.accepted == {str(accepted.id): 1}
    shown = session.scalars(
        select(NotificationDelivery).where(NotificationDelivery.outbox_id == accepted.id)
    ).one()
    assert shown.channel == "sms" and shown.recipient == "139****5678" and not shown.dry_run
    assert shown.answer["Code"] == "OK"


def test_a_lost_answer_is_not_sent_twice(session, clients, sms) -> None:
    """The provider accepted, the sender never heard: the retry's key is the same, the gateway
    refuses it as seen, and the message counts as sent once."""
    with clock_at(DAY):
        r = file(clients("chief"))
        _step(clients("grid_worker"), r, action="accept")
        [message] = [m for m in _messages(session, r["id"]) if m.kind == "accepted"]
        key = f"gridmap-{message.id}-0"
        sms.nonces.add(key)
        sms.accepted[str(message.id)] += 1  # the lost try
        _send(session, _live(sms))
    session.refresh(message)
    assert message.outcome == "sent" and sms.accepted[str(message.id)] == 1


def test_retries_back_off_then_give_up(session, clients, sms) -> None:
    with clock_at(DAY):
        r = file(clients("chief"))
        _step(clients("grid_worker"), r, action="accept")
    [message] = [m for m in _messages(session, r["id"]) if m.kind == "accepted"]
    settings = _live(sms, notify_backoff_seconds=60, notify_max_attempts=3)
    sms.fail_next = 5
    now = DAY
    waits = []
    for _ in range(3):
        with clock_at(now):
            _send(session, settings)
        session.refresh(message)
        waits.append(message.next_attempt_at - now)
        now = message.next_attempt_at
    assert waits[:2] == [dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    assert message.outcome == "gave_up" and message.attempts == 3 and message.key_round == 3
    assert "BUSINESS_LIMIT_CONTROL" in (message.last_error or "")
    assert sms.accepted == {}
    # Before its time a retry is not due.
    sms.fail_next = 0
    with clock_at(DAY + dt.timedelta(seconds=30)):
        assert _send(session, settings) == {}


def test_quiet_hours_hold_non_urgent_messages_until_morning(session, clients, sms) -> None:
    with clock_at(NIGHT):
        r = file(clients("chief"))
        _step(clients("grid_worker"), r, action="accept")
        done = _send(session, _live(sms))
    assert done == {"sent": 1, "deferred": 1}  # the worker's list is no SMS
    [message] = [m for m in _messages(session, r["id"]) if m.kind == "accepted"]
    session.refresh(message)
    assert message.outcome is None and sms.accepted == {}
    assert clock.local_text(message.next_attempt_at) == "2026-12-04 07:00"
    with clock_at(message.next_attempt_at):
        assert _send(session, _live(sms)) == {"sent": 1}
    # An urgent message is not held.
    with clock_at(NIGHT):
        r2 = file(clients("chief"), urgency="urgent")
        session.execute(
            update(Outbox).where(Outbox.request_id == r2["id"]).values(recipient_phone=PHONE)
        )
        assert _send(session, _live(sms)) == {"sent": 1}


def test_an_opted_out_recipient_gets_nothing(session, clients, sms) -> None:
    store.set_optout(session, "phone", PHONE, True)
    with clock_at(DAY):
        r = file(clients("chief"))
        _step(clients("grid_worker"), r, action="accept")
        assert _send(session, _live(sms)) == {"sent": 1, "opted_out": 1}
        assert sms.accepted == {}
        # A code they asked for to file on the public channel still reaches them.
        store.add_message(
            session,
            {
                "kind": "verify_code",
                "recipient_phone": PHONE,
                "urgent": True,
                "created_at": clock.now(),
                "next_attempt_at": clock.now(),
                "payload": {"text": "验证码 123456"},
            },
        )
        assert _send(session, _live(sms)) == {"sent": 1}
    assert len(sms.accepted) == 1


def test_a_department_hears_on_its_robot_and_its_list(
    session, clients, departments, officers, admin, sms, wecom
) -> None:
    robot = f"/api/v1/admin/departments/{departments['cg']}/wecom-robot"
    hook = f"{wecom.url}/cgi-bin/webhook/send?key={WeComServer.KEY}"
    for wrong in ("ftp://x", "http://[x/send", "https://a b/send", "https://"):
        assert admin.put(robot, json={"url": wrong}).status_code == 400, wrong
    assert clients("street_admin").put(robot, json={"url": hook}).status_code == 403
    answer = admin.put(robot, json={"url": hook})
    assert answer.status_code == 200 and answer.get_json()["host"] == "127.0.0.1"
    street = clients("street_admin")
    with clock_at(DAY):
        r = file(street, category="ads.billboard")
        _step(street, r, action="escalate", reason="街乡吹哨", department_id=departments["cg"])
        wecom.fail_next = 1
        assert _send(session, _live(sms)).get("retried") == 1
    with clock_at(DAY + dt.timedelta(minutes=5)):
        assert _send(session, _live(sms)).get("sent") == 1
    [(content, count)] = wecom.accepted.items()
    assert count == 1 and content.startswith("街道吹哨：诉求") and "城管执法队" in content
    listed = officers("cg").get("/api/v1/notifications").get_json()["items"]
    assert [n["kind"] for n in listed] == ["summoned"]


def test_the_staff_list_and_the_demo_log(session, clients, admin) -> None:
    worker = clients("grid_worker")
    with clock_at(DAY):
        r = file(clients("chief"))
        _step(worker, r, action="accept")
        assert _send(session, Settings()) == {"sent": 2}
    mine = worker.get("/api/v1/notifications").get_json()
    assert [n["kind"] for n in mine["items"]] == ["assigned"] and not mine["opted_out"]
    assert clients("chief").get("/api/v1/notifications").get_json()["items"] == []
    log = admin.get("/api/v1/notifications/sent").get_json()["items"]
    assert {(n["channel"], n["recipient"], n["dry_run"]) for n in log} == {
        ("sms", "139****5678", True),
        ("page", "person 3", False),
    }
    assert worker.get("/api/v1/notifications/sent").status_code == 403
    assert worker.put("/api/v1/notifications/opt-out", json={"out": True}).status_code == 200
    assert worker.get("/api/v1/notifications").get_json()["opted_out"]


def test_the_gateway_refuses_a_wrong_signature(session, clients, sms) -> None:
    """The checker is not the sender's mirror: a wrong secret is refused as Alibaba Cloud
    refuses it, and the message waits for a retry with a new key."""
    with clock_at(DAY):
        r = file(clients("chief"))
        _step(clients("grid_worker"), r, action="accept")
        done = _send(session, _live(sms, sms_access_key_secret="not-the-secret"))
    assert done == {"sent": 1, "retried": 1} and sms.accepted == {}
    [message] = [m for m in _messages(session, r["id"]) if m.kind == "accepted"]
    session.refresh(message)
    assert "SignatureDoesNotMatch" in (message.last_error or "") and message.key_round == 1


def test_the_system_administrator_opts_a_resident_out(session, clients, admin, sms) -> None:
    answer = admin.put("/api/v1/notifications/opt-outs", json={"phone": PHONE, "out": True})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert store.is_set_optout(session, "phone", PHONE)
    both = {"phone": PHONE, "department_id": 1, "out": True}
    assert admin.put("/api/v1/notifications/opt-outs", json=both).status_code == 400
    none = admin.put("/api/v1/notifications/opt-outs", json={"department_id": 999, "out": True})
    assert none.status_code == 404
    worker = clients("grid_worker")
    refused = worker.put("/api/v1/notifications/opt-outs", json={"phone": PHONE, "out": True})
    assert refused.status_code == 403
    with clock_at(DAY):
        r = file(clients("chief"))
        _step(worker, r, action="accept")
        assert _send(session, _live(sms)).get("opted_out") == 1
    back = admin.put("/api/v1/notifications/opt-outs", json={"phone": PHONE, "out": False})
    assert back.status_code == 200 and not store.is_set_optout(session, "phone", PHONE)


def test_messages_done_with_are_pruned_after_their_window_and_never_written_again(
    session, clients, sms
) -> None:
    """Messages written over a year ago and sent are deleted with their deliveries, one still
    due is kept, and the sweep does not put a pruned card's reminder in again. The prune
    measures ages from the server's clock, so the messages are written 400 days back."""
    old = DAY - dt.timedelta(days=400)
    with clock_at(old):
        r = file(clients("chief"))
        _step(clients("grid_worker"), r, action="accept")
    late = old + dt.timedelta(days=30)  # far past the stage's deadline: a red card
    with clock_at(late):
        assert sweeps.sweep(session)["reminders"] == 1
        _send(session, _live(sms))
    done = _messages(session, r["id"])
    assert {m.kind for m in done} >= {"assigned", "accepted", "overdue"}
    assert all(m.outcome is not None for m in done)
    ids = [m.id for m in done]
    delivered = select(func.count()).where(NotificationDelivery.outbox_id.in_(ids))
    assert session.scalar(delivered), "the test needs deliveries to delete"
    due = {"kind": "verify_code", "recipient_phone": PHONE, "payload": {"text": "验证码"}}
    store.add_message(session, due | {"created_at": old, "next_attempt_at": old})

    retention.purge(session, Settings(outbox_keep_days=3650), clock.now())
    assert len(_messages(session, r["id"])) == len(done)  # still inside that window
    removed = retention.purge(session, Settings(), clock.now())
    assert _messages(session, r["id"]) == [] and removed["outbox"] >= len(done)
    assert not session.scalar(delivered)
    kept = select(Outbox.id).where(Outbox.kind == "verify_code", Outbox.created_at == old)
    assert session.scalar(kept) is not None

    with clock_at(late + dt.timedelta(days=1)):
        assert sweeps.sweep(session)["reminders"] == 0
    assert not [m for m in _messages(session, r["id"]) if m.kind in sweeps.REMINDER_OF.values()]
