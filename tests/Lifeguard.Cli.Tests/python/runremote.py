"""Functions that `lifeguard serve` hosts serve to the `lifeguard run --pool` tests (module runremote)."""

import os
import signal
import time

# The local run tests' own: a crash the first time an input is seen, and inputs that wait at a gate.
from runfix import crash_once  # noqa: F401
from runsafe import gate  # noqa: F401


def square_where(x):
    """x squared, and the pid of the host that ran it (the worker's parent), after a short sleep."""
    time.sleep(0.05)
    return {"y": x * x, "host": os.getppid()}


def kill_host_on(value):
    """Kills the host serving this call (the worker's parent) for "poison", as an input that brings hosts down would."""
    if value == "poison":
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(30)
    return value


def count(n):
    for i in range(n):
        yield i
