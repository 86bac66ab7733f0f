"""Races through the running app (gunicorn, 4 workers × 4 threads, real PostGIS).

- 200 clients send the same transition with the same If-Match at once: the request's row lock
  and revision let exactly one through; the rest are told 412 (stale) or 409, never 5xx, and
  the timeline gains exactly one event.
- A community edit and a zone edit at once queue on the community row (412, no deadlock).
- 100 clients retry one intake with one Idempotency-Key at once (then 100 more one after the
  other): one request is stored and every answer is the first one, status and body.
- 100 members sign up at once for an activity's last place (社区吹哨): one gets it.
- 100 members claim one need, then one 微心愿, at once (双向认领): one claim of each wins.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from gridmap.access import accounts, auth
from gridmap.core import clock
from gridmap.core.settings import Settings
from gridmap.storage.models import (
    ActivitySignup,
    Grid,
    MemberRegistration,
    PartyActivity,
    PartyNeed,
    Person,
    SmallWish,
)
from tests.conftest import COMMUNITY, PASSWORD
from tests.requests.conftest import intake_body
from tests.resilience.conftest import Answer, Deployment, call, server_errors_logged

T = TypeVar("T")


def _at_once(sends: list[Callable[[], T]]) -> list[T]:
    """Each of ``sends`` from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(sends))

    def run(send: Callable[[], T]) -> T:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        return list(pool.map(run, sends))


def _file(live: Deployment, **headers: str) -> Answer:
    return call(
        live.base_url,
        "POST",
        "/api/v1/requests",
        token=live.tokens["worker"],
        body=intake_body(),
        headers=headers,
    )


def _scalar(live: Deployment, sql: str, **params: Any) -> Any:
    engine = create_engine(live.owner_url)
    with engine.connect() as conn:
        value = conn.scalar(text(sql), params)
    engine.dispose()
    return value


def test_200_concurrent_transitions_one_wins(deployment: Deployment) -> None:
    live = deployment
    filed = _file(live)
    assert filed.status == 201, filed.body
    request = filed.json()
    path = f"/api/v1/requests/{request['id']}/transitions"

    answers = _at_once(
        [
            lambda: call(
                live.base_url,
                "POST",
                path,
                token=live.tokens["worker"],
                body={"action": "accept", "note": "我来处理"},
                headers={"If-Match": request["etag"]},
            )
        ]
        * 200
    )

    statuses = Counter(a.status for a in answers)
    print(f"\n200 concurrent transitions: {dict(statuses)}")
    assert sum(n for s, n in statuses.items() if 200 <= s < 300) == 1, statuses
    assert set(statuses) <= {200, 409, 412}, statuses
    after = call(
        live.base_url, "GET", f"/api/v1/requests/{request['id']}", token=live.tokens["worker"]
    )
    detail = after.json()
    assert detail["state"] == "accepted" and detail["revision"] == request["revision"] + 1
    assert [e["action"] for e in detail["timeline"]] == ["report", "accept"]
    events = _scalar(
        live, "SELECT count(*) FROM request_event WHERE request_id = :id", id=request["id"]
    )
    assert events == 2
    assert server_errors_logged(live.log) == []


def test_100_concurrent_retries_of_one_intake_store_one_request(deployment: Deployment) -> None:
    live = deployment
    key = "resilience-retry-0001"
    before = _scalar(live, "SELECT count(*) FROM resident_request")

    racing = _at_once([lambda: _file(live, **{"Idempotency-Key": key})] * 100)
    one_by_one = [_file(live, **{"Idempotency-Key": key}) for _ in range(100)]

    answers = racing + one_by_one
    print(f"\n200 retries with one key: {dict(Counter(a.status for a in answers))}")
    assert {a.status for a in answers} == {201}
    assert len({a.body for a in answers}) == 1
    replayed = Counter(a.headers.get("Idempotent-Replayed") for a in answers)
    assert replayed == {None: 1, "true": 199}, replayed
    assert _scalar(live, "SELECT count(*) FROM resident_request") == before + 1
    assert _scalar(live, "SELECT count(*) FROM idempotency_key WHERE key = :k", k=key) == 1
    rid = answers[0].json()["id"]
    assert _scalar(live, "SELECT count(*) FROM request_event WHERE request_id = :id", id=rid) == 1
    created = _scalar(
        live,
        "SELECT count(*) FROM audit_log WHERE action = 'request.create' AND object_id = :id",
        id=str(rid),
    )
    assert created == 1

    # The same key with another body is refused and stores nothing.
    other = call(
        live.base_url,
        "POST",
        "/api/v1/requests",
        token=live.tokens["worker"],
        body=intake_body(description="另一件事：路灯不亮"),
        headers={"Idempotency-Key": key},
    )
    assert other.status == 422, other.body
    assert _scalar(live, "SELECT count(*) FROM resident_request") == before + 1
    assert server_errors_logged(live.log) == []


