"""The framed protocol between a Lifeguard host and this worker. See docs/protocol.md in the Lifeguard repository.

A frame is:  u32 length (big-endian, of everything after it) | u8 kind | u64 id | u32 json length | json (UTF-8)
             | attachments: any number of (u32 length | bytes), up to the end of the frame.
A JSON object {"$bytes": i} stands for attachment i, so bytes travel without base64; {"$shm": [slot, offset, length]}
for bytes in a shared-memory segment the host created (docs/protocol.md, "Shared memory").
"""

import json
import math
import os
import struct
import sys

PROTOCOL_VERSION = 2
FEATURES = ("spans", "streams", "ping")  # the kinds beyond version 1's this runtime sends, when the host names them too

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
SEGMENT = 48  # the host names a shared-memory segment for a slot: {"slot": s, "size": n, "fd": d?}
SEGMENT_REQUEST = 49  # room for a reply's shared bytes: {"size": n}
SEGMENT_RETIRE = 50  # Python code kept a view of slot 0 past its call: {"slot": 0}
PING = 64  # the host asks, between calls, whether this worker answers: {}
PONG = 65  # the answer, with the ping's id: {}
CALL_SLOT = 0  # a call's large arguments, host to worker
REPLY_SLOT = 1  # a reply's large values, worker to host
_SHM_ALIGN = 64
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

    shm_threshold = 0  # from this size up, bytes go through shared memory; 0: never
    handed = None  # id -> (view, offset, length): the views of slot 0 this call's arguments hold
    _root = None

    def __init__(self, fd_in, fd_out, max_frame):
        self._fd_in = fd_in
        self._reader = open(fd_in, "rb", buffering=1 << 16, closefd=False)
        self._fd_out = fd_out
        self.max_frame = max_frame
        self.named_floats = False
        self.host_pid = 0
        self.segments = [None, None]  # slot -> _Segment

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
        if not attachments and not (self.shm_threshold and b'"$shm"' in payload):
            return json.loads(payload)

        def hook(obj):
            if len(obj) == 1:
                if "$bytes" in obj:
                    index = obj["$bytes"]
                    if not isinstance(index, int) or not 0 <= index < len(attachments):
                        raise ProtocolError("a $bytes reference points at no attachment")
                    return attachments[index]
                if "$shm" in obj:
                    return self._shared_view(obj["$shm"])
            return obj

        return json.loads(payload, object_hook=hook)

    # ------------------------------------------------------------------ shared memory

    def open_segment(self, payload):
        """Maps the segment a segment frame names (through /proc/HOST_PID/fd: the host holds it open), or checks the
        one already mapped. Slot 0 is mapped read-only: the views Python code gets of it cannot write."""
        info = json.loads(payload)
        slot, size, fd = info.get("slot"), info.get("size"), info.get("fd")
        if slot not in (CALL_SLOT, REPLY_SLOT) or type(size) is not int or size <= 0 or not (fd is None or type(fd) is int):
            raise ProtocolError("a segment frame that is not {\"slot\": 0|1, \"size\": n, \"fd\": d?}")
        if fd is None:
            segment = self.segments[slot]
            if segment is None or segment.size != size:
                raise ProtocolError("the host named a segment for slot %d this worker has not mapped" % slot)
            return segment
        import mmap  # only for workers that get large bytes

        writable = slot == REPLY_SLOT
        try:
            descriptor = os.open("/proc/%d/fd/%d" % (self.host_pid, fd), os.O_RDWR if writable else os.O_RDONLY)
        except OSError as error:
            raise ProtocolError("the host's shared memory segment cannot be opened: %s" % error) from None
        try:
            if os.fstat(descriptor).st_size != size:
                raise ProtocolError("the host's segment for slot %d is not of %d bytes" % (slot, size))
            prot = mmap.PROT_READ | mmap.PROT_WRITE if writable else mmap.PROT_READ
            segment = _Segment(mmap.mmap(descriptor, size, mmap.MAP_SHARED, prot), size)
        finally:
            os.close(descriptor)
        segment.settle()
        # The one it replaces is unmapped once nothing views it (a view kept past its call keeps it).
        self.segments[slot] = segment
        return segment

    def _shared_view(self, reference):
        if not (type(reference) is list and len(reference) == 3 and all(type(n) is int for n in reference)):
            raise ProtocolError("a $shm reference that is not [slot, offset, length]")
        slot, offset, length = reference
        segment = self.segments[CALL_SLOT] if slot == CALL_SLOT else None
        if segment is None or offset < 0 or length < 0 or offset + length > segment.size:
            raise ProtocolError("a $shm reference outside the call's segment")
        if self._root is None:
            # One view of the map per call: every slice of it shares its buffer, which holds the map while it lives.
            self._root = memoryview(segment.map).toreadonly()
            self.handed = {}
        view = self._root[offset : offset + length]
        self.handed[id(view)] = (view, offset, length)
        return view

    def release_views(self, call_id):
        """Ends the call's hold on slot 0. When Python code kept a view of it (or of a slice of one), the segment is
        left to that view, which keeps the call's bytes, and the host is told to make a new one for the next call:
        the next call's data never shows through a kept view, and cleanup never waits for it."""
        if self._root is None:
            return
        root, self._root, self.handed = self._root, None, None
        root.release()
        del root
        segment = self.segments[CALL_SLOT]
        if segment is not None and segment.viewed():
            self.segments[CALL_SLOT] = None
            self.write_frame(SEGMENT_RETIRE, call_id, b'{"slot":0}')

    def _reserve(self, size, call_id):
        """Slot 1 with room for size bytes: the one mapped, or a larger one the host makes on request."""
        segment = self.segments[REPLY_SLOT]
        if segment is not None and segment.size >= size:
            return segment
        self.write_frame(SEGMENT_REQUEST, call_id, ('{"size":%d}' % size).encode("ascii"))
        while True:
            kind, _, payload, _ = self.read_frame()
            if kind == SEGMENT:
                segment = self.open_segment(payload)
                if segment is self.segments[REPLY_SLOT] and segment.size >= size:
                    return segment
                raise ProtocolError("the host answered a request for %d shared bytes with another segment" % size)
            if kind not in (CALLBACK_RESULT, CALLBACK_ERROR):  # late answers to an interrupted callback
                raise ProtocolError("expected a segment frame, got kind %d" % kind)

    def encode(self, value, namedtuples=False, call_id=None):
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
        # A reply (call_id given) puts bytes from the threshold up in shared memory.
        placed = _Placement(self) if call_id is not None and self.shm_threshold else None

        def default(obj):
            if isinstance(obj, (bytes, bytearray, memoryview)):
                if placed is not None:
                    reference = placed.place(obj)
                    if reference is not None:
                        return {"$shm": reference}
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
            data = text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise EncodeError("a string cannot be sent: it is not valid Unicode (%s)" % error.reason) from None
        if placed is not None and placed.total:
            placed.write(4 + _MIN_BODY + len(data) + sum(4 + len(a) for a in attachments), call_id)
        return data, attachments


