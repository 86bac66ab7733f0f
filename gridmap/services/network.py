"""Walking network imports (步行路网导入): an OpenStreetMap extract (``.osm.pbf``, read by
osmium-tool, Debian's ``osmium-tool`` package) or a road layer (Shapefile, GeoJSON,
GeoPackage), into ``walk_edge``/``walk_node`` with its topology built and its connected
pieces counted (``gridmap.storage.walk_network``).

OpenStreetMap: the ways tagged ``highway`` that people may walk: not motorways, roads under
construction or planned, and not the ways tagged ``foot=no`` or ``access=private|no`` (unless
``foot`` allows it again). A road layer is taken whole: every line is a walkable street.
An import replaces the whole network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy.orm import Session

from gridmap.core.errors import InvalidInput
from gridmap.grid.ingest.common import declared_crs
from gridmap.grid.ingest.readers import canonical_columns, read_features
from gridmap.spatial.crs import check_geometries_in_china, geoseries_to_cgcs2000
from gridmap.storage import walk_network
from gridmap.storage.walk_network import NetworkCheck

#: ``highway`` values nobody walks along.
NOT_WALKED = frozenset(
    {"motorway", "motorway_link", "construction", "proposed", "raceway", "bus_guideway",
     "abandoned", "platform", "rest_area", "services"}
)  # fmt: skip
_CLOSED = frozenset({"no", "private"})
_OPEN = frozenset({"yes", "designated", "permissive"})
#: A street's end this close (about 1 cm) to another street joins it.
_JOIN_DEGREES = 1e-7
ROAD_ALIASES = {"name": ("name", "名称", "道路名称", "路名")}
#: Suffixes of the files a network import takes.
SUFFIXES = (".osm.pbf", ".pbf", ".zip", ".shp", ".geojson", ".json", ".gpkg")
Line = tuple[str | None, bytes]


def import_network(session: Session, lines: Sequence[Line], origin: str) -> NetworkCheck:
    """Replace the network by ``lines``, build its topology and check it."""
    if not lines:
        raise InvalidInput("没有可步行的道路（no walkable streets in the file）")
    walk_network.replace_network(session, lines, origin)
    return walk_network.check_network(session)


def osm_lines(path: Path) -> list[Line]:
    """The walkable ways of an OpenStreetMap extract, as lines (name, WKB in CGCS2000).

    OpenStreetMap's coordinates are WGS 84, within centimetres of CGCS2000.
    """
    osmium = shutil.which("osmium")
    if osmium is None:
        raise RuntimeError("osmium-tool is not installed (./scripts/run installs it)")
    with tempfile.TemporaryDirectory(prefix="gridmap-osm-") as folder:
        ways = Path(folder) / "ways.osm.pbf"
        features = Path(folder) / "ways.geojsonseq"
        _run([osmium, "tags-filter", "--overwrite", "-o", str(ways), str(path), "w/highway"])
        _run(
            [osmium, "export", "--overwrite", "-f", "geojsonseq", "--geometry-types=linestring",
             "-o", str(features), str(ways)]
        )  # fmt: skip
        lines = [line for line in _walkable(features)]
    check_geometries_in_china(
        shapely.from_wkb([wkb for _, wkb in lines]) if lines else [], label="way"
    )
    return lines


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InvalidInput(f"无法读取 OpenStreetMap 文件（osmium: {done.stderr.strip()[:300]}）")


def _walkable(features: Path) -> Iterator[Line]:
    with features.open(encoding="utf-8") as lines:
        for text in lines:
            feature = json.loads(text.lstrip("\x1e"))
            tags: dict[str, Any] = feature.get("properties") or {}
            if _walked(tags):
                geom = shapely.geometry.shape(feature["geometry"])
                yield tags.get("name"), shapely.to_wkb(geom)


def _walked(tags: dict[str, Any]) -> bool:
    if tags.get("highway") in NOT_WALKED or tags.get("highway") is None:
        return False
    foot = tags.get("foot")
    if foot in _OPEN:
        return True
    return foot not in _CLOSED and tags.get("access") not in _CLOSED


def with_t_junctions(lines: Any) -> Any:
    """Road layers often end a street on another without a vertex there (a T-junction): that
    end becomes a vertex of the street it touches (``shapely.snap`` inserts it), so the
    topology joins them. Crossings without a shared vertex stay apart (bridges)."""
    lines = np.asarray(lines, dtype=object)
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    owner = np.concatenate([np.arange(len(lines)), np.arange(len(lines))])
    pairs = shapely.STRtree(lines).query(ends, predicate="dwithin", distance=_JOIN_DEGREES)
    touching: dict[int, list[Any]] = {}
    for end, line in zip(pairs[0], pairs[1], strict=True):
        if owner[end] != line:
            touching.setdefault(int(line), []).append(ends[end])
    out = lines.copy()
    for line, points in touching.items():
        out[line] = shapely.snap(lines[line], shapely.multipoints(points), _JOIN_DEGREES)
    return out


def layer_lines(
    path: Path, crs: str, *, layer: str | None = None, encoding: str | None = None
) -> list[Line]:
    """The lines of a road layer (every feature a walkable street), in CGCS2000."""
    frame = read_features(path, layer=layer, encoding=encoding)
    return frame_lines(frame, crs)


def frame_lines(frame: gpd.GeoDataFrame, crs: str) -> list[Line]:
    frame = canonical_columns(frame, ROAD_ALIASES, "道路图层")
    declared = declared_crs(frame, crs, "road layer")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    kinds = set(frame.geometry.geom_type)
    if not kinds <= {"LineString", "MultiLineString"}:
        raise InvalidInput(
            "道路图层只能包含线"
            f"（the road layer must hold lines, found {', '.join(sorted(kinds))}）"
        )
    frame = frame.explode(index_parts=False)
    geoms = geoseries_to_cgcs2000(frame.geometry.values, declared)
    check_geometries_in_china(geoms, label="road")
    geoms = gpd.GeoSeries(with_t_junctions(geoms.values), index=geoms.index, crs=geoms.crs)
    names = frame["name"] if "name" in frame else [None] * len(frame)
    return [
        (None if name is None or str(name) in ("", "nan", "None") else str(name), shapely.to_wkb(g))
        for name, g in zip(names, geoms, strict=True)
    ]
