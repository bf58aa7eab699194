"""Generators for the stream tests: each records what it did in a marker file when given one."""

import asyncio
import os
import time
import typing

import lifeguard


def _mark(marker, text):
    if marker:
        with open(marker, "a") as f:
            f.write(text + "\n")


def count(n, marker=None):
    """Yields 0 .. n-1, writing each index to the marker file before it yields it."""
    try:
        for i in range(n):
            _mark(marker, str(i))
            yield i
    finally:
        _mark(marker, "finally")


async def count_async(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def squares_list(n):
    return [i * i for i in range(n)]


def mapped(n):
    return map(str, range(n))


def not_iterable():
    return 42


def fail_after(n):
    for i in range(n):
        yield i
    raise ValueError("no more after %d" % n)


def crash_after(n):
    for i in range(n):
        yield i
    os._exit(3)


def slow_after(n, seconds, marker=None):
    """Yields n items at once, then sleeps before the next one."""
    try:
        for i in range(n):
            yield i
        time.sleep(seconds)
        yield n
    finally:
        _mark(marker, "finally")


def paced(n, seconds):
    for i in range(n):
        time.sleep(seconds)
        yield i


def slow_close(seconds, marker=None):
    """Its finally block takes seconds: longer than the grace period, it is interrupted there."""
    try:
        yield 0
        yield 1
    finally:
        _mark(marker, "closing")
        try:
            time.sleep(seconds)
        finally:
            _mark(marker, "interrupted")


def ignores_close():
    """Catches every interrupt in its finally block: it must be killed."""
    try:
        yield 0
        yield 1
    finally:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass


def raises_on_close():
    try:
        yield 0
        yield 1
    finally:
        raise RuntimeError("cleanup failed")


def blobs(n, size):
    for i in range(n):
        yield bytes([i % 256]) * size


def records(n):
    for i in range(n):
        yield {"index": i, "label": "item %d" % i}


def asks_host(n):
    for i in range(n):
        yield lifeguard.call_host("double", i)


def big_items(n, size):
    for _ in range(n):
        yield "x" * size


def pid():
    return os.getpid()


class Pair(typing.NamedTuple):
    left: int
    right: int


def pairs(n) -> typing.Iterator[Pair]:
    """NamedTuple items: objects of their fields, as the return hint names them."""
    for i in range(n):
        yield Pair(i, -i)
