"""Functions the integration tests call in real worker processes."""

import asyncio
import os
import signal
import sys
import time

import lifeguard

_store = {}


def echo(value):
    return value


def add(a, b=0, *, scale=1):
    return (a + b) * scale


def square(x):
    return x * x


def talk(x):
    print("printed", x)
    os.write(1, b"raw fd1 write\n")
    sys.stderr.write("to stderr\n")
    return x


def fail(message):
    raise ValueError(message)


class CustomError(Exception):
    pass


def fail_custom():
    raise CustomError("custom")


def exit_hard(code):
    os._exit(code)


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def ignore_interrupts(seconds):
    """Ignores SIGINT for as long as it runs, as a C extension blocking in native code would: only a kill stops it.
    (Catching KeyboardInterrupt in a loop would not do: a repeated interrupt can land between the loop's lines.)"""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        time.sleep(seconds)
    finally:
        signal.signal(signal.SIGINT, previous)
    return "survived"


def pid():
    return os.getpid()


def sys_path():
    return sys.path


def subprocess_echo(text):
    """Output written by a child process, which inherits the worker's descriptors 1 and 2."""
    import subprocess

    subprocess.run([sys.executable, "-c", "import sys; print(sys.argv[1])", text], check=True)
    return os.getpid()


def exit_on_interrupt(seconds):
    """Dies when interrupted: a crash that races the caller's cancellation."""
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        os._exit(9)
    return seconds


def nan():
    return {"values": [1.0, float("nan")]}


def a_set():
    return {1, 2, 3}


def an_object():
    return object()


def big():
    return 2**200


def tuple_and_keys():
    return {"t": (1, 2), "d": {1: "one", 2: "two"}}


def nbytes(n):
    return bytes(range(256)) * (n // 256) + bytes(n % 256)


def length(data):
    return len(data)


def reverse_bytes(data):
    return data[::-1]


def store(key, value):
    _store[key] = value
    return len(_store)


def load(key):
    return _store.get(key)


async def async_square(x):
    await asyncio.sleep(0.001)
    return x * x


async def async_sleep(seconds):
    await asyncio.sleep(seconds)
    return seconds


def call_host(name, *args):
    return lifeguard.call_host(name, *args)


def call_host_catching(name, *args):
    try:
        return lifeguard.call_host(name, *args)
    except lifeguard.HostError as error:
        return {"type": error.type, "message": str(error)}


def trace():
    return lifeguard.traceparent()


def write_garbage():
    # Find the private protocol output descriptor (a dup of the original fd 1 pipe) and corrupt it.
    for fd in range(3, 64):
        try:
            if os.readlink("/proc/self/fd/%d" % fd) == os.readlink("/proc/self/fd/%d" % 99999):
                pass
        except OSError:
            continue
    os.write(lifeguard._state.state.channel._fd_out, b"\x00\x00\x00\x20garbage-garbage-garbage-garbage!")
    return "unreachable"


def allocate(megabytes):
    global _ballast
    _ballast = bytearray(megabytes * 1024 * 1024)
    return len(_ballast)


def crash_once(marker):
    """Dies the first time (per marker file), succeeds after: for retry tests."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(7)
    return "second time lucky"


def env(name):
    return os.environ.get(name)


def unicode_echo(text):
    return {"text": text, "length": len(text)}


def word_stats(text):
    """Counts the words of a text, answering with snake_case keys as Python code does."""
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    top = sorted(counts, key=lambda w: (-counts[w], w))[:3]
    return {"unique_words": len(counts), "top_words": top}


def keys_of(value):
    """The keys of a dict, as Python received them, in their order; nested dicts' keys under their own key."""
    return {key: (keys_of(item) if isinstance(item, dict) else None) for key, item in value.items()}


def keyword_names(**kwargs):
    """The names of the keyword arguments, as Python received them."""
    return sorted(kwargs)
