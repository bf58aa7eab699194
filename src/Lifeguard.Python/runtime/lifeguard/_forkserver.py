"""The fork server: a template process that imports the pool's modules once, then forks each worker on request.

Started by the host as: python3 lifeguard_worker.py --fork-server HOST_PID MAX_FRAME SOCKET_PATH ENTRY_SCRIPT.
Its stdin and stdout carry the control channel (docs/protocol.md, "The fork server"), one JSON object per line:

    host -> template   {"config": {...the init frame's object...}}           first, once
                       {"fork": "TOKEN", "env": {"NAME": "value", ...}}      then any number
    template -> host   {"ready": PID} | {"threads": [module, ...], "count": N}
                       | {"error": "traceback", "type": "SyntaxError", "message": "..."}
                       {"forked": "TOKEN", "pid": PID} | {"forkFailed": "TOKEN", "error": "..."}
                       {"exit": PID, "code": EXIT_CODE}                      for each child it reaps

A forked worker connects twice to the host's Unix socket at SOCKET_PATH, sending the 16-byte token and "E" (its
stderr) then "P" (its protocol channel), puts them on descriptors 2, and 0 and 1, and then runs exactly what a spawned
worker runs, with the template as its parent: the init frame, InitFunction and the environment happen after the fork.
"""

import atexit
import json
import os
import select
import signal
import socket
import sys
import threading

from . import _runtime
from ._state import state

MAX_LINE = 4 * 1024 * 1024
EXIT_FAILED = 3
TOKEN_BYTES = 16
MAX_REPORT = 4000


def main(argv):
    host_pid, max_frame, socket_path, entry_script = int(argv[0]), argv[1], argv[2], argv[3]
    ctl_in = os.dup(0)
    ctl_out = os.dup(1)
    _runtime._rewire_stdio()
    _runtime._leave_process_group()
    _runtime._die_with_parent(host_pid)
    reader = _Lines(ctl_in)
    line = reader.next()
    if line is None:
        return 0
    try:
        threaded = _preload(json.loads(line)["config"])
    except BaseException as error:  # noqa: B036 - reported to the host, which spawns its workers instead
        _send(ctl_out, _error_report(error))
        return EXIT_FAILED
    if threaded:
        _send(ctl_out, {"threads": threaded, "count": threading.active_count()})
        return 0
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    _send(ctl_out, {"ready": os.getpid()})
    template = (ctl_in, ctl_out, wake_r, wake_w)
    while True:
        try:
            readable, _, _ = select.select([ctl_in, wake_r], [], [])
        except InterruptedError:
            readable = []
        if wake_r in readable:
            os.read(wake_r, 4096)
        _reap(ctl_out)
        if ctl_in in readable:
            while True:
                line = reader.next(wait=False)
                if line is None:
                    return 0  # the host closed the control channel: it is done with us, or gone
                if not line:
                    break
                request = json.loads(line)
                _fork(ctl_out, request, template, max_frame, socket_path, entry_script)
                if not reader.buffered():
                    break


def _preload(config):
    """Sets up the path and imports what a worker would before its InitFunction; the modules that left threads."""
    _runtime._set_paths(config)
    threaded = []
    for name, path in config.get("files") or []:
        _runtime._load_file(name, path)
        state.preloaded_files[name] = path
        if threading.active_count() > 1 and not threaded:
            threaded.append(name)
    import importlib

    for module in config.get("preload") or []:
        before = threading.active_count()
        importlib.import_module(module)
        if threading.active_count() > before or (threading.active_count() > 1 and not threaded):
            threaded.append(module)
    return threaded if threading.active_count() > 1 else []


def _error_report(error):
    """The failed answer: the traceback, the type (qualified outside builtins) and the message, cut to fit a line."""
    import traceback

    error_type = type(error)
    module = error_type.__module__
    name = error_type.__qualname__ if module == "builtins" else module + "." + error_type.__qualname__
    trace = "".join(traceback.format_exception(error_type, error, error.__traceback__))
    # The host reads lines of at most 64 KiB, and JSON may spend 6 bytes on a character: keep the traceback's end,
    # where the error is, and the message's beginning.
    if len(trace) > MAX_REPORT:
        trace = "...\n" + trace[-MAX_REPORT:]
    message = str(error)
    if len(message) > MAX_REPORT:
        message = message[:MAX_REPORT] + "..."
    return {"error": trace, "type": name, "message": message}


def _reap(ctl_out):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        # As the host's own process API reports it: the exit code, or 128 + the signal that killed it.
        code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _send(ctl_out, {"exit": pid, "code": code})


def _fork(ctl_out, request, template, max_frame, socket_path, entry_script):
    token = request["fork"]
    try:
        pid = os.fork()
    except OSError as error:
        _send(ctl_out, {"forkFailed": token, "error": str(error)})
        return
    if pid == 0:
        code = 70
        try:
            code = _child(token, request.get("env"), template, max_frame, socket_path, entry_script)
        except SystemExit as exit:
            code = _exit_code(exit)
        except BaseException:  # noqa: B036 - whatever kills the child is its exit, with the traceback on its stderr
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _send(ctl_out, {"forked": token, "pid": pid})


def _child(token, env, template, max_frame, socket_path, entry_script):
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in template:
        os.close(fd)
    secret = bytes.fromhex(token)
    if len(secret) != TOKEN_BYTES:
        raise ValueError("a fork token is %d bytes" % TOKEN_BYTES)
    # stderr first, so that whatever goes wrong next is in this worker's own output.
    err = _connect(socket_path, secret + b"E")
    os.dup2(err, 2)
    os.close(err)
    proto = _connect(socket_path, secret + b"P")
    os.dup2(proto, 0)
    os.dup2(proto, 1)
    os.close(proto)
    if isinstance(env, dict):
        os.environ.clear()
        os.environ.update(env)
    parent = str(os.getppid())
    sys.argv = [entry_script, parent, max_frame]
    try:
        if os.path.realpath(entry_script) == os.path.realpath(os.path.join(os.path.dirname(_runtime._RUNTIME_DIR), "lifeguard_worker.py")):
            code = _runtime.main([parent, max_frame])
        else:
            import runpy

            runpy.run_path(entry_script, run_name="__main__")
            code = 0
    except SystemExit as exit:
        code = _exit_code(exit)
    # As at a spawned worker's end: the exit handlers run (those the preloaded modules registered included).
    atexit._run_exitfuncs()
    return code


def _connect(path, hello):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # "@name" is the host's abstract socket: the name after a NUL byte, with no file behind it.
    sock.connect("\0" + path[1:] if path.startswith("@") else path)
    sock.sendall(hello)
    return sock.detach()


def _exit_code(exit):
    code = exit.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write("%s\n" % code)
    return 1


def _send(fd, message):
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
    while data:
        data = data[os.write(fd, data) :]


class _Lines:
    """Lines from a descriptor, each at most MAX_LINE bytes: None at the end of input."""

    def __init__(self, fd):
        self._fd = fd
        self._buffer = b""

    def buffered(self):
        return b"\n" in self._buffer

    def next(self, wait=True):
        """The next line; with wait False, at most one read, and b"" when that did not complete a line."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ValueError("a control line longer than %d bytes" % MAX_LINE)
            chunk = os.read(self._fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
            if not wait and b"\n" not in self._buffer:
                return b""
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line
