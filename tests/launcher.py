"""`sangkien …` as an OS process of its own, forked from one that has imported the bot already.

Importing the bot costs most of ten seconds of CPU on a small machine (pydantic builds aiogram's ~630
Telegram types at import), and the tests start a bot or a command dozens of times: each end-to-end module,
each kill and restart, each command-line test. A multiprocessing forkserver imports it once for the session;
every process is forked from it and runs the command line's `main` as the `sangkien` script would, with the
environment, working folder and output files it is given — a process with its own pid, killed with SIGKILL
like any other. The entry point itself (`python -m bot`, the imports from scratch, what a process prints on
its way out) is still started the ordinary way by the tests about it (test_cli, test_config, the export
command's test in test_reports, test_sandbox_browser).
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import subprocess
import tempfile
from multiprocessing import resource_tracker
from multiprocessing.process import BaseProcess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["bot.cli", "bot.app", "tests.launcher"])
_started: list[BaseProcess] = []


def warm_up() -> None:
    """Start the forkserver (and its imports) now, while other tests run, not at the first process."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _main(args: list[str], environment: dict[str, str], stdout: str, stderr: str) -> None:
    """In the forked process: the test's environment, folder and output files, then the command line."""
    for path, fd in ((stdout, 1), (stderr, 2)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(ROOT)
    os.environ.clear()
    os.environ.update(environment)
    # Its own resource tracker (for the export worker's locks), as a process started afresh has: what a
    # killed bot leaves is then reported in its own log, not at the end of the test session.
    tracker = resource_tracker._resource_tracker
    if tracker._fd is not None:
        os.close(tracker._fd)
    tracker._fd = tracker._pid = None
    from bot.cli import main

    main(args, prog_name="sangkien")


def start(args: list[str], environment: dict[str, str], stdout: Path, stderr: Path | None = None) -> BaseProcess:
    """`sangkien *args` running, its output appended to `stdout` (and `stderr`, else the same file)."""
    process = _context.Process(target=_main, args=(args, environment, str(stdout), str(stderr or stdout)))
    process.start()
    _started.append(process)
    return process


def sangkien(args: list[str], environment: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`sangkien *args` run to its end: its exit code and what it printed on each stream."""
    with tempfile.TemporaryDirectory(prefix="sangkien-cli-") as folder:
        out, err = Path(folder) / "out", Path(folder) / "err"
        process = start(args, environment, out, err)
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["sangkien", *args], timeout)
        read = lambda path: path.read_text(errors="replace") if path.exists() else ""  # noqa: E731
        result = subprocess.CompletedProcess(["sangkien", *args], process.exitcode, read(out), read(err))
        _forget(process)
        return result


async def kill(process: BaseProcess) -> None:
    """SIGKILL, as a crash or a power cut would, and wait until it is gone. Only a live process is signalled:
    the forkserver reaps its children at once, and a dead one's pid may already be another process's."""
    if process.exitcode is None:
        process.kill()
    await asyncio.to_thread(process.join, 60)
    _forget(process)


def _forget(process: BaseProcess) -> None:
    if process.exitcode is not None:
        _started.remove(process)
        process.close()


@atexit.register
def _kill_leftovers() -> None:
    """A process a failed test left running must not hold the session open (multiprocessing joins its
    children at exit)."""
    for process in _started:
        if process.exitcode is None:
            process.kill()