class _Segment:
    """One shared-memory segment mapped here. viewed(): whether a view of it is alive (CPython counts the buffer's
    hold on the map as a reference; elsewhere every use counts as kept)."""

    __slots__ = ("map", "size", "base")

    def __init__(self, mapped, size):
        self.map = mapped
        self.size = size
        self.base = None

    def settle(self):
        """Counts the references of the map while nothing views it (the caller holds no other)."""
        self.base = sys.getrefcount(self.map) if hasattr(sys, "getrefcount") else None

    def viewed(self):
        return self.base is None or sys.getrefcount(self.map) > self.base


class _Placement:
    """A reply's bytes from the threshold up: where each goes in slot 1, copied there once the reply's JSON is known;
    a view of the call's own segment that Python code returned as it was is referenced where it is, not copied."""

    __slots__ = ("channel", "end", "total", "copies")

    def __init__(self, channel):
        self.channel = channel
        self.end = 0
        self.total = 0
        self.copies = []

    def place(self, obj):
        view = obj if type(obj) is memoryview else memoryview(obj)
        size = view.nbytes
        if size < self.channel.shm_threshold:
            return None
        handed = self.channel.handed.get(id(obj)) if self.channel.handed else None
        self.total += size
        if handed is not None and handed[0] is obj:
            return [CALL_SLOT, handed[1], handed[2]]
        if not view.c_contiguous:
            view = memoryview(bytes(view))
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        offset = (self.end + _SHM_ALIGN - 1) & ~(_SHM_ALIGN - 1)
        self.copies.append((offset, view))
        self.end = offset + size
        return [REPLY_SLOT, offset, size]

    def write(self, frame_size, call_id):
        channel = self.channel
        if frame_size + self.total > channel.max_frame:
            raise EncodeError(
                "the reply is %d bytes with its shared bytes, more than the maximum frame size of %d bytes"
                % (frame_size + self.total, channel.max_frame)
            )
        if not self.copies:
            return
        mapped = channel._reserve(self.end, call_id).map
        for offset, view in self.copies:
            mapped[offset : offset + view.nbytes] = view
        self.copies = []


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
