"""GSPO rollouts: `rollouts` selects HF generate or trl's vLLM integration, and every backend gets the same sampling.

vLLM cannot run on these CPU machines, so the vLLM backends are checked at the boundary where trl hands them
their settings: trl's `VLLMGeneration` is replaced by a recorder, the real `GRPOTrainer` is built for each mode,
and what HF `generate` receives (the trainer's generation kwargs) is compared with what vLLM would receive.
"""

from __future__ import annotations

import pytest

from o3v.train import gspo
from o3v.train.config import ConfigError, load_config

FAST = {"max_steps": 1, "max_completion_length": 12, "max_frames": 4, "per_device_train_batch_size": 4,
        "temperature": 0.9, "top_p": 0.95, "top_k": 50, "min_p": 0.05, "repetition_penalty": 1.1}  # fmt: skip


def _cfg(name="tiny-cpu", **overrides):
    return load_config("gspo", name, {"use_cpu": True, **overrides}, output_dir="/tmp/o3v-rollouts-test")


@pytest.mark.parametrize(
    ("mode", "use_vllm", "vllm_mode"),
    [("hf", False, None), ("vllm_colocate", True, "colocate"), ("vllm_server", True, "server")],
)
def test_rollouts_owns_trl_vllm_switches(mode, use_vllm, vllm_mode):
    cfg = _cfg(rollouts=mode)
    assert (cfg.rollouts, cfg.use_vllm) == (mode, use_vllm)
    if vllm_mode:
        assert cfg.vllm_mode == vllm_mode


def test_recipes_pick_their_generator():
    assert _cfg().rollouts == "hf" and not _cfg().use_vllm  # vLLM does not run on CPUs
    for name in ("qwen2.5-vl-7b", "qwen3-vl-8b"):
        cfg = _cfg(name)
        assert (cfg.rollouts, cfg.use_vllm, cfg.vllm_mode) == ("vllm_colocate", True, "colocate"), name
        assert _cfg(name, rollouts="hf").use_vllm is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rollouts": "sglang"}, r"field 'rollouts' must be one of \['hf', 'vllm_colocate', 'vllm_server'\]"),
        ({"use_vllm": True}, r"field 'use_vllm' = True contradicts rollouts 'hf'"),
        ({"rollouts": "vllm_server", "vllm_mode": "colocate"}, r"field 'vllm_mode' = 'colocate' contradicts"),
    ],
)
def test_contradicting_switches_fail_naming_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(**overrides)


class _RecordedVLLM:
    """Stands in for trl's VLLMGeneration: keeps the settings the trainer hands to vLLM."""

    last: dict = {}

    def __init__(self, **kwargs):
        type(self).last = kwargs
        info = {"model_config": {"logprobs_mode": "processed_logprobs"}}
        self.vllm_client = type("Client", (), {"get_server_info": lambda _self: info})()


def _hf_view(trainer):
    """What HF generate samples with, in one canonical form."""
    kw = trainer.generation_kwargs
    return {
        "temperature": kw["temperature"],
        "top_p": kw["top_p"],
        "top_k": kw["top_k"],
        "min_p": kw["min_p"],
        "repetition_penalty": kw["repetition_penalty"],
        "max_tokens": kw["max_new_tokens"],
        "banned": sorted(kw["suppress_tokens"]),
        "do_sample": kw["do_sample"],
    }


def _vllm_view(kw):
    """What vLLM samples with (trl's VLLMGeneration arguments), in the same form."""
    extra = dict(kw["generation_kwargs"])
    bias = extra.pop("logit_bias")
    assert set(bias.values()) == {gspo.VLLM_BAN_BIAS}, "every banned token gets the ban bias"
    assert extra.keys() <= {"suppress_tokens"} and not extra.get("suppress_tokens"), extra
    return {
        "temperature": kw["temperature"],
        "top_p": kw["top_p"],
        "top_k": kw["top_k"],
        "min_p": kw["min_p"],
        "repetition_penalty": kw["repetition_penalty"],
        "max_tokens": kw["max_completion_length"],
        "banned": sorted(bias),
        "do_sample": kw["temperature"] > 0,  # vLLM samples whenever the temperature is positive
    }


def test_sampling_settings_are_identical_across_rollout_backends(train_data, tiny_model, tmp_path, monkeypatch):
    import trl.trainer.grpo_trainer as grpo_trainer

    monkeypatch.setattr(grpo_trainer, "VLLMGeneration", _RecordedVLLM)
    views, modes = {}, {}
    for mode in ("hf", "vllm_colocate", "vllm_server"):
        overrides = {**FAST, "rollouts": mode}
        trainer, _ = gspo.build_trainer(train_data["rl"], tmp_path / mode, "tiny-cpu", overrides,
                                        base_model=str(tiny_model))  # fmt: skip
        if mode == "hf":
            views[mode] = _hf_view(trainer)
            assert not trainer.use_vllm
        else:
            views[mode] = _vllm_view(_RecordedVLLM.last)
            modes[mode] = _RecordedVLLM.last["mode"]
    assert modes == {"vllm_colocate": "colocate", "vllm_server": "server"}
    assert views["hf"] == views["vllm_colocate"] == views["vllm_server"]
    # the settings are the recipe's, and the vision markers are among the banned tokens in every mode
    assert (views["hf"]["temperature"], views["hf"]["top_k"], views["hf"]["max_tokens"]) == (0.9, 50, 12)
    config = trainer.model.config
    assert {config.image_token_id, config.vision_start_token_id, config.vision_end_token_id} <= set(
        views["vllm_server"]["banned"]
    )
