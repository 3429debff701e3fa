"""pipelines/console.py without kfp: progress lines, per-thread routing to task logs, verbose copying."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from pipelines import console as con


def test_progress_of_reads_trainer_steps_and_tqdm_bars() -> None:
    assert con.progress_of("[KFP Executor INFO]: step 3/10 loss 1.25 lr 1e-05 (0.50 s/step)") == (
        "step 3/10 loss 1.25 lr 1e-05 (0.50 s/step)"
    )
    assert con.progress_of("teacher synthetic:  40%|████      | 4/10 [00:02<00:03,  2.00video/s]") == (
        "teacher synthetic: 40% 4/10 [00:02<00:03,  2.00video/s]"
    )
    assert (
        con.progress_of("  0%|          | 0/1 [00:00<?, ?it/s]/x.py:3: UserWarning: noise")
        == "0% 0/1 [00:00<?, ?it/s]"
    )
    assert con.progress_of("wrote 3/4 records") is None


def test_router_sends_each_threads_text_to_its_task_log_and_moves_logs_into_the_run_folder(tmp_path: Path) -> None:
    screen = io.StringIO()
    run_dir: list[Path] = []
    router = con.TaskRouter(screen, tmp_path / ".logs" / "x", lambda: run_dir[0] if run_dir else None, verbose=False)
    router.write("pipeline line\n")  # no task on this thread: run.log

    def task(name: str) -> None:
        router.start(name, threading.get_ident())
        router.write(f"{name} output\n")
        run_dir[:] = [tmp_path / "run"]
        (tmp_path / "run").mkdir(exist_ok=True)
        router.end(name, threading.get_ident(), {"seconds": 1.0, "status": "SUCCESS", "cached": False})
        router.write(f"{name} outputs dump\n")  # kfp's outputs lines come after the finished line

    for name in ("a", "a"):  # a ParallelFor repeats the name
        t = threading.Thread(target=task, args=(name,))
        t.start()
        t.join()
    router.close_logs()
    logs = tmp_path / "run" / "logs"
    assert router.log_dir == logs and sorted(p.name for p in logs.iterdir()) == ["a-2.log", "a.log", "run.log"]
    assert (logs / "a.log").read_text() == "a output\na outputs dump\n"
    assert (logs / "run.log").read_text() == "pipeline line\n"
    text = screen.getvalue()
    assert "output" not in text and "start   a\n" in text and "start   a#2\n" in text
    assert f"done    a#2  SUCCESS  1.0s  log: {logs / 'a-2.log'}" in text


def test_verbose_copies_everything_to_the_console(tmp_path: Path) -> None:
    screen = io.StringIO()
    router = con.TaskRouter(screen, tmp_path / "s", lambda: None, verbose=True)
    router.start("t", threading.get_ident())
    router.write("every line\n")
    router.close_logs()
    assert "every line\n" in screen.getvalue() and (tmp_path / "s" / "t.log").read_text() == "every line\n"
