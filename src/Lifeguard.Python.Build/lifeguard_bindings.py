"""Reads the signatures of Python modules for Lifeguard's generated C# bindings, without importing them.

Usage: python3 -I lifeguard_bindings.py FILE [FILE ...]

Writes one JSON document to standard output:

    {"python": "3.11.7", "modules": [{"file": FILE, "doc": ..., "functions": [...], "classes": {...}}, ...]}

or, for a file Python cannot parse, {"file": FILE, "error": {"type": "SyntaxError", "message": ..., "line": n, ...}}.
Each annotation becomes a tree whose names are resolved through the module's imports and definitions
({"k": "name", "q": "typing.List"}, {"k": "class", "name": "Stats"}, {"k": "sub", "base": ..., "args": [...]}); the C#
side maps the trees to types. Nothing is imported or run: a module whose imports are missing reads the same.

Standard library only; Python 3.9 or newer (ast.unparse). Kept to syntax older interpreters parse, so that one too
old says so instead of failing on this file.
"""

import ast
import builtins
import json
import platform
import sys

RECORD_DECORATORS = {"dataclasses.dataclass"}
NAMED_TUPLE = {"typing.NamedTuple", "typing_extensions.NamedTuple"}
TYPED_DICT = {"typing.TypedDict", "typing_extensions.TypedDict"}
FUNCTIONAL_RECORDS = {
    "collections.namedtuple": "namedtuple",
    "typing.NamedTuple": "NamedTuple",
    "typing_extensions.NamedTuple": "NamedTuple",
    "typing.TypedDict": "TypedDict",
    "typing_extensions.TypedDict": "TypedDict",
}
NEW_TYPE = {"typing.NewType", "typing_extensions.NewType"}
TYPE_ALIAS = {"typing.TypeAlias", "typing_extensions.TypeAlias"}
OVERLOAD = {"typing.overload", "typing_extensions.overload"}
SKIPPED_FIELDS = {"typing.ClassVar", "typing_extensions.ClassVar", "dataclasses.InitVar"}
FIELD_FUNCTIONS = {"dataclasses.field"}
LITERAL = {"typing.Literal", "typing_extensions.Literal"}
MAX_ALIAS_DEPTH = 20


