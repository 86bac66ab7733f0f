"""Household imports: located to their micro-grids in bulk, then copied in."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from geoalchemy2.functions import ST_AsBinary
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    any_,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridmap.core.errors import InvalidInput
from gridmap.core.glossary import CARE_TAGS as CARE_TAG_LABELS
from gridmap.grid.ingest.bulk import DuplicateIds, Staging, already_exists
from gridmap.grid.ingest.common import (
    CHINA_LAT,
    CHINA_LON,
    ImportReport,
    Progress,
    declared_crs,
    reject,
    require_columns,
)
from gridmap.grid.ingest.readers import CHUNK_ROWS, Chunks, canonical_columns
from gridmap.spatial.crs import (
    parse_crs,
    to_cgcs2000,
)
from gridmap.spatial.locate import Locator
from gridmap.storage.grids import current_at
from gridmap.storage.models import (
    CARE_TAGS,
    SRID,
    Grid,
    Household,
)
from gridmap.storage.sql import as_array


def flag(
    frame: pd.DataFrame, bad: pd.Series, message: Callable[[dict[str, Any]], str]
) -> list[dict[str, Any]]:
    """One problem per row where ``bad`` holds.

    Rows are numbered as a spreadsheet shows a CSV (header = row 1), or from 1 for features
    (``frame.attrs["first_row"]``).
    """
    first = frame.attrs.get("first_row", 2)
    return [
        {"where": f"row {i + first}", "message": message(rec)}
        for i, rec in zip(
            np.flatnonzero(bad.to_numpy()), frame[bad].to_dict("records"), strict=True
        )
    ]


def coordinate_problems(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Coordinates that are not numbers, outside China, or with lon/lat swapped."""
    lon, lat = rows["lon"], rows["lat"]
    missing = ~(np.isfinite(lon) & np.isfinite(lat))
    inside = lon.between(*CHINA_LON) & lat.between(*CHINA_LAT)
    swapped = lat.between(*CHINA_LON) & lon.between(*CHINA_LAT)

    def where(r: dict[str, Any]) -> str:
        return f"({r['lon']}, {r['lat']}) is outside China"

    return (
        flag(rows, missing, lambda r: "coordinates are missing or not numbers")
        + flag(
            rows,
            ~missing & ~inside & swapped,
            lambda r: where(r) + "; longitude and latitude look swapped",
        )
        + flag(rows, ~missing & ~inside & ~swapped, where)
    )


def numbers(series: pd.Series) -> NDArray[np.float64]:
    numbers: NDArray[np.float64] = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    return numbers


def _current_micro_grids(session: Session) -> tuple[np.ndarray, np.ndarray]:
    rows = session.execute(
        select(Grid.id, ST_AsBinary(Grid.geom)).where(Grid.level == "micro", current_at())
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else np.array([])


def _household_problems(rows: pd.DataFrame, taken_ids: set[int]) -> list[dict[str, Any]]:
    ids, residents = rows["id"], rows["residents"]
    tags = [tuple(t) for t in rows["care_tags"].tolist()]
    unknown = {t: bool(set(t) - set(CARE_TAGS)) for t in set(tags)}  # a file repeats few
    unknown_tags = pd.Series([unknown[t] for t in tags], index=rows.index, dtype=bool)
    problems = (
        flag(
            rows,
            ids.notna() & ids.duplicated(keep=False),
            lambda r: f"id {r['id']} appears more than once",
        )
        + flag(rows, ids.isin(taken_ids), lambda r: already_exists(r["id"]))
        + flag(rows, rows["address"].str.strip() == "", lambda r: "address is empty")
        + flag(
            rows,
            _holds_nul(rows),
            lambda r: "a text holds a NUL character (\\0), which the database cannot store",
        )
        + flag(
            rows,
            ~residents.between(0, 99) | (residents % 1 != 0),
            lambda r: "residents must be a whole number 0–99",
        )
        + flag(
            rows,
            unknown_tags,
            lambda r: f"unknown care tag(s) in {r['care_tags']}; known: {list(CARE_TAGS)}",
        )
    )
    return problems


def _holds_nul(rows: pd.DataFrame) -> pd.Series:
    """Rows with a NUL character in a text (PostgreSQL's text cannot hold one)."""
    found = pd.Series(False, index=rows.index)
    for name in _TEXTS:
        values = rows[name]
        if "\0" in "".join(values.dropna().tolist()):
            found |= values.str.contains("\0", regex=False, na=False)
    return found


_TEXTS = ("address", "building", "unit", "room")


def _care_tag_lists(values: pd.Series | None, n: int) -> list[list[str]]:
    """Care tags of each row, parsed once per distinct text (a file repeats few of them)."""
    if values is None:
        return [[] for _ in range(n)]
    parsed: dict[object, list[str]] = {}
    out = []
    for value in values.tolist():
        if isinstance(value, list):
            out.append(value)
            continue
        if value not in parsed:
            parsed[value] = _care_tags(value)
        out.append(parsed[value])
    return out


def _care_tags(value: object) -> list[str]:
    """Care tags from a list (GeoJSON) or a text separated by ``;``, ``；``, ``、`` or ``,``
    (CSV); codes or their Chinese labels (独居老人 → elderly_alone); blank means none."""
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or value in ("nan", "None"):
        return []
    tags = (tag.strip() for tag in re.split(r"[;；、,，]", value))
    return [_CARE_TAG_OF_LABEL.get(tag, tag) for tag in tags if tag]


#: Household headers: each field's aliases (see the README's Import section).
HOUSEHOLD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "id": ("id", "编号", "户编号", "住户编号", "household_id"),
    "lon": ("lon", "x", "lng", "long", "longitude", "经度", "x坐标", "东经"),
    "lat": ("lat", "y", "latitude", "纬度", "y坐标", "北纬"),
    "address": ("address", "addr", "地址", "详细地址", "住址", "家庭住址", "门牌", "门牌地址"),
    "building": ("building", "bldg", "楼栋", "楼栋号", "楼号", "栋", "幢"),
    "unit": ("unit", "单元", "单元号"),
    "room": ("room", "room_no", "户号", "房号", "门牌号", "室号", "房间号"),
    "residents": ("residents", "persons", "population", "人数", "人口", "居住人数", "常住人口"),
    "care_tags": ("care_tags", "tags", "关爱标签", "关爱对象", "标签"),
}
_CARE_TAG_OF_LABEL = {label: code for code, label in CARE_TAG_LABELS.items()}


