"""Typed values across the wire, by the called function's type hints (docs/python.md, "How values map").

Out: dataclass instances and NamedTuples become JSON objects of their fields, recursively, and datetime and date
values ISO 8601 strings (`plain`). In: an argument whose parameter hint names a dataclass, a NamedTuple, datetime,
date or tuple arrives as one, built from its JSON (`plan` makes the converter, once per function).

Hints are read once per function and per class and kept; a function whose hints need no conversion gets no binder,
so its calls cost nothing here. Imported only when a function has annotations or a value needs the full encoder.
"""

import collections.abc as _abc
import datetime as _dt
import re
import sys
import types
import typing

_UNION_TYPE = getattr(types, "UnionType", None)  # int | None, Python 3.10 and newer
_ATOMS = frozenset((str, int, float, bool, type(None), bytes))
# The origins of list[X], List[X], Sequence[X], ...: a JSON array becomes a list of converted items.
_SEQUENCES = frozenset((list, _abc.Sequence, _abc.MutableSequence, _abc.Iterable, _abc.Collection))
# The origins of dict[K, V], Dict[K, V], Mapping[K, V]: a JSON object becomes a dict of converted values.
_MAPPINGS = frozenset((dict, _abc.Mapping, _abc.MutableMapping))
_MAX_KEY = 64  # keys come from the caller: each is cut to this many characters in a message

# ---------------------------------------------------------------------------------------------------------- out


