"""Functions the `lifeguard run` tests call."""

import os
import time


def double(x):
    if x == "raise":
        raise ValueError("cannot double %r" % x)
    return x * 2


def crash_once(item):
    """Dies the first time it sees an input (a marker file per input), succeeds after."""
    marker = os.path.join(item["dir"], str(item["n"]))
    if item["n"] % 3 == 0 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    return item["n"]


def slow(seconds):
    time.sleep(seconds)
    return seconds
