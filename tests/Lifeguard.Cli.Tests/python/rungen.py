"""Generator functions for the `lifeguard run` tests: each input's items get one entry each."""

import asyncio
import os
import time


def words(text):
    """Yields the words of text, upper-cased; "raise" among them raises after the words before it."""
    for word in text.split():
        if word == "raise":
            raise ValueError("raised after the words before it")
        yield word.upper()


async def countdown(n):
    while n > 0:
        await asyncio.sleep(0)
        yield n
        n -= 1


def gated(item):
    """Yields item["n"] items; an item with "wait" records its worker's pid after 3 items, then waits for the release file."""
    for k in range(item["n"]):
        if item.get("wait") and k == 3:
            folder = item["dir"]
            with open(os.path.join(folder, "started"), "w") as marker:
                marker.write(str(os.getpid()))
            deadline = time.monotonic() + 300
            while not os.path.exists(os.path.join(folder, "release")):
                if time.monotonic() > deadline:
                    raise TimeoutError("never released")
                time.sleep(0.01)
        yield {"input": item["i"], "k": k}


def many(n):
    for i in range(n):
        yield i