def plain(value, namedtuples=True):
    """The value with dataclasses (and, when namedtuples, NamedTuples) as dicts of their fields, datetime and date
    values as ISO 8601 strings, through dicts, lists and tuples; anything else is left for the encoder as it is.
    Inside a dataclass NamedTuples are always converted: the encoder would write them as arrays."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if isinstance(value, dict):
        return {key: plain(item, namedtuples) for key, item in value.items()}
    if isinstance(value, tuple):
        if namedtuples and hasattr(kind, "_fields"):
            return {name: plain(item, namedtuples) for name, item in zip(kind._fields, value)}
        return [plain(item, namedtuples) for item in value]
    if isinstance(value, list):
        return [plain(item, namedtuples) for item in value]
    if hasattr(kind, "__dataclass_fields__"):
        return {name: plain(getattr(value, name), True) for name in _field_names(kind)}
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value


def is_typed(value):
    """Whether plain() turns the value (one the JSON encoder refused) into something else."""
    return hasattr(type(value), "__dataclass_fields__") or isinstance(value, _dt.date)


_FIELD_NAMES = {}


def _field_names(kind):
    names = _FIELD_NAMES.get(kind)
    if names is None:
        import dataclasses  # imported already by whoever made the dataclass

        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def names_namedtuple(hint, seen=None):
    """Whether a (return) hint names a NamedTuple class anywhere in it: then the function's results are converted
    before the fast encoder, which writes tuples as arrays. Dataclasses are not looked into: the encoder hands them
    to plain(), which converts what they hold."""
    origin = typing.get_origin(hint)
    if origin is not None:
        return any(names_namedtuple(arg, seen) for arg in typing.get_args(hint))
    if isinstance(hint, type):
        if issubclass(hint, tuple) and hasattr(hint, "_fields"):
            return True
        if _is_typeddict(hint):
            seen = seen if seen is not None else set()
            if hint in seen:
                return False
            seen.add(hint)
            return any(names_namedtuple(h, seen) for h in _hints(hint).values())
    return False


# ----------------------------------------------------------------------------------------------------------- in


def plan(target, name):
    """(binder, namedtuples out) for a function: binder(args, kwargs) -> (args, kwargs) converts the arguments its
    hints ask for, or is None when none needs it; namedtuples out: whether its return hint names a NamedTuple."""
    hinted = _hinted(target)
    try:
        if hinted is None or not getattr(hinted, "__annotations__", None):
            return None, False
    except Exception:  # noqa: BLE001 - from Python 3.14 reading them evaluates them: a name defined nowhere raises
        return None, False
    hints = _hints(hinted)
    out = names_namedtuple(hints.pop("return", None))
    converters = {}
    for parameter, hint in hints.items():
        converter = _converter(hint)
        if converter is not None:
            converters[parameter] = converter
    return (_binder(target, name, converters) if converters else None), out


def _hinted(target):
    """The function whose annotations describe target's parameters: itself, a class's __init__, a __call__."""
    if isinstance(target, (types.FunctionType, types.MethodType)):
        return target
    if isinstance(target, type):
        init = target.__init__
        return init if isinstance(init, types.FunctionType) else None
    call = getattr(type(target), "__call__", None)
    return call if isinstance(call, types.FunctionType) else None


def _binder(target, name, converters):
    import inspect  # only for functions whose hints ask for a conversion

    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None  # no signature to read: the arguments are left as they arrive
    positional, keywords, rest, extra = [], {}, None, None
    for index, parameter in enumerate(parameters):
        converter = converters.get(parameter.name)
        if converter is None:
            continue
        if parameter.default is None:
            converter = _optional(converter)  # def f(p: Point = None): null means the default
        entry = (parameter.name, converter)
        if parameter.kind is parameter.VAR_POSITIONAL:
            rest = (index, parameter.name, converter)
        elif parameter.kind is parameter.VAR_KEYWORD:
            extra = entry
        else:
            if parameter.kind is not parameter.KEYWORD_ONLY:
                positional.append((index,) + entry)
            if parameter.kind is not parameter.POSITIONAL_ONLY:
                keywords[parameter.name] = entry
    return _Binder(name, tuple(positional), keywords, rest, extra)


class _Binder:
    """Converts one function's arguments by its hints. Raises TypeError or ValueError naming the parameter and the
    place in its value that does not fit."""

    __slots__ = ("name", "positional", "keywords", "rest", "extra")

    def __init__(self, name, positional, keywords, rest, extra):
        self.name = name
        self.positional = positional
        self.keywords = keywords
        self.rest = rest
        self.extra = extra

    def __call__(self, args, kwargs):
        if args and (self.positional or self.rest is not None):
            args = list(args)
            count = len(args)
            for index, parameter, converter in self.positional:
                if index < count:
                    args[index] = self._one(parameter, converter, args[index], "")
            if self.rest is not None:
                start, parameter, converter = self.rest
                for index in range(start, count):
                    args[index] = self._one(parameter, converter, args[index], "[%d]" % (index - start))
        if kwargs:
            converted = {}
            for key, item in kwargs.items():
                entry = self.keywords.get(key)
                if entry is not None:
                    item = self._one(entry[0], entry[1], item, "")
                elif self.extra is not None:  # **kwargs: p: Point
                    item = self._one(self.extra[0], self.extra[1], item, "[%r]" % _cut(key))
                converted[key] = item
            kwargs = converted
        return args, kwargs

    def _one(self, parameter, converter, value, where):
        try:
            return converter(value)
        except _Mismatch as mismatch:
            path = parameter + where + "".join(reversed(mismatch.path))
            at = "" if path == parameter else " at %s" % path
            raise mismatch.error("%s: parameter '%s'%s: %s" % (self.name, parameter, at, mismatch.reason)) from None


class _Mismatch(Exception):
    """A value that does not fit its hint; the path to it is gathered on the way out, innermost first."""

    def __init__(self, error, reason):
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.path = []


def _converter(hint):
    """The function converting a JSON value to what hint asks for, or None when it asks for nothing to be done."""
    if hint is _dt.datetime:
        return _to_datetime
    if hint is _dt.date:
        return _to_date
    origin = typing.get_origin(hint)
    # Generic aliases first: in Python 3.9 and 3.10, list[int] passes for a type.
    if origin is None and isinstance(hint, type):
        if issubclass(hint, tuple):
            if hasattr(hint, "_fields"):
                return _ClassConverter.of(hint)
            return _to_tuple if hint is tuple else None
        if hasattr(hint, "__dataclass_fields__"):
            return _ClassConverter.of(hint)
        if _is_typeddict(hint):
            return _typeddict(hint)
        return None
    if origin is None:
        return None
    args = typing.get_args(hint)
    if origin is typing.Union or (_UNION_TYPE is not None and origin is _UNION_TYPE):
        members = [arg for arg in args if arg is not type(None)]
        if len(members) != 1:
            return None  # several types: the value is left as it arrives
        inner = _converter(members[0])
        return None if inner is None else _optional(inner)
    if origin is tuple:
        if not args:
            return _to_tuple
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(_converter(args[0]), tuple) or _to_tuple
        if args == ((),):
            args = ()  # Tuple[()] in Python 3.9 and 3.10
        return _fixed_tuple(hint, [_converter(arg) for arg in args])
    if origin in _SEQUENCES:
        return _sequence(_converter(args[0]), list) if args else None
    if origin in _MAPPINGS:
        return _mapping(_converter(args[1])) if len(args) == 2 else None
    if isinstance(origin, type) and hasattr(origin, "__dataclass_fields__"):
        return _ClassConverter.of(origin)  # a generic dataclass, Box[int]
    return None


def _at(converter, value, step, key):
    """converter(value); a mismatch inside it is placed at step % key ('[2]', '.x', "['k']"), made only then."""
    try:
        return converter(value)
    except _Mismatch as mismatch:
        mismatch.path.append(step % (_cut(key),))
        raise


def _optional(inner):
    def convert(value):
        return None if value is None else inner(value)

    return convert


def _sequence(item, make):
    if item is None:
        return None

    def convert(value):
        if not isinstance(value, list):
            raise _Mismatch(TypeError, "expected a JSON array, got %s" % _json_type(value))
        result = [_at(item, element, "[%d]", index) for index, element in enumerate(value)]
        return result if make is list else make(result)

    return convert


def _mapping(item):
    if item is None:
        return None

    def convert(value):
        if not isinstance(value, dict):
            raise _Mismatch(TypeError, "expected a JSON object, got %s" % _json_type(value))
        return {key: _at(item, element, "[%r]", key) for key, element in value.items()}

    return convert


def _to_tuple(value):
    if not isinstance(value, list):
        raise _Mismatch(TypeError, "expected a JSON array for a tuple, got %s" % _json_type(value))
    return tuple(value)


def _fixed_tuple(hint, items):
    shown = _hint_name(hint)

    def convert(value):
        if not isinstance(value, list):
            raise _Mismatch(TypeError, "expected a JSON array for %s, got %s" % (shown, _json_type(value)))
        if len(value) != len(items):
            raise _Mismatch(TypeError, "expected %d items for %s, got %d" % (len(items), shown, len(value)))
        return tuple(
            element if item is None else _at(item, element, "[%d]", index)
            for index, (item, element) in enumerate(zip(items, value))
        )

    return convert


class _ClassConverter:
    """Builds a dataclass or NamedTuple from a JSON object of its fields (a NamedTuple also from an array). Its field
    hints are read at the first value, so classes that refer to each other (or to themselves) need no order."""

    __slots__ = ("kind", "fields", "required", "ignored", "converters")
    _made = {}  # one per class, for every function that names it

    def __init__(self, kind):
        self.kind = kind
        self.fields = None

    @classmethod
    def of(cls, kind):
        converter = cls._made.get(kind)
        if converter is None:
            converter = cls._made[kind] = cls(kind)
        return converter

    def _prepare(self):
        kind = self.kind
        if hasattr(kind, "_fields"):
            fields = tuple(kind._fields)
            defaults = getattr(kind, "_field_defaults", {})
            required = tuple(f for f in fields if f not in defaults)
            ignored = frozenset()
        else:
            import dataclasses

            # The constructor's parameters: fields and InitVars, not ClassVars (whose init flag is left True).
            classvar = getattr(dataclasses, "_FIELD_CLASSVAR", None)
            init = [
                f for f in kind.__dataclass_fields__.values() if f.init and getattr(f, "_field_type", None) is not classvar
            ]
            fields = tuple(f.name for f in init)
            required = tuple(
                f.name for f in init if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            )
            # A field the constructor does not take (init=False) is sent out; coming back, it is not an error.
            ignored = frozenset(f.name for f in dataclasses.fields(kind) if not f.init)
        hints = _hints(kind)
        self.converters = {f: c for f, c in ((f, _converter(hints[f])) for f in fields if f in hints) if c is not None}
        self.required = required
        self.ignored = ignored
        self.fields = fields

    def __call__(self, value):
        if self.fields is None:
            self._prepare()
        if isinstance(value, dict):
            kwargs = {}
            for key, item in value.items():
                converter = self.converters.get(key)
                if converter is not None:
                    item = _at(converter, item, ".%s", key)
                elif key not in self.fields:
                    if key in self.ignored:
                        continue
                    fields = ", ".join(self.fields)
                    raise _Mismatch(TypeError, "%s has no field %r (its fields: %s)" % (self.kind.__qualname__, _cut(key), fields))
                kwargs[key] = item
            if len(kwargs) < len(self.fields):
                for field in self.required:
                    if field not in kwargs:
                        raise _Mismatch(TypeError, "missing field '%s' of %s" % (field, self.kind.__qualname__))
            return self.kind(**kwargs)
        if isinstance(value, list) and hasattr(self.kind, "_fields"):
            if not len(self.required) <= len(value) <= len(self.fields):
                raise _Mismatch(
                    TypeError, "expected %d items for %s, got %d" % (len(self.fields), self.kind.__qualname__, len(value))
                )
            return self.__call__(dict(zip(self.fields, value)))
        raise _Mismatch(TypeError, "expected a JSON object for %s, got %s" % (self.kind.__qualname__, _json_type(value)))


_TYPEDDICTS = {}


def _typeddict(kind):
    """A TypedDict stays a dict; only its fields whose hints ask for a conversion are converted (None: no field does)."""
    if kind in _TYPEDDICTS:
        made = _TYPEDDICTS[kind]
        if made is not _BUILDING:
            return made
        # It refers to itself: its converter, once made, or none.
        return lambda value: (_TYPEDDICTS[kind] or _same)(value)
    _TYPEDDICTS[kind] = _BUILDING
    try:
        hints = _hints(kind)
        converters = {f: c for f, c in ((f, _converter(h)) for f, h in hints.items()) if c is not None}
    finally:
        del _TYPEDDICTS[kind]
    if not converters:
        _TYPEDDICTS[kind] = None
        return None

    def convert(value):
        if not isinstance(value, dict):
            raise _Mismatch(TypeError, "expected a JSON object for %s, got %s" % (kind.__qualname__, _json_type(value)))
        result = dict(value)  # a new dict: the caller's stays as it came
        for key, converter in converters.items():
            if key in result:
                result[key] = _at(converter, result[key], "[%r]", key)
        return result

    _TYPEDDICTS[kind] = convert
    return convert


_BUILDING = object()


def _same(value):
    return value


# What System.Text.Json writes for DateTimeOffset and DateTime (up to 7 fractional digits, 'Z' or +hh:mm), and what
# Python's isoformat() writes (up to 6, offsets with seconds); Python 3.9's fromisoformat reads neither 7 digits nor Z.
_DATETIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d\d):?(\d\d)(?::?(\d\d)(?:\.\d+)?)?)?)?\Z"
)
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)\Z")
# From Python 3.11, fromisoformat reads any ISO 8601 date-time, 7 digits and Z included.
_FROMISOFORMAT_READS_DOTNET = sys.version_info >= (3, 11)


def _iso(value, pattern, what, hint, example):
    """The match of an ISO 8601 string, or a mismatch saying what was expected."""
    if type(value) is not str:
        raise _Mismatch(TypeError, "expected an ISO 8601 %s string for %s, got %s" % (what, hint, _json_type(value)))
    match = pattern.match(value)
    if match is None:
        raise _Mismatch(ValueError, "the string is not an ISO 8601 %s (as %s)" % (what, example))
    return match


def _to_datetime(value):
    if _FROMISOFORMAT_READS_DOTNET and type(value) is str:
        try:
            return _dt.datetime.fromisoformat(value)  # in C, 20 times faster; it drops digits past 6 as below
        except ValueError:
            pass  # the message comes from the match below
    match = _iso(value, _DATETIME, "date-time", "datetime", "2024-05-01T12:30:00.1234567+02:00")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_hours, off_minutes, off_seconds = match.groups()
    # Beyond microseconds (.NET writes 100 ns ticks) the digits are dropped, not rounded: a value never moves to the
    # next second, or day.
    micro = int((fraction + "00000")[:6]) if fraction else 0
    try:
        if zulu:
            zone = _dt.timezone.utc
        elif sign:
            offset = _dt.timedelta(hours=int(off_hours), minutes=int(off_minutes), seconds=int(off_seconds or 0))
            zone = _dt.timezone(-offset if sign == "-" else offset)
        else:
            zone = None
        return _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=zone
        )
    except ValueError as error:
        raise _Mismatch(ValueError, "the string is not a valid date-time: %s" % error) from None


def _to_date(value):
    match = _iso(value, _DATE, "date", "date", "2024-05-01")
    try:
        return _dt.date(*map(int, match.groups()))
    except ValueError as error:
        raise _Mismatch(ValueError, "the string is not a valid date: %s" % error) from None


# ------------------------------------------------------------------------------------------------------- hints


def _hints(obj):
    """obj's resolved type hints; a hint that cannot be resolved (a name defined nowhere, or later) is left out, and
    with it only the conversion of that parameter or field."""
    try:
        return typing.get_type_hints(obj)
    except Exception:  # noqa: BLE001 - any failure: resolve them one by one below
        pass
    if isinstance(obj, type):
        sources = []
        for base in reversed(obj.__mro__):
            module = sys.modules.get(base.__module__)
            sources.append((vars(base).get("__annotations__", {}), vars(module) if module else {}, dict(vars(base))))
    else:
        unwrapped = obj
        while hasattr(unwrapped, "__wrapped__"):
            unwrapped = unwrapped.__wrapped__
        sources = [(getattr(obj, "__annotations__", None) or {}, getattr(unwrapped, "__globals__", {}), None)]
    hints = {}
    for annotations, globalns, localns in sources:
        for name, annotation in annotations.items():
            try:
                one = types.SimpleNamespace(__annotations__={name: annotation})
                hints.update(typing.get_type_hints(one, globalns, localns))
            except Exception:  # noqa: BLE001 - this one is left alone
                hints.pop(name, None)
    return hints


def _is_typeddict(kind):
    return issubclass(kind, dict) and hasattr(kind, "__total__") and hasattr(kind, "__annotations__")


def _hint_name(hint):
    """A hint as its source spells it, without module prefixes: tuple[int, Point]."""
    origin = typing.get_origin(hint)
    if origin is None:
        return hint.__qualname__ if isinstance(hint, type) else ("..." if hint is Ellipsis else repr(hint))
    args = ", ".join(_hint_name(arg) for arg in typing.get_args(hint)) or "()"
    return "%s[%s]" % (getattr(origin, "__name__", repr(origin)), args)


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _cut(key):
    return key if not isinstance(key, str) or len(key) <= _MAX_KEY else key[:_MAX_KEY] + "..."