class Module:
    """One module's bindings: every top-level name, the last binding winning, as Python's own would."""

    def __init__(self, tree):
        self.bindings = {}
        self._bind(tree.body)

    def _bind(self, statements):
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.bindings[alias.asname] = ("import", alias.name)
                    else:
                        head = alias.name.split(".")[0]
                        self.bindings[head] = ("import", head)
            elif isinstance(node, ast.ImportFrom):
                source = "." * (node.level or 0) + (node.module or "")
                for alias in node.names:
                    if alias.name != "*":
                        self.bindings[alias.asname or alias.name] = ("import", source + "." + alias.name)
            elif isinstance(node, ast.ClassDef):
                self.bindings[node.name] = ("class", node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not any(self.qualified(_callee(d)) in OVERLOAD for d in node.decorator_list):
                    self.bindings[node.name] = ("function", node)
            elif isinstance(node, ast.Assign):
                if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    self.bindings[node.targets[0].id] = self._assigned(node.value, node)
            elif isinstance(node, ast.AnnAssign):
                if isinstance(node.target, ast.Name) and node.value is not None:
                    if self.qualified(node.annotation) in TYPE_ALIAS:
                        self.bindings[node.target.id] = ("alias", node.value)
                    else:
                        self.bindings[node.target.id] = ("value", node)
            elif type(node).__name__ == "TypeAlias":  # type X = ... (Python 3.12)
                self.bindings[node.name.id] = ("alias", node.value)
            elif isinstance(node, ast.If):
                self._bind(node.body)
                self._bind(node.orelse)
            elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                self._bind(node.body)
                for handler in node.handlers:
                    self._bind(handler.body)
                self._bind(node.orelse)
                self._bind(node.finalbody)

    def _assigned(self, value, node):
        if isinstance(value, ast.Call):
            callee = self.qualified(value.func)
            if callee in FUNCTIONAL_RECORDS:
                return ("functional", FUNCTIONAL_RECORDS[callee], node)
            if callee in NEW_TYPE and len(value.args) == 2:
                return ("alias", value.args[1])
        return ("alias", value)

    def qualified(self, node):
        """The dotted name an expression refers to through the imports (typing.List), or None."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        binding = self.bindings.get(node.id)
        if binding is None:
            head = ("builtins." + node.id) if hasattr(builtins, node.id) else node.id
        elif binding[0] == "import":
            head = binding[1]
        else:
            head = "." + node.id  # defined in this module
        return ".".join([head] + list(reversed(parts)))

    def type_of(self, node, depth=0):
        tree = self._type(node, depth)
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or "t" not in tree:
            tree["t"] = _text(node)  # as written: an alias by its name, a string annotation without its quotes
        return tree

    def _type(self, node, depth):
        if depth > MAX_ALIAS_DEPTH:
            return {"k": "expr"}
        if isinstance(node, ast.Constant):
            if node.value is None:
                return {"k": "none"}
            if node.value is Ellipsis:
                return {"k": "ellipsis"}
            if isinstance(node.value, str):
                # A string annotation (or one under `from __future__ import annotations`) reads like any other.
                try:
                    parsed = ast.parse(node.value.strip(), mode="eval").body
                except SyntaxError:
                    return {"k": "expr"}
                return self.type_of(parsed, depth + 1)
            return {"k": "const", "v": _constant(node.value)}
        if isinstance(node, ast.Name):
            binding = self.bindings.get(node.id)
            if binding is not None:
                kind = binding[0]
                if kind == "class":
                    return {"k": "class", "name": node.id}
                if kind == "alias":
                    return self.type_of(binding[1], depth + 1)
                if kind == "functional":
                    return {"k": "functional", "name": node.id, "q": binding[1]}
                if kind != "import":
                    return {"k": "expr"}
            return {"k": "name", "q": self.qualified(node)}
        if isinstance(node, ast.Attribute):
            q = self.qualified(node)
            return {"k": "name", "q": q} if q else {"k": "expr"}
        if isinstance(node, ast.Subscript):
            index = node.slice
            if type(index).__name__ == "Index":  # Python 3.8's wrapper, kept for robustness
                index = index.value
            items = index.elts if isinstance(index, ast.Tuple) else [index]
            base = self.type_of(node.value, depth)
            if base.get("q") in LITERAL:
                # Literal["a", "b"]: values, not annotations (a string there is no forward reference).
                args = [self._literal(item) for item in items]
            else:
                args = [self.type_of(item, depth) for item in items]
            return {"k": "sub", "base": base, "args": args}
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return {"k": "union", "args": [self.type_of(node.left, depth), self.type_of(node.right, depth)]}
        if isinstance(node, ast.List):
            return {"k": "list", "args": [self.type_of(item, depth) for item in node.elts]}
        return {"k": "expr"}

    def _literal(self, node):
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return {"k": "expr", "t": _text(node)}
        return {"k": "const", "v": _constant(value), "t": _text(node)}

    def functions(self):
        found = [b[1] for name, b in self.bindings.items() if b[0] == "function" and not name.startswith("_")]
        return [self._function(node) for node in sorted(found, key=lambda n: n.lineno)]

    def _function(self, node):
        args = node.args
        positional = [(a, "positional_only") for a in args.posonlyargs] + [(a, "positional") for a in args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        parameters = [self._parameter(a, kind, d) for (a, kind), d in zip(positional, defaults)]
        if args.vararg is not None:
            parameters.append(self._parameter(args.vararg, "var_positional", None))
        parameters += [self._parameter(a, "keyword_only", d) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
        if args.kwarg is not None:
            parameters.append(self._parameter(args.kwarg, "var_keyword", None))
        return {
            "name": node.name,
            "line": node.lineno,
            "column": node.col_offset + 1,
            "async": isinstance(node, ast.AsyncFunctionDef),
            "yields": _yields(node),
            "doc": ast.get_docstring(node),
            "returns": None if node.returns is None else self.type_of(node.returns),
            "parameters": parameters,
        }

    def _parameter(self, arg, kind, default):
        return {
            "name": arg.arg,
            "kind": kind,
            "line": arg.lineno,
            "column": arg.col_offset + 1,
            "type": None if arg.annotation is None else self.type_of(arg.annotation),
            "default": None if default is None else _default(default),
        }

    def classes(self):
        return {
            name: self._class(b[1]) for name, b in self.bindings.items() if b[0] == "class"
        }

    def _class(self, node):
        kind = "class"
        if any(self.qualified(_callee(d)) in RECORD_DECORATORS for d in node.decorator_list):
            kind = "dataclass"
        bases = []
        for base in node.bases:
            q = self.qualified(base)
            if q in NAMED_TUPLE:
                kind = "namedtuple"
            elif q in TYPED_DICT:
                kind = "typeddict"
            elif q is not None and q.startswith(".") and "." not in q[1:]:
                bases.append(q[1:])
        total = True
        for keyword in node.keywords:
            if keyword.arg == "total" and isinstance(keyword.value, ast.Constant):
                total = bool(keyword.value.value)
        return {
            "name": node.name,
            "kind": kind,
            "bases": bases,
            "total": total,
            "line": node.lineno,
            "column": node.col_offset + 1,
            "doc": ast.get_docstring(node),
            "fields": self._fields(node.body),
        }

    def _fields(self, body):
        fields = []
        for i, statement in enumerate(body):
            if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
                continue
            annotation = statement.annotation
            if self.qualified(_callee(annotation)) in SKIPPED_FIELDS or self.qualified(annotation) in SKIPPED_FIELDS:
                continue
            after = body[i + 1] if i + 1 < len(body) else None
            doc = None
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
                doc = _clean(after.value.value)
            fields.append({
                "name": statement.target.id,
                "line": statement.lineno,
                "column": statement.col_offset + 1,
                "type": self.type_of(annotation),
                "default": None if statement.value is None else self._field_default(statement.value),
                "doc": doc,
            })
        return fields

    def _field_default(self, value):
        if isinstance(value, ast.Call) and self.qualified(value.func) in FIELD_FUNCTIONS:
            for keyword in value.keywords:
                if keyword.arg == "default":
                    return _default(keyword.value)
            return {"literal": False, "text": _text(value)}
        return _default(value)


def _callee(node):
    """The function a decorator or subscripted annotation names: dataclass for @dataclass(frozen=True)."""
    if isinstance(node, ast.Call):
        return node.func
    if isinstance(node, ast.Subscript):
        return node.value
    return node


def _yields(function):
    """Whether a function's own body yields: nested functions, lambdas and classes are other scopes."""
    pending = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # The decorators and defaults of a nested function run in this scope; its body does not.
            pending.extend(getattr(node, "decorator_list", []))
            pending.extend(node.args.defaults)
            pending.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.ClassDef):
            pending.extend(node.decorator_list)
            pending.extend(node.bases)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


