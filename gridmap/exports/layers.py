"""What a GIS export holds: the one check of its parameters, the rows of a layer in the
caller's scope (the storage modules' own queries and scope conditions) and each row as a flat
record, masked by the rule of every answer (:mod:`gridmap.grid.masked`,
:mod:`gridmap.requests.masked`) for the reader's :class:`~gridmap.core.privacy.Disclosure`.

The ``onenet`` layer is a foreign grid layer's cells (一张网, ``foreign_layer``) on grids in
scope, each with its verdict and what it cuts of ours (:mod:`gridmap.storage.onenet`).

The ``review`` layer is the review (一月一研判) of a period as a layer: today's micro-grids of
the reviewed area, each with the figures of :func:`gridmap.review.service.micro_grid_review`
(the review page's and the monthly report's), under the review's own filter
(:func:`gridmap.review.service.build_filter`).

Field names are stable English names (GeoJSON and GeoPackage keep them); a CSV for people
gets the glossary's Chinese headings and labels instead of codes (``header="zh"``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, cast, get_args

from sqlalchemy import Row, Select
from sqlalchemy.orm import Session

from gridmap.access.auth import Scope
from gridmap.core import glossary
from gridmap.core.clock import BEIJING, FIRST_YEAR, LAST_YEAR
from gridmap.core.errors import InvalidInput, NotFound
from gridmap.core.privacy import Disclosure
from gridmap.grid.masked import grid_properties, household_properties
from gridmap.requests import lifecycle
from gridmap.requests.masked import properties as request_properties
from gridmap.review import service as review
from gridmap.storage import grids, households, onenet
from gridmap.storage import requests as request_store
from gridmap.storage.grids import GridRow
from gridmap.storage.households import HouseholdExportRow
from gridmap.storage.review import ReviewFilter, review_prefixes
from gridmap.storage.sql import GeometryEncoding, count_upto, stream

Layer = Literal["households", "grids", "requests", "review", "onenet"]
Format = Literal["geojson", "gpkg", "csv"]
CsvGeometry = Literal["lonlat", "wkt"]
Header = Literal["zh", "en"]
LAYERS: Final[tuple[Layer, ...]] = get_args(Layer)
FORMATS: Final[tuple[Format, ...]] = get_args(Format)
GRID_LEVELS: Final = ("community", "zone", "micro")
#: The CRS of every export: coordinates as stored (CGCS2000 longitude, latitude).
CRS: Final = "EPSG:4490"
#: The geometry type of each layer's features.
GEOMETRY_TYPES: Final[dict[Layer, str]] = {
    "households": "Point",
    "grids": "MultiPolygon",
    "requests": "Point",
    "review": "MultiPolygon",
    "onenet": "MultiPolygon",
}

#: Each layer's fields in order, with the pandas type a GeoPackage column is written as.
FIELDS: Final[dict[Layer, tuple[tuple[str, str], ...]]] = {
    "households": (
        ("id", "Int64"),
        ("address", "string"),
        ("building", "string"),
        ("unit", "string"),
        ("room", "string"),
        ("residents", "Int64"),
        ("care_tags", "string"),
        ("micro_grid_code", "string"),
        ("covered", "boolean"),
    ),
    "grids": (
        ("code", "string"),
        ("name", "string"),
        ("level", "string"),
        ("kind", "string"),
        ("parent_code", "string"),
        ("valid_from", "string"),
        ("valid_to", "string"),
    ),
    "requests": (
        ("id", "Int64"),
        ("state", "string"),
        ("level", "string"),
        ("category_code", "string"),
        ("category_name", "string"),
        ("description", "string"),
        ("micro_grid_code", "string"),
        ("household_id", "Int64"),
        ("owner_name", "string"),
        ("owner_phone", "string"),
        ("department", "string"),
        ("source", "string"),
        ("reopen_count", "Int64"),
        ("rating", "string"),
        ("duplicate_of", "Int64"),
        ("created_at", "string"),
        ("updated_at", "string"),
        ("stage", "string"),
        ("stage_deadline", "string"),
        ("warning", "string"),
    ),
    "review": (
        ("code", "string"),
        ("name", "string"),
        ("zone_code", "string"),
        ("period", "string"),
        ("households", "Int64"),
        ("requests", "Int64"),
        ("overdue", "Int64"),
        ("per_100_households", "Float64"),
        ("hot_spot_z", "Float64"),
        ("hot_spot_p", "Float64"),
        ("hot_spot_bin", "Int64"),
        ("hot_spot_trend", "string"),
        ("worsening", "boolean"),
        ("candidate", "boolean"),
        ("response_rate", "Float64"),
        ("resolution_rate", "Float64"),
        ("satisfaction_rate", "Float64"),
    ),
    "onenet": (
        ("code", "string"),
        ("name", "string"),
        ("status", "string"),
        ("area_m2", "Float64"),
        ("households", "Int64"),
        ("best_grid_code", "string"),
        ("hausdorff_m", "Float64"),
        ("symdiff_m2", "Float64"),
        ("pieces", "string"),
    ),
}
#: The filters each layer takes besides ``grid`` and ``bbox``.
_LAYER_FILTERS: Final[dict[str, tuple[Layer, ...]]] = {
    "level": ("grids",),
    "at": ("grids",),
    "states": ("requests", "review"),
    "category": ("requests", "review"),
    "overdue": ("requests", "review"),
    "first": ("requests",),
    "last": ("requests",),
    "first_period": ("review",),
    "last_period": ("review",),
    "foreign_layer": ("onenet",),
}
#: A filter's name as the caller gives it (``from`` and ``to`` are days for requests and
#: months or weeks for the review).
_PUBLIC_NAMES: Final = {
    "states": "state",
    "first": "from (a day)",
    "last": "to (a day)",
    "first_period": "from (a month or week)",
    "last_period": "to (a month or week)",
}
#: Codes shown as their Chinese label in a CSV for people.
_LABELS: Final[dict[str, Any]] = {
    "level": glossary.LEVELS,
    "kind": glossary.GRID_KINDS,
    "state": glossary.STATES,
    "source": glossary.SOURCES,
    "rating": glossary.RATINGS,
    "stage": glossary.STAGES,
    "warning": glossary.WARNING_CELLS,
    "hot_spot_trend": glossary.HOT_SPOT_TRENDS,
    "status": glossary.ONENET_STATUSES,
}


@dataclass(frozen=True)
class ExportRequest:
    """What a GIS export is asked for: a layer, a format and the layer's filters.

    ``grid`` narrows to a subtree (404 outside the scope), ``bbox`` to a lon/lat box; grids
    take ``level`` and ``at`` (the grids valid on that day); requests take ``states``,
    ``category``, ``overdue`` and the days filed ``first``..``last`` (Beijing time); the
    review takes ``states`` (states or the review's groups), ``category``, ``overdue`` and
    its periods ``first_period``..``last_period`` (months ``YYYY-MM`` or weeks ``YYYY-Www``;
    last month by default). A CSV has ``geometry`` (``lonlat``, the default, or ``wkt``) and
    ``header`` (``zh``, the default, or ``en``); other formats refuse both.
    """

    layer: Layer
    format: Format = "geojson"
    geometry: CsvGeometry | None = None
    header: Header | None = None
    grid: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    level: str | None = None
    at: dt.date | None = None
    states: tuple[str, ...] = field(default=())
    category: str | None = None
    overdue: bool = False
    first: dt.date | None = None
    last: dt.date | None = None
    first_period: str | None = None
    last_period: str | None = None
    foreign_layer: int | None = None

    def params(self) -> dict[str, Any]:
        """As JSON, for the job's record."""
        found = asdict(self)
        for key in ("at", "first", "last"):
            found[key] = found[key] and found[key].isoformat()
        found["bbox"] = list(self.bbox) if self.bbox else None
        found["states"] = list(self.states)
        return found

    def filters(self) -> dict[str, Any]:
        """The parameters given (all but the layer and format), as JSON: an audit row's."""
        found = self.params()
        given = {k: v for k, v in found.items() if v not in (None, [], False)}
        return {k: v for k, v in given.items() if k not in ("layer", "format")}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ExportRequest:
        def day(key: str) -> dt.date | None:
            return dt.date.fromisoformat(params[key]) if params.get(key) else None

        bbox = params.get("bbox")
        return cls(
            layer=params["layer"],
            format=params.get("format") or "geojson",
            geometry=params.get("geometry"),
            header=params.get("header"),
            grid=params.get("grid"),
            bbox=(bbox[0], bbox[1], bbox[2], bbox[3]) if bbox else None,
            level=params.get("level"),
            at=day("at"),
            states=tuple(params.get("states") or ()),
            category=params.get("category"),
            overdue=bool(params.get("overdue")),
            first=day("first"),
            last=day("last"),
            first_period=params.get("first_period"),
            last_period=params.get("last_period"),
            foreign_layer=params.get("foreign_layer"),
        )

    @property
    def csv_geometry(self) -> CsvGeometry:
        return self.geometry or "lonlat"

    @property
    def csv_header(self) -> Header:
        return self.header or "zh"


def check(scope: Scope, wanted: ExportRequest) -> None:
    """Refuse an export that cannot be made (400 saying which parameter) or of a grid outside
    the scope (404, as if it did not exist)."""
    if wanted.layer not in LAYERS:
        raise InvalidInput(f"layer must be one of {', '.join(LAYERS)}, not {wanted.layer!r}")
    if wanted.format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {wanted.format!r}")
    if wanted.format != "csv" and (wanted.geometry or wanted.header):
        raise InvalidInput("geometry and header apply to format csv only")
    for name, layers in _LAYER_FILTERS.items():
        value = getattr(wanted, name)
        if value and wanted.layer not in layers:
            raise InvalidInput(
                f"{_PUBLIC_NAMES.get(name, name)} applies to the {' and '.join(layers)} "
                f"layer{'s' if len(layers) > 1 else ''} only, not {wanted.layer}"
            )
    _check_values(wanted)
    if wanted.layer == "onenet" and wanted.foreign_layer is None:
        raise InvalidInput("the onenet layer needs foreign_layer (a foreign layer's id)")
    if wanted.grid is not None and not review_prefixes(scope, wanted.grid):
        raise NotFound(f"grid {wanted.grid} is not in your area")
    if wanted.layer == "review":
        review.check_rate_span(review_filter(scope, wanted))


def _check_values(wanted: ExportRequest) -> None:
    if wanted.level is not None and wanted.level not in GRID_LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(GRID_LEVELS)}, not {wanted.level!r}")
    unknown = [s for s in wanted.states if s not in lifecycle.STATES]
    if unknown and wanted.layer != "review":  # the review's filter knows its state groups
        raise InvalidInput(f"states must be among {', '.join(lifecycle.STATES)}; not {unknown}")
    if wanted.first and wanted.last and wanted.first > wanted.last:
        raise InvalidInput("from must not be after to")
    for day in (wanted.at, wanted.first, wanted.last):
        if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise InvalidInput(f"dates must lie in the years {FIRST_YEAR} to {LAST_YEAR}")
    if wanted.bbox is not None:
        w, s, e, n = wanted.bbox
        finite = all(math.isfinite(v) for v in wanted.bbox)
        if not (finite and -180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise InvalidInput("bbox must be minLon,minLat,maxLon,maxLat in degrees, min < max")


def review_filter(scope: Scope, wanted: ExportRequest) -> ReviewFilter:
    """The review the ``review`` layer shows: the review API's filter of its periods,
    category, states and overdue, in the caller's scope narrowed to ``grid``."""
    return review.build_filter(
        scope,
        review.Query(
            first=wanted.first_period,
            last=wanted.last_period,
            categories=(wanted.category,) if wanted.category else (),
            states=wanted.states,
            overdue=wanted.overdue,
            grid=wanted.grid,
        ),
    )


def select_rows(scope: Scope, wanted: ExportRequest, geometry: GeometryEncoding) -> Select[Any]:
    """The layer's rows in ``scope`` that ``wanted`` asks for, with the geometry's columns;
    the review's rows are its micro-grids (their figures are added by :func:`rows`)."""
    prefix = wanted.grid
    if wanted.layer == "onenet":
        narrowed = Scope(prefixes=review_prefixes(scope, prefix)) if prefix else scope
        return onenet.cells_select(narrowed, wanted.foreign_layer or 0, geometry, bbox=wanted.bbox)
    if wanted.layer == "households":
        return households.export_select(
            scope, bbox=wanted.bbox, grid_code=prefix, geometry=geometry
        )
    if wanted.layer == "grids":
        return grids.export_select(
            scope,
            level=wanted.level,
            grid_code=prefix,
            at=wanted.at,
            bbox=wanted.bbox,
            geometry=geometry,
        )
    if wanted.layer == "review":
        reviewed = Scope(prefixes=review_filter(scope, wanted).prefixes)
        return grids.export_select(reviewed, level="micro", bbox=wanted.bbox, geometry=geometry)
    wanted_requests = request_store.RequestFilter(
        states=wanted.states,
        category=wanted.category,
        grid_code=prefix,
        overdue=wanted.overdue,
        bbox=wanted.bbox,
    )
    return request_store.export_select(
        scope,
        wanted_requests,
        since=_start_of(wanted.first),
        until=_start_of(wanted.last and wanted.last + dt.timedelta(days=1)),
        geometry=geometry,
    )


def _start_of(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), BEIJING) if day else None


