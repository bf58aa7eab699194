"""Hints as strings (``from __future__ import annotations``), for test_types: the conversions must read them too."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import typing


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Span(typing.NamedTuple):
    start: datetime.datetime
    end: datetime.datetime


@dataclasses.dataclass
class Tree:
    """Refers to itself, and to a class defined after it."""

    name: str
    children: list[Tree] = dataclasses.field(default_factory=list)
    leaf: typing.Optional[Leaf] = None


@dataclasses.dataclass(frozen=True)
class Leaf:
    at: datetime.date


def place(p: Point, spans: list[Span], when: datetime.datetime, pair: tuple[int, Point]) -> dict[str, Span]:
    return {"first": spans[0]}


def partly(p: Point, q: Undefined, r: Point):  # noqa: F821 - a hint that cannot be resolved, on purpose
    return p, q, r


async def later(p: Point, *, tree: Tree) -> Span:
    await asyncio.sleep(0)
    return Span(datetime.datetime(2024, 1, 1), datetime.datetime(2024, 1, 2))
