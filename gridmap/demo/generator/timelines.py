"""Each request's life: the closed loop of :mod:`gridmap.requests.lifecycle`, drawn step by step.

**Life.** Intake routes a request with :func:`gridmap.requests.service.route`'s own rule
(:func:`~gridmap.requests.service.climb`: from the category's level, climbing while a level
has nobody: grid worker, zone leader, chief, street), with today's staff read once (:mod:`.city`).
Its timeline is the closed loop of :mod:`gridmap.requests.lifecycle`, every step a legal
transition by the right role (:data:`STEPS` takes each state after a step from
:func:`gridmap.requests.lifecycle.transition`): report → accept → start → complete → rate →
archive. Delays are drawn in the stage's time (working time, or elapsed time for a
clock-time stage such as flooding's response) as fractions of the stage's limit — responses
lognormal with median 0.3 of the limit, handling 0.4, each owner faster or slower by a
personal factor, a few stuck for weeks — so about a tenth of responses and of completions
are late. 3–4 % of the requests of a grid level are escalated one level before they are
accepted, and the street summons the department (街乡吹哨) for a quarter of its utility,
flooding, debris and billboard requests. 85 % of residents answer within the feedback window
(about 76 % satisfied, 16 % basically, 8 % unsatisfied, more often after a late completion);
an unanswered request is archived by the scheduler when its feedback deadline passes. An
unsatisfied answer reopens the request, which is completed again; 70 % of those residents
answer again (satisfied now), the rest stay unsatisfied and unanswered. A quarter of the
answers are 回访 (``callback``) by the street's verifier (核查回访员) on the phone, recorded
"unresolved" when the resident is unsatisfied, and the rest the resident's own rating
(``rate``); both carry the same answer record (:func:`gridmap.requests.lifecycle.transition`'s
``resolved`` and ``channel``). Duplicates are marked by their owner.

Every step after ``end`` is cut: requests of the last days and weeks are open in every state,
some past their stage deadline. The rows carry the state, level, owner, rating,
``reopen_count``, ``revision``, ``updated_at``, ``stage_started_at`` and ``stage_deadline`` of
their last step, ``due_at`` as :func:`gridmap.requests.service.due_at_many` fixes it, and the
events the ``detail`` (owner, ``deadline``, rating…) that :mod:`gridmap.requests.rates` reads.

**Deadlines** are those :func:`gridmap.requests.deadlines.add_time` computes for the same
start and limit (clock or working time, as the category's stage says): they come from its
array twin, one :class:`gridmap.requests.deadlines.WorkingTimeTable` of the span (and a year
past it) rather than one call per request, which also measures the delays in working time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from gridmap.demo.generator.draw import Drawn
from gridmap.demo.generator.model import (
    CATEGORY_MODELS,
    ESCALATION,
    LEVELS,
    NEVER,
    SOURCE_SHARES,
    SOURCES,
    Bools,
    Floats,
    Ints,
)
from gridmap.demo.generator.world import Owners, World
from gridmap.requests import deadlines, lifecycle, service

#: Canonical roles of the lifecycle's reviewers at each level: the first of
#: ``gridmap.requests.lifecycle.REVIEWERS`` in the order of its roles.
_REVIEWER: Final = {
    level: next(role for role in lifecycle.ROLES if role in lifecycle.REVIEWERS[level])
    for level in LEVELS
}


@dataclass(frozen=True)
class Step:
    """A step a generated timeline may hold: the action, and the states before and after."""

    action: str
    before: str | None
    after: str


def _step(action: lifecycle.Action, before: lifecycle.State, role: str, **args: object) -> Step:
    """The step as :func:`gridmap.requests.lifecycle.transition` takes it (at the micro level,
    by ``role``): its state after is the rule table's."""
    move = lifecycle.transition(lifecycle.RequestState(state=before), action, role, **args)
    return Step(action, before, move.after.state)


