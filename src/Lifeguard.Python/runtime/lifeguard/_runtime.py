"""The worker's main loop: one call at a time, on the main thread, with the protocol on private descriptors."""

import importlib
import importlib.util
import io
import json
import os
import signal
import sys
import time
import types

from . import _protocol as p
from . import _spans
from ._state import HostError, state

RUNTIME_VERSION = "1.1.0"
EXIT_INIT_FAILED = 3
EXIT_PROTOCOL = 70
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


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
    features = list(p.FEATURES)
    # The segments are the host's descriptors; a forked worker's parent is the fork server's template, not the host.
    shm_pid = config.get("shmPid", host_pid)
    shm_pid = shm_pid if type(shm_pid) is int else 0
    if "shm" in state.host_features and _can_open_host_descriptors(shm_pid):
        channel.shm_threshold = max(1, int(config.get("shmThreshold") or 0))
        channel.host_pid = shm_pid
        features.append("shm")
    allowed = config.get("allowModules")
    _calls.allowed = frozenset(allowed) if allowed is not None else None
    _set_paths(config)
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
        "features": features,
    }


def _set_paths(config):
    """Puts the init frame's "paths" at the front of sys.path and its "appendPaths" at the end, once each."""
    for path in reversed(config.get("paths") or []):
        if path not in sys.path:
            sys.path.insert(0, path)
    for path in config.get("appendPaths") or []:
        if path not in sys.path:
            sys.path.append(path)


def _can_open_host_descriptors(host_pid):
    """Shared memory segments are opened through /proc/HOST_PID/fd: Linux, and a /proc that lets us see them."""
    return sys.platform.startswith("linux") and host_pid > 0 and os.access("/proc/%d/fd" % host_pid, os.R_OK | os.X_OK)


def _load_file(name, path):
    """Imports the file at path as the module name, whatever the file is called (json.py, my.mod.py)."""
    if state.preloaded_files.get(name) == path and name in sys.modules:
        return  # a forked worker: its template loaded this file before the fork
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
        elif kind == p.PING:
            # Answered here, by the loop that serves calls: a worker that is stopped or stuck does not answer.
            channel.write_frame(p.PONG, frame_id, b"{}")
        elif kind == p.SEGMENT:
            channel.open_segment(payload)  # before the call that uses it
        elif kind in (p.CALLBACK_RESULT, p.CALLBACK_ERROR, p.CREDIT, p.CLOSE):
            # The answer to a callback whose call was interrupted, or credit or a close for a stream that ended
            # before it arrived: nobody waits for it any more.
            pass
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
            target = self.cache[key] = (target,) + _plan(target, module + "." + function) + (_accepts_views(target),)
        return target

    def run(self, channel, call_id, payload, attachments):
        try:
            message = channel.decode(payload, attachments)
            module, function = message["m"], message["f"]
            if channel.handed is not None and message.get("sm") is False:
                # A remote caller's arguments are passed on as they came: only the host names shared memory.
                raise ValueError("a call without shared memory cannot reference it ($shm)")
            target, binder, namedtuples, views = self.resolve(module, function)
        except p.ProtocolError:
            raise
        except BaseException as error:  # noqa: B036 - reported to the caller; the worker stays usable
            message = None
            channel.release_views(call_id)
            _reply_error(channel, call_id, error, "resolve")
            return
        if channel.handed is not None and not views:
            # Large bytes arrive as views of the call's segment; a function that does not take memoryview gets bytes.
            message["a"], message["k"] = _own_bytes(message.get("a"), channel.handed), _own_bytes(message.get("k"), channel.handed)
        st = state
        st.call_id = call_id
        st.call = (module, function)
        get = message.get
        st.traceparent = get("tp")
        st.tracestate = get("ts")
        st.interrupt_pending = False
        streaming = "st" in message
        window = _stream_window(message) if streaming else None
        items = None
        # Spans only when this call asks for them (the host records traces) and the host reads span frames.
        st.spans = _spans.Collector() if "sp" in message and get("sp") is True and "spans" in st.host_features else None
        try:
            failure = None
            try:
                try:
                    st.in_call = True
                    args = get("a") or ()
                    if binder is None:
                        kwargs = get("k")
                        result = target(*args, **kwargs) if kwargs else target(*args)
                    else:
                        args, kwargs = binder(args, get("k") or {})  # TypeError or ValueError naming the parameter
                        result = target(*args, **kwargs)
                    # A plain value (the common result) is neither awaitable nor iterable as items, unless a stream
                    # asked for a list's items: no attribute probes for it.
                    if streaming or type(result) not in _PLAIN_RESULTS:
                        if hasattr(result, "__await__") and hasattr(result, "send"):
                            result = _run_coroutine(result)
                        items = _items(result, message, module, function)
                        if items is not None and window is None:
                            # A generator called as a call: its items, as one list, within the maximum frame size.
                            result, items = _drain(channel, items, namedtuples), None
                finally:
                    st.in_call = False
            except KeyboardInterrupt as error:
                failure = (error, "cancelled")
            except BaseException as error:  # noqa: B036 - includes CancelledError and SystemExit: reported, not fatal
                failure = (error, _failure_kind(error))
            if failure is None and items is not None:
                failure, end = _stream(channel, call_id, items, window, namedtuples)
                _send_spans(channel, call_id)
                if failure is None:
                    channel.write_frame(p.STREAM_END, call_id, json.dumps(end).encode("ascii"))
                else:
                    _reply_error(channel, call_id, *failure)
                return
            if st.spans is not None:
                _send_spans(channel, call_id)
            kind, out = p.RESULT, ()
            if failure is None:
                try:
                    # Bytes from the threshold up go through shared memory, except in a reply a remote caller gets whole.
                    data, out = channel.encode(result, namedtuples, call_id if get("sm") is not False else None)
                except p.EncodeError as error:
                    failure = (error, "encode")
            if failure is not None:
                kind, data, out = p.ERROR, _error_payload(channel, *failure), ()
            if channel.handed is not None:
                # Nothing of the call may hold a view of its segment now but what Python code kept.
                failure = result = message = get = args = kwargs = items = None
                channel.release_views(call_id)
            try:
                channel.write_frame(kind, call_id, data, out)
            except p.EncodeError as error:  # the result does not fit in a frame
                _reply_error(channel, call_id, error, "encode")
        finally:
            st.call_id = None
            st.call = None
            st.traceparent = None
            st.tracestate = None
            st.spans = None


