"""Redraws: which stored grids a grid file replaces, corrects, retires or keeps, and the writes
that keep children, posts and households with the grid that covers them now.

The rules (README, "Import"):

- a file row whose code is current replaces that grid (``--redraw``): the stored version is
  closed today and the file's becomes the current one; children and open posts follow it;
- a version drawn today (``valid_from`` today) is corrected in place instead: validity is kept
  in whole days, and a version closed on the day it began would be valid on no day at all;
- a row with ``status`` ``retired`` (or ``撤销``) retires that grid: it is closed today, its open
  posts end today, its households go to the micro-grid now covering them. A merge is a redraw of
  the surviving grid covering the retired ones, in the same file. A grid drawn today and retired
  today was valid on no day, so it is removed, unless something already refers to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from sqlalchemy import Integer, Table, Text, any_, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridmap.grid.ingest.common import reject
from gridmap.storage.grids import current_at
from gridmap.storage.models import Assignment, Grid, Household
from gridmap.storage.requests import open_requests_in
from gridmap.storage.sql import as_array

#: ``status`` values of a grid file row (lower-cased, trimmed).
ACTIVE_STATUS = ("", "active", "现行")
RETIRED_STATUS = ("retired", "撤销")
_PARENT_LENGTH = {"zone": 12, "micro": 14}


@dataclass(frozen=True)
class RedrawPlan:
    """The stored current grids, split by what the file does to them (rows of
    ``_existing_grids``)."""

    replaced: gpd.GeoDataFrame
    corrected: gpd.GeoDataFrame
    retired: gpd.GeoDataFrame
    kept: gpd.GeoDataFrame


def split_status(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The file's rows to draw, and the codes its ``status`` column retires."""
    if "status" not in frame:
        return frame, []
    status = frame["status"].fillna("").astype(str).str.strip().str.lower()
    codes = frame["code"].astype(str).str.strip()
    unknown = ~status.isin(ACTIVE_STATUS + RETIRED_STATUS)
    if unknown.any():
        allowed = ", ".join(repr(s) for s in ACTIVE_STATUS[1:] + RETIRED_STATUS)
        raise reject(
            "grid file",
            [
                {
                    "where": f"grid {c}",
                    "message": f"status {s!r} is not one of {allowed} or empty",
                    "message_zh": f"网格 {c} 的状态 {s!r} 无法识别：应为空、现行或撤销",
                }
                for c, s in zip(codes[unknown], frame["status"][unknown], strict=True)
            ],
        )
    retiring = status.isin(RETIRED_STATUS)
    return frame[~retiring].drop(columns="status"), list(codes[retiring])


def plan_redraw(
    grids: gpd.GeoDataFrame, retiring: list[str], existing: gpd.GeoDataFrame, *, redraw: bool
) -> RedrawPlan:
    """Split the stored grids by what the file does to them; reject what cannot be done."""
    taken = existing[existing["code"].isin(grids["code"])]
    retired = existing[existing["code"].isin(retiring)]
    problems = _retire_problems(grids, retiring, existing)
    if not redraw:
        problems += [
            {"where": f"grid {c}", "message": "already exists; import with --redraw to replace it"}
            for c in taken["code"]
        ]
        problems += [
            {"where": f"grid {c}", "message": "retiring a grid needs --redraw"} for c in retiring
        ]
    if problems:
        raise reject("grid file", problems)
    return RedrawPlan(
        replaced=taken[~taken["today"]],
        corrected=taken[taken["today"]],
        retired=retired,
        kept=existing[~existing["code"].isin([*grids["code"], *retiring])],
    )


def _retire_problems(
    grids: gpd.GeoDataFrame, retiring: list[str], existing: gpd.GeoDataFrame
) -> list[dict[str, str]]:
    """A retired grid must be current, not drawn in the same file, leave no child behind and
    leave no hole: its place goes to a grid redrawn in the same file, or its parent retires."""
    if not retiring:
        return []
    drawn = set(grids["code"])
    current = set(existing["code"])
    retired = set(retiring)
    parent_of = dict(zip(existing["code"], existing["parent_code"], strict=True))
    file_parents = set(_file_parents(grids))
    problems: list[dict[str, str]] = []
    for code in retiring:
        where = f"grid {code}"
        if code not in current:
            problems.append(
                {
                    "where": where,
                    "message": "is not a current grid: nothing to retire",
                    "message_zh": f"网格 {code} 不是现行网格，无法撤销",
                }
            )
            continue
        if code in drawn:
            problems.append(
                {
                    "where": where,
                    "message": "is both retired and drawn in the file",
                    "message_zh": f"网格 {code} 在文件中既被撤销又被绘制",
                }
            )
        left = sorted(
            c for c, p in parent_of.items() if p == code and c not in retired and c not in drawn
        )
        if left:
            problems.append(
                {
                    "where": where,
                    "message": f"still has current children {', '.join(left)}: retire them "
                    "too or draw them into another parent in the same file",
                    "message_zh": f"网格 {code} 还有现行下级网格 {'、'.join(left)}："
                    "请在同一文件中一并撤销，或把它们划入其他上级网格",
                }
            )
        parent = parent_of.get(code)
        if parent is not None and parent not in retired and parent not in file_parents:
            problems.append(
                {
                    "where": where,
                    "message": f"retiring it leaves a hole in {parent}: in the same file, "
                    "redraw the grid that takes its place (a merge) or retire the parent",
                    "message_zh": f"撤销网格 {code} 会在 {parent} 中留下空缺：请在同一文件中"
                    "重绘接替它的网格（合并），或一并撤销上级网格",
                }
            )
    return problems


