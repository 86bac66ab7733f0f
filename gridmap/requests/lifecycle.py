"""The life of a resident's request (群众诉求): the five-step closed loop as a state machine.

上报 report → 处置 handle → 办结 complete → 反馈 feed back → 归档 archive, with escalation
(小事网格办、大事站所办; 街乡吹哨、部门报到), hand-backs, duplicates and comments. This module
owns only the rules: no storage, no HTTP. The storage layer keeps a :class:`RequestState` per
request, calls :func:`transition` and writes the audit row and deadlines it returns.

Diagram::

    intake
      │
      ▼              accept              start              complete
    reported 上报 ────────▶ accepted 受理 ──────▶ handling 处置 ────────▶ completed 办结
      │  ▲                     │                  │   ▲                     │ │
      │  │ escalate  level + 1 │                  │   │ rate: unsatisfied   │ │ rate: satisfied,
      │  │ return    level - 1 │                  │   └─ reopen_count + 1 ──┘ │ basically_satisfied
      │  │ reassign  same level│                  │                           ▼
      │  └─────────────────────┴──────────────────┤                      feedback 反馈
      │                                           │                           │ archive
      │  mark_duplicate (from the same three)     │                           ▼
      └───────────────────────────────────────────┴──▶ duplicate         archived 归档

    completed ── archive (system only: the feedback window lapsed unrated) ──▶ archived
    comment: in every state but archived and duplicate; changes nothing
    set_urgency: while open; restarts nothing, shortens or lengthens the running limit

Levels, lowest first: ``micro`` (微网格) → ``zone`` (片区网格) → ``community`` (社区) →
``street`` (街道/乡镇) → ``department`` (职能部门, summoned by the street). Escalation climbs one
level, ``return`` goes down one, ``reassign`` stays on the level (another grid or department).
All three put the request back to ``reported`` because its new owner must accept it (首接负责),
which starts that owner's own response deadline: a summoned department gets its own clock.

Who may act is decided by how the caller's role relates to the request's level, not by the
caller's identity: that the grid worker is *the* worker of this micro-grid, or the resident *the*
one who filed it, is the storage layer's scope check.

============  ==========================  ===============================================
party         roles                       may
============  ==========================  ===============================================
owner         the role of the request's   handle it: accept, start, complete (首接负责),
              level (OWNER_ROLE)          and steer it like a supervisor
supervisor    grid roles above the level  steer: escalate, return, reassign, mark_duplicate
              (SUPERVISORS; the street
              for a department)
reviewer      leaders at or above the     record the resident's answer (回访), archive; a
              level (REVIEWERS)           grid worker or department officer never grades
                                          or files its own work
resident      ``resident``                rate, comment, answer the 回访 (public channel)
system        ``system``                  archive; escalate a lapsed stage below the
                                          street (the scheduler)
verifier      ``verifier`` (核查回访员, a  record a 回访 (callback) and an on-site check
              community's or a street's)  (verify); handles nothing
cohandler     ``co_department``: a        comment only (协办: never complete)
              department co-handling a
              request another leads;
              ``helper``: a person the
              community called up
              (社区吹哨)
============  ==========================  ===============================================

Independence: ``rate``, ``callback`` and ``verify`` (:data:`INDEPENDENT`) judge the handling,
so the service refuses them (403 ``own-work``) to an account that owns the request (its
user, its linked person, or its level's scope when no account owns it) or took a handling
action (:data:`HANDLING`) in its timeline, whatever its role.

A department account is ``department`` on the requests its department leads and
``co_department`` on those it co-handles (the service tells which).

``auditor`` and ``member`` are known roles that may do nothing here (read-only).

Rule table (:data:`RULES`), the only source of what is allowed:

==============  =================================  ======================  ===================
action          from                               to                      parties
==============  =================================  ======================  ===================
accept          reported                           accepted                owner
start           accepted                           handling                owner
complete        handling                           completed               owner
rate            completed                          feedback / handling     resident, reviewer
archive         feedback                           archived                reviewer, system
archive         completed                          archived                system
escalate        reported, accepted, handling       reported, level + 1     owner, supervisor
                (level below department)
escalate        reported, accepted, handling       reported, level + 1     system
                (level below street)
return          reported, accepted, handling       reported, level - 1     owner, supervisor
                (level above micro)
reassign        reported, accepted, handling       reported, same level    owner, supervisor
                                                                           (the street only, at
                                                                           department level)
mark_duplicate  reported, accepted, handling       duplicate               owner, supervisor
set_urgency     reported, accepted, handling       unchanged               owner, supervisor
comment         all but archived, duplicate        unchanged               owner, supervisor,
                                                                           reviewer, resident,
                                                                           cohandler
callback        completed                          feedback / handling     verifier, reviewer,
                                                   (by ``resolved``)       resident
verify          completed                          unchanged               verifier, reviewer
ask_extension   accepted, handling (department)    unchanged               owner (延期)
approve_        accepted, handling (department)    unchanged               supervisor
extension,
refuse_
extension
add_cohandler   reported, accepted, handling       unchanged               supervisor (协办)
                (department)
supervise       reported, accepted, handling       unchanged               supervisor (督办)
                (department)
call_helpers    reported, accepted, handling       unchanged               owner (社区吹哨)
                (community)
==============  =================================  ======================  ===================

Hence: a grid worker may not archive; only the street (owner at street level) summons a
department; a department officer acts only on requests at department level. A callback
answers ``resolved`` (已解决/未解决), ``rating`` (满意/基本满意/不满意) and ``channel`` (phone,
on site, public); unresolved reopens the request as an unsatisfied rating does, and a rating
maps into the same answer record (:attr:`Transition.resolved`, :attr:`Transition.channel`).
A category version may require an on-site check (``requires_check``): the service then
refuses to move the request to feedback or archived until a ``verify`` (with a photo) follows
its last completion.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal, NoReturn, TypeVar, cast, get_args

State = Literal[
    "reported", "accepted", "handling", "completed", "feedback", "archived", "duplicate"
]
Level = Literal["micro", "zone", "community", "street", "department"]
Role = Literal[
    "grid_worker",
    "zone_leader",
    "chief",
    "street_admin",
    "department",
    "co_department",
    "helper",
    "resident",
    "system",
    "auditor",
    "member",
    "verifier",
]
Action = Literal[
    "accept",
    "start",
    "complete",
    "rate",
    "archive",
    "escalate",
    "return",
    "reassign",
    "mark_duplicate",
    "comment",
    "callback",
    "verify",
    "set_urgency",
    "ask_extension",
    "approve_extension",
    "refuse_extension",
    "add_cohandler",
    "supervise",
    "call_helpers",
]
Rating = Literal["satisfied", "basically_satisfied", "unsatisfied"]
#: The 回访's first question: is the matter resolved (已解决/未解决)?
Resolved = Literal["resolved", "unresolved"]
#: How a 回访 was asked: a phone call, on site, or the residents' public channel.
Channel = Literal["phone", "on_site", "public"]
#: A stage with its own time limit: 响应 (until accepted), 处置 (until completed), 回访
#: (until the resident's answer is recorded).
Stage = Literal["response", "handling", "feedback"]
Party = Literal["owner", "supervisor", "reviewer", "resident", "system", "verifier", "cohandler"]
#: Where a rule sends the request: a state, "unchanged", "by_rating" (see RATING_TARGET) or
#: "by_answer" (see ANSWER_TARGET).
Target = State | Literal["unchanged", "by_rating", "by_answer"]

STATES: Final[tuple[State, ...]] = get_args(State)
LEVELS: Final[tuple[Level, ...]] = get_args(Level)
ROLES: Final[tuple[Role, ...]] = get_args(Role)
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
#: The street's and the department's own steps (延期, 协办, 督办, 社区吹哨): no new owner, no
#: new state; the service records what each adds.
DEPARTMENT_STEPS: Final[tuple[Action, ...]] = (
    "ask_extension",
    "approve_extension",
    "refuse_extension",
    "add_cohandler",
    "supervise",
    "call_helpers",
)
RATINGS: Final[tuple[Rating, ...]] = get_args(Rating)
RESOLVED_ANSWERS: Final[tuple[Resolved, ...]] = get_args(Resolved)
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
#: The actions that judge a request's handling: only someone independent of it may take them
#: (nobody rates, verifies or calls back a request they handled or own; see
#: ``gridmap.requests.service``).
INDEPENDENT: Final[frozenset[Action]] = frozenset({"rate", "callback", "verify"})
#: The actions that handle a request: whoever took one of them is no longer independent.
HANDLING: Final[frozenset[Action]] = frozenset({"accept", "start", "complete"})
#: The actions that record the resident's answer (the 回访 record, read by 三率).
ANSWERS: Final[frozenset[Action]] = frozenset({"rate", "callback"})

#: The stage whose clock runs while a request is in each state. The state sets below are
#: read from it, so that every module (queries, 三率, review, Open311, pages) shares them.
STAGE_OF: Final[Mapping[State, Stage | None]] = {
    "reported": "response",
    "accepted": "handling",
    "handling": "handling",
    "completed": "feedback",
    "feedback": None,
    "archived": None,
    "duplicate": None,
}
TERMINAL: Final[frozenset[State]] = frozenset({"archived", "duplicate"})
LIVE: Final[frozenset[State]] = frozenset(STATES) - TERMINAL
#: A stage clock runs: the request can be late (红黄牌, overdue).
CLOCKED: Final[tuple[State, ...]] = tuple(s for s in STATES if STAGE_OF[s] is not None)
#: Not yet completed (the response or handling clock runs); Open311 calls the rest closed.
OPEN: Final[tuple[State, ...]] = tuple(s for s in STATES if STAGE_OF[s] in ("response", "handling"))
CLOSED: Final[tuple[State, ...]] = tuple(s for s in STATES if s not in OPEN)
#: Requests that count in tallies, 三率 and the review: every one but a merged duplicate.
COUNTED: Final[tuple[State, ...]] = tuple(s for s in STATES if s != "duplicate")
#: The groups a reviewer filters by (五步闭环): open, completed (awaiting or past the
#: resident's answer), archived.
STATE_GROUPS: Final[Mapping[str, tuple[State, ...]]] = {
    "open": OPEN,
    "completed": tuple(s for s in STATES if s not in OPEN and s not in TERMINAL),
    "archived": ("archived",),
}


def clock_runs(state: str) -> bool:
    """Whether a request in ``state`` has a stage clock running (and so can be overdue)."""
    return state in CLOCKED


#: The role that owns (handles) a request at each level.
OWNER_ROLE: Final[Mapping[Level, Role]] = {
    "micro": "grid_worker",
    "zone": "zone_leader",
    "community": "chief",
    "street": "street_admin",
    "department": "department",
}
#: Roles that steer a request at each level: the grid chain above it; a summoned department
#: answers to the street that summoned it.
SUPERVISORS: Final[Mapping[Level, frozenset[Role]]] = {
    "micro": frozenset({"zone_leader", "chief", "street_admin"}),
    "zone": frozenset({"chief", "street_admin"}),
    "community": frozenset({"street_admin"}),
    "street": frozenset(),
    "department": frozenset({"street_admin"}),
}
#: Leaders who record the resident's answer and archive: so a grid worker never grades nor
#: files its own work, and the street closes the loop of the department it summoned.
REVIEWERS: Final[Mapping[Level, frozenset[Role]]] = {
    "micro": frozenset({"zone_leader", "chief", "street_admin"}),
    "zone": frozenset({"zone_leader", "chief", "street_admin"}),
    "community": frozenset({"chief", "street_admin"}),
    "street": frozenset({"street_admin"}),
    "department": frozenset({"street_admin"}),
}

#: Where the resident's answer sends a completed request: unsatisfied reopens it.
RATING_TARGET: Final[Mapping[Rating, State]] = {
    "satisfied": "feedback",
    "basically_satisfied": "feedback",
    "unsatisfied": "handling",
}
#: Where a 回访 answer sends a completed request: unresolved reopens it.
ANSWER_TARGET: Final[Mapping[Resolved, State]] = {
    "resolved": "feedback",
    "unresolved": "handling",
}
#: How many levels an action moves the request.
LEVEL_STEP: Final[Mapping[Action, int]] = {"escalate": 1, "return": -1}
#: The arguments each action requires (every one is required; no others are accepted).
ACTION_ARGS: Final[Mapping[Action, tuple[str, ...]]] = {
    "rate": ("rating",),
    "escalate": ("reason",),
    "return": ("reason",),
    "reassign": ("reason",),
    "mark_duplicate": ("original_id",),
    "comment": ("text",),
    "callback": ("resolved", "rating", "channel"),
    "set_urgency": ("urgency",),
    "ask_extension": ("reason",),
    "refuse_extension": ("reason",),
    "supervise": ("reason",),
}
#: 一般, 紧急, 特急: how urgent a request is (its limits are shortened accordingly).
URGENCIES: Final = ("normal", "urgent", "critical")


@dataclass(frozen=True)
class Rule:
    """One allowed move: ``action`` from any of ``sources`` at any of ``levels`` by ``parties``."""

    action: Action
    sources: frozenset[State]
    target: Target
    parties: frozenset[Party]
    levels: frozenset[Level] = frozenset(LEVELS)


def _rule(
    action: Action,
    sources: Collection[State],
    target: Target,
    parties: set[Party],
    levels: tuple[Level, ...] = LEVELS,
) -> Rule:
    return Rule(action, frozenset(sources), target, frozenset(parties), frozenset(levels))


_HANDLER: Final[set[Party]] = {"owner"}
#: Where a department has accepted and its handling clock runs (an extension is of that).
_RUNNING: Final[tuple[State, ...]] = ("accepted", "handling")
_DEPARTMENT: Final[tuple[Level, ...]] = ("department",)
_STEER: Final[set[Party]] = {"owner", "supervisor"}

#: Everything that is allowed; anything else raises IllegalTransition.
RULES: Final[tuple[Rule, ...]] = (
    _rule("accept", {"reported"}, "accepted", _HANDLER),
    _rule("start", {"accepted"}, "handling", _HANDLER),
    _rule("complete", {"handling"}, "completed", _HANDLER),
    _rule("rate", {"completed"}, "by_rating", {"resident", "reviewer"}),
    _rule("archive", {"feedback"}, "archived", {"reviewer", "system"}),
    # A resident who never answers must not keep a request open for ever: the scheduler
    # archives it when the feedback deadline passes, unrated.
    _rule("archive", {"completed"}, "archived", {"system"}),
    _rule("escalate", OPEN, "reported", _STEER, LEVELS[:-1]),
    # A category may say that a lapsed stage climbs by itself; never to a department: the
    # street's summons (街乡吹哨) stays a human act.
    _rule("escalate", OPEN, "reported", {"system"}, LEVELS[:-2]),
    _rule("return", OPEN, "reported", _STEER, LEVELS[1:]),
    _rule("reassign", OPEN, "reported", _STEER, LEVELS[:-1]),
    # A department hands nothing to another itself: it returns it (退单), the street re-routes.
    _rule("reassign", OPEN, "reported", {"supervisor"}, _DEPARTMENT),
    _rule("mark_duplicate", OPEN, "duplicate", _STEER),
    _rule(
        "comment", LIVE, "unchanged", {"owner", "supervisor", "reviewer", "resident", "cohandler"}
    ),
    # 回访 and 核查 by someone who is not the handler (the service refuses own work).
    # The resident answers the same two questions on the public channel (公众上报).
    _rule("callback", {"completed"}, "by_answer", {"verifier", "reviewer", "resident"}),
    _rule("verify", {"completed"}, "unchanged", {"verifier", "reviewer"}),
    _rule("set_urgency", OPEN, "unchanged", _STEER),
    # 延期: the summoned department asks for more time on its running stage; the street
    # answers. 协办 and 督办 are the street's: co-handlers, and a late department supervised.
    _rule("ask_extension", _RUNNING, "unchanged", _HANDLER, _DEPARTMENT),
    _rule("approve_extension", _RUNNING, "unchanged", {"supervisor"}, _DEPARTMENT),
    _rule("refuse_extension", _RUNNING, "unchanged", {"supervisor"}, _DEPARTMENT),
    _rule("add_cohandler", OPEN, "unchanged", {"supervisor"}, _DEPARTMENT),
    _rule("supervise", OPEN, "unchanged", {"supervisor"}, _DEPARTMENT),
    # 社区吹哨: the community's chief calls up grid workers or in-service members to help.
    _rule("call_helpers", OPEN, "unchanged", _HANDLER, ("community",)),
)


class IllegalTransition(Exception):
    """The action is not allowed for this role on a request in this state (HTTP 409)."""

    def __init__(self, state: RequestState, action: str, role: str, why: str) -> None:
        super().__init__(
            f"cannot {action!r} a request in state {state.state!r} at level {state.level!r} "
            f"as {role!r}: {why}"
        )
        self.state = state
        self.action = action
        self.role = role


class NotPermitted(IllegalTransition):
    """The action is possible in this state, but not for this role (403 if the API prefers)."""


@dataclass(frozen=True)
class RequestState:
    """What the rules need to know about a request.

    Parameters
    ----------
    state, level
        Where it is in the loop and which level owns it.
    reopen_count
        How often an unsatisfied resident reopened it.
    rating
        The resident's latest answer, if any (kept when it reopens the request).
    duplicate_of
        The original request's id, once marked a duplicate.
    """

    state: State = "reported"
    level: Level = "micro"
    reopen_count: int = 0
    rating: Rating | None = None
    duplicate_of: int | str | None = None

    def __post_init__(self) -> None:
        _parse(self.state, STATES, "state")
        _parse(self.level, LEVELS, "level")
        if self.rating is not None:
            _parse(self.rating, RATINGS, "rating")
        if type(self.reopen_count) is not int or self.reopen_count < 0:
            raise ValueError(f"reopen_count must be an integer >= 0, not {self.reopen_count!r}")

    @property
    def stage(self) -> Stage | None:
        """The stage whose deadline runs now, if any."""
        return STAGE_OF[self.state]

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True)
class Transition:
    """The outcome of one allowed action: the new state and what the caller must record.

    ``new_owner_level`` is set when a new owner must be found at that level (escalate, return,
    reassign); ``deadline_starts`` names the stage whose clock (re)starts now; ``rating``,
    ``reason``, ``text`` and ``duplicate_of`` echo the validated arguments for the audit row.
    """

    action: Action
    role: Role
    before: RequestState
    after: RequestState
    new_owner_level: Level | None
    deadline_starts: Stage | None
    rating: Rating | None = None
    reason: str | None = None
    text: str | None = None
    duplicate_of: int | str | None = None
    #: The answer record of ``rate`` and ``callback``: resolved or not, and how it was asked
    #: (``resident``: the resident's own rating).
    resolved: Resolved | None = None
    channel: Channel | Literal["resident"] | None = None

    @property
    def reopened(self) -> bool:
        return self.after.reopen_count > self.before.reopen_count

    @property
    def summoned(self) -> bool:
        """街乡吹哨: the street has just handed the request to a department (a summons, or
        re-routing it to another department)."""
        return self.new_owner_level == "department"


def new_request(level: Level = "micro") -> RequestState:
    """A request just filed (上报) and routed to ``level``: its response deadline starts."""
    return RequestState(state="reported", level=_parse(level, LEVELS, "level"))


def allowed_actions(state: RequestState, role: str) -> list[Action]:
    """The actions ``role`` may take on ``state`` now, in :data:`ACTIONS` order (for the UI)."""
    who = _parse(role, ROLES, "role")
    return [action for action in ACTIONS if _matching_rule(state, action, who) is not None]


def transition(state: RequestState, action: str, role: str, **args: object) -> Transition:
    """Apply ``action`` by ``role`` to ``state``.

    Parameters
    ----------
    state
        The request as stored.
    action, role
        One of :data:`ACTIONS` and :data:`ROLES`.
    **args
        Exactly the arguments in :data:`ACTION_ARGS` for the action: ``rating`` (one of
        :data:`RATINGS`), ``reason`` or ``text`` (non-blank strings), ``original_id`` (a
        positive int or a non-blank string).

    Returns
    -------
    Transition

    Raises
    ------
    ValueError
        Unknown action or role, missing, unexpected or malformed arguments (checked first:
        a malformed call is malformed in any state).
    IllegalTransition
        The rule table does not allow it (:class:`NotPermitted` when only the role is wrong).
    """
    act = _parse(action, ACTIONS, "action")
    who = _parse(role, ROLES, "role")
    parsed = _parse_args(act, args)
    rule = _matching_rule(state, act, who)
    if rule is None:
        _refuse(state, act, who)
    return _apply(state, rule, who, parsed)


def _parties(role: Role, level: Level) -> frozenset[Party]:
    """How ``role`` relates to a request owned at ``level``."""
    relations: list[tuple[Party, bool]] = [
        ("owner", OWNER_ROLE[level] == role),
        ("supervisor", role in SUPERVISORS[level]),
        ("reviewer", role in REVIEWERS[level]),
        ("resident", role == "resident"),
        ("system", role == "system"),
        ("verifier", role == "verifier"),
        ("cohandler", role == "co_department" and level == "department"),
        ("cohandler", role == "helper" and level == "community"),
    ]
    return frozenset(party for party, holds in relations if holds)


def _possible_rules(state: RequestState, action: Action) -> list[Rule]:
    return [
        rule
        for rule in RULES
        if rule.action == action and state.state in rule.sources and state.level in rule.levels
    ]


def _matching_rule(state: RequestState, action: Action, role: Role) -> Rule | None:
    parties = _parties(role, state.level)
    return next((r for r in _possible_rules(state, action) if r.parties & parties), None)


def _refuse(state: RequestState, action: Action, role: Role) -> NoReturn:
    possible = _possible_rules(state, action)
    if not possible:
        raise IllegalTransition(state, action, role, "not possible from this state and level")
    parties = sorted({party for rule in possible for party in rule.parties})
    raise NotPermitted(state, action, role, f"only the {' or '.join(parties)} may")


def _apply(state: RequestState, rule: Rule, role: Role, args: Mapping[str, object]) -> Transition:
    rating = cast("Rating | None", args.get("rating"))
    if rule.target == "unchanged":
        target: State = state.state
    elif rule.target == "by_rating":
        assert rating is not None  # ACTION_ARGS makes "rate" carry one
        target = RATING_TARGET[rating]
    elif rule.target == "by_answer":
        target = ANSWER_TARGET[cast("Resolved", args["resolved"])]
    else:
        target = rule.target
    level = LEVELS[LEVELS.index(state.level) + LEVEL_STEP.get(rule.action, 0)]
    reopens = state.state == "completed" and target == "handling"
    duplicate_of = cast("int | str | None", args.get("original_id"))
    after = replace(
        state,
        state=target,
        level=level,
        reopen_count=state.reopen_count + reopens,
        rating=rating if rating is not None else state.rating,
        duplicate_of=duplicate_of if duplicate_of is not None else state.duplicate_of,
    )
    new_owner = level if rule.action in {"escalate", "return", "reassign"} else None
    # A clock restarts whenever the stage changes or the request changes hands.
    restarts = after.stage != state.stage or new_owner is not None
    resolved, channel = _answer_record(rule.action, role, target, args)
    return Transition(
        action=rule.action,
        role=role,
        before=state,
        after=after,
        new_owner_level=new_owner,
        deadline_starts=after.stage if restarts else None,
        rating=rating,
        reason=cast("str | None", args.get("reason")),
        text=cast("str | None", args.get("text")),
        duplicate_of=duplicate_of,
        resolved=resolved,
        channel=channel,
    )


def _answer_record(
    action: Action, role: Role, target: State, args: Mapping[str, object]
) -> tuple[Resolved | None, Channel | Literal["resident"] | None]:
    """The 回访 record of an answer: a callback's own; a rating maps into it (resolved unless
    it reopens the request; the resident's own answer, or a leader's record of it)."""
    if action == "callback":
        return cast("Resolved", args["resolved"]), cast("Channel", args["channel"])
    if action == "rate":
        resolved: Resolved = "unresolved" if target == "handling" else "resolved"
        return resolved, "resident" if role == "resident" else None
    return None, None


_T = TypeVar("_T", bound=str)


def _parse(value: object, allowed: tuple[_T, ...], what: str) -> _T:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _parse_args(action: Action, args: Mapping[str, object]) -> dict[str, object]:
    expected = ACTION_ARGS.get(action, ())
    unexpected = sorted(set(args) - set(expected))
    if unexpected:
        raise ValueError(f"{action!r} takes no argument {', '.join(map(repr, unexpected))}")
    missing = [name for name in expected if name not in args]
    if missing:
        raise ValueError(f"{action!r} requires {', '.join(map(repr, missing))}")
    return {name: _ARG_PARSERS[name](args[name]) for name in expected}


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-blank string; got {value!r}")
    return value.strip()


def _original_id(value: object) -> int | str:
    # bool is an int to Python, but True is no request id.
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"original_id must be positive; got {value!r}")
        return value
    if isinstance(value, str):
        return _text(value, "original_id")
    raise ValueError(f"original_id must be a positive int or a non-blank string; got {value!r}")


_ARG_PARSERS: Final[Mapping[str, Callable[[object], object]]] = {
    "rating": lambda value: _parse(value, RATINGS, "rating"),
    "reason": lambda value: _text(value, "reason"),
    "text": lambda value: _text(value, "text"),
    "original_id": _original_id,
    "resolved": lambda value: _parse(value, RESOLVED_ANSWERS, "resolved"),
    "channel": lambda value: _parse(value, CHANNELS, "channel"),
    "urgency": lambda value: _parse(value, URGENCIES, "urgency"),
}
