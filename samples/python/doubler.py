"""The doubler of PoolToy: doubling a number is pretended to be expensive.

It also counts how many numbers this process has doubled. The count lives in the process, so two calls see the
same count only when they run in the same worker: hold a lease to pin them there.
"""

import os

_doubled = 0


def double(n):
    """Returns ``2 * n``. print() goes to the host's log, tagged with this process's pid."""
    global _doubled
    _doubled += 1
    print("Doubling %r" % (n,))
    return 2 * n


def stats():
    """This process's pid and how many numbers it has doubled since it started."""
    return {"pid": os.getpid(), "doubled": _doubled}
