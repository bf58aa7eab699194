"""A deliberately hostile worker for the reliability suites (HostileWorkerTests.cs).

The host starts it exactly as it starts the real runtime: python3 hostile_worker.py HOST_PID MAX_FRAME_SIZE, frames on
stdin and stdout (docs/protocol.md). HOSTILE_CASE in the environment picks a misbehaviour during the handshake; after
a correct handshake, the called function's name picks the reply. "echo" and "pid" are answered correctly, "raw"
writes the bytes the test generated, and every other name breaks the protocol in its own way. Standard library only.
"""

import base64
import ctypes
import json
import os
import signal
import struct
import sys
import time

INIT, HELLO, CALL, RESULT, ERROR, CALLBACK, CALLBACK_RESULT, CALLBACK_ERROR = range(1, 9)
ITEM, CREDIT, STREAM_END, CLOSE = 16, 17, 18, 19
SPANS = 32
SEGMENT, SEGMENT_REQUEST, SEGMENT_RETIRE = 48, 49, 50
PING, PONG = 64, 65
HEAD = struct.Struct(">IBQI")  # length, kind, id, json length
U32 = struct.Struct(">I")
EXIT_CODE = 17  # distinctive: the tests check that a crash report carries it
ID_PLACEHOLDER = b"\xfe\xed\xfa\xce\xfe\xed\xfa\xce"  # in "raw" data: replaced by the call's id
MAX_FRAME = int(sys.argv[2]) if len(sys.argv) > 2 else 64 * 1024 * 1024
GARBAGE_LINE = b"\xff\xfe invalid \xc3\x28 utf-8 \xed\xa0\x80 \xf8\x88\x80\x80\x80\n"


# ---------------------------------------------------------------------- plumbing


def read_exactly(size):
    data = bytearray()
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_frame():
    """Returns (kind, id, json) of the host's next frame, or None at the end of its input."""
    head = read_exactly(4)
    if head is None:
        return None
    (length,) = U32.unpack(head)
    body = read_exactly(length)
    if body is None:
        return None
    kind, frame_id, json_length = struct.unpack_from(">BQI", body)
    return kind, frame_id, body[13 : 13 + json_length]


def frame(kind, frame_id, payload=b"", rest=b"", length=None, json_length=None):
    """A frame; rest is the raw attachment section. length and json_length override the true values."""
    if length is None:
        length = 13 + len(payload) + len(rest)
    if json_length is None:
        json_length = len(payload)
    return HEAD.pack(length, kind, frame_id, json_length) + payload + rest


def attachments(*items):
    return b"".join(U32.pack(len(item)) + item for item in items)


def write(data, fd=1):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def result(frame_id, value):
    return frame(RESULT, frame_id, json.dumps(value).encode("utf-8"))


def hang():
    while True:
        time.sleep(3600)


def die():
    os._exit(EXIT_CODE)


def deep(depth):
    return b"[" * depth + b"]" * depth


def stderr_garbage():
    """A 1 MiB line, invalid UTF-8, thousands of short lines, and a last 100 KB line with no end."""
    write(b"x" * (1024 * 1024) + b"\n", 2)
    write(b"short line\n" * 5000, 2)
    write(GARBAGE_LINE * 50, 2)
    write(b"y" * (100 * 1000), 2)


def die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------- the handshake

HELLO_JSON = {
    "protocol": 2,
    "runtime": "hostile",
    "python": "%d.%d.%d" % sys.version_info[:3],
    "pid": os.getpid(),
    "features": ["spans", "streams", "shm", "ping"],
}
HELLO_V1_JSON = {"protocol": 1, "runtime": "hostile-v1", "python": "%d.%d.%d" % sys.version_info[:3], "pid": os.getpid()}

