"""Grid imports from the import page (网格导入): an upload is checked by a job, a person looks
at the report on the map, and a second job imports it.

- :func:`submit` stores the upload and queues a *validation job* (:func:`validate`): the file
  is imported as ``flask gridmap import-grids --redraw`` would, inside a savepoint that is
  always rolled back, so nothing is written; its result is the report (problems with their
  shapes, the snapped notes), the file's grids, today's grids of the area and what the redraw
  would change (new, redrawn and retired grids, households moving to another micro-grid).
- :func:`confirm` queues the *import job* (:func:`apply`) of a validation that passed: the
  same import, committed all or nothing with its audit row, like the command.

The page always imports as a redraw: a code that exists is replaced, a ``status`` of 撤销
retires; the diff shows what that means before anyone confirms. A street administrator may
only import grids inside the street (their scope); the system administrator anywhere.
"""

from __future__ import annotations

import functools
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy.orm import Session

from gridmap.access import audit
from gridmap.core.errors import Conflict, GridmapError, InvalidInput, NotFound
from gridmap.core.settings import Settings
from gridmap.grid.ingest import (
    ImportRejected,
    ImportReport,
    import_grids,
    prepare_grids,
    read_grid_features,
)
from gridmap.grid.ingest.buildings import import_buildings, split_buildings
from gridmap.grid.ingest.redraw import split_status
from gridmap.jobs import Handler, Owner, Report, enqueue
from gridmap.spatial.crs import SpatialInputError, parse_crs
from gridmap.spatial.validate import Problem, ValidationReport
from gridmap.storage import grids as grid_store
from gridmap.storage import households as household_store
from gridmap.storage import jobs as job_store
from gridmap.storage.jobs import JobRecord

VALIDATE = "grid.validate"
IMPORT = "grid.import"
#: Imports run one at a time, whoever confirms them: each validates against the grid as it is.
IMPORT_LOCK = "grid-import"
#: File name endings the page accepts (a Shapefile comes zipped with its .dbf, .shx, .prj).
SUFFIXES = (".zip", ".gpkg", ".kml", ".geojson", ".json")
GRID_FILES = "只能上传网格文件：Shapefile（.zip 压缩包）、GeoPackage（.gpkg）、KML 或 GeoJSON"
#: Inside a zip: a Shapefile, or one of the single-file formats.
_INNER = (".shp", ".gpkg", ".kml", ".geojson", ".json")
#: Most grids of the area drawn under the report (today's grid, before and after).
AREA_GRIDS = 5000
#: A zip may not unpack to more than this many times the upload limit (a zip bomb).
_UNZIP_FACTOR = 20


class TooLarge(GridmapError):
    status = 413
    code = "too-large"
    title = "Payload too large"


# ------------------------------------------------------------------------------- requests


def submit(
    session: Session,
    owner: Owner,
    filename: str,
    content: bytes,
    *,
    crs: str,
    layer: str | None,
    encoding: str | None,
    max_bytes: int,
) -> int:
    """Store an uploaded grid file and queue its validation; returns the job's id.

    What can be told without reading the file is refused here (:func:`check_upload`).
    """
    name = check_upload(filename, content, crs=crs, max_bytes=max_bytes)
    upload_id = job_store.add_upload(session, owner.user_id, name, content)
    params = {"crs": crs, "layer": layer, "encoding": encoding, "filename": name}
    return enqueue(session, VALIDATE, owner, params=params, upload_id=upload_id)


def check_upload(
    filename: str,
    content: bytes,
    *,
    crs: str,
    max_bytes: int,
    suffixes: tuple[str, ...] = SUFFIXES,
    accepted: str = GRID_FILES,
) -> str:
    """Refuse what can be told of an uploaded layer without reading it: an unknown kind of
    file (not one of ``suffixes``; ``accepted`` says which are), an empty or too large one, a
    zip that is not one, an undeclared or unknown CRS; returns the file's name (without any
    folder)."""
    name = PurePath(filename or "").name
    if not name.lower().endswith(suffixes):
        raise InvalidInput(f"{accepted}（not an accepted file: {name or 'no file name'}）")
    if not content:
        raise InvalidInput("文件是空的（the file is empty）")
    if len(content) > max_bytes:
        raise TooLarge(
            f"文件过大：{len(content) / 1e6:.1f} MB，上限 {max_bytes / 1e6:.1f} MB"
            f"（larger than GRIDMAP_MAX_UPLOAD_BYTES）"
        )
    if name.lower().endswith(".zip") and not _is_zip(content):
        raise InvalidInput(f"{name} 不是 zip 压缩包（not a zip file）")
    parse_crs(crs)
    return name


