"""Unit tests of lifeguard._types: typed values out (dataclasses, NamedTuples, datetimes) and in (by type hints).

The runtime is found as in test_protocol. Standard library only.
"""

import asyncio
import dataclasses
import datetime as dt
import json
import math
import os
import struct
import sys
import typing
import unittest

_RUNTIME = os.environ.get("LIFEGUARD_RUNTIME_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "src", "Lifeguard.Python", "runtime"
)
sys.path.insert(0, os.path.abspath(_RUNTIME))

from lifeguard import _runtime, _types  # noqa: E402  (the path is set just above)
from lifeguard._protocol import CALL, ERROR, RESULT, Channel, EncodeError  # noqa: E402

import typed_future  # noqa: E402  (beside this file)

UTC = dt.timezone.utc


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Pair(typing.NamedTuple):
    left: Point
    weight: int = 1


@dataclasses.dataclass
class Shape:
    name: str
    corners: typing.List[Point]
    pair: typing.Optional[Pair] = None
    when: typing.Optional[dt.datetime] = None
    by_name: typing.Dict[str, Point] = dataclasses.field(default_factory=dict)
    area: float = dataclasses.field(init=False, default=0.0)


class Totals(typing.TypedDict):
    best: Point
    count: int


class Counts(typing.TypedDict):
    n: int


class Node(typing.TypedDict):
    at: dt.date
    children: typing.List["Node"]


class Plain(typing.NamedTuple):
    a: int
    b: str


def channel():
    value = Channel.__new__(Channel)  # values only: no descriptors
    value.max_frame = 1 << 20
    value.named_floats = False
    return value


def bind(function, *args, **kwargs):
    binder, _ = _types.plan(function, "m." + function.__name__)
    return binder(list(args), kwargs)


class PlainTests(unittest.TestCase):
    def test_a_dataclass_in_a_list_in_a_dataclass_becomes_objects_all_the_way(self):
        shape = Shape("sq", [Point(0, 0), Point(1, 1)], by_name={"o": Point(0, 0)})
        self.assertEqual(
            _types.plain(shape),
            {
                "name": "sq",
                "corners": [{"x": 0, "y": 0}, {"x": 1, "y": 1}],
                "pair": None,
                "when": None,
                "by_name": {"o": {"x": 0, "y": 0}},
                "area": 0.0,
            },
        )

    def test_a_namedtuple_inside_a_dataclass_is_an_object_even_when_namedtuples_are_off(self):
        shape = Shape("s", [], pair=Pair(Point(1, 2), 3))
        self.assertEqual(_types.plain(shape, namedtuples=False)["pair"], {"left": {"x": 1, "y": 2}, "weight": 3})
        self.assertEqual(_types.plain([Pair(Point(1, 2))], namedtuples=False), [[{"x": 1, "y": 2}, 1]])

    def test_datetimes_and_dates_become_iso_8601_a_naive_one_as_it_is(self):
        aware = dt.datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
        naive = dt.datetime(2024, 5, 1, 12, 30)
        self.assertEqual(
            _types.plain({"a": aware, "n": naive, "d": dt.date(2024, 5, 1)}),
            {"a": "2024-05-01T12:30:00.123456-03:00", "n": "2024-05-01T12:30:00", "d": "2024-05-01"},
        )

    def test_anything_else_is_left_for_the_encoder(self):
        marker = object()
        self.assertIs(_types.plain(marker), marker)
        self.assertEqual(_types.plain((1, b"x", [None])), [1, b"x", [None]])


