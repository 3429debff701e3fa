"""GSPO on the tiny model: the vision tower runs under grad in the loss pass, every reward term and σ are logged."""

import torch

from o3v.rewards import ALL_TERMS
from o3v.train import gspo

FAST = {"max_steps": 2, "max_completion_length": 12, "logging_steps": 1, "max_frames": 4, "save_steps": 100,
        "per_device_train_batch_size": 4}  # fmt: skip


def _history(trainer):
    return [h for h in trainer.state.log_history if "step" in h]


def test_gspo_steps_run_the_vision_tower_under_grad_and_log_every_reward(train_data, tiny_model, tmp_path):
    trainer, _ = gspo.build_trainer(train_data["rl"], tmp_path / "g", "tiny-cpu", FAST, base_model=str(tiny_model))
    config = trainer.model.config
    suppressed = set(trainer.generation_config.suppress_tokens)  # a sampled vision marker breaks M-RoPE indexing
    assert {config.image_token_id, config.vision_start_token_id, config.vision_end_token_id} <= suppressed
    calls = {"grad": 0, "no_grad": 0}

    def count(module, args):
        calls["grad" if torch.is_grad_enabled() else "no_grad"] += 1

    misaligned = []

    def check_alignment(module, args, kwargs):
        # image-token types must sit exactly on the image pad tokens in every forward (prompts of different lengths)
        ids, types = kwargs.get("input_ids"), kwargs.get("mm_token_type_ids")
        if ids is not None and types is not None:
            misaligned.append(int(((ids == config.image_token_id) != (types == 1)).sum()))

    # ml-stack.md §7: trl silently drops native video tensors from the loss pass; images must reach it.
    hooks = [
        trainer.model.model.visual.register_forward_pre_hook(count),
        trainer.model.model.register_forward_pre_hook(check_alignment, with_kwargs=True),
    ]
    try:
        trainer.train()
    finally:
        for hook in hooks:
            hook.remove()
    assert misaligned and not any(misaligned)
    assert calls["grad"] >= trainer.state.global_step == 2  # one loss pass per optimizer step, with the frames
    assert calls["no_grad"] >= 1  # rollout generation
    history = _history(trainer)
    logged = set().union(*history)
    assert {f"rewards/{term}/mean" for term in ALL_TERMS} <= logged
    assert {"reward", "reward_std", "loss", "clip_ratio/region_mean", "think_temporal_point/sigma"} <= logged
    sigma = next(h["think_temporal_point/sigma"] for h in history if "think_temporal_point/sigma" in h)
    assert sigma == 4.0 * (1 - 1 / 2)  # ρ = (global_step + 1) / max_steps at the first rollout: (0 + 1) / 2
    # live curves: the rewards and the loss as TensorBoard scalars in the run folder (the model artifact)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(tmp_path / "g" / "tensorboard")).Reload().Tags()["scalars"]
    assert {"train/reward", "train/loss", "train/rewards/answer_accuracy/mean"} <= set(tags)


def test_upstream_preset_runs_with_a_reference_model(train_data, tiny_model, tmp_path):
    overrides = {**FAST, "max_steps": 1, "preset": "upstream"}
    trainer, _ = gspo.build_trainer(
        train_data["rl"], tmp_path / "u", "tiny-cpu", overrides, base_model=str(tiny_model)
    )
    assert trainer.beta == 0.04 and trainer.ref_model is not None
    trainer.train()
    assert "kl" in set().union(*_history(trainer))
