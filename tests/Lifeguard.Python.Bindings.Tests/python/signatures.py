"""Signatures of every kind the generated bindings pass arguments to and read results from."""
import asyncio
import hashlib
from typing import Any, Dict, List, Literal, Optional, TypedDict

_MISSING = object()
_recorded = []


class Options(TypedDict, total=False):
    separator: str
    upper: bool


class Joined(TypedDict):
    text: str
    count: int
    options: Options


def join(words: List[str], options: Options) -> Joined:
    """Joins words; the options a record in, the result a record out that holds it again."""
    text = options.get("separator", " ").join(words)
    if options.get("upper"):
        text = text.upper()
    return {"text": text, "count": len(words), "options": options}


def defaults(a: int, b: int = 2, c: float = 0.5, d: str = "d", e: bool = True, f: Optional[str] = None) -> Dict[str, Any]:
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def describe(value: int = _MISSING, *, label: str = _MISSING) -> List[str]:
    """Says which arguments it got: a default that is no literal is Python's, applied when none is passed."""
    return [
        "value missing" if value is _MISSING else "value %d" % value,
        "label missing" if label is _MISSING else "label " + label,
    ]


def scale(x: float, /, factor: float = 2.0, *, offset: float = 0.0) -> float:
    return x * factor + offset


def pick(a: str, b: List[str] = _MISSING, c: str = "c", /) -> List[str]:
    return [a, "no b" if b is _MISSING else ",".join(b), c]


def digest(data: bytes, algorithm: Literal["sha256", "md5"] = "sha256") -> bytes:
    return hashlib.new(algorithm, data).digest()


def find(words: List[str], prefix: str) -> Optional[str]:
    return next((w for w in words if w.startswith(prefix)), None)


def counts(words: List[str]) -> Dict[str, int]:
    result = {}
    for word in words:
        result[word] = result.get(word, 0) + 1
    return result


def broken_promise() -> List[str]:
    return None


def record(line: str) -> None:
    _recorded.append(line)


def recorded() -> List[str]:
    return list(_recorded)


async def later(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


def keywords(event: str, params: int, default: bool = False) -> str:
    return "%s %d %s" % (event, params, default)


def echo(value):
    return value


def _private():
    raise AssertionError("never bound")