def _default(node):
    """A default value: a literal C# can write (None, bool, int, float, str), or only its text."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return {"literal": False, "text": _text(node)}
    if value is None:
        return {"literal": True, "type": "none", "text": "None"}
    if isinstance(value, bool):
        return {"literal": True, "type": "bool", "value": value, "text": _text(node)}
    if isinstance(value, int):
        return {"literal": True, "type": "int", "value": str(value), "text": _text(node)}
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"literal": False, "text": _text(node)}
        return {"literal": True, "type": "float", "value": repr(value), "text": _text(node)}
    if isinstance(value, str):
        return {"literal": True, "type": "str", "value": value, "text": _text(node)}
    return {"literal": False, "text": _text(node)}


def _constant(value):
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    return {"other": repr(value)}


def _text(node):
    try:
        return ast.unparse(node)
    except Exception:  # a tree unparse does not know: the message shows less, nothing else changes
        return "?"


def _clean(text):
    lines = text.expandtabs().splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(indents) if indents else 0
    cleaned = [lines[0].strip()] + [line[margin:].rstrip() for line in lines[1:]] if lines else []
    return "\n".join(cleaned).strip()


def read(path):
    try:
        with open(path, "rb") as source:
            data = source.read()
    except OSError as e:
        return {"file": path, "error": {"type": type(e).__name__, "message": e.strerror or str(e)}}
    try:
        tree = ast.parse(data, filename=path)
    except SyntaxError as e:
        error = {"type": type(e).__name__, "message": e.msg}
        if e.lineno:
            error["line"] = e.lineno
            error["column"] = e.offset or 1
            if getattr(e, "end_lineno", None):
                error["endLine"] = e.end_lineno
                error["endColumn"] = e.end_offset or e.offset or 1
        return {"file": path, "error": error}
    except (ValueError, MemoryError, RecursionError) as e:
        return {"file": path, "error": {"type": type(e).__name__, "message": str(e)}}
    module = Module(tree)
    return {
        "file": path,
        "doc": ast.get_docstring(tree),
        "functions": module.functions(),
        "classes": module.classes(),
    }


def main(paths):
    result = {"python": platform.python_version()}
    if sys.version_info < (3, 9):
        result["error"] = "Python 3.9 or newer is needed to read type hints; this is " + platform.python_version()
    else:
        result["modules"] = [read(path) for path in paths]
    sys.stdout.write(json.dumps(result, ensure_ascii=True))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
