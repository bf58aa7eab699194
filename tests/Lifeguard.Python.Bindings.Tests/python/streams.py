"""Generators: each becomes a stream of its items."""
import asyncio
from typing import AsyncIterator, Iterator, Optional, TypedDict


class Tick(TypedDict):
    n: int
    label: str


def words(text: str) -> Iterator[str]:
    for word in text.split():
        yield word


def countdown(n):
    while n > 0:
        yield n
        n -= 1


async def ticks(n: int) -> AsyncIterator[Tick]:
    for i in range(n):
        await asyncio.sleep(0)
        yield {"n": i, "label": "tick %d" % i}


def maybe(n: int) -> Iterator[Optional[int]]:
    for i in range(n):
        yield None if i % 2 else i


def broken() -> Iterator[str]:
    yield "fine"
    yield None
