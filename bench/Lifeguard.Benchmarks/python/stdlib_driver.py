"""Measures Python's own process pools on the benchmark functions, for the baselines the host cannot time itself.

    python3 stdlib_driver.py apply     multiprocessing.Pool(1).apply(benchmod.square, (x,))
    python3 stdlib_driver.py submit    concurrent.futures.ProcessPoolExecutor(1).submit(benchmod.square, x).result()
    python3 stdlib_driver.py pool2     concurrent.futures.ProcessPoolExecutor(2), many benchmod.burn(n) calls at once
    python3 stdlib_driver.py bare1     one process of a ProcessPoolExecutor(1) runs all the burn(n) calls in one task
    python3 stdlib_driver.py bare2     each of two processes of a ProcessPoolExecutor(2) runs half of them in one task

Starts its pool, warms it up, prints {"ready": true}, then answers one JSON command per input line with one JSON
line, so the host can interleave these rounds with its own:

    {"calls": N, "x": 7}             (apply, submit) times each of N sequential round trips with
                                     time.perf_counter_ns -> {"median_ns": ..., "calls": N}
    {"calls": N, "n": 40000}         (pool2) submits N calls of burn(n), waits for all; (bare1, bare2) one task
                                     per process, each running its share of the N calls in a loop, so no call
                                     crosses a process boundary: the machine's own floor for one and two processes
                                     -> {"per_call_ns": elapsed / N, "calls": N}

Shuts its pool down and exits at the end of its input. Standard library only.
"""

import concurrent.futures
import json
import multiprocessing
import statistics
import sys
import time

import benchmod


def _reply(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def _sequential(call, x, calls):
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        call(x)
        samples.append(clock() - start)
    return {"median_ns": statistics.median(samples), "calls": calls}


def _concurrent(executor, n, calls):
    start = time.perf_counter_ns()
    futures = [executor.submit(benchmod.burn, n) for _ in range(calls)]
    for future in futures:
        future.result()
    return {"per_call_ns": (time.perf_counter_ns() - start) / calls, "calls": calls}


def _burn_many(n, count):
    for _ in range(count):
        benchmod.burn(n)


def _bare(executor, processes, n, calls):
    start = time.perf_counter_ns()
    shares = [calls // processes + (1 if i < calls % processes else 0) for i in range(processes)]
    futures = [executor.submit(_burn_many, n, share) for share in shares]
    for future in futures:
        future.result()
    return {"per_call_ns": (time.perf_counter_ns() - start) / calls, "calls": calls}


def main(kind):
    if kind == "apply":
        pool = multiprocessing.Pool(1)
        shutdown = lambda: (pool.close(), pool.join())  # noqa: E731
        call = lambda x: pool.apply(benchmod.square, (x,))  # noqa: E731
    elif kind in ("submit", "pool2", "bare1", "bare2"):
        executor = concurrent.futures.ProcessPoolExecutor(2 if kind in ("pool2", "bare2") else 1)
        shutdown = lambda: executor.shutdown(wait=True)  # noqa: E731
        call = lambda x: executor.submit(benchmod.square, x).result()  # noqa: E731
    else:
        sys.stderr.write("usage: stdlib_driver.py apply|submit|pool2|bare1|bare2\n")
        return 2
    try:
        for _ in range(20):  # start the pool's processes and warm them up
            call(7)
        _reply({"ready": True})
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            calls = int(command["calls"])
            if kind == "pool2":
                _reply(_concurrent(executor, int(command["n"]), calls))
            elif kind in ("bare1", "bare2"):
                _reply(_bare(executor, 2 if kind == "bare2" else 1, int(command["n"]), calls))
            else:
                _reply(_sequential(call, command.get("x", 7), calls))
        return 0
    finally:
        shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
