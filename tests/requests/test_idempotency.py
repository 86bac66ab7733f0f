"""Idempotency-Key: a retry gets the first answer; one row however often it is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gridmap.storage.models import AuditEntry
from tests.helpers import assert_problem
from tests.requests.conftest import counts, intake_body


def _post(client, key, body=None):
    return client.post(
        "/api/v1/requests", json=body or intake_body(), headers={"Idempotency-Key": key}
    )


def test_a_hundred_retries_store_one_request_and_get_the_same_answer(clients, session):
    worker = clients("grid_worker")
    before = counts(session)
    answers = [_post(worker, "phone-7f3a-0001") for _ in range(100)]
    assert {a.status_code for a in answers} == {201}
    assert len({a.get_data(as_text=True) for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers[:2]] == [None, "true"]
    after = counts(session)
    assert after["resident_request"] == before["resident_request"] + 1
    assert after["request_event"] == before["request_event"] + 1
    assert after["idempotency_key"] == before["idempotency_key"] + 1
    created = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "request.create")
    )
    assert created == 1


def test_the_same_key_with_another_body_is_422(clients, session):
    worker = clients("grid_worker")
    first = _post(worker, "k-1")
    assert first.status_code == 201
    before = counts(session)
    other = _post(worker, "k-1", intake_body(description="另一件事"))
    assert_problem(other, 422, "different request body")
    assert counts(session) == before
    # The original answer is still there for a true retry.
    assert _post(worker, "k-1").get_data() == first.get_data()


def test_keys_belong_to_their_user(clients, session):
    before = counts(session)
    assert _post(clients("grid_worker"), "shared").status_code == 201
    assert _post(clients("chief"), "shared").status_code == 201
    assert counts(session)["resident_request"] == before["resident_request"] + 2


def test_a_refused_write_leaves_no_key_behind(clients, session):
    """A write that fails is not remembered: its corrected retry with the key is stored."""
    worker = clients("grid_worker")
    assert _post(worker, "k-2", intake_body(category="no.such")).status_code == 422
    assert counts(session)["idempotency_key"] == 0
    assert _post(worker, "k-2").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 201, "含中文", "a b"])
def test_malformed_keys_are_400(clients, session, key):
    assert_problem(_post(clients("grid_worker"), key), 400, "Idempotency-Key")
    assert counts(session)["resident_request"] == 0
