"""One function's process, as Lambda runs one: its code directory first on the path, its handler warm.

``python -m stateway_runtime.worker <code directory> <module.attribute>`` imports
the handler the way the Lambda Python runtime does (the code directory is the
task root, the layer's packages are installed), then answers invocations,
one at a time, until its input closes. The local gateway keeps a pool of these
per function, each with the environment the template gives that function; the
LocalStack executor runs one per execution environment.

Frames on stdin and on the process's original stdout: a 4-byte big-endian
length and a JSON document. Out first, once the handler is imported (or its
import failed): ``{"ready": <bool>, "error": <type or null>}``. Then, per event
in: ``{"ok": <the handler's result>}``, or ``{"error": <type>, "init": <bool>}``
when the handler raised (the traceback goes to stderr, like Lambda's log). Anything the function
prints goes to stderr, so it can never corrupt a frame.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import struct
import sys
import traceback
import uuid
from typing import IO, Any


class Context:
    """The parts of the Lambda context object a handler reads."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = ""
        self.log_group_name = f"/local/{function_name}"
        self.log_stream_name = "local"
        self._timeout_ms = int(timeout_s * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (length,) = struct.unpack(">I", head)
    return json.loads(stream.read(length))


def write_frame(stream: IO[bytes], document: Any) -> None:
    data = json.dumps(document, separators=(",", ":")).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _flush_logs() -> None:
    """What the invocation printed is in the log before its answer, as Lambda's runtime has it."""
    sys.stdout.flush()
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    code_dir, handler_name = argv[1], argv[2]
    frames_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # print() and stray writes go to the log, never into a frame
    frames_in = sys.stdin.buffer
    sys.path.insert(0, code_dir)  # the task root, as the Lambda runtime sets it
    module_name, _, attribute = handler_name.rpartition(".")
    context = Context(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", module_name),
        int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")),
        float(
            os.environ.get("STATEWAY_LOCAL_TIMEOUT") or os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 15
        ),
    )
    logging.basicConfig(
        level=os.environ.get("STATEWAY_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("botocore", "urllib3", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
        init_error = None
    except Exception as exc:
        traceback.print_exc()
        init_error = type(exc).__name__
    write_frame(frames_out, {"ready": init_error is None, "error": init_error})
    while (event := read_frame(frames_in)) is not None:
        if init_error is not None:
            write_frame(frames_out, {"error": init_error, "init": True})
            continue
        context.aws_request_id = uuid.uuid4().hex
        try:
            result = handler(event, context)
        except Exception as exc:
            traceback.print_exc()
            _flush_logs()
            write_frame(frames_out, {"error": type(exc).__name__, "init": False})
            continue
        _flush_logs()
        write_frame(frames_out, {"ok": result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
