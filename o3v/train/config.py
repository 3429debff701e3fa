"""Training configs: YAML recipes parsed into trl's own config classes, extended with o3v's few fields.

Recipes live in `o3v/configs/train/{sft,gspo}/<name>.yaml` (`tiny-cpu`, `qwen2.5-vl-7b`, `qwen3-vl-8b`), one
flat mapping per run: any `trl.SFTConfig` / `trl.GRPOConfig` field (they extend `TrainingArguments`) plus the
o3v fields below. Loading order: YAML -> GSPO preset -> overrides (`--set key=value`, KFP `overrides`).

Everything that can be checked before a model is loaded is checked here, and every error names the field:
unknown keys (with a did-you-mean), wrong types, impossible values (non-positive learning rate or batch,
`min_frames > max_frames`, a GSPO generation batch not divisible by the group size, ...), an unknown
DeepSpeed file. trl's own `__post_init__` checks run next and are re-raised naming the config file.

GSPO presets (open-o3-video.md §8, ml-stack.md §7.1):
- `gspo` (default): trl's documented GSPO setting: sequence-level ratios, `loss_type=grpo`, β = 0,
  ε = 3e-4 / 4e-4, `steps_per_generation=4` with one accumulation step, so three of every four
  optimizer steps are off-policy and the sequence clip is active.
- `upstream`: the reference run: group 4, β = 0.04, ε = 0.2, one update per rollout batch (on-policy, so
  the ratio is 1 and "GSPO" equals GRPO, §8.4).
A recipe must not set a preset-owned field to a different value (the preset would silently win); a
command-line override may, and is logged.

Rollouts (`rollouts`, GSPO only) choose the generator through trl's own vLLM integration and own trl's
`use_vllm` / `vllm_mode`: `hf` (`model.generate`, the CPU default), `vllm_colocate` (a vLLM engine inside every
training process, sharing its GPU), `vllm_server` (a separate vLLM server, its own pod in the pipeline). Sampling
settings are the same fields for all three (temperature, top_p, top_k, min_p, repetition_penalty,
max_completion_length); `o3v.train.gspo.rollout_kwargs` hands each backend the same banned vision tokens.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs" / "train"
STAGES = ("sft", "gspo")
SHIPPED = ("tiny-cpu", "qwen2.5-vl-7b", "qwen3-vl-8b")
GSPO_PRESETS: dict[str, dict[str, Any]] = {
    "gspo": {
        "importance_sampling_level": "sequence",
        "loss_type": "grpo",
        "beta": 0.0,
        "epsilon": 3e-4,
        "epsilon_high": 4e-4,
        "gradient_accumulation_steps": 1,
        "steps_per_generation": 4,
        "num_iterations": 1,
    },
    "upstream": {
        "importance_sampling_level": "sequence",
        "loss_type": "grpo",
        "beta": 0.04,
        "epsilon": 0.2,
        "epsilon_high": 0.2,
        "num_generations": 4,
        "gradient_accumulation_steps": 1,
        "steps_per_generation": 1,
        "num_iterations": 1,
        "temperature": 1.0,
        "top_p": 0.95,
    },
}


ROLLOUTS: dict[str, tuple[bool, str | None]] = {
    "hf": (False, None),
    "vllm_colocate": (True, "colocate"),
    "vllm_server": (True, "server"),
}


class ConfigError(ValueError):
    """A training config that cannot run; the message names the file and the field."""


def config_class(stage: str) -> type:
    """`SFTRunConfig` or `GSPORunConfig`."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    from o3v.train.arguments import GSPORunConfig, SFTRunConfig  # imports trl: only when a config is built

    return SFTRunConfig if stage == "sft" else GSPORunConfig


def config_path(stage: str, config: str | os.PathLike) -> Path:
    """A shipped recipe name (`tiny-cpu`) or a YAML path -> the file; raises `ConfigError` naming what is missing."""
    text = os.fspath(config)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or os.sep in text:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    shipped = CONFIG_ROOT / stage / f"{text}.yaml"
    if not shipped.is_file():
        names = sorted(p.stem for p in (CONFIG_ROOT / stage).glob("*.yaml"))
        raise ConfigError(f"no {stage} config named {text!r}; shipped: {names} (or pass a YAML path)")
    return shipped


