"""Typed values both ways (PythonTypedValueTests): dataclasses, NamedTuples, TypedDicts, datetimes and tuples by hint."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import typing


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float


class Segment(typing.NamedTuple):
    start: Point
    end: Point


@dataclasses.dataclass
class Shape:
    name: str
    corners: list[Point]
    segments: list[Segment]
    created: datetime.datetime
    tags: dict[str, Point] = dataclasses.field(default_factory=dict)
    label: typing.Optional[str] = None


class Summary(typing.TypedDict):
    name: str
    corner_count: int


def move(shape: Shape, by: Point) -> Shape:
    """Every point moved by `by`, one day later: the argument arrives typed, the result goes out as objects."""

    def shift(p: Point) -> Point:
        return Point(p.x + by.x, p.y + by.y)

    return dataclasses.replace(
        shape,
        corners=[shift(p) for p in shape.corners],
        segments=[Segment(shift(s.start), shift(s.end)) for s in shape.segments],
        created=shape.created + datetime.timedelta(days=1),
        tags={k: shift(p) for k, p in shape.tags.items()},
    )


def types_of(shape: Shape, *, at: typing.Optional[Point] = None) -> list[str]:
    """The Python types that arrived, all the way down."""
    names = [type(shape).__name__, type(shape.created).__name__]
    names += [type(p).__name__ for p in shape.corners]
    names += [type(s).__name__ + "(" + type(s.start).__name__ + ")" for s in shape.segments]
    names += [k + ":" + type(p).__name__ for k, p in shape.tags.items()]
    names.append(type(at).__name__)
    return names


def segments(n: int) -> list[Segment]:
    """NamedTuples named by the return hint: objects."""
    return [Segment(Point(i, 0), Point(i, 1)) for i in range(n)]


def segments_unhinted(n):
    """The same without a hint: arrays, as json.dumps writes them."""
    return [Segment(Point(i, 0), Point(i, 1)) for i in range(n)]


def shift(when: datetime.datetime, hours: float) -> tuple[datetime.datetime, int, str]:
    """The time moved, its offset in minutes (None when naive: -1) and its type: a tuple out."""
    moved = when + datetime.timedelta(hours=hours)
    offset = when.utcoffset()
    return moved, -1 if offset is None else int(offset.total_seconds() // 60), type(when).__name__


def naive() -> datetime.datetime:
    return datetime.datetime(2024, 3, 4, 5, 6, 7, 890000)


def today(day: datetime.date) -> str:
    return type(day).__name__ + " " + (day + datetime.timedelta(days=1)).isoformat()


def pair(value: tuple[int, Point], rest: tuple[str, ...]) -> list[str]:
    return [type(value).__name__, type(value[1]).__name__, type(rest).__name__, str(len(rest))]


def summarise(summary: Summary) -> Summary:
    """A TypedDict stays a dict."""
    return {"name": type(summary).__name__ + ":" + summary["name"], "corner_count": summary["corner_count"] + 1}


async def nearest(points: list[Point], target: Point) -> Point:
    await asyncio.sleep(0)
    return min(points, key=lambda p: (p.x - target.x) ** 2 + (p.y - target.y) ** 2)
