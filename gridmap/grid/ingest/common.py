"""What every import shares: its report, the rejection with every problem, required columns,
the declared CRS. Reading files is ``readers``'s."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd

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


def reject(
    what: str, problems: list[dict[str, Any]], *, total: int | None = None
) -> ImportRejected:
    """The rejection listing the first problems; ``total`` counts them when only the first
    ones were kept (a streamed import)."""
    total = len(problems) if total is None else total
    listed = problems[:_MAX_LISTED]
    more = total - len(listed)
    lines = [f"{p['where']}: {p['message']}" for p in listed]
    if more:
        lines.append(f"... and {more} more")
    return ImportRejected(
        f"{what} rejected, nothing written: {total} problem(s).\n" + "\n".join(lines),
        errors=problems,
    )


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
