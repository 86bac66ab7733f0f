"""The demo's 双报到: units, every in-service member registered with the community holding
their home (a few moved this quarter), and a quarter of activities with attendance that
leaves some members meeting the rule and some not."""

from __future__ import annotations

from sqlalchemy import func, select

from gridmap.access.auth import Scope
from gridmap.demo import loader as demo
from gridmap.party import reporting
from gridmap.storage.models import ActivitySignup, MemberRegistration, PartyActivity, Person


def test_the_demo_has_units_members_activities_and_a_mixed_quarter(session, settings):
    demo.load(session, households=1500, seed=7, settings=settings)
    session.flush()
    in_service = session.scalar(
        select(func.count()).where(Person.kind == "in_service_member", Person.home.is_not(None))
    )
    registered = session.scalar(
        select(func.count(func.distinct(MemberRegistration.person_id))).where(
            MemberRegistration.valid_to.is_(None)
        )
    )
    assert in_service and registered and registered >= in_service
    assert session.scalar(select(func.count()).select_from(PartyActivity)) > 10
    attended = session.scalar(select(func.count()).where(ActivitySignup.how.is_not(None)))
    assert attended and attended > 10
    table = reporting.report(session, Scope(("110101",)), reporting.quarter(None), settings)
    summary = table.summary
    assert summary["members"] == registered
    assert 0 < summary["met"] < summary["members"]
