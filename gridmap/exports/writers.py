"""The formats of the GIS exports: GeoJSON (one FeatureCollection, every row, written a
feature at a time), CSV with lon/lat or WKT (a line at a time, every cell through
:mod:`gridmap.core.cells`) and GeoPackage (a file, written in batches with pyogrio).

Coordinates are as stored, CGCS2000 longitude/latitude (EPSG:4490): the GeoJSON follows
RFC 7946 (no ``crs`` member; CGCS2000 and WGS 84 differ by centimetres, and RFC 7946 readers
take lon/lat as WGS 84), the GeoPackage declares EPSG:4490 as its SRS, a CSV's ``lon``/``lat``
or ``wkt`` columns are in EPSG:4490 degrees.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from gridmap.core.cells import csv_lines
from gridmap.core.privacy import Disclosure
from gridmap.exports.layers import (
    CRS,
    FIELDS,
    GEOMETRY_TYPES,
    CsvGeometry,
    ExportRow,
    Header,
    Layer,
    cells,
    feature_id,
    headings,
    record,
)

GEOJSON_MEDIA_TYPE = "application/geo+json"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
GPKG_MEDIA_TYPE = "application/geopackage+sqlite3"
#: Rows per GeoPackage batch: what the writer holds in memory at once.
GPKG_BATCH = 5000


def geojson_chunks(
    layer: Layer, rows: Iterable[ExportRow], disclosure: Disclosure
) -> Iterator[str]:
    """An RFC 7946 FeatureCollection of every row as ``disclosure``'s reader sees it, a
    feature at a time; each row's ``geometry`` column is GeoJSON text."""
    yield f'{{"type":"FeatureCollection","name":{json.dumps(layer)},"features":['
    separator = ""
    for row in rows:
        properties = json.dumps(record(layer, row, disclosure), ensure_ascii=False)
        ident = json.dumps(feature_id(layer, row), ensure_ascii=False)
        yield (
            f'{separator}{{"type":"Feature","id":{ident},'
            f'"geometry":{row.geometry},"properties":{properties}}}'
        )
        separator = ","
    yield "]}\n"


def csv_columns(layer: Layer, geometry: CsvGeometry, header: Header) -> list[str]:
    """A CSV's header: the layer's fields, then ``lon``, ``lat`` or ``wkt``."""
    return headings(layer, header) + (["lon", "lat"] if geometry == "lonlat" else ["wkt"])


def csv_chunks(
    layer: Layer,
    rows: Iterable[ExportRow],
    geometry: CsvGeometry,
    header: Header,
    disclosure: Disclosure,
) -> Iterator[str]:
    """The CSV a line at a time (byte-order mark first, formula cells neutralised); rows have
    ``lon`` and ``lat`` columns, or a ``geometry`` column of WKT."""

    def line(row: ExportRow) -> list[Any]:
        where = [row.lon, row.lat] if geometry == "lonlat" else [row.geometry]
        return cells(layer, record(layer, row, disclosure), header) + where

    return csv_lines(csv_columns(layer, geometry, header), (line(r) for r in rows))


def write_gpkg(
    path: Path,
    layer: Layer,
    rows: Iterable[ExportRow],
    disclosure: Disclosure,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Write the rows (with a ``geometry`` column of WKB) to a GeoPackage layer named
    ``layer`` with the SRS EPSG:4490, :data:`GPKG_BATCH` rows at a time; returns how many.
    ``progress(n)`` is called after each batch."""
    import geopandas as gpd  # heavy: only in the worker's job
    import pandas as pd
    import pyogrio
    import shapely

    written = 0
    found = iter(rows)
    while True:
        batch = list(islice(found, GPKG_BATCH))
        if not batch and written:
            return written
        records = [record(layer, r, disclosure) for r in batch]
        columns = {
            name: pd.array([r[name] for r in records], dtype=kind) for name, kind in FIELDS[layer]
        }
        geometry = shapely.from_wkb([bytes(r.geometry) for r in batch])
        frame = gpd.GeoDataFrame(pd.DataFrame(columns), geometry=geometry, crs=CRS)
        pyogrio.write_dataframe(
            frame,
            path,
            layer=layer,
            driver="GPKG",
            geometry_type=GEOMETRY_TYPES[layer],
            append=written > 0,
            dataset_options=None if written else {"VERSION": "1.2"},
        )
        written += len(batch)
        progress(written)
        if not batch:
            return 0
