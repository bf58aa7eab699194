"""Writes deliveries.jsonl: 200 batches of deliveries, one JSON object a line, each the argument of optimizer.optimize.

    python3 make_deliveries.py            rewrite deliveries.jsonl next to this script
    python3 make_deliveries.py --check    exit 1 if deliveries.jsonl differs from what this script writes

Deterministic: a fixed seed, and only random.Random.random() (whose sequence for a given seed Python keeps stable
across versions). The city is a 12 x 12 km grid with 40 merchants; most parcels of a batch come from a few busy
merchants, so there is something to stack. Every tenth batch is a rush: many parcels, few couriers.
"""

import json
import math
import os
import sys

SEED = 1001
BATCHES = 200
CITY_KM = 12.0
MERCHANTS = 40
SPEED_KM_PER_MIN = 0.3  # the optimizer's default
SERVICE_MIN = 2


class Rng:
    """The few draws we need, all from random(), so the file does not depend on randrange's implementation."""

    def __init__(self, seed):
        import random

        self._random = random.Random(seed)

    def uniform(self, low, high):
        return low + (high - low) * self._random.random()

    def integer(self, low, high):
        """An integer from low to high inclusive."""
        return low + min(int(self._random.random() * (high - low + 1)), high - low)

    def pick(self, items):
        return items[self.integer(0, len(items) - 1)]


def point(x, y):
    """A point in the city, in km to the nearest 10 m."""
    return [round(min(max(x, 0.0), CITY_KM), 2), round(min(max(y, 0.0), CITY_KM), 2)]


def batch(rng, number, merchants):
    rush = number % 10 == 0
    count = rng.integer(24, 32) if rush else rng.integer(5, 16)
    busy = [rng.pick(merchants) for _ in range(rng.integer(2, 4))]
    # Couriers wait around the busy merchants; a rush has one for six parcels, a normal batch one for three.
    couriers = []
    for i in range((count + 5) // 6 if rush else (count + 2) // 3 + rng.integer(0, 1)):
        near = rng.pick(busy)
        couriers.append({"id": "c%d" % (i + 1), "at": point(near[0] + rng.uniform(-1.5, 1.5), near[1] + rng.uniform(-1.5, 1.5))})
    deliveries = []
    for i in range(count):
        pickup = rng.pick(busy) if rng.uniform(0, 1) < 0.8 else rng.pick(merchants)
        dropoff = point(pickup[0] + rng.uniform(-2.5, 2.5), pickup[1] + rng.uniform(-2.5, 2.5))
        ready_at = rng.integer(0, 30)
        ride = (abs(dropoff[0] - pickup[0]) + abs(dropoff[1] - pickup[1])) / SPEED_KM_PER_MIN
        size = 1 if rng.uniform(0, 1) < 0.6 else (2 if rng.uniform(0, 1) < 0.75 else 3)
        deliveries.append({
            "id": "d%02d" % (i + 1),
            "pickup": pickup,
            "dropoff": dropoff,
            "size": size,
            "ready_at": ready_at,
            "due_by": ready_at + math.ceil(ride) + 2 * SERVICE_MIN + rng.integer(20, 45),
        })
    return {
        "batch": "b%04d" % number,
        "capacity": rng.pick([4, 6, 6, 8]),
        "couriers": couriers,
        "deliveries": deliveries,
    }


def lines():
    rng = Rng(SEED)
    merchants = [point(rng.uniform(0.5, CITY_KM - 0.5), rng.uniform(0.5, CITY_KM - 0.5)) for _ in range(MERCHANTS)]
    for number in range(1, BATCHES + 1):
        yield json.dumps(batch(rng, number, merchants), separators=(",", ":")) + "\n"


def main(argv):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deliveries.jsonl")
    text = "".join(lines())
    if "--check" in argv:
        with open(path, encoding="utf-8") as existing:
            same = existing.read() == text
        print("%s is %s" % (path, "up to date" if same else "out of date: run make_deliveries.py"))
        return 0 if same else 1
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
    print("wrote %d batches to %s" % (BATCHES, path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
