"""Fails on import: the module it needs is nowhere."""

import lifeguard_no_such_module_anywhere  # noqa: F401
