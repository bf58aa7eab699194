"""Functions the hostile-caller suite calls in real worker processes."""

import os
import signal
import time

from lifeguard import _protocol

_served = 0


def pid():
    return os.getpid()


def echo(value):
    global _served
    _served += 1
    return value


def served():
    """How many echo calls this process has run: a call that was never sent does not count."""
    return _served


def echo_kwargs(**kwargs):
    return kwargs


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def text(n):
    return "x" * n


def nbytes(n):
    return bytes(n)


def length(data):
    return len(data)


def text_paused(n):
    """Returns "x" * n, but the worker stops itself (SIGSTOP) half way through writing the reply.

    The reply is one frame written with os.write: a one-shot stand-in for the protocol module's os writes the first
    half, stops the process, and writes the rest once it is continued. The host is then caught half way through
    reading a frame, for as long as the test keeps the worker stopped.
    """
    real = _protocol.os

    class _PausingOs:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def write(fd, data):
            _protocol.os = real
            view = memoryview(data)
            half = len(view) // 2
            done = 0
            while done < half:
                done += real.write(fd, view[done:half])
            real.kill(real.getpid(), signal.SIGSTOP)
            while done < len(view):
                done += real.write(fd, view[done:])
            return done

    _protocol.os = _PausingOs()
    return "x" * n


def nested(depth):
    """A list nested depth levels deep, built without recursion."""
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def fail(message, *rest):
    raise ValueError(message)


def sleep_then_mark(seconds, path):
    """Sleeps; whether it finishes or is interrupted, writes path on the way out."""
    try:
        time.sleep(seconds)
    finally:
        with open(path, "w") as marker:
            marker.write("finally ran")
    return seconds


def echo_slowly(value, seconds):
    global _served
    _served += 1
    time.sleep(seconds)
    return value


# Module state a caller must not be able to read or change through the module's own attributes.
API_KEY = "not-for-callers"
