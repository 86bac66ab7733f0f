"""Declarative query parameters (they also make the OpenAPI description) and their parsing."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from flask import current_app
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError
from werkzeug.datastructures import FileStorage

from gridmap.core import clock
from gridmap.core.errors import InvalidInput
from gridmap.storage.grids import BBox

GridLevel = Literal["community", "zone", "micro"]
#: A grid code: a community (12 ASCII digits), a zone (14) or a micro-grid (17).
GRID_CODE = r"^[0-9]{12}([0-9]{2}([0-9]{3})?)?$"
#: The media type of the Excel downloads.
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: OpenAPI security requirement of the endpoints that need a login.
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


# -------------------------------------------------------------------- dates, times, periods
#
# Every date, time and period an API caller gives is one of these types: ISO 8601 text in
# ASCII digits (no UNIX timestamps, no full-width digits), in the years of
# ``clock.FIRST_YEAR`` to ``clock.LAST_YEAR``. Anything else is a 400 saying so, before any
# date arithmetic could overflow.

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
#: The supported years (``clock.FIRST_YEAR`` to ``clock.LAST_YEAR``, 1900–2200) as a pattern,
#: so the OpenAPI document says what the checks below accept.
_YEAR = r"(19[0-9]{2}|2[01][0-9]{2}|2200)"
_MONTH_TEXT = rf"^{_YEAR}-(0[1-9]|1[0-2])$"
_PERIOD_TEXT = rf"^{_YEAR}-(0[1-9]|1[0-2]|W(0[1-9]|[1-4][0-9]|5[0-3]))$"
_DAY_TEXT = rf"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_CLOCK = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.,][0-9]{1,9})?)?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)"
_MOMENT_TEXT = rf"{_DAY_TEXT[:-1]}({_CLOCK}{_OFFSET}?)?$"
#: A moment with its offset (what a phone sends).
_AWARE_MOMENT_TEXT = rf"{_DAY_TEXT[:-1]}{_CLOCK}{_OFFSET}$"
#: A cursor: the ``next`` a page gave out (a row id; ids are 32-bit: at most 9 digits).
CURSOR = r"^[0-9]{1,9}$"
_NUMBER = r"-?[0-9]{1,3}(\.[0-9]{1,15})?"
#: A bounding box: four decimal numbers (ranges and min ≤ max are checked by parse_bbox).
BBOX = rf"^{_NUMBER}(,{_NUMBER}){{3}}$"
_Dated = TypeVar("_Dated", dt.date, dt.datetime, str)


def _iso(shape: re.Pattern[str], example: str) -> Callable[[Any], Any]:
    """A check that text has the ISO 8601 ``shape`` (other input goes on to pydantic)."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and not shape.fullmatch(value):
            raise PydanticCustomError(
                "iso_text", f"must be ISO 8601 like {example}, in ASCII digits"
            )
        return value

    return check


def _supported(value: _Dated) -> _Dated:
    """Refuse a date, time or period outside the supported years."""
    year = int(value[:4]) if isinstance(value, str) else value.year
    if not clock.supported_year(year):
        raise PydanticCustomError(
            "year_range", f"the year must be {clock.FIRST_YEAR} to {clock.LAST_YEAR}, not {year}"
        )
    if isinstance(value, str) and "W" in value:
        try:
            dt.date.fromisocalendar(year, int(value[6:]), 1)
        except ValueError:
            raise PydanticCustomError(
                "no_such_week", f"{year} has no ISO week {value[5:]}"
            ) from None
    return value


def _as_date(value: Any) -> Any:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _as_moment(value: Any) -> Any:
    return dt.datetime.fromisoformat(value.replace(",", ".")) if isinstance(value, str) else value


