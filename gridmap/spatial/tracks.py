"""Patrol tracks (巡查轨迹): read GPX and GeoJSON tracks, bring them to CGCS2000 and clean them.

``read_track`` turns a file into arrays (``RawTrack``: lon, lat and UNIX times, in the file's
order and declared coordinate system); ``clean_track`` converts them to CGCS2000 and cleans them
(``CleanTrack``), with a report of what it did:

1. **refused**, naming the point: no points at all, a coordinate or time that is not a finite
   number, a time before 2000 or in the future (a phone's clock), or every point outside China
   (with the hint of :func:`gridmap.spatial.crs.check_lonlat`: swapped, projected metres);
2. **dropped** with a count per reason: points outside China among points inside
   (``outside_china``), a second fix at the same instant (``duplicate_time``), teleport jumps
   (``teleport``: reached and left faster than ``max_speed_mps``, while skipping the point is
   plausible; or the odd first/last point), the short pieces a remaining jump leaves
   (``short_part``), and pieces that never move (``no_movement``: a line needs two places);
3. **reordered**: points out of time order are sorted by time (a stable sort, so a file that
   merely lists segments out of order keeps each segment's order); the report says how many.

A jump that survives (the track goes on elsewhere, e.g. after the phone lost its fix for a
bus ride) splits the track into parts instead of joining the two places by a straight line the
worker never walked: the cleaned track is a MultiLineString M whose M is the UNIX time.

Every step is vectorised with numpy; the only per-point Python is gpxpy's own parsing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import gpxpy
import gpxpy.gpx
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridmap.spatial.crs import (
    CGCS2000,
    InputCrs,
    SpatialInputError,
    check_lonlat,
    parse_crs,
    to_cgcs2000,
)

__all__ = [
    "CleanTrack",
    "RawTrack",
    "clean_track",
    "haversine_m",
    "read_track",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Times before this (2000-01-01 UTC) come from a phone whose clock was never set.
EARLIEST = 946_684_800.0
#: Mean Earth radius (m), for distances between nearby fixes.
EARTH_RADIUS_M = 6_371_008.8
#: Spike removal passes; each removes every isolated spike at once, so a few suffice.
_MAX_PASSES = 20
#: Input indexes listed per reason in the report (the counts are always complete).
_LISTED = 20
#: Why points are dropped, in the order cleaning meets them.
REASONS = ("outside_china", "duplicate_time", "teleport", "short_part", "no_movement")
_WKB_MULTILINESTRING_M = 2005
_WKB_LINESTRING_M = 2002


@dataclass(frozen=True)
class RawTrack:
    """A track as read: coordinates in the declared CRS and UNIX times (s), in file order."""

    x: FloatArray
    y: FloatArray
    t: FloatArray
    source: str = "points"


@dataclass
class CleanTrack:
    """A cleaned track in CGCS2000: kept points in time order and the parts they form.

    Attributes
    ----------
    lon, lat, t : ndarray
        The kept points (EPSG:4490 degrees, UNIX seconds), sorted by time.
    index : ndarray
        Each kept point's position in the input.
    parts : list of (start, stop)
        Slices of the kept points, one per part of the MultiLineString.
    report : dict
        What cleaning did (see the module docstring).
    """

    lon: FloatArray
    lat: FloatArray
    t: FloatArray
    index: IntArray
    parts: list[tuple[int, int]]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """True when at least one part remains (two distinct positions or more)."""
        return bool(self.parts)

    def require_line(self) -> CleanTrack:
        """This track, or a ``SpatialInputError`` saying why no line is left."""
        if not self.usable:
            dropped = {k: v for k, v in self.report["dropped"].items() if v}
            raise SpatialInputError(
                f"no usable track: {self.report['points_in']} point(s) in, "
                f"{self.report['points_kept']} kept"
                + (f" (dropped: {dropped})" if dropped else "")
                + "; a track needs two or more points at different places"
            )
        return self

    def wkb(self) -> bytes:
        """The cleaned track as ISO WKB MultiLineString M (M = UNIX time), no SRID."""
        chunks = [struct.pack("<BII", 1, _WKB_MULTILINESTRING_M, len(self.parts))]
        for start, stop in self.parts:
            xym = np.column_stack(
                [self.lon[start:stop], self.lat[start:stop], self.t[start:stop]]
            ).astype("<f8")
            chunks.append(struct.pack("<BII", 1, _WKB_LINESTRING_M, stop - start))
            chunks.append(xym.tobytes())
        return b"".join(chunks)


# ----------------------------------------------------------------------------------- reading


def read_track(data: bytes, fmt: str | None = None) -> RawTrack:
    """Read a GPX or GeoJSON track.

    Parameters
    ----------
    data : bytes
        The file. GPX: every ``trkpt`` of every track and segment in file order (route points
        when there is no track). GeoJSON: a LineString or MultiLineString Feature (or a
        FeatureCollection holding one) with per-vertex times in ``properties.times``,
        ``properties.coordTimes`` or ``properties.coordinateProperties.times`` (a list, or a
        list per line); or a FeatureCollection of Point features, each with
        ``properties.time``.
    fmt : {"gpx", "geojson"}, optional
        The format; guessed from the first character (``<`` or ``{``) when not given.

    Returns
    -------
    RawTrack

    Raises
    ------
    SpatialInputError
        The file cannot be read, holds no track, or a point lacks a position or a time; the
        message names the point (``point i``, counted over the whole file from 0).

    Notes
    -----
    Times are ISO 8601 strings (an offset or ``Z``; without one, UTC as GPX prescribes) or
    numbers of seconds (or milliseconds, above 1e11) since 1970-01-01 UTC.
    """
    kind = fmt or _sniff(data)
    if kind == "gpx":
        return _read_gpx(data)
    if kind == "geojson":
        return _read_geojson(data)
    raise SpatialInputError(f"unknown track format {fmt!r}; allowed: gpx, geojson")


def _sniff(data: bytes) -> str:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "gpx"
    if head in (b"{", b"["):
        return "geojson"
    raise SpatialInputError("the file is neither GPX (XML) nor GeoJSON (JSON)")


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpatialInputError(f"the {what} file is not UTF-8 text (byte {exc.start})") from None


def _read_gpx(data: bytes) -> RawTrack:
    try:
        gpx = gpxpy.parse(_text(data, "GPX"))
    except (gpxpy.gpx.GPXException, ValueError, RecursionError) as exc:
        raise SpatialInputError(f"not a readable GPX file: {exc}") from None
    points: list[Any] = [p for trk in gpx.tracks for seg in trk.segments for p in seg.points]
    if not points:
        points = [p for route in gpx.routes for p in route.points]
    missing = [i for i, p in enumerate(points) if p.time is None]
    if missing:
        raise SpatialInputError("has no readable <time>", f"point {missing[0]}")
    x = np.fromiter((p.longitude for p in points), np.float64, len(points))
    y = np.fromiter((p.latitude for p in points), np.float64, len(points))
    t = np.fromiter((_utc(p.time).timestamp() for p in points), np.float64, len(points))
    return RawTrack(x, y, t, "gpx")


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _read_geojson(data: bytes) -> RawTrack:
    try:
        obj = json.loads(_text(data, "GeoJSON"))
    except (ValueError, RecursionError) as exc:
        raise SpatialInputError(f"not readable JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise SpatialInputError("GeoJSON must be an object with a type")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        return _read_collection(obj.get("features"))
    if kind == "Feature":
        return _read_line_feature(obj)
    if kind in ("LineString", "MultiLineString"):
        raise SpatialInputError(
            "a bare geometry has no times: send a Feature with properties.times"
        )
    raise SpatialInputError(
        f"GeoJSON type {kind!r} is no track; use a LineString or MultiLineString Feature or a "
        "FeatureCollection of Point features with properties.time"
    )


def _read_collection(features: Any) -> RawTrack:
    if not isinstance(features, list) or not features:
        raise SpatialInputError("the FeatureCollection holds no features")
    types = [_geometry(f, i).get("type") for i, f in enumerate(features)]
    if types == ["LineString"] or types == ["MultiLineString"]:
        return _read_line_feature(features[0])
    odd = [i for i, t in enumerate(types) if t != "Point"]
    if odd:
        raise SpatialInputError(
            f"expected Point features (or one line), found {types[odd[0]]!r}", f"feature {odd[0]}"
        )
    coords = [_geometry(f, i).get("coordinates") for i, f in enumerate(features)]
    times = [_properties(f).get("time", _properties(f).get("timestamp")) for f in features]
    x, y = _positions(coords)
    return RawTrack(x, y, _times(times), "geojson")


def _geometry(feature: Any, i: int) -> dict[str, Any]:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not isinstance(geometry, dict):
        raise SpatialInputError("is no Feature with a geometry", f"feature {i}")
    return geometry


def _properties(feature: dict[str, Any]) -> dict[str, Any]:
    props = feature.get("properties")
    return props if isinstance(props, dict) else {}


def _read_line_feature(feature: Any) -> RawTrack:
    geometry = _geometry(feature, 0)
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind not in ("LineString", "MultiLineString") or not isinstance(coords, list):
        raise SpatialInputError(f"expected a LineString or MultiLineString, not {kind!r}")
    props = _properties(feature)
    nested = props.get("coordinateProperties")
    times = props.get("times", props.get("coordTimes"))
    if times is None and isinstance(nested, dict):
        times = nested.get("times")
    if times is None:
        raise SpatialInputError(
            "the line has no times: give properties.times (one per vertex)", "properties"
        )
    if kind == "MultiLineString":
        if not all(isinstance(line, list) for line in coords):
            raise SpatialInputError("MultiLineString coordinates must be lists of positions")
        coords = [p for line in coords for p in line]
        if isinstance(times, list) and times and all(isinstance(t, list) for t in times):
            times = [t for line in times for t in line]
    if not isinstance(times, list) or len(times) != len(coords):
        count = len(times) if isinstance(times, list) else "no list of"
        raise SpatialInputError(
            f"{count} times for {len(coords)} positions: give one time per vertex",
            "properties.times",
        )
    x, y = _positions(coords)
    return RawTrack(x, y, _times(times), "geojson")


def _positions(coords: list[Any]) -> tuple[FloatArray, FloatArray]:
    def usable(p: Any) -> bool:
        return (
            isinstance(p, list)
            and len(p) >= 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p[:2])
        )

    bad = [i for i, p in enumerate(coords) if not usable(p)]
    if bad:
        raise SpatialInputError("is not a position [lon, lat]", f"point {bad[0]}")
    xy = np.array([p[:2] for p in coords], dtype=np.float64).reshape(-1, 2)
    return xy[:, 0].copy(), xy[:, 1].copy()


def _times(values: list[Any]) -> FloatArray:
    """ISO 8601 strings or UNIX seconds/milliseconds → UNIX seconds (NaN where unreadable)."""
    numeric = np.array(
        [isinstance(v, (int, float)) and not isinstance(v, bool) for v in values], dtype=bool
    )
    text = np.array([isinstance(v, str) for v in values], dtype=bool)
    out = np.full(len(values), np.nan)
    if numeric.any():
        numbers = np.array([v for v, n in zip(values, numeric, strict=True) if n], np.float64)
        out[numeric] = np.where(np.abs(numbers) > 1e11, numbers / 1000.0, numbers)
    if text.any():
        strings = pd.Series([v for v, s in zip(values, text, strict=True) if s], dtype=object)
        parsed = pd.to_datetime(strings, utc=True, format="ISO8601", errors="coerce")
        # The epoch in the parsed times' own unit: in nanoseconds (pandas' default) the
        # difference overflows for years past 2262, such as a device's 9999-12-31.
        epoch = pd.Timestamp(0, tz="UTC").as_unit(parsed.dt.unit)
        seconds = (parsed - epoch).dt.total_seconds()
        out[text] = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


# ---------------------------------------------------------------------------------- cleaning


def haversine_m(lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray) -> Any:
    """Great-circle distance (m) between points, elementwise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def clean_track(
    raw: RawTrack,
    crs: InputCrs | str = CGCS2000,
    *,
    max_speed_mps: float = 30.0,
    min_part_points: int = 5,
    latest: float | None = None,
) -> CleanTrack:
    """Convert a track to CGCS2000 and clean it.

    Parameters
    ----------
    raw : RawTrack
        From :func:`read_track`, or arrays posted by a phone.
    crs : InputCrs or str
        The declared coordinate system of ``raw`` (see :func:`gridmap.spatial.crs.parse_crs`).
    max_speed_mps : float
        Fastest plausible movement between two fixes; faster means a teleport jump.
    min_part_points : int
        When a jump splits the track, parts with fewer points are dropped (``short_part``);
        the longest part is always kept.
    latest : float, optional
        UNIX time after which a point is refused (the caller's "now" plus its allowance for
        clock skew); None sets no upper bound.

    Returns
    -------
    CleanTrack
        Possibly without parts (see :attr:`CleanTrack.usable`); the report says why.

    Raises
    ------
    SpatialInputError
        Empty track, non-finite coordinate or time, impossible time, or no point in China.
    """
    declared = crs if isinstance(crs, InputCrs) else parse_crs(crs)
    x, y, t = (np.asarray(a, dtype=np.float64) for a in (raw.x, raw.y, raw.t))
    _check_input(x, y, t, latest)
    lon, lat = to_cgcs2000(x, y, declared)
    report = _new_report(len(t), declared, max_speed_mps)
    kept = _inside_china(lon, lat, report)
    kept = _sorted_by_time(kept, t, report)
    kept = _drop_duplicate_times(kept, t, report)
    kept = _drop_spikes(kept, lon, lat, t, max_speed_mps, report)
    parts, kept = _split_at_jumps(kept, lon, lat, t, max_speed_mps, min_part_points, report)
    track = CleanTrack(lon[kept], lat[kept], t[kept], kept, parts, report)
    _summarise(track)
    return track


def _check_input(x: FloatArray, y: FloatArray, t: FloatArray, latest: float | None) -> None:
    if not len(t):
        raise SpatialInputError("the track holds no points")
    if not (len(x) == len(y) == len(t)):
        raise SpatialInputError(f"{len(x)} longitudes, {len(y)} latitudes and {len(t)} times")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpatialInputError(
            f"coordinate is not a finite number (lon={x[i]}, lat={y[i]})", f"point {i}"
        )
    if not np.isfinite(t).all():
        i = int(np.flatnonzero(~np.isfinite(t))[0])
        raise SpatialInputError("time is missing or not a readable time", f"point {i}")
    wrong = t < EARLIEST
    if latest is not None:
        wrong |= t > latest
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        # Clipped to the years 1 to 9999 that a datetime can show.
        when = dt.datetime.fromtimestamp(float(np.clip(t[i], -62135596800, 253402300799)), dt.UTC)
        raise SpatialInputError(
            f"time {when.isoformat()} is before 2000 or in the future: check the device clock",
            f"point {i}",
        )


def _new_report(n: int, crs: InputCrs, max_speed_mps: float) -> dict[str, Any]:
    return {
        "points_in": n,
        "points_kept": 0,
        "crs": crs.name,
        "max_speed_mps": max_speed_mps,
        "reordered": 0,
        "dropped": dict.fromkeys(REASONS, 0),
        "dropped_points": {},
        "parts": 0,
        "breaks": [],
    }


def _note_dropped(report: dict[str, Any], reason: str, input_index: IntArray) -> None:
    report["dropped"][reason] += len(input_index)
    if len(input_index):
        listed = report["dropped_points"].setdefault(reason, [])
        listed.extend(int(i) for i in input_index[: max(0, _LISTED - len(listed))])


def _inside_china(lon: FloatArray, lat: FloatArray, report: dict[str, Any]) -> IntArray:
    inside = (lon >= 73.0) & (lon <= 136.0) & (lat >= 3.0) & (lat <= 54.0)
    if not inside.any():
        try:
            check_lonlat(lon[:1], lat[:1], label="point")
        except SpatialInputError as exc:
            raise SpatialInputError(f"no point lies in China; {exc.message}", exc.where) from None
    _note_dropped(report, "outside_china", np.flatnonzero(~inside))
    return np.flatnonzero(inside)


def _sorted_by_time(kept: IntArray, t: FloatArray, report: dict[str, Any]) -> IntArray:
    times = t[kept]
    running = np.maximum.accumulate(times)
    report["reordered"] = int(np.count_nonzero(times[1:] < running[:-1]))
    return kept[np.argsort(times, kind="stable")]


def _drop_duplicate_times(kept: IntArray, t: FloatArray, report: dict[str, Any]) -> IntArray:
    same = np.r_[False, np.diff(t[kept]) == 0]
    _note_dropped(report, "duplicate_time", kept[same])
    unique: IntArray = kept[~same]
    return unique


def _speeds(lon: FloatArray, lat: FloatArray, t: FloatArray, step: int = 1) -> FloatArray:
    """Speed (m/s) from each point to the one ``step`` later."""
    metres = haversine_m(lon[:-step], lat[:-step], lon[step:], lat[step:])
    result: FloatArray = metres / (t[step:] - t[:-step])
    return result


def _spikes(lon: FloatArray, lat: FloatArray, t: FloatArray, vmax: float) -> NDArray[np.bool_]:
    """Points reached and left too fast while skipping them is plausible, and an odd end."""
    fast = _speeds(lon, lat, t) > vmax
    drop = np.zeros(len(t), dtype=bool)
    if not fast.any():
        return drop
    bypass_ok = _speeds(lon, lat, t, step=2) <= vmax
    drop[1:-1] = fast[:-1] & fast[1:] & bypass_ok
    drop[0] = fast[0] and not fast[1]
    drop[-1] = fast[-1] and not fast[-2]
    return drop


def _drop_spikes(
    kept: IntArray,
    lon: FloatArray,
    lat: FloatArray,
    t: FloatArray,
    vmax: float,
    report: dict[str, Any],
) -> IntArray:
    for _ in range(_MAX_PASSES):
        if len(kept) < 3:
            break
        drop = _spikes(lon[kept], lat[kept], t[kept], vmax)
        if not drop.any():
            break
        _note_dropped(report, "teleport", kept[drop])
        kept = kept[~drop]
    return kept


def _split_at_jumps(
    kept: IntArray,
    lon: FloatArray,
    lat: FloatArray,
    t: FloatArray,
    vmax: float,
    min_points: int,
    report: dict[str, Any],
) -> tuple[list[tuple[int, int]], IntArray]:
    """Parts between the jumps that remain, the short ones dropped; (parts, kept)."""
    if len(kept) < 2:
        return [], kept
    speeds = _speeds(lon[kept], lat[kept], t[kept])
    jumps = np.flatnonzero(speeds > vmax) + 1
    report["breaks"] = [
        {"before_point": int(kept[j]), "speed_mps": round(float(speeds[j - 1]), 1)}
        for j in jumps[:_LISTED]
    ]
    bounds = np.r_[0, jumps, len(kept)]
    pieces = [kept[a:b] for a, b in itertools.pairwise(bounds)]
    longest = max(range(len(pieces)), key=lambda k: len(pieces[k]))
    wanted = [
        k == longest or len(p) >= min_points if len(pieces) > 1 else True
        for k, p in enumerate(pieces)
    ]
    out: list[IntArray] = []
    for piece, keep in zip(pieces, wanted, strict=True):
        moved = _distinct_positions(lon[piece], lat[piece])
        if keep and moved:
            out.append(piece)
        else:
            _note_dropped(report, "short_part" if moved else "no_movement", piece)
    if not out:
        return [], kept[:0]
    sizes = np.cumsum([0, *(len(p) for p in out)])
    return [(int(a), int(b)) for a, b in itertools.pairwise(sizes)], np.concatenate(out)


def _distinct_positions(lon: FloatArray, lat: FloatArray) -> bool:
    return len(lon) >= 2 and bool(np.any((lon != lon[0]) | (lat != lat[0])))


def _summarise(track: CleanTrack) -> None:
    report = track.report
    report["points_kept"] = len(track.t)
    report["parts"] = len(track.parts)
    if not len(track.t):
        return
    metres = 0.0
    for start, stop in track.parts:
        lon, lat = track.lon[start:stop], track.lat[start:stop]
        metres += float(np.sum(haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])))
    report["length_m"] = round(metres, 1)
    report["started_at"] = _iso(track.t[0])
    report["ended_at"] = _iso(track.t[-1])
    report["duration_s"] = round(float(track.t[-1] - track.t[0]), 1)


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(float(seconds), dt.UTC).isoformat()
