#!/usr/bin/env bash
# Prints the Lifeguard worker processes (they run the runtime's entry script, lifeguard_worker.py; nothing else does)
# still alive after a test run, and exits 1 if there are any. A worker exits within milliseconds of its host, but on a
# loaded machine "milliseconds" can outlast the test runner's own exit, so the check waits up to
# LIFEGUARD_LEFTOVER_GRACE seconds (default 10) for workers to go before it counts them as left behind.
set -uo pipefail
grace=${LIFEGUARD_LEFTOVER_GRACE:-10}
deadline=$((SECONDS + grace))
while leftovers=$(pgrep -af 'lifeguard_worker\.py'); do
    if ((SECONDS >= deadline)); then
        echo "worker processes left behind by the tests (alive ${grace} s after the run):" >&2
        while read -r pid rest; do
            echo "  pid $pid (parent $(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo gone)): $rest" >&2
        done <<<"$leftovers"
        exit 1
    fi
    sleep 0.2 # polling a process table with a bound; nothing here synchronises a test
done
exit 0
