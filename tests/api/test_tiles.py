"""Vector tiles (MVT) of grids and requests: contents, the review's counts, scope, bad input.

Requests are filed by the domain's intake at chosen moments of November 2024 (the clock of
``gridmap.requests.service`` is set, as in tests/requests/timelines.py), so that a review period
holds exactly the requests a test names.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import mapbox_vector_tile
import pytest
from geoalchemy2.functions import ST_X, ST_Y
from shapely.geometry import box
from sqlalchemy import select, update

from gridmap.access.auth import Caller
from gridmap.demo import loader as demo
from gridmap.requests import service as domain
from gridmap.storage import review as review_store
from gridmap.storage import tiles
from gridmap.storage.models import Grid, ResidentRequest
from tests.conftest import COMMUNITY, MID_LAT, MID_LON, client_for, small_grid_frame
from tests.helpers import clock_at
from tests.requests.conftest import IN_01002, IN_02002, load_staff
from tests.requests.timelines import SH, Desk, nov
from tests.security.conftest import B, b_grid_frame

MVT = "application/vnd.mapbox-vector-tile"
PROBLEM = "application/problem+json"
M1, M2, M3, M4 = (COMMUNITY + c for c in ("01001", "01002", "02001", "02002"))


# ------------------------------------------------------------------------------- tile maths


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile holding (lon, lat)."""
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def tile_bounds(z: int, x: int, y: int, buffer: float = 0.0) -> tuple[float, ...]:
    """(west, south, east, north) in degrees, widened by ``buffer`` tile widths."""
    n = 2**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (
        (x - buffer) / n * 360 - 180,
        lat(y + 1 + buffer),
        (x + 1 + buffer) / n * 360 - 180,
        lat(y - buffer),
    )