START_CASES = {
    "start_header_1": lambda: (write(result(0, 1)[:1]), die()),
    "start_header_3": lambda: (write(result(0, 1)[:3]), die()),
    "start_header_hang": lambda: (write(result(0, 1)[:2]), hang()),
    "start_exit_mid_frame": lambda: (write(frame(HELLO, 0, b"{" + b" " * 200 + b"}")[:60]), die()),
    "start_exit": die,
    "start_stall": hang,
    "start_stderr_garbage": lambda: (stderr_garbage(), die()),
    "start_length_huge": lambda: (write(U32.pack(0xFFFFFFFF)), hang()),
    "start_length_small": lambda: (write(U32.pack(5) + b"\x02" * 5), hang()),
    "start_unknown_kind": lambda: (write(frame(42, 0, b"{}")), hang()),
    "start_result_first": lambda: (write(result(0, 1)), hang()),
    "start_callback_first": lambda: (write(frame(CALLBACK, 1, b'{"n":"x","a":[]}')), hang()),
    "start_wrong_version": lambda: (write(frame(HELLO, 0, json.dumps(dict(HELLO_JSON, protocol=3)).encode())), hang()),
    "start_features_not_list": lambda: (write(frame(HELLO, 0, json.dumps(dict(HELLO_JSON, features="spans")).encode())), hang()),
    "start_hello_empty": lambda: (write(frame(HELLO, 0, b"{}")), hang()),
    "start_hello_wrong_types": lambda: (write(frame(HELLO, 0, b'{"protocol":"1","runtime":1,"python":null}')), hang()),
    "start_hello_not_object": lambda: (write(frame(HELLO, 0, b"[1,2,3]")), hang()),
    "start_hello_invalid_json": lambda: (write(frame(HELLO, 0, b'{"protocol":1,')), hang()),
    "start_hello_invalid_utf8": lambda: (write(frame(HELLO, 0, b'{"protocol":1,"runtime":"\xff","python":"3"}')), hang()),
    "start_hello_deep": lambda: (write(frame(HELLO, 0, deep(10000))), hang()),
    "start_error_not_object": lambda: (write(frame(ERROR, 0, b'"boom"')), hang()),
    "start_error_empty": lambda: (write(frame(ERROR, 0, b"{}")), hang()),
}


# ---------------------------------------------------------------------- calls

def call_header(size, then):
    def run(call_id, args):
        write(result(call_id, 1)[:size])
        then()

    return run


def reply_bytes(make):
    """A case that writes make(call_id) and goes back to serving: the host must stop it on what it got."""
    return lambda call_id, args: write(make(call_id))


def two_replies(call_id, args):
    write(result(call_id, "first") + result(call_id, "second"))


def callback_unregistered(call_id, args):
    write(frame(CALLBACK, 1, b'{"n":"no_such_callback","a":[1]}'))
    answer = read_frame()
    if answer is None:
        die()
    kind, _, payload = answer
    message = json.loads(payload).get("message", "") if kind == CALLBACK_ERROR else "answered with kind %d" % kind
    error = {"kind": "exception", "type": "lifeguard.HostError", "message": message, "traceback": ""}
    write(frame(ERROR, call_id, json.dumps(error).encode("utf-8")))


def callback_flood(call_id, args):
    request = frame(CALLBACK, 1, b'{"n":"echo","a":["' + b"z" * 200 + b'"]}')
    while True:
        write(request * 64)  # never reads the answers: both pipes fill up


def exit_mid_frame(call_id, args):
    write(result(call_id, "a" * 100)[:60])
    die()


def kill_mid_frame(call_id, args):
    write(result(call_id, "a" * 100)[:60])
    os.kill(os.getpid(), signal.SIGKILL)


def dribble(call_id, args):
    data = result(call_id, "dribbled")
    for i in range(len(data) - 1):
        write(data[i : i + 1])
        time.sleep(0.01)
    hang()


def slow_frame(call_id, args):
    """Announces a frame of args[0] bytes, sends args[1] of them, and stalls."""
    length, sent = args[0], args[1]
    data = HEAD.pack(length - 4, RESULT, call_id, length - 17) + b"1" * (sent - 17)
    write(data)
    hang()


def exact_max(call_id, args):
    size = MAX_FRAME - 4 - 13 - 2
    write(frame(RESULT, call_id, b'"' + b"a" * size + b'"'))


def oversize(call_id, args):
    size = MAX_FRAME - 4 - 13 - 2 + 1
    write(frame(RESULT, call_id, b'"' + b"a" * size + b'"'))


def bytes_repeated(call_id, args):
    """One attachment (args[1] bytes) referenced args[0] times: a small frame asking for many copies of it."""
    count, size = (args + [2000, 30000][len(args) :])[:2]
    write(frame(RESULT, call_id, b"[" + b",".join([b'{"$bytes":0}'] * count) + b"]", attachments(b"b" * size)))


def many_attachments(call_id, args):
    count = args[0]
    payload = json.dumps({"$bytes": count - 1}).encode()
    write(frame(RESULT, call_id, payload, attachments(*([b""] * (count - 1) + [b"last"]))))