def prepare_households(
    frame: pd.DataFrame | gpd.GeoDataFrame, crs_text: str | None, *, first_row: int | None = None
) -> pd.DataFrame:
    """Normalise households from a table (coordinate columns, Chinese or English headers, see
    :data:`HOUSEHOLD_ALIASES`) or from point features.

    ``first_row`` is the row number people see for the frame's first row (default: 2 under a
    CSV header, 1 for features).
    """
    what = "household file"
    frame = canonical_columns(frame, HOUSEHOLD_ALIASES, what)
    if isinstance(frame, gpd.GeoDataFrame):
        crs = declared_crs(frame, crs_text, what)
        geoms = frame.geometry.values
        if not all(geoms.geom_type == "Point"):
            raise InvalidInput(f"{what}: 每个要素都必须是点（every feature must be a Point）")
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    else:
        _require_coordinates(frame)
        if not crs_text:
            raise InvalidInput(f"{what}: declare the coordinate system (--crs), e.g. EPSG:4490")
        crs = parse_crs(crs_text)
        x, y = numbers(frame["lon"]), numbers(frame["lat"])
    require_columns(frame, ("address",), what)

    def text_column(name: str) -> pd.Series:
        if name not in frame.columns:
            return pd.Series([None] * len(frame), index=frame.index, dtype=object)
        col = pd.Series(
            [str(v).strip() for v in frame[name].tolist()], index=frame.index, dtype=object
        )
        return col.where(~col.isin(["", "nan", "None", "<NA>"]), None)

    n = len(frame)
    out = pd.DataFrame(
        {
            "id": pd.to_numeric(frame["id"], errors="coerce").astype("Int64")
            if "id" in frame
            else pd.Series([pd.NA] * n, dtype="Int64", index=frame.index),
            "address": frame["address"].fillna("").astype(str),
            "building": text_column("building"),
            "unit": text_column("unit"),
            "room": text_column("room"),
            "residents": pd.to_numeric(frame["residents"], errors="coerce")
            if "residents" in frame
            else 1,
            "care_tags": _care_tag_lists(frame.get("care_tags"), n),
        }
    ).reset_index(drop=True)
    if first_row is None:
        first_row = 1 if isinstance(frame, gpd.GeoDataFrame) else 2
    out.attrs["first_row"] = first_row
    finite = np.isfinite(x) & np.isfinite(y)
    lon, lat = np.full(len(x), np.nan), np.full(len(y), np.nan)
    if finite.any():
        lon[finite], lat[finite] = to_cgcs2000(x[finite], y[finite], crs)
    out["lon"], out["lat"] = lon, lat
    return out


def _require_coordinates(frame: pd.DataFrame) -> None:
    missing = [c for c in ("lon", "lat") if c not in frame.columns]
    if missing:
        found = "、".join(map(str, frame.columns))
        raise InvalidInput(
            "household file: 找不到坐标列（经度/纬度），请把列名改为 经度、纬度"
            f"（或 x、y、lon、lat、lng、longitude、latitude）；现有列：{found}"
            f"（no coordinate columns: name them lon/lat, x/y or 经度/纬度）"
        )


