"""Per-process state shared by the runtime and user code. Single-threaded by design: one call at a time."""


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


def call_host(name, *args):
    """Calls the host function registered under ``name`` with JSON-serialisable ``args``, synchronously.

    Only valid during a call. Returns what the host function returned; raises HostError if it threw.
    """
    if state.channel is None or state.call_id is None:
        raise RuntimeError("lifeguard.call_host can only be used while the worker serves a call")
    return state.channel.call_host(name, list(args))
