"""Starts a thread at import: a fork server's template that imports it must not fork."""

import threading

_stop = threading.Event()
threading.Thread(target=_stop.wait, name="forking_threads", daemon=True).start()