def _file_parents(grids: gpd.GeoDataFrame) -> pd.Series:
    """The parent code of each file row (given, or derived from its code)."""
    derived = pd.Series(
        [
            code[: _PARENT_LENGTH.get(level, 0)] or None
            for code, level in zip(grids["code"], grids["level"], strict=True)
        ],
        index=grids.index,
        dtype=object,
    )
    if "parent_code" not in grids:
        return derived
    given = grids["parent_code"]
    return given.where(given.notna(), derived)


# ---------------------------------------------------------------------------- writes


def households_of(session: Session, grid_ids: list[int]) -> dict[int, str]:
    """``{household id: micro-grid code}`` of the households now in the given grids."""
    if not grid_ids:
        return {}
    stmt = (
        select(Household.id, Grid.code)
        .join(Grid, Grid.id == Household.micro_grid_id)
        .where(Household.micro_grid_id == any_(as_array(grid_ids, Integer)))
    )
    return {hid: code for hid, code in session.execute(stmt)}


def retire(session: Session, retired: gpd.GeoDataFrame) -> list[str]:
    """Close the retired grids today (or drop a version drawn today), ending their open posts.

    Returns the report's lines: posts ended, open requests left with their owner.
    """
    ids = [int(i) for i in retired["id"]]
    notes: list[str] = []
    if not ids:
        return notes
    ended = _end_posts(session, [int(i) for i in retired.loc[~retired["today"], "id"]])
    # Closing first lets the database move the households away before a drop.
    session.execute(
        update(Grid)
        .where(Grid.id == any_(as_array(ids, Integer)), current_at())
        .values(valid_to=func.current_date())
    )
    _drop_drawn_today(session, retired[retired["today"]])
    notes.append(f"{len(ids)} grid(s) retired: {', '.join(sorted(retired['code']))}")
    if ended:
        notes.append(f"{ended} open post(s) on retired grids ended today")
    open_requests = open_requests_in(session, ids)
    if open_requests:
        notes.append(
            f"{open_requests} open request(s) filed in retired micro-grids keep their owner "
            "(首问负责); hand them over if the new grid's worker should take them"
        )
    return notes


def _drop_drawn_today(session: Session, drawn_today: gpd.GeoDataFrame) -> None:
    """Remove versions drawn today that retire today; refuse when something refers to one."""
    children_first = drawn_today.assign(
        rank=drawn_today["level"].map({"micro": 0, "zone": 1, "community": 2})
    ).sort_values("rank")
    for gid, code in zip(children_first["id"], children_first["code"], strict=True):
        try:
            with session.begin_nested():
                session.execute(delete(Grid).where(Grid.id == int(gid)))
        except IntegrityError:
            raise reject(
                "grid file",
                [
                    {
                        "where": f"grid {code}",
                        "message": "was drawn today and already has posts, requests, "
                        "patrols or past children: it cannot also be retired today; retire it "
                        "tomorrow",
                        "message_zh": f"网格 {code} 今天刚绘制且已有人员、诉求或巡查引用，"
                        "不能当天撤销，请明天再撤销",
                    }
                ],
            ) from None


def _end_posts(session: Session, grid_ids: list[int]) -> int:
    """End today the posts still open on the given grids; returns how many."""
    if not grid_ids:
        return 0
    today = func.current_date()
    result = session.execute(
        update(Assignment)
        .where(
            Assignment.grid_id == any_(as_array(grid_ids, Integer)),
            (Assignment.end_date.is_(None)) | (Assignment.end_date > today),
        )
        .values(end_date=func.greatest(Assignment.start_date, today))
        .returning(Assignment.id)
    )
    return len(result.all())


def close(session: Session, codes: pd.Series) -> None:
    """Close today the current versions of the given codes (a redraw's old versions)."""
    if codes.empty:
        return
    session.execute(
        update(Grid)
        .where(Grid.code == any_(as_array(codes, Text)), current_at())
        .values(valid_to=func.current_date())
    )


def follow(session: Session, new_id_of: dict[int, int]) -> None:
    """Current children and open posts of redrawn grids follow them to their new version."""
    if not new_id_of:
        return
    pairs = [{"old": o, "new": n} for o, n in new_id_of.items()]
    grid, post = Grid.__table__, Assignment.__table__
    assert isinstance(grid, Table) and isinstance(post, Table)
    session.connection().execute(
        update(grid)
        .where(grid.c.parent_id == bindparam("old", type_=Integer), grid.c.valid_to.is_(None))
        .values(parent_id=bindparam("new", type_=Integer)),
        pairs,
    )
    today = func.current_date()
    session.connection().execute(
        update(post)
        .where(
            post.c.grid_id == bindparam("old", type_=Integer),
            (post.c.end_date.is_(None)) | (post.c.end_date > today),
        )
        .values(grid_id=bindparam("new", type_=Integer)),
        pairs,
    )


def household_notes(session: Session, before: dict[int, str]) -> list[str]:
    """Where the households of retired micro-grids are now, one line per retired grid."""
    if not before:
        return []
    stmt = (
        select(Household.id, Grid.code)
        .outerjoin(Grid, Grid.id == Household.micro_grid_id)
        .where(Household.id == any_(as_array(list(before), Integer)))
    )
    moves = pd.DataFrame(session.execute(stmt).all(), columns=["id", "now"])
    moves["was"] = moves["id"].map(before)
    notes = []
    for was, group in moves.groupby("was", sort=True):
        counts = group["now"].fillna("no micro-grid").value_counts().sort_index()
        where = ", ".join(f"{n} to {code}" for code, n in counts.items())
        notes.append(f"households of retired micro-grid {was} moved: {where}")
    return notes
