#!/usr/bin/env bash
# Copies the console's browser files from the npm packages pinned in
# package-lock.json into assets/vendor (served by the binary) and
# browsertest/testdata (the accessibility checker the browser tests run).
#   console/vendor.sh         install with `npm ci` and copy
#   console/vendor.sh check   install into a temporary folder and fail when
#                             the committed copies differ
set -euo pipefail
cd "$(dirname "$0")"

# name in node_modules -> committed copy
files=(
  "htmx.org/dist/htmx.min.js:assets/vendor/htmx.min.js"
  "chart.js/dist/chart.umd.min.js:assets/vendor/chart.umd.min.js"
  "axe-core/axe.min.js:browsertest/testdata/axe.min.js"
)

mode="${1:-copy}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

status=0
for f in "${files[@]}"; do
  src="$work/node_modules/${f%%:*}"
  dst="${f##*:}"
  if [ "$mode" = check ]; then
    if ! cmp -s "$src" "$dst"; then
      echo "console: $dst differs from what package-lock.json gives: run make console-assets" >&2
      status=1
    fi
  else
    mkdir -p "$(dirname "$dst")"
    cp "$src" "$dst"
    echo "console: $dst"
  fi
done
exit $status
