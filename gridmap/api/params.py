"""Declarative query parameters (they also make the OpenAPI description) and their parsing."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Literal

from flask import current_app
from pydantic import BaseModel, Field, field_validator
from werkzeug.datastructures import FileStorage

from gridmap.core.errors import InvalidInput
from gridmap.storage.grids import BBox

GridLevel = Literal["community", "zone", "micro"]
#: The media type of the Excel downloads.
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: OpenAPI security requirement of the endpoints that need a login.
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


class PageQuery(BaseModel):
    limit: int | None = Field(
        None, ge=1, description="Features per page (default 1000 or the server's maximum)"
    )
    cursor: str | None = Field(None, description="The `next` value of the previous page")


class BBoxQuery(BaseModel):
    bbox: str | None = Field(
        None,
        description="minLon,minLat,maxLon,maxLat in EPSG:4490/WGS 84 degrees, "
        "e.g. 116.40,39.90,116.42,39.92",
    )


class GridListQuery(PageQuery, BBoxQuery):
    level: GridLevel | None = None
    parent: str | None = Field(None, description="Code of the parent grid", pattern=r"^\d{12,14}$")
    at: dt.date | None = Field(None, description="Grids valid on this date (default: today's)")


class GridPath(BaseModel):
    code: str = Field(pattern=r"^\d{12}(\d{2}(\d{3})?)?$", description="Grid code")


class GridGetQuery(BaseModel):
    at: dt.date | None = Field(
        None, description="The grid, its children and its staff as on this date (default: today)"
    )


class HouseholdListQuery(PageQuery, BBoxQuery):
    grid: str | None = Field(None, description="Code of a grid: households in its subtree")


class HouseholdExportQuery(BBoxQuery):
    grid: str | None = Field(None, description="Code of a grid: households in its subtree")


class HouseholdPath(BaseModel):
    household_id: int = Field(ge=1)


class LocateQuery(BaseModel):
    lon: float = Field(description="Longitude (x) in the declared CRS")
    lat: float = Field(description="Latitude (y) in the declared CRS")
    crs: str = Field(
        "EPSG:4326",
        description="EPSG:4326, EPSG:4490, a CGCS2000 Gauss–Krüger zone (EPSG:4491–4554), "
        "GCJ02 (AMap/Tencent) or BD09 (Baidu)",
    )


class SearchQuery(BaseModel):
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
    if not query.cursor.isdigit():
        raise InvalidInput(f"cursor {query.cursor!r} is not one this server gave out")
    return limit, int(query.cursor)


#: Form fields of an upload besides the file: (name, required, longest).
_UPLOAD_FIELDS = (("crs", True, 40), ("layer", False, 200), ("encoding", False, 40))


def upload_form(
    files: Mapping[str, FileStorage], form: Mapping[str, str], *, field: str
) -> tuple[FileStorage, dict[str, str]]:
    """The uploaded file of multipart field ``field`` and the upload's other fields (blank
    ones left out), or a 400 in Chinese saying what is missing."""
    file = files.get(field)
    if file is None or not file.filename:
        raise InvalidInput(f"请选择要上传的文件（multipart field {field!r} is missing）")
    values: dict[str, str] = {}
    for name, required, longest in _UPLOAD_FIELDS:
        value = (form.get(name) or "").strip()
        if required and not value:
            raise InvalidInput(f"请选择坐标系（field {name!r} is required）")
        if len(value) > longest:
            raise InvalidInput(f"{name} 过长（at most {longest} characters）")
        if value:
            values[name] = value
    return file, values
