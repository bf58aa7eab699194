#!/usr/bin/env bash
# The project's own RabbitMQ node for tests: private to one state folder, bound to loopback, on ports chosen free at
# start, with its own Erlang cookie, epmd and user. Nobody starts a broker by hand: the tests' fixture
# (tests/Lifeguard.TestUtilities/RabbitMqNode.cs) runs this script.
#
#   eng/rabbitmq.sh start [DIR]   # install rabbitmq-server when missing, start a node, print its AMQP URI
#   eng/rabbitmq.sh uri [DIR]     # print the running node's AMQP URI
#   eng/rabbitmq.sh listeners [DIR]   # print the node's listeners, one "protocol interface port" a line
#   eng/rabbitmq.sh stop [DIR]    # shut the node down, stop its epmd, remove DIR
#   eng/rabbitmq.sh restart [DIR]     # shut the node down and start it again: same ports, user, password and URI
#   eng/rabbitmq.sh stop-app [DIR]    # stop the RabbitMQ application (connections close, the port refuses), keep the VM
#   eng/rabbitmq.sh start-app [DIR]   # start the application again and wait until it serves
#
# DIR (or LIFEGUARD_RABBITMQ_DIR) is the instance's state folder; the default is artifacts/rabbitmq/default. Two nodes
# never share one: each folder holds one node's data, logs, cookie, ports and pids, so concurrent runs with their own
# folders never meet. The node's owner is the process that ran `start` (LIFEGUARD_RABBITMQ_OWNER, default the caller):
# `start` on a folder whose owner is gone stops what it left behind first (by the pids it recorded), and so does it for
# any other instance folder beside DIR whose owner is gone. The password is printed only inside the URI on stdout.
# Every wait is bounded (LIFEGUARD_RABBITMQ_TIMEOUT seconds, default 180, for start-up and for shutdown: a start on two
# cores under a CPU hog can take more than 60 s).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
rabbit_bin=/usr/lib/rabbitmq/bin
timeout=${LIFEGUARD_RABBITMQ_TIMEOUT:-180}
marker=lifeguard-rabbitmq.instance

die() {
    echo "rabbitmq: $*" >&2
    exit 1
}

usage() {
    sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# The start time of process $1 in clock ticks since boot (field 22 of /proc/PID/stat), empty when it is gone: a pid
# with the same start time is the same process, not a later one that reused the number.
start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    awk '{print $20}' <<<"$stat"
}

# Succeeds when process $1 is one this instance ($2, its folder) started: it carries the folder in its environment.
is_instance_process() {
    local pid=$1 dir=$2
    grep -qszxF "LIFEGUARD_RABBITMQ_INSTANCE=$dir" "/proc/$pid/environ"
}

install_server() {
    [[ -x $rabbit_bin/rabbitmq-server ]] && return 0
    command -v apt-get >/dev/null 2>&1 || die "rabbitmq-server is missing and apt-get is not available to install it"
    [[ $(id -u) == 0 ]] || die "rabbitmq-server is missing; installing it needs root (run: apt-get install rabbitmq-server)"
    # Several test processes may ask at once: one installs, the others wait for it.
    exec 8>"${TMPDIR:-/tmp}/lifeguard-install-rabbitmq.lock"
    flock -w 600 8 || die "another install of rabbitmq-server holds the lock for more than 600 s"
    if [[ ! -x $rabbit_bin/rabbitmq-server ]]; then
        echo "rabbitmq: installing Debian's rabbitmq-server" >&2
        # The package's install script would start a default node on 0.0.0.0:5672: forbid starting services while it
        # runs, and put back whatever policy the machine had.
        local policy=/usr/sbin/policy-rc.d placed=""
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            placed=1
        fi
        local status=0
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 rabbitmq-server >/dev/null 2>&1 ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 rabbitmq-server >/dev/null; } ||
            status=$?
        [[ -n $placed ]] && rm -f "$policy"
        ((status == 0)) || die "apt-get could not install rabbitmq-server (exit code $status)"
    fi
    flock -u 8
    [[ -x $rabbit_bin/rabbitmq-server ]] || die "apt-get finished but $rabbit_bin/rabbitmq-server is still missing"
}

# Three distinct free loopback ports (AMQP, distribution, epmd): each is bound until all three are chosen, so they
# differ; a port taken by someone else between here and the node's start fails the start, with the node's log.
free_ports() {
    python3 -c '
import socket
held = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
'
}

