#!/usr/bin/env bash
# Runs the README's test command (`dotnet test`) in Debug and then in Release while a CPU hog keeps every core busy,
# N times, and prints one summary line per run. Tests that hold only on an idle machine fail here first; run it after
# touching anything that depends on timing. CI does not run it (it takes about an hour with the defaults).
#
#   eng/stress-tests.sh                      # 3 rounds, Debug then Release, 2 hog threads per core
#   eng/stress-tests.sh --runs 5 --hogs 8    # more rounds, a heavier load
#   eng/stress-tests.sh --configuration Release -- --filter 'FullyQualifiedName~LeaseTests'
#
# Arguments after `--` go to `dotnet test`. The hog is stress-ng (installed from Debian when missing and this user may
# install packages), else a busy loop per hog thread. Logs go to artifacts/stress/. The exit code is 0 only when every
# run passed and left no worker process behind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=3
hogs=$(($(nproc) * 2))
configurations=()
test_args=()

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($# > 0)); do
    case "$1" in
        --runs) runs=${2:?--runs takes a number}; shift 2 ;;
        --hogs) hogs=${2:?--hogs takes a number}; shift 2 ;;
        --configuration | -c) configurations+=("${2:?--configuration takes Debug or Release}"); shift 2 ;;
        --help | -h) usage; exit 0 ;;
        --) shift; test_args=("$@"); break ;;
        *) echo "stress-tests: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if ((${#configurations[@]} == 0)); then
    configurations=(Debug Release)
fi
if ! [[ $runs =~ ^[1-9][0-9]*$ && $hogs =~ ^[1-9][0-9]*$ ]]; then
    echo "stress-tests: --runs and --hogs take whole numbers of at least 1 (got runs '$runs', hogs '$hogs')" >&2
    exit 2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if ! command -v stress-ng >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "stress-tests: installing stress-ng" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq stress-ng >/dev/null || true
fi

hog_pids=()
stop_hog() {
    local pid
    for pid in "${hog_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${hog_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    hog_pids=()
}
trap stop_hog EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_hog() {
    if command -v stress-ng >/dev/null 2>&1; then
        stress-ng --cpu "$hogs" --cpu-method fft --timeout 0 --quiet &
        hog_pids+=($!)
        hog_kind="stress-ng --cpu $hogs"
    else
        local i
        for ((i = 0; i < hogs; i++)); do
            (while :; do :; done) &
            hog_pids+=($!)
        done
        hog_kind="$hogs busy loops"
    fi
}

logs=artifacts/stress
mkdir -p "$logs"

# Build outside the load: the load is for the tests, and an incremental build under it only costs time.
for configuration in "${configurations[@]}"; do
    echo "stress-tests: building $configuration" >&2
    dotnet build -c "$configuration" -v quiet -nologo >"$logs/build-$configuration.log" 2>&1 \
        || { echo "stress-tests: the $configuration build failed; see $logs/build-$configuration.log" >&2; exit 1; }
done

start_hog
echo "stress-tests: load: $hog_kind on $(nproc) cores; logs in $logs/" >&2

failed=0
for ((run = 1; run <= runs; run++)); do
    for configuration in "${configurations[@]}"; do
        log="$logs/run$run-$configuration.log"
        started=$SECONDS
        set +e
        dotnet test -c "$configuration" "${test_args[@]}" >"$log" 2>&1
        status=$?
        set -e
        elapsed=$((SECONDS - started))
        read -r load _ </proc/loadavg
        totals=$(awk -f eng/test-totals.awk "$log")
        verdict=passed
        if ((status != 0)); then
            verdict="FAILED (exit $status)"
            failed=1
        fi
        if ! eng/leftover-workers.sh 2>>"$log"; then
            verdict="$verdict, worker processes left behind (see $log)"
            failed=1
        fi
        printf 'run %d/%d %-7s %s: %s in %d s, load %s\n' "$run" "$runs" "$configuration" "$verdict" "$totals" "$elapsed" "$load"
        if ((status != 0)); then
            grep -E '^\s+Failed [A-Za-z]' "$log" | sed 's/^\s*/    /' || true
        fi
    done
done

exit "$failed"
