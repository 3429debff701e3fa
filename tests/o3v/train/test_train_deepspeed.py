"""SFT (ZeRO-2) and GSPO (ZeRO-3) under torchrun with DeepSpeed on CPU: config and plumbing, not GPU numerics.

The first run on a machine JIT-compiles DeepSpeed's CPU ops (minutes); later runs reuse the torch_extensions cache.
What this proves and what it cannot: ml-stack.md §8.
"""

import json
import os
import subprocess
import sys

import pytest

TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


def _torchrun(stage, data, out, model, zero, *sets, procs=2):
    overrides = [arg for s in (f"deepspeed={zero}", "logging_steps=1", "max_frames=4", *sets) for arg in ("--set", s)]
    cmd = [TORCHRUN, "--nproc_per_node", str(procs), "--master_port", str(29500 + os.getpid() % 1000)]
    cmd += ["-m", f"o3v.train.{stage}", "--data", str(data), "--out", str(out), "--base-model", str(model), *overrides]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / "metrics.json").read_text())


def _reloads_completely(folder, tiny_model):
    from o3v.model import count_params, load_model

    return count_params(load_model(folder)[0]) == count_params(load_model(tiny_model)[0])


@pytest.mark.slow
def test_sft_trains_under_torchrun_with_zero2_on_two_processes(train_data, tiny_model, tmp_path):
    out = tmp_path / "sft-z2"
    metrics = _torchrun("sft", train_data["sft"], out, tiny_model, "zero2.json", "max_steps=3", "save_steps=3",
                        "per_device_train_batch_size=2")  # fmt: skip
    assert metrics["global_step"] == 3 and metrics["environment"]["world_size"] == 2
    assert (out / "checkpoints" / "checkpoint-3").is_dir()
    assert _reloads_completely(out, tiny_model)


@pytest.mark.slow
def test_gspo_trains_under_torchrun_with_zero3_on_two_processes(train_data, tiny_model, tmp_path):
    out = tmp_path / "gspo-z3"
    metrics = _torchrun("gspo", train_data["rl"], out, tiny_model, "zero3.json", "max_steps=2", "save_steps=2",
                        "max_completion_length=12")  # fmt: skip
    assert metrics["global_step"] == 2 and metrics["environment"]["world_size"] == 2
    assert _reloads_completely(out, tiny_model)  # ZeRO-3 gathers the 16-bit weights on save
