"""GSPO with the grounded rewards: trl `GRPOTrainer` with sequence-level importance ratios, configured, not forked.

    o3v gspo --data DATASET_DIR --out OUT --config tiny-cpu --base-model SFT_DIR [--set preset=upstream] [--resume]
    torchrun --nproc_per_node 8 -m o3v.train.gspo --data DATA --out OUT --config qwen2.5-vl-7b --base-model SFT_DIR

Rows carry the prompt, its frames as an `images` column (stock trl runs the vision tower in every loss pass
for images; it drops native *video* tensors, ml-stack.md §7) and a `reference` column the rewards read.
trl passes `trainer_state` to every reward, so the temporal-proximity σ follows training progress; it logs
each reward term as `rewards/<name>/mean` and the total as `reward`. Start from the SFT model: a random-init
model gets zero reward variance and therefore zero gradient (ml-stack.md §10).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from o3v.rewards import get_reward_funcs
from o3v.train.data import gspo_row, lazy_dataset
from o3v.train.runner import callbacks, peft_config, prepare_run, train_and_finalize

log = logging.getLogger(__name__)

FORCED = {"remove_unused_columns": False}  # the lazy rows live behind a `row` column the trainer must keep
VLLM_BAN_BIAS = -100.0  # logit bias of a banned token under vLLM (rollout_kwargs)


def vision_token_ids(model: Any, processor: Any) -> list[int]:
    """Token ids a rollout must never sample: the vision markers and pads.

    trl suppresses only the image pad; a sampled `<|vision_start|>` in a completion makes Qwen-VL's M-RoPE
    index count an image that has no features, and the next log-prob pass crashes on a shape mismatch
    (seen on the tiny model after SFT). Model output is untrusted, so generation cannot emit them at all.
    """
    ids = {
        getattr(model.config, name, None)
        for name in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    }
    vocab = processor.tokenizer.get_vocab()
    ids |= {vocab.get(tok) for tok in ("<|vision_pad|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>")}
    return sorted(i for i in ids if isinstance(i, int))


def rollout_kwargs(rollouts: str, banned: list[int]) -> dict[str, Any]:
    """The generation kwargs that ban `banned` token ids, in the form each rollout backend takes.

    trl passes `generation_kwargs` to `GenerationConfig` (HF `generate`) and to vLLM's `SamplingParams` (colocate)
    or the server's request body (server). HF gets `suppress_tokens` (logit -inf); vLLM has no such field and gets
    `logit_bias` of -100 per id (e^-100 relative odds: never sampled; -100 is also the OpenAI-compatible floor, and
    unlike -inf it survives the JSON of server mode). Every other sampling setting is a trl config field that trl
    hands to each backend itself (tests/o3v/train/test_rollouts.py compares what each backend receives).

    >>> rollout_kwargs("hf", [7, 9]), rollout_kwargs("vllm_server", [7, 9])
    ({'suppress_tokens': [7, 9]}, {'logit_bias': {7: -100.0, 9: -100.0}})
    """
    if rollouts == "hf":
        return {"suppress_tokens": list(banned)}
    return {"logit_bias": {int(t): VLLM_BAN_BIAS for t in banned}}


def build_trainer(
    data_dir: str | Path,
    out_dir: str | Path,
    config: str | dict = "tiny-cpu",
    overrides: dict[str, Any] | None = None,
    base_model: str | None = None,
    resume: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Everything before `train()`: config, data checks, model, rewards, trainer. Returns (trainer, context)."""
    prep = prepare_run("gspo", data_dir, out_dir, config, overrides, FORCED, base_model, resume)
    from trl import GRPOTrainer

    cfg, model, processor = prep.cfg, prep.model, prep.processor
    if cfg.importance_sampling_level != "sequence":
        log.warning("importance_sampling_level=%r: this run is GRPO, not GSPO", cfg.importance_sampling_level)
    # trl re-runs the processor on the prompt texts for the log-prob passes and aligns its `mm_token_type_ids`
    # with the left-padded prompt ids, assuming the processor pads on the left. A tokenizer that pads on the
    # right (the transformers default, e.g. the tiny model's) shifts every shorter prompt's image positions:
    # M-RoPE then places image features on text tokens, silently, or crashes when the shift reaches padding.
    processor.tokenizer.padding_side = "left"
    row = functools.partial(gspo_row, processor=processor, frames=prep.frames, clips=prep.clips)
    dataset = lazy_dataset(prep.data.records, row)
    rewards = get_reward_funcs(cfg.rewards, gate=cfg.gate, proximity=cfg.proximity, fixed_sigma=cfg.fixed_sigma)
    banned = rollout_kwargs(cfg.rollouts, vision_token_ids(model, processor))
    cfg.generation_kwargs = {**(cfg.generation_kwargs or {}), **banned}
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=rewards,
        args=cfg,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=peft_config(cfg),
        callbacks=callbacks(cfg, prep.out),
    )
    log.info(
        "GSPO preset %s: group %d, beta %g, epsilon %g/%g, steps_per_generation %d, rewards %s, gate %s, σ %s, "
        "rollouts %s",
        cfg.preset,
        cfg.num_generations,
        cfg.beta,
        cfg.epsilon,
        cfg.epsilon_high,
        cfg.steps_per_generation,
        cfg.rewards,
        cfg.gate,
        cfg.proximity if cfg.proximity == "adaptive" else f"fixed {cfg.fixed_sigma:g} s",
        cfg.rollouts,
    )
    return trainer, prep.context(config, overrides)


def run(
    data_dir: str | Path,
    out_dir: str | Path,
    config: str | dict = "tiny-cpu",
    overrides: dict[str, Any] | None = None,
    base_model: str | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train GSPO on a dataset directory from `base_model` (the SFT output); returns metrics.json's content.

    With `local_processes` > 1 (and not already under a launcher) the run restarts itself under torchrun.
    """
    from o3v.train import launch

    processes = launch.local_processes("gspo", config, overrides)
    if processes > 1 and not launch.under_launcher():
        return launch.relaunch("gspo", data_dir, out_dir, config, overrides, base_model, resume, processes)
    trainer, ctx = build_trainer(data_dir, out_dir, config, overrides, base_model, resume)
    terms = [f"rewards/{name}/mean" for name in trainer.args.rewards]
    return train_and_finalize(
        trainer,
        ctx,
        out_dir,
        stage="gspo",
        curve_groups={"reward": ["reward", *terms], "loss": ["loss"], "clip": ["clip_ratio/region_mean"]},
        summary_keys=["reward", "reward_std", *terms, "loss", "completions/mean_length", "clip_ratio/region_mean"],
    )


if __name__ == "__main__":  # torchrun -m o3v.train.gspo ...: the same arguments as `o3v gspo`
    import sys

    from o3v.cli import main

    sys.exit(main(["gspo", *sys.argv[1:]]))
