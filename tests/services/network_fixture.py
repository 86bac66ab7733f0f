"""The known-answer network: a grid of streets 200 m apart on two banks of a river, with one
bridge at the east end, laid out in metres around a point of the small test grid.

South bank: streets y = 0, 200, 400 and x = 0, 200, … 1000 between them. North bank: streets
y = 600, 800 and x = 0 … 1000 between them. The river runs along y = 500; the only street
across is the bridge x = 1000 from y = 400 to 600. The river (y = 500) is the line between
the small grid's north and south micro-grids.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.services.network import import_network
from gridmap.storage.models import Household, ServiceSite

ORIGIN = (116.401, 39.9055)
_TO_LONLAT = Transformer.from_crs(
    f"+proj=aeqd +lon_0={ORIGIN[0]} +lat_0={ORIGIN[1]} +ellps=GRS80", "EPSG:4490", always_xy=True
)
_TO_METRES = Transformer.from_crs(
    "EPSG:4490", f"+proj=aeqd +lon_0={ORIGIN[0]} +lat_0={ORIGIN[1]} +ellps=GRS80", always_xy=True
)

#: Households (name: x, y in metres), each 10 m beside a street (or 20 m from a corner).
HOUSEHOLDS = {
    "H1": (300, 10),
    "H2": (60, 610),
    "H3": (880, 390),
    "H4": (500, 410),
    "H5": (700, 210),
    "H6": (990, 180),
    "H7": (990, 300),
    "H8": (410, 390),
}


def lonlat(x: float, y: float) -> tuple[float, float]:
    return _TO_LONLAT.transform(x, y)


def metres(geom: shapely.Geometry) -> shapely.Geometry:
    """A CGCS2000 geometry in the network's metres."""
    return shapely.transform(
        geom, lambda c: np.column_stack(_TO_METRES.transform(c[:, 0], c[:, 1]))
    )


def street(x0: float, y0: float, x1: float, y1: float) -> LineString:
    return LineString([lonlat(x0, y0), lonlat(x1, y1)])


def streets(*, bridge: bool) -> list[LineString]:
    """The streets as whole lines (a horizontal street is one line crossing the verticals at
    shared vertices, as OpenStreetMap ways do)."""
    xs = range(0, 1001, 200)
    lines = []
    for y in (0, 200, 400, 600, 800):
        lines.append(LineString([lonlat(x, y) for x in xs]))
    for x in xs:
        lines.append(LineString([lonlat(x, y) for y in (0, 200, 400)]))
        lines.append(LineString([lonlat(x, y) for y in (600, 800)]))
    if bridge:
        lines.append(street(1000, 400, 1000, 600))
    return lines


def load_network(session: Session, *, bridge: bool) -> None:
    lines = [(None, shapely.to_wkb(line)) for line in streets(bridge=bridge)]
    import_network(session, lines, "synthetic")


def add_site(session: Session, code: str, x: float, y: float, kind: str = "station") -> int:
    lon, lat = lonlat(x, y)
    site = ServiceSite(code=code, name=code, kind=kind, geom=f"SRID=4490;POINT({lon} {lat})")
    session.add(site)
    session.flush()
    return site.id


def add_households(session: Session, names: Iterable[str] = HOUSEHOLDS) -> dict[str, int]:
    """The households, each in the micro-grid of the small grid holding it."""
    ids = {}
    for name in names:
        lon, lat = lonlat(*HOUSEHOLDS[name])
        micro = session.scalar(
            text(
                "SELECT id FROM grid WHERE level = 'micro' AND valid_to IS NULL"
                " AND ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4490))"
            ),
            {"lon": lon, "lat": lat},
        )
        household = Household(
            geom=f"SRID=4490;POINT({lon} {lat})",
            address=name,
            micro_grid_id=micro,
        )
        session.add(household)
        session.flush()
        ids[name] = household.id
    return ids
