"""Kill a training run after a checkpoint (SIGKILL, as a preempted pod) and resume it: steps continue, none redone."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from o3v.train.runner import latest_checkpoint

STEPS = 8
SETTINGS = ["max_steps=8", "save_steps=2", "logging_steps=1", "max_frames=4", "per_device_train_batch_size=2"]


def _command(data, out, model, *extra):
    exe = os.path.join(os.path.dirname(sys.executable), "o3v")
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    return [exe, "sft", "--data", str(data), "--out", str(out), "--base-model", str(model), *sets, *extra]


def _logged_losses(out):
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}, [r["step"] for r in rows if "loss" in r]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(train_data, tiny_model, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(_command(train_data["sft"], out, tiny_model), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while latest_checkpoint(out / "checkpoints") is None:
            assert proc.poll() is None, "the run ended before writing a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stopped_at = int(latest_checkpoint(out / "checkpoints").name.split("-")[1])
    assert stopped_at < STEPS and not (out / "model.safetensors").exists()  # killed mid-training

    subprocess.run(_command(train_data["sft"], out, tiny_model, "--resume"), check=True, capture_output=True)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["global_step"] == STEPS
    resumed, steps = _logged_losses(out)
    assert steps == list(range(1, STEPS + 1))  # every step exactly once: nothing redone, nothing skipped

    # Same losses as a run that was never interrupted: model, optimizer, scheduler, RNG and data position restored.
    clean = tmp_path / "clean"
    subprocess.run(_command(train_data["sft"], clean, tiny_model), check=True, capture_output=True)
    uninterrupted, _ = _logged_losses(clean)
    assert resumed == pytest.approx(uninterrupted, rel=1e-4)
