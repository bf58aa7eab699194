"""A module the project renames (its Module metadata), in a namespace of its own, with hints that have no C# type."""
from decimal import Decimal
from typing import Union


class Plain:
    value: int


def as_text(value: Decimal) -> str:
    return str(value)


def either(value: Union[int, str]) -> str:
    return type(value).__name__


def plain(value: Plain) -> int:
    return 1


def total(*numbers: int, **named: int) -> int:
    return sum(numbers) + sum(named.values())


def name() -> str:
    return __name__


def name_() -> str:
    return "the second"