def many_attachments_overrun(call_id, args):
    count = args[0]
    write(frame(RESULT, call_id, b"1", attachments(*([b""] * count)) + U32.pack(5) + b"ab"))


def stderr_garbage_reply(call_id, args):
    stderr_garbage()
    write(b"\n", 2)
    write(result(call_id, "still here"))


def stderr_garbage_die(call_id, args):
    stderr_garbage()
    die()


def after_close(call_id, args):
    """Answers; then, once the host closes its input, keeps writing frames and text instead of exiting."""
    global keep_writing_after_close
    keep_writing_after_close = True
    write(result(call_id, "ok"))


def raw(call_id, args):
    """Writes the test's bytes (base64 in args[0]; the placeholder id becomes the call's), then args[1]."""
    data = base64.b64decode(args[0]).replace(ID_PLACEHOLDER, struct.pack(">Q", call_id))
    write(data)
    then = args[1]
    if then == "exit":
        die()
    if then == "hang":
        hang()


keep_writing_after_close = False
last_call_json = None
ping_answer = "pong"  # how pings are answered from now on: set by a "ping_mode" call


def ping_mode(call_id, args):
    global ping_answer
    ping_answer = args[0]
    write(result(call_id, ping_answer))


def answer_ping(ping_id):
    if ping_answer == "pong":
        write(frame(PONG, ping_id, b"{}"))
    elif ping_answer == "wrong_id":
        write(frame(PONG, ping_id + 1, b"{}"))
    elif ping_answer == "result":
        write(result(ping_id, 1))
    elif ping_answer == "die":
        die()
    # "silent": read, never answered


# ---------------------------------------------------------------------- span data (a spans frame, then a sound reply)

NOW = time.time_ns


def span(span_id, name, parent=0, **extra):
    start = NOW()
    return dict({"id": span_id, "parent": parent, "name": name, "start": start, "end": start + 1000}, **extra)


def spans_then_ok(make):
    """A case that sends the spans frame's JSON make() returns (bytes, or a value to encode), then the result "ok"."""

    def run(call_id, args):
        payload = make()
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode("utf-8")
        write(frame(SPANS, call_id, payload) + result(call_id, "ok"))

    return run


def spans_bad_entries():
    good = span(1, "good", attributes={"n": 1, "list": [1], "obj": {"a": 1}, "nothing": None, "": 2, "s": "v"})
    return {
        "spans": [
            5,  # not an object
            {"id": "1", "name": "x", "start": 1, "end": 2},  # id not a number
            span(0, "zero-id"),
            dict(span(7, "backwards"), end=1),  # ends before it starts
            dict(span(8, "no-name"), name=""),
            span(9, "bad-parent", parent=-1),
            span(10, "bad-error", error="boom"),
            dict(span(11, "huge-name"), name="n" * 5000),
            good,
            span(1, "duplicate-id"),
            span(2, "child", parent=1),
            span(3, "orphan", parent=999),  # names no span: hangs from the call's span
            span(4, "oversized", attributes={"big": "b" * 2000, "other": 1}),
        ],
        "dropped": -3,
    }


def spans_flood():
    return {"spans": [span(i, "flood") for i in range(1, 201)]}


def spans_extreme_times():
    return {"spans": [dict(span(1, "early"), start=-(1 << 63), end=-(1 << 63) + 1), dict(span(2, "late"), start=(1 << 63) - 2, end=(1 << 63) - 1)]}


# ---------------------------------------------------------------------- streams


def window():
    """The window of the stream call being served ("st" in its call frame)."""
    return json.loads(last_call_json).get("st") or 0


def item(call_id, value):
    return frame(ITEM, call_id, json.dumps(value).encode("utf-8"))


def stream_end(call_id, count):
    return frame(STREAM_END, call_id, json.dumps({"items": count}).encode("utf-8"))


def stream_good(call_id, args):
    """A correct stream of args[0] items, taking credit as it comes."""
    credit, sent = window(), 0
    while sent < args[0]:
        while credit == 0:
            kind, frame_id, payload = read_frame()
            if kind == CREDIT:
                credit += json.loads(payload)["n"]
        write(item(call_id, sent))
        sent += 1
        credit -= 1
    write(stream_end(call_id, sent))


def stream_flood(call_id, args):
    """Ignores credit: sends items as fast as it can, as many as args[0]."""
    for k in range(args[0]):
        write(item(call_id, k))
    write(stream_end(call_id, args[0]))


