"""Types whose crossing needs the Python runtime's conversions: tuples, dataclasses, NamedTuples, datetimes."""
import datetime
from dataclasses import dataclass
from typing import List, NamedTuple, Tuple


@dataclass
class Point:
    x: float
    y: float


class Segment(NamedTuple):
    start: Point
    end: Point
    label: str = "segment"


def bounds(values: List[float]) -> Tuple[float, float]:
    return (min(values), max(values))


def swap(pair: Tuple[str, int]) -> Tuple[int, str]:
    return (pair[1], pair[0])


def midpoint(a: Point, b: Point) -> Point:
    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)


def segment(a: Point, b: Point) -> Segment:
    return Segment(a, b)


def length(segment: Segment) -> float:
    return abs(segment.end.x - segment.start.x) + abs(segment.end.y - segment.start.y)


def later(when: datetime.datetime, minutes: int) -> datetime.datetime:
    return when + datetime.timedelta(minutes=minutes)
