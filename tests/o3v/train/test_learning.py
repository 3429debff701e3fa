"""The learning regression test: a tiny Qwen3-VL must learn to *see* through the real SFT path.

One square on a grey still, "Where is the <colour> square?", answered as a grounded box (`o3v.synth.stills`).
Training is `o3v.train.sft.run` (trl SFTTrainer, o3v's rows and prompt builder); scoring is `o3v eval`'s synthetic
adapter (o3v's parser, box IoU in image pixels) on held-out stills, with its constant box baseline and the
blind-frame run (each still answered with another still's pixels). The model must beat the best constant box by
0.2 IoU while the blind run stays at the constant: what fails if a change cuts the vision pathway (padding side,
image-token misalignment, a pixel budget that differs between training and eval).
"""

from __future__ import annotations

import pytest

from o3v.eval.runner import evaluate
from o3v.model import build_tiny
from o3v.synth.stills import write_square_stills
from o3v.train.sft import run as sft

STEPS = 400
BATCH = 16


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("learning")
    train = write_square_stills(root / "train", n=STEPS * BATCH // 2, seed=0)
    held = write_square_stills(root / "heldout", n=96, seed=1)
    base = build_tiny(root / "tiny", arch="qwen3_vl", seed=0)
    overrides = {
        "max_steps": STEPS,
        "per_device_train_batch_size": BATCH // 2,
        "local_processes": 2,
        "learning_rate": 1e-3,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "sample_order": "random",
        "task_repeats": {},  # the recipe weights video task types; these are stills only
        "train_sampling_strategy": "random",
        "save_steps": 10_000,
        "logging_steps": 50,
    }
    sft(train, root / "model", "tiny-cpu", overrides, str(base))
    cfg = {"frames": {"sample_fps": 2.0, "min_frames": 4, "max_frames": 8}, "max_new_tokens": 64, "batch_size": 32}
    return evaluate(root / "model", "synthetic", held / "records.jsonl", held, root / "eval", cfg)


def test_tiny_qwen3_vl_learns_a_box_and_the_blind_run_does_not(learned: dict) -> None:
    model = learned["metrics"]["box_miou"]
    constant = learned["baselines"]["mean_box_answer"]["box_miou"]
    blind = learned["blind_frame"]["metrics"]["box_miou"]
    assert learned["metrics"]["format_ok"] >= 0.98
    assert model >= constant + 0.2, f"held-out box IoU {model:.3f} vs constant {constant:.3f} (blind {blind:.3f})"
    assert blind <= constant + 0.05, f"blind {blind:.3f} should fall back to the constant {constant:.3f}"
