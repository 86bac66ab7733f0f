"""The request state machine: every (state, level, role, action) against an independent spec,
random sequences with invariants, and readable walks through the closed loop."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.requests.lifecycle import (
    ACTIONS,
    LEVELS,
    RATINGS,
    ROLES,
    STATES,
    IllegalTransition,
    NotPermitted,
    RequestState,
    allowed_actions,
    new_request,
    transition,
)

# No example database: it would write .hypothesis/ into the work tree.
settings.register_profile("domain", database=None, deadline=None)
PROFILE = settings.get_profile("domain")

# The spec, written out again by hand from issue 5 rather than derived from the module's
# table, so that a wrong row in RULES fails here.
OWNER = {
    "micro": "grid_worker",
    "zone": "zone_leader",
    "community": "chief",
    "street": "street_admin",
    "department": "department",
}
CHAIN = ["grid_worker", "zone_leader", "chief", "street_admin"]
OPEN_STATES = {"reported", "accepted", "handling"}


def _supervisor(role: str, level: str) -> bool:
    if level == "department":
        return role == "street_admin"  # the street that blew the whistle
    return role in CHAIN and CHAIN.index(role) > CHAIN.index(OWNER[level])


def _reviewer(role: str, level: str) -> bool:
    if level == "department":
        return role == "street_admin"
    # Leaders at or above the level; a grid worker never grades or files its own work.
    return role in CHAIN[1:] and CHAIN.index(role) >= CHAIN.index(OWNER[level])


def expected_allowed(state: str, level: str, role: str, action: str) -> bool:
    owner = OWNER[level] == role
    steer = owner or _supervisor(role, level)
    match action:
        case "accept":
            return state == "reported" and owner
        case "start":
            return state == "accepted" and owner
        case "complete":
            return state == "handling" and owner
        case "rate":
            return state == "completed" and (role == "resident" or _reviewer(role, level))
        case "archive":
            return (state == "feedback" and _reviewer(role, level)) or (
                state in {"feedback", "completed"} and role == "system"
            )
        case "escalate":
            # The scheduler climbs a lapsed stage, never to a department (街乡吹哨 is human).
            by_rule = role == "system" and level in {"micro", "zone", "community"}
            return state in OPEN_STATES and ((steer and level != "department") or by_rule)
        case "return":
            return state in OPEN_STATES and steer and level != "micro"
        case "reassign" | "mark_duplicate" | "set_urgency":
            # A department returns (退单) rather than hand over: the street re-routes.
            hands_over = action == "reassign" and level == "department"
            return state in OPEN_STATES and (_supervisor(role, level) if hands_over else steer)
        case "comment":
            cohandler = (role, level) in {("co_department", "department"), ("helper", "community")}
            return state not in {"archived", "duplicate"} and (
                steer or _reviewer(role, level) or role == "resident" or cohandler
            )
    return _department_step(state, level, role, action)


def _department_step(state: str, level: str, role: str, action: str) -> bool:
    """回访 and 核查 (a verifier, or a leader who reviews the level: own work is refused by the
    service, see tests/requests/test_verification.py; the resident answers the 回访 too);
    延期 (the lead asks while its handling clock runs, the street answers), 协办 and 督办
    (the street's, on a department's open request); 社区吹哨 (the chief's, one level down)."""
    if action == "callback" and role == "resident":
        return state == "completed"  # the resident's own answer, on the public channel
    if action in ("callback", "verify"):
        return state == "completed" and (role == "verifier" or _reviewer(role, level))
    if action == "call_helpers":
        return state in OPEN_STATES and level == "community" and role == "chief"
    if level != "department":
        return False
    running = state in {"accepted", "handling"}
    match action:
        case "ask_extension":
            return running and role == "department"
        case "approve_extension" | "refuse_extension":
            return running and role == "street_admin"
        case "add_cohandler" | "supervise":
            return state in OPEN_STATES and role == "street_admin"
    raise AssertionError(action)


def valid_args(action: str, rating: str = "satisfied") -> dict[str, Any]:
    args: dict[str, dict[str, Any]] = {
        "rate": {"rating": rating},
        "escalate": {"reason": "需要片区协调"},
        "return": {"reason": "属网格内小事"},
        "reassign": {"reason": "定位错误，转相邻网格"},
        "mark_duplicate": {"original_id": 41},
        "comment": {"text": "已电话联系居民"},
        "callback": {
            "resolved": "unresolved" if rating == "unsatisfied" else "resolved",
            "rating": rating,
            "channel": "phone",
        },
        "set_urgency": {"urgency": "urgent"},
        "ask_extension": {"reason": "需协调产权单位"},
        "refuse_extension": {"reason": "时限足够"},
        "supervise": {"reason": "超期未办结"},
    }
    return args.get(action, {})


def check_invariants(before: RequestState, action: str, after: RequestState) -> None:
    assert before.state not in {"archived", "duplicate"}, "terminal states never move"
    assert after.level in LEVELS
    step = LEVELS.index(after.level) - LEVELS.index(before.level)
    assert step == {"escalate": 1, "return": -1}.get(action, 0)
    if after.reopen_count != before.reopen_count:
        assert after.reopen_count == before.reopen_count + 1
        assert before.state == "completed"
        assert (action, after.rating) == ("rate", "unsatisfied") or action == "callback"
    if after.level == "department" and before.level != "department":
        assert before.level == "street"


# -- every triple ---------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_every_state_action_role_matches_the_spec(level: str) -> None:
    for state, action, role in itertools.product(STATES, ACTIONS, ROLES):
        before = RequestState(state=state, level=level)  # type: ignore[arg-type]
        allowed = expected_allowed(state, level, role, action)
        assert (action in allowed_actions(before, role)) == allowed, (state, level, role, action)
        ratings = RATINGS if action in ("rate", "callback") else ("satisfied",)
        for rating in ratings:
            if allowed:
                result = transition(before, action, role, **valid_args(action, rating))
                check_invariants(before, action, result.after)
            else:
                with pytest.raises(IllegalTransition, match=f"'{action}'.*'{state}'.*'{role}'"):
                    transition(before, action, role, **valid_args(action, rating))


states = st.builds(
    RequestState,
    state=st.sampled_from(STATES),
    level=st.sampled_from(LEVELS),
    reopen_count=st.integers(0, 5),
    rating=st.none() | st.sampled_from(RATINGS),
)


@settings(PROFILE, max_examples=500)
@given(
    before=states,
    action=st.sampled_from(ACTIONS),
    role=st.sampled_from(ROLES),
    rating=st.sampled_from(RATINGS),
)
def test_any_stored_state_obeys_the_spec(
    before: RequestState, action: str, role: str, rating: str
) -> None:
    allowed = expected_allowed(before.state, before.level, role, action)
    try:
        result = transition(before, action, role, **valid_args(action, rating))
    except IllegalTransition:
        assert not allowed
    else:
        assert allowed
        assert result.before == before
        check_invariants(before, action, result.after)


steps = st.tuples(st.sampled_from(ACTIONS), st.sampled_from(ROLES), st.sampled_from(RATINGS))


@settings(PROFILE, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(level=st.sampled_from(LEVELS), walk=st.lists(steps, max_size=60))
def test_random_sequences_keep_the_invariants(level: str, walk: list[tuple[str, str, str]]) -> None:
    state = new_request(level)  # type: ignore[arg-type]
    reopens = 0
    for action, role, rating in walk:
        allowed = expected_allowed(state.state, state.level, role, action)
        assert (action in allowed_actions(state, role)) == allowed
        try:
            result = transition(state, action, role, **valid_args(action, rating))
        except IllegalTransition:
            assert not allowed
            continue
        assert allowed
        check_invariants(state, action, result.after)
        reopens += result.reopened
        state = result.after
    assert state.reopen_count == reopens
    if state.state in {"archived", "duplicate"}:
        assert all(allowed_actions(state, role) == [] for role in ROLES)


# -- examples -------------------------------------------------------------------------------


def test_happy_path_through_the_closed_loop() -> None:
    state = new_request("micro")
    assert state.stage == "response"
    walk = [
        ("accept", "grid_worker", {}, "accepted", "handling"),
        ("start", "grid_worker", {}, "handling", None),
        ("complete", "grid_worker", {}, "completed", "feedback"),
        ("rate", "resident", {"rating": "basically_satisfied"}, "feedback", None),
        ("archive", "zone_leader", {}, "archived", None),
    ]
    for action, role, args, after, clock in walk:
        result = transition(state, action, role, **args)
        assert (result.after.state, result.deadline_starts) == (after, clock)
        state = result.after
    assert state == RequestState("archived", "micro", reopen_count=0, rating="basically_satisfied")


def test_unsatisfied_resident_reopens_at_the_same_level() -> None:
    state = RequestState("completed", "zone")
    reopened = transition(state, "rate", "resident", rating="unsatisfied")
    assert reopened.after == RequestState("handling", "zone", reopen_count=1, rating="unsatisfied")
    assert reopened.reopened and reopened.deadline_starts == "handling"
    again = transition(reopened.after, "complete", "zone_leader").after
    # A chief recording the answer from a callback (回访) is a rating too.
    rated = transition(again, "rate", "chief", rating="satisfied")
    assert rated.after == RequestState("feedback", "zone", reopen_count=1, rating="satisfied")
    assert not rated.reopened


def test_escalation_to_a_department_and_back() -> None:
    state = new_request("micro")
    for role, level in [
        ("grid_worker", "zone"),
        ("zone_leader", "community"),
        ("chief", "street"),
        ("street_admin", "department"),
    ]:
        result = transition(state, "escalate", role, reason="超出本级处置能力")
        assert result.after.level == result.new_owner_level == level
        assert result.after.state == "reported" and result.deadline_starts == "response"
        state = result.after
    assert result.summoned
    with pytest.raises(IllegalTransition, match="not possible"):
        transition(state, "escalate", "street_admin", reason="past the top")
    answered = transition(state, "accept", "department")  # 部门报到
    back = transition(answered.after, "return", "department", reason="不属于本部门职责")
    assert back.after.level == "street" and back.after.state == "reported"


@pytest.mark.parametrize(
    ("before", "action", "role", "args"),
    [
        (RequestState("feedback", "micro"), "archive", "grid_worker", {}),
        (RequestState("handling", "street"), "escalate", "chief", {"reason": "x"}),
        (RequestState("handling", "street"), "escalate", "department", {"reason": "x"}),
        (RequestState("handling", "micro"), "complete", "department", {}),
        (RequestState("handling", "micro"), "complete", "zone_leader", {}),
        (RequestState("completed", "micro"), "rate", "grid_worker", {"rating": "satisfied"}),
        (RequestState("completed", "micro"), "archive", "zone_leader", {}),
    ],
)
def test_roles_outside_their_remit_are_not_permitted(
    before: RequestState, action: str, role: str, args: dict[str, Any]
) -> None:
    with pytest.raises(NotPermitted, match=f"'{action}'.*'{role}': only the"):
        transition(before, action, role, **args)


def test_a_co_handling_department_only_comments() -> None:
    state = RequestState("handling", "department")
    assert allowed_actions(state, "co_department") == ["comment"]
    with pytest.raises(NotPermitted, match=r"'complete'.*'co_department'"):
        transition(state, "complete", "co_department")


@pytest.mark.parametrize("role", ["auditor", "member"])
def test_read_only_roles_may_do_nothing(role: str) -> None:
    for state, level in itertools.product(STATES, LEVELS):
        assert allowed_actions(RequestState(state, level), role) == []


def test_return_never_goes_below_micro_but_reassign_may() -> None:
    state = RequestState("handling", "micro")
    with pytest.raises(IllegalTransition, match="not possible"):
        transition(state, "return", "grid_worker", reason="x")
    moved = transition(state, "reassign", "zone_leader", reason="转相邻网格")
    assert moved.after == RequestState("reported", "micro")
    assert moved.new_owner_level == "micro" and moved.deadline_starts == "response"


def test_duplicate_records_the_original_and_is_terminal() -> None:
    result = transition(new_request(), "mark_duplicate", "grid_worker", original_id="r-17")
    assert result.after.state == "duplicate" and result.after.duplicate_of == "r-17"
    assert result.after.terminal
    with pytest.raises(IllegalTransition):
        transition(result.after, "comment", "chief", text="late note")


def test_comment_changes_nothing() -> None:
    state = RequestState("handling", "community", reopen_count=2)
    result = transition(state, "comment", "resident", text="  还没有人来  ")
    assert result.after == state and result.text == "还没有人来"
    assert result.deadline_starts is None and result.new_owner_level is None


def test_system_archives_an_unrated_request() -> None:
    result = transition(RequestState("completed", "department"), "archive", "system")
    assert result.after.state == "archived" and result.after.rating is None


@pytest.mark.parametrize(
    ("action", "args", "message"),
    [
        ("fly", {}, "action must be one of"),
        ("rate", {}, "requires 'rating'"),
        ("rate", {"rating": "happy"}, "rating must be one of"),
        ("rate", {"rating": "satisfied", "note": "x"}, "takes no argument 'note'"),
        ("accept", {"reason": "x"}, "takes no argument 'reason'"),
        ("escalate", {"reason": "   "}, "reason must be a non-blank string"),
        ("return", {"reason": None}, "reason must be a non-blank string"),
        ("mark_duplicate", {"original_id": True}, "original_id must be"),
        ("mark_duplicate", {"original_id": 0}, "original_id must be positive"),
        ("mark_duplicate", {"original_id": 1.5}, "original_id must be"),
        ("comment", {"text": 3}, "text must be a non-blank string"),
        ("set_urgency", {"urgency": "紧急"}, "urgency must be one of"),
        ("set_urgency", {}, "requires 'urgency'"),
    ],
)
def test_malformed_arguments_are_value_errors(
    action: str, args: dict[str, Any], message: str
) -> None:
    # Checked before the rules: a malformed call is malformed in any state, even a terminal one.
    for state in (RequestState("completed", "micro"), RequestState("archived", "micro")):
        with pytest.raises(ValueError, match=message):
            transition(state, action, "resident", **args)


def test_unknown_role_and_bad_state_are_value_errors() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        transition(new_request(), "accept", "mayor")
    with pytest.raises(ValueError, match="role must be one of"):
        allowed_actions(new_request(), "mayor")
    with pytest.raises(ValueError, match="state must be one of"):
        RequestState("lost")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level must be one of"):
        new_request("city")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reopen_count"):
        RequestState(reopen_count=-1)


def test_illegal_transition_is_not_a_value_error() -> None:
    # The API maps ValueError to 4xx input errors and IllegalTransition to 409: keep them apart.
    assert not issubclass(IllegalTransition, ValueError)


# -- 回访 and 核查 -----------------------------------------------------------------------------


def test_a_callback_records_the_answer_and_closes_or_reopens() -> None:
    done = RequestState("completed", "micro")
    closed = transition(
        done,
        "callback",
        "verifier",
        resolved="resolved",
        rating="basically_satisfied",
        channel="phone",
    )
    assert closed.after == RequestState("feedback", "micro", rating="basically_satisfied")
    assert (closed.resolved, closed.channel, closed.deadline_starts) == ("resolved", "phone", None)
    reopened = transition(
        done, "callback", "verifier", resolved="unresolved", rating="satisfied", channel="on_site"
    )
    # Unresolved reopens even when the resident was polite about it.
    assert reopened.after == RequestState("handling", "micro", reopen_count=1, rating="satisfied")
    assert reopened.reopened and reopened.deadline_starts == "handling"


def test_a_rating_maps_into_the_same_answer_record() -> None:
    done = RequestState("completed", "zone")
    own = transition(done, "rate", "resident", rating="satisfied")
    assert (own.resolved, own.channel) == ("resolved", "resident")
    recorded = transition(done, "rate", "chief", rating="unsatisfied")
    assert (recorded.resolved, recorded.channel) == ("unresolved", None)


def test_a_verifier_checks_and_calls_back_but_handles_nothing() -> None:
    done = RequestState("completed", "street")
    checked = transition(done, "verify", "verifier")
    assert checked.after == done and checked.deadline_starts is None
    assert allowed_actions(done, "verifier") == ["callback", "verify"]
    for state in ("reported", "accepted", "handling", "feedback"):
        assert allowed_actions(RequestState(state, "micro"), "verifier") == []
    with pytest.raises(NotPermitted, match=r"'accept'.*'verifier'"):
        transition(RequestState("reported", "micro"), "accept", "verifier")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"rating": "satisfied", "channel": "phone"}, "requires 'resolved'"),
        ({"resolved": "maybe", "rating": "satisfied", "channel": "phone"}, "resolved must be"),
        ({"resolved": "resolved", "rating": "satisfied", "channel": "letter"}, "channel must be"),
    ],
)
def test_malformed_callbacks_are_value_errors(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        transition(RequestState("completed", "micro"), "callback", "verifier", **args)