def _calendar(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``parse``, with an impossible date (2026-02-30) as a validation error."""

    def checked(value: Any) -> Any:
        try:
            return parse(value)
        except ValueError:
            raise PydanticCustomError(
                "no_such_date", f"{value!r} is not a date or time of the calendar"
            ) from None

    return checked


def _pattern_only(pattern: str) -> Callable[[dict[str, Any]], None]:
    """The documented schema of a moment with its offset: its pattern instead of ``format:
    date-time``, which allows more (other years) and, beside the pattern, makes a generator
    (Schemathesis) throw most of what it makes away (its health check fails)."""

    def edit(schema: dict[str, Any]) -> None:
        schema.pop("format", None)
        schema["pattern"] = pattern

    return edit


#: A day, ``YYYY-MM-DD``.
Day = Annotated[
    dt.date,
    Field(json_schema_extra={"pattern": _DAY_TEXT}),
    BeforeValidator(_calendar(_as_date)),
    BeforeValidator(_iso(_DAY, "2026-11-22")),
    AfterValidator(_supported),
]
#: A moment, ``YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|±HH:MM]]`` (without an offset: as the
#: endpoint says, usually Beijing time). Documented as format ``moment``, not ``date-time``:
#: RFC 3339's date-time needs the time and its offset, which a moment may leave out.
Moment = Annotated[
    dt.datetime,
    Field(json_schema_extra={"pattern": _MOMENT_TEXT, "format": "moment"}),
    BeforeValidator(_calendar(_as_moment)),
    BeforeValidator(_iso(_MOMENT, "2026-11-22T09:30:00+08:00")),
    AfterValidator(_supported),
]
#: A moment with its offset (what a phone sends).
AwareMoment = Annotated[
    AwareDatetime,
    Field(json_schema_extra=_pattern_only(_AWARE_MOMENT_TEXT)),
    BeforeValidator(_calendar(_as_moment)),
    BeforeValidator(_iso(_MOMENT, "2026-11-22T09:30:00+08:00")),
    AfterValidator(_supported),
]
#: A month, ``YYYY-MM``.
Month = Annotated[
    str,
    Field(pattern=_MONTH_TEXT, json_schema_extra={"format": "month"}),
    AfterValidator(_supported),
]
#: A review period: a month ``YYYY-MM`` or an ISO week ``YYYY-Www``.
Period = Annotated[
    str,
    Field(pattern=_PERIOD_TEXT, json_schema_extra={"format": "period"}),
    AfterValidator(_supported),
]


# ---------------------------------------------------------------------------------- queries


class Query(BaseModel):
    """The base of every model of query parameters: flask-openapi3 reads the model's JSON
    schema to parse each request's parameters, and pydantic builds it afresh on every call
    (over a millisecond, as much as a short request's SQL); here it is built once per model.
    The schema returned is shared: read it, never change it."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs:  # the OpenAPI description's own forms
            return super().model_json_schema(*args, **kwargs)
        found = _SCHEMAS.get(cls)
        if found is None:
            found = _SCHEMAS[cls] = super().model_json_schema()
        return found


_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}


class PageQuery(Query):
    limit: int | None = Field(
        None, ge=1, description="Features per page (default 1000 or the server's maximum)"
    )
    cursor: str | None = Field(
        None, pattern=CURSOR, description="The `next` value of the previous page"
    )


class BBoxQuery(Query):
    bbox: str | None = Field(
        None,
        pattern=BBOX,
        description="minLon,minLat,maxLon,maxLat in EPSG:4490/WGS 84 degrees, "
        "e.g. 116.40,39.90,116.42,39.92",
    )


class GridListQuery(PageQuery, BBoxQuery):
    level: GridLevel | None = None
    parent: str | None = Field(
        None, description="Code of the parent grid", pattern=r"^[0-9]{12,14}$"
    )
    at: Day | None = Field(None, description="Grids valid on this date (default: today's)")


class GridPath(BaseModel):
    code: str = Field(pattern=GRID_CODE, description="Grid code")


class GridGetQuery(Query):
    at: Day | None = Field(
        None, description="The grid, its children and its staff as on this date (default: today)"
    )


class HouseholdListQuery(PageQuery, BBoxQuery):
    grid: str | None = Field(None, description="Code of a grid: households in its subtree")


class HouseholdExportQuery(BBoxQuery):
    grid: str | None = Field(None, description="Code of a grid: households in its subtree")


class HouseholdPath(BaseModel):
    household_id: int = Field(ge=1)


class LocateQuery(Query):
    lon: float = Field(description="Longitude (x) in the declared CRS")
    lat: float = Field(description="Latitude (y) in the declared CRS")
    crs: str = Field(
        "EPSG:4326",
        description="EPSG:4326, EPSG:4490, a CGCS2000 Gauss–Krüger zone (EPSG:4491–4554), "
        "GCJ02 (AMap/Tencent) or BD09 (Baidu)",
    )


class SearchQuery(Query):
    q: str = Field(min_length=1, max_length=100, description="Grid code, grid name or address")

    @field_validator("q")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v


def parse_bbox(text: str | None) -> BBox | None:
    """``"minLon,minLat,maxLon,maxLat"`` → a tuple, or a 400 saying what is wrong."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"bbox must be four numbers minLon,minLat,maxLon,maxLat, not {text!r}")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise InvalidInput(f"bbox longitudes must be within ±180: {text!r}")
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise InvalidInput(f"bbox latitudes must be within ±90 (lon/lat swapped?): {text!r}")
    if min_lon > max_lon or min_lat > max_lat:
        raise InvalidInput(f"bbox minimums must not exceed maximums: {text!r}")
    return (min_lon, min_lat, max_lon, max_lat)


def parse_page(query: PageQuery) -> tuple[int, int | None]:
    """The limit (checked against the server's maximum) and the id after which to start."""
    maximum = current_app.extensions["gridmap.settings"].max_page_size
    limit = min(1000, maximum) if query.limit is None else query.limit
    if limit > maximum:
        raise InvalidInput(f"limit must be at most {maximum}, not {limit}")
    if query.cursor is None:
        return limit, None
    if not (query.cursor.isascii() and query.cursor.isdigit()):
        raise InvalidInput(f"cursor {query.cursor!r} is not one this server gave out")
    return limit, int(query.cursor)


#: Form fields of an upload besides the file: (name, required, longest).
_UPLOAD_FIELDS = (("crs", True, 40), ("layer", False, 200), ("encoding", False, 40))
#: A foreign grid layer's upload (一张网): the grid file's fields, and what the layer is.
FOREIGN_LAYER_FIELDS = (
    *_UPLOAD_FIELDS,
    ("name", True, 100),
    ("department", True, 30),
    ("compare_level", False, 10),
)
_MISSING = {"crs": "请选择坐标系", "name": "请填写图层名称", "department": "请选择部门"}


def service_import_fields(form: Mapping[str, str]) -> tuple[Literal["sites", "network"], bool]:
    """``what`` (sites or network) and ``replace`` (true/false) of a service map upload."""
    what = (form.get("what") or "").strip()
    replace = (form.get("replace") or "false").strip().lower()
    if what not in ("sites", "network"):
        raise InvalidInput(f"what 应为 sites 或 network（not {what[:40]!r}）")
    if replace not in ("true", "false"):
        raise InvalidInput(f"replace 应为 true 或 false（not {replace[:40]!r}）")
    return ("sites" if what == "sites" else "network"), replace == "true"


def upload_form(
    files: Mapping[str, FileStorage],
    form: Mapping[str, str],
    *,
    field: str,
    fields: tuple[tuple[str, bool, int], ...] = _UPLOAD_FIELDS,
) -> tuple[FileStorage, dict[str, str]]:
    """The uploaded file of multipart field ``field`` and the upload's other ``fields`` (name,
    required, longest; blank ones left out), or a 400 in Chinese saying what is missing."""
    file = files.get(field)
    if file is None or not file.filename:
        raise InvalidInput(f"请选择要上传的文件（multipart field {field!r} is missing）")
    values: dict[str, str] = {}
    for name, required, longest in fields:
        value = (form.get(name) or "").strip()
        if required and not value:
            raise InvalidInput(f"{_MISSING.get(name, name)}（field {name!r} is required）")
        if len(value) > longest:
            raise InvalidInput(f"{name} 过长（at most {longest} characters）")
        if value:
            values[name] = value
    return file, values
