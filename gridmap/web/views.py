"""Page views: thin adapters from a request to a map builder and a template."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for

from gridmap.settings import Settings
from gridmap.web.maps import build_grid_map, render_parts

# The web package owns every asset (Leaflet under vendor/, the page's own under js/ and css/).
# They are served at /assets because Flask always claims /static for the app's own static
# route, which would shadow a blueprint's route at the same path.
bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)


def _asset_url(path: str) -> str:
    return url_for("web.static", filename=path)


@bp.get("/")
def grid_map_page() -> str:
    """网格地图: the grid chief's map page (communities, zones, micro-grids, households)."""
    settings: Settings = current_app.extensions["gridmap.settings"]
    grid_map = build_grid_map(
        settings, asset_url=_asset_url, api_root=f"{request.script_root}/api/v1"
    )
    return render_template("map.html", map=render_parts(grid_map))
