"""Folium builders for the map pages: pure functions from settings to a ``folium.Map``.

Nothing here touches Flask or the database. The builders take the URL of each static asset as
a function (the view passes ``url_for``), so the same map renders under any URL prefix and the
page never names a CDN: folium's class-level ``default_js``/``default_css`` point at public
hosts, which a government intranet cannot reach.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import folium
from branca.element import Figure
from folium.elements import JSCSSMixin
from folium.template import Template
from markupsafe import Markup, escape

from gridmap.core.settings import Settings
from gridmap.requests import lifecycle

#: Maps a path under ``gridmap/web/static/`` to the URL the browser fetches it from.
AssetUrl = Callable[[str], str]

LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"
#: The page modules (ES modules under ``js/pages/``; they import the shared ``js/core/``).
PAGE_JS = "js/pages/map.js"
DRAW_JS = "vendor/leaflet-draw/leaflet.draw.js"
DRAW_CSS = "vendor/leaflet-draw/leaflet.draw.css"
LASSO_JS = "vendor/leaflet-lasso/leaflet-lasso.umd.min.js"
ASSIGN_JS = "js/pages/assign.js"
REQUESTS_JS = "js/pages/requests.js"
REVIEW_JS = "js/pages/review.js"
PATROL_JS = "js/pages/patrol.js"
SERVICE_MAP_JS = "js/pages/service_map.js"
IMPORT_JS = "js/pages/grid_import.js"
ONENET_JS = "js/pages/onenet.js"
PUBLIC_JS = "js/pages/public.js"
LISTS_JS = "js/pages/party_lists.js"
PARTY_MAP_JS = "js/pages/party_map.js"
#: The pages of ``pages/patrol.js``: the worker's 巡查走访 and the chief's 巡查回放.
PATROL_PAGES = ("worker", "replay")
HEAT_JS = "vendor/leaflet.heat/leaflet-heat.js"
VECTORGRID_JS = "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"
#: The pages of ``pages/requests.js`` that have a map (诉求详情, 上报诉求, 诉求地图).
REQUEST_MAP_PAGES = ("detail", "new", "map")

#: Where the map opens before the page has fitted it to the data: the centre of China.
_CHINA_CENTRE = (35.0, 105.0)
_MIN_ZOOM = 3
_MAX_ZOOM = 19
_DEFAULT_PAGE_SIZE = 1000
#: An inline script's opening tag as folium writes it (external ones have a ``src``).
_INLINE_SCRIPT = re.compile(r"<script\s*>")
#: folium's own viewport tag (``maximum-scale=1.0, user-scalable=no``): it would stop pinch-zoom
#: on a phone, and the page template already declares the viewport.
_FOLIUM_VIEWPORT = re.compile(r'<meta\s+name="viewport"[^>]*>\s*')


@dataclass(frozen=True)
class LayerZooms:
    """Smallest zoom at which each layer is fetched and drawn.

    A city holds ~100 k micro-grids and ~10 M households: below these zooms a viewport would
    ask the API for more features than a browser can draw, so the layer waits to be zoomed in.
    """

    community: int = 10
    zone: int = 12
    micro: int = 14
    household: int = 15
    #: Buildings (楼栋): their footprints mean something only near street level.
    building: int = 16
    #: Micro-grid labels crowd each other out below this zoom.
    micro_labels: int = 16
    zone_labels: int = 13


@dataclass(frozen=True)
class MapParts:
    """The three pieces of a rendered folium figure, to place into a Jinja page.

    ``header`` goes in ``<head>``, ``html`` where the map should appear and ``script`` in a
    ``<script>`` element after it; together they are what folium would put in a standalone
    document, so the page stays one HTML document rather than an iframe.
    """

    header: Markup
    html: Markup
    script: Markup


class OfflineMap(folium.Map):
    """A ``folium.Map`` whose Leaflet comes from the app's vendored copy.

    Only Leaflet is kept: folium's defaults also load jQuery, Bootstrap and awesome-markers,
    which this page does not use.
    """

    def __init__(self, *, asset_url: AssetUrl, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Instance lists shadow folium's class-level CDN lists; each map owns its own, because
        # folium's ``add_js_link`` mutates whichever list it finds in place.
        self.default_js = [("leaflet", asset_url(LEAFLET_JS))]
        self.default_css = [("leaflet_css", asset_url(LEAFLET_CSS))]


class PageScript(JSCSSMixin):
    """Starts a page module on its parent map: ``window.<handle> = start(map, config)``, with
    ``start`` imported from the ES module at ``module`` (a URL), after loading ``js`` and
    ``css`` (vendored Leaflet plugins, classic scripts, in order).

    The figure's script is placed by the page template in a ``<script type="module">``, so the
    import needs no bundler; the header preloads the module while the page is parsed. The
    scripts fetch every layer from the API for the visible area, so no data is inlined;
    ``config`` tells them where the API is, the basemap's CRS and what the page is for.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <link rel="modulepreload" href="{{ this.module }}">
        {% endmacro %}
        {% macro script(this, kwargs) %}
            import { start as {{ this.get_name() }} } from {{ this.module|tojson }};
            window.{{ this.handle }} = {{ this.get_name() }}(
                {{ this._parent.get_name() }}, {{ this.config|tojson }}
            );
        {% endmacro %}
        """
    )

    def __init__(
        self,
        handle: str,
        module: str,
        config: Mapping[str, Any],
        js: list[tuple[str, str]] | None = None,
        css: list[tuple[str, str]] | None = None,
    ) -> None:
        # branca's Element.__init__ is unannotated, and untyped_calls_exclude skips super() calls.
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "start_page"
        self.handle, self.module = handle, module
        self.config = dict(config)
        self.default_js = js or []
        self.default_css = css or []


def build_grid_map(
    settings: Settings,
    *,
    asset_url: AssetUrl,
    api_root: str = "/api/v1",
    zooms: LayerZooms | None = None,
    page_size: int | None = None,
    max_pages: int = 5,
    assign_url: str | None = None,
    requests_period: str | None = None,
) -> folium.Map:
    """网格地图: the grid chief's map of communities, zones, micro-grids and households.

    Parameters
    ----------
    settings
        Deployment settings; ``basemap_url``, ``basemap_attribution`` and ``basemap_crs`` choose
        the basemap (``"none"``: no tile layer at all).
    asset_url
        URL of a file under ``gridmap/web/static/`` (e.g. ``vendor/leaflet/leaflet.js``).
    api_root
        URL prefix of the JSON API the page fetches its layers from.
    zooms
        Smallest zoom of each layer; the defaults suit a city.
    page_size, max_pages
        Features asked for per API call (default: 1000 or the server's ``max_page_size`` if
        smaller), and how many pages one layer follows for one view before it tells the user
        to zoom in.
    assign_url
        URL of the assignment page (分配包户), linked from zone and micro-grid popups for roles
        that may assign; None: no link.
    requests_period
        For roles that review requests: the period (``YYYY-MM``) of the requests layer drawn
        from vector tiles; None: no such layer.

    Returns
    -------
    folium.Map
        A map with no overlay data in it: the page script loads the layers for the visible
        area from the API.
    """
    if page_size is None:
        page_size = min(_DEFAULT_PAGE_SIZE, settings.max_page_size)
    if page_size < 1 or page_size > settings.max_page_size:
        raise ValueError(f"page_size must be 1..{settings.max_page_size}, not {page_size}")
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, not {max_pages}")
    grid_map = _base_map(settings, asset_url)
    config = {
        "apiRoot": api_root.rstrip("/"),
        "basemapCrs": settings.basemap_crs,
        "zooms": {_camel(k): v for k, v in asdict(zooms or LayerZooms()).items()},
        "pageSize": page_size,
        "maxPages": max_pages,
        "minZoom": _MIN_ZOOM,
        "maxZoom": _MAX_ZOOM,
        "assignUrl": assign_url,
        "tiles": {
            "root": f"{api_root.rstrip('/')}/tiles",
            "microOutlineZoom": 11,
            "requestsPeriod": requests_period,
        },
    }
    scripts = [("leaflet_vectorgrid", asset_url(VECTORGRID_JS))]
    PageScript("gridmap", asset_url(PAGE_JS), config, scripts).add_to(grid_map)
    return grid_map


def _base_map(settings: Settings, asset_url: AssetUrl) -> folium.Map:
    """An empty offline map with the configured basemap (or none)."""
    grid_map = OfflineMap(
        asset_url=asset_url,
        location=_CHINA_CENTRE,
        zoom_start=4,
        # folium's min/max zoom only reach its own tile layer; the script sets the map's.
        tiles=None,
        # folium's scale bar shows feet and miles too; the script adds a metric one.
        control_scale=False,
        width="100%",
        height="100%",
    )
    if settings.basemap_crs != "none":
        folium.TileLayer(
            tiles=settings.basemap_url,
            attr=settings.basemap_attribution,
            name="底图",
            control=False,
            max_zoom=_MAX_ZOOM,
        ).add_to(grid_map)
    return grid_map


def build_assign_map(
    settings: Settings,
    *,
    asset_url: AssetUrl,
    grid_code: str | None,
    api_root: str = "/api/v1",
    reports_root: str = "/api/v1/reports",
    care_weight: float = 2.0,
) -> folium.Map:
    """分配包户: the page where a chief divides a grid's households among members.

    Parameters
    ----------
    settings
        Deployment settings (the basemap, as for :func:`build_grid_map`).
    asset_url
        URL of a file under ``gridmap/web/static/``.
    grid_code
        The zone or micro-grid the page edits; None: the page offers the caller's zones.
    api_root, reports_root
        URL prefixes of the JSON API and of its reports (CSV and Excel downloads).
    care_weight
        Weight of a care household (关爱对象) in the loads the page shows.

    Returns
    -------
    folium.Map
        A map with no data in it: the page script loads the grid's coverage from the API.
    """
    if grid_code is not None and not re.fullmatch(r"\d{14}(\d{3})?", grid_code):
        raise ValueError(
            f"grid_code must be a zone (14 digits) or micro-grid (17), not {grid_code}"
        )
    grid_map = _base_map(settings, asset_url)
    config = {
        "apiRoot": api_root.rstrip("/"),
        "reportsRoot": reports_root.rstrip("/"),
        "basemapCrs": settings.basemap_crs,
        "grid": grid_code,
        "careWeight": care_weight,
        "minZoom": _MIN_ZOOM,
        "maxZoom": _MAX_ZOOM,
    }
    scripts = [
        ("leaflet_draw", asset_url(DRAW_JS)),
        ("leaflet_lasso", asset_url(LASSO_JS)),
    ]
    css = [("leaflet_draw_css", asset_url(DRAW_CSS))]
    PageScript("gridmapAssign", asset_url(ASSIGN_JS), config, scripts, css).add_to(grid_map)
    return grid_map


def requests_config(
    settings: Settings,
    *,
    page: str,
    api_root: str = "/api/v1",
    urls: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What every page of ``pages/requests.js`` is told: which page it is, where the API and
    the other pages are (``urls``), the basemap's CRS; ``extra`` adds the page's own values."""
    return {
        "page": page,
        "openStates": list(lifecycle.OPEN),
        "apiRoot": api_root.rstrip("/"),
        "basemapCrs": settings.basemap_crs,
        "urls": dict(urls or {}),
        "minZoom": _MIN_ZOOM,
        "maxZoom": _MAX_ZOOM,
    } | extra


