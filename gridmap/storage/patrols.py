"""Queries of the patrol aggregate: work lists, patrols, their fixes and check-ins, the
households each patrol reached (``patrol_reach``); the obligations of the 3+N lists are
:mod:`gridmap.storage.duties`.

Coverage by patrols is computed in PostGIS (:func:`refresh_reach`): a household is reached
by a check-in there, or when the cleaned track passes within ``metres`` of it. The track is
cut into chunks of ``CHUNK_VERTICES`` vertices, so that each chunk searches the household
GiST index with a small box (a whole two-hour walk's box would hold its whole neighbourhood),
and the candidates are measured on the spheroid (geography) against the chunk; the time of
the pass is interpolated from the track's M (UNIX time) at the closest point.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from geoalchemy2.functions import ST_X, ST_Y, ST_AsGeoJSON
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Select,
    and_,
    any_,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from gridmap.access.auth import Scope
from gridmap.storage.models import (
    SRID,
    WORK_LIST_KINDS,
    Assignment,
    Grid,
    Household,
    Patrol,
    PatrolCheckIn,
    PatrolPoint,
    PatrolReach,
    Person,
    User,
    WorkList,
)
from gridmap.storage.scoping import grid_visible, household_visible, person_visible
from gridmap.storage.sql import as_array

#: Vertices per chunk of a track when searching households near it: 16 fixes at 5 s are
#: about 100 m of walking, a box the household index answers with a handful of candidates.
CHUNK_VERTICES = 16
#: Length (characters) of the grid codes at each level.
CODE_LENGTH = {"community": 12, "zone": 14, "micro": 17}

#: A patrol as the API shows it: id, person_id, person_name, user_id, source, source_crs,
#: started_at, ended_at, track_report, list_code, list_name, list_kind, grid_code, grid_name,
#: length_m.
PatrolRow = Row[
    int,
    int,
    str,
    int,
    str,
    str,
    dt.datetime,
    dt.datetime | None,
    dict[str, object],
    str,
    str,
    str,
    str | None,
    str | None,
    float,
]
#: A ``PatrolRow`` followed by its simplified track as GeoJSON text (None without a track).
PatrolFeatureRow = Row[
    int,
    int,
    str,
    int,
    str,
    str,
    dt.datetime,
    dt.datetime | None,
    dict[str, object],
    str,
    str,
    str,
    str | None,
    str | None,
    float,
    str | None,
]
#: A live patrol's fix: seq, seconds (UNIX time, numeric), lon, lat.
FixRow = Row[int, Decimal, float, float]
#: A vertex of a stored track: part (1-based), lon, lat, seconds (UNIX time, the M value).
VertexRow = Row[int, float, float, float]
#: A check-in: id, household_id, at, note, photo, distance_m, lon, lat.
CheckInRow = Row[int, int, dt.datetime, str | None, str | None, float | None, float, float]
#: A household a patrol reached: household_id, how, at, distance_m, address, lon, lat.
ReachRow = Row[int, str, dt.datetime, float | None, str, float, float]
#: A patrol that reached a household: patrol_id, how, at, distance_m, person_id, person_name,
#: list_code, list_name, list_kind, note (of the first check-in there).
VisitRow = Row[int, str, dt.datetime, float | None, int, str, str, str, str, str | None]

_RECHECK_IN_SQL = text(
    """
    INSERT INTO patrol_reach (patrol_id, household_id, how, at, distance_m)
    SELECT DISTINCT ON (c.patrol_id, c.household_id)
           c.patrol_id, c.household_id, 'check_in', c.at, c.distance_m
      FROM patrol_check_in c
     WHERE c.patrol_id = ANY(:ids)
     ORDER BY c.patrol_id, c.household_id, c.at
    """
)

_PASS_BY_SQL = text(
    """
    WITH vertex AS (
      SELECT p.id AS patrol_id, d.path[1] AS part, d.path[2] AS i, d.geom
        FROM patrol p, ST_DumpPoints(p.track) AS d
       WHERE p.id = ANY(:ids) AND p.track IS NOT NULL
    ), chunk AS (
      -- vertex i closes chunk (i-1)/step - 1 and opens chunk (i-1)/step: chunks share ends
      SELECT v.patrol_id, v.part, c.n, ST_MakeLine(v.geom ORDER BY v.i) AS line
        FROM vertex v
       CROSS JOIN LATERAL unnest(ARRAY[
               (v.i - 1) / :step,
               CASE WHEN v.i > 1 AND (v.i - 1) % :step = 0 THEN (v.i - 1) / :step - 1 END
             ]) AS c(n)
       WHERE c.n IS NOT NULL
       GROUP BY v.patrol_id, v.part, c.n
      HAVING count(*) > 1
    ), near AS (
      SELECT ch.patrol_id, h.id AS household_id, ch.line, h.geom,
             ST_Distance(ch.line::geography, h.geom::geography) AS distance_m
        FROM chunk ch
        JOIN household h
          ON h.geom && ST_Expand(
               ch.line,
               :metres * 1.01 / (111320.0 * cos(radians(greatest(abs(ST_YMin(ch.line)),
                                                              abs(ST_YMax(ch.line)))))),
               :metres * 1.01 / 110574.0)
         AND ST_DWithin(ch.line::geography, h.geom::geography, :metres)
    )
    INSERT INTO patrol_reach (patrol_id, household_id, how, at, distance_m)
    SELECT DISTINCT ON (patrol_id, household_id)
           patrol_id, household_id, 'pass_by',
           to_timestamp(ST_InterpolatePoint(line, geom)), distance_m
      FROM near
     ORDER BY patrol_id, household_id, distance_m
        ON CONFLICT (patrol_id, household_id) DO NOTHING
    """
)

_VERTICES_SQL = text(
    """
    SELECT d.path[1] AS part, ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat, ST_M(d.geom) AS seconds
      FROM patrol p, ST_DumpPoints(p.track) AS d
     WHERE p.id = :id
     ORDER BY d.path
    """
)


# ----------------------------------------------------------------------------- work lists


def active_work_lists(session: Session, on: dt.date, code: str | None = None) -> list[WorkList]:
    """The work lists valid on ``on`` (all of them, or the one with ``code``), by kind."""
    stmt = select(WorkList).where(
        WorkList.valid_from <= on, or_(WorkList.valid_to.is_(None), WorkList.valid_to >= on)
    )
    if code is not None:
        stmt = stmt.where(WorkList.code == code)
    order = case({k: i for i, k in enumerate(WORK_LIST_KINDS)}, value=WorkList.kind)
    return list(session.scalars(stmt.order_by(order, WorkList.code)))


def work_list(session: Session, code: str) -> WorkList | None:
    return session.scalar(select(WorkList).where(WorkList.code == code))


def add_work_list(session: Session, values: dict[str, Any]) -> bool:
    """Add a work list unless its code exists; True when added."""
    stmt = (
        pg_insert(WorkList)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(WorkList.id)
    )
    return session.execute(stmt).first() is not None


# --------------------------------------------------------------------------- people, grids


def person_of_user(session: Session, user_id: int) -> int | None:
    return session.scalar(select(User.person_id).where(User.id == user_id))


def visible_person(session: Session, person_id: int, scope: Scope) -> Row[int, str] | None:
    """Id and name of a person in ``scope`` (staffing or covering something visible)."""
    stmt = select(Person.id, Person.name).where(
        Person.id == person_id, person_visible(scope, Person.id)
    )
    return session.execute(stmt).first()


def visible_grid(session: Session, code: str, scope: Scope) -> Row[int, str, str] | None:
    """The current grid with ``code`` in ``scope``: id, code, level."""
    stmt = select(Grid.id, Grid.code, Grid.level).where(
        Grid.code == code, Grid.valid_to.is_(None), grid_visible(scope)
    )
    return session.execute(stmt).first()


def post_grid(session: Session, person_id: int, level: str, on: dt.date) -> int | None:
    """The current grid at ``level`` where the person holds a post on ``on`` (the first by
    code), or None."""
    stmt = (
        select(Grid.id)
        .join(Assignment, Assignment.grid_id == Grid.id)
        .where(Assignment.person_id == person_id, post_active(on), Grid.level == level)
        .where(Grid.valid_to.is_(None))
        .order_by(Grid.code)
        .limit(1)
    )
    return session.scalar(stmt)


def post_active(on: dt.date) -> ColumnElement[bool]:
    """An assignment (a post) held on ``on``."""
    return and_(
        Assignment.start_date <= on, or_(Assignment.end_date.is_(None), Assignment.end_date > on)
    )


def household_point(
    session: Session, household_id: int, scope: Scope
) -> Row[int, float, float] | None:
    """A household in ``scope``: id, lon, lat."""
    stmt = select(Household.id, ST_X(Household.geom).label("lon"), ST_Y(Household.geom)).where(
        Household.id == household_id, household_visible(scope)
    )
    return session.execute(stmt).first()


# ---------------------------------------------------------------------------- patrols


def patrol_visible(scope: Scope, patrol: Any = Patrol) -> ColumnElement[bool]:
    """Patrols of a grid in the scope's subtrees, the scope person's own, and those that
    reached a household the scope sees."""
    conditions: list[ColumnElement[bool]] = []
    if scope.prefixes:
        grid = aliased(Grid)
        in_subtree = select(grid.id).where(
            or_(*[grid.code.startswith(p, autoescape=True) for p in scope.prefixes])
        )
        conditions.append(patrol.grid_id.in_(in_subtree))
    if scope.person_id is not None:
        conditions.append(patrol.person_id == scope.person_id)
    if conditions:
        reach, house = aliased(PatrolReach), aliased(Household)
        conditions.append(
            exists().where(
                reach.patrol_id == patrol.id,
                house.id == reach.household_id,
                household_visible(scope, house),
            )
        )
    return or_(*conditions) if conditions else false()


def insert_patrol(session: Session, values: dict[str, Any]) -> int:
    stmt = insert(Patrol).values(**values).returning(Patrol.id)
    return int(session.execute(stmt).scalar_one())


def open_patrol_of(session: Session, person_id: int) -> int | None:
    """The person's patrol that has not ended, if any."""
    return session.scalar(
        select(Patrol.id).where(Patrol.person_id == person_id, Patrol.ended_at.is_(None))
    )


