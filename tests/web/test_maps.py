"""The map builder and the page view, without a browser: offline assets, basemap choice."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import folium
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap.access.security import SESSION_COOKIE
from gridmap.core.settings import Settings
from gridmap.web.maps import (
    LEAFLET_CSS,
    LEAFLET_JS,
    PAGE_JS,
    VECTORGRID_JS,
    build_grid_map,
    render_parts,
)

STATIC = Path(__file__).resolve().parents[2] / "gridmap" / "web" / "static"
INTRANET_TILES = "http://tiles.intranet.example/{z}/{x}/{y}.png"


def _asset(path: str) -> str:
    return f"/assets/{path}"


def _rendered(settings: Settings) -> str:
    parts = render_parts(build_grid_map(settings, asset_url=_asset))
    return f"{parts.header}{parts.html}{parts.script}"


def _linked_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "none"])
def test_map_links_only_vendored_assets(crs: str) -> None:
    html = _rendered(Settings(basemap_crs=crs, basemap_url=INTRANET_TILES))
    vendored = [LEAFLET_JS, LEAFLET_CSS, VECTORGRID_JS, PAGE_JS]
    assert _linked_urls(html) == [_asset(p) for p in vendored]
    hosts = set(re.findall(r"https?://([^/\"']+)", html))
    assert hosts <= {"tiles.intranet.example"}


def test_folium_defaults_are_left_alone() -> None:
    # The override lives on the map instance, so other folium users in the process still
    # get folium's own defaults, and two maps never share one list.
    build_grid_map(Settings(), asset_url=_asset)
    assert folium.Map.default_js[0][1].startswith("https://")


def test_basemap_none_draws_no_tile_layer() -> None:
    grid_map = build_grid_map(Settings(basemap_crs="none"), asset_url=_asset)
    tiles = [c for c in grid_map._children.values() if isinstance(c, folium.TileLayer)]
    assert tiles == []
    assert "L.tileLayer" not in _rendered(Settings(basemap_crs="none"))


def test_basemap_from_settings() -> None:
    settings = Settings(
        basemap_url=INTRANET_TILES, basemap_attribution="© 内网地图", basemap_crs="gcj02"
    )
    grid_map = build_grid_map(settings, asset_url=_asset)
    (tiles,) = [c for c in grid_map._children.values() if isinstance(c, folium.TileLayer)]
    assert tiles.tiles == INTRANET_TILES
    assert tiles.options["attribution"] == "© 内网地图"
    assert '"basemapCrs": "gcj02"' in _rendered(settings)


def test_no_data_inlined() -> None:
    script = render_parts(build_grid_map(Settings(), asset_url=_asset)).script
    assert "FeatureCollection" not in script
    assert "L.geoJson" not in script and "L.geoJSON" not in script


def test_page_size_follows_the_server_maximum() -> None:
    script = render_parts(build_grid_map(Settings(max_page_size=300), asset_url=_asset)).script
    assert '"pageSize": 300' in script


def test_page_size_is_checked() -> None:
    with pytest.raises(ValueError, match="page_size"):
        build_grid_map(Settings(max_page_size=100), asset_url=_asset, page_size=101)
    with pytest.raises(ValueError, match="max_pages"):
        build_grid_map(Settings(), asset_url=_asset, max_pages=0)


def test_vendored_files_are_committed_with_licence() -> None:
    for path in (LEAFLET_JS, LEAFLET_CSS, PAGE_JS, "vendor/leaflet/LICENSE", "css/gridmap.css"):
        assert (STATIC / path).is_file(), path
    css = (STATIC / LEAFLET_CSS).read_text(encoding="utf-8")
    for image in re.findall(r"url\((images/[^)]+)\)", css):
        assert (STATIC / "vendor" / "leaflet" / image).is_file(), image


@pytest.fixture
def page_client(live_app: Flask, login_token: Callable[..., str]) -> FlaskClient:
    """A client of the live app logged in as demo-street (a web session's cookie)."""
    client = live_app.test_client()
    client.set_cookie(SESSION_COOKIE, login_token("demo-street", kind="web"))
    return client


def test_page_is_one_offline_document(page_client: FlaskClient) -> None:
    with page_client.get("/") as response:
        assert response.status_code == 200
        html = response.get_data(as_text=True)
    assert "<iframe" not in html
    assert html.count("<html") == 1
    assert "网格地图" in html and "住户包户情况" in html
    urls = _linked_urls(html)
    # Assets from /assets/, and the header's links to the app's own pages.
    assert urls and all(u.startswith(("/", "data:")) and u[:2] != "//" for u in urls), urls
    assert any(u.startswith("/assets/") for u in urls)
    assert not re.search(r"https?://", html)
    for url in urls:
        if url.startswith("/assets/"):
            with page_client.get(url) as asset:  # closes the file the response streams
                assert asset.status_code == 200, url


def test_every_inline_script_carries_the_csp_nonce(page_client: FlaskClient) -> None:
    with page_client.get("/") as response:
        csp = response.headers["Content-Security-Policy"]
        html = response.get_data(as_text=True)
    (nonce,) = re.findall(r"script-src 'self' 'nonce-([^']+)'", csp)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert len(inline) >= 2  # folium's global switches and the page's start-up
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline), inline
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
