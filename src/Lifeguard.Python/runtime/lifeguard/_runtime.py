"""The worker's main loop: one call at a time, on the main thread, with the protocol on private descriptors."""

import importlib
import importlib.util
import io
import json
import os
import signal
import sys
import types

from . import _protocol as p
from . import _spans
from ._state import HostError, state

RUNTIME_VERSION = "1.1.0"
EXIT_INIT_FAILED = 3
EXIT_PROTOCOL = 70
DEFAULT_MAX_FRAME = 64 * 1024 * 1024


def main(argv):
    host_pid = int(argv[0]) if len(argv) > 0 else 0
    max_frame = int(argv[1]) if len(argv) > 1 else DEFAULT_MAX_FRAME

    # Keep the protocol pipes on private descriptors, then point fd 0 at /dev/null and fd 1 at stderr: neither
    # print(), nor a C extension writing to fd 1, nor a subprocess can corrupt or steal protocol bytes.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    _rewire_stdio()
    _leave_process_group()
    _die_with_parent(host_pid)

    channel = p.Channel(proto_in, proto_out, max_frame)
    state.channel = channel
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        try:
            kind, _, payload, attachments = channel.read_frame()
        except EOFError:
            return 0
        if kind != p.INIT:
            raise p.ProtocolError("expected the init frame first, got kind %d" % kind)
        try:
            _configure(channel, channel.decode(payload, attachments), host_pid)
        except BaseException as error:  # noqa: B036 - an init failure of any kind is reported, then we exit
            _reply_error(channel, 0, error, "init")
            return EXIT_INIT_FAILED
        channel.write_frame(p.HELLO, 0, json.dumps(state.info).encode("utf-8"))
        return _serve(channel)
    except p.ProtocolError as error:
        sys.stderr.write("lifeguard worker: protocol violation from the host: %s\n" % error)
        return EXIT_PROTOCOL


def _configure(channel, config, host_pid):
    version = config.get("protocol")
    if version != p.PROTOCOL_VERSION:
        raise RuntimeError("the host speaks protocol %r, this runtime speaks %d" % (version, p.PROTOCOL_VERSION))
    features = config.get("features") or []
    state.host_features = frozenset(f for f in features if isinstance(f, str)) if isinstance(features, list) else frozenset()
    channel.max_frame = int(config.get("maxFrame", channel.max_frame))
    channel.named_floats = bool(config.get("namedFloats", False))
    allowed = config.get("allowModules")
    _calls.allowed = frozenset(allowed) if allowed is not None else None
    for path in reversed(config.get("paths") or []):
        if path not in sys.path:
            sys.path.insert(0, path)
    for path in config.get("appendPaths") or []:
        if path not in sys.path:
            sys.path.append(path)
    for name, path in config.get("files") or []:
        _load_file(name, path)
    for module in config.get("preload") or []:
        importlib.import_module(module)
    init = config.get("init")
    if init:
        module, _, function = init.partition(":")
        getattr(importlib.import_module(module), function)()
    state.info = {
        "protocol": p.PROTOCOL_VERSION,
        "runtime": RUNTIME_VERSION,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name,
        "pid": os.getpid(),
        "hostPid": host_pid,
        "executable": sys.executable,
        "features": list(p.FEATURES),
    }


def _load_file(name, path):
    """Imports the file at path as the module name, whatever the file is called (json.py, my.mod.py)."""
    if name in sys.modules:
        raise ImportError("cannot load %s as module %r: a module of that name is already imported" % (path, name), name=name)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s as module %r: not a Python source or extension file" % (path, name), name=name, path=path)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as the import system does: dataclasses, pickle and the module's own imports of
    # itself look it up by name in sys.modules.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise


def _serve(channel):
    while True:
        try:
            kind, frame_id, payload, attachments = channel.read_frame()
        except EOFError:
            return 0  # the host closed our input: it is done with us, or gone
        if kind == p.CALL:
            _calls.run(channel, frame_id, payload, attachments)
        elif kind in (p.CALLBACK_RESULT, p.CALLBACK_ERROR):
            pass  # the answer to a callback whose call was interrupted: nobody waits for it any more
        else:
            raise p.ProtocolError("unexpected frame kind %d between calls" % kind)


