"""Functions the fork server tests call: where a module was imported, and what a forked worker inherits."""

import os
import signal

IMPORTED_IN = os.getpid()  # the template's pid when a fork server imported this module
_initialized_in = None


def init():
    global _initialized_in
    _initialized_in = os.getpid()


def initialized_in():
    return _initialized_in


def imported_in():
    return IMPORTED_IN


def parent():
    return os.getppid()


def descriptors():
    return sorted(int(fd) for fd in os.listdir("/proc/self/fd"))


def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)
