"""Functions the `lifeguard run` tests call."""

import os
import subprocess
import sys
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


def talk(x):
    """Output four ways: print, fd 1, fd 2 and a child process; returns the worker's pid."""
    print("printed", x)
    os.write(1, b"fd1 %d\n" % x)
    os.write(2, b"fd2 %d\n" % x)
    subprocess.run([sys.executable, "-c", "import sys; print('child', sys.argv[1])", str(x)], check=True)
    return os.getpid()


def chatter(n):
    for i in range(n):
        print("chatter", i)
    return n


def interpreter(_):
    return {"prefix": sys.prefix, "virtual_env": os.environ.get("VIRTUAL_ENV")}