def same_upload(
    session: Session, person_id: int, started_at: dt.datetime, ended_at: dt.datetime
) -> int | None:
    """An uploaded patrol of the person with exactly these times (the same file again)."""
    stmt = select(Patrol.id).where(
        Patrol.person_id == person_id,
        Patrol.source == "upload",
        Patrol.started_at == started_at,
        Patrol.ended_at == ended_at,
    )
    return session.scalar(stmt.limit(1))


def lock_own_patrol(session: Session, patrol_id: int, user_id: int) -> Patrol | None:
    """The patrol if ``user_id`` recorded it, locked until the transaction ends."""
    stmt = select(Patrol).where(Patrol.id == patrol_id, Patrol.user_id == user_id).with_for_update()
    return session.scalar(stmt)


def is_visible(session: Session, patrol_id: int, scope: Scope) -> bool:
    stmt = select(Patrol.id).where(Patrol.id == patrol_id, patrol_visible(scope))
    return session.scalar(stmt) is not None


def add_points(
    session: Session, patrol_id: int, started_at: dt.datetime, fixes: list[dict[str, Any]]
) -> int:
    """Store fixes (``seq``, ``at``, ``lon``, ``lat``, ``accuracy_m``; EPSG:4490) of the patrol
    that began at ``started_at`` (the fixes' partition key), skipping sequence numbers
    already stored; returns how many were new."""
    if not fixes:
        return 0
    rows = [
        {
            "patrol_id": patrol_id,
            "patrol_started_at": started_at,
            "seq": f["seq"],
            "at": f["at"],
            "geom": f"SRID={SRID};POINT({f['lon']!r} {f['lat']!r})",
            "accuracy_m": f.get("accuracy_m"),
        }
        for f in fixes
    ]
    stmt = (
        pg_insert(PatrolPoint)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["patrol_id", "seq", "patrol_started_at"])
        .returning(PatrolPoint.seq)
    )
    return len(session.execute(stmt).all())