def test_nested_grid_edits_at_once_queue_instead_of_deadlocking(deployment: Deployment) -> None:
    """A community edit and an edit of its zone, sent together, ten times: both lock the
    community row first, so one waits for the other and is told 412 (its ETag is stale: the
    zone's change bumps the community too), never a deadlock's 409."""
    live = deployment
    token = live.tokens["street"]
    # Posts that start next year change nothing the other tests route by today.
    start = (clock.today() + dt.timedelta(days=300)).isoformat()
    edits = {COMMUNITY: (1, "chief"), COMMUNITY + "02": (2, "zone_leader")}
    rounds = []
    for _ in range(10):
        tags = {
            code: call(live.base_url, "GET", f"/api/v1/grids/{code}/staff", token=token).headers[
                "ETag"
            ]
            for code in edits
        }

        def edit(code: str, tag: str) -> int:
            person, role = edits[code]
            return call(
                live.base_url,
                "POST",
                f"/api/v1/grids/{code}/staff",
                token=token,
                body={"person_id": person, "role": role, "start_date": start},
                headers={"If-Match": tag},
            ).status

        statuses = _at_once([functools.partial(edit, c, t) for c, t in tags.items()])
        rounds.append(sorted(statuses))
    print(f"\nnested edits, 10 rounds: {Counter(map(tuple, rounds))}")
    assert all(statuses == [201, 412] for statuses in rounds), rounds
    assert server_errors_logged(live.log) == []


def _members_racing(live: Deployment, count: int) -> tuple[int, list[str]]:
    """``count`` in-service members of the small grid's community with accounts of their
    own, and an activity there whose places but one are taken: its id and their tokens."""
    engine = create_engine(live.owner_url)
    tokens: list[str] = []
    with Session(engine) as session:
        community = session.scalar(select(Grid.id).where(Grid.code == COMMUNITY))
        ids = list(range(2001, 2001 + count + 2))
        session.add_all(Person(id=i, name=f"在职党员{i}", kind="in_service_member") for i in ids)
        session.flush()
        since = clock.today() - dt.timedelta(days=30)
        session.add_all(
            MemberRegistration(person_id=i, community_id=community, valid_from=since) for i in ids
        )
        starts = clock.now() + dt.timedelta(days=1)
        activity = PartyActivity(
            community_id=community,
            kind="patrol",
            title="平安巡逻",
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=2),
            place_name="社区党群服务中心",
            place=func.ST_Point(116.405, 39.915, 4490),
            wanted=3,
            organiser_id=live.user_ids["worker"],
        )
        session.add(activity)
        session.flush()
        session.add_all(
            ActivitySignup(activity_id=activity.id, person_id=i, signed_at=clock.now())
            for i in ids[-2:]
        )
        for i in ids[:count]:
            user = accounts.create_user(session, f"race-{i}", PASSWORD)
            accounts.grant_role(session, user.id, "member", person_id=i)
        session.commit()
        for i in ids[:count]:
            origin = auth.Origin("127.0.0.1", "resilience tests")
            _, token = auth.login(
                session, f"race-{i}", PASSWORD, kind="bearer", settings=Settings(), origin=origin
            )
            tokens.append(token)
        activity_id = activity.id
    engine.dispose()
    return activity_id, tokens