# The environment every command of instance $dir runs with: its folder, its ports, its cookie (in $dir/home).
instance_env() {
    # shellcheck disable=SC1091
    source "$dir/ports"
    inst_env=(
        "LIFEGUARD_RABBITMQ_INSTANCE=$dir"
        "HOME=$dir/home"
        "RABBITMQ_NODENAME=$node"
        "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1"
        "RABBITMQ_NODE_PORT=$amqp_port"
        "RABBITMQ_DIST_PORT=$dist_port"
        "ERL_EPMD_PORT=$epmd_port"
        "ERL_EPMD_ADDRESS=127.0.0.1"
        "RABBITMQ_MNESIA_BASE=$dir/mnesia"
        "RABBITMQ_LOG_BASE=$dir/log"
        "RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf"
        "RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config"
        "RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins"
        "RABBITMQ_PLUGINS_EXPAND_DIR=$dir/plugins-expand"
        "RABBITMQ_PID_FILE=$dir/rabbitmq.pid"
        "RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf"
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
    )
}

resolve_dir() {
    dir=${1:-${LIFEGUARD_RABBITMQ_DIR:-$root/artifacts/rabbitmq/default}}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    node="lifeguard-$(printf '%s' "$dir" | cksum | awk '{print $1}')@localhost"
}

# Stops what instance $1 started, by the pids it recorded (each checked to be still that instance's process), and
# removes its folder. Bounded: a node that does not shut down within the timeout is killed.
stop_instance() {
    local dir=$1 node pid
    node="lifeguard-$(printf '%s' "$dir" | cksum | awk '{print $1}')@localhost"
    if [[ -f $dir/ports && -f $dir/pids ]]; then
        local -a inst_env
        instance_env
        # shellcheck disable=SC1091
        source "$dir/pids"
        if [[ -n $(session_members "${server_pid:-0}" "${server_start:-0}" "$dir") ]]; then
            # shutdown waits for the node to stop; what is still there after it is ended by pid.
            timeout "$timeout" env "${inst_env[@]}" "$rabbit_bin/rabbitmqctl" -n "$node" shutdown >/dev/null 2>&1 || true
            end_session "$server_pid" "$server_start" "$dir"
        fi
        if [[ -n ${epmd_pid:-} ]]; then
            end_session "$epmd_pid" "$epmd_start" "$dir"
        fi
    fi
    rm -rf "$dir"
}