def _fixes_of(patrol_id: int, started_at: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """A patrol's fixes: its start names their one month partition."""
    return (PatrolPoint.patrol_id == patrol_id, PatrolPoint.patrol_started_at == started_at)


def points_of(session: Session, patrol_id: int, started_at: dt.datetime) -> list[FixRow]:
    """A live patrol's fixes in the phone's order: seq, seconds (UNIX time), lon, lat."""
    stmt = (
        select(
            PatrolPoint.seq,
            func.extract("epoch", PatrolPoint.at).label("seconds"),
            ST_X(PatrolPoint.geom).label("lon"),
            ST_Y(PatrolPoint.geom).label("lat"),
        )
        .where(*_fixes_of(patrol_id, started_at))
        .order_by(PatrolPoint.seq)
    )
    return list(session.execute(stmt).all())


def point_count(session: Session, patrol_id: int, started_at: dt.datetime) -> int:
    stmt = select(func.count()).where(*_fixes_of(patrol_id, started_at))
    return int(session.scalar(stmt) or 0)


def finish_patrol(
    session: Session,
    patrol_id: int,
    *,
    ended_at: dt.datetime,
    track_wkb: bytes | None,
    report: dict[str, Any],
) -> None:
    """Close a patrol with its cleaned track (None: no usable track) and cleaning report."""
    track = None if track_wkb is None else func.ST_GeomFromWKB(track_wkb, SRID)
    session.execute(
        update(Patrol)
        .where(Patrol.id == patrol_id)
        .values(ended_at=ended_at, track=track, track_report=report)
    )


def best_post_grid(
    session: Session, person_id: int, level: str, on: dt.date, track_wkb: bytes
) -> int | None:
    """Of the person's post grids at ``level``, the one the track runs through longest."""
    track = func.ST_Force2D(func.ST_GeomFromWKB(track_wkb, SRID))
    inside = func.ST_Length(func.ST_Intersection(Grid.geom, track))
    stmt = (
        select(Grid.id)
        .join(Assignment, Assignment.grid_id == Grid.id)
        .where(Assignment.person_id == person_id, post_active(on), Grid.level == level)
        .where(Grid.valid_to.is_(None))
        .order_by(inside.desc(), Grid.code)
        .limit(1)
    )
    return session.scalar(stmt)


def add_check_in(
    session: Session, values: dict[str, Any], lon: float | None, lat: float | None
) -> Row[int, float | None]:
    """Store a check-in (at the phone's position, if given); returns id and distance_m, the
    distance from the household in metres."""
    house = select(Household.geom).where(Household.id == values["household_id"])
    point = None if lon is None else func.ST_Point(lon, lat, SRID)
    distance = (
        None
        if point is None
        else func.ST_Distance(func.geography(point), func.geography(house.scalar_subquery()))
    )
    stmt = (
        insert(PatrolCheckIn)
        .values(**values, geom=point, distance_m=distance)
        .returning(PatrolCheckIn.id, PatrolCheckIn.distance_m)
    )
    return session.execute(stmt).one()


def refresh_reach(session: Session, patrol_ids: list[int], metres: float) -> None:
    """Recompute the households the patrols reached: every check-in (the first at each
    household), then the households within ``metres`` of the track not checked in."""
    ids = as_array(patrol_ids, BigInteger)
    session.execute(delete(PatrolReach).where(PatrolReach.patrol_id == any_(ids)))
    session.execute(_RECHECK_IN_SQL, {"ids": list(patrol_ids)})
    session.execute(
        _PASS_BY_SQL, {"ids": list(patrol_ids), "metres": metres, "step": CHUNK_VERTICES - 1}
    )


def record_check_in_reach(
    session: Session, patrol_id: int, household_id: int, at: dt.datetime, distance: float | None
) -> None:
    """A check-in reaches its household at once (it wins over a pass-by; the earliest
    check-in is kept)."""
    stmt = pg_insert(PatrolReach).values(
        patrol_id=patrol_id, household_id=household_id, how="check_in", at=at, distance_m=distance
    )
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["patrol_id", "household_id"],
        set_={"how": "check_in", "at": excluded.at, "distance_m": excluded.distance_m},
        where=or_(PatrolReach.how != "check_in", excluded.at < PatrolReach.at),
    )
    session.execute(stmt)


