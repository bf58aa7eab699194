"""Named like the standard json. Loaded from its path under another name, it shadows nothing."""

from __future__ import annotations

import dataclasses
import json  # the standard library's, not this file
import pickle
import sys

import loose_helper  # a neighbour, found through the folder appended to sys.path

REGISTERED_BEFORE_RUNNING = sys.modules.get(__name__) is not None


@dataclasses.dataclass
class Point:
    x: int
    y: int


def describe(x):
    point = pickle.loads(pickle.dumps(Point(x, loose_helper.twice(x))))
    return {
        "name": __name__,
        "registered": REGISTERED_BEFORE_RUNNING,
        "json": json.dumps({"x": x}),
        "jsonFile": json.__file__,
        "point": dataclasses.asdict(point),
    }