def confirm(session: Session, owner: Owner, validation_id: int, *, admin: bool) -> int:
    """Queue the import of a validated file; returns the import job's id.

    Only the owner of the validation (or an administrator) may confirm it, only once, and
    only when it passed.
    """
    job = job_store.record(session, validation_id)
    if job is None or job.kind != VALIDATE or not (admin or job.user_id == owner.user_id):
        raise NotFound("没有这个检查任务（no such validation job）")
    state = job_store.status(session, validation_id) or {}
    result = state.get("result") or {}
    if state.get("state") != "succeeded" or not result.get("ok"):
        raise Conflict("文件未通过检查，不能导入（the file did not pass validation）")
    if job_store.children(session, validation_id, IMPORT):
        raise Conflict("此文件已确认导入（already confirmed）")
    return enqueue(
        session,
        IMPORT,
        owner,
        params=job.params,
        upload_id=job.upload_id,
        parent_id=validation_id,
        lock=IMPORT_LOCK,
    )


def _is_zip(content: bytes) -> bool:
    return content[:4] == b"PK\x03\x04"


# ------------------------------------------------------------------------------ the jobs


def handlers(settings: Settings) -> dict[str, Handler]:
    """The worker's handlers of the grid import jobs."""
    return {
        VALIDATE: functools.partial(validate, settings=settings),
        IMPORT: functools.partial(apply, settings=settings),
    }


def validate(
    session: Session, job: JobRecord, report: Report, *, settings: Settings
) -> dict[str, Any]:
    """The dry run: the report, the diff and the layers to draw; nothing written."""
    frame, buildings = split_buildings(_read(session, job, report))
    crs = str(job.params["crs"])
    report(30, "检查网格")
    result: dict[str, Any] = {"ok": False, "hint": crs_hint(frame, crs)}
    file_grids, bbox = _file_layer(frame, crs)
    result["file"] = _collection(file_grids)
    outside = _out_of_scope(frame, job.scope_code)
    if outside:
        return result | _refusal(ValidationReport(outside), session, bbox)
    before = household_store.micro_grids_in_box(session, bbox) if bbox else {}
    current = grid_store.current_in_box(session, bbox, limit=AREA_GRIDS) if bbox else []
    captured: list[ValidationReport] = []
    savepoint = session.begin_nested()
    try:
        written = _import(session, frame, buildings, crs, settings, job, captured.append)
    except (GridmapError, SpatialInputError) as exc:
        savepoint.rollback()
        found = captured[0] if captured and not captured[0].ok else _as_report(exc)
        return result | _refusal(found, session, bbox)
    report(80, "比较导入前后")
    after = grid_store.current_in_box(session, bbox, limit=AREA_GRIDS) if bbox else []
    moved = _moves(before, household_store.micro_grids_in_box(session, bbox) if bbox else {})
    savepoint.rollback()
    checked = captured[0] if captured else ValidationReport()
    return result | {
        "ok": True,
        "report": checked.as_geojson(),
        "notes": written.notes,
        "current": _collection(current),
        "diff": _diff(frame, current, after, moved),
    }


def apply(
    session: Session, job: JobRecord, report: Report, *, settings: Settings
) -> dict[str, Any]:
    """The import: all or nothing, audited; returns what was written and the new grid."""
    frame, buildings = split_buildings(_read(session, job, report))
    crs = str(job.params["crs"])
    outside = _out_of_scope(frame, job.scope_code)
    if outside:
        raise ImportRejected(
            "网格不在管辖范围内，未导入（grids outside your scope, nothing written）",
            errors=[p.as_dict() for p in outside],
        )
    report(30, "导入网格")
    written = _import(session, frame, buildings, crs, settings, job)
    audit.record(
        session,
        "import.grids",
        username=job.username,
        object_type="job",
        object_id=job.id,
        detail={
            "written": written.written,
            "closed": written.closed,
            "file": job.params.get("filename"),
            "crs": crs,
            "validation_job": job.parent_id,
        },
    )
    report(90, "读取新网格")
    _, bbox = _file_layer(frame, crs)
    after = grid_store.current_in_box(session, bbox, limit=AREA_GRIDS) if bbox else []
    return {
        "written": written.written,
        "closed": written.closed,
        "notes": written.notes,
        "text": written.as_text(),
        "current": _collection(after),
    }


