"""SFT cold start: trl `SFTTrainer` on STGR-CoT records, loss on the completion tokens only.

    o3v sft --data DATASET_DIR --out OUT --config tiny-cpu --base-model MODEL_DIR [--set max_steps=40] [--resume]
    torchrun --nproc_per_node 8 -m o3v.train.sft --data DATA --out OUT --config qwen2.5-vl-7b

Rows are prompt-completion pairs (`o3v.train.data.sft_row`): trl's vision collator then masks every prompt
token (system, user text, frame lines, image tokens) with -100, where the reference trained on the prompt too
(open-o3-video.md §7, §13 pitfall 4). Frames are an `images` column, so stock trl handles them (ml-stack.md §5).
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from o3v.train.data import curriculum_order, lazy_dataset, length_key, sft_row
from o3v.train.runner import callbacks, peft_config, prepare_run, train_and_finalize
from o3v.train.warmup import warmup_callback

log = logging.getLogger(__name__)

# Not configurable: rows are built lazily from a `row` column (kept) and images mean trl must not tokenize upfront.
FORCED = {"remove_unused_columns": False, "dataset_kwargs": {"skip_prepare_dataset": True}}


def build_trainer(
    data_dir: str | Path,
    out_dir: str | Path,
    config: str | dict = "tiny-cpu",
    overrides: dict[str, Any] | None = None,
    base_model: str | None = None,
    resume: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Everything before `train()`: config, data checks, model, trainer. Returns (trainer, context)."""
    prep = prepare_run("sft", data_dir, out_dir, config, overrides, FORCED, base_model, resume)
    from trl import SFTTrainer

    cfg, processor = prep.cfg, prep.processor
    row = functools.partial(sft_row, processor=processor, frames=prep.frames, clips=prep.clips)
    dataset = lazy_dataset(prep.data.records, row, _order(prep))
    trainer = SFTTrainer(
        model=prep.model,
        args=cfg,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config(cfg),
        callbacks=[*callbacks(cfg, prep.out), *_warmup(cfg, prep, processor)],
    )
    if not trainer.completion_only_loss:  # a prompt-completion dataset turns it on; never train on the prompt
        raise RuntimeError("trl did not enable completion_only_loss for prompt-completion rows")
    return trainer, prep.context(config, overrides)


def _warmup(cfg: Any, prep: Any, processor: Any) -> list[Any]:
    """The warm-up check's callback when the curriculum has a stills phase (stills and other records to follow)."""
    from o3v.synth.stills import STILL_SOURCE

    records = [r.record for r in prep.data.records]
    stills = [r for r in records if r.source == STILL_SOURCE and r.image_size]
    size = tuple(stills[0].image_size) if stills and len(stills) < len(records) else None
    callback = warmup_callback(cfg, processor, prep.frames, size)
    return [callback] if callback is not None else []


def _order(prep: Any) -> list[int] | None:
    """The row order for `sample_order: grouped` (length-grouped batches) or `curriculum` (the first
    `curriculum_steps` batches from the warm-up stills, `o3v.synth.stills`, then grouped over the other records);
    the trainer reads it sequentially."""
    cfg = prep.cfg
    if cfg.sample_order == "random":
        return None
    records = prep.data.records
    batch = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps * max(1, cfg.world_size)
    rows = cfg.max_steps * batch if cfg.max_steps > 0 else round(cfg.num_train_epochs * len(records))
    lengths = [length_key(r, prep.frames) for r in records]
    warm_steps = cfg.curriculum_steps if cfg.sample_order == "curriculum" else 0
    order = curriculum_order(records, lengths, batch, rows, warm_steps, cfg.seed, cfg.task_repeats)
    log.info(
        "sample_order %s: %d rows (%.2f epochs), batches of %d", cfg.sample_order, rows, rows / len(records), batch
    )
    if cfg.task_repeats:
        shares = Counter(records[i].record.task for i in order)
        log.info("task_repeats %s: rows per task %s", cfg.task_repeats, dict(shares.most_common()))
    return order


def run(
    data_dir: str | Path,
    out_dir: str | Path,
    config: str | dict = "tiny-cpu",
    overrides: dict[str, Any] | None = None,
    base_model: str | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train SFT on a dataset directory and write the model folder into `out_dir`; returns metrics.json's content.

    With `local_processes` > 1 (and not already under a launcher) the run restarts itself under torchrun.
    """
    from o3v.train import launch

    processes = launch.local_processes("sft", config, overrides)
    if processes > 1 and not launch.under_launcher():
        return launch.relaunch("sft", data_dir, out_dir, config, overrides, base_model, resume, processes)
    trainer, ctx = build_trainer(data_dir, out_dir, config, overrides, base_model, resume)
    return train_and_finalize(
        trainer,
        ctx,
        out_dir,
        stage="sft",
        curve_groups={"loss": ["loss"], "token_accuracy": ["mean_token_accuracy"]},
        summary_keys=["loss", "mean_token_accuracy", "grad_norm"],
    )


if __name__ == "__main__":  # torchrun -m o3v.train.sft ...: the same arguments as `o3v sft`
    import sys

    from o3v.cli import main

    sys.exit(main(["sft", *sys.argv[1:]]))