def stream_window_then_hang(call_id, args):
    """Uses its credit, then neither yields nor reads: ignores a close and every interrupt."""
    for k in range(window()):
        write(item(call_id, k))
    hang()


# ---------------------------------------------------------------------- shared memory


def request_segment(call_id, size):
    """Asks the host for room for a reply of size shared bytes; returns its segment frame's JSON."""
    write(frame(SEGMENT_REQUEST, call_id, json.dumps({"size": size}).encode()))
    while True:
        kind, _, payload = read_frame()
        if kind == SEGMENT:
            return json.loads(payload)


def shm_then(make):
    """A case that asks for a segment, then writes make(call_id, segment)."""
    return lambda call_id, args: write(make(call_id, request_segment(call_id, 1000)))


def shm_truncate(call_id, args):
    """Opens the segment the host granted through /proc, tries to shrink and grow it, writes into it, and replies with
    what the kernel said and a reference to what it wrote."""
    segment = request_segment(call_id, 1000)
    fd = os.open("/proc/%d/fd/%d" % (host_pid, segment["fd"]), os.O_RDWR)
    outcome = []
    for size in (0, segment["size"] * 2):
        try:
            os.ftruncate(fd, size)
            outcome.append("resized")
        except OSError as error:
            outcome.append(errno_name(error.errno))
    os.pwrite(fd, b"abc", 0)
    os.close(fd)
    outcome.append({"$shm": [1, 0, 3]})
    write(result(call_id, outcome))


def errno_name(number):
    import errno

    return errno.errorcode.get(number, str(number))


def call_json(call_id, args):
    """Returns the JSON of the call frame as the host sent it."""
    write(result(call_id, last_call_json))