# The pids of the running (not zombie) processes in session $1 (started at $2 or later) that carry instance $3 in their environment: the
# recorded leader and what it started (the server script runs beam.smp, which runs erl_child_setup), even when the
# leader is gone.
session_members() {
    local sid=$1 since=$2 dir=$3 stat pid fields
    for stat in /proc/[0-9]*/stat; do
        pid=${stat#/proc/}
        pid=${pid%/stat}
        fields=$(cat "$stat" 2>/dev/null) || continue
        fields=${fields##*) }
        read -r -a fields <<<"$fields"
        [[ ${fields[0]} != Z && ${fields[3]} == "$sid" ]] && ((fields[19] >= since)) && is_instance_process "$pid" "$dir" && echo "$pid"
    done
    return 0
}

# Ends the processes of session $1 (its leader started at $2) of instance $3, each by its pid: TERM, then KILL for
# those still there after the timeout.
end_session() {
    local sid=$1 since=$2 dir=$3 deadline=$((SECONDS + timeout)) pids
    pids=$(session_members "$sid" "$since" "$dir")
    [[ -z $pids ]] && return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    while pids=$(session_members "$sid" "$since" "$dir") && [[ -n $pids ]]; do
        if ((SECONDS >= deadline)); then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
            break
        fi
        sleep 0.1 # polling the processes' exit with a bound
    done
}

# Succeeds when the owner recorded in folder $1 is alive (the same process, by its start time).
owner_alive() {
    local owner_pid="" owner_start=""
    # shellcheck disable=SC1090
    source "$1/$marker" 2>/dev/null || return 1
    [[ -n $owner_pid && $(start_time "$owner_pid") == "$owner_start" ]]
}

# Stops instances beside $dir (and $dir itself) whose owner is gone: what a crashed test run left behind.
sweep_stale() {
    local other
    for other in "$dir" "$(dirname "$dir")"/*/; do
        other=${other%/}
        [[ -f $other/$marker ]] || continue
        if ! owner_alive "$other"; then
            echo "rabbitmq: stopping the stale instance in $other (its owner is gone)" >&2
            stop_instance "$other"
            [[ $other == "$dir" ]] || rm -f "$other.lock"
        fi
    done
}

start() {
    install_server
    resolve_dir "${1:-}"
    exec 9>"$dir.lock"
    flock -w "$timeout" 9 || die "$dir is locked by another start or stop for more than $timeout s"
    sweep_stale
    if [[ -f $dir/$marker ]]; then
        die "$dir holds a node whose owner is alive; stop it first (eng/rabbitmq.sh stop $dir) or use another folder"
    fi
    mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
    chmod 700 "$dir" "$dir/home"
    local owner=${LIFEGUARD_RABBITMQ_OWNER:-$PPID}
    # Written whole or not at all (a temporary file, then a rename): a sweep never reads half a marker.
    printf 'owner_pid=%s\nowner_start=%s\n' "$owner" "$(start_time "$owner")" >"$dir/$marker.tmp"
    mv -f "$dir/$marker.tmp" "$dir/$marker"

    local amqp_port dist_port epmd_port password cookie
    read -r amqp_port dist_port epmd_port < <(free_ports)
    printf 'node=%s\namqp_port=%s\ndist_port=%s\nepmd_port=%s\n' "$node" "$amqp_port" "$dist_port" "$epmd_port" >"$dir/ports"
    password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    cookie=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n' | tr 'a-f' 'A-F')
    (umask 077 && printf '%s' "$cookie" >"$dir/home/.erlang.cookie")
    chmod 400 "$dir/home/.erlang.cookie"
    # The user exists from the first boot (the default user of an empty database); guest is never created.
    (umask 077 && printf 'default_user = lifeguard\ndefault_pass = %s\n' "$password" >"$dir/rabbitmq.conf")
    printf 'default_vhost = /\nloopback_users = none\nlog.console = false\nlog.file.level = info\n' >>"$dir/rabbitmq.conf"
    printf '[].\n' >"$dir/enabled_plugins"
    printf '[].\n' >"$dir/advanced.config"
    : >"$dir/rabbitmq-env.conf"
    (umask 077 && printf 'amqp://lifeguard:%s@127.0.0.1:%s/%%2F\n' "$password" "$amqp_port" >"$dir/uri")

    local -a inst_env
    instance_env
    # Its own epmd, on its private port and on loopback only, started here so its pid is ours to stop.
    local epmd
    epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -n 1)
    [[ -x $epmd ]] || die "epmd not found under /usr/lib/erlang"
    setsid env "${inst_env[@]}" "$epmd" -port "$epmd_port" -address 127.0.0.1 </dev/null >"$dir/log/epmd.log" 2>&1 8>&- 9>&- &
    local epmd_pid=$!
    launch_server
    printf 'epmd_pid=%s\nepmd_start=%s\nserver_pid=%s\nserver_start=%s\n' \
        "$epmd_pid" "$(start_time "$epmd_pid")" "$server_pid" "$(start_time "$server_pid")" >"$dir/pids"
    await_node "$server_pid" stop
    cat "$dir/uri"
}

# Starts the node's server in a session of its own; sets server_pid.
launch_server() {
    # The locks (fds 8 and 9) stay with this script: a node holding them would block every later start and stop.
    # Not the /usr/sbin wrapper: it switches to the rabbitmq user. The server script ends in exec of the Erlang VM,
    # so this pid becomes beam.smp's.
    setsid env "${inst_env[@]}" "$rabbit_bin/rabbitmq-server" </dev/null >>"$dir/log/server.out" 2>&1 8>&- 9>&- &
    server_pid=$!
}

# Waits until the node serves (rabbitmqctl await_startup), within the timeout. $1 is the server's pid: when it exits,
# waiting ends. On failure, prints the end of the node's output, then ($2 = stop) stops the instance, and exits 1.
await_node() {
    local server_pid=$1 on_failure=${2:-}
    # await_startup fails at once until the node has registered with epmd: poll it, with a bound.
    local deadline=$((SECONDS + timeout)) began=$SECONDS
    until timeout 20 env "${inst_env[@]}" "$rabbit_bin/rabbitmqctl" -n "$node" -q await_startup --timeout 15 >/dev/null 2>&1; do
        if [[ -z $(start_time "$server_pid") ]] || ((SECONDS >= deadline)); then
            local why="did not start within $timeout s"
            [[ -z $(start_time "$server_pid") ]] && why="exited while starting"
            echo "rabbitmq: the node in $dir $why; the end of its output:" >&2
            tail -n 20 "$dir/log/server.out" >&2 || true
            [[ $on_failure == stop ]] && stop_instance "$dir"
            exit 1
        fi
        sleep 0.5 # polling the node's start with a bound
    done
    echo "rabbitmq: node $node up on 127.0.0.1:$amqp_port in $((SECONDS - began)) s (state in $dir)" >&2
}

uri() {
    resolve_dir "${1:-}"
    [[ -f $dir/uri ]] || die "no node in $dir (run: eng/rabbitmq.sh start $dir)"
    cat "$dir/uri"
}

listeners() {
    resolve_dir "${1:-}"
    [[ -f $dir/ports ]] || die "no node in $dir (run: eng/rabbitmq.sh start $dir)"
    local -a inst_env
    instance_env
    timeout "$timeout" env "${inst_env[@]}" "$rabbit_bin/rabbitmqctl" -n "$node" -q status --formatter json |
        python3 -c '
import json, sys
for listener in json.load(sys.stdin)["listeners"]:
    print(listener["protocol"], listener["interface"], listener["port"])
'
}

stop() {
    resolve_dir "${1:-}"
    exec 9>"$dir.lock"
    flock -w "$timeout" 9 || die "$dir is locked by another start or stop for more than $timeout s"
    stop_instance "$dir"
    rm -f "$dir.lock"
}

# Takes the lock of an instance that runs (its folder holds its ports and pids) and sets its environment.
running_instance() {
    resolve_dir "${1:-}"
    exec 9>"$dir.lock"
    flock -w "$timeout" 9 || die "$dir is locked by another start or stop for more than $timeout s"
    [[ -f $dir/ports && -f $dir/pids && -f $dir/$marker ]] || die "no node in $dir (run: eng/rabbitmq.sh start $dir)"
    instance_env
}

# The node shut down and started again in the same folder: its database (the user and its password), cookie, ports,
# epmd and so URI stay; the queues' durable messages survive. Callers see the port refuse while it is down.
restart() {
    local -a inst_env
    running_instance "${1:-}"
    local server_pid="" server_start="" epmd_pid="" epmd_start=""
    # shellcheck disable=SC1091
    source "$dir/pids"
    if [[ -n $(session_members "${server_pid:-0}" "${server_start:-0}" "$dir") ]]; then
        timeout "$timeout" env "${inst_env[@]}" "$rabbit_bin/rabbitmqctl" -n "$node" shutdown >/dev/null 2>&1 || true
        end_session "$server_pid" "$server_start" "$dir"
    fi
    [[ -n $(start_time "$epmd_pid") && $(start_time "$epmd_pid") == "$epmd_start" ]] || die "the epmd of the node in $dir is gone; stop and start it instead"
    launch_server
    local pids
    pids=$(printf 'epmd_pid=%s\nepmd_start=%s\nserver_pid=%s\nserver_start=%s\n' \
        "$epmd_pid" "$epmd_start" "$server_pid" "$(start_time "$server_pid")")
    printf '%s\n' "$pids" >"$dir/pids.tmp"
    mv -f "$dir/pids.tmp" "$dir/pids"
    await_node "$server_pid"
}

# The RabbitMQ application stopped inside a running node (rabbitmqctl stop_app): every connection closes and the AMQP
# port refuses, while the Erlang VM, its ports and its data stay.
stop_app() {
    local -a inst_env
    running_instance "${1:-}"
    timeout "$timeout" env "${inst_env[@]}" "$rabbit_bin/rabbitmqctl" -n "$node" -q stop_app >/dev/null ||
        die "rabbitmqctl stop_app on the node in $dir failed or took more than $timeout s"
}

# The application started again after stop-app; returns once the node serves.
start_app() {
    local -a inst_env
    running_instance "${1:-}"
    local server_pid=""
    # shellcheck disable=SC1091
    source "$dir/pids"
    timeout "$timeout" env "${inst_env[@]}" "$rabbit_bin/rabbitmqctl" -n "$node" -q start_app >/dev/null ||
        die "rabbitmqctl start_app on the node in $dir failed or took more than $timeout s"
    await_node "$server_pid"
}

case "${1:-}" in
    start | uri | listeners | stop | restart) "$1" "${2:-}" ;;
    stop-app) stop_app "${2:-}" ;;
    start-app) start_app "${2:-}" ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