class _Calls:
    """Resolves and runs calls. Functions are cached per (module, function), with what their type hints ask for."""

    def __init__(self):
        self.allowed = None
        self.cache = {}

    def resolve(self, module, function):
        """(function, argument binder or None, whether its results hold NamedTuples to convert)."""
        key = (module, function)
        target = self.cache.get(key)
        if target is None:
            if self.allowed is not None:
                if module not in self.allowed:
                    raise PermissionError("module %r is not in this pool's module allowlist" % module)
                # The module object's own methods (__getattribute__, __setattr__, ...) would read or replace its
                # globals; '_' names are private: with an allowlist, only public functions can be called.
                if function.startswith("_"):
                    raise PermissionError(
                        "%s.%s is not a public function: with a module allowlist, names starting with '_' cannot be called"
                        % (module, function)
                    )
            target = getattr(importlib.import_module(module), function)
            if not callable(target):
                raise TypeError("%s.%s is not callable" % (module, function))
            target = self.cache[key] = (target,) + _plan(target, module + "." + function)
        return target

    def run(self, channel, call_id, payload, attachments):
        try:
            message = channel.decode(payload, attachments)
            module, function = message["m"], message["f"]
            target, binder, namedtuples = self.resolve(module, function)
        except p.ProtocolError:
            raise
        except BaseException as error:  # noqa: B036 - reported to the caller; the worker stays usable
            _reply_error(channel, call_id, error, "resolve")
            return
        state.call_id = call_id
        state.call = (module, function)
        state.traceparent = message.get("tp")
        state.tracestate = message.get("ts")
        state.interrupt_pending = False
        # Spans only when this call asks for them (the host records traces) and the host reads span frames.
        state.spans = _spans.Collector() if message.get("sp") is True and "spans" in state.host_features else None
        try:
            failure = None
            try:
                try:
                    state.in_call = True
                    args, kwargs = message.get("a") or (), message.get("k") or {}
                    if binder is not None:
                        args, kwargs = binder(args, kwargs)  # TypeError or ValueError naming the parameter
                    result = target(*args, **kwargs)
                    if hasattr(result, "__await__") and hasattr(result, "send"):
                        result = _run_coroutine(result)
                finally:
                    state.in_call = False
            except KeyboardInterrupt as error:
                failure = (error, "cancelled")
            except BaseException as error:  # noqa: B036 - includes CancelledError and SystemExit: reported, not fatal
                failure = (error, "cancelled" if type(error).__name__ == "CancelledError" else "exception")
            _send_spans(channel, call_id)
            if failure is not None:
                _reply_error(channel, call_id, *failure)
            else:
                try:
                    data, out = channel.encode(result, namedtuples)
                    channel.write_frame(p.RESULT, call_id, data, out)
                except p.EncodeError as error:
                    _reply_error(channel, call_id, error, "encode")
        finally:
            state.call_id = None
            state.call = None
            state.traceparent = None
            state.tracestate = None
            state.spans = None


_calls = _Calls()


def _plan(target, name):
    """What target's type hints ask of its calls (lifeguard._types.plan); nothing for a function without hints."""
    try:
        if isinstance(target, types.FunctionType) and not target.__annotations__:
            return None, False
    except Exception:  # noqa: BLE001 - from Python 3.14 reading them evaluates them: a name defined nowhere raises
        return None, False
    from . import _types  # only paid for by workers that serve hinted functions

    return _types.plan(target, name)


def _send_spans(channel, call_id):
    """Sends the call's spans, if it collected any, in one frame before its reply (cut to fit the frame)."""
    collector, state.spans = state.spans, None
    if collector is None:
        return
    try:
        data = collector.finish(channel.max_frame - 4 - p._MIN_BODY)
    except Exception as error:  # noqa: BLE001 - span data must never cost the call its reply
        sys.stderr.write("lifeguard worker: the spans of call %d were not sent: %r\n" % (call_id, error))
        return
    if data is not None:
        channel.write_frame(p.SPANS, call_id, data)