def deepspeed_path(value: str) -> str:
    """`zero2.json` / `zero3.json` name the shipped files; anything else must be an existing path."""
    shipped = CONFIG_ROOT / value
    if os.sep not in value and shipped.is_file():
        return str(shipped)
    if not Path(value).is_file():
        raise ConfigError(f"field 'deepspeed': {value!r} is neither a shipped DeepSpeed config nor a file")
    return value


# ----------------------------------------------------------------------------- field checks


def _type_args(tp: Any) -> tuple[Any, ...]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return typing.get_args(tp)
    return (tp,)


def _coerce(name: str, value: Any, tp: Any, where: str) -> Any:
    """YAML scalars into the field's type: `1e-6` (a YAML string) -> float, 3 -> 3.0; anything else is an error."""
    allowed = _type_args(tp)
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigError(f"{where}: field '{name}' must not be null")
    if bool in allowed and isinstance(value, bool):
        return value
    if float in allowed and not isinstance(value, bool):
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    if int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    if int in allowed and isinstance(value, float) and value.is_integer() and float not in allowed:
        return int(value)
    simple = {bool, int, float}
    if set(allowed) <= simple | {type(None)}:
        want = " or ".join(t.__name__ for t in allowed if t is not type(None))
        raise ConfigError(f"{where}: field '{name}' must be {want}, got {value!r}")
    return value  # str / enum / dict / list fields: trl's own checks follow


def _positive(cfg: dict, names: tuple[str, ...], where: str, *, allow_zero: bool = False) -> None:
    for name in names:
        value = cfg.get(name)
        if value is None:
            continue
        if value < 0 or (value == 0 and not allow_zero):
            sign = ">= 0" if allow_zero else "> 0"
            raise ConfigError(f"{where}: field '{name}' must be {sign}, got {value}")


def _choice(cfg: dict, name: str, choices: tuple[str, ...], where: str) -> None:
    if name in cfg and cfg[name] not in choices:
        raise ConfigError(f"{where}: field '{name}' must be one of {list(choices)}, got {cfg[name]!r}")


def _check_task_repeats(cfg: dict, order: str, where: str) -> None:
    repeats = cfg.get("task_repeats")
    if repeats is None:
        return
    from o3v.records import TASKS

    if not isinstance(repeats, dict) or not all(
        t in TASKS and isinstance(n, int) and not isinstance(n, bool) and n >= 1 for t, n in repeats.items()
    ):
        raise ConfigError(
            f"{where}: field 'task_repeats' must map task types of {list(TASKS)} to integers >= 1, got {repeats!r}"
        )
    if repeats and order == "random":
        raise ConfigError(f"{where}: field 'task_repeats' needs sample_order grouped or curriculum, got random")


def check_values(stage: str, cfg: dict[str, Any], where: str) -> None:
    """Impossible values, named by field (before trl builds anything)."""
    from o3v.model import DTYPES

    _positive(
        cfg,
        (
            "learning_rate",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "fps",
            "min_frames",
            "max_frames",
            "frame_min_pixels",
            "frame_max_pixels",
            "save_steps",
            "logging_steps",
            "max_records",
            "num_generations",
            "max_completion_length",
            "steps_per_generation",
            "num_iterations",
            "temperature",
            "top_p",
        ),
        where,
    )
    _positive(
        cfg, ("weight_decay", "max_grad_norm", "lora_r", "lora_dropout", "beta", "epsilon"), where, allow_zero=True
    )
    _choice(cfg, "on_missing_video", ("error", "skip"), where)
    _choice(cfg, "sample_order", ("random", "grouped", "curriculum"), where)
    order = cfg.get("sample_order", "random")
    if order != "random" and cfg.get("train_sampling_strategy", "random") != "sequential":
        raise ConfigError(f"{where}: field 'sample_order: {order}' needs train_sampling_strategy: sequential")
    _check_task_repeats(cfg, order, where)
    if cfg.get("tasks") is not None:
        from o3v.records import TASKS

        tasks = cfg["tasks"]
        if not isinstance(tasks, list) or not tasks or not all(t in TASKS for t in tasks):
            raise ConfigError(f"{where}: field 'tasks' must be a non-empty list of {list(TASKS)}, got {tasks!r}")
    _choice(cfg, "model_dtype", DTYPES, where)
    for name in ("min_frames", "max_frames"):
        if cfg.get(name) is not None and cfg[name] % 2:
            raise ConfigError(
                f"{where}: field '{name}' must be even (Qwen's temporal patch is 2 frames), got {cfg[name]}"
            )
    if cfg.get("min_frames", 4) > cfg.get("max_frames", 16):
        raise ConfigError(
            f"{where}: field 'min_frames' ({cfg['min_frames']}) exceeds 'max_frames' ({cfg['max_frames']})"
        )
    lo, hi = cfg.get("frame_min_pixels"), cfg.get("frame_max_pixels")
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"{where}: field 'frame_min_pixels' ({lo}) exceeds 'frame_max_pixels' ({hi})")
    if cfg.get("max_steps", -1) <= 0 and cfg.get("num_train_epochs", 1) <= 0:
        raise ConfigError(f"{where}: field 'num_train_epochs' must be > 0 when max_steps is not set")
    if stage == "sft" and cfg.get("max_length") is not None:
        raise ConfigError(
            f"{where}: field 'max_length' must be null: trl truncates vision samples after appending the completion, "
            "which would cut the target; bound the prompt with max_frames / frame_max_pixels instead"
        )
    if stage == "gspo":
        _check_gspo(cfg, where)


