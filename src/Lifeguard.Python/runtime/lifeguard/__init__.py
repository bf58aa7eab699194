"""What Python code running in a Lifeguard worker can use.

    import lifeguard

    def handler(x):
        total = lifeguard.call_host("lookup", x)   # a function the .NET host registered by name
        parent = lifeguard.traceparent()          # the caller's W3C trace context, or None
        return total

Standard library only; works on CPython 3.9 and newer.
"""

from ._state import HostError, call_host, current_call, traceparent, tracestate, worker_info

__all__ = ["HostError", "call_host", "current_call", "traceparent", "tracestate", "worker_info"]
__version__ = "1.0.0"
