"""What every import shares: its report, the rejection with every problem, reading files,
the declared CRS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
import pyogrio

from gridmap.core.errors import InvalidInput, Unprocessable
from gridmap.spatial.crs import (
    InputCrs,
    parse_crs,
)

T = TypeVar("T")
Progress = Callable[[Iterable[T]], Iterable[T]]

CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)
_MAX_LISTED = 50


class ImportRejected(Unprocessable):
    """The input has problems; ``errors`` lists each with where it is."""

    code = "import-rejected"
    title = "Import rejected"


@dataclass
class ImportReport:
    """What an import wrote, and what a person should look at."""

    kind: str
    written: int = 0
    closed: int = 0
    notes: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        lines = [
            f"{self.kind}: {self.written} written"
            + (f", {self.closed} closed" if self.closed else "")
        ]
        lines += [f"  - {n}" for n in self.notes]
        return "\n".join(lines)


def reject(what: str, problems: list[dict[str, Any]]) -> ImportRejected:
    listed = problems[:_MAX_LISTED]
    more = len(problems) - len(listed)
    lines = [f"{p['where']}: {p['message']}" for p in listed]
    if more:
        lines.append(f"... and {more} more")
    return ImportRejected(
        f"{what} rejected, nothing written: {len(problems)} problem(s).\n" + "\n".join(lines),
        errors=problems,
    )


# ---------------------------------------------------------------------------- reading


def read_features(path: Path) -> gpd.GeoDataFrame:
    """Read a GeoJSON, Shapefile, GeoPackage or KML file (its first layer)."""
    try:
        return pyogrio.read_dataframe(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInput(f"{path}: not a readable GeoJSON/Shapefile/GPKG/KML: {exc}") from None


def read_table(path: Path) -> pd.DataFrame:
    """Read a UTF-8 CSV (a byte-order mark is accepted) with every column as text."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path}: not a readable UTF-8 CSV file: {exc}") from None


def require_columns(df: pd.DataFrame, required: Iterable[str], what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns))
        raise InvalidInput(f"{what}: missing column(s) {', '.join(missing)}; found {found}")


def declared_crs(frame: gpd.GeoDataFrame, crs_text: str | None, what: str) -> InputCrs:
    """The declared CRS; a file whose own CRS contradicts the declaration is refused."""
    if not crs_text:
        raise InvalidInput(
            f"{what}: declare the coordinate system (--crs), e.g. EPSG:4490 or GCJ02"
        )
    crs = parse_crs(crs_text)
    own = frame.crs
    if own is not None and own.is_projected != (not crs.geographic):
        raise InvalidInput(
            f"{what}: the file says its coordinates are in {own.name}, but {crs.name} was declared"
        )
    return crs
