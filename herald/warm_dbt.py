"""dbt commands forked from a warm process, for processes that run many of them.

Importing dbt costs about 3 s of CPU before it does anything, more than many of the commands Herald runs take.
A long-lived process (the scheduler, a benchmark, a test session) can start one helper that imports dbt once and
waits; each command then runs in a process forked from that helper: as isolated as a new interpreter (its own
connections, dbt globals, environment, working directory and exit), without the import. Output, exit code and
process group are those of ``dbt`` run as a command.

Opt-in (``enable()``, or ``HERALD_WARM_DBT=1``): a process that runs dbt once would only pay for a helper it
never reuses. Calls made while the helper is busy, or if it cannot be started, run dbt as a plain command.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from herald.errors import BuildError

ENV_FLAG = "HERALD_WARM_DBT"
_POLL_SECONDS = 0.05


class _Helper:
    """The warm process: reads one request per line, forks a child per request, answers with its exit code."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "herald.warm_dbt"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
        )
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, args: Sequence[str], env: Mapping[str, str], cwd: Path, on_line: Callable[[str], None]) -> int | None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with tempfile.TemporaryDirectory(prefix="herald-dbt-") as tmp:
            log = Path(tmp) / "out.log"
            log.touch()
            request = {"args": list(args), "env": dict(env), "cwd": str(cwd), "log": str(log)}
            try:
                self.proc.stdin.write(json.dumps(request).encode() + b"\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                return None  # the helper died before taking the command: nothing ran, run it as a command
            answer = b""
            with open(log, encoding="utf-8", errors="replace") as out:
                pending = ""
                while not answer.endswith(b"\n"):
                    ready, _, _ = select.select([self.proc.stdout], [], [], _POLL_SECONDS)
                    if ready:
                        chunk = os.read(self.proc.stdout.fileno(), 4096)
                        if not chunk:
                            raise BuildError(f"dbt {' '.join(args)}: the warm dbt process ended before it did")
                        answer += chunk
                    pending = _emit_lines(pending + out.read(), on_line)
                pending = _emit_lines(pending + out.read(), on_line)
                if pending:
                    on_line(pending)
        return int(json.loads(answer)["exit"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _emit_lines(text: str, on_line: Callable[[str], None]) -> str:
    """Hand over every complete line of ``text``; return the incomplete rest."""
    *complete, rest = text.split("\n")
    for line in complete:
        on_line(line + "\n")
    return rest


_helper: _Helper | None = None
_helper_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get(ENV_FLAG) == "1"


def enable() -> None:
    """Run this process's later dbt commands (and its children's) forked from a warm helper."""
    os.environ[ENV_FLAG] = "1"


def run(
    args: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    on_line: Callable[[str], None],
    helper_env: Mapping[str, str],
) -> int | None:
    """Run ``dbt args`` forked from the warm helper; None when it is busy or unavailable (run it as a command)."""
    global _helper
    with _helper_lock:
        if _helper is None or not _helper.alive():
            try:
                _helper = _Helper(helper_env)
            except OSError:
                return None
            atexit.register(_helper.close)
        helper = _helper
    if not helper.lock.acquire(blocking=False):
        return None
    try:
        return helper.run(args, env, cwd, on_line)
    finally:
        helper.lock.release()


# ------------------------------------------------------------------------------------------------- the helper


def _serve() -> None:
    from dbt.cli.main import cli  # the import every child is spared

    # Ctrl-C reaches the whole process group: the command running stops as dbt does, the helper waits for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    for raw in sys.stdin.buffer:
        request = json.loads(raw)
        pid = os.fork()
        if pid == 0:
            _child(cli, request["args"], request["env"], request["cwd"], request["log"])
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        sys.stdout.buffer.write(json.dumps({"exit": code}).encode() + b"\n")
        sys.stdout.buffer.flush()


def _child(cli: Any, args: list[str], env: dict[str, str], cwd: str, log_path: str) -> None:
    """Be ``dbt args`` run in ``cwd`` with ``env``, its output appended to ``log_path``; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)  # the request pipe stays the helper's
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(nothing)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = sys.stdout
        try:
            cli.main(args=args, prog_name="dbt")
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as error:
        print(f"Error: {error!r}", flush=True)
    finally:
        sys.stdout.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve()
