"""Input coordinate systems: parse what a client declares and bring it to CGCS2000 (EPSG:4490).

Field data reach gridmap in five guises: WGS 84 from GPS, CGCS2000 lon/lat from official
surveys, CGCS2000 Gauss–Krüger metres from surveying offices, GCJ-02 from AMap/Tencent phone SDKs
and BD-09 from Baidu. This module owns the list of accepted systems, the conversions (GCJ-02 and
BD-09 are obfuscations, not datums, so pyproj cannot do them: they are written here from the
published formulas) and the sanity checks that catch unconverted or swapped coordinates before
they reach the database.

CGCS2000 and WGS 84 differ by centimetres; like the rest of gridmap we treat them as equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CGCS2000",
    "CHINA_LAT",
    "CHINA_LON",
    "DENSIFY_STEP_M",
    "InputCrs",
    "SpatialInputError",
    "bd09_to_wgs84",
    "check_geometries_in_china",
    "check_lonlat",
    "gcj02_to_wgs84",
    "geoseries_to_cgcs2000",
    "local_metric_crs",
    "parse_crs",
    "to_cgcs2000",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

CGCS2000 = "EPSG:4490"
#: China's envelope used to reject impossible coordinates (generous: Zengmu Ansha to Mohe).
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)

FloatArray = NDArray[np.float64]

#: Longest edge (metres) left undivided before a non-identity conversion. GCJ-02/BD-09 and map
#: projections bend straight lines; converting only the vertices of a 5 km east-west edge in
#: Beijing misplaces its middle by 0.9 m (GCJ-02) or 30 m (BD-09), and two grids sharing that
#: edge with different vertices (a T-junction) then bend it differently. Cut to 50 m, the error
#: falls with the square of the step: below 0.1 mm (GCJ-02) and 3 mm (BD-09).
DENSIFY_STEP_M = 50.0
#: Metres per degree along a meridian; also an upper bound along a parallel.
_M_PER_DEGREE = 111_320.0

ALLOWED_CRS_TEXT = (
    "EPSG:4326 (WGS84), EPSG:4490 (CGCS2000), EPSG:4491-4554 (CGCS2000 Gauss-Kruger zones), "
    "GCJ02 (AMap/Tencent), BD09 (Baidu)"
)


class SpatialInputError(ValueError):
    """Bad spatial input: a message for a person and, when known, where it is.

    Parameters
    ----------
    message : str
        What is wrong, in words a user can act on.
    where : str, optional
        The place in the input, e.g. ``"feature 12"``, ``"row 7"``, ``"coordinate 3"``.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where


@dataclass(frozen=True)
class InputCrs:
    """A coordinate system accepted on input.

    Attributes
    ----------
    name : str
        ``"EPSG:4326"``, ``"EPSG:4490"``, ``"EPSG:45xx"``, ``"gcj02"`` or ``"bd09"``.
    geographic : bool
        True for lon/lat in degrees, False for projected metres (Gauss–Krüger).
    """

    name: str
    geographic: bool

    @property
    def epsg(self) -> int | None:
        """The EPSG code, or None for the GCJ-02/BD-09 obfuscations."""
        return int(self.name[5:]) if self.name.startswith("EPSG:") else None


_WGS84 = InputCrs("EPSG:4326", True)
_CGCS = InputCrs("EPSG:4490", True)
_GCJ02 = InputCrs("gcj02", True)
_BD09 = InputCrs("bd09", True)
_ALIASES = {
    "WGS84": _WGS84,
    "CRS84": _WGS84,  # what GeoJSON files declare for lon/lat WGS 84
    "CGCS2000": _CGCS,
    "GCJ02": _GCJ02,
    "BD09": _BD09,
}
_GK_EPSG = range(4491, 4555)
_EPSG_RE = re.compile(r"^(?:EPSG:+|URN:OGC:DEF:CRS:EPSG:[0-9.]*:)?(\d{4,5})$")


