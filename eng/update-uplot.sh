#!/usr/bin/env bash
# Vendors uPlot (the dashboard's charts) from the npm registry into src/Lifeguard.Dashboard/assets/vendor/uplot:
# the minified browser build, its stylesheet, its licence, and the version it is. Usage: eng/update-uplot.sh [VERSION]
# (default: the version already vendored). Nothing of npm runs at build time; the files are committed and embedded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=src/Lifeguard.Dashboard/assets/vendor/uplot
version=${1:-$(cat "$target/VERSION" 2>/dev/null || true)}
if [[ -z $version ]]; then
    echo "usage: eng/update-uplot.sh VERSION (e.g. 1.6.32)" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts --silent "uplot@$version" >/dev/null)
source=$work/node_modules/uplot
installed=$(node -p "require('$source/package.json').version")

mkdir -p "$target"
cp "$source/dist/uPlot.iife.min.js" "$target/uPlot.iife.min.js"
cp "$source/dist/uPlot.min.css" "$target/uPlot.min.css"
cp "$source/LICENSE" "$target/LICENSE"
echo "$installed" > "$target/VERSION"
echo "uPlot $installed vendored in $target"