def build_requests_map(
    settings: Settings, *, asset_url: AssetUrl, config: Mapping[str, Any]
) -> folium.Map:
    """群众诉求: the map of a request page — one request's place (``detail``), the place a new
    request is filed at (``new``) or the open requests coloured by urgency (``map``).

    Parameters
    ----------
    settings
        Deployment settings (the basemap, as for :func:`build_grid_map`).
    asset_url
        URL of a file under ``gridmap/web/static/``.
    config
        The page's configuration from :func:`requests_config`; ``config["page"]`` is one of
        :data:`REQUEST_MAP_PAGES`.

    Returns
    -------
    folium.Map
        A map with no request in it: the page script fetches what it shows from the API.
    """
    if config.get("page") not in REQUEST_MAP_PAGES:
        page = config.get("page")
        raise ValueError(f"config['page'] must be one of {REQUEST_MAP_PAGES}, not {page!r}")
    grid_map = _base_map(settings, asset_url)
    PageScript("gridmapRequests", asset_url(REQUESTS_JS), config).add_to(grid_map)
    return grid_map


def build_review_map(
    settings: Settings, *, asset_url: AssetUrl, config: Mapping[str, Any]
) -> folium.Map:
    """一月一研判: the review of where requests concentrate — heat layer, choropleth, hot spots
    and a time slider, all fetched as aggregates and vector tiles (``config`` tells the page
    script where the API is, the categories and the default period).

    Returns
    -------
    folium.Map
        A map with no data in it: whatever the number of requests, the page receives grids as
        vector tiles and at most one weighted point per micro-grid.
    """
    grid_map = _base_map(settings, asset_url)
    config = {"basemapCrs": settings.basemap_crs, "minZoom": _MIN_ZOOM, "maxZoom": _MAX_ZOOM} | {
        **config
    }
    scripts = [
        ("leaflet_heat", asset_url(HEAT_JS)),
        ("leaflet_vectorgrid", asset_url(VECTORGRID_JS)),
    ]
    PageScript("gridmapReview", asset_url(REVIEW_JS), config, scripts).add_to(grid_map)
    return grid_map


