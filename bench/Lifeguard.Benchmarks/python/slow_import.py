"""A module that is slow to import, as numpy or a model is: it burns 300 ms of CPU at import (python.replace)."""

import time

_start = time.process_time()
while time.process_time() - _start < 0.3:
    pass