CALLS = {
    "echo": lambda call_id, args: write(result(call_id, args[0] if args else None)),
    "pid": lambda call_id, args: write(result(call_id, os.getpid())),
    "raw": raw,
    # A header cut short, then the end of the output, or a stall.
    "header_1": call_header(1, die),
    "header_2": call_header(2, die),
    "header_3": call_header(3, die),
    "header_hang": call_header(2, hang),
    # Lengths out of range.
    **{"length_%d" % n: reply_bytes(lambda call_id, n=n: U32.pack(n) + bytes([RESULT]) * n) for n in range(13)},
    "length_2p31": reply_bytes(lambda call_id: U32.pack(1 << 31) + HEAD.pack(0, RESULT, call_id, 1)[4:] + b"1"),
    "length_2p32m1": reply_bytes(lambda call_id: U32.pack(0xFFFFFFFF) + HEAD.pack(0, RESULT, call_id, 1)[4:] + b"1"),
    "oversize": oversize,
    "exact_max": exact_max,
    "slow_frame": slow_frame,
    # The JSON part.
    "json_overrun": reply_bytes(lambda call_id: frame(RESULT, call_id, b"12", json_length=3)),
    "json_length_huge": reply_bytes(lambda call_id: frame(RESULT, call_id, b"12", json_length=0xFFFFFFFF)),
    "json_empty": reply_bytes(lambda call_id: frame(RESULT, call_id, b"")),
    "invalid_utf8": reply_bytes(lambda call_id: frame(RESULT, call_id, b'"bad \xff\xfe \xc3\x28"')),
    "invalid_json": reply_bytes(lambda call_id: frame(RESULT, call_id, b'{"a": ')),
    "trailing_json": reply_bytes(lambda call_id: frame(RESULT, call_id, b"1 2")),
    "nan": reply_bytes(lambda call_id: frame(RESULT, call_id, b"NaN")),
    "infinity": reply_bytes(lambda call_id: frame(RESULT, call_id, b"Infinity")),
    "negative_infinity": reply_bytes(lambda call_id: frame(RESULT, call_id, b"[-Infinity]")),
    "deep_nesting": reply_bytes(lambda call_id: frame(RESULT, call_id, deep(10000))),
    # Valid JSON the requested type cannot hold: the worker is kept.
    "bigint_exponent": reply_bytes(lambda call_id: frame(RESULT, call_id, b"1e999999999")),
    "bigint_fraction": reply_bytes(lambda call_id: frame(RESULT, call_id, b"1.5")),
    "bigint_string": reply_bytes(lambda call_id: frame(RESULT, call_id, b'"twelve"')),
    "nesting_100": reply_bytes(lambda call_id: frame(RESULT, call_id, deep(100))),
    # Kinds and ids.
    "kind_0": reply_bytes(lambda call_id: frame(0, call_id, b"1")),
    "kind_9": reply_bytes(lambda call_id: frame(9, call_id, b"1")),
    "kind_255": reply_bytes(lambda call_id: frame(255, call_id, b"1")),
    "host_kind": reply_bytes(lambda call_id: frame(CALL, call_id, b'{"m":"x","f":"y","a":[]}')),
    "hello_again": reply_bytes(lambda call_id: frame(HELLO, 0, json.dumps(HELLO_JSON).encode())),
    "unknown_id": reply_bytes(lambda call_id: result(call_id + 1000, 1)),
    "id_zero": reply_bytes(lambda call_id: result(0, 1)),
    "two_replies": two_replies,
    # Error frames.
    "error_empty": reply_bytes(lambda call_id: frame(ERROR, call_id, b"{}")),
    "error_wrong_types": reply_bytes(
        lambda call_id: frame(ERROR, call_id, b'{"kind":"exception","type":5,"message":["x"],"traceback":null}')
    ),
    "error_not_object": reply_bytes(lambda call_id: frame(ERROR, call_id, b'"boom"')),
    "error_invalid_json": reply_bytes(lambda call_id: frame(ERROR, call_id, b'{"type": "X", "message": "y"')),
    "error_deep": reply_bytes(lambda call_id: frame(ERROR, call_id, deep(10000))),
    # Attachments.
    "bytes_missing": reply_bytes(lambda call_id: frame(RESULT, call_id, b'{"$bytes":1}', attachments(b"abc"))),
    "bytes_missing_none": reply_bytes(lambda call_id: frame(RESULT, call_id, b'{"$bytes":0}')),
    "bytes_negative": reply_bytes(lambda call_id: frame(RESULT, call_id, b'{"$bytes":-1}', attachments(b"abc"))),
    "attachment_overrun": reply_bytes(lambda call_id: frame(RESULT, call_id, b"1", U32.pack(100) + b"x" * 10)),
    "attachment_size_4g": reply_bytes(lambda call_id: frame(RESULT, call_id, b'{"$bytes":0}', U32.pack(0xFFFFFFFF) + b"xyz")),
    "attachment_partial_header": reply_bytes(lambda call_id: frame(RESULT, call_id, b"1", b"\x00\x00")),
    "bytes_repeated": bytes_repeated,
    "many_attachments": many_attachments,
    "many_attachments_overrun": many_attachments_overrun,
    # Callbacks.
    "callback_unregistered": callback_unregistered,
    "callback_malformed": reply_bytes(lambda call_id: frame(CALLBACK, 1, b'{"name":"echo"}')),
    "callback_deep": reply_bytes(lambda call_id: frame(CALLBACK, 1, deep(10000))),
    "callback_flood": callback_flood,
    # Death and stalls.
    "exit_mid_frame": exit_mid_frame,
    "kill_mid_frame": kill_mid_frame,
    "dribble": dribble,
    "stall": lambda call_id, args: hang(),
    # Span data: ignored and counted when malformed, never fatal; a spans frame of another call is a violation.
    "spans_invalid_json": spans_then_ok(lambda: b'{"spans": ['),
    "spans_not_object": spans_then_ok(lambda: [1, 2, 3]),
    "spans_no_list": spans_then_ok(lambda: {"spans": "many"}),
    "spans_deep": spans_then_ok(lambda: b'{"spans":' + deep(10000) + b"}"),
    "spans_bad_entries": spans_then_ok(spans_bad_entries),
    "spans_flood": spans_then_ok(spans_flood),
    "spans_extreme_times": spans_then_ok(spans_extreme_times),
    "spans_wrong_id": reply_bytes(lambda call_id: frame(SPANS, call_id + 1000, b'{"spans":[]}') + result(call_id, "ok")),
    "call_json": call_json,
    # Shared memory: the host maps only segments it made, sealed, at most MaxFrameSize, and reads only inside them.
    "shm_request_huge": reply_bytes(lambda call_id: frame(SEGMENT_REQUEST, call_id, json.dumps({"size": MAX_FRAME + 1}).encode())),
    "shm_request_zero": reply_bytes(lambda call_id: frame(SEGMENT_REQUEST, call_id, b'{"size": 0}')),
    "shm_request_malformed": reply_bytes(lambda call_id: frame(SEGMENT_REQUEST, call_id, b'{"size": "all"}')),
    "shm_request_twice": shm_then(lambda call_id, segment: frame(SEGMENT_REQUEST, call_id, b'{"size": 1000}')),
    "shm_unowned": reply_bytes(lambda call_id: result(call_id, {"$shm": [1, 0, 10]})),
    "shm_other_slot": shm_then(lambda call_id, segment: result(call_id, {"$shm": [7, 0, 10]})),
    "shm_overrun": shm_then(lambda call_id, segment: result(call_id, {"$shm": [1, 1, segment["size"]]})),
    "shm_negative": shm_then(lambda call_id, segment: result(call_id, {"$shm": [1, -1, 10]})),
    "shm_repeated": shm_then(lambda call_id, segment: result(call_id, [{"$shm": [1, 0, segment["size"]]}] * 3)),
    "shm_retire_reply_slot": reply_bytes(lambda call_id: frame(SEGMENT_RETIRE, call_id, b'{"slot": 1}') + result(call_id, 1)),
    "shm_host_kind": reply_bytes(lambda call_id: frame(SEGMENT, call_id, b'{"slot": 1, "size": 4096, "fd": 0}')),
    "shm_truncate": shm_truncate,
    # Streams: credit, counts, kinds and ids are the host's to check.
    "stream_good": stream_good,
    "stream_flood": stream_flood,
    "stream_window_then_hang": stream_window_then_hang,
    "stream_count_short": reply_bytes(lambda call_id: item(call_id, 0) + item(call_id, 1) + stream_end(call_id, 5)),
    "stream_end_malformed": reply_bytes(lambda call_id: item(call_id, 0) + frame(STREAM_END, call_id, b'"done"')),
    "stream_end_not_json": reply_bytes(lambda call_id: frame(STREAM_END, call_id, b'{"items": ')),
    "stream_item_wrong_id": reply_bytes(lambda call_id: item(call_id, 0) + item(call_id + 1000, 1)),
    "stream_item_invalid_json": reply_bytes(lambda call_id: frame(ITEM, call_id, b'{"a": ')),
    "stream_result_instead": reply_bytes(lambda call_id: item(call_id, 0) + result(call_id, [1, 2])),
    "stream_host_kind": reply_bytes(lambda call_id: frame(CREDIT, call_id, b'{"n": 1}')),
    "item_to_a_call": reply_bytes(lambda call_id: item(call_id, 0)),
    "stream_end_to_a_call": reply_bytes(lambda call_id: stream_end(call_id, 0)),
    "stream_hang_after_items": lambda call_id, args: (write(item(call_id, 0) + item(call_id, 1)), hang()),
    # Pings.
    "ping_mode": ping_mode,
    "pong_to_a_call": reply_bytes(lambda call_id: frame(PONG, call_id, b"{}")),
    # Standard error.
    "stderr_garbage_reply": stderr_garbage_reply,
    "stderr_garbage_die": stderr_garbage_die,
    # Stopping.
    "after_close": after_close,
}