def build_patrol_map(
    settings: Settings, *, asset_url: AssetUrl, config: Mapping[str, Any]
) -> folium.Map:
    """巡查走访: the map of a patrol page — the worker's live track and the households of the
    day's lists (``worker``), or a chief's replay of a patrol with its check-ins, the
    households it reached and the overdue duties (``replay``).

    Parameters
    ----------
    settings
        Deployment settings (the basemap, as for :func:`build_grid_map`).
    asset_url
        URL of a file under ``gridmap/web/static/``.
    config
        What the page script is told: ``page`` (one of :data:`PATROL_PAGES`), ``apiRoot``
        and the page's own values (``today``).

    Returns
    -------
    folium.Map
        A map with no data in it: the page script fetches lists, tracks and layers from the API.
    """
    if config.get("page") not in PATROL_PAGES:
        page = config.get("page")
        raise ValueError(f"config['page'] must be one of {PATROL_PAGES}, not {page!r}")
    grid_map = _base_map(settings, asset_url)
    config = {
        "apiRoot": "/api/v1",
        "basemapCrs": settings.basemap_crs,
        "minZoom": _MIN_ZOOM,
        "maxZoom": _MAX_ZOOM,
    } | dict(config)
    PageScript("gridmapPatrol", asset_url(PATROL_JS), config).add_to(grid_map)
    return grid_map


