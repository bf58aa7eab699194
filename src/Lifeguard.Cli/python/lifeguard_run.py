"""Checks `lifeguard run`'s FILE.py:FUNCTION in a worker, before any input is read."""

import difflib
import inspect
import sys

_MISSING = object()


def check(module_name, function):
    """None when module_name.function is callable, {"generator": True} when it is a generator function (or an async
    one), so that each item gets its entry; otherwise what is wrong, and what the module does define.

    The names listed are the public functions and classes defined in the file itself (not imported into it), the
    nearest to the name asked for first (difflib's similarity), then in the file's order.
    """
    module = sys.modules[module_name]
    target = getattr(module, function, _MISSING)
    if target is not _MISSING and callable(target):
        plain = inspect.unwrap(target)
        if inspect.isgeneratorfunction(plain) or inspect.isasyncgenfunction(plain):
            return {"generator": True}
        return None
    defined = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == module_name
    ]
    # sorted() is stable: names equally near keep the file's order.
    defined.sort(key=lambda name: -difflib.SequenceMatcher(None, function, name).ratio())
    return {
        "found": target is not _MISSING,
        "type": type(target).__name__ if target is not _MISSING else None,
        "defines": defined,
    }