def _import(
    session: Session,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    crs: str,
    settings: Settings,
    job: JobRecord,
    on_report: Callable[[ValidationReport], None] | None = None,
) -> ImportReport:
    """The file's grids (a redraw), then its buildings (楼栋图层), located in the grid as it
    is after the grids: one report, raising at the first part refused."""
    written = ImportReport("grids")
    if len(grids) or not len(buildings):
        written = import_grids(session, grids, crs, settings, redraw=True, on_report=on_report)
    if len(buildings):
        placed = import_buildings(session, buildings, crs, scope_prefix=job.scope_code)
        written.notes.append(f"楼栋 {placed.written} 栋（buildings）: " + "; ".join(placed.notes))
    return written


# --------------------------------------------------------------------------- the file


def _read(session: Session, job: JobRecord, report: Report) -> gpd.GeoDataFrame:
    report(5, "读取文件")
    with upload_path(session, job) as path:
        return read_grid_features(
            path, layer=job.params.get("layer") or None, encoding=job.params.get("encoding")
        )


@contextmanager
def upload_path(session: Session, job: JobRecord) -> Iterator[Path]:
    """The job's uploaded file on disk, where GDAL can open it (a zip unpacked to its one
    Shapefile or grid file), for as long as the context lasts."""
    if job.upload_id is None:
        raise InvalidInput("任务没有上传文件（the job has no file）")
    filename, content = job_store.upload(session, job.upload_id)
    with on_disk(filename, content, limit=len(content) * _UNZIP_FACTOR + 10**6) as path:
        yield path


@contextmanager
def on_disk(filename: str, content: bytes, *, limit: int) -> Iterator[Path]:
    """The upload as a file GDAL can open: a zip unpacked (flat, names only) to its one
    Shapefile or grid file."""
    suffix = PurePath(filename).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="gridmap-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(content)
        yield _unzipped(path, Path(folder) / "unzipped", limit) if suffix == ".zip" else path


def _unzipped(path: Path, folder: Path, limit: int) -> Path:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > limit:
                raise InvalidInput("压缩包解压后过大（the zip unpacks to too much）")
            folder.mkdir()
            for member in members:
                name = PurePath(member.filename.replace("\\", "/")).name
                if name and not name.startswith("."):
                    (folder / name).write_bytes(archive.read(member))
    except zipfile.BadZipFile:
        raise InvalidInput("压缩包已损坏，无法解压（not a readable zip file）") from None
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in _INNER)
    shapefiles = [p for p in found if p.suffix.lower() == ".shp"]
    chosen = shapefiles or found
    if len(chosen) != 1:
        what = "、".join(p.name for p in chosen) or "没有"
        raise InvalidInput(
            f"压缩包里应当正好有一个 Shapefile（.shp）或网格文件，现在：{what}"
            "（the zip must hold exactly one Shapefile or grid file）"
        )
    return chosen[0]


# ------------------------------------------------------------------------ checks and hints


def crs_hint(frame: gpd.GeoDataFrame, declared: str) -> str | None:
    """A hint when the coordinates do not look like the declared system: metres declared as
    degrees, or degrees in China declared as WGS 84/CGCS2000 (maybe GCJ-02)."""
    bounds = np.asarray(frame.geometry.total_bounds, dtype=float)
    if frame.empty or not np.isfinite(bounds).all():
        return None
    geographic = parse_crs(declared).geographic
    degrees = abs(bounds[[0, 2]]).max() <= 180 and abs(bounds[[1, 3]]).max() <= 90
    if geographic and not degrees:
        return (
            "坐标值超出经纬度范围，看起来是投影坐标（米）：请选择 CGCS2000 高斯-克吕格投影"
            "（EPSG:4491–4554）重新上传"
        )
    if not geographic and degrees:
        return "坐标值像经纬度（度），却声明了投影坐标（米）：请确认坐标系"
    in_china = bounds[0] >= 73 and bounds[2] <= 136 and bounds[1] >= 3 and bounds[3] <= 54
    if in_china and parse_crs(declared).name in ("EPSG:4326", "EPSG:4490"):
        return (
            "坐标位于中国境内。用高德、腾讯地图绘制的数据多为 GCJ-02（百度为 BD-09）："
            "若在地图上整体偏移一两百米，请改选 GCJ-02 重新上传"
        )
    return None


