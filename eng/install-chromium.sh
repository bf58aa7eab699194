#!/usr/bin/env bash
# Makes sure headless Chromium (Debian's `chromium` package) is at /usr/bin/chromium for the dashboard's browser tests,
# installing it with apt-get when it is missing. The tests' fixture runs this; run it by hand to install ahead of time.
# Idempotent, and quick when Chromium is already there. Prints the browser's path on success; exit 1 when it cannot
# be installed (no apt-get, or not root), with the reason on stderr.
set -euo pipefail

browser=/usr/bin/chromium
if [[ -x $browser ]]; then
    echo "$browser"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: $browser is missing and apt-get is not available to install it" >&2
    exit 1
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "install-chromium: $browser is missing; installing it needs root (run: apt-get install chromium)" >&2
        exit 1
    fi
fi

# Several test processes may ask at once: one installs, the others wait for it.
exec 9>"${TMPDIR:-/tmp}/lifeguard-install-chromium.lock"
flock 9
if [[ ! -x $browser ]]; then
    echo "install-chromium: installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >/dev/null
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

if [[ ! -x $browser ]]; then
    echo "install-chromium: apt-get finished but $browser is still missing" >&2
    exit 1
fi

echo "$browser"
