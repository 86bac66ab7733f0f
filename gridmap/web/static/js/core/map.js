/*
 * core/map.js: what every map page does to the folium-created Leaflet map — the basemap's
 * coordinates (GCJ-02 shift), zoom limits, attribution and scale.
 */

/*
 * GCJ-02 (国测局坐标, used by AMap/Tencent tiles). The forward transform is the published
 * obfuscation formula on the Krasovsky ellipsoid; it has no closed inverse, so the inverse is
 * a fixed-point iteration (converges to < 1e-9 degree in a few steps).
 */
export const gcj02 = (function () {
  const A = 6378245.0;
  const EE = 0.006693421622965943; // 0.00669342162296594323, as a double
  const PI = Math.PI;

  function outOfChina(lng, lat) {
    return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  function offsetLat(x, y) {
    let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
    r += ((20.0 * Math.sin(y * PI) + 40.0 * Math.sin((y / 3.0) * PI)) * 2.0) / 3.0;
    r += ((160.0 * Math.sin((y / 12.0) * PI) + 320.0 * Math.sin((y * PI) / 30.0)) * 2.0) / 3.0;
    return r;
  }

  function offsetLng(x, y) {
    let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
    r += ((20.0 * Math.sin(x * PI) + 40.0 * Math.sin((x / 3.0) * PI)) * 2.0) / 3.0;
    r += ((150.0 * Math.sin((x / 12.0) * PI) + 300.0 * Math.sin((x / 30.0) * PI)) * 2.0) / 3.0;
    return r;
  }

  /** WGS 84 (or CGCS2000) lon/lat → GCJ-02 lon/lat. */
  function fromWgs84(lng, lat) {
    if (outOfChina(lng, lat)) return [lng, lat];
    let dLat = offsetLat(lng - 105.0, lat - 35.0);
    let dLng = offsetLng(lng - 105.0, lat - 35.0);
    const radLat = (lat / 180.0) * PI;
    let magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    const sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * PI);
    dLng = (dLng * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * PI);
    return [lng + dLng, lat + dLat];
  }

  /** GCJ-02 lon/lat → WGS 84 lon/lat, by iterating the forward transform. */
  function toWgs84(lng, lat) {
    let wLng = lng;
    let wLat = lat;
    for (let i = 0; i < 20; i += 1) {
      const g = fromWgs84(wLng, wLat);
      const dLng = lng - g[0];
      const dLat = lat - g[1];
      wLng += dLng;
      wLat += dLat;
      if (Math.abs(dLng) < 1e-10 && Math.abs(dLat) < 1e-10) break;
    }
    return [wLng, wLat];
  }

  return { fromWgs84, toWgs84, outOfChina };
})();

const identity = (lng, lat) => [lng, lat];

/**
 * Lon/lat (WGS 84/CGCS2000, as stored) ↔ the basemap's coordinates: overlays are shifted to
 * match a GCJ-02 basemap, and the map's view shifted back before the API is asked for it.
 * `latLng(lng, lat)` is the Leaflet LatLng a stored point is drawn at.
 */
export function projection(config) {
  const shifted = config.basemapCrs === 'gcj02';
  const toDisplay = shifted ? gcj02.fromWgs84 : identity;
  return {
    toDisplay,
    fromDisplay: shifted ? gcj02.toWgs84 : identity,
    latLng(lng, lat) {
      const p = toDisplay(lng, lat);
      return L.latLng(p[1], p[0]);
    },
  };
}

/** How long a basemap tile may take before it is given up (milliseconds). */
export const TILE_TIMEOUT_MS = 8000;

/**
 * A basemap tile that does not arrive in time is given up: its request is cancelled (an empty
 * ``src``), so a tile host that never answers cannot hold the page's load event and the
 * browser's spinner for ever; the layers from the app are drawn regardless.
 */
function giveUpSlowTiles(map) {
  let timedOut = 0;
  const watch = (tile) => {
    if (!tile || tile.dataset.gmWatched) return;
    tile.dataset.gmWatched = '1';
    setTimeout(() => {
      if (tile.complete && tile.naturalWidth > 0) return;
      tile.removeAttribute('src');
      tile.src = '';
      timedOut += 1;
      document.body.dataset.basemapTimedOut = String(timedOut);
      if (timedOut === 1) map.attributionControl.addAttribution('底图加载超时');
    }, TILE_TIMEOUT_MS);
  };
  map.eachLayer((layer) => {
    if (!(layer instanceof L.TileLayer) || !layer.getContainer) return;
    layer.on('tileloadstart', (event) => watch(event.tile));
    // Tiles asked for before this module ran (the folium script sets the view first).
    const container = layer.getContainer();
    if (container) container.querySelectorAll('img.leaflet-tile').forEach(watch);
  });
}

/** Zoom limits of the page, Leaflet's attribution without its link and a metric scale. */
export function prepareMap(map, config) {
  map.setMinZoom(config.minZoom);
  map.setMaxZoom(config.maxZoom);
  // The default prefix links to leafletjs.com, a host an intranet cannot reach.
  map.attributionControl.setPrefix('Leaflet');
  L.control.scale({ imperial: false }).addTo(map);
  giveUpSlowTiles(map);
}
