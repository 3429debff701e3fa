"""`o3v sft` in a pipe: stdout carries only the result JSON; the trainer's progress and log dicts go to stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_sft_stdout_is_only_the_result_json(train_data, tiny_model, tmp_path) -> None:
    sets = ["max_steps=2", "logging_steps=1", "per_device_train_batch_size=1"]
    argv = [sys.executable, "-m", "o3v.cli", "sft", "--data", str(train_data["sft"]), "--out", str(tmp_path / "m"),
            "--base-model", str(tiny_model), *[a for s in sets for a in ("--set", s)]]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert result["global_step"] == 2
    assert "step 2/2" in proc.stderr  # progress went to stderr
