"""Functions the Python benchmarks call, through Lifeguard and through every baseline alike. Standard library only."""

import time


def square(x: int) -> int:
    """The trivial call of python.roundtrip and python.generated: a small argument, a small result."""
    return x * x


def echo(data):
    """python.bytes1mib: returns its argument (bytes) unchanged."""
    return data


def echo_view(data: memoryview) -> memoryview:
    """python.bytes16mib: returns its argument, a view of the call's shared memory, unchanged and uncopied."""
    return data


def burn(n):
    """python.scaling: pure-Python CPU work, about 2 ms for the n that calibrate() returns. Returns a small int."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total % 1000


def calibrate(target_ns):
    """The n for which burn(n) takes about target_ns here: the median of a few timed runs, scaled."""
    n = 20_000
    burn(n)
    samples = []
    for _ in range(7):
        start = time.perf_counter_ns()
        burn(n)
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return max(1, round(n * target_ns / samples[len(samples) // 2]))


def nap(ms: int) -> int:
    """cluster.scaling: I/O-bound work, a sleep of ms milliseconds (the worker's CPU idle meanwhile). Returns ms."""
    time.sleep(ms / 1000)
    return ms


def count(n):
    """python.stream: yields the small items 0 .. n-1, one by one."""
    for i in range(n):
        yield i