def _run_coroutine(coroutine):
    import asyncio  # only paid for by workers that serve async functions

    if state.loop is None:
        state.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(state.loop)
    task = state.loop.create_task(coroutine)
    state.task = task
    try:
        return state.loop.run_until_complete(task)
    finally:
        state.task = None


def _on_sigint(signum, frame):
    """The host interrupts a call with SIGINT. Between calls, and inside protocol I/O, it must not raise."""
    if not state.in_call:
        return
    if state.task is not None:
        state.loop.call_soon_threadsafe(state.task.cancel)
    elif state.in_io:
        state.interrupt_pending = True
    else:
        raise KeyboardInterrupt


def _call_host(channel, name, args):
    callback_id = state.next_callback_id
    state.next_callback_id += 1
    data, attachments = channel.encode({"n": name, "a": args})
    state.in_io = True
    try:
        channel.write_frame(p.CALLBACK, callback_id, data, attachments)
        while True:
            kind, frame_id, payload, attachments = channel.read_frame()
            if frame_id != callback_id or kind not in (p.CALLBACK_RESULT, p.CALLBACK_ERROR):
                if kind in (p.CALLBACK_RESULT, p.CALLBACK_ERROR) and frame_id < callback_id:
                    continue  # a late answer to an earlier, interrupted callback
                raise p.ProtocolError("expected the answer to callback %d, got kind %d id %d" % (callback_id, kind, frame_id))
            value = channel.decode(payload, attachments)
            break
    finally:
        state.in_io = False
    if state.interrupt_pending:
        state.interrupt_pending = False
        raise KeyboardInterrupt
    if kind == p.CALLBACK_ERROR:
        raise HostError(value.get("type"), value.get("message"))
    return value


p.Channel.call_host = lambda self, name, args: _call_host(self, name, args)


def _reply_error(channel, call_id, error, kind):
    import traceback  # only on the error path

    error_type = type(error)
    module = error_type.__module__
    name = error_type.__qualname__ if module == "builtins" else module + "." + error_type.__qualname__
    if kind == "encode":
        trace = ""
    else:
        # Start the traceback at the user's code: the first frame is this runtime calling it.
        tb = error.__traceback__
        if tb is not None and tb.tb_frame.f_code is _Calls.run.__code__ and tb.tb_next is not None:
            tb = tb.tb_next
        trace = "".join(traceback.format_exception(error_type, error, tb))
    body = {"kind": kind, "type": name, "message": str(error), "traceback": trace}
    channel.write_frame(p.ERROR, call_id, _fit_error(body, channel.max_frame))


def _fit_error(body, max_frame):
    """The error frame's JSON, cut to fit the maximum frame size.

    A message can carry a caller's argument (ValueError(arg)), and the traceback repeats it: an error frame too large
    to send would leave the call unanswered. The longer of message and traceback is halved, keeping its beginning and
    saying how much was cut, until the frame fits.
    """
    limit = max_frame - 4 - p._MIN_BODY
    full = {"message": body["message"], "traceback": body["traceback"]}
    keep = {key: len(text) for key, text in full.items()}
    while True:
        data = json.dumps(body, ensure_ascii=True).encode("ascii")
        if len(data) <= limit or not any(keep.values()):
            return data
        key = max(keep, key=keep.get)
        keep[key] //= 2
        text = full[key]
        body[key] = text[: keep[key]] + "... [%d characters cut to fit the maximum frame size]" % (len(text) - keep[key])


def _rewire_stdio():
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )


def _leave_process_group():
    # Ctrl+C in a terminal signals the foreground process group: only the host should get it, and stop us in order.
    try:
        os.setpgid(0, 0)
    except OSError:
        pass


def _die_with_parent(host_pid):
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    # The host may have died before we asked: then our parent is already someone else.
    if host_pid and os.getppid() != host_pid:
        os._exit(0)
