"""The warm-up check: has the stills phase of a curriculum switched the vision pathway on?

With `sample_order: curriculum`, SFT first trains `curriculum_steps` batches of one square on grey
(`o3v.synth.stills`). Video grounding builds on that: a run whose held-out stills box IoU stays near the constant box
will not learn where or when in the video phase either (issue 10, session 7: the seeds that failed the stills failed
everything). So at the end of the stills phase rank 0 scores the in-memory model on held-out stills with
`o3v eval`'s synthetic adapter (o3v's parser, box IoU, the constant-box baseline, the blind-frame run), logs the
verdict, warns when the model is not `MARGIN` above the constant, and stores the figures in the trainer's log
history, from which `metrics.json` and the model card take them (`result`). Training goes on either way: the check
costs a few seconds and tells you early, it does not decide for you.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

KEY = "warmup_check"
MARGIN = 0.2  # the learning regression test's bar: held-out box IoU >= best constant + 0.2
HELDOUT_SEED = 90_001  # the world's training stills come from its own seed; these are drawn apart from them


def verdict(box_iou: float, constant: float, blind: float, margin: float = MARGIN) -> str:
    """One line saying whether held-out stills are grounded.

    Example:
        >>> verdict(0.61, 0.07, 0.08)
        'learnt: held-out stills box IoU 0.610 >= constant 0.070 + 0.2 (blind 0.080)'
        >>> verdict(0.12, 0.07, 0.08).split(':')[0]
        'NOT learnt'
    """
    ok = box_iou >= constant + margin
    sign = ">=" if ok else "<"
    word = "learnt" if ok else "NOT learnt"
    bar = f"constant {constant:.3f} + {margin:g}"
    return f"{word}: held-out stills box IoU {box_iou:.3f} {sign} {bar} (blind {blind:.3f})"


def check(model: Any, processor: Any, stills: int, size: tuple[int, int], frames: Any, step: int) -> dict[str, Any]:
    """Score `model` on `stills` held-out stills of `size` (written to a temporary folder); returns the
    log-history row."""
    from o3v.eval.runner import evaluate
    from o3v.synth.stills import write_square_stills

    cfg = {
        "frames": {"sample_fps": frames.fps, "min_frames": frames.min_frames, "max_frames": frames.max_frames},
        "max_new_tokens": 64,
        "batch_size": 32,
    }
    with tempfile.TemporaryDirectory(prefix="o3v-warmup-") as tmp:
        root = Path(tmp)
        held = write_square_stills(root / "stills", n=stills, seed=HELDOUT_SEED, size=size)
        was_training = model.training
        model.eval()
        try:
            res = evaluate((model, processor), "synthetic", held / "records.jsonl", held, root / "eval", cfg)
        finally:
            model.train(was_training)
    box = float(res["metrics"]["box_miou"])
    constant = float(res["baselines"]["mean_box_answer"]["box_miou"])
    blind = float(res["blind_frame"]["metrics"]["box_miou"])
    return {
        "step": step,
        KEY: {
            "stills": stills,
            "box_miou": box,
            "constant_box_miou": constant,
            "blind_box_miou": blind,
            "format_ok": float(res["metrics"]["format_ok"]),
            "margin": MARGIN,
            "passed": box >= constant + MARGIN,
            "verdict": verdict(box, constant, blind),
        },
    }


def result(history: list[dict]) -> dict[str, Any] | None:
    """The warm-up check's figures from a trainer log history, or None when it did not run.

    Example:
        >>> result([{"step": 1, "loss": 2.0}, {"step": 600, KEY: {"passed": True}}])
        {'passed': True}
        >>> result([{"loss": 1.0}]) is None
        True
    """
    return next((h[KEY] for h in reversed(history) if isinstance(h.get(KEY), dict)), None)


def warmup_callback(cfg: Any, processor: Any, frames: Any, size: tuple[int, int] | None) -> Any:
    """The callback that runs `check` once, at the last stills step, on stills of `size` (the training stills');
    None when the run has no stills phase (`size` None: no stills and other records to follow them) or
    `warmup_check_stills` is 0."""
    steps = cfg.curriculum_steps if cfg.sample_order == "curriculum" else 0
    if size is None or steps <= 0 or cfg.warmup_check_stills <= 0 or (0 < cfg.max_steps <= steps):
        return None
    from transformers import TrainerCallback

    class WarmupCheck(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):  # noqa: ANN001 - trainer callback
            if state.global_step != steps or not state.is_world_process_zero or result(state.log_history):
                return
            row = check(model, processor, cfg.warmup_check_stills, size, frames, steps)
            state.log_history.append(row)
            line = f"warm-up check at step {steps}: {row[KEY]['verdict']}"
            if row[KEY]["passed"]:
                log.info(line)
            else:
                log.warning("%s; video grounding rarely follows (try another seed or more curriculum_steps)", line)

    return WarmupCheck()