@dataclass
class _Run:
    """What a household import carries from one chunk to the next."""

    next_id: int
    first_row: int = 2
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    written: int = 0
    outside: int = 0
    outside_listed: list[str] = field(default_factory=list)

    def add_problems(self, problems: list[dict[str, Any]]) -> None:
        self.problem_count += len(problems)
        self.problems += problems[: max(_KEPT_PROBLEMS - len(self.problems), 0)]

    def add_outsiders(self, rows: pd.DataFrame, located: np.ndarray) -> None:
        outside = np.flatnonzero(located < 0)
        self.outside += len(outside)
        for i in outside[: max(20 - len(self.outside_listed), 0)]:
            row = i + rows.attrs["first_row"]
            self.outside_listed.append(f"row {row} (id {rows['id'].iloc[i]})")


_KEPT_PROBLEMS = 1000


def _as_chunks(
    frame: pd.DataFrame | gpd.GeoDataFrame | Chunks,
) -> tuple[Chunks, int]:
    """The input as chunks, and the largest id it is known to hold (0 when unknown)."""
    if isinstance(frame, Chunks):
        return frame, 0
    known = pd.to_numeric(frame["id"], errors="coerce").max() if "id" in frame else None
    n = len(frame)
    parts = (frame.iloc[i : i + CHUNK_ROWS] for i in range(0, max(n, 1), CHUNK_ROWS))
    first = 1 if isinstance(frame, gpd.GeoDataFrame) else 2
    return Chunks(parts, max(-(-n // CHUNK_ROWS), 1), first_row=first), (
        int(known) if known is not None and pd.notna(known) else 0
    )


def import_households(
    session: Session,
    frame: pd.DataFrame | gpd.GeoDataFrame | Chunks,
    crs_text: str | None,
    *,
    progress: Progress[Any] = iter,
    bulk: bool = False,
) -> ImportReport:
    """Check and insert households, each located to its micro-grid, chunk by chunk.

    ``frame`` is a whole table or a :class:`Chunks` stream (a file read in chunks). Each chunk
    is checked, located and copied in the caller's transaction; after the first problem
    nothing more is copied but the rest is still checked, and the whole report is raised (the
    caller rolls back: all or nothing). Households outside every micro-grid are imported
    (never dropped) and listed in the report.

    ``bulk`` copies the chunks into a staging table and moves them into ``household`` at the
    end in one statement (see :mod:`gridmap.grid.ingest.bulk`): the same checks and the same
    report, faster for large files (``./scripts/bench import``); other writers of households
    wait for the move (and, for a file a quarter of the table's size or more, readers wait for
    the indexes to be built again).
    """
    chunks, known_max = _as_chunks(frame)
    start = session.scalar(select(func.coalesce(func.max(Household.id), 0))) or 0
    run = _Run(next_id=max(start, known_max) + 1, first_row=chunks.first_row)
    locate = Locator(*_current_micro_grids(session))
    raw = driver_connection(session)
    with (
        raw.cursor() as cur,
        closing(chunks),
        Staging(session, cur) if bulk else nullcontext() as staging,
    ):
        if staging is None:
            cur.execute("SELECT set_config('gridmap.bulk_located', 'on', true)")
        for part in progress(chunks):
            rows = prepare_households(part, crs_text, first_row=run.first_row)
            run.first_row += len(rows)
            run.add_problems(
                _chunk_problems(session, rows, staging, checking=run.problem_count > 0)
            )
            if run.problem_count:
                continue
            located = locate(rows["lon"].to_numpy(), rows["lat"].to_numpy())
            _fill_ids(rows, run)
            if staging is None:
                _copy_households(cur, rows, located)
            else:
                staging.copy(rows, located)
            run.written += len(rows)
            run.add_outsiders(rows, located)
        if staging is None:
            cur.execute("SELECT set_config('gridmap.bulk_located', 'off', true)")
        else:
            _move(staging, run)
    if run.problem_count:
        raise reject("household file", run.problems, total=run.problem_count)
    sync_sequence(session, "household")
    report = ImportReport("households", written=run.written)
    if run.outside:
        more = f" and {run.outside - 20} more" if run.outside > 20 else ""
        report.notes.append(
            f"{run.outside} household(s) lie outside every micro-grid: "
            f"{', '.join(run.outside_listed)}{more}"
        )
    return report


def _chunk_problems(
    session: Session, rows: pd.DataFrame, staging: Staging | None, *, checking: bool
) -> list[dict[str, Any]]:
    """The chunk's problems. The bulk path looks up taken ids only once the import only
    checks (``checking``, or a problem in this chunk): before that the move finds them."""

    def problems(taken: set[int]) -> list[dict[str, Any]]:
        return coordinate_problems(rows) + _household_problems(rows, taken)

    if staging is None:
        return problems(_taken(session, rows))
    found = problems(set())
    if checking or found:
        found = problems(staging.taken([int(i) for i in rows["id"].dropna()]))
    return found


def _move(staging: Staging, run: _Run) -> None:
    """Move the staged rows, or add the problems of the staged rows whose id is taken."""
    if not staging.rows:
        return
    if not run.problem_count:
        try:
            staging.move()
            return
        except DuplicateIds:
            pass
        except IntegrityError as exc:  # checked above; the database's word
            raise _refused(exc.orig, "all rows") from None
    problems, total = staging.conflicts(_KEPT_PROBLEMS)
    run.add_problems(problems)
    run.problem_count += total - len(problems)


def _refused(exc: Any, where: str) -> Exception:
    detail = exc.diag.message_detail or exc.diag.message_primary or str(exc)
    return reject("household file", [{"where": where, "message": detail}])


def _taken(session: Session, rows: pd.DataFrame) -> set[int]:
    """Ids of the chunk already in the database (before this import or earlier in it)."""
    given = [int(i) for i in rows["id"].dropna()]
    if not given:
        return set()
    stmt = select(Household.id).where(Household.id == any_(as_array(given, BigInteger)))
    return set(session.scalars(stmt))


def _fill_ids(rows: pd.DataFrame, run: _Run) -> None:
    """Number rows without an id after every id seen so far."""
    given = rows["id"].notna()
    if given.any():
        run.next_id = max(run.next_id, int(rows["id"].max()) + 1)
    missing = int((~given).sum())
    if missing:
        rows.loc[~given, "id"] = np.arange(run.next_id, run.next_id + missing)
        run.next_id += missing


def _copy_households(cur: Any, rows: pd.DataFrame, located: np.ndarray) -> None:
    """COPY one chunk of households with the micro-grids located here.

    The rows are formatted as COPY text column by column (vectorised, not row by row: this is
    most of an import's Python time). The ``gridmap.bulk_located`` flag (set by the caller)
    tells the insert trigger that ``located`` follows the database's own rule (see the first
    migration), so it need not test each row again.
    """
    columns = "id, geom, address, building, unit, room, residents, care_tags, micro_grid_id"
    try:
        with cur.copy(f"COPY household ({columns}) FROM STDIN") as copy:
            copy.write(_copy_text(rows, located))
    except psycopg.errors.IntegrityError as exc:  # checked before; the database's word
        last = rows.attrs["first_row"] + len(rows) - 1
        raise _refused(exc, f"rows {rows.attrs['first_row']}-{last}") from None


def _copy_text(rows: pd.DataFrame, located: np.ndarray) -> str:
    """The rows in COPY's text format (tab-separated, ``\\N`` for null), built column by
    column from plain lists (pandas string arithmetic is slower here)."""
    tag_text: dict[tuple[str, ...], str] = {}
    tags = []
    for value in rows["care_tags"].tolist():
        key = tuple(value)
        if key not in tag_text:
            tag_text[key] = "{" + ",".join(key) + "}"  # known tag codes: nothing to quote
        tags.append(tag_text[key])
    columns = [
        map(str, rows["id"].astype("int64").tolist()),
        [
            f"SRID={SRID};POINT({x!r} {y!r})"
            for x, y in zip(rows["lon"].tolist(), rows["lat"].tolist(), strict=True)
        ],
        *(_copy_escaped(rows[name]) for name in ("address", "building", "unit", "room")),
        map(str, rows["residents"].astype("int64").tolist()),
        tags,
        ["\\N" if g < 0 else str(g) for g in located.tolist()],
    ]
    return "".join(line + "\n" for line in map("\t".join, zip(*columns, strict=True)))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_escaped(values: pd.Series) -> list[str]:
    """Text for COPY: backslash, tab and line breaks escaped; ``None`` as ``\\N``."""
    texts = values.astype(object).tolist()
    if any(c in "\0".join(v for v in texts if v is not None) for c in "\\\t\n\r"):
        texts = [None if v is None else v.translate(_COPY_ESCAPES) for v in texts]
    return ["\\N" if v is None else v for v in texts]


def driver_connection(session: Session) -> Any:
    """The psycopg connection under the session's transaction, for COPY."""
    raw = session.connection().connection.driver_connection
    assert raw is not None, "the session has no open connection"
    return raw


def sync_sequence(session: Session, table: str) -> None:
    """Move ``table``'s id sequence past its largest id (never back). The application's role
    has no ``setval``: the database function allows this for the imported tables only."""
    session.execute(text("SELECT gridmap_sync_sequence(:table)"), {"table": table})
