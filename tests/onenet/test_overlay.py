"""The overlay's known answers: a layer that is ours shifted 3 m aligns cell for cell; a
cell split 60/40 between two zones is reported with those shares and households."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from gridmap.access.auth import Scope
from gridmap.onenet import overlay
from gridmap.storage import onenet as store
from gridmap.storage.models import ForeignCell, ForeignLayer, Grid
from tests.conftest import COMMUNITY, MID_LAT, MID_LON, N, S
from tests.onenet.planted import add_households, plant, shifted, split_cell

EVERYWHERE = Scope(prefixes=(COMMUNITY[:6],))


def test_our_grid_shifted_by_3_m_is_aligned_cell_for_cell(session, settings, small_grid):
    layer_id = plant(session, settings, shifted(small_grid, "micro", 3.0), level="micro")
    cells = session.execute(
        select(ForeignCell.code, ForeignCell.status, ForeignCell.hausdorff_m, Grid.code)
        .join(Grid, Grid.id == ForeignCell.best_grid_id)
        .where(ForeignCell.layer_id == layer_id)
        .order_by(ForeignCell.code)
    ).all()
    ours = sorted(small_grid[small_grid["level"] == "micro"]["code"])
    assert [c.status for c in cells] == ["aligned"] * 4
    assert [c[3] for c in cells] == ours
    assert all(2.9 < c.hausdorff_m < 3.1 for c in cells)
    (summary,) = session.execute(store.summary_select(EVERYWHERE, layer_id)).all()
    assert (summary.code, summary.units, summary.aligned_units, summary.split_units) == (
        COMMUNITY,
        4,
        4,
        0,
    )
    assert summary.aligned_area_m2 / summary.area_m2 > 0.99


def test_a_shift_beyond_the_tolerance_is_not_aligned(session, settings, small_grid):
    layer_id = plant(session, settings, shifted(small_grid, "micro", 8.0), level="micro")
    statuses = session.scalars(
        select(ForeignCell.status).where(ForeignCell.layer_id == layer_id)
    ).all()
    # The outlines are 8 m apart, beyond the 5 m tolerance; the 8 m strips of the neighbours
    # are below 5 % of an 855 m wide micro-grid: whole units and slivers, no cut.
    assert set(statuses) == {"merges"}


def test_a_cell_split_60_40_between_two_zones(session, settings, small_grid):
    west, east = MID_LON - 0.0006, MID_LON + 0.0004
    add_households(session, [(west, MID_LAT + d) for d in (0.001, 0.002, 0.003)])
    add_households(session, [(east, MID_LAT + d) for d in (0.001, 0.002)])
    layer_id = plant(session, settings, split_cell(MID_LON, S, N), level="zone")
    pieces = session.execute(store.pieces_select(EVERYWHERE, layer_id)).all()
    assert [p.grid_code for p in pieces] == [COMMUNITY + "01", COMMUNITY + "02"]
    assert [round(p.share_of_cell, 3) for p in pieces] == [0.6, 0.4]
    assert [p.households for p in pieces] == [3, 2]
    assert {p.status for p in pieces} == {"splits"}
    (cell,) = session.execute(store.cells_select(EVERYWHERE, layer_id, None)).all()
    assert cell.pieces == f"{COMMUNITY}01:60.0%;{COMMUNITY}02:40.0%"
    assert cell.households == 5
    units = session.execute(store.units_select(EVERYWHERE, layer_id, "zone")).all()
    assert [(u.code, u.verdict) for u in units] == [
        (COMMUNITY + "01", "split"),
        (COMMUNITY + "02", "split"),
    ]


def test_a_change_of_either_layer_makes_the_overlay_stale(session, settings, small_grid):
    rule = overlay.Rule.of(settings)
    layer_id = plant(session, settings, shifted(small_grid, "micro", 3.0), level="micro")
    row = store.layer(session, EVERYWHERE, layer_id)
    assert row is not None and not overlay.is_stale(session, row, rule)
    session.execute(
        update(ForeignCell)
        .where(ForeignCell.layer_id == layer_id, ForeignCell.code == "JG001")
        .values(geom=select(Grid.geom).where(Grid.code == COMMUNITY + "01001").scalar_subquery())
    )
    assert overlay.is_stale(session, row, rule)
    assert overlay.refresh_stale(session, rule) == [layer_id]
    row = store.layer(session, EVERYWHERE, layer_id)
    assert row is not None and not overlay.is_stale(session, row, rule)
    add_households(session, [(MID_LON - 0.001, MID_LAT + 0.001)])
    assert overlay.is_stale(session, row, rule)


def test_a_layer_shows_only_to_those_whose_grids_it_meets(session, settings, small_grid):
    layer_id = plant(session, settings, shifted(small_grid, "micro", 3.0), level="micro")
    assert store.layer(session, Scope(prefixes=(COMMUNITY,)), layer_id) is not None
    elsewhere = Scope(prefixes=("110101002003",))
    assert store.layer(session, elsewhere, layer_id) is None
    assert session.execute(store.cells_select(elsewhere, layer_id, None)).all() == []
    assert store.layer(session, Scope(), layer_id) is None
    session.execute(update(ForeignLayer).values(scope_code="110101002"))
    assert store.layer(session, elsewhere, layer_id) is not None
    assert session.execute(store.cells_select(elsewhere, layer_id, None)).all() == []


@pytest.mark.parametrize("level", ["zone", "micro"])
def test_an_empty_overlay_leaves_every_cell_outside(session, settings, small_grid, level):
    far = shifted(small_grid, level, 5_000.0)
    layer_id = plant(session, settings, far, level=level)
    statuses = session.scalars(
        select(ForeignCell.status).where(ForeignCell.layer_id == layer_id)
    ).all()
    assert set(statuses) == {"outside"}
    assert session.execute(store.summary_select(EVERYWHERE, layer_id)).all() == []


def test_the_worker_refreshes_stale_overlays_on_its_schedule(session, settings, small_grid):
    from gridmap.cli import scheduled_work

    layer_id = plant(session, settings, shifted(small_grid, "micro", 3.0), level="micro")
    cron, refresh = scheduled_work(settings)["onenet"]
    assert cron == "*/10 * * * *"
    assert refresh(session) == []
    add_households(session, [(MID_LON - 0.001, MID_LAT + 0.001)])
    assert refresh(session) == [layer_id]
    row = store.layer(session, EVERYWHERE, layer_id)
    assert row is not None and not overlay.is_stale(session, row, overlay.Rule.of(settings))
