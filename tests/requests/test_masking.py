"""Contact details are personal data: no phone number leaves the server in clear."""

from __future__ import annotations

import re

import pytest

from gridmap.core.privacy import mask_phone
from tests.requests.conftest import PEOPLE, act, file

PHONE = re.compile(r"1[3-9]\d{9}")


@pytest.mark.parametrize(
    "role", ["street_admin", "chief", "zone_leader", "grid_worker", "member", "auditor"]
)
def test_no_phone_number_in_any_request_answer(clients, role):
    worker = clients("grid_worker")
    r = file(
        worker,
        household_id=1,
        location=None,
        description="请联系我13912345678，或者打我家人的18612345678",
        contact={"name": "陈小姐", "phone": "13912345678", "email": "chen@example.com"},
    )
    act(worker, r["id"], r["etag"], action="comment", note="已电话联系13912345678")
    client = clients(role)
    answers = [
        client.get(f"/api/v1/requests/{r['id']}"),
        client.get("/api/v1/requests"),
        client.get(f"/open311/v2/requests/{r['id']}.json"),
        client.get("/open311/v2/requests.json"),
    ]
    texts = []
    for answer in answers:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        texts.append(answer.get_data(as_text=True))
    assert [PHONE.findall(t) for t in texts] == [[], [], [], []]
    detail = answers[0].get_json()
    assert detail["contact"] == {
        "name": "陈**",
        "phone": "139****5678",
        "email": "c***@example.com",
    }
    assert detail["owner"]["phone"] == mask_phone(PEOPLE[3][1])
    assert "139****5678" in detail["description"]
    assert "139****5678" in detail["timeline"][-1]["note"]


#: A phone number or ID number however it is typed: digits with spaces, dots or dashes.
SEPARATED = re.compile(r"1[3-9]\d([ .\-]?\d){8}|\d{6}[ \-]?\d{8}[ \-]?\d{3}[\dXx]")


def test_numbers_typed_with_separators_are_masked_in_every_answer(clients):
    worker = clients("grid_worker")
    r = file(
        worker,
        household_id=1,
        location=None,
        description="请联系138-1234-5678或138 1234 5678，身份证110101 19900307 1234",
    )
    act(worker, r["id"], r["etag"], action="comment", note="家属电话 +86 186.1234.5678")
    client = clients("chief")
    texts = [
        client.get(f"/api/v1/requests/{r['id']}").get_data(as_text=True),
        client.get("/api/v1/requests").get_data(as_text=True),
        client.get(f"/open311/v2/requests/{r['id']}.json").get_data(as_text=True),
    ]
    assert [SEPARATED.findall(t) for t in texts] == [[], [], []]
    detail = client.get(f"/api/v1/requests/{r['id']}").get_json()
    assert "138-****-5678或138 **** 5678" in detail["description"]
    assert "110*** ******** 1234" in detail["description"]
    assert "+86 186.****.5678" in detail["timeline"][-1]["note"]