def _out_of_scope(frame: gpd.GeoDataFrame, scope_code: str | None) -> list[Problem]:
    if not scope_code or "code" not in frame:
        return []
    codes = frame["code"].astype(str).str.strip()
    return [
        Problem(
            "out_of_scope",
            code,
            f"网格 {code} 不在您的管辖范围（{scope_code}）内",
            message_en=f"grid {code} is outside your scope {scope_code}",
        )
        for code in codes[~codes.str.startswith(scope_code)]
    ]


def _file_layer(
    frame: gpd.GeoDataFrame, crs: str
) -> tuple[gpd.GeoDataFrame | None, tuple[float, float, float, float] | None]:
    """The file's drawn grids in CGCS2000 and the area the report covers (None when the
    file cannot be prepared: the import's own error says why)."""
    try:
        grids = prepare_grids(split_status(frame)[0], crs)
    except (GridmapError, SpatialInputError):
        return None, None
    bounds = grids.geometry.total_bounds if len(grids) else None
    if bounds is None or not np.isfinite(bounds).all():
        return grids, None
    w, s, e, n = (float(b) for b in bounds)
    pad = 0.002  # ~200 m: neighbours of the file's grids show on the map too
    return grids, (w - pad, s - pad, e + pad, n + pad)


def _as_report(exc: Exception) -> ValidationReport:
    """A refusal that came before or beside the geometric checks, as report problems."""
    errors = getattr(exc, "errors", None) or []
    detail = str(getattr(exc, "detail", exc))
    problems = [
        Problem(
            "file",
            str(e.get("where", "")).removeprefix("grid ") or None,
            str(e.get("message_zh") or f"无法导入：{e.get('message', '')}"),
            message_en=str(e.get("message", "")),
        )
        for e in errors
        if isinstance(e, dict) and "where" in e
    ]
    return ValidationReport(problems or [Problem("file", None, f"无法导入：{detail}")])


def _refusal(
    found: ValidationReport, session: Session, bbox: tuple[float, float, float, float] | None
) -> dict[str, Any]:
    current = grid_store.current_in_box(session, bbox, limit=AREA_GRIDS) if bbox else []
    return {"ok": False, "report": found.as_geojson(), "current": _collection(current)}


# --------------------------------------------------------------------------------- diff


def _collection(features: Any) -> dict[str, Any]:
    if features is None:
        return {"type": "FeatureCollection", "features": []}
    if isinstance(features, gpd.GeoDataFrame):
        rows = features[["code", "name", "level", "geometry"]]
        features = [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geom),
                "properties": {"code": code, "name": name, "level": level},
            }
            for code, name, level, geom in rows.itertuples(index=False)
        ]
    return {"type": "FeatureCollection", "features": list(features)}


def _moves(before: dict[int, str | None], after: dict[int, str | None]) -> dict[str, Any]:
    """Households whose micro-grid code changes, counted per (from, to)."""
    pairs: dict[tuple[str | None, str | None], int] = {}
    for hid, was in before.items():
        now = after.get(hid, was)
        if now != was:
            pairs[(was, now)] = pairs.get((was, now), 0) + 1
    rows = [{"from": f, "to": t, "households": n} for (f, t), n in pairs.items()]
    rows.sort(key=lambda r: -int(r["households"] or 0))
    return {"households": sum(pairs.values()), "pairs": rows[:100]}


def _diff(
    frame: gpd.GeoDataFrame,
    current: list[dict[str, Any]],
    after: list[dict[str, Any]],
    moved: dict[str, Any],
) -> dict[str, Any]:
    """New, redrawn and retired grids as features (the new shape, or the retired one)."""
    if "code" not in frame:  # a file of buildings only (楼栋图层): no grid changes
        empty = dict.fromkeys(_CHANGES, 0)
        return {"type": "FeatureCollection", "features": [], "counts": empty, "moved": moved}
    drawn, retiring = split_status(frame)
    file_codes = set(drawn["code"].astype(str).str.strip())
    was = {f["properties"]["code"]: f for f in current}
    now = {f["properties"]["code"]: f for f in after}
    features = []
    for code in sorted(file_codes | set(retiring)):
        if code in retiring and code in was:
            change, feature = "retired", was[code]
        elif code in now:
            change, feature = ("changed" if code in was else "new"), now[code]
        else:
            continue
        features.append({**feature, "properties": {**feature["properties"], "change": change}})
    counts = {c: sum(f["properties"]["change"] == c for f in features) for c in _CHANGES}
    return {
        "type": "FeatureCollection",
        "features": features,
        "counts": counts,
        "moved": moved,
    }


_CHANGES = ("new", "changed", "retired")
