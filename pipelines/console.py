"""A readable local run: one line per task start/end, progress for long steps, each task's full log in a file.

How kfp.local (2.17) prints: its orchestrator logs through the root logger ("Executing task 'x'", "Task 'x'
finished with status SUCCESS", "cache hit", the outputs of every task as a JSON-like dump), each time through a
fresh `StreamHandler(sys.stdout)` (`logging_utils.local_logger_context`); a task's subprocess output (stdout
and stderr merged) is streamed line by line with `print`, also to `sys.stdout`, on the thread that runs the
task (ParallelFor iterations run on their own threads). Nothing here patches kfp: for the run,
`sys.stdout` is a `TaskRouter` that sends each thread's text to the log file of the task that thread is
running (the `TaskClock` filter on the root logger sees "Executing task" before the line is written), and
the console gets only this module's lines. `verbose` also copies everything to the console, as before.

Log files: `<run folder>/logs/<task>.log` (kfp names the run folder when its first task writes an output, so
until then they are written in `<root>/.logs/<id>/` and moved, open, into the run folder as soon as it
exists); text not written by a task (kfp's own pipeline lines) goes to `run.log` beside them.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TASK = re.compile(r"Task '?([\w.-]+)'?(?: finished with status (\w+)| cache hit \(key=([0-9a-f]+)\))")
_START = re.compile(r"Executing task '?([\w.-]+)'?")
_PIPELINE = re.compile(r"Pipeline '([\w.-]+)' finished with status (\w+)")
# What a long step prints as it goes: the trainer's step lines and tqdm bars (records, videos, eval samples).
STEP = re.compile(r"\bstep \d+/\d+\b.*")
BAR = re.compile(r"(?:([\w .+-]{1,40}):\s+)?(\d+%)\|[^|]*\|\s*(\d+/\d+)(?: \[([^\]]*)\])?")
# A progress line when a task has run PROGRESS_EVERY_S, then ever more sparsely (every sixth of its run time,
# at most every 10 minutes): about 13 lines for a 10-minute step, 30 for an hour.
PROGRESS_EVERY_S = 30.0
PROGRESS_MAX_GAP_S = 600.0
FAILED_TAIL = 30


def verbose_from_env() -> bool:
    """O3V_VERBOSE=1 (or true/yes) asks for kfp's full output on the console."""
    return os.environ.get("O3V_VERBOSE", "").strip().lower() in ("1", "true", "yes", "on")


def progress_of(line: str) -> str | None:
    """The progress a line reports, compactly ("step 3/10 loss 1.2 ...", "sample: 40% 4/10 [00:02<00:03]")."""
    if m := STEP.search(line):
        return " ".join(m[0].split())[:110]
    bars = list(BAR.finditer(line))
    if not bars:
        return None
    m = bars[-1]
    label = f"{m[1].strip()}: " if m[1] and m[1].strip() else ""
    return f"{label}{m[2]} {m[3]}" + (f" [{m[4]}]" if m[4] else "")


def unique_name(seen: dict | set, name: str) -> str:
    """ParallelFor runs the same task name several times: number the repeats (`name#2`, `name#3`, ...)."""
    if name not in seen:
        return name
    i = 2
    while f"{name}#{i}" in seen:
        i += 1
    return f"{name}#{i}"


class TaskClock(logging.Filter):
    """Times each task from kfp.local's own log lines ("Executing task", "finished", "cache hit").

    A filter on the root logger survives the handler swaps kfp.local does for every task. `on_start(name,
    thread)` and `on_end(name, thread, info)` are called before the line itself is written.
    """

    def __init__(
        self,
        on_start: Callable[[str, int], None] | None = None,
        on_end: Callable[[str, int, dict], None] | None = None,
    ) -> None:
        super().__init__()
        self.started: dict[tuple[str, int], float] = {}
        self.tasks: dict[str, dict] = {}
        self.pipeline_status = "UNKNOWN"
        self.on_start, self.on_end = on_start, on_end

    def filter(self, record: logging.LogRecord) -> bool:
        msg = _ANSI.sub("", record.getMessage())
        now = record.created
        # ParallelFor iterations run on their own threads: a task's start and end share the thread id.
        if m := _START.search(msg):
            self.started[(m[1], record.thread)] = now
            if self.on_start:
                self.on_start(m[1], record.thread)
        elif m := _PIPELINE.search(msg):
            self.pipeline_status = m[2]
        elif m := _TASK.search(msg):
            name, status = m[1], m[2] or "CACHED"
            start = self.started.pop((name, record.thread), now)
            info = {"seconds": now - start, "status": status, "cached": status == "CACHED", "cache_key": m[3]}
            self.tasks[unique_name(self.tasks, name)] = info
            if self.on_end:
                self.on_end(name, record.thread, info)
        return True


