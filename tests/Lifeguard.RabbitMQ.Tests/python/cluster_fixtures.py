"""Functions the remote-pool tests call on their hosts."""
import os
import signal
import time


def square(x):
    return x * x


def echo(value):
    return value


def byte_length(data: bytes):
    return {"type": type(data).__name__, "length": len(data), "first": data[0] if data else None}


def reverse_bytes(data: bytes) -> bytes:
    return bytes(reversed(data))


def blob(n):
    """n zero bytes: a large reply from a small call."""
    return bytes(n)


def fail(message):
    raise ValueError(message)


def crash(code):
    os._exit(code)


def host_pid():
    return os.getppid()


def sleep_then(seconds, marker):
    """Writes 'started' to the marker file, sleeps, then writes 'interrupted' or 'finished' over it."""
    with open(marker, "w") as f:
        f.write("started")
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        with open(marker, "w") as f:
            f.write("interrupted")
        raise
    with open(marker, "w") as f:
        f.write("finished")
    return seconds


def mark_and_sleep(marker, seconds):
    """Appends a line to the marker file when it starts, then sleeps: a call that runs leaves a trace."""
    with open(marker, "a") as f:
        f.write("ran\n")
    time.sleep(seconds)
    return seconds


def count(n):
    for i in range(n):
        yield i


def count_with_finally(n, marker):
    try:
        for i in range(n):
            yield i
    finally:
        with open(marker, "w") as f:
            f.write("closed")


def kill_host():
    """Kills the host process serving this call (the worker's parent), as an input that brings hosts down would."""
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)


def traced_sleep(marker, index, seconds):
    """Appends 'start INDEX HOSTPID WORKERPID' when it starts and 'end INDEX HOSTPID' when it finishes; returns INDEX."""
    with open(marker, "a") as f:
        f.write("start %d %d %d\n" % (index, os.getppid(), os.getpid()))
    time.sleep(seconds)
    with open(marker, "a") as f:
        f.write("end %d %d\n" % (index, os.getppid()))
    return index


def hold(started, release, seconds):
    """Appends a line to `started`, then returns 'released' once the file `release` exists (None after `seconds`)."""
    with open(started, "a") as f:
        f.write("started\n")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(release):
            return "released"
        time.sleep(0.02)
    return None