# ------------------------------------------------------------------------------- reading


def _patrol_columns() -> tuple[Any, ...]:
    return (
        Patrol.id,
        Patrol.person_id,
        Person.name.label("person_name"),
        Patrol.user_id,
        Patrol.source,
        Patrol.source_crs,
        Patrol.started_at,
        Patrol.ended_at,
        Patrol.track_report,
        WorkList.code.label("list_code"),
        WorkList.name.label("list_name"),
        WorkList.kind.label("list_kind"),
        Grid.code.label("grid_code"),
        Grid.name.label("grid_name"),
        func.coalesce(func.ST_Length(func.geography(func.ST_Force2D(Patrol.track))), 0.0).label(
            "length_m"
        ),
    )


def _patrol_rows() -> Select[*tuple[Any, ...]]:
    return (
        select(*_patrol_columns())
        .join(Person, Person.id == Patrol.person_id)
        .join(WorkList, WorkList.id == Patrol.work_list_id)
        .outerjoin(Grid, Grid.id == Patrol.grid_id)
    )


def get_patrol(session: Session, patrol_id: int, scope: Scope) -> PatrolRow | None:
    stmt = _patrol_rows().where(Patrol.id == patrol_id, patrol_visible(scope))
    return session.execute(stmt).first()


def track_vertices(session: Session, patrol_id: int) -> list[VertexRow]:
    """The stored track's vertices: part (1-based), lon, lat, seconds (UNIX time)."""
    return list(session.execute(_VERTICES_SQL, {"id": patrol_id}).all())