host_pid = 0


def serve():
    while True:
        request = read_frame()
        if request is None:
            return
        global last_call_json
        kind, call_id, payload = request
        if kind == PING:
            answer_ping(call_id)
            continue
        if kind != CALL:
            continue  # a late callback answer: ignored between calls, as the protocol says
        last_call_json = payload.decode("utf-8")
        call = json.loads(payload)
        CALLS[call["f"]](call_id, call.get("a") or [])


def write_after_close():
    line = b"still writing after the host closed my input\n"
    reply = result(12345, "late")
    while True:
        write(line, 2)
        write(reply)  # blocks once the pipe is full: nobody reads it any more


def main():
    die_with_parent()
    # The host interrupts calls with SIGINT; a hostile worker ignores it, so it must be killed after the grace period.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init = read_frame()
    if init is None:
        return 0
    global host_pid
    # The segments are the host's descriptors: a forked worker's parent is the fork server's template, not the host.
    host_pid = json.loads(init[2]).get("shmPid", os.getppid())
    start = START_CASES.get(os.environ.get("HOSTILE_CASE", ""))
    if start is not None:
        start()
    hello = HELLO_V1_JSON if os.environ.get("HOSTILE_CASE") == "start_v1" else HELLO_JSON
    write(frame(HELLO, 0, json.dumps(hello).encode("utf-8")))
    serve()
    if keep_writing_after_close:
        write_after_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
