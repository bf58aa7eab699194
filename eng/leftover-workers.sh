#!/usr/bin/env bash
# Prints the Lifeguard worker processes (they run the runtime's entry script, lifeguard_worker.py; nothing else does)
# still alive after a test run, and exits 1 if there are any. A worker exits within milliseconds of its host, but on a
# loaded machine "milliseconds" can outlast the test runner's own exit, so the check waits up to
# LIFEGUARD_LEFTOVER_GRACE seconds (default 10) for workers to go before it counts them as left behind.
#
# Another checkout's test run on the same machine is not this run's: a worker whose host (the pid in its command line,
# still its parent) is alive and works in another checkout of Lifeguard (a folder with its own Lifeguard.slnx) is not
# counted. Every other worker is: orphans, and those of hosts here or anywhere else.
set -uo pipefail
grace=${LIFEGUARD_LEFTOVER_GRACE:-10}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
deadline=$((SECONDS + grace))

# Succeeds when $1 is in another checkout than this one.
in_other_checkout() {
    local dir=$1
    while [[ $dir == /?* ]]; do
        if [[ -f $dir/Lifeguard.slnx ]]; then
            [[ $dir != "$root" ]]
            return
        fi
        dir=${dir%/*}
    done
    return 1
}

# Succeeds when worker $1 (its command line in $2) is this run's to count.
ours() {
    local pid=$1 line=$2 host parent cwd
    host=$(awk '{for (i = 1; i < NF; i++) if ($i ~ /lifeguard_worker\.py$/) { print $(i + 1); exit }}' <<<"$line")
    parent=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1 # gone meanwhile
    if [[ -z $host || $host != "$parent" || ! -d /proc/$host ]]; then
        return 0 # an orphan: whoever started it, it outlived its host
    fi
    cwd=$(readlink "/proc/$host/cwd" 2>/dev/null) || return 0
    ! in_other_checkout "$cwd"
}

while true; do
    leftovers=""
    others=0
    while read -r pid rest; do
        [[ -z $pid ]] && continue
        if ours "$pid" "$rest"; then
            leftovers+="$pid $rest"$'\n'
        else
            others=$((others + 1))
        fi
    done < <(pgrep -af 'lifeguard_worker\.py')
    if [[ -z $leftovers ]]; then
        if ((others > 0)); then
            echo "($others worker processes of another checkout's hosts are running; not counted)" >&2
        fi
        exit 0
    fi
    if ((SECONDS >= deadline)); then
        echo "worker processes left behind by the tests (alive ${grace} s after the run):" >&2
        while read -r pid rest; do
            [[ -z $pid ]] && continue
            echo "  pid $pid (parent $(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo gone)): $rest" >&2
        done <<<"$leftovers"
        exit 1
    fi
    sleep 0.2 # polling a process table with a bound; nothing here synchronises a test
done