_OWNER = lifecycle.OWNER_ROLE["micro"]
#: The steps a generated timeline may hold, in the order they happen.
STEPS: Final[tuple[Step, ...]] = (
    Step("report", None, lifecycle.new_request().state),
    _step("escalate", "reported", _OWNER, reason="escalated"),
    _step("mark_duplicate", "reported", _OWNER, original_id=1),
    _step("accept", "reported", _OWNER),
    _step("start", "accepted", _OWNER),
    _step("complete", "handling", _OWNER),
    _step("rate", "completed", "resident", rating="satisfied"),  # or basically satisfied
    _step("rate", "completed", "resident", rating="unsatisfied"),  # reopened
    _step("complete", "handling", _OWNER),  # again
    _step("rate", "completed", "resident", rating="satisfied"),  # after the reopening
    _step("archive", "feedback", _REVIEWER["micro"]),
    _step("archive", "completed", "system"),  # unanswered: the scheduler
)
(
    REPORT,
    ESCALATE,
    DUPLICATE,
    ACCEPT,
    START,
    COMPLETE,
    RATE,
    REOPEN,
    COMPLETE_AGAIN,
    RATE_AGAIN,
    ARCHIVE,
    ARCHIVE_UNRATED,
) = range(len(STEPS))
ACTORS: Final = (
    "synth:12345",
    "synth:app",
    "synth:page",
    *(f"synth:{role}" for role in lifecycle.OWNER_ROLE.values()),
    "synth:resident",
    "synth:system",
    "synth:verifier",
)
#: The actor whose answer steps are 回访 (``callback``) rather than a resident's ``rate``.
VERIFIER: Final = len(ACTORS)
_ACTOR: Final = {name.removeprefix("synth:"): i + 1 for i, name in enumerate(ACTORS)}
STATES: Final = lifecycle.STATES
RATINGS: Final = lifecycle.RATINGS


@dataclass
class Timeline:
    """One block's timelines: when each step happens (NEVER: not taken, or after the end)
    and what the rows and events record."""

    at: Ints  # (steps, requests)
    routed: Owners
    owner: Owners  # after an escalation, if any
    started: Ints
    deadline: Ints
    step_deadline: Ints  # (steps, requests): the deadline an event records
    rating: Ints  # (steps, requests): 1-based rating an event records, 0 none
    actor: Ints  # (steps, requests)
    source: Ints
    reason: Ints
    last: Ints
    row_rating: Ints
    due: Ints


def _span_of(
    clock: deadlines.WorkingTimeTable, start: Ints, deadline: Ints, clocked: Bools
) -> Ints:
    """The time a stage allows, elapsed for a clock-time stage and working otherwise (a
    working day when it has no limit)."""
    allowed = np.where(clocked, deadline - start, clock.between(start, deadline))
    span = np.where(deadline < NEVER, allowed, 7 * 3600)
    return np.maximum(span, 600)


def _after(
    clock: deadlines.WorkingTimeTable, t: Ints, seconds: Ints | Floats, clocked: Bools
) -> Ints:
    """``seconds`` after ``t`` in the stage's time: elapsed for a clock-time stage (so that a
    flooding report on a Saturday night is answered that night), working otherwise."""
    elapsed = t + np.rint(seconds).astype(np.int64)
    return np.where(clocked & (t < NEVER), elapsed, clock.after(t, seconds))


def _limit(world: World, stage: str, category: Ints) -> tuple[Ints, Ints, Ints]:
    """The stage's time limit of each request's category: amounts, unit and basis codes."""
    amount, unit, basis = world.city.limits[stage]
    return amount[category], unit[category], basis[category]


def _clocked(world: World, stage: str, category: Ints) -> Bools:
    """Whether each request's stage counts clock time."""
    clocked: Bools = world.city.limits[stage][2][category] == deadlines.BASIS_CODES["clock"]
    return clocked