def _shown(path: Path) -> str:
    """A path as short as it is unambiguous: relative to the working directory when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class TaskRouter(io.TextIOBase):
    """`sys.stdout` for a local run: routes text by thread to per-task log files (module docstring)."""

    def __init__(self, console: TextIO, staging: Path, find_run_dir: Callable[[], Path | None], verbose: bool):
        super().__init__()
        self.console, self.staging, self.find_run_dir, self.verbose = console, staging, find_run_dir, verbose
        self.log_dir = staging
        self.lock = threading.RLock()
        self.files: dict[str, TextIO] = {}  # log name -> open file
        self.paths: dict[str, Path] = {}
        self.current: dict[int, str] = {}  # thread id -> log name it writes to
        self.partial: dict[int, str] = {}
        self.last_progress: dict[str, float] = {}
        self.begun: dict[str, float] = {}
        self.ended: dict[tuple[str, int], str] = {}
        staging.mkdir(parents=True, exist_ok=True)
        self._open("run")

    # -- files --------------------------------------------------------------------------------------------
    def _open(self, name: str) -> str:
        path = self.log_dir / f"{name.replace('#', '-')}.log"
        self.files[name] = path.open("a", encoding="utf-8", buffering=1)
        self.paths[name] = path
        return name

    def _adopt_run_dir(self) -> None:
        """Move the logs into `<run folder>/logs` once kfp has created the run folder."""
        if self.log_dir != self.staging:
            return
        run_dir = self.find_run_dir()
        if run_dir is None:
            return
        target = run_dir / "logs"
        target.mkdir(parents=True, exist_ok=True)
        for name, path in self.paths.items():
            new = target / path.name
            os.replace(path, new)  # the open file keeps writing to the moved file
            self.paths[name] = new
        self.log_dir = target
        try:
            self.staging.rmdir()
        except OSError:
            pass

    def close_logs(self) -> None:
        with self.lock:
            self._adopt_run_dir()
            for f in self.files.values():
                f.close()
            self.files.clear()

    # -- console ------------------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        with self.lock:
            self.console.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
            self.console.flush()

    def start(self, task: str, thread: int) -> None:
        with self.lock:
            name = self._open(unique_name(self.files, task))
            self.current[thread] = name
            self.begun[name] = time.time()
            self.say(f"start   {name}")

    def end(self, task: str, thread: int, info: dict) -> None:
        with self.lock:
            if info["cached"]:
                self.say(f"cached  {task}")
                return
            self._adopt_run_dir()
            name = self.current.get(thread, "run")
            f = self.files.get(name)
            if f:
                f.flush()
            where = _shown(self.paths[name])
            self.say(f"{'done' if info['status'] == 'SUCCESS' else 'FAILED':<7} {name}  {info['status']}  "
                     f"{info['seconds']:.1f}s  log: {where}")  # fmt: skip
            if info["status"] != "SUCCESS":
                lines = self.paths[name].read_text(encoding="utf-8", errors="replace").splitlines()
                tail = lines[-FAILED_TAIL:]
                self.console.write("".join(f"    | {line}\n" for line in tail))
                self.console.write(f"    (last {len(tail)} of {len(lines)} lines; whole log: {where})\n")

    # -- stream interface ---------------------------------------------------------------------------------
    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        thread = threading.get_ident()
        with self.lock:
            name = self.current.get(thread, "run")
            f = self.files.get(name)
            if f is not None:
                f.write(s)
            if self.verbose:
                self.console.write(s)
            elif name != "run":
                self._progress(name, thread, s)
        return len(s)

    def _progress(self, name: str, thread: int, s: str) -> None:
        """Now and then (PROGRESS_EVERY_S) a running task's latest progress line goes to the console."""
        text = self.partial.get(thread, "") + s
        *lines, self.partial[thread] = re.split(r"[\r\n]", text)
        now = time.time()
        for line in reversed(lines):
            shown = progress_of(line)
            if shown:
                begun = self.begun.get(name, now)
                gap = min(max(PROGRESS_EVERY_S, (now - begun) / 6), PROGRESS_MAX_GAP_S)
                if now - self.last_progress.get(name, begun) >= gap:
                    self.last_progress[name] = now
                    self.say(f"  ...   {name}: {shown}")
                break

    def flush(self) -> None:
        with self.lock:
            for f in self.files.values():
                f.flush()
            self.console.flush()
