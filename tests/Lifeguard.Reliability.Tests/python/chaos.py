"""Functions for the chaos and soak suites: idempotent work, refusals, and deliberate crashes."""

import os
import time


def work(i, delay_ms=0):
    """Idempotent work: the same input always gives the same answer, so a retry is safe."""
    if delay_ms:
        time.sleep(delay_ms / 1000.0)
    return {"i": i, "double": i * 2}


def refuse(i):
    """Raises, as user code does on bad input: never retried."""
    raise ValueError("input %d is refused" % i)


def exit_once(marker, i):
    """os._exit the first time it sees its marker; succeeds on the retry (another worker) and removes the marker."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        os.remove(marker)
        return {"i": i, "double": i * 2}
    os.close(fd)
    os._exit(3)


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def pid():
    return os.getpid()
