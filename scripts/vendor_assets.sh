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
    *)
      echo "no copy rule for $name" >&2
      exit 1
      ;;
  esac
  echo "$spec" >"$dest/VERSION"
  echo "vendored $spec -> ${dest#"$top"/}"
done
