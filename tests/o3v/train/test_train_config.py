"""Training configs: every shipped recipe parses, bad values fail naming the field, DeepSpeed JSON matches the args."""

import json

import pytest

from o3v.train.config import (
    CONFIG_ROOT,
    GSPO_PRESETS,
    SHIPPED,
    STAGES,
    ConfigError,
    check_deepspeed,
    load_config,
    resolve_config,
)

# GPU recipes are checked on CPU machines: bf16 without CUDA needs use_cpu (transformers' own rule).
ON_CPU = {"use_cpu": True}


def _load(stage, name="tiny-cpu", **overrides):
    return load_config(stage, name, {**ON_CPU, **overrides}, output_dir="/tmp/o3v-config-test")


def test_shipped_recipes_are_exactly_the_documented_ones():
    for stage in STAGES:
        assert sorted(p.stem for p in (CONFIG_ROOT / stage).glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_parses_into_trl_config(stage, name):
    cfg = _load(stage, name)
    assert cfg.learning_rate > 0
    if stage == "sft":
        assert cfg.max_length is None
    if name != "tiny-cpu":
        assert cfg.bf16 and cfg.activation_checkpointing and cfg.attn_implementation == "flash_attention_2"
        assert cfg.deepspeed.endswith("zero2.json" if stage == "sft" else "zero3.json")
    else:
        assert not cfg.bf16 and not cfg.activation_checkpointing and cfg.deepspeed is None


def test_gspo_default_preset_is_trl_documented_gspo():
    cfg = _load("gspo")
    assert (cfg.importance_sampling_level, cfg.loss_type, cfg.beta) == ("sequence", "grpo", 0.0)
    assert (cfg.epsilon, cfg.epsilon_high) == (3e-4, 4e-4)
    assert (cfg.steps_per_generation, cfg.gradient_accumulation_steps, cfg.num_iterations) == (4, 1, 1)


def test_upstream_preset_reproduces_the_reference_run():
    cfg = _load("gspo", preset="upstream")
    assert (cfg.num_generations, cfg.beta, cfg.epsilon, cfg.epsilon_high) == (4, 0.04, 0.2, 0.2)
    # one update per rollout batch: on-policy, ratio 1 (open-o3-video.md §8.4)
    assert cfg.steps_per_generation == cfg.gradient_accumulation_steps == 1
    assert cfg.importance_sampling_level == "sequence"


def test_vllm_colocate_is_config_only():
    cfg = _load("gspo", "qwen2.5-vl-7b", use_vllm=True)
    assert cfg.use_vllm and cfg.vllm_mode == "colocate"


@pytest.mark.parametrize(
    ("stage", "overrides", "message"),
    [
        ("sft", {"learnin_rate": 1e-3}, r"unknown field 'learnin_rate' \(did you mean 'learning_rate'\?\)"),
        ("sft", {"learning_rate": -1e-3}, r"field 'learning_rate' must be > 0"),
        ("sft", {"learning_rate": "fast"}, r"field 'learning_rate' must be float"),
        ("sft", {"per_device_train_batch_size": 0}, r"field 'per_device_train_batch_size' must be > 0"),
        ("sft", {"min_frames": 3}, r"field 'min_frames' must be even"),
        ("sft", {"min_frames": 12, "max_frames": 8}, r"field 'min_frames' \(12\) exceeds 'max_frames'"),
        ("sft", {"on_missing_video": "ignore"}, r"field 'on_missing_video' must be one of"),
        ("sft", {"model_dtype": "float8"}, r"field 'model_dtype' must be one of"),
        ("sft", {"max_length": 1024}, r"field 'max_length' must be null"),
        ("sft", {"gradient_checkpointing": True}, r"field 'gradient_checkpointing' is not settable.*activation_"),
        ("sft", {"output_dir": "/x"}, r"field 'output_dir' is not settable"),
        ("gspo", {"num_generations": 3}, r"must be divisible by 'num_generations' \(3\)"),
        ("gspo", {"num_generations": 1, "per_device_train_batch_size": 1}, r"'num_generations' must be >= 2"),
        ("gspo", {"rewards": ["accuracy"]}, r"field 'rewards' has unknown or no reward names \['accuracy'\]"),
        ("gspo", {"gate": "both"}, r"field 'gate' must be one of"),
        ("gspo", {"preset": "ppo"}, r"field 'preset' must be one of"),
        ("gspo", {"tasks": ["dance QA"]}, r"field 'tasks' must be a non-empty list of"),
        ("gspo", {"tasks": []}, r"field 'tasks' must be a non-empty list of"),
        ("sft", {"task_repeats": {"dance QA": 2}}, r"field 'task_repeats' must map task types of"),
        ("sft", {"task_repeats": {"temporal QA": 0}}, r"field 'task_repeats' must map task types of"),
        ("sft", {"task_repeats": {"temporal QA": 1.5}}, r"field 'task_repeats' must map task types of"),
        ("sft", {"task_repeats": {"temporal QA": 2}, "sample_order": "random"}, r"'task_repeats' needs sample_order"),
    ],
)
def test_impossible_values_fail_before_training_naming_the_field(stage, overrides, message):
    with pytest.raises(ConfigError, match=message):
        _load(stage, **overrides)


def test_recipe_that_contradicts_its_preset_is_rejected(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("preset: gspo\nbeta: 0.04\n")
    with pytest.raises(ConfigError, match=r"field 'beta' = 0.04 conflicts with preset 'gspo'"):
        resolve_config("gspo", recipe)
    # an explicit override may change a preset field (an experiment), and wins
    merged, _ = resolve_config("gspo", "tiny-cpu", {"beta": 0.01})
    assert merged["beta"] == 0.01


def test_yaml_scientific_notation_strings_become_floats(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rate: 1e-5\nuse_cpu: true\nmax_length: null\n")  # YAML 1.1 reads 1e-5 as a string
    assert load_config("sft", recipe, output_dir=tmp_path).learning_rate == 1e-5


def test_missing_recipe_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match=r"no sft config named 'qwen-9000'; shipped: \["):
        resolve_config("sft", "qwen-9000")


# ----------------------------------------------------------------------------- DeepSpeed


def _filled(stage, name, **overrides):
    from o3v.model import real_config

    args = _load(stage, name, **overrides)
    return args, check_deepspeed(args, real_config(name), num_training_steps=1000)


@pytest.mark.parametrize(("stage", "name"), [(s, n) for s in STAGES for n in SHIPPED if n != "tiny-cpu"])
def test_deepspeed_configs_validate_against_the_training_arguments(stage, name):
    args, filled = _filled(stage, name)
    zero = filled["zero_optimization"]
    assert zero["stage"] == (2 if stage == "sft" else 3)
    assert filled["train_micro_batch_size_per_gpu"] == args.per_device_train_batch_size
    assert filled["gradient_accumulation_steps"] == args.gradient_accumulation_steps
    assert filled["gradient_clipping"] == args.max_grad_norm
    assert filled["bf16"]["enabled"] is True
    assert "auto" not in json.dumps(filled)  # every "auto" was filled from the arguments or the model config
    if stage == "gspo":
        hidden = 3584 if name == "qwen2.5-vl-7b" else 4096
        assert zero["reduce_bucket_size"] == hidden * hidden


def test_deepspeed_mismatch_with_training_arguments_is_caught(tmp_path):
    bad = json.loads((CONFIG_ROOT / "zero2.json").read_text())
    bad["train_micro_batch_size_per_gpu"] = 3
    path = tmp_path / "zero2-bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(
        ConfigError, match=r"(?s)field 'deepspeed'.*train_micro_batch_size_per_gpu=3 vs hf per_device_train"
    ):
        _filled("sft", "qwen2.5-vl-7b", deepspeed=str(path))


def test_deepspeed_typo_is_rejected_by_deepspeed_validation(tmp_path):
    bad = json.loads((CONFIG_ROOT / "zero3.json").read_text())
    bad["zero_optimization"]["stage3_prefetch_bucket_sizee"] = 1
    path = tmp_path / "zero3-typo.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="stage3_prefetch_bucket_sizee"):
        _filled("gspo", "qwen2.5-vl-7b", deepspeed=str(path))


def test_unknown_deepspeed_file_names_the_field():
    with pytest.raises(ConfigError, match=r"field 'deepspeed': 'zero9.json'"):
        _load("sft", deepspeed="zero9.json")


def test_presets_only_name_real_grpo_config_fields():
    from o3v.train.config import config_class

    fields = set(config_class("gspo").__dataclass_fields__)
    for preset in GSPO_PRESETS.values():
        assert set(preset) <= fields


def test_resolved_config_is_plain_yaml_and_never_holds_credentials():
    import yaml

    from o3v.train.config import resolved_dict

    resolved = resolved_dict(_load("gspo", hub_token="hf_secret"))
    assert resolved["hub_token"] == "<redacted>" and "hf_secret" not in yaml.safe_dump(resolved)
    assert resolved["preset"] == "gspo" and resolved["rewards"][0] == "answer_accuracy"
