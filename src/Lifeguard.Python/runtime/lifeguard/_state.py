"""Per-process state shared by the runtime and user code. Single-threaded by design: one call at a time."""

from . import _spans


class HostError(Exception):
    """A host callback failed. ``type`` is the .NET exception type name, ``args[0]`` its message."""

    def __init__(self, type_name, message):
        super().__init__(message)
        self.type = type_name


class _State:
    def __init__(self):
        self.channel = None  # set by the runtime once the protocol is up
        self.call_id = None  # id of the call being served
        self.call = None  # (module, function) being served
        self.traceparent = None
        self.tracestate = None
        self.info = {}
        self.in_call = False
        self.in_io = False  # inside protocol I/O during a callback: SIGINT is deferred, not raised
        self.interrupt_pending = False
        self.task = None  # asyncio task of an async call
        self.loop = None
        self.next_callback_id = 1
        self.spans = None  # the call's span collector, when the host asked for spans
        self.host_features = frozenset()
        self.preloaded_files = {}  # module name -> path, for the files a fork server's template loaded already


state = _State()


def traceparent():
    """The W3C ``traceparent`` of the .NET caller of the current call, or None."""
    return state.traceparent


def tracestate():
    """The W3C ``tracestate`` of the .NET caller of the current call, or None."""
    return state.tracestate


def current_call():
    """``(module, function)`` of the call being served, or None between calls."""
    return state.call


def worker_info():
    """A dict with this worker's protocol version, runtime version, pid and the host's pid."""
    return dict(state.info)


def span(name, **attributes):
    """Opens a span of the current call, a child of the innermost span open in this thread or task::

        with lifeguard.span("load", rows=len(rows)) as s:
            s.set_attribute("cached", False)

    Attributes are str, bool, int or float values, at most 1 KiB of them (as JSON) per span; a call keeps at most 64
    spans; what is beyond is dropped and counted. An exception leaving the span marks it failed, with its type and
    message, and goes on. The span becomes a child of the call's span in the host's trace; when the host records no
    traces, or outside a call, this returns an object that does nothing.
    """
    if not isinstance(name, str):
        raise TypeError("lifeguard.span: the name must be a str, not %s" % type(name).__name__)
    collector = state.spans
    if collector is None:
        return _spans.NO_SPAN
    return _spans.Span(collector, name, attributes)


def call_host(name, *args):
    """Calls the host function registered under ``name`` with JSON-serialisable ``args``, synchronously.

    Only valid during a call. Returns what the host function returned; raises HostError if it threw.
    """
    if state.channel is None or state.call_id is None:
        raise RuntimeError("lifeguard.call_host can only be used while the worker serves a call")
    return state.channel.call_host(name, list(args))