_calls = _Calls()

# Results that are plain values: never awaited, never streamed as items unless a stream asked for a list's.
_PLAIN_RESULTS = frozenset((int, float, str, bool, type(None), list, dict, tuple, bytes))


def _accepts_views(target):
    """Whether a parameter of target is hinted memoryview: then its large bytes arguments arrive as views of the
    call's shared memory, not copied (read without evaluating the hints)."""
    hinted = target if isinstance(target, (types.FunctionType, types.MethodType)) else getattr(type(target), "__call__", None)
    try:
        annotations = getattr(hinted, "__annotations__", None) or {}
        for name, hint in annotations.items():
            if name != "return" and (
                hint is memoryview or (isinstance(hint, str) and "memoryview" in hint) or memoryview in getattr(hint, "__args__", ())
            ):
                return True
    except Exception:  # noqa: BLE001 - hints that cannot be read ask for nothing
        pass
    return False


def _own_bytes(value, handed):
    """The value with the views of the call's segment replaced by bytes copies, through lists and dicts."""
    kind = type(value)
    if kind is memoryview and id(value) in handed:
        return bytes(value)
    if kind is list:
        return [_own_bytes(item, handed) for item in value]
    if kind is dict:
        return {key: _own_bytes(item, handed) for key, item in value.items()}
    return value


def _plan(target, name):
    """What target's type hints ask of its calls (lifeguard._types.plan); nothing for a function without hints."""
    try:
        if isinstance(target, types.FunctionType) and not target.__annotations__:
            return None, False
    except Exception:  # noqa: BLE001 - from Python 3.14 reading them evaluates them: a name defined nowhere raises
        return None, False
    from . import _types  # only paid for by workers that serve hinted functions

    return _types.plan(target, name)


def _failure_kind(error):
    if isinstance(error, p.EncodeError):
        return "encode"
    return "cancelled" if type(error).__name__ == "CancelledError" else "exception"


# ---------------------------------------------------------------------------------------------------------- streams
#
# A call frame with "st": n asks for a stream (docs/protocol.md, "Streams"): the items of a generator, an async
# generator or any iterator go out as item frames, at most n ahead of the host's credit, then a stream-end frame. The
# host grants credit as it consumes, and sends close when it stops early; the worker looks at its input when out of
# credit, and otherwise at most every _POLL_SECONDS (a select-free peek), so a close is seen at the next item.

_POLL_SECONDS = 0.001


def _stream_window(message):
    window = message.get("st")
    if window is None or "streams" not in state.host_features:
        return None
    if type(window) is not int or not 1 <= window <= p.MAX_STREAM_WINDOW:
        raise p.ProtocolError("a stream window must be an integer from 1 to %d, not %r" % (p.MAX_STREAM_WINDOW, window))
    return window


class _Items:
    """The items of a result: next() returns one, or raises StopIteration at the end; close() ends it early."""

    __slots__ = ("next", "close")

    def __init__(self, result):
        if hasattr(result, "__anext__"):
            self.next = lambda: _async_next(result)
            self.close = (lambda: _run_coroutine(result.aclose())) if hasattr(result, "aclose") else _nothing
        else:
            self.next = result.__next__
            self.close = getattr(result, "close", _nothing)


def _nothing():
    pass


_END = object()


def _async_next(iterator):
    item = _run_coroutine(_anext_or_end(iterator))
    if item is _END:
        raise StopIteration
    return item


async def _anext_or_end(iterator):
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END  # a StopIteration raised in a coroutine would become a RuntimeError (PEP 479)