def _intake(world: World, rng: np.random.Generator, d: Drawn) -> tuple[Owners, Owners, Bools]:
    """Routed owners, owners after an escalation, and which requests are escalated."""
    levels = np.array(
        [service.CLIMB.index(service.first_level(lv)) for lv in world.city.category_level]
    )
    routed = world.routed_owners.pick(d.micro, levels[d.category])
    summons = np.array([m.department is not None for m in CATEGORY_MODELS])
    chance = np.array([ESCALATION[LEVELS[i]] for i in range(4)])[np.minimum(routed.level, 3)]
    chance = np.where((routed.level == 3) & ~summons[d.category], 0.0, chance)
    chance = np.where(routed.level >= 4, 0.0, chance)
    escalated = (rng.random(d.created.size) < chance) & (d.original < 0)
    up = np.minimum(routed.level + 1, 3)
    above = world.exact_owners.pick(d.micro, up)
    department = routed.level + 1 == 4
    summoned = Owners(
        np.full(up.size, 4),
        np.zeros(up.size, dtype=np.int64),
        np.zeros(up.size, dtype=np.int64),
        world.department_of[d.category],
        world.summoned[0][world.department_of[d.category]],
        world.summoned[1][world.department_of[d.category]],
    )
    return routed, summoned.where(department, above), escalated


def _slowness_of(world: World, owner: Owners) -> Floats:
    s = world.slowness
    return np.select(
        [owner.person > 0, owner.user > 0, owner.department > 0],
        [
            s["person"][owner.person],
            s["user"][owner.user],
            s["department"][owner.department % s["department"].size],
        ],
        1.5,  # nobody on duty at the level: its scope gets round to it late
    )


def live(world: World, rng: np.random.Generator, d: Drawn) -> Timeline:
    """Every request's timeline up to the end of the span."""
    clock, n, cat = world.clock, d.created.size, d.category
    at = np.full((len(STEPS), n), NEVER, dtype=np.int64)
    step_deadline = np.full((len(STEPS), n), NEVER, dtype=np.int64)
    rating = np.zeros((len(STEPS), n), dtype=np.int64)
    routed, above, escalated = _intake(world, rng, d)
    owner = above.where(escalated, routed)
    at[REPORT] = d.created
    first_deadline = clock.add_working_time(d.created, *_limit(world, "response", cat))
    rc = _clocked(world, "response", cat)
    moved = _after(
        clock,
        d.created,
        _span_of(clock, d.created, first_deadline, rc) * rng.uniform(0.1, 0.6, n),
        rc,
    )
    at[ESCALATE] = np.where(escalated, moved, NEVER)
    opened = np.where(escalated, moved, d.created)
    step_deadline[ESCALATE] = clock.add_working_time(at[ESCALATE], *_limit(world, "response", cat))
    response_deadline = np.where(escalated, step_deadline[ESCALATE], first_deadline)
    response = _span_of(clock, opened, response_deadline, rc)
    duplicate = d.original >= 0
    marked = _after(clock, opened, response * rng.uniform(0.05, 0.7, n), rc)
    at[DUPLICATE] = np.where(duplicate, marked, NEVER)
    slow = _slowness_of(world, owner) * np.where(rng.random(n) < 0.004, 15.0, 1.0)
    pace = rng.lognormal(np.log(0.3), 0.85, n) * slow
    accepted = _after(clock, opened, np.maximum(pace * response, 60), rc)
    at[ACCEPT] = np.where(duplicate, NEVER, accepted)
    _handle(world, rng, cat, slow, at, step_deadline)
    reopened = _answer(
        world, rng, cat, at, step_deadline, rating, late=at[ACCEPT] > response_deadline
    )
    _reopen(world, rng, cat, slow, at, step_deadline, rating, reopened)
    at[at > world.span.end] = NEVER
    return _settle(world, rng, d, at, step_deadline, rating, routed, owner, first_deadline)


