"""Functions the `lifeguard run` data-safety tests call: each input says whether to wait at a gate."""

import os
import time


def gate(item):
    """Returns item["n"]; an item with "wait" first records its worker's pid, then waits for the release file."""
    if item.get("wait"):
        folder = item["dir"]
        with open(os.path.join(folder, "started-%d" % item["n"]), "w") as marker:
            marker.write(str(os.getpid()))
        deadline = time.monotonic() + 300
        while not os.path.exists(os.path.join(folder, "release")):
            if time.monotonic() > deadline:
                raise TimeoutError("never released")
            time.sleep(0.01)
    return item["n"]


def size(value):
    return len(value["text"]) if isinstance(value, dict) else len(value)
