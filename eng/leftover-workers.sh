#!/usr/bin/env bash
# Prints the Lifeguard worker processes (they run the runtime's entry script, lifeguard_worker.py; nothing else does)
# still alive after a test run, and exits 1 if there are any. A worker exits within milliseconds of its host, but on a
# loaded machine "milliseconds" can outlast the test runner's own exit, so the check waits up to
# LIFEGUARD_LEFTOVER_GRACE seconds (default 10) for workers to go before it counts them as left behind.
#
# Another checkout's test run on the same machine is not this run's: a worker whose host (the pid in its command line,
# still its parent) is alive and works in another checkout of Lifeguard (a folder with its own Lifeguard.slnx), or whose
# entry script is another checkout's, is not counted. Every other worker is: orphans, and those of hosts here or
# anywhere else.
#
# The same holds for the tests' RabbitMQ nodes (eng/rabbitmq.sh): a process that carries an instance's state folder in
# its environment (LIFEGUARD_RABBITMQ_INSTANCE: beam.smp, its epmd and helpers) is left behind when that folder is in
# this checkout, or when the instance's owner (recorded in the folder) is gone, wherever it is. A node of another
# checkout whose owner is alive is that run's, and not counted.
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
    local pid=$1 line=$2 host parent cwd script
    host=$(awk '{for (i = 1; i < NF; i++) if ($i ~ /lifeguard_worker\.py$/) { print $(i + 1); exit }}' <<<"$line")
    script=$(awk '{for (i = 1; i < NF; i++) if ($i ~ /lifeguard_worker\.py$/) { print $i; exit }}' <<<"$line")
    parent=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1 # gone meanwhile
    if [[ -z $host || $host != "$parent" || ! -d /proc/$host ]]; then
        return 0 # an orphan: whoever started it, it outlived its host
    fi
    if [[ $script == /* ]] && in_other_checkout "${script%/*}"; then
        return 1 # a live host running another checkout's runtime
    fi
    cwd=$(readlink "/proc/$host/cwd" 2>/dev/null) || return 0
    ! in_other_checkout "$cwd"
}

# The start time of process $1 (field 22 of /proc/PID/stat), empty when it is gone.
start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    awk '{print $20}' <<<"$stat"
}

# Prints "pid folder" for every running (not zombie) process of a test broker instance.
broker_processes() {
    local line pid dir
    while IFS= read -r -d '' line; do
        pid=${line#/proc/}
        pid=${pid%%/*}
        dir=${line#*:LIFEGUARD_RABBITMQ_INSTANCE=}
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && continue
        echo "$pid $dir"
    done < <(grep -zsH -m 1 '^LIFEGUARD_RABBITMQ_INSTANCE=' /proc/[0-9]*/environ)
}

# Succeeds when a broker process of instance folder $1 is this run's to count.
broker_ours() {
    local dir=$1 owner_pid="" owner_start=""
    [[ $dir == "$root"/* ]] && return 0
    # shellcheck disable=SC1091
    source "$dir/lifeguard-rabbitmq.instance" 2>/dev/null || return 0 # its folder is gone: an orphan
    [[ -z $owner_pid || $(start_time "$owner_pid") != "$owner_start" ]]
}

while true; do
    leftovers=""
    others=0
    broker_leftovers=""
    broker_others=0
    while read -r pid dir; do
        [[ -z $pid ]] && continue
        if broker_ours "$dir"; then
            broker_leftovers+="$pid $dir"$'\n'
        else
            broker_others=$((broker_others + 1))
        fi
    done < <(broker_processes)
    while read -r pid rest; do
        [[ -z $pid ]] && continue
        if ours "$pid" "$rest"; then
            leftovers+="$pid $rest"$'\n'
        else
            others=$((others + 1))
        fi
    done < <(pgrep -af 'lifeguard_worker\.py')
    if [[ -z $leftovers && -z $broker_leftovers ]]; then
        if ((others > 0)); then
            echo "($others worker processes of another checkout's hosts are running; not counted)" >&2
        fi
        if ((broker_others > 0)); then
            echo "($broker_others test broker processes of another checkout's runs are running; not counted)" >&2
        fi
        exit 0
    fi
    if ((SECONDS >= deadline)); then
        echo "processes left behind by the tests (alive ${grace} s after the run):" >&2
        while read -r pid rest; do
            [[ -z $pid ]] && continue
            echo "  pid $pid (parent $(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo gone)): $rest" >&2
        done <<<"$leftovers"
        while read -r pid dir; do
            [[ -z $pid ]] && continue
            echo "  test broker pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)) of $dir" >&2
        done <<<"$broker_leftovers"
        exit 1
    fi
    sleep 0.2 # polling a process table with a bound; nothing here synchronises a test
done