def parse_crs(text: str | None) -> InputCrs:
    """Parse a declared input coordinate system.

    Parameters
    ----------
    text : str
        Case-insensitive: ``"EPSG:4326"``, ``"4326"``, ``"WGS84"``, ``"wgs 84"``, ``"EPSG:4490"``,
        ``"CGCS2000"``, ``"EPSG:4491"`` … ``"EPSG:4554"`` (CGCS2000 Gauss–Krüger zones),
        ``"GCJ02"``/``"GCJ-02"``, ``"BD09"``/``"BD-09"``. OGC URNs of these EPSG codes and
        ``CRS84`` (as found in GeoJSON files) are accepted too.

    Returns
    -------
    InputCrs

    Raises
    ------
    SpatialInputError
        For anything else, naming the allowed values. Web Mercator (EPSG:3857) is refused on
        purpose: it is a display projection, and data in it are almost always a mistake.
    """
    raw = "" if text is None else str(text)
    key = re.sub(r"[\s_\-]", "", raw).upper()
    key = key.replace("URN:OGC:DEF:CRS:OGC:1.3:", "").replace("URN:OGC:DEF:CRS:OGC::", "")
    if key in _ALIASES:
        return _ALIASES[key]
    match = _EPSG_RE.match(key)
    if match:
        code = int(match.group(1))
        if code == 4326:
            return _WGS84
        if code == 4490:
            return _CGCS
        if code in _GK_EPSG:
            return InputCrs(f"EPSG:{code}", False)
    raise SpatialInputError(f"unsupported coordinate system {text!r}; allowed: {ALLOWED_CRS_TEXT}")


