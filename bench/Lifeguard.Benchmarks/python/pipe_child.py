"""The floor of a pipe bridge to Python: a minimal child on stdin/stdout, standard library only.

    python3 pipe_child.py json   each frame (u32 big-endian length | JSON {"f": name, "a": [args]}) is decoded with
                                 json.loads, the function of benchmod is called, and its result is sent back as a
                                 frame of json.dumps(result)
    python3 pipe_child.py raw    each frame's bytes are sent back unchanged (no JSON)

Exits at the end of its input.
"""

import json
import os
import struct
import sys

import benchmod

_U32 = struct.Struct(">I")
FUNCTIONS = {"square": benchmod.square, "burn": benchmod.burn}


def _write_all(fd, parts):
    parts = [memoryview(p) for p in parts if len(p)]
    while parts:
        written = os.writev(fd, parts)
        while parts and written >= len(parts[0]):
            written -= len(parts[0])
            parts.pop(0)
        if written:
            parts[0] = parts[0][written:]


def main(mode):
    reader = open(0, "rb", buffering=1 << 16, closefd=False)
    out = 1
    raw = mode == "raw"
    while True:
        head = reader.read(4)
        if len(head) < 4:
            return 0
        (length,) = _U32.unpack(head)
        body = reader.read(length)
        if len(body) < length:
            return 1
        if raw:
            _write_all(out, [head, body])
        else:
            message = json.loads(body)
            result = FUNCTIONS[message["f"]](*message["a"])
            payload = json.dumps(result).encode("utf-8")
            _write_all(out, [_U32.pack(len(payload)) + payload])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "json"))