def test_100_members_race_for_the_last_place_one_wins(deployment: Deployment) -> None:
    """社区吹哨: an activity with one place left, 100 members signing up at once: exactly one
    gets it (201), the others are told it is full (409), none a 5xx; three are signed up."""
    live = deployment
    activity_id, tokens = _members_racing(live, 100)
    path = f"/api/v1/party/me/activities/{activity_id}/signup"
    answers = _at_once(
        [functools.partial(call, live.base_url, "POST", path, token=t) for t in tokens]
    )
    statuses = Counter(a.status for a in answers)
    print(f"\n100 sign-ups for the last place: {dict(statuses)}")
    assert statuses == {201: 1, 409: 99}, statuses
    assert {a.json()["code"] for a in answers if a.status == 409} == {"activity-full"}
    signed = _scalar(
        live, "SELECT count(*) FROM activity_signup WHERE activity_id = :id", id=activity_id
    )
    assert signed == 3
    assert server_errors_logged(live.log) == []


def _members_claiming(live: Deployment, count: int) -> tuple[int, int, list[str]]:
    """``count`` in-service members of the small grid's community with accounts of their
    own, an open need and an open 微心愿 there: their ids and the members' tokens."""
    engine = create_engine(live.owner_url)
    tokens: list[str] = []
    with Session(engine) as session:
        community = session.scalar(select(Grid.id).where(Grid.code == COMMUNITY))
        ids = list(range(3001, 3001 + count))
        session.add_all(Person(id=i, name=f"在职党员{i}", kind="in_service_member") for i in ids)
        session.flush()
        since = clock.today() - dt.timedelta(days=30)
        session.add_all(
            MemberRegistration(person_id=i, community_id=community, valid_from=since) for i in ids
        )
        place = func.ST_Point(116.405, 39.915, 4490)
        common = {"community_id": community, "place": place, "created_at": clock.now()}
        recorder = live.user_ids["worker"]
        need = PartyNeed(
            kind="repair", title="楼道灯坏了", source="resident", recorded_by=recorder, **common
        )
        wish = SmallWish(
            title="想要一台收音机", consent_at=clock.now(), recorded_by=recorder, **common
        )
        session.add_all([need, wish])
        for i in ids:
            user = accounts.create_user(session, f"claim-{i}", PASSWORD)
            accounts.grant_role(session, user.id, "member", person_id=i)
        session.commit()
        for i in ids:
            origin = auth.Origin("127.0.0.1", "resilience tests")
            _, token = auth.login(
                session, f"claim-{i}", PASSWORD, kind="bearer", settings=Settings(), origin=origin
            )
            tokens.append(token)
        need_id, wish_id = need.id, wish.id
    engine.dispose()
    return need_id, wish_id, tokens


def test_100_members_claim_one_need_and_one_wish_one_wins_each(deployment: Deployment) -> None:
    """双向认领 and 微心愿: 100 members claim the same need at once, then the same wish at
    once: exactly one claim of each wins (201), the rest are told it is taken (409), none a
    5xx; one project is stored for the need and the wish has one claimant."""
    live = deployment
    need_id, wish_id, tokens = _members_claiming(live, 100)
    for path, code in (
        (f"/api/v1/party/needs/{need_id}/claims", "need-taken"),
        (f"/api/v1/party/wishes/{wish_id}/claims", "wish-taken"),
    ):
        answers = _at_once(
            [functools.partial(call, live.base_url, "POST", path, token=t, body={}) for t in tokens]
        )
        statuses = Counter(a.status for a in answers)
        print(f"\n100 claims of {path}: {dict(statuses)}")
        assert statuses == {201: 1, 409: 99}, statuses
        assert {a.json()["code"] for a in answers if a.status == 409} == {code}
    projects = _scalar(live, "SELECT count(*) FROM party_match WHERE need_id = :id", id=need_id)
    claimants = _scalar(live, "SELECT count(person_id) FROM small_wish WHERE id = :id", id=wish_id)
    assert (projects, claimants) == (1, 1)
    assert server_errors_logged(live.log) == []