#: Pages whose map starts empty and whose script draws everything from the API: the page's
#: name → (the script's global name, the script).
#:
#: - ``lists``: 三张清单, open needs and resources of the chief's communities, each need tied
#:   to the nearest resource within 1 km (points rounded to about 200 m, never a door);
#: - ``service_map``: 15分钟便民服务圈, sites, walking circles, the gap map, candidate sites;
#: - ``party_map``: 党建地图, buildings with their 楼栋长, 党员中心户 and their neighbours,
#:   posts, members' homes and coverage (names and phones masked as the reader reads them);
#: - ``grid_import``: 网格导入, today's grid of the file's area, the file's grids, the redraw's
#:   changes and a refused file's problems, from the jobs' results;
#: - ``onenet``: 一张网比对, our units and a department's cells coloured by verdict.
SCRIPTED_PAGES: dict[str, tuple[str, str]] = {
    "lists": ("gridmapPartyLists", LISTS_JS),
    "service_map": ("gridmapServiceMap", SERVICE_MAP_JS),
    "party_map": ("gridmapPartyMap", PARTY_MAP_JS),
    "grid_import": ("gridmapImport", IMPORT_JS),
    "onenet": ("gridmapOnenet", ONENET_JS),
}


def build_scripted_map(
    page: str, settings: Settings, *, asset_url: AssetUrl, config: Mapping[str, Any]
) -> folium.Map:
    """The map of one of :data:`SCRIPTED_PAGES`: the basemap and the page's script, told the
    API root, the basemap's CRS and zooms, and ``config`` (the page's own values)."""
    name, script = SCRIPTED_PAGES[page]
    page_map = _base_map(settings, asset_url)
    told = {
        "apiRoot": "/api/v1",
        "basemapCrs": settings.basemap_crs,
        "minZoom": _MIN_ZOOM,
        "maxZoom": _MAX_ZOOM,
    } | dict(config)
    PageScript(name, asset_url(script), told).add_to(page_map)
    return page_map


def public_config(settings: Settings, *, page: str, **extra: Any) -> dict[str, Any]:
    """What every page of ``pages/public.js`` (公众上报) is told: which page, the API, the
    basemap's CRS; ``extra`` adds the page's own values."""
    return {
        "page": page,
        "apiRoot": "/api/v1/public",
        "basemapCrs": settings.basemap_crs,
        "minZoom": _MIN_ZOOM,
        "maxZoom": _MAX_ZOOM,
    } | extra


def build_public_map(
    settings: Settings, *, asset_url: AssetUrl, config: Mapping[str, Any]
) -> folium.Map:
    """公众上报: the map a resident places a problem on (``config`` from
    :func:`public_config`, with ``bounds``: the district's box to open on). No data in it."""
    grid_map = _base_map(settings, asset_url)
    PageScript("gridmapPublic", asset_url(PUBLIC_JS), config).add_to(grid_map)
    return grid_map


def render_parts(grid_map: folium.Map, *, nonce: str | None = None) -> MapParts:
    """Render ``grid_map`` into the header, body and script pieces of its folium figure.

    ``nonce`` is the page's Content-Security-Policy nonce: folium's header holds inline scripts
    of its own (Leaflet's global switches), which the policy blocks unless they carry it. The
    ``script`` part is placed by the page's template in a ``<script type="module">`` (it imports
    the page module), which adds the nonce to its element. folium's viewport tag is dropped:
    the template's own lets a phone pinch-zoom.
    """
    figure = grid_map.get_root()
    if not isinstance(figure, Figure):
        raise TypeError("the map must be attached to a folium Figure (folium.Map does that)")
    # Rendering the figure renders every element, which is what fills the figure's header,
    # html and script children; the document it returns is not used.
    figure.render()
    header = _FOLIUM_VIEWPORT.sub("", figure.header.render())
    if nonce is not None:
        header = _INLINE_SCRIPT.sub(f'<script nonce="{escape(nonce)}">', header)
    return MapParts(
        header=Markup(header),
        html=Markup(figure.html.render()),
        script=Markup(figure.script.render()),
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