def check_layer(session: Session, scope: Scope, wanted: ExportRequest) -> None:
    """Refuse an export of a foreign layer the caller cannot see (404, as if none)."""
    layer_id = wanted.foreign_layer
    if wanted.layer == "onenet" and (
        layer_id is None or not onenet.layer(session, scope, layer_id)
    ):
        raise NotFound(f"no foreign layer {layer_id}")


def count(session: Session, scope: Scope, wanted: ExportRequest, cap: int) -> int:
    """How many rows the export has, counted no further than ``cap + 1``."""
    return count_upto(session, select_rows(scope, wanted, "lonlat"), cap)


@dataclass(frozen=True)
class ReviewRow:
    """A micro-grid of the review layer: its record (the layer's fields) and its outline in
    the export's encoding (``geometry``, or ``lon`` and ``lat``), as a grid's row has them."""

    code: str
    figures: dict[str, Any]
    geometry: Any = None
    lon: float | None = None
    lat: float | None = None


#: A row a writer writes: a storage query's row, or a micro-grid of the review.
ExportRow = Row[Any] | ReviewRow


def rows(
    session: Session, scope: Scope, wanted: ExportRequest, geometry: GeometryEncoding
) -> Iterator[ExportRow]:
    """The export's rows through a server-side cursor (memory flat however many); the
    review's figures are computed first, for the whole reviewed area."""
    found = stream(session, select_rows(scope, wanted, geometry))
    if wanted.layer != "review":
        return found
    reviewed = review_filter(scope, wanted)
    figures = review.micro_grid_review(session, reviewed)
    described = review.describe(reviewed)
    period = "..".join(dict.fromkeys((described["from"], described["to"])))
    return (_review_row(row, figures.get(row.code, {}), period) for row in found)


