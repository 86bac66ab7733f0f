"""The demo's 双报到: units, every in-service member registered with the community holding
their home (a few moved this quarter), and a quarter of activities with attendance that
leaves some members meeting the rule and some not."""

from __future__ import annotations

from sqlalchemy import func, select

from gridmap.access.auth import Scope
from gridmap.demo import loader as demo
from gridmap.party import reporting
from gridmap.storage.models import (
    ActivitySignup,
    MemberRegistration,
    PartyActivity,
    PartyMatch,
    PartyNeed,
    PartyResource,
    Person,
    SmallWish,
    User,
)


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


def test_the_demo_has_needs_resources_projects_and_wishes_at_every_stage(session, settings):
    demo.load(session, households=1500, seed=7, settings=settings)
    session.flush()
    need_states = dict(
        session.execute(select(PartyNeed.state, func.count()).group_by(PartyNeed.state)).all()
    )
    assert {"open", "matched", "done"} <= set(need_states)
    match_states = set(session.scalars(select(PartyMatch.state).distinct()))
    assert {"proposed", "confirmed", "done"} <= match_states
    assert session.scalar(select(func.count()).select_from(PartyResource)) > 3
    wish_states = set(session.scalars(select(SmallWish.state).distinct()))
    assert {"open", "claimed", "fulfilled", "confirmed"} <= wish_states
    # The demo member's community has open ones to claim.
    member = session.scalar(select(User.person_id).where(User.username == "demo-member"))
    community = session.scalar(
        select(MemberRegistration.community_id).where(
            MemberRegistration.person_id == member, MemberRegistration.valid_to.is_(None)
        )
    )
    open_wishes = session.scalar(
        select(func.count()).where(SmallWish.community_id == community, SmallWish.state == "open")
    )
    assert open_wishes
