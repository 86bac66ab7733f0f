"""The proposed unified boundary set (草稿): our grid snapped onto a department's aligned
cells, a file the redraw import takes."""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import shape

from gridmap.access.auth import Scope
from gridmap.grid import ingest
from gridmap.onenet import overlay, reading
from tests.conftest import COMMUNITY, MID_LON, N, S
from tests.onenet.planted import plant, shifted, split_cell

SCOPE = Scope(prefixes=(COMMUNITY[:9],))


def test_our_grid_moves_onto_a_layer_3_m_off_and_the_redraw_takes_it(session, settings, small_grid):
    theirs = shifted(small_grid, "micro", 3.0)
    layer_id = plant(session, settings, theirs, level="micro")
    draft = reading.draft_collection(session, SCOPE, layer_id, overlay.Rule.of(settings))
    frame = gpd.GeoDataFrame.from_features(draft["features"], crs=4490)
    assert sorted(frame["code"]) == sorted(small_grid["code"])  # every level moves with it
    micro = frame[frame["level"] == "micro"].sort_values("code")
    targets = theirs.geometry.to_numpy()
    for geom, target in zip(micro.geometry, targets, strict=True):
        assert shapely.hausdorff_distance(geom, target) < 1e-7  # degrees: a centimetre
    savepoint = session.begin_nested()
    written = ingest.import_grids(session, frame, "EPSG:4490", settings, redraw=True)
    savepoint.rollback()
    assert written.written == len(small_grid)


def test_nothing_to_snap_where_no_cell_aligns(session, settings, small_grid):
    layer_id = plant(session, settings, split_cell(MID_LON, S, N), level="zone")
    draft = reading.draft_collection(session, SCOPE, layer_id, overlay.Rule.of(settings))
    assert draft["features"] == []


def test_the_draft_holds_only_grids_in_scope(session, settings, small_grid):
    layer_id = plant(session, settings, shifted(small_grid, "micro", 3.0), level="micro")
    zone = Scope(prefixes=(COMMUNITY + "01",))
    draft = reading.draft_collection(session, zone, layer_id, overlay.Rule.of(settings))
    codes = sorted(f["properties"]["code"] for f in draft["features"])
    assert codes == [COMMUNITY + "01", COMMUNITY + "01001", COMMUNITY + "01002"]
    assert all(shape(f["geometry"]).is_valid for f in draft["features"])