def _check_gspo(cfg: dict[str, Any], where: str) -> None:
    from o3v.rewards import REWARDS
    from o3v.rewards.thinking import GATES, PROXIMITIES

    _choice(cfg, "preset", tuple(GSPO_PRESETS), where)
    _choice(cfg, "gate", GATES, where)
    _choice(cfg, "proximity", PROXIMITIES, where)
    sigma = cfg.get("fixed_sigma")
    if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, int | float)):
        raise ConfigError(f"{where}: field 'fixed_sigma' must be a number of seconds, got {sigma!r}")
    _positive(cfg, ("fixed_sigma",), where)
    unknown = [r for r in cfg.get("rewards") or () if r not in REWARDS]
    if unknown or cfg.get("rewards") == []:
        raise ConfigError(f"{where}: field 'rewards' has unknown or no reward names {unknown}; known: {list(REWARDS)}")
    group = cfg.get("num_generations", 8)
    if group is not None and group < 2:
        raise ConfigError(f"{where}: field 'num_generations' must be >= 2 (group-relative advantages), got {group}")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_step = cfg.get("per_device_train_batch_size", 8) * world
    steps = cfg.get("steps_per_generation") or cfg.get("gradient_accumulation_steps", 1)
    if (per_step * steps) % group:
        raise ConfigError(
            f"{where}: field 'per_device_train_batch_size' x world size x steps_per_generation "
            f"({cfg.get('per_device_train_batch_size', 8)} x {world} x {steps} = {per_step * steps} completions per "
            f"generation) must be divisible by 'num_generations' ({group})"
        )


# ----------------------------------------------------------------------------- loading