class EncodeTests(unittest.TestCase):
    def test_a_dataclass_takes_the_full_path_and_goes_out_as_an_object(self):
        payload, attachments = channel().encode({"shape": Shape("s", [Point(1, 2)])})
        self.assertEqual(json.loads(payload)["shape"]["corners"], [{"x": 1, "y": 2}])
        self.assertEqual(attachments, [])  # the full path's list: the fast encoder refused the dataclass

    def test_bytes_inside_a_dataclass_are_still_attachments(self):
        @dataclasses.dataclass
        class Blob:
            data: bytes

        payload, attachments = channel().encode(Blob(b"\x00\x01"))
        self.assertEqual(json.loads(payload), {"data": {"$bytes": 0}})
        self.assertEqual(attachments, [b"\x00\x01"])

    def test_an_unhinted_namedtuple_goes_out_as_an_array_as_json_dumps_writes_it(self):
        payload, _ = channel().encode([Plain(1, "b")])
        self.assertEqual(json.loads(payload), [[1, "b"]])

    def test_a_hinted_namedtuple_goes_out_as_an_object_through_the_fast_encoder(self):
        payload, attachments = channel().encode([Plain(1, "b")], namedtuples=True)
        self.assertEqual(json.loads(payload), [{"a": 1, "b": "b"}])
        self.assertEqual(attachments, ())  # the fast path's empty tuple

    def test_a_datetime_goes_out_as_a_string(self):
        payload, _ = channel().encode({"at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)})
        self.assertEqual(json.loads(payload), {"at": "2024-01-02T03:04:05+00:00"})

    def test_a_non_finite_float_in_a_dataclass_is_named_where_it_is(self):
        with self.assertRaisesRegex(EncodeError, r"the float nan at \$\.corners\[0\]\.y cannot be sent"):
            channel().encode(Shape("s", [Point(1, math.nan)]))

    def test_named_floats_reach_into_dataclasses(self):
        encoder = channel()
        encoder.named_floats = True
        payload, _ = encoder.encode([Point(math.inf, 1), Plain(math.nan, "x")])
        self.assertEqual(json.loads(payload), [{"x": "Infinity", "y": 1}, ["NaN", "x"]])

    def test_a_hinted_value_that_refers_to_itself_is_refused(self):
        value = []
        value.append(value)
        with self.assertRaisesRegex(EncodeError, "nested too deeply"):
            channel().encode(value, namedtuples=True)

    def test_other_objects_are_still_refused_naming_their_type(self):
        with self.assertRaisesRegex(EncodeError, "a value of type set cannot be sent as JSON"):
            channel().encode([{1}])


class NamesNamedTupleTests(unittest.TestCase):
    def test_a_namedtuple_anywhere_in_the_hint_counts(self):
        for hint in (
            Pair,
            typing.List[Pair],
            typing.Optional[Pair],
            typing.Union[int, Pair],
            typing.Dict[str, typing.Sequence[Pair]],
            typing.Tuple[int, Pair],
            typing.Iterator[Pair],
            typing.Optional[typing.List[Plain]],
        ):
            with self.subTest(hint=hint):
                self.assertTrue(_types.names_namedtuple(hint))

    def test_a_typeddict_is_looked_into_a_dataclass_is_not(self):
        class WithPair(typing.TypedDict):
            pair: Pair

        self.assertTrue(_types.names_namedtuple(typing.List[WithPair]))
        self.assertFalse(_types.names_namedtuple(Shape))  # the encoder's hook converts what a dataclass holds

    def test_plain_hints_do_not(self):
        for hint in (None, int, tuple, typing.Tuple[int, str], typing.List[Point], typing.Any, Totals, "Pair"):
            with self.subTest(hint=hint):
                self.assertFalse(_types.names_namedtuple(hint))


class PlanTests(unittest.TestCase):
    def test_functions_whose_hints_ask_for_nothing_get_no_binder(self):
        def untyped(a, b=1):
            return a

        def simple(a: int, b: typing.List[str], c: typing.Dict[str, float], d: Counts, e: typing.Union[Point, int]) -> int:
            return a

        self.assertEqual(_types.plan(untyped, "m.untyped"), (None, False))
        self.assertEqual(_types.plan(simple, "m.simple"), (None, False))
        self.assertEqual(_types.plan(len, "builtins.len"), (None, False))

    def test_a_return_hint_naming_a_namedtuple_converts_the_results(self):
        def pairs() -> typing.List[Pair]:
            return []

        self.assertEqual(_types.plan(pairs, "m.pairs"), (None, True))

    def test_a_hint_that_cannot_be_resolved_leaves_only_its_parameter_alone(self):
        (p, q, r), _ = bind(typed_future.partly, {"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 6})
        self.assertEqual((p, q, r), (typed_future.Point(1, 2), {"x": 3, "y": 4}, typed_future.Point(5, 6)))


class BinderTests(unittest.TestCase):
    def test_positional_and_keyword_arguments_by_their_hints(self):
        def f(p: Point, q: Point, *, r: Point, s: int):
            pass

        args, kwargs = bind(f, {"x": 1, "y": 2}, q={"x": 3, "y": 4}, r={"x": 5, "y": 6}, s=7)
        self.assertEqual(args, [Point(1, 2)])
        self.assertEqual(kwargs, {"q": Point(3, 4), "r": Point(5, 6), "s": 7})

    def test_star_args_and_star_star_kwargs_by_their_item_hints(self):
        def f(first: int, *points: Point, **dates: dt.date):
            pass

        args, kwargs = bind(f, 1, {"x": 1, "y": 1}, {"x": 2, "y": 2}, due="2024-02-29")
        self.assertEqual(args, [1, Point(1, 1), Point(2, 2)])
        self.assertEqual(kwargs, {"due": dt.date(2024, 2, 29)})

    def test_nested_hints_through_lists_dicts_optionals_and_dataclasses(self):
        def f(shapes: typing.Sequence[Shape], maybe: typing.Optional[Point], by: typing.Mapping[str, typing.List[Point]]):
            pass

        raw = {
            "name": "s",
            "corners": [{"x": 0, "y": 1}],
            "pair": {"left": {"x": 2, "y": 3}},
            "when": "2024-05-01T12:30:00Z",
            "by_name": {"o": {"x": 4, "y": 5}},
        }
        (shapes, maybe, by), _ = bind(f, [raw], None, {"k": [{"x": 6, "y": 7}]})
        self.assertEqual(
            shapes,
            [
                Shape(
                    "s",
                    [Point(0, 1)],
                    Pair(Point(2, 3)),
                    dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
                    {"o": Point(4, 5)},
                )
            ],
        )
        self.assertIsNone(maybe)
        self.assertEqual(by, {"k": [Point(6, 7)]})

    def test_a_field_the_constructor_does_not_take_is_ignored_coming_back(self):
        (shape,), _ = bind(_shape, {"name": "s", "corners": [], "area": 9.5})
        self.assertEqual(shape.area, 0.0)

    def test_a_namedtuple_comes_from_an_object_or_an_array_with_its_defaults(self):
        def f(a: Pair, b: Pair, c: Plain):
            pass

        args, _ = bind(f, {"left": {"x": 1, "y": 1}}, [{"x": 2, "y": 2}, 5], [1, "b"])
        self.assertEqual(args, [Pair(Point(1, 1), 1), Pair(Point(2, 2), 5), Plain(1, "b")])

    def test_tuples_from_arrays_fixed_variadic_and_bare(self):
        def f(a: typing.Tuple[int, Point], b: typing.Tuple[Point, ...], c: tuple, d: typing.Tuple[int, ...]):
            pass

        args, _ = bind(f, [1, {"x": 1, "y": 2}], [{"x": 3, "y": 4}], [1, 2], [5, 6])
        self.assertEqual(args, [(1, Point(1, 2)), (Point(3, 4),), (1, 2), (5, 6)])
        self.assertEqual([type(a) for a in args], [tuple] * 4)

    def test_a_typeddict_stays_a_dict_with_its_hinted_fields_converted(self):
        def f(t: Totals):
            pass

        (totals,), _ = bind(f, {"best": {"x": 1, "y": 2}, "count": 3, "extra": True})
        self.assertEqual(totals, {"best": Point(1, 2), "count": 3, "extra": True})
        self.assertIs(type(totals), dict)

    def test_initvars_are_taken_classvars_are_not_fields(self):
        @dataclasses.dataclass
        class Scaled:
            unit: typing.ClassVar[str] = "m"
            value: float
            scale: dataclasses.InitVar[float] = 1.0

            def __post_init__(self, scale):
                self.value *= scale

        converter = _types._converter(Scaled)
        self.assertEqual(converter({"value": 2, "scale": 3}).value, 6)
        with self.assertRaisesRegex(_types._Mismatch, "Scaled has no field 'unit'"):
            converter({"value": 2, "unit": "km"})

    def test_a_typeddict_that_refers_to_itself(self):
        def f(tree: Node):
            pass

        (tree,), _ = bind(f, {"at": "2024-01-01", "children": [{"at": "2024-01-02", "children": []}]})
        self.assertEqual(tree, {"at": dt.date(2024, 1, 1), "children": [{"at": dt.date(2024, 1, 2), "children": []}]})

    def test_a_parameter_defaulting_to_none_takes_null(self):
        def f(p: Point = None):
            pass

        self.assertEqual(bind(f, None), ([None], {}))

    def test_string_hints_classes_referring_to_themselves_and_to_later_ones(self):
        spans = [{"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T01:00:00.5+01:00"}]
        args, _ = bind(typed_future.place, {"x": 1, "y": 2}, spans, "2024-06-01T08:00:00", [3, {"x": 4, "y": 5}])
        plus_one = dt.timezone(dt.timedelta(hours=1))
        span = typed_future.Span(dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, 1, 0, 0, 500000, tzinfo=plus_one))
        self.assertEqual(args, [typed_future.Point(1, 2), [span], dt.datetime(2024, 6, 1, 8), (3, typed_future.Point(4, 5))])
        tree = {"name": "root", "children": [{"name": "kid", "leaf": {"at": "2024-03-04"}}]}
        _, kwargs = bind(typed_future.later, {"x": 0, "y": 0}, tree=tree)
        self.assertEqual(
            kwargs["tree"],
            typed_future.Tree("root", [typed_future.Tree("kid", [], typed_future.Leaf(dt.date(2024, 3, 4)))]),
        )

    def test_what_does_not_fit_raises_naming_function_parameter_and_place(self):
        def f(shape: Shape, when: dt.datetime, pair: typing.Tuple[int, Point], points: typing.Dict[str, Point]):
            pass

        good = ({"name": "s", "corners": []}, "2024-01-01T00:00:00Z", [1, {"x": 1, "y": 1}], {})
        shape = "m.f: parameter 'shape'"
        cases = [
            (0, {"name": "s", "corners": [{"x": 1}]}, TypeError, shape + " at shape.corners[0]: missing field 'y' of Point"),
            (0, {"name": "s", "corners": [], "z": 1}, TypeError, shape + ": Shape has no field 'z' (its fields: name, corners,"),
            (0, {"name": "s", "corners": {}}, TypeError, shape + " at shape.corners: expected a JSON array, got an object"),
            (0, {"name": "s", "corners": [], "when": 17}, TypeError, "at shape.when: expected an ISO 8601 date-time string"),
            (1, "01/02/2024", ValueError, "parameter 'when': the string is not an ISO 8601 date-time"),
            (1, "2024-02-30T00:00:00", ValueError, "parameter 'when': the string is not a valid date-time: day is out"),
            (2, [1, {"x": 1, "y": 1}, 3], TypeError, "parameter 'pair': expected 2 items for tuple[int, Point], got 3"),
            (2, [1, [1, 2]], TypeError, "at pair[1]: expected a JSON object for Point, got an array"),
            (3, {"k": None}, TypeError, "at points['k']: expected a JSON object for Point, got null"),
        ]
        for index, value, error, message in cases:
            args = list(good)
            args[index] = value
            with self.subTest(message=message):
                with self.assertRaises(error) as raised:
                    bind(f, *args)
                self.assertIn(message, str(raised.exception))

    def test_a_long_unknown_key_is_cut_in_the_message(self):
        with self.assertRaises(TypeError) as raised:
            bind(_point, {"x": 1, "y": 2, "k" * 500: 3})
        self.assertLess(len(str(raised.exception)), 200)


def _shape(s: Shape):
    return s


def _point(p: Point):
    return p


class DatetimeTests(unittest.TestCase):
    def parse(self, text):
        return _types._to_datetime(text)

    def test_what_system_text_json_writes_for_datetimeoffset_and_datetime(self):
        cases = {
            "2024-05-01T12:30:00.1234567+00:00": dt.datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=UTC),
            "2024-05-01T12:30:00.9999999Z": dt.datetime(2024, 5, 1, 12, 30, 0, 999999, tzinfo=UTC),
            "2024-05-01T12:30:00.12-05:30": dt.datetime(
                2024, 5, 1, 12, 30, 0, 120000, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))
            ),
            "2024-05-01T12:30:00+14:00": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=14))),
            "2024-05-01T12:30:00": dt.datetime(2024, 5, 1, 12, 30),
            "2024-05-01T12:30:00.5": dt.datetime(2024, 5, 1, 12, 30, 0, 500000),
        }
        for text, expected in cases.items():
            with self.subTest(text=text):
                parsed = self.parse(text)
                self.assertEqual(parsed, expected)
                self.assertEqual(parsed.utcoffset(), expected.utcoffset())

    def test_what_python_writes_reads_back_the_same(self):
        for value in (
            dt.datetime(2024, 5, 1, 12, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45, seconds=30))),
            dt.datetime(1, 1, 1),
            dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ):
            with self.subTest(value=value):
                self.assertEqual(self.parse(value.isoformat()), value)
                self.assertEqual(self.parse(value.isoformat(" ")), value)

    def test_a_date_alone_and_a_minute_precision_time(self):
        self.assertEqual(self.parse("2024-05-01"), dt.datetime(2024, 5, 1))
        self.assertEqual(self.parse("2024-05-01T12:30Z"), dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC))

    def test_dates(self):
        self.assertEqual(_types._to_date("2024-02-29"), dt.date(2024, 2, 29))
        for text in ("2023-02-29", "2024-02-29T00:00:00", "20240229"):
            with self.subTest(text=text), self.assertRaises(_types._Mismatch):
                _types._to_date(text)

    def test_not_iso_8601(self):
        for text in ("", "2024-5-1", "2024-05-01T", "2024-05-01T12:30:00+25:00", "2024-05-01T12:30:00 UTC", "noon"):
            with self.subTest(text=text), self.assertRaises(_types._Mismatch):
                self.parse(text)


