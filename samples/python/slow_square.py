"""A deliberately slow square, as in the poolboy article: each call holds its worker for ``delay`` seconds.

With a pool of N processes, N squares run at once and the rest queue for a free worker, which is the point.
"""

import time


def square(x, delay=0.25):
    """Returns ``x * x`` after sleeping ``delay`` seconds (default a quarter of a second)."""
    time.sleep(delay)
    return x * x