def _apply_preset(data: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    preset = overrides.get("preset", data.get("preset", "gspo"))
    if preset not in GSPO_PRESETS:
        raise ConfigError(f"{where}: field 'preset' must be one of {list(GSPO_PRESETS)}, got {preset!r}")
    fixed = GSPO_PRESETS[preset]
    for key, value in fixed.items():
        if key in data and data[key] != value:
            raise ConfigError(
                f"{where}: field '{key}' = {data[key]!r} conflicts with preset {preset!r} ({key} = {value!r}); "
                "remove it from the recipe, change the preset, or override it explicitly"
            )
    changed = {k: v for k, v in overrides.items() if k in fixed and v != fixed[k]}
    if changed:
        log.warning("overrides change fields of preset %r: %s", preset, changed)
    return {**data, **fixed, "preset": preset}


def _apply_rollouts(merged: dict[str, Any], where: str) -> dict[str, Any]:
    """`rollouts` -> trl's `use_vllm` / `vllm_mode`; setting those two directly to something else is an error."""
    mode = merged.get("rollouts", "hf")
    if mode not in ROLLOUTS:
        raise ConfigError(f"{where}: field 'rollouts' must be one of {list(ROLLOUTS)}, got {mode!r}")
    use_vllm, vllm_mode = ROLLOUTS[mode]
    for key, want in (("use_vllm", use_vllm), ("vllm_mode", vllm_mode)):
        if key in merged and want is not None and merged[key] != want:
            raise ConfigError(
                f"{where}: field '{key}' = {merged[key]!r} contradicts rollouts {mode!r} ({key} = {want!r}); "
                "choose the generator with 'rollouts' only"
            )
    out = {**merged, "rollouts": mode, "use_vllm": use_vllm}
    if vllm_mode is not None:
        out["vllm_mode"] = vllm_mode
    return out


def resolve_config(
    stage: str, config: str | os.PathLike | dict, overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """The merged, type-checked field dict of a recipe plus overrides, and where it came from."""
    overrides = dict(overrides or {})
    if isinstance(config, dict):
        data, where = dict(config), "config dict"
    else:
        path = config_path(stage, config)
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: must be a mapping of field: value, got {type(data).__name__}")
    cls = config_class(stage)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for source, mapping in ((where, data), ("overrides", overrides)):
        for key in mapping:
            if key in ("output_dir", "gradient_checkpointing", "gradient_checkpointing_kwargs"):
                hint = {
                    "output_dir": "it is the run's --out",
                    "gradient_checkpointing": "use 'activation_checkpointing' (transformers 5 renamed it)",
                    "gradient_checkpointing_kwargs": "use 'activation_checkpointing_kwargs'",
                }[key]
                raise ConfigError(f"{source}: field '{key}' is not settable here: {hint}")
            if key not in fields:
                near = difflib.get_close_matches(key, fields, n=1)
                raise ConfigError(
                    f"{source}: unknown field '{key}'" + (f" (did you mean '{near[0]}'?)" if near else "")
                )
    if stage == "gspo":
        data = _apply_preset(data, overrides, where)
    merged = {**data, **overrides}
    if stage == "gspo":
        merged = _apply_rollouts(merged, where)
    merged = {k: _coerce(k, v, fields[k].type, where) for k, v in merged.items()}
    if merged.get("deepspeed"):
        merged["deepspeed"] = deepspeed_path(merged["deepspeed"])
    check_values(stage, merged, where)
    return merged, where


def load_config(
    stage: str,
    config: str | os.PathLike | dict,
    overrides: dict[str, Any] | None = None,
    *,
    output_dir: str | os.PathLike,
) -> Any:
    """A recipe (name, path or dict) + overrides -> `SFTRunConfig` / `GSPORunConfig` for `output_dir`."""
    merged, where = resolve_config(stage, config, overrides)
    cls = config_class(stage)
    try:
        return cls(output_dir=str(output_dir), **merged)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def resolved_dict(cfg: Any) -> dict[str, Any]:
    """Every field of a loaded config as plain YAML-able values (written to `config.resolved.yaml`)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        if not f.init or f.name.startswith("_"):
            continue
        value = getattr(cfg, f.name)
        if "token" in f.name and value not in (None, ""):  # hub_token & co: never write credentials to disk
            value = "<redacted>"
        if hasattr(value, "value"):  # enums
            value = value.value
        if not isinstance(value, str | int | float | bool | list | dict | type(None)):
            value = str(value)
        out[f.name] = value
    return out


def check_deepspeed(args: Any, model_config: Any, num_training_steps: int) -> dict[str, Any]:
    """Fill and validate the DeepSpeed config against the TrainingArguments (ml-stack.md §8), without a launcher.

    transformers fills the "auto" values and collects every mismatch with the arguments (batch size, lr,
    clipping, ...); DeepSpeed's own pydantic model then rejects unknown keys and bad stages. Only the model's
    config is needed (hidden size), so this runs before any weights exist. Returns the filled config
    ({} without DeepSpeed); raises `ConfigError` naming the field.
    """
    if not args.deepspeed:
        return {}
    import copy
    from types import SimpleNamespace

    filled = copy.deepcopy(args.hf_deepspeed_config)  # finalize mutates; the trainer finalizes its own copy
    try:
        filled.trainer_config_finalize(args, SimpleNamespace(config=model_config), num_training_steps)
        from deepspeed import comm
        from deepspeed.runtime.config import DeepSpeedConfig

        # transformers matched train_batch_size to the launcher's world size; DeepSpeed's model counts the
        # processes its own comm knows (1 before it is initialised): validate that view of the same config.
        view = {**filled.config}
        world = comm.get_world_size() if comm.is_initialized() else 1
        view["train_batch_size"] = view["train_micro_batch_size_per_gpu"] * view["gradient_accumulation_steps"] * world
        DeepSpeedConfig(view)
    except (ValueError, TypeError, KeyError, AssertionError) as exc:
        raise ConfigError(f"field 'deepspeed' ({args.deepspeed}): {exc}") from exc
    return filled.config
