"""The framed protocol between a Lifeguard host and this worker. See docs/protocol.md in the Lifeguard repository.

A frame is:  u32 length (big-endian, of everything after it) | u8 kind | u64 id | u32 json length | json (UTF-8)
             | attachments: any number of (u32 length | bytes), up to the end of the frame.
A JSON object {"$bytes": i} stands for attachment i, so bytes travel without base64.
"""

import json
import math
import os
import struct

PROTOCOL_VERSION = 2
FEATURES = ("spans", "streams")  # the kinds beyond version 1's this runtime sends, when the host names them too

# Frame kinds. New kinds go in their family's reserved range (docs/protocol.md, "Reserved kinds"): 1-15 version 1 and
# small additions, 16-31 streams, 32-47 spans, 48-63 shared-memory references, 64-79 health pings, 80-95 remote-pool
# envelopes.
INIT = 1
HELLO = 2
CALL = 3
RESULT = 4
ERROR = 5
CALLBACK = 6
CALLBACK_RESULT = 7
CALLBACK_ERROR = 8
ITEM = 16  # one item a streaming call yielded
CREDIT = 17  # the host lets a stream send this many more items
STREAM_END = 18  # the stream's generator finished (or was closed), after this many items
CLOSE = 19  # the host stops consuming: close the generator
SPANS = 32
MAX_STREAM_WINDOW = 65536

_HEAD = struct.Struct(">IBQI")  # length, kind, id, json length
_BODY_HEAD = struct.Struct(">BQI")  # kind, id, json length
_U32 = struct.Struct(">I")
_MIN_BODY = 13  # kind + id + json length

# The common reply (no bytes, nothing odd) goes through one prebuilt encoder; anything it refuses takes the full path.
_FAST_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))
_FAST_ENCODE = _FAST_ENCODER.encode


class ProtocolError(Exception):
    """The host sent something this worker cannot read; the stream cannot be trusted any more."""


class EncodeError(Exception):
    """A value cannot be sent as strict JSON (the message names the value or its type)."""


