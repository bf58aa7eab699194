"""Spans that user code opens during a call (``lifeguard.span``), sent to the host just before the call's reply.

The host asks for them per call (the call frame's ``"sp"``), only while something records its traces; otherwise
``lifeguard.span`` returns one shared object that does nothing. A call keeps at most MAX_SPANS spans and each span at
most MAX_ATTRIBUTE_BYTES of attributes; what is beyond is dropped and counted, and the counts travel with the spans.
See docs/protocol.md ("Spans") in the Lifeguard repository.

Spans may be opened on any thread while the call runs, and belong to that call. A span's parent is the innermost span
open in the same context (thread, or asyncio task): a thread started inside a span does not inherit it, so its spans
hang from the call's span, unless the thread runs in a copy of the context (``contextvars.copy_context().run``).
"""

import contextvars
import json
import threading
import time

MAX_SPANS = 64
MAX_ATTRIBUTE_BYTES = 1024
MAX_NAME = 256  # characters; a longer name is cut
MAX_ERROR_TEXT = 256  # characters of an exception's type and of its message

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

# ASCII-only JSON: the sizes counted are the sizes sent, and a lone surrogate in a str cannot break the frame.
_encode = json.JSONEncoder(allow_nan=False, ensure_ascii=True, separators=(",", ":")).encode
_current = contextvars.ContextVar("lifeguard_span", default=None)


class Collector:
    """The spans of one call. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spans = []
        self._dropped = 0
        self._open = True

    @property
    def open(self):
        return self._open

    def add(self, span):
        """Returns the span's id (1-based), or 0 when the call has MAX_SPANS already or its reply has gone."""
        with self._lock:
            if not self._open:
                return 0
            if len(self._spans) >= MAX_SPANS:
                self._dropped += 1
                return 0
            self._spans.append(span)
            return len(self._spans)

    def finish(self, limit):
        """Closes the collector; returns the spans frame's JSON (at most ``limit`` bytes), or None if nothing to send."""
        with self._lock:
            self._open = False
            spans = list(self._spans)
            dropped = self._dropped
        now = time.time_ns()
        parts = []
        dropped_attributes = 0
        size = 64  # the frame's own keys and counts
        for index, span in enumerate(spans):
            part = span._encode(now)
            if size + len(part) + 1 > limit:
                # Later spans may be children of this one: they go with it.
                dropped += len(spans) - index
                break
            size += len(part) + 1
            parts.append(part)
            dropped_attributes += span._dropped_attributes
        if not parts and not dropped and not dropped_attributes:
            return None
        body = '{"spans":[' + ",".join(parts) + "]"
        if dropped:
            body += ',"dropped":%d' % dropped
        if dropped_attributes:
            body += ',"droppedAttributes":%d' % dropped_attributes
        return (body + "}").encode("ascii")


def _encode_value(value):
    """The JSON of an attribute value of a simple type (str, bool, int in 64 bits, finite float), else None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value)) if _INT64_MIN <= value <= _INT64_MAX else None
    if isinstance(value, float):
        return _encode(value) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str):
        return _encode(value)
    return None


def _type_name(error_type):
    module = error_type.__module__
    return error_type.__qualname__ if module == "builtins" else module + "." + error_type.__qualname__


class Span:
    """A span of the call being served. Use it with ``with``; see ``lifeguard.span``."""

    __slots__ = (
        "_collector",
        "_name",
        "_pairs",
        "_pair_bytes",
        "_dropped_attributes",
        "_id",
        "_parent",
        "_start",
        "_perf",
        "_end",
        "_error",
        "_token",
    )

    def __init__(self, collector, name, attributes):
        self._collector = collector
        self._name = name[:MAX_NAME]
        self._pairs = {}  # key -> '"key":value', in the order set
        self._pair_bytes = 0
        self._dropped_attributes = 0
        self._id = 0
        self._parent = 0
        self._start = 0
        self._perf = 0
        self._end = None
        self._error = None
        self._token = None
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def __enter__(self):
        if self._id or self._token is not None:
            return self  # entered already
        collector = self._collector
        parent = _current.get()
        self._id = collector.add(self)
        if self._id:
            self._parent = parent._id if isinstance(parent, Span) and parent._collector is collector else 0
            self._start = time.time_ns()
            self._perf = time.perf_counter_ns()
            self._token = _current.set(self)
        return self

    def __exit__(self, error_type, error, traceback):
        if self._id and self._end is None:
            if error_type is not None:
                try:
                    message = str(error)
                except Exception:  # noqa: BLE001 - a __str__ that raises must not replace the user's exception
                    message = ""
                self._error = (_type_name(error_type)[:MAX_ERROR_TEXT], message[:MAX_ERROR_TEXT])
            self._end = self._start + (time.perf_counter_ns() - self._perf)
        if self._token is not None:
            token, self._token = self._token, None
            try:
                _current.reset(token)
            except (ValueError, RuntimeError):
                pass  # exited in another context than it was entered in: that context keeps its own current span
        return False

    def set_attribute(self, key, value):
        """Sets an attribute: a str key, and a str, bool, int (64 bits) or finite float value.

        Another type, or an attribute that would take the span's attributes past 1 KiB of JSON, is dropped and
        counted (the count is recorded on the call's span as ``lifeguard.python.attributes_dropped``).
        """
        encoded = _encode_value(value) if isinstance(key, str) and key else None
        if encoded is None:
            self._dropped_attributes += 1
            return
        pair = _encode(key) + ":" + encoded
        old = self._pairs.get(key)
        count = len(self._pairs) + (0 if old is not None else 1)
        pair_bytes = self._pair_bytes - (len(old) if old is not None else 0) + len(pair)
        if 2 + pair_bytes + count - 1 > MAX_ATTRIBUTE_BYTES:
            self._dropped_attributes += 1
            return
        self._pairs[key] = pair
        self._pair_bytes = pair_bytes

    def is_recording(self):
        """True while this span is open and will be sent to the host."""
        return bool(self._id) and self._end is None and self._collector.open

    def _encode(self, now):
        end = self._end
        text = '{"id":%d,"parent":%d,"name":%s,"start":%d,"end":%d' % (
            self._id,
            self._parent,
            _encode(self._name),
            self._start,
            end if end is not None else max(now, self._start),
        )
        if self._error is not None:
            text += ',"error":{"type":%s,"message":%s}' % (_encode(self._error[0]), _encode(self._error[1]))
        if self._pairs:
            text += ',"attributes":{' + ",".join(self._pairs.values()) + "}"
        if end is None:
            text += ',"unfinished":true'
        return text + "}"


class _NoSpan:
    """What ``lifeguard.span`` returns when nothing records spans: it does nothing."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        return False

    def set_attribute(self, key, value):
        pass

    def is_recording(self):
        return False


NO_SPAN = _NoSpan()
