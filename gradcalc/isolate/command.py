"""Isolation layer: the command line's isolated mode, `gradcalc eval/run --isolate`: the command
runs in a confined child forked before NumPy is imported; its stdout and stderr come back as
JSON lines and its exit code as the last one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from gradcalc.errors import EvalError, UsageError
from gradcalc.isolate import protocol
from gradcalc.isolate.child import Child, in_child
from gradcalc.isolate.policy import DEFAULT_MEMORY_MB, GRACE_SECONDS, Isolation


def run_command(impl: Callable[[dict], int], cmd: str, opts: dict) -> int:
    """Run a CLI command (`impl`, e.g. cli.cmd_eval) with --isolate: in a confined child whose
    stdout and stderr come back as JSON lines; returns the command's exit code."""
    from gradcalc import cli

    if not opts.get("isolate"):
        raise UsageError("gradcalc: error: --isolate-memory needs --isolate")
    if opts.get("allow_files"):
        raise UsageError("gradcalc: error: --allow-files cannot be used with --isolate (the "
                         "isolated process writes no file)")
    if in_child():
        return protocol.confined(impl, dict(opts, isolate=False, isolate_memory=None))
    policy = Isolation(memory_mb=opts.get("isolate_memory") or DEFAULT_MEMORY_MB)
    timeout = opts.get("timeout")
    child_opts = dict(opts, timeout=policy.wall_seconds(timeout))
    script = opts.get("script") or "-"
    source = "<expr>" if cmd == "eval" else "<stdin>" if script == "-" else script
    readable = (os.path.abspath(script),) if cmd == "run" and script != "-" else ()

    def body(chan: protocol.Channel, _requests) -> None:
        code = cli.execute(cmd, child_opts)
        sys.stdout.flush()
        sys.stderr.flush()
        chan.send({"exit": int(code)})

    child = Child(body, policy, timeout, stdin=cmd == "run", requests=False, source=source,
                  hint="--isolate-memory MB", library=False, readable=readable)
    try:
        for msg in child.messages():
            if "out" in msg and isinstance(msg["out"], str):
                sys.stdout.write(msg["out"])
                sys.stdout.flush()
            elif "err" in msg and isinstance(msg["err"], str):
                cli._flush()
                sys.stderr.write(msg["err"])
                sys.stderr.flush()
            elif "exit" in msg and isinstance(msg["exit"], int) and 0 <= msg["exit"] < 256:
                child.release()  # its last word: no need to wait for its exit
                return msg["exit"]
            elif "ready" in msg and isinstance(msg["ready"], dict):
                _warn(cli.write_error, msg["ready"])
                child.deadline = time.monotonic() + child.wall + GRACE_SECONDS
            else:
                child.kill()
                raise EvalError("the isolated process sent an invalid message")
    finally:
        child.close()
    raise AssertionError("unreachable: messages() ends by raising")


def _warn(write_error: Callable[[str], None], ready: dict) -> None:
    """One warning line for each part of the policy the child could not put in force."""
    if isinstance(ready.get("unfiltered"), str):
        write_error(f"gradcalc: warning: --isolate without the syscall filter "
                    f"({ready['unfiltered']}); only the OS limits apply")
    if ready.get("landlock") == 0 and sys.platform.startswith("linux"):
        write_error("gradcalc: warning: --isolate without Landlock (the kernel has none): the "
                    "child may read any file its user can")
