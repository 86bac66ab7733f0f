/*
 * pages/map.js: the grid chief's map page (网格地图).
 *
 * An ES module, no build step: intranet deployments serve this file as it is. The folium page
 * creates the Leaflet map and calls start(map, config); from then on this module owns the
 * page: it fetches the grid levels (社区/片区/微网格) and the households from the API for the
 * visible area on every move (map/layers.js), runs the search and shows who covers a clicked
 * household (map/household.js).
 *
 * The element ids it uses are those of templates/map.html and base.html.
 */
import { banner, hideBanner } from '../core/banner.js';
import { getJson } from '../core/api.js';
import { debounce } from '../core/dom.js';
import { gcj02, prepareMap, projection } from '../core/map.js';
import { mixin } from '../core/mixin.js';
import { HouseholdPanel } from '../map/household.js';
import { GridLayers } from '../map/layers.js';
import { GRID_LEVELS } from '../map/style.js';

const MOVE_DEBOUNCE_MS = 250;
const START_COMMUNITIES = 200;

class GridmapPage {
  constructor(map, config) {
    this.map = map;
    this.config = config;
    this.zooms = config.zooms;
    // Overlays are stored in CGCS2000 ≈ WGS 84; a GCJ-02 basemap needs them shifted to match,
    // and the map's view shifted back before the API is asked for it.
    const { toDisplay, fromDisplay, latLng } = projection(config);
    this.toDisplay = toDisplay;
    this.fromDisplay = fromDisplay;
    this.coordsToLatLng = (coords) => latLng(coords[0], coords[1]);
    this.enabled = {
      community: true, zone: true, micro: true, building: true, household: true,
    };
    this.counts = {};
    this.truncated = {};
    this.controllers = {};
    this.coverageController = null;
    this.selectedHousehold = null;
    this.focusGrid = null;
    // Whether this role may reveal plain personal data (asked once: GET /auth/me).
    this.canReveal = false;
    this.canAssign = false;
    this.ready = this.loadCapabilities();
    this.dom = {
      hint: document.getElementById('gm-map-hint'),
      household: document.getElementById('gm-household'),
      search: document.getElementById('gm-search'),
      searchInput: document.getElementById('gm-search-input'),
      results: document.getElementById('gm-search-results'),
    };

    prepareMap(map, config);
    // Separate panes keep households above every grid outline whatever order layers reload in.
    map.createPane('gm-grids').style.zIndex = 410;
    map.createPane('gm-buildings').style.zIndex = 415;
    map.createPane('gm-households').style.zIndex = 420;

    this.layers = {};
    this.gridNames = {};
    GRID_LEVELS.forEach((level) => {
      this.gridNames[level] = new Map();
      this.layers[level] = this.makeGridLayer(level).addTo(map);
    });
    this.layers.building = this.makeBuildingLayer().addTo(map);
    this.layers.household = this.makeHouseholdLayer().addTo(map);
    this.makeTileLayers();

    this.bindControls();
    map.on('zoomend', () => {
      this.updateLabelClasses();
      this.declutterLabels();
    });
    map.on('moveend', debounce(() => this.refresh(), MOVE_DEBOUNCE_MS));
    // A link with another view pasted into the address bar of this page changes only the hash.
    window.addEventListener('hashchange', () => this.restoreView());
    this.updateLabelClasses();
    this.start();
  }

  // ---- start-up and the view in the URL ----------------------------------------------------

  async loadCapabilities() {
    try {
      const me = await getJson(`${this.config.apiRoot}/auth/me`);
      this.canReveal = Array.isArray(me.capabilities) && me.capabilities.includes('reveal');
      this.canAssign = Array.isArray(me.capabilities) && me.capabilities.includes('assign');
    } catch (err) {
      this.showError(`无法读取当前用户的权限：${err.message}`);
    }
  }

  async start() {
    if (this.restoreView()) return;
    // No view in the URL: open on the grids the caller may see, coarsest level first (a zone
    // leader's or a grid worker's scope holds no community). A first page is enough to find
    // where the data is, and a small one keeps a city-wide first request light.
    try {
      const limit = String(Math.min(this.config.pageSize, START_COMMUNITIES));
      for (const level of GRID_LEVELS) {
        const query = new URLSearchParams({ level, limit });
        const body = await getJson(`${this.config.apiRoot}/grids?${query}`);
        const features = Array.isArray(body.features) ? body.features : [];
        if (features.length > 0) {
          const bounds = L.geoJSON({ type: 'FeatureCollection', features },
            { coordsToLatLng: this.coordsToLatLng }).getBounds();
          this.map.fitBounds(bounds);
          return;
        }
      }
      this.dom.hint.textContent = '暂无网格数据';
      this.dom.hint.hidden = false;
    } catch (err) {
      this.showError(`网格数据加载失败：${err.message}`);
    }
  }

  // The view goes in the URL's hash (#map=zoom/lat/lon, WGS 84) so a link shows the same place.
  saveView() {
    const c = this.map.getCenter();
    const p = this.fromDisplay(c.lng, c.lat);
    const hash = `#map=${this.map.getZoom()}/${p[1].toFixed(5)}/${p[0].toFixed(5)}`;
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
  }

  restoreView() {
    const m = /^#map=(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(window.location.hash);
    if (!m) return false;
    const p = this.toDisplay(Number(m[3]), Number(m[2]));
    this.map.setView([p[1], p[0]], Number(m[1]));
    return true;
  }

  // ---- sidebar controls --------------------------------------------------------------------

  bindControls() {
    document.querySelectorAll('input[name="layer"]').forEach((box) => {
      box.addEventListener('change', () => {
        this.enabled[box.value] = box.checked;
        const layer = this.layers[box.value];
        if (box.checked) this.map.addLayer(layer);
        else this.map.removeLayer(layer);
        this.refreshLayer(box.value);
      });
    });
    this.dom.search.addEventListener('submit', (event) => {
      event.preventDefault();
      const q = this.dom.searchInput.value.trim();
      if (q) this.search(q);
    });
  }

  showError(message) {
    banner(message);
  }

  hideError() {
    hideBanner();
  }

  // ---- search ------------------------------------------------------------------------------

}

mixin(GridmapPage, GridLayers, HouseholdPanel);

/** Attach the page to the folium-created Leaflet map; returns the page (tests read it). */
export function start(map, config) {
  return new GridmapPage(map, config);
}

// The page's one global besides its handle: the tests check the GCJ-02 transform against the
// server's own (gridmap.spatial.crs), and it is handy in the console.
window.GridmapPage = { start, gcj02 };
