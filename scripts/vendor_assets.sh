#!/usr/bin/env bash
# Refresh the front-end assets served from gridmap/web/static/vendor/.
#
# Government intranets have no internet and public CDNs are unreliable in mainland China, so
# every script, stylesheet and image the map page uses is committed under static/vendor/ and
# served by the app itself. This script is how that copy is refreshed: it fetches pinned npm
# packages with `npm pack` (tarballs only: no install scripts run, no node_modules left behind),
# checks them against the integrity recorded below, and copies the files the page needs plus
# each package's licence. Run it after changing a pin, then commit the result.
#
# Usage: scripts/vendor_assets.sh            (needs node/npm and access to the npm registry)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
vendor="$top/gridmap/web/static/vendor"

# name@version  sha512 integrity as published on the registry (npm view NAME@VER dist.integrity)
packages=(
  "leaflet@1.9.4 sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
  "leaflet-draw@1.0.4 sha512-rsQ6saQO5ST5Aj6XRFylr5zvarWgzWnrg46zQ1MEOEIHsppdC/8hnN8qMoFvACsPvTioAuysya/TVtog15tyAQ=="
  "leaflet-lasso@2.2.13 sha512-XVGP2zoaEB4psLZttTK6K9i+wJckvxTD65um2vgDgTGutpEwxKpEBwCClnrSEK+zIMrJ9juhV5sd72XYKKgmlA=="
  "leaflet.heat@0.2.0 sha512-Cd5PbAA/rX3X3XKxfDoUGi9qp78FyhWYurFg3nsfhntcM/MCNK08pRkf4iEenO1KNqwVPKCmkyktjW3UD+h9bQ=="
  "leaflet.vectorgrid@1.3.0 sha512-kWmj1pKM+MVdo/7Mg5zsB3YrGZvo/uIuiANV9MvWUFOG+Y2xAJzrteDhoIcCgTjHSSRJ36xdeGdIQVhuWjnCZw=="
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME@VERSION INTEGRITY -> extracted package dir on stdout
  local spec=$1 integrity=$2 tarball got
  tarball=$(cd "$work" && npm pack --silent "$spec")
  got="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    echo "integrity mismatch for $spec: expected $integrity, got $got" >&2
    exit 1
  fi
  mkdir -p "$work/${spec%@*}"
  tar -xzf "$work/$tarball" -C "$work/${spec%@*}"
  echo "$work/${spec%@*}/package"
}

mit_licence() {  # mit_licence "Copyright (c) ..." -> the MIT licence text on stdout
  cat <<EOF
MIT License (as declared in the package's package.json)

$1

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF
}

for entry in "${packages[@]}"; do
  read -r spec integrity <<<"$entry"
  name=${spec%@*}
  version=${spec##*@}
  src=$(fetch "$spec" "$integrity")
  dest="$vendor/$name"
  rm -rf "$dest"
  mkdir -p "$dest/images"
  case $name in
    leaflet)
      cp "$src/dist/leaflet.js" "$src/dist/leaflet.js.map" "$src/dist/leaflet.css" "$dest/"
      cp "$src"/dist/images/* "$dest/images/"
      cp "$src/LICENSE" "$dest/LICENSE"
      ;;
    leaflet-draw)
      # The assignment page's rectangle and polygon selection. The tarball ships no licence
      # file; its package.json says MIT and leaflet.draw.js names the copyright holders.
      cp "$src/dist/leaflet.draw.js" "$src/dist/leaflet.draw.css" "$dest/"
      cp "$src"/dist/images/* "$dest/images/"
      mit_licence "Copyright (c) 2012-2017, Jacob Toye, Jon West, Smartrak, Leaflet" \
        >"$dest/LICENSE"
      ;;
    leaflet-lasso)
      # The assignment page's freehand lasso. The UMD build bundles @terraformer/spatial (MIT)
      # and injects its small stylesheet as a <style> element (allowed: style-src
      # 'unsafe-inline') with its icon as a data: URL (allowed: img-src data:); it evaluates no
      # strings, so it runs under the pages' Content-Security-Policy as it is.
      rmdir "$dest/images"
      cp "$src/dist/leaflet-lasso.umd.min.js" "$src/dist/leaflet-lasso.umd.min.js.map" "$dest/"
      cp "$src/LICENSE" "$dest/LICENSE"
      ;;
    leaflet.heat)
      # The review page's heat layer (weighted points the server aggregated).
      rmdir "$dest/images"
      cp "$src/dist/leaflet-heat.js" "$src/LICENSE" "$dest/"
      ;;
    leaflet.vectorgrid)
      # Vector tiles (MVT) in Leaflet: the review page's grids and requests layers. The
      # bundled build includes pbf and vector-tile (BSD). The tarball has no licence file;
      # its package.json and README declare the Beerware licence, copied here.
      rmdir "$dest/images"
      cp "$src/dist/Leaflet.VectorGrid.bundled.min.js" "$dest/"
      sed -n '/THE BEER-WARE LICENSE/,/buy me a beer/p' "$src/README.md" >"$dest/LICENSE"
      ;;
    *)
      echo "no copy rule for $name" >&2
      exit 1
      ;;
  esac
  echo "$spec" >"$dest/VERSION"
  echo "vendored $spec -> ${dest#"$top"/}"
done