def _review_row(row: Row[Any], figures: dict[str, Any], period: str) -> ReviewRow:
    grid = {"code": row.code, "name": row.name, "zone_code": row.parent_code, "period": period}
    where = row._mapping  # the outline's columns: geometry, or lon and lat
    return ReviewRow(
        code=row.code,
        figures=grid | {name: figures.get(name) for name in review.MICRO_GRID_FIGURES},
        geometry=where.get("geometry"),
        lon=where.get("lon"),
        lat=where.get("lat"),
    )


def feature_id(layer: Layer, row: ExportRow) -> Any:
    """A feature's id: a grid's code (a micro-grid's in the review), a household's or
    request's number."""
    if isinstance(row, ReviewRow) or layer in ("grids", "onenet"):
        return row.code
    return row.id


def record(layer: Layer, row: ExportRow, disclosure: Disclosure) -> dict[str, Any]:
    """One row as a flat record of the layer's fields (codes, English names), masked as in
    every answer to ``disclosure``'s reader."""
    if isinstance(row, ReviewRow):
        return row.figures
    if layer == "households":
        found = household_properties(cast(HouseholdExportRow, row), disclosure)
        return found | {"care_tags": ";".join(found["care_tags"])}
    if layer == "grids":
        return grid_properties(cast(GridRow, row))
    if layer == "onenet":
        return {name: getattr(row, name) for name, _ in FIELDS["onenet"]}
    shown = request_properties(row, disclosure)
    category, owner = shown.pop("category"), shown.pop("owner")
    shown.pop("stage_started_at")
    return {
        name: shown.get(name)
        for name, _ in FIELDS["requests"]
        if name not in ("category_code", "category_name", "owner_name", "owner_phone", "department")
    } | {
        "category_code": category["code"],
        "category_name": category["name"],
        "owner_name": owner["name"],
        "owner_phone": owner["phone"],
        "department": owner["department"],
    }


def headings(layer: Layer, header: Header) -> list[str]:
    """The CSV's headings of the layer's fields: English names or the glossary's Chinese."""
    names = [name for name, _ in FIELDS[layer]]
    if header == "en":
        return names
    return [glossary.label(glossary.EXPORT_FIELDS, name) for name in names]


def cells(layer: Layer, found: dict[str, Any], header: Header) -> list[Any]:
    """A record as a CSV row in the layer's field order; codes as labels for people."""
    values = [found[name] for name, _ in FIELDS[layer]]
    if header == "en":
        return values
    return [_label(name, value) for (name, _), value in zip(FIELDS[layer], values, strict=True)]


def _label(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return glossary.YES_NO[value]
    if name == "hot_spot_bin" and value is not None:
        return glossary.HOT_SPOT_BINS.get(value, value)
    if name == "care_tags" and value:
        return ";".join(glossary.label(glossary.CARE_TAGS, t) for t in value.split(";"))
    if name in _LABELS and isinstance(value, str):
        return glossary.label(_LABELS[name], value)
    return value