def tiles_over(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """Every tile of zoom ``z`` over the lon/lat box."""
    w, s, e, n = bounds
    _, x0, y0 = tile_of(w, n, z)
    _, x1, y1 = tile_of(e, s, z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


# ---------------------------------------------------------------------------------- helpers


def fetch(client, layer: str, tile: tuple[int, int, int], **query: Any) -> dict[str, Any]:
    """The tile decoded (an empty dict for a 204), after checking the answer's headers."""
    z, x, y = tile
    response = client.get(f"/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt", query_string=query)
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    # A browser may keep a tile a minute, for this login only; no shared cache may.
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert {"Authorization", "Cookie"} <= set(response.headers["Vary"].split(", "))
    if response.status_code == 204:
        assert response.get_data() == b""
        return {}
    assert response.mimetype == MVT
    decoded: dict[str, Any] = mapbox_vector_tile.decode(response.get_data())
    assert set(decoded) == {layer}
    return decoded


def properties(decoded: dict[str, Any], layer: str) -> list[dict[str, Any]]:
    return [f["properties"] for f in decoded.get(layer, {}).get("features", [])]


def codes(client, layer: str, tile: tuple[int, int, int], **query: Any) -> set[str]:
    return {p["code"] for p in properties(fetch(client, layer, tile, **query), layer)}


def counts(client, tile: tuple[int, int, int], **query: Any) -> dict[str, int]:
    return {
        p["code"]: p["n"] for p in properties(fetch(client, "requests", tile, **query), "requests")
    }


def raw_ids(client, tile: tuple[int, int, int], **query: Any) -> set[int]:
    return {p["id"] for p in properties(fetch(client, "requests", tile, **query), "requests")}


def choropleth(client, level: str, **query: Any) -> dict[str, int]:
    response = client.get("/api/v1/review/choropleth", query_string={"level": level, **query})
    assert response.status_code == 200, response.get_json()
    values: dict[str, int] = response.get_json()["values"]
    return values


#: The z16 tile of the raw-point tests: inside micro-grid 01001, away from its edges.
RAW_TILE = (16, 53958, 24830)
_W, _S, _E, _N = tile_bounds(*RAW_TILE)
CENTRE = ((_W + _E) / 2, (_S + _N) / 2)
NEAR = (CENTRE[0] + 0.001, CENTRE[1] + 0.001)
#: In micro-grid 01001 too, but in the next tile east (far beyond the buffer).
EAST = (_E + 0.0025, CENTRE[1])


class Filer:
    """Files requests through the domain's intake at chosen moments."""

    def __init__(self, session, monkeypatch) -> None:
        self.session, self.monkeypatch = session, monkeypatch

    def file(
        self,
        who: Caller,
        point: tuple[float, float],
        moment: dt.datetime,
        category: str = "sanitation.garbage",
    ) -> int:
        new = domain.NewRequest(category, "楼下垃圾满溢", "api", *point)
        with clock_at(moment):
            return domain.intake(self.session, new, who)

    def set_state(self, request_id: int, state: str, deadline: dt.datetime | None = None) -> None:
        self.session.execute(
            update(ResidentRequest)
            .where(ResidentRequest.id == request_id)
            .values(state=state, stage_deadline=deadline)
        )


@pytest.fixture
def filed(session, small_grid, monkeypatch) -> dict[str, int]:
    """Requests of the small grid: three in RAW_TILE, one east of it, three elsewhere in the
    community, one in October; committed. Returns their ids by name."""
    demo.seed_categories(session)
    load_staff(session)
    chief = Desk(session, monkeypatch).caller("tile-chief", "chief", scope_code=COMMUNITY)
    f = Filer(session, monkeypatch)
    ids = {
        "centre": f.file(chief, CENTRE, nov(4, 9)),
        "near": f.file(chief, NEAR, nov(5, 10), "street.vendor"),
        "archived": f.file(chief, CENTRE, nov(6, 11)),
        "east": f.file(chief, EAST, nov(7, 12)),
        "m2": f.file(chief, IN_01002, nov(8, 9)),
        "m4": f.file(chief, IN_02002, nov(9, 9), "street.vendor"),
        "m4b": f.file(chief, IN_02002, nov(29, 9)),
        "october": f.file(chief, CENTRE, dt.datetime(2024, 10, 31, 23, 0, tzinfo=SH)),
    }
    f.set_state(ids["archived"], "archived")
    # Clocks still running: "centre" past its deadline, "near" not (the others have none).
    f.set_state(ids["centre"], "reported", dt.datetime(2024, 11, 5, tzinfo=SH))
    f.set_state(ids["near"], "accepted", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    session.commit()
    return ids


# ------------------------------------------------------------------------------------ grids


def _grids_in(z: int, x: int, y: int, level: str) -> set[str]:
    """The small grid's codes of ``level`` whose outline meets the tile and its buffer."""
    frame = small_grid_frame()
    area = box(*tile_bounds(z, x, y, tiles.BUFFER / tiles.EXTENT))
    chosen = frame[(frame["level"] == level) & frame.intersects(area)]
    return set(chosen["code"])


@pytest.mark.parametrize(("z", "level"), [(11, "community"), (13, "zone"), (15, "micro")])
def test_grid_tiles_show_the_level_of_the_zoom(client, small_grid, z, level):
    community = tuple(small_grid.total_bounds)
    seen: set[str] = set()
    for tile in tiles_over(community, z):
        decoded = fetch(client, "grids", tile)
        found = properties(decoded, "grids")
        assert {p["code"] for p in found} == _grids_in(*tile, level)
        assert {p["level"] for p in found} <= {level}
        seen |= {p["code"] for p in found}
    assert seen == set(small_grid[small_grid["level"] == level]["code"])


def test_grid_tile_features_carry_code_name_level_and_a_clipped_outline(client, small_grid):
    decoded = fetch(client, "grids", tile_of(*CENTRE, 15), level="micro")
    layer = decoded["grids"]
    assert layer["extent"] == tiles.EXTENT
    by_code = {f["properties"]["code"]: f for f in layer["features"]}
    assert by_code[M1]["properties"] == {"code": M1, "name": "1-001", "level": "micro"}
    assert by_code[M1]["geometry"]["type"] == "Polygon"
    for x, y in by_code[M1]["geometry"]["coordinates"][0]:
        assert -tiles.BUFFER <= x <= tiles.EXTENT + tiles.BUFFER
        assert -tiles.BUFFER <= y <= tiles.EXTENT + tiles.BUFFER


def test_grid_tiles_show_only_todays_grids(client, session, small_grid):
    retired = {"valid_from": dt.date(2020, 1, 1), "valid_to": dt.date(2024, 1, 1)}
    session.execute(update(Grid).where(Grid.code == M1).values(**retired))
    session.commit()
    assert M1 not in codes(client, "grids", tile_of(*CENTRE, 15))


def test_a_tile_with_nothing_answers_204(client, small_grid):
    assert fetch(client, "grids", tile_of(121.47, 31.23, 14)) == {}  # Shanghai
    assert fetch(client, "requests", tile_of(121.47, 31.23, 16), period="2024-11") == {}


# --------------------------------------------------------------------------------- requests


def test_raw_points_at_z16_are_exactly_the_filtered_requests_in_the_tile(client, filed):
    assert raw_ids(client, RAW_TILE, period="2024-11") == {
        filed["centre"],
        filed["near"],
        filed["archived"],
    }
    assert raw_ids(client, tile_of(*EAST, 16), period="2024-11") == {filed["east"]}
    assert raw_ids(client, RAW_TILE, period="2024-10") == {filed["october"]}
    both = {"from": "2024-10", "to": "2024-11"}
    assert raw_ids(client, RAW_TILE, **both) == {
        filed[k] for k in ("centre", "near", "archived", "october")
    }
    assert raw_ids(client, RAW_TILE, period="2024-11", category="street.vendor") == {filed["near"]}
    assert raw_ids(client, RAW_TILE, period="2024-11", state="archived") == {filed["archived"]}
    assert raw_ids(client, RAW_TILE, period="2024-11", state="open") == {
        filed["centre"],
        filed["near"],
    }
    assert raw_ids(client, RAW_TILE, period="2024-11", overdue="true") == {filed["centre"]}
    assert raw_ids(client, RAW_TILE, period="2024-W45") == {
        filed[k] for k in ("centre", "near", "archived")
    }
    assert raw_ids(client, RAW_TILE, period="2024-W46") == set()
    assert fetch(client, "requests", RAW_TILE, period="2024-09") == {}


def test_raw_points_carry_id_category_state_and_the_day_filed(client, filed):
    found = properties(fetch(client, "requests", tile_of(*EAST, 17), period="2024-11"), "requests")
    assert found == [
        {
            "id": filed["east"],
            "category": "sanitation.garbage",
            "state": "reported",
            "day": "2024-11-07",
        }
    ]
    october = properties(fetch(client, "requests", RAW_TILE, period="2024-10"), "requests")
    assert october[0]["day"] == "2024-10-31"  # 23:00 in Beijing, 15:00 UTC


@pytest.mark.parametrize(("z", "level"), [(10, "zone"), (12, "zone"), (13, "micro"), (15, "micro")])
def test_counts_below_z16_equal_the_review_page(client, filed, z, level):
    community = tuple(small_grid_frame().total_bounds)
    for query in (
        {"period": "2024-11"},
        {"from": "2024-10", "to": "2024-11", "category": "sanitation.garbage"},
        {"period": "2024-11", "state": "open"},
        {"period": "2024-11", "overdue": "true"},
        {"period": "2024-11", "grid": M4},
    ):
        expected = choropleth(client, level, **query)
        seen: dict[str, int] = {}
        for tile in tiles_over(community, z):
            found = counts(client, tile, **query)
            assert set(found) <= set(expected), query
            seen |= found
        assert seen == expected, query


def test_counts_are_drawn_at_the_grids_label_point(client, filed, session):
    lon, lat = session.execute(
        select(ST_X(Grid.label_point), ST_Y(Grid.label_point)).where(Grid.code == M4)
    ).one()
    assert counts(client, tile_of(lon, lat, 15), period="2024-11")[M4] == 2
    away = tile_of(lon + 0.015, lat, 15)
    assert M4 not in counts(client, away, period="2024-11")


def test_a_full_raw_tile_falls_back_to_its_micro_grids_counts(session, filed):
    wanted = review_store.ReviewFilter(
        kind="M", first=dt.date(2024, 11, 1), last=dt.date(2024, 11, 1), prefixes=(COMMUNITY,)
    )
    tile = tiles.Tile(*RAW_TILE)
    raw = mapbox_vector_tile.decode(tiles.request_tile(session, tile, wanted, cap=3))
    assert len(raw["requests"]["features"]) == 3
    full = mapbox_vector_tile.decode(tiles.request_tile(session, tile, wanted, cap=2))
    assert [f["properties"] for f in full["requests"]["features"]] == [{"code": M1, "n": 4}]


def test_roles_without_the_review_capability_get_no_request_tiles(app, make_user, filed):
    worker = client_for(app, make_user("grid_worker", M1, person_id=3))
    response = worker.get("/api/v1/tiles/requests/{}/{}/{}.mvt".format(*RAW_TILE))
    assert response.status_code == 403 and response.mimetype == PROBLEM
    assert worker.get("/api/v1/tiles/grids/15/26979/12415.mvt").status_code == 200


# ------------------------------------------------------------------------------------ scope


@pytest.fixture
def two_communities(session, settings, filed, monkeypatch) -> dict[str, Any]:
    """Community B (another street) with requests of its own, beside the small grid's."""
    from gridmap.grid import ingest

    ingest.import_grids(session, b_grid_frame(), "EPSG:4490", settings)
    admin = Desk(session, monkeypatch).caller("tile-b", "street_admin", scope_code=B[:9])
    f = Filer(session, monkeypatch)
    b_ids = [f.file(admin, (116.445, 39.915), nov(d, 9)) for d in (4, 5, 6)]
    b_ids.append(f.file(admin, (116.455, 39.905), nov(7, 9), "street.vendor"))
    session.commit()
    return {"b_ids": set(b_ids), "a_november": set(filed.values()) - {filed["october"]}}


def _everything(client, bounds, zooms, layer: str, **query: Any) -> list[dict[str, Any]]:
    found = []
    for z in zooms:
        for tile in tiles_over(bounds, z):
            found += properties(fetch(client, layer, tile, **query), layer)
    return found


def test_out_of_scope_data_never_appears_in_any_tile(app, make_user, two_communities):
    """Tiles over both communities, at every zoom (each level of grids, counts and points):
    a chief of A sees A's grids and requests and nothing of B; B's admin sees B's."""
    both = (116.399, 39.899, 116.461, 39.921)
    chief_a = client_for(app, make_user("chief", COMMUNITY))
    admin_b = client_for(app, make_user("street_admin", B[:9]))
    zooms = range(8, 17)  # every level of grids, counts per zone and micro-grid, points
    grids = _everything(chief_a, both, zooms, "grids")
    for level in ("community", "zone", "micro"):
        grids += _everything(chief_a, both, (10, 16), "grids", level=level)
        assert [g for g in _everything(admin_b, both, (14,), "grids", level=level)]
    assert {g["code"] for g in grids} == set(small_grid_frame()["code"])
    requests = _everything(chief_a, both, zooms, "requests", period="2024-11")
    requests += _everything(chief_a, both, (12, 14, 16), "requests", period="2024-11", overdue=1)
    assert {p["code"] for p in requests if "code" in p} <= set(small_grid_frame()["code"])
    assert {p["id"] for p in requests if "id" in p} == two_communities["a_november"]
    seen_by_b = _everything(admin_b, both, (13, 16), "requests", period="2024-11")
    assert {p["id"] for p in seen_by_b if "id" in p} == two_communities["b_ids"]
    assert {p["code"][:12] for p in seen_by_b if "code" in p} == {B}
    narrowed = chief_a.get(
        "/api/v1/tiles/requests/14/13491/6207.mvt", query_string={"period": "2024-11", "grid": B}
    )
    assert narrowed.status_code == 404 and narrowed.mimetype == PROBLEM  # as for any grid


def test_a_chief_over_b_gets_empty_tiles_at_every_zoom(app, make_user, two_communities):
    chief_a = client_for(app, make_user("chief", COMMUNITY))
    b_only = (116.4405, 39.9005, 116.4595, 39.9195)
    for z in range(12, 18):
        for tile in tiles_over(b_only, z):
            if tile_bounds(*tile, buffer=0.02)[0] <= 116.42:
                continue  # reaches back into A
            assert fetch(chief_a, "grids", tile) == {}
            assert fetch(chief_a, "requests", tile, period="2024-11") == {}


# ------------------------------------------------------------------------- kept grid tiles


def _grid_tile(client, tile: tuple[int, int, int], if_none_match: str | None = None):
    z, x, y = tile
    headers = {"If-None-Match": if_none_match} if if_none_match else {}
    url = f"/api/v1/tiles/grids/{z}/{x}/{y}.mvt"
    return client.get(url, headers=headers, query_string={"level": "micro"})


def _names(response) -> dict[str, str]:
    layer = mapbox_vector_tile.decode(response.get_data()).get("grids", {})
    return {f["properties"]["code"]: f["properties"]["name"] for f in layer.get("features", [])}


#: A micro-grid tile over the whole small grid (both zones).
WHOLE = tile_of(MID_LON, MID_LAT, 13)


def test_a_grid_tile_named_by_if_none_match_answers_304(client, small_grid):
    first = _grid_tile(client, WHOLE)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    again = _grid_tile(client, WHOLE, etag)
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, max-age=60"
    # As a browser echoes a compressed answer's tag, weakly, among others, or any.
    for value in (etag[:-1] + ':gzip"', f'"other", W/{etag}', "*"):
        assert _grid_tile(client, WHOLE, value).status_code == 304, value
    for value in ('"other"', "not a tag"):
        assert _grid_tile(client, WHOLE, value).status_code == 200, value
    empty = _grid_tile(client, tile_of(121.47, 31.23, 14))  # Shanghai: nothing, 204
    assert empty.status_code == 204
    assert _grid_tile(client, tile_of(121.47, 31.23, 14), empty.headers["ETag"]).status_code == 304


def test_a_grid_change_makes_the_kept_tiles_stale(client, session, small_grid):
    first = _grid_tile(client, WHOLE, None)
    assert _names(first)[M1] != "改名的网格"
    session.execute(update(Grid).where(Grid.code == M1).values(name="改名的网格"))
    session.commit()
    again = _grid_tile(client, WHOLE, first.headers["ETag"])
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]
    assert _names(again)[M1] == "改名的网格"
    assert _grid_tile(client, WHOLE, again.headers["ETag"]).status_code == 304


def test_a_kept_tile_never_reaches_another_scope(app, make_user, small_grid):
    """One process keeps the community's tile for its chief; a zone leader asking for the
    same tile gets their own (one zone), and the chief's tag is no tag of theirs."""
    chief = client_for(app, make_user("chief", COMMUNITY))
    leader = client_for(app, make_user("zone_leader", COMMUNITY + "01"))
    whole = _grid_tile(chief, WHOLE)
    assert set(_names(whole)) == {M1, M2, M3, M4}
    assert _grid_tile(chief, WHOLE).get_data() == whole.get_data()  # now kept
    own = _grid_tile(leader, WHOLE, whole.headers["ETag"])
    assert own.status_code == 200 and set(_names(own)) == {M1, M2}
    assert own.headers["ETag"] != whole.headers["ETag"]
    assert set(_names(_grid_tile(chief, WHOLE))) == {M1, M2, M3, M4}


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "path",
    [
        "grids/23/0/0.mvt",
        "grids/1/2/0.mvt",
        "grids/1/0/2.mvt",
        "grids/16/65536/0.mvt",
        "requests/16/0/65536.mvt",
        "grids/3/99999999999999999999999/0.mvt",
        "requests/99999999999/0/0.mvt",
    ],
)
def test_coordinates_outside_the_tile_matrix_are_refused(client, small_grid, path):
    response = client.get(f"/api/v1/tiles/{path}")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.get_json()["status"] == 400


@pytest.mark.parametrize(
    "path",
    [
        "households/14/13489/6207.mvt",
        "grids/-1/0/0.mvt",
        "grids/1/0/-1.mvt",
        "grids/1/0/0.png",
        "grids/1/0.mvt",
        "grids/a/b/c.mvt",
    ],
)
def test_unknown_layers_and_malformed_paths_are_404(client, path):
    response = client.get(f"/api/v1/tiles/{path}")
    assert response.status_code == 404 and response.mimetype == PROBLEM


@pytest.mark.parametrize(
    ("layer", "query"),
    [
        ("grids", {"level": "household"}),
        ("requests", {"period": "2024-13"}),
        ("requests", {"period": "2024-W54"}),
        ("requests", {"from": "2024-11", "to": "2024-10"}),
        ("requests", {"from": "2024-W01", "to": "2024-11"}),
        ("requests", {"state": "lost"}),
        ("requests", {"grid": "1101"}),
        ("requests", {"overdue": "perhaps"}),
    ],
)
def test_bad_filters_are_400(client, small_grid, layer, query):
    response = client.get(f"/api/v1/tiles/{layer}/14/13489/6207.mvt", query_string=query)
    assert response.status_code == 400 and response.mimetype == PROBLEM