def _handle(
    world: World, rng: np.random.Generator, cat: Ints, slow: Floats, at: Ints, step_deadline: Ints
) -> None:
    """处置: start soon after accepting, complete within (mostly) the handling limit."""
    clock, n = world.clock, cat.size
    accepted = at[ACCEPT]
    step_deadline[ACCEPT] = clock.add_working_time(accepted, *_limit(world, "handling", cat))
    hc = _clocked(world, "handling", cat)
    handling = _span_of(clock, accepted, step_deadline[ACCEPT], hc)
    at[START] = _after(clock, accepted, np.maximum(rng.exponential(0.08, n) * handling, 30), hc)
    pace = rng.lognormal(np.log(0.4), 0.7, n) * slow
    at[COMPLETE] = _after(clock, at[START], np.maximum(pace * handling, 900), hc)
    step_deadline[COMPLETE] = clock.add_working_time(at[COMPLETE], *_limit(world, "feedback", cat))


def _answer(
    world: World,
    rng: np.random.Generator,
    cat: Ints,
    at: Ints,
    step_deadline: Ints,
    rating: Ints,
    *,
    late: Bools,
) -> Bools:
    """反馈: the resident's answer, or the scheduler's archive when none comes in the
    feedback window; returns which requests an unsatisfied resident reopens."""
    clock, n = world.clock, cat.size
    completed, feedback_deadline = at[COMPLETE], step_deadline[COMPLETE]
    late_handling = completed > step_deadline[ACCEPT]
    answered = (rng.random(n) < 0.85) | (feedback_deadline >= NEVER)
    unsatisfied = 0.06 + 0.15 * late_handling + 0.05 * late
    u = rng.random(n)
    first = np.where(u < unsatisfied, 3, np.where(u < unsatisfied + 0.16, 2, 1))
    fc = _clocked(world, "feedback", cat)
    window = _span_of(clock, completed, feedback_deadline, fc)
    when = _after(clock, completed, window * _answer_share(rng, n), fc)
    reopened: Bools = answered & (first == 3)
    at[RATE] = np.where(answered & ~reopened, when, NEVER)
    at[REOPEN] = np.where(reopened, when, NEVER)
    rating[RATE], rating[REOPEN] = first, 3
    scheduler = feedback_deadline + rng.integers(60, 900, n)
    at[ARCHIVE_UNRATED] = np.where(~answered & (completed < NEVER), scheduler, NEVER)
    return reopened


def _reopen(
    world: World,
    rng: np.random.Generator,
    cat: Ints,
    slow: Floats,
    at: Ints,
    step_deadline: Ints,
    rating: Ints,
    reopened: Bools,
) -> None:
    """Reopened: handled and completed again, then answered again (satisfied now) or not
    (the scheduler archives it, unsatisfied); an answered request is archived."""
    clock, n = world.clock, cat.size
    step_deadline[REOPEN] = clock.add_working_time(at[REOPEN], *_limit(world, "handling", cat))
    hc, fc = _clocked(world, "handling", cat), _clocked(world, "feedback", cat)
    again = _span_of(clock, at[REOPEN], step_deadline[REOPEN], hc)
    pace = np.maximum(rng.lognormal(np.log(0.35), 0.5, n) * slow * again, 60)
    at[COMPLETE_AGAIN] = _after(clock, at[REOPEN], pace, hc)
    second = clock.add_working_time(at[COMPLETE_AGAIN], *_limit(world, "feedback", cat))
    step_deadline[COMPLETE_AGAIN] = second
    answered = (rng.random(n) < 0.7) | (second >= NEVER)
    window = _span_of(clock, at[COMPLETE_AGAIN], second, fc)
    answer = _after(clock, at[COMPLETE_AGAIN], window * _answer_share(rng, n), fc)
    at[RATE_AGAIN] = np.where(answered, answer, NEVER)
    rating[RATE_AGAIN] = np.where(rng.random(n) < 0.65, 1, 2)
    unanswered = reopened & ~answered & (at[COMPLETE_AGAIN] < NEVER)
    scheduler = second + rng.integers(60, 900, n)
    at[ARCHIVE_UNRATED] = np.where(unanswered, scheduler, at[ARCHIVE_UNRATED])
    last_answer = np.where(reopened, at[RATE_AGAIN], at[RATE])
    at[ARCHIVE] = clock.after(last_answer, rng.exponential(2.5 * 3600, n) + 120)


