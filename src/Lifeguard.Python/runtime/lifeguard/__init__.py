"""What Python code running in a Lifeguard worker can use.

    import lifeguard

    def handler(items):
        prices = lifeguard.call_host("prices", items)    # a function the .NET host registered by name
        parent = lifeguard.traceparent()                 # the caller's W3C trace context, or None
        with lifeguard.span("rank", items=len(items)):   # a child of the call's span in the host's trace
            return sorted(zip(prices, items))

Standard library only; works on CPython 3.9 and newer.
"""

from ._state import HostError, call_host, current_call, span, traceparent, tracestate, worker_info

__all__ = ["HostError", "call_host", "current_call", "span", "traceparent", "tracestate", "worker_info"]
__version__ = "1.1.0"
