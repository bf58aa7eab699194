"""Unit tests of the runtime's streams (lifeguard._runtime): items under credit, close, drain; on pipes, no host.

The runtime is imported as in test_protocol.py. Standard library only.
"""

import json
import os
import struct
import sys
import unittest

_RUNTIME = os.environ.get("LIFEGUARD_RUNTIME_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "Lifeguard.Python", "runtime"
)
sys.path.insert(0, os.path.abspath(_RUNTIME))

from lifeguard import _protocol as p  # noqa: E402
from lifeguard import _runtime as r  # noqa: E402

MAX_FRAME = 4096


def frame(kind, frame_id, value):
    payload = json.dumps(value).encode("utf-8")
    body = struct.pack(">BQI", kind, frame_id, len(payload)) + payload
    return struct.pack(">I", len(body)) + body


class StreamTest(unittest.TestCase):
    def setUp(self):
        self.host_in, self.worker_out = os.pipe()
        self.worker_in, self.host_out = os.pipe()
        self.channel = p.Channel(self.worker_in, self.worker_out, MAX_FRAME)
        self.closed = []

    def tearDown(self):
        self.channel._reader.close()
        for fd in (self.host_in, self.worker_out, self.worker_in, self.host_out):
            try:
                os.close(fd)
            except OSError:
                pass

    def frames(self):
        """The frames the worker wrote, as (kind, id, value)."""
        os.close(self.worker_out)
        data = b""
        while True:
            chunk = os.read(self.host_in, 65536)
            if not chunk:
                break
            data += chunk
        out = []
        while data:
            (length,) = struct.unpack_from(">I", data)
            kind, frame_id, json_length = struct.unpack_from(">BQI", data, 4)
            out.append((kind, frame_id, json.loads(data[17 : 17 + json_length])))
            data = data[4 + length :]
        return out

    def generator(self, n):
        try:
            for i in range(n):
                yield i
        finally:
            self.closed.append(True)

    def test_items_within_the_window_then_the_end(self):
        failure, end = r._stream(self.channel, 7, r._Items(self.generator(3)), 4)
        self.assertIsNone(failure)
        self.assertEqual({"items": 3}, end)
        self.assertEqual([(p.ITEM, 7, 0), (p.ITEM, 7, 1), (p.ITEM, 7, 2)], self.frames())

    def test_waits_for_credit_once_the_window_is_used(self):
        # Credit for 2 more, then a close: 2 + 2 items, then the generator is closed.
        os.write(self.host_out, frame(p.CREDIT, 7, {"n": 2}) + frame(p.CLOSE, 7, {}))
        failure, end = r._stream(self.channel, 7, r._Items(self.generator(100)), 2)
        self.assertIsNone(failure)
        self.assertEqual({"items": 4, "closed": True}, end)
        self.assertEqual([True], self.closed)
        self.assertEqual([0, 1, 2, 3], [value for _, _, value in self.frames()])

    def test_credit_past_the_window_is_a_protocol_error(self):
        os.write(self.host_out, frame(p.CREDIT, 7, {"n": 3}))
        with self.assertRaises(p.ProtocolError):
            r._stream(self.channel, 7, r._Items(self.generator(100)), 2)

    def test_late_credit_and_close_of_an_earlier_stream_are_ignored(self):
        # Out of credit after each item, the worker reads on: it learns that the generator ended only with credit.
        late = frame(p.CLOSE, 6, {}) + frame(p.CREDIT, 6, {"n": 1})
        os.write(self.host_out, late + frame(p.CREDIT, 7, {"n": 1}) + frame(p.CREDIT, 7, {"n": 1}))
        failure, end = r._stream(self.channel, 7, r._Items(self.generator(2)), 1)
        self.assertIsNone(failure)
        self.assertEqual({"items": 2}, end)

    def test_an_exception_comes_after_the_items(self):
        def fails():
            yield "a"
            raise ValueError("no more")

        failure, end = r._stream(self.channel, 7, r._Items(fails()), 16)
        self.assertIsNone(end)
        self.assertIsInstance(failure[0], ValueError)
        self.assertEqual("exception", failure[1])
        self.assertEqual([(p.ITEM, 7, "a")], self.frames())

    def test_an_item_that_cannot_be_sent_closes_the_generator(self):
        def unsendable():
            try:
                yield {1, 2}
            finally:
                self.closed.append(True)

        failure, end = r._stream(self.channel, 7, r._Items(unsendable()), 16)
        self.assertIsInstance(failure[0], p.EncodeError)
        self.assertEqual("encode", failure[1])
        self.assertEqual([True], self.closed)

    def test_poll_frame_never_waits(self):
        self.assertIsNone(self.channel.poll_frame())
        os.write(self.host_out, frame(p.CREDIT, 1, {"n": 1}))
        self.assertEqual(p.CREDIT, self.channel.poll_frame()[0])
        self.assertIsNone(self.channel.poll_frame())

    def test_drain_returns_the_items_and_refuses_more_than_a_frame(self):
        self.assertEqual([0, 1, 2], r._drain(self.channel, r._Items(self.generator(3))))
        with self.assertRaises(p.EncodeError) as raised:
            r._drain(self.channel, r._Items(self.generator(10**9)))
        self.assertIn("exceed the maximum frame size of 4096 bytes", str(raised.exception))
        self.assertEqual([True, True], self.closed)

    def test_what_streams(self):
        message = {"st": 4}
        self.assertIsNotNone(r._items(iter([1]), message, "m", "f"))
        self.assertIsNotNone(r._items([1, 2], message, "m", "f"))
        self.assertIsNone(r._items([1, 2], {}, "m", "f"))  # a call's list is its value
        with self.assertRaises(TypeError) as raised:
            r._items(5, message, "m", "f")
        self.assertIn("m.f returned int, not a generator or an iterable", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