class Channel:
    """Reads and writes frames on the two private protocol descriptors. Single-threaded."""

    def __init__(self, fd_in, fd_out, max_frame):
        self._fd_in = fd_in
        self._reader = open(fd_in, "rb", buffering=1 << 16, closefd=False)
        self._fd_out = fd_out
        self.max_frame = max_frame
        self.named_floats = False

    # ------------------------------------------------------------------ frames

    def read_frame(self):
        """Returns (kind, id, json bytes, attachments); raises EOFError at a clean end of input."""
        head = self._reader.read(4)
        if not head:
            raise EOFError
        if len(head) < 4:
            raise ProtocolError("the input ended inside a frame header")
        (length,) = _U32.unpack(head)
        # The maximum frame size counts the length prefix too (docs/protocol.md): 13 <= length <= max - 4.
        if length < _MIN_BODY or length > self.max_frame - 4:
            raise ProtocolError("frame length %d is outside [%d, %d]" % (length, _MIN_BODY, self.max_frame - 4))
        body = self._reader.read(length)
        if len(body) < length:
            raise ProtocolError("the input ended inside a frame of %d bytes" % length)
        kind, frame_id, json_length = _BODY_HEAD.unpack_from(body)
        end = _MIN_BODY + json_length
        if end > length:
            raise ProtocolError("the JSON part (%d bytes) overruns its frame" % json_length)
        if end == length:
            return kind, frame_id, body[_MIN_BODY:], ()
        attachments = []
        position = end
        view = memoryview(body)
        while position < length:
            if position + 4 > length:
                raise ProtocolError("an attachment header overruns its frame")
            (size,) = _U32.unpack_from(body, position)
            position += 4
            if position + size > length:
                raise ProtocolError("an attachment overruns its frame")
            attachments.append(bytes(view[position : position + size]))
            position += size
        return kind, frame_id, body[_MIN_BODY:end], attachments

    def poll_frame(self):
        """Returns a frame if one has arrived, else None, without blocking (the host writes whole frames)."""
        os.set_blocking(self._fd_in, False)
        try:
            waiting = self._reader.peek(1)  # what is buffered, or one read that does not wait
        except BlockingIOError:
            waiting = b""
        finally:
            os.set_blocking(self._fd_in, True)
        return self.read_frame() if waiting else None

    def write_frame(self, kind, frame_id, payload, attachments=()):
        total = _MIN_BODY + len(payload)
        if attachments:
            total += sum(4 + len(a) for a in attachments)
        # As the host counts it: the frame with its 4-byte length prefix. A frame the host would refuse is never sent.
        if total + 4 > self.max_frame:
            raise EncodeError(
                "the reply is %d bytes, more than the maximum frame size of %d bytes" % (total + 4, self.max_frame)
            )
        head = _HEAD.pack(total, kind, frame_id, len(payload))
        if not attachments:
            data = head + payload
            written = os.write(self._fd_out, data)
            if written < len(data):
                self._write_all([memoryview(data)[written:]])
            return
        parts = [head, payload]
        for attachment in attachments:
            parts.append(_U32.pack(len(attachment)))
            parts.append(attachment)
        self._write_all(parts)

    def send_value(self, kind, frame_id, value):
        """Encodes value and sends it as one frame; the common value (no bytes, nothing odd) in one step."""
        if not self.named_floats:
            try:
                data = _FAST_ENCODE(value).encode("utf-8")
            except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
                pass  # bytes, or something to report: the full path below explains it
            else:
                size = len(data)
                if size + 4 + _MIN_BODY <= self.max_frame:
                    frame = _HEAD.pack(_MIN_BODY + size, kind, frame_id, size) + data
                    written = os.write(self._fd_out, frame)
                    if written < len(frame):
                        self._write_all([memoryview(frame)[written:]])
                    return
        data, attachments = self.encode(value)
        self.write_frame(kind, frame_id, data, attachments)

    def _write_all(self, parts):
        parts = [memoryview(p) for p in parts if len(p)]
        while parts:
            written = os.writev(self._fd_out, parts)
            while parts and written >= len(parts[0]):
                written -= len(parts[0])
                parts.pop(0)
            if written:
                parts[0] = parts[0][written:]

    # ------------------------------------------------------------------ values

    def decode(self, payload, attachments):
        if not attachments:
            return json.loads(payload)

        def hook(obj):
            if len(obj) == 1 and "$bytes" in obj:
                index = obj["$bytes"]
                if not isinstance(index, int) or not 0 <= index < len(attachments):
                    raise ProtocolError("a $bytes reference points at no attachment")
                return attachments[index]
            return obj

        return json.loads(payload, object_hook=hook)

    def encode(self, value, namedtuples=False):
        """Returns (json bytes, attachments) for a value, or raises EncodeError naming what cannot be sent.

        Dataclasses and datetimes fail the fast encoder and are converted by the full path's default hook. NamedTuples
        do not: the encoder writes any tuple as an array. namedtuples (the function's return hint names a NamedTuple
        class) converts them first, so only functions hinted so pay for a walk over their results.
        """
        if namedtuples:
            try:
                value = _typed().plain(value)
            except RecursionError:
                raise EncodeError("the value is nested too deeply (or refers to itself) to be sent as JSON") from None
        if not self.named_floats:
            try:
                if type(value) is int:
                    return str(value).encode("ascii"), ()  # the JSON of an int, without the encoder's setup
                return _FAST_ENCODE(value).encode("utf-8"), ()
            except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
                pass  # bytes, or something to report: the full path below explains it
        attachments = []

        def default(obj):
            if isinstance(obj, (bytes, bytearray, memoryview)):
                attachments.append(bytes(obj))
                return {"$bytes": len(attachments) - 1}
            typed = _typed()
            if typed.is_typed(obj):
                return typed.plain(obj)  # a dataclass as a dict of its fields, a datetime as an ISO 8601 string
            raise EncodeError(
                "a value of type %s cannot be sent as JSON (send lists, dicts, str, int, float, bool, None, bytes, "
                "dataclasses, NamedTuples or datetimes)"
                % _type_name(obj)
            )

        if self.named_floats:
            value = _name_floats(value)
        try:
            text = json.dumps(value, default=default, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
        except ValueError as error:
            if "Out of range float" in str(error):
                raise EncodeError(
                    "%s cannot be sent: the wire is strict JSON; set AllowNamedFloatingPointLiterals on the pool "
                    "to send NaN and infinities as strings" % _find_non_finite(_typed().plain(value, namedtuples=False))
                ) from None
            raise EncodeError(str(error)) from None
        except RecursionError:
            raise EncodeError("the value is nested too deeply (or refers to itself) to be sent as JSON") from None
        except TypeError as error:
            raise EncodeError(str(error)) from None
        try:
            return text.encode("utf-8"), attachments
        except UnicodeEncodeError as error:
            raise EncodeError("a string cannot be sent: it is not valid Unicode (%s)" % error.reason) from None


def _type_name(obj):
    kind = type(obj)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else module + "." + kind.__qualname__


def _name_floats(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _name_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_name_floats(v) for v in value]
    if hasattr(type(value), "__dataclass_fields__"):
        return _name_floats(_typed().plain(value))
    return value


def _typed():
    from . import _types  # only for typed functions, and values the fast encoder refused

    return _types


def _find_non_finite(value, path="$"):
    if isinstance(value, float) and not math.isfinite(value):
        return "the float %r at %s" % (value, path)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_non_finite(item, "%s.%s" % (path, key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _find_non_finite(item, "%s[%d]" % (path, index))
            if found:
                return found
    return "a NaN or infinite float" if path == "$" else None
