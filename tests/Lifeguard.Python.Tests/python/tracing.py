"""Functions that open spans with lifeguard.span, for PythonTracingTests.cs."""

import asyncio
import threading

import lifeguard

# Outside any call (at import): harmless, recorded nowhere.
with lifeguard.span("at-import", phase="import") as _probe:
    IMPORT_SPAN_RECORDING = _probe.is_recording()


def square(x):
    return x * x


def nested():
    with lifeguard.span("outer", rows=3, ratio=0.5, ok=True, label="x") as outer:
        with lifeguard.span("inner") as inner:
            inner.set_attribute("step", 1)
        with lifeguard.span("sibling"):
            pass
        recording = outer.is_recording()
    return {"recording": recording, "traceparent": lifeguard.traceparent(), "import_recording": IMPORT_SPAN_RECORDING}


def failing():
    with lifeguard.span("boom"):
        raise ValueError("bad input")


def caught():
    try:
        with lifeguard.span("inner-fail"):
            raise KeyError("k")
    except KeyError:
        pass
    return 1


def many(n):
    for i in range(n):
        with lifeguard.span("s%d" % i, index=i):
            pass
    return n


def big_attributes():
    with lifeguard.span("big", small=1, huge="x" * 2000, listed=[1, 2]) as span:
        span.set_attribute("also", "y" * 600)
        span.set_attribute("more", "z" * 600)  # past 1 KiB with the others
    return 0


def probe():
    """Whether a span records, the traceparent, and what the host sees as current during a callback."""
    with lifeguard.span("probe") as span:
        return {"recording": span.is_recording(), "tp": lifeguard.traceparent(), "host": lifeguard.call_host("current")}


def on_thread():
    def work():
        with lifeguard.span("on-thread"):
            pass

    with lifeguard.span("main"):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
    return 0


def left_open():
    lifeguard.span("left-open").__enter__()
    return 0


async def in_tasks():
    async def step(name):
        with lifeguard.span(name):
            await asyncio.sleep(0)
            with lifeguard.span(name + "-child"):
                await asyncio.sleep(0)

    with lifeguard.span("gather"):
        await asyncio.gather(step("a"), step("b"))
    return 0