def check_ins_of(session: Session, patrol_id: int, scope: Scope) -> list[CheckInRow]:
    """A patrol's check-ins at households in ``scope``, in time order."""
    stmt = (
        select(
            PatrolCheckIn.id,
            PatrolCheckIn.household_id,
            PatrolCheckIn.at,
            PatrolCheckIn.note,
            PatrolCheckIn.photo,
            PatrolCheckIn.distance_m,
            func.coalesce(ST_X(PatrolCheckIn.geom), ST_X(Household.geom)).label("lon"),
            func.coalesce(ST_Y(PatrolCheckIn.geom), ST_Y(Household.geom)).label("lat"),
        )
        .join(Household, Household.id == PatrolCheckIn.household_id)
        .where(PatrolCheckIn.patrol_id == patrol_id, household_visible(scope))
        .order_by(PatrolCheckIn.at, PatrolCheckIn.id)
    )
    return list(session.execute(stmt).all())


def reaches_of(session: Session, patrol_id: int, scope: Scope) -> list[ReachRow]:
    """The households in ``scope`` a patrol reached, in time order."""
    stmt = (
        select(
            PatrolReach.household_id,
            PatrolReach.how,
            PatrolReach.at,
            PatrolReach.distance_m,
            Household.address,
            ST_X(Household.geom).label("lon"),
            ST_Y(Household.geom).label("lat"),
        )
        .join(Household, Household.id == PatrolReach.household_id)
        .where(PatrolReach.patrol_id == patrol_id, household_visible(scope))
        .order_by(PatrolReach.at, PatrolReach.household_id)
    )
    return list(session.execute(stmt).all())


@dataclass(frozen=True)
class PatrolFilter:
    """What a list of patrols is limited to."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    person_id: int | None = None
    grid_code: str | None = None
    list_code: str | None = None


def list_patrols(
    session: Session, wanted: PatrolFilter, scope: Scope, *, limit: int, before_id: int | None
) -> tuple[list[PatrolFeatureRow], int | None]:
    """Patrols in ``scope``, newest first (keyset paging on the id), each with its track
    simplified to 2 m for a map layer."""
    simple = ST_AsGeoJSON(
        func.ST_Multi(func.ST_SimplifyPreserveTopology(func.ST_Force2D(Patrol.track), 0.00002)),
        7,
        0,
    )
    stmt = _patrol_rows().add_columns(simple.label("geojson")).where(patrol_visible(scope))
    if wanted.since is not None:
        stmt = stmt.where(Patrol.started_at >= wanted.since)
    if wanted.until is not None:
        stmt = stmt.where(Patrol.started_at < wanted.until)
    if wanted.person_id is not None:
        stmt = stmt.where(Patrol.person_id == wanted.person_id)
    if wanted.grid_code:
        stmt = stmt.where(Grid.code.startswith(wanted.grid_code, autoescape=True))
    if wanted.list_code:
        stmt = stmt.where(WorkList.code == wanted.list_code)
    if before_id is not None:
        stmt = stmt.where(Patrol.id < before_id)
    rows = list(session.execute(stmt.order_by(Patrol.id.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def household_visits(
    session: Session, household_id: int, scope: Scope, limit: int
) -> list[VisitRow] | None:
    """The last patrols and visits that reached a household in ``scope``, newest first:
    who, when, how (check-in or pass-by), how far, the check-in's note; None when the
    household is not visible."""
    visible = select(Household.id).where(Household.id == household_id, household_visible(scope))
    if session.scalar(visible) is None:
        return None
    note = (
        select(PatrolCheckIn.note)
        .where(
            PatrolCheckIn.patrol_id == PatrolReach.patrol_id,
            PatrolCheckIn.household_id == PatrolReach.household_id,
        )
        .order_by(PatrolCheckIn.at)
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(
            PatrolReach.patrol_id,
            PatrolReach.how,
            PatrolReach.at,
            PatrolReach.distance_m,
            Patrol.person_id,
            Person.name.label("person_name"),
            WorkList.code.label("list_code"),
            WorkList.name.label("list_name"),
            WorkList.kind.label("list_kind"),
            note.label("note"),
        )
        .join(Patrol, Patrol.id == PatrolReach.patrol_id)
        .join(Person, Person.id == Patrol.person_id)
        .join(WorkList, WorkList.id == Patrol.work_list_id)
        .where(PatrolReach.household_id == household_id)
        .order_by(PatrolReach.at.desc(), PatrolReach.patrol_id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).all())