# --- GCJ-02 / BD-09 -------------------------------------------------------------------------
# The published GCJ-02 formulas (Krasovsky ellipsoid constants, polynomial + sine offsets around
# (105E, 35N)); the same code circulates as eviltransform / coordtransform.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0
# GCJ-02 is only applied inside this rough rectangle; outside it the obfuscation is the identity.
_GCJ_LON = (72.004, 137.8347)
_GCJ_LAT = (0.8293, 55.8271)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 shift (degrees) at WGS 84 positions; zero outside China's rectangle."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * pi)
    inside = (
        (lon >= _GCJ_LON[0]) & (lon <= _GCJ_LON[1]) & (lat >= _GCJ_LAT[0]) & (lat <= _GCJ_LAT[1])
    )
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _as_float(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Apply the GCJ-02 obfuscation (WGS 84 → AMap/Tencent coordinates).

    Parameters
    ----------
    lon, lat : array_like
        WGS 84 (or CGCS2000) degrees.

    Returns
    -------
    lon, lat : ndarray
        GCJ-02 degrees; unchanged outside China.
    """
    lon, lat = _as_float(lon), _as_float(lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    x: FloatArray,
    y: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Invert a small smooth shift by fixed-point iteration.

    The shift varies slowly (its Jacobian is within 1e-4 of the identity), so each step gains
    about four digits; a dozen steps reach 1e-12 degrees, far below the 0.5 m target.
    """
    gx, gy = x.copy(), y.copy()
    for _ in range(12):
        fx, fy = forward(gx, gy)
        ex, ey = fx - x, fy - y
        gx -= ex
        gy -= ey
        # NaN never converges; ignore it here, check_lonlat reports it.
        if (
            np.nanmax(np.abs(ex), initial=0.0) < 1e-12
            and np.nanmax(np.abs(ey), initial=0.0) < 1e-12
        ):
            break
    return gx, gy


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Remove the GCJ-02 obfuscation (AMap/Tencent → WGS 84), iteratively.

    The usual one-step inverse (subtract the shift computed at the GCJ-02 point) is off by up to
    a couple of metres; iterating the forward formula converges to well under a centimetre.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees.

    Returns
    -------
    lon, lat : ndarray
        WGS 84 degrees.
    """
    return _invert(wgs84_to_gcj02, _as_float(lon), _as_float(lat))


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS 84 → BD-09 (Baidu): GCJ-02 first, then Baidu's own rotation and shift.

    Parameters
    ----------
    lon, lat : array_like
        WGS 84 degrees.

    Returns
    -------
    lon, lat : ndarray
        BD-09 degrees.
    """
    return _gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 (Baidu) → WGS 84, inverting both layers iteratively.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 degrees.

    Returns
    -------
    lon, lat : ndarray
        WGS 84 degrees.
    """
    gx, gy = _invert(_gcj02_to_bd09, _as_float(lon), _as_float(lat))
    return gcj02_to_wgs84(gx, gy)


# --- Gauss–Krüger and local metric systems ----------------------------------------------------
@lru_cache(maxsize=128)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    # Transformers are costly to build and immutable: cache them per process.
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def local_metric_crs(lon: float, lat: float = 35.0) -> str:
    """The CGCS2000 3-degree Gauss–Krüger zone (central-meridian form) for a longitude.

    Used to measure metres and square metres: inside its ±1.5° band the scale error is below
    0.04 %, so a 1 m tolerance or a 1 m² sliver is measured faithfully at city scale.

    Parameters
    ----------
    lon : float
        Longitude of the data's centre, degrees east, within China.
    lat : float, optional
        Unused for the choice; kept so callers pass a full position.

    Returns
    -------
    str
        ``"EPSG:4534"`` (CM 75E) … ``"EPSG:4554"`` (CM 135E).
    """
    del lat  # the zone depends on longitude only
    cm = int(np.clip(3 * round(lon / 3.0), 75, 135))
    return f"EPSG:{4534 + (cm - 75) // 3}"


def transform_xy(x: ArrayLike, y: ArrayLike, src: str, dst: str) -> tuple[FloatArray, FloatArray]:
    """Transform coordinate arrays between two pyproj CRSs (x = easting/longitude)."""
    tx, ty = _transformer(src, dst).transform(_as_float(x), _as_float(y))
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def to_cgcs2000(x: ArrayLike, y: ArrayLike, crs: InputCrs) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates in a declared input CRS to CGCS2000 lon/lat.

    Parameters
    ----------
    x, y : array_like
        Longitude/latitude in degrees, or easting/northing in metres for Gauss–Krüger.
    crs : InputCrs
        From :func:`parse_crs`.

    Returns
    -------
    lon, lat : ndarray
        EPSG:4490 degrees (numerically the same as WGS 84 for our purposes).
    """
    if crs.name in ("EPSG:4326", "EPSG:4490"):
        return _as_float(x).copy(), _as_float(y).copy()
    if crs.name == "gcj02":
        return gcj02_to_wgs84(x, y)
    if crs.name == "bd09":
        return bd09_to_wgs84(x, y)
    return transform_xy(x, y, crs.name, CGCS2000)


def geoseries_to_cgcs2000(
    geoms: gpd.GeoSeries | NDArray[np.object_],
    crs: InputCrs,
    *,
    densify_m: float | None = DENSIFY_STEP_M,
) -> gpd.GeoSeries:
    """Convert some geometries to CGCS2000, densifying their edges first.

    Parameters
    ----------
    geoms : GeoSeries or array of shapely geometries
        Coordinates in ``crs``; a GeoSeries's own ``crs`` attribute is ignored, the declared one
        wins (files from phone SDKs claim WGS 84 while holding GCJ-02).
    crs : InputCrs
        The declared input coordinate system.
    densify_m : float or None
        Before a conversion that is not the identity (GCJ-02, BD-09, Gauss–Krüger), edges longer
        than this many metres are cut into equal pieces (``shapely.segmentize``), so that a
        straight edge follows the conversion's curve and an edge shared by two grids stays
        shared however each of them was cut (see :data:`DENSIFY_STEP_M`). None: vertices only.

    Returns
    -------
    GeoSeries
        In EPSG:4490, keeping the index of a GeoSeries input.
    """
    index = geoms.index if isinstance(geoms, gpd.GeoSeries) else None
    values = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    if crs.name in ("EPSG:4326", "EPSG:4490"):
        return gpd.GeoSeries(values.copy(), index=index, crs=CGCS2000)
    if densify_m is not None:
        if densify_m <= 0:
            raise ValueError("densify_m must be > 0 or None")
        step = densify_m if not crs.geographic else densify_m / _M_PER_DEGREE
        values = shapely.segmentize(values, step)

    def convert(coords: FloatArray) -> FloatArray:
        lon, lat = to_cgcs2000(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([lon, lat])

    out = shapely.transform(values, convert)
    return gpd.GeoSeries(out, index=index, crs=CGCS2000)


# --- sanity checks -----------------------------------------------------------------------------
def _inside_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    return (
        (lon >= CHINA_LON[0])
        & (lon <= CHINA_LON[1])
        & (lat >= CHINA_LAT[0])
        & (lat <= CHINA_LAT[1])
    )


def check_lonlat(lon: ArrayLike, lat: ArrayLike, *, label: str = "point") -> None:
    """Reject lon/lat that cannot be a place in China.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, already converted to CGCS2000.
    label : str
        What to call an element in messages: ``"point"``, ``"row"``, ``"coordinate"`` …

    Raises
    ------
    SpatialInputError
        At the first offending element (``where`` is ``"<label> <index>"``): a NaN or infinite
        value, a position outside lon 73..136, lat 3..54, with a hint when swapping the two
        would land in China or when the numbers look like projected metres.
    """
    lon = np.atleast_1d(_as_float(lon))
    lat = np.atleast_1d(_as_float(lat))
    if lon.shape != lat.shape:
        raise SpatialInputError(f"{lon.size} longitudes but {lat.size} latitudes")
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpatialInputError(
            f"coordinate is not a finite number (lon={lon[i]}, lat={lat[i]})",
            f"{label} {i}",
        )
    outside = ~_inside_china(lon, lat)
    if not outside.any():
        return
    i = int(np.flatnonzero(outside)[0])
    raise SpatialInputError(_outside_message(lon[i], lat[i]), f"{label} {i}")


def _outside_message(lon: float, lat: float) -> str:
    text = (
        f"lon={lon:.7g}, lat={lat:.7g} is outside China "
        f"(lon {CHINA_LON[0]:g}..{CHINA_LON[1]:g}, lat {CHINA_LAT[0]:g}..{CHINA_LAT[1]:g})"
    )
    if _inside_china(np.array([lat]), np.array([lon]))[0]:
        return text + "; longitude and latitude look swapped"
    if abs(lon) > 180 or abs(lat) > 90:
        return text + "; these look like projected metres: declare the coordinate system"
    return text


def check_geometries_in_china(
    geoms: gpd.GeoSeries | NDArray[np.object_], *, label: str = "feature"
) -> None:
    """Reject geometries that are missing, empty, hold NaN/inf or reach outside China.

    Parameters
    ----------
    geoms : GeoSeries or array of shapely geometries
        In CGCS2000 lon/lat.
    label : str
        What to call an element in messages; the index is the position in ``geoms``.

    Raises
    ------
    SpatialInputError
        At the first offending geometry.
    """
    values = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if missing.any():
        raise SpatialInputError(
            "geometry is missing or empty", f"{label} {np.flatnonzero(missing)[0]}"
        )
    coords, owner = shapely.get_coordinates(values, return_index=True)
    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise SpatialInputError(
            f"coordinate {k - int(np.searchsorted(owner, owner[k]))} is not a finite number",
            f"{label} {owner[k]}",
        )
    outside = ~_inside_china(coords[:, 0], coords[:, 1])
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise SpatialInputError(_outside_message(coords[k, 0], coords[k, 1]), f"{label} {owner[k]}")
