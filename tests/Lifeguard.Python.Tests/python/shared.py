"""Fixtures for the shared-memory tests (PythonSharedMemoryTests.cs): large bytes both ways, memoryviews, kept views."""

import os
import time

kept = []


def echo(data):
    """Returns its argument: bytes in, bytes out."""
    return data


def echo_view(data: memoryview) -> memoryview:
    """Returns the view it was given: a reply that names the call's own segment, with no copy."""
    return data


def describe(data):
    """What a function without a memoryview hint gets."""
    return [type(data).__name__, len(data)]


def describe_view(data: memoryview):
    """What a function that takes a memoryview gets: a read-only view of the mapped segment, no copy."""
    return [type(data).__name__, data.readonly, type(data.obj).__name__, data.nbytes]


def make(size, fill):
    """size bytes of fill, made in Python."""
    return bytes([fill]) * size


def make_view(size, fill):
    """A memoryview of a bytearray of size bytes of fill."""
    return memoryview(bytearray([fill]) * size)


def make_many(size, count):
    """count bytes values of size bytes, the i-th filled with i."""
    return [bytes([i]) * size for i in range(count)]


def keep(data: memoryview):
    """Keeps a slice of the view past the call and returns its first 16 bytes."""
    kept.append(data[1:])
    return bytes(kept[-1][:16])


def kept_heads():
    """The first 16 bytes of every kept view, read now."""
    return [bytes(view[:16]) for view in kept]


def forget():
    """Drops the kept views."""
    del kept[:]


def mapped_segments():
    """How many mappings of shared-memory segments this process has."""
    with open("/proc/self/maps") as maps:
        return sum(1 for line in maps if "lifeguard-shm" in line)


def die(data):
    """Exits at once, with its large argument read."""
    os._exit(3)


def raise_(data):
    raise ValueError("refused %d bytes" % len(data))


def wait(data: memoryview):
    """Waits until interrupted, holding its view."""
    while True:
        time.sleep(0.05)
