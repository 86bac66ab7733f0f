"""The category catalogue: seeded once, versioned so old requests keep their rules; the
database's lists agree with the lifecycle's."""

from __future__ import annotations

import pytest

from gridmap.core.errors import InvalidInput
from gridmap.demo import loader as demo
from gridmap.requests import lifecycle
from gridmap.requests import service as domain
from gridmap.storage import models
from gridmap.storage import requests as store
from tests.requests.conftest import file


def test_the_database_knows_the_lifecycles_states_levels_and_ratings():
    assert models.REQUEST_STATES == lifecycle.STATES
    assert models.HANDLING_LEVELS == lifecycle.LEVELS
    assert models.RATINGS == lifecycle.RATINGS


def test_the_catalogue_covers_city_management_and_community_services(session, catalogue):
    classes = {c.event_class for c in store.current_categories(session)}
    assert {"市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序"} <= classes
    assert {"邻里纠纷", "养老服务", "物业管理", "水电气暖"} <= classes
    assert demo.seed_categories(session).written == 0  # seeding again adds nothing


def test_a_request_keeps_the_rules_of_its_category_version(clients, session):
    before = file(clients("grid_worker"))
    domain.revise_category(
        session,
        "sanitation.garbage",
        time_limits={"response": {"amount": 1, "unit": "days"}},
    )
    session.commit()
    after = file(clients("grid_worker"))
    assert (before["category"]["version"], after["category"]["version"]) == (1, 2)
    again = clients("grid_worker").get(f"/api/v1/requests/{before['id']}").get_json()
    assert again["category"]["version"] == 1
    assert again["stage_deadline"] == before["stage_deadline"]
    assert after["stage_deadline"] != before["stage_deadline"]


@pytest.mark.parametrize(
    "limits",
    [
        {"respond": {"amount": 1, "unit": "hours"}},
        {"response": {"amount": -1, "unit": "hours"}},
        {"response": {"amount": 1, "unit": "weeks"}},
        {"response": {"amount": "1", "unit": "hours"}},
        {"response": 3},
    ],
)
def test_time_limits_are_checked(limits):
    with pytest.raises(InvalidInput):
        domain.check_time_limits(limits)
