"""Unit tests of lifeguard._protocol: frames and values, on pipes, with no host.

The runtime is imported from LIFEGUARD_RUNTIME_DIR (the folder holding the lifeguard package; the xunit test sets it
to the runtime the assembly deploys), else from the source tree beside these tests. Standard library only.

    python3 -m unittest discover -s tests/Lifeguard.Python.Tests/python_unit
"""

import json
import math
import os
import struct
import sys
import unittest

_RUNTIME = os.environ.get("LIFEGUARD_RUNTIME_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "Lifeguard.Python", "runtime"
)
sys.path.insert(0, os.path.abspath(_RUNTIME))

from lifeguard import _protocol  # noqa: E402  (the path is set just above)
from lifeguard._protocol import CALL, RESULT, Channel, EncodeError, ProtocolError  # noqa: E402

MAX_FRAME = 1024


def frame(kind, frame_id, payload, attachments=(), length=None):
    """A frame as the host writes it; length overrides the prefix to build malformed ones."""
    body = struct.pack(">BQI", kind, frame_id, len(payload)) + payload
    for attachment in attachments:
        body += struct.pack(">I", len(attachment)) + attachment
    return struct.pack(">I", len(body) if length is None else length) + body


class PipeTest(unittest.TestCase):
    """A channel reading what the test writes into one pipe, and writing into another the test reads."""

    def setUp(self):
        self.host_in, self.worker_out = os.pipe()  # worker -> host
        self.worker_in, self.host_out = os.pipe()  # host -> worker
        self.channel = Channel(self.worker_in, self.worker_out, MAX_FRAME)

    def tearDown(self):
        self.channel._reader.close()
        for fd in (self.host_in, self.worker_out, self.worker_in, self.host_out):
            try:
                os.close(fd)
            except OSError:
                pass

    def send(self, data, close=True):
        os.write(self.host_out, data)
        if close:
            os.close(self.host_out)

    def received(self):
        os.close(self.worker_out)
        chunks = []
        while True:
            chunk = os.read(self.host_in, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


class ReadFrameTests(PipeTest):
    def test_reads_kind_id_json_and_no_attachments(self):
        self.send(frame(CALL, 7, b'{"m":"x"}'))
        self.assertEqual(self.channel.read_frame(), (CALL, 7, b'{"m":"x"}', ()))

    def test_reads_attachments_in_order_including_empty_ones(self):
        self.send(frame(CALL, 1, b"[]", [b"ab", b"", b"c"]))
        kind, frame_id, payload, attachments = self.channel.read_frame()
        self.assertEqual((kind, frame_id, payload), (CALL, 1, b"[]"))
        self.assertEqual(attachments, [b"ab", b"", b"c"])

    def test_reads_frames_one_after_another_then_eof_at_a_clean_end(self):
        self.send(frame(CALL, 1, b"1") + frame(CALL, 2, b"2"))
        self.assertEqual(self.channel.read_frame()[1], 1)
        self.assertEqual(self.channel.read_frame()[1], 2)
        with self.assertRaises(EOFError):
            self.channel.read_frame()

    def test_largest_frame_allowed_is_the_maximum_with_its_prefix(self):
        payload = b"x" * (MAX_FRAME - 4 - 13)
        self.send(frame(CALL, 1, payload))
        self.assertEqual(self.channel.read_frame()[2], payload)

    def test_one_byte_past_the_maximum_is_refused(self):
        self.send(frame(CALL, 1, b"x" * (MAX_FRAME - 4 - 13 + 1)))
        with self.assertRaisesRegex(ProtocolError, r"frame length 1021 is outside \[13, 1020\]"):
            self.channel.read_frame()

    def test_length_below_the_smallest_body_is_refused(self):
        self.send(struct.pack(">I", 12) + b"\0" * 12)
        with self.assertRaisesRegex(ProtocolError, "outside"):
            self.channel.read_frame()

    def test_input_ending_inside_the_header_is_refused(self):
        self.send(b"\0\0")
        with self.assertRaisesRegex(ProtocolError, "inside a frame header"):
            self.channel.read_frame()

    def test_input_ending_inside_the_body_is_refused(self):
        self.send(frame(CALL, 1, b"12345")[:-2])
        with self.assertRaisesRegex(ProtocolError, "inside a frame of 18 bytes"):
            self.channel.read_frame()

    def test_json_length_past_the_frame_is_refused(self):
        body = struct.pack(">BQI", CALL, 1, 100) + b"{}"
        self.send(struct.pack(">I", len(body)) + body)
        with self.assertRaisesRegex(ProtocolError, r"JSON part \(100 bytes\) overruns"):
            self.channel.read_frame()

    def test_attachment_header_overrunning_the_frame_is_refused(self):
        body = struct.pack(">BQI", CALL, 1, 2) + b"{}" + b"\0\0"
        self.send(struct.pack(">I", len(body)) + body)
        with self.assertRaisesRegex(ProtocolError, "attachment header overruns"):
            self.channel.read_frame()

    def test_attachment_overrunning_the_frame_is_refused(self):
        body = struct.pack(">BQI", CALL, 1, 2) + b"{}" + struct.pack(">I", 10) + b"abc"
        self.send(struct.pack(">I", len(body)) + body)
        with self.assertRaisesRegex(ProtocolError, "an attachment overruns"):
            self.channel.read_frame()


class WriteFrameTests(PipeTest):
    def test_writes_the_layout_the_host_reads(self):
        self.channel.write_frame(RESULT, 9, b'"ok"')
        self.assertEqual(self.received(), frame(RESULT, 9, b'"ok"'))

    def test_writes_attachments_after_the_json(self):
        self.channel.write_frame(RESULT, 3, b'{"$bytes":0}', [b"\x01\x02", b""])
        self.assertEqual(self.received(), frame(RESULT, 3, b'{"$bytes":0}', [b"\x01\x02", b""]))

    def test_round_trips_through_read_frame(self):
        self.channel.write_frame(RESULT, 2**64 - 1, b"[1]", [b"z"])
        data = self.received()
        reader_in, writer_out = os.pipe()
        try:
            os.write(writer_out, data)
            os.close(writer_out)
            reader = Channel(reader_in, -1, MAX_FRAME)
            self.assertEqual(reader.read_frame(), (RESULT, 2**64 - 1, b"[1]", [b"z"]))
            reader._reader.close()
        finally:
            os.close(reader_in)

    def test_a_frame_of_exactly_the_maximum_is_sent(self):
        payload = b"x" * (MAX_FRAME - 4 - 13)
        self.channel.write_frame(RESULT, 1, payload)
        self.assertEqual(len(self.received()), MAX_FRAME)

    def test_a_frame_past_the_maximum_is_refused_and_nothing_is_sent(self):
        with self.assertRaisesRegex(EncodeError, "the reply is 1025 bytes, more than the maximum frame size of 1024 bytes"):
            self.channel.write_frame(RESULT, 1, b"x" * (MAX_FRAME - 4 - 13 - 4), [b"a"])
        self.assertEqual(self.received(), b"")


class DecodeTests(unittest.TestCase):
    def setUp(self):
        self.channel = Channel.__new__(Channel)  # values only: no descriptors
        self.channel.max_frame = MAX_FRAME
        self.channel.named_floats = False

    def test_plain_json_without_attachments(self):
        self.assertEqual(self.channel.decode(b'{"a":[1,2.5,null,true,"s"]}', ()), {"a": [1, 2.5, None, True, "s"]})

    def test_bytes_references_resolve_to_attachments_at_any_depth(self):
        value = self.channel.decode(b'{"a":[{"$bytes":1}],"b":{"$bytes":0}}', [b"zero", b"one"])
        self.assertEqual(value, {"a": [b"one"], "b": b"zero"})

    def test_an_object_with_more_keys_than_bytes_is_left_alone(self):
        value = self.channel.decode(b'{"$bytes":0,"x":1}', [b"a"])
        self.assertEqual(value, {"$bytes": 0, "x": 1})

    def test_a_reference_past_the_last_attachment_is_refused(self):
        with self.assertRaisesRegex(ProtocolError, "points at no attachment"):
            self.channel.decode(b'{"$bytes":1}', [b"a"])

    def test_a_negative_or_non_integer_reference_is_refused(self):
        for payload in (b'{"$bytes":-1}', b'{"$bytes":"0"}', b'{"$bytes":0.5}'):
            with self.subTest(payload=payload), self.assertRaises(ProtocolError):
                self.channel.decode(payload, [b"a"])

    def test_malformed_json_raises_a_value_error(self):
        with self.assertRaises(ValueError):
            self.channel.decode(b"{", ())


class SharedMemoryTests(unittest.TestCase):
    """The worker's side of shared memory, on an anonymous map standing in for the host's segment."""

    def setUp(self):
        import mmap

        self.channel = Channel.__new__(Channel)
        self.channel.max_frame = 1 << 20
        self.channel.named_floats = False
        self.channel.shm_threshold = 16
        self.channel.segments = [None, None]
        self.map = mmap.mmap(-1, 4096)
        self.map[:64] = bytes(range(64))
        segment = _protocol._Segment(self.map, 4096)
        segment.settle()
        self.channel.segments[_protocol.CALL_SLOT] = segment
        self.sent = []
        self.channel.write_frame = lambda kind, frame_id, payload, attachments=(): self.sent.append((kind, frame_id, payload))

    def test_a_reference_becomes_a_read_only_view_of_the_segment(self):
        value = self.channel.decode(b'{"a":[{"$shm":[0,8,16]}]}', ())
        view = value["a"][0]
        self.assertIsInstance(view, memoryview)
        self.assertTrue(view.readonly)
        self.assertEqual(bytes(view), bytes(range(8, 24)))

    def test_references_outside_the_segment_or_to_another_slot_are_refused(self):
        for reference in (b"[0,4090,16]", b"[0,-1,4]", b"[1,0,4]", b"[2,0,4]", b"[0,0]", b'[0,0,"4"]', b"7"):
            with self.subTest(reference=reference), self.assertRaises(ProtocolError):
                self.channel.decode(b'{"$shm":' + reference + b"}", ())

    def test_released_views_leave_the_segment_in_place_and_say_nothing(self):
        self.channel.decode(b'{"$shm":[0,0,32]}', ())
        self.channel.release_views(5)
        self.assertEqual(self.sent, [])
        self.assertIsNotNone(self.channel.segments[_protocol.CALL_SLOT])

    def test_a_kept_slice_retires_the_segment_and_keeps_its_bytes(self):
        kept = self.channel.decode(b'{"$shm":[0,0,32]}', ())[4:]
        self.channel.release_views(5)
        self.assertEqual(self.sent, [(_protocol.SEGMENT_RETIRE, 5, b'{"slot":0}')])
        self.assertIsNone(self.channel.segments[_protocol.CALL_SLOT])
        self.assertEqual(bytes(kept[:4]), bytes(range(4, 8)))

    def test_a_returned_view_is_named_where_it_is_and_small_bytes_stay_attachments(self):
        view = self.channel.decode(b'{"$shm":[0,8,16]}', ())
        data, attachments = self.channel.encode([view, b"small"], call_id=3)
        self.assertEqual(json.loads(data), [{"$shm": [0, 8, 16]}, {"$bytes": 0}])
        self.assertEqual(attachments, [b"small"])

    def test_a_reply_past_the_maximum_with_its_shared_bytes_is_refused(self):
        self.channel.max_frame = 64
        with self.assertRaisesRegex(EncodeError, "with its shared bytes"):
            self.channel.encode(b"x" * 64, call_id=3)


class EncodeTests(unittest.TestCase):
    def setUp(self):
        self.channel = Channel.__new__(Channel)
        self.channel.max_frame = MAX_FRAME
        self.channel.named_floats = False

    def test_plain_values_are_compact_utf8_json_without_attachments(self):
        payload, attachments = self.channel.encode({"k": ["é", 1, None]})
        self.assertEqual(payload, '{"k":["é",1,null]}'.encode("utf-8"))
        self.assertEqual(tuple(attachments), ())

    def test_bytes_like_values_become_numbered_attachments(self):
        payload, attachments = self.channel.encode([b"a", bytearray(b"b"), memoryview(b"c")])
        self.assertEqual(json.loads(payload), [{"$bytes": 0}, {"$bytes": 1}, {"$bytes": 2}])
        self.assertEqual(attachments, [b"a", b"b", b"c"])

    def test_non_finite_floats_are_refused_naming_where(self):
        with self.assertRaisesRegex(EncodeError, r"the float nan at \$\.a\[1\] cannot be sent.*AllowNamedFloatingPointLiterals"):
            self.channel.encode({"a": [1.0, math.nan]})

    def test_a_non_finite_top_level_float_is_named_too(self):
        with self.assertRaisesRegex(EncodeError, "the float inf at \\$ cannot be sent"):
            self.channel.encode(math.inf)

    def test_named_floats_send_nan_and_infinities_as_strings(self):
        self.channel.named_floats = True
        payload, _ = self.channel.encode([math.nan, math.inf, -math.inf, (1.5,)])
        self.assertEqual(json.loads(payload), ["NaN", "Infinity", "-Infinity", [1.5]])

    def test_an_unsupported_type_is_refused_naming_it(self):
        class Point:
            pass

        with self.assertRaisesRegex(EncodeError, r"a value of type test_protocol\..*Point cannot be sent as JSON"):
            self.channel.encode({"p": Point()})
        with self.assertRaisesRegex(EncodeError, "a value of type set cannot be sent"):
            self.channel.encode({1, 2})

    def test_a_value_that_refers_to_itself_is_refused(self):
        value = []
        value.append(value)
        with self.assertRaises(EncodeError):
            self.channel.encode(value)

    def test_a_lone_surrogate_is_refused(self):
        with self.assertRaisesRegex(EncodeError, "not valid Unicode"):
            self.channel.encode("\ud800")

    def test_encode_then_decode_round_trips(self):
        value = {"n": 2**70, "s": "x", "b": b"\x00\xff", "l": [True, None]}
        self.assertEqual(self.channel.decode(*self.channel.encode(value)), value)


class ConstantsTests(unittest.TestCase):
    def test_kinds_and_version_match_docs_protocol(self):
        self.assertEqual(_protocol.PROTOCOL_VERSION, 2)
        self.assertEqual(
            (_protocol.INIT, _protocol.HELLO, CALL, RESULT, _protocol.ERROR, _protocol.CALLBACK),
            (1, 2, 3, 4, 5, 6),
        )
        self.assertEqual((_protocol.CALLBACK_RESULT, _protocol.CALLBACK_ERROR, _protocol.SPANS), (7, 8, 32))
        self.assertIn("spans", _protocol.FEATURES)
        self.assertEqual((_protocol.PING, _protocol.PONG), (64, 65))
        self.assertIn("ping", _protocol.FEATURES)


class PingTests(PipeTest):
    def test_the_main_loop_answers_each_ping_with_a_pong_of_its_id(self):
        from lifeguard import _runtime

        self.send(frame(_protocol.PING, 5, b"{}") + frame(_protocol.PING, 6, b"{}"))
        self.assertEqual(_runtime._serve(self.channel), 0)  # the end of its input ends it
        self.assertEqual(self.received(), frame(_protocol.PONG, 5, b"{}") + frame(_protocol.PONG, 6, b"{}"))


if __name__ == "__main__":
    unittest.main()