def _answer_share(rng: np.random.Generator, n: int) -> Floats:
    """When residents answer, as a share of the feedback window: most of them early."""
    return 0.02 + 0.9 * rng.random(n) ** 2


def _settle(
    world: World,
    rng: np.random.Generator,
    d: Drawn,
    at: Ints,
    step_deadline: Ints,
    rating: Ints,
    routed: Owners,
    owner: Owners,
    first_deadline: Ints,
) -> Timeline:
    """The row's state from its last step: stage clock, rating, owner."""
    n = d.created.size
    present = at < NEVER
    last = (len(STEPS) - 1 - np.argmax(present[::-1], axis=0)).astype(np.int64)
    reopened = present[REOPEN]
    columns = np.arange(n)
    # When the clock of the state after each step started (a step that keeps it: unchanged).
    clock_start = at.copy()
    clock_start[DUPLICATE] = np.where(present[ESCALATE], at[ESCALATE], at[REPORT])
    clock_start[START] = at[ACCEPT]
    clock_start[RATE] = at[COMPLETE]
    clock_start[RATE_AGAIN] = at[COMPLETE_AGAIN]
    clock_start[ARCHIVE] = np.where(reopened, at[COMPLETE_AGAIN], at[COMPLETE])
    clock_start[ARCHIVE_UNRATED] = np.where(reopened, at[COMPLETE_AGAIN], at[COMPLETE])
    running = step_deadline.copy()
    running[REPORT] = first_deadline
    running[START] = step_deadline[ACCEPT]
    for stopped in (DUPLICATE, RATE, RATE_AGAIN, ARCHIVE, ARCHIVE_UNRATED):
        running[stopped] = NEVER
    kept = rating.copy()
    kept[COMPLETE_AGAIN] = 3
    kept[ARCHIVE] = np.where(reopened, rating[RATE_AGAIN], rating[RATE])
    kept[ARCHIVE_UNRATED] = np.where(reopened, 3, 0)  # the rating is kept when it reopens
    now = owner.where(present[ESCALATE], routed)
    source = rng.choice(len(SOURCES), size=n, p=SOURCE_SHARES) + 1
    # The deadline of the last response stage opened: escalating restarts it.
    response = np.where(present[ESCALATE], step_deadline[ESCALATE], first_deadline)
    due = service.due_at_many(at[REPORT], response, at[ACCEPT], step_deadline[ACCEPT])
    return Timeline(
        at=at,
        routed=routed,
        owner=now,
        started=clock_start[last, columns],
        deadline=running[last, columns],
        step_deadline=step_deadline,
        rating=np.where(present, rating, 0),
        actor=_actors(world, rng, routed, now, source),
        source=source,
        reason=np.minimum(routed.level, 3) + 1,
        last=last,
        row_rating=kept[last, columns],
        due=due,
    )


def _actors(
    world: World, rng: np.random.Generator, routed: Owners, now: Owners, source: Ints
) -> Ints:
    """Who takes each step (1-based into the actors): the owner handles, a resident rates or
    a verifier calls back, a reviewer or the scheduler archives (``gridmap.requests.lifecycle``'s
    parties)."""
    n = source.size
    owner_role = np.array([_ACTOR[lifecycle.OWNER_ROLE[level]] for level in LEVELS])
    reviewer = np.array([_ACTOR[_REVIEWER[level]] for level in LEVELS])
    actor = np.zeros((len(STEPS), n), dtype=np.int64)
    actor[REPORT] = source  # the first actors are the channels, in source order
    actor[ESCALATE] = owner_role[routed.level]
    for step in (DUPLICATE, ACCEPT, START, COMPLETE, COMPLETE_AGAIN):
        actor[step] = owner_role[now.level]
    for step in (RATE, REOPEN, RATE_AGAIN):
        actor[step] = np.where(rng.random(n) < 0.75, _ACTOR["resident"], _ACTOR["verifier"])
    actor[ARCHIVE] = reviewer[now.level]
    actor[ARCHIVE_UNRATED] = _ACTOR["system"]
    return actor