def _items(result, message, module, function):
    """The items to stream or drain, or None for a result that is a value."""
    if hasattr(result, "__next__") or hasattr(result, "__anext__"):
        return _Items(result)
    if message.get("st") is None:
        return None  # a call's result
    if isinstance(result, (list, tuple)):
        return _Items(iter(result))
    raise TypeError(
        "%s.%s returned %s, not a generator or an iterable: a stream needs a function that yields its items"
        % (module, function, p._type_name(result))
    )


def _drain(channel, items, namedtuples=False):
    """A generator's items as one list, refused with EncodeError once they could not fit in one frame."""
    limit = channel.max_frame - 4 - p._MIN_BODY
    drained = []
    size = 2
    try:
        while True:
            try:
                item = items.next()
            except StopIteration:
                return drained
            data, attachments = channel.encode(item, namedtuples)
            size += len(data) + 1 + sum(4 + len(a) for a in attachments)
            if size > limit:
                raise p.EncodeError(
                    "the generator's items exceed the maximum frame size of %d bytes after %d items: stream them "
                    "(StreamAsync), or raise MaxFrameSize" % (channel.max_frame, len(drained) + 1)
                )
            drained.append(item)
    except BaseException:
        _close_quietly(items)
        raise


def _close_quietly(items):
    try:
        items.close()
    except BaseException as error:  # noqa: B036 - the first failure is the one reported
        sys.stderr.write("lifeguard worker: closing the generator raised %r\n" % error)


def _stream(channel, call_id, items, window, namedtuples=False):
    """Sends the items under credit. Returns (failure, None), or (None, the stream-end frame's JSON)."""
    credit = window
    sent = 0
    closed = False
    next_poll = time.monotonic() + _POLL_SECONDS
    while True:
        if credit == 0:
            while credit == 0 and not closed:
                credit, closed = _stream_input(channel, call_id, channel.read_frame(), credit, window)
        else:
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + _POLL_SECONDS
                frame = channel.poll_frame()
                while frame is not None and not closed:
                    credit, closed = _stream_input(channel, call_id, frame, credit, window)
                    frame = channel.poll_frame()
        if closed:
            break
        try:
            state.in_call = True
            try:
                item = items.next()
            finally:
                state.in_call = False
        except StopIteration:
            return None, {"items": sent}
        except KeyboardInterrupt as error:
            return (error, "cancelled"), None
        except BaseException as error:  # noqa: B036 - the generator raised: after the items it yielded
            return (error, _failure_kind(error)), None
        try:
            if namedtuples:
                data, attachments = channel.encode(item, True)
                channel.write_frame(p.ITEM, call_id, data, attachments)
            else:
                channel.send_value(p.ITEM, call_id, item)
        except p.EncodeError as error:
            _close_quietly(items)
            return (error, "encode"), None
        sent += 1
        credit -= 1
    # The host stopped consuming: close the generator, so its finally blocks run.
    try:
        state.in_call = True
        try:
            items.close()
        finally:
            state.in_call = False
    except KeyboardInterrupt as error:
        return (error, "cancelled"), None
    except BaseException as error:  # noqa: B036 - a finally block raised, or the generator ignored the close
        return (error, _failure_kind(error)), None
    return None, {"items": sent, "closed": True}


def _stream_input(channel, call_id, frame, credit, window):
    """Applies a frame the host sent during a stream: credit, close, or a late callback answer."""
    kind, frame_id, payload, attachments = frame
    if kind in (p.CALLBACK_RESULT, p.CALLBACK_ERROR) or (kind in (p.CREDIT, p.CLOSE) and frame_id < call_id):
        return credit, False  # the answer to a callback of an earlier, interrupted call, or for an earlier stream
    if frame_id != call_id:
        raise p.ProtocolError("expected a frame of stream %d, got kind %d id %d" % (call_id, kind, frame_id))
    if kind == p.CLOSE:
        return credit, True
    if kind != p.CREDIT:
        raise p.ProtocolError("unexpected frame kind %d during stream %d" % (kind, call_id))
    grant = channel.decode(payload, attachments)
    n = grant.get("n") if isinstance(grant, dict) else None
    if type(n) is not int or n < 1 or credit + n > window:
        raise p.ProtocolError("a credit of %r on top of %d is outside stream %d's window of %d" % (n, credit, call_id, window))
    return credit + n, False


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
    channel.write_frame(p.ERROR, call_id, _error_payload(channel, error, kind))


def _error_payload(channel, error, kind):
    """The error frame's JSON for error, of this kind (docs/protocol.md, "Kinds")."""
    import traceback  # only on the error path

    error_type = type(error)
    module = error_type.__module__
    name = error_type.__qualname__ if module == "builtins" else module + "." + error_type.__qualname__
    if kind == "encode":
        trace = ""
    else:
        # Start the traceback at the user's code: the first frames are this runtime calling it.
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None and os.path.dirname(os.path.abspath(tb.tb_frame.f_code.co_filename)) == _RUNTIME_DIR:
            tb = tb.tb_next
        trace = "".join(traceback.format_exception(error_type, error, tb))
    body = {"kind": kind, "type": name, "message": str(error), "traceback": trace}
    return _fit_error(body, channel.max_frame)


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