def _frames(data):
    """(kind, id, json value) of each frame in data."""
    frames = []
    while data:
        length, kind, frame_id, json_length = struct.unpack_from(">IBQI", data)
        frames.append((kind, frame_id, json.loads(data[17 : 17 + json_length])))
        data = data[4 + length :]
    return frames


class RuntimeTests(unittest.TestCase):
    """_Calls.run with the conversions hooked in, on a pipe."""

    def setUp(self):
        self.read_fd, write_fd = os.pipe()
        self.addCleanup(os.close, self.read_fd)
        null = os.open(os.devnull, os.O_RDONLY)
        self.channel = Channel(null, write_fd, 1 << 20)
        self.addCleanup(os.close, null)
        self.addCleanup(os.close, write_fd)
        self.addCleanup(self.channel._reader.close)
        self.calls = _runtime._Calls()

    def call(self, function, args=(), kwargs=None):
        message = {"m": "typed_future", "f": function, "a": list(args)}
        if kwargs:
            message["k"] = kwargs
        self.calls.run(self.channel, 1, json.dumps(message).encode(), ())
        ((kind, frame_id, value),) = _frames(os.read(self.read_fd, 1 << 20))
        self.assertEqual(frame_id, 1)
        return kind, value

    def test_a_typed_async_call_converts_its_arguments_and_its_namedtuple_result(self):
        kind, value = self.call("later", [{"x": 1, "y": 2}], {"tree": {"name": "t"}})
        self.assertEqual((kind, value), (RESULT, {"start": "2024-01-01T00:00:00", "end": "2024-01-02T00:00:00"}))
        function, binder, namedtuples, _ = self.calls.cache[("typed_future", "later")]
        self.assertIs(function, typed_future.later)
        self.assertIsNotNone(binder)
        self.assertTrue(namedtuples)

    def test_an_argument_that_does_not_fit_is_a_python_exception_and_the_next_call_works(self):
        kind, value = self.call("later", [{"x": 1}], {"tree": {"name": "t"}})
        self.assertEqual(kind, ERROR)
        self.assertEqual((value["kind"], value["type"]), ("exception", "TypeError"))
        self.assertEqual(value["message"], "typed_future.later: parameter 'p': missing field 'y' of Point")
        self.assertEqual(self.call("later", [{"x": 1, "y": 2}], {"tree": {"name": "t"}})[0], RESULT)

    def test_a_function_without_hints_is_cached_with_nothing_to_do(self):
        self.calls.resolve("asyncio", "sleep")
        self.assertEqual(self.calls.cache[("asyncio", "sleep")][1:], (None, False, False))


if __name__ == "__main__":
    unittest.main()
