"""Curation config: typed sections built from `o3v/configs/curate/default.yaml` plus a user file or dict.

A user config only lists what it changes; it is deep-merged over the packaged default. Unknown keys
and wrongly typed values are errors that name the key (a typo must not silently keep a default).

Sections: `annotate` (sources, teacher), `filter` (box/time rules, category verifier), `check`
(consistency rules, rewrite), `openai` / `local` (the model backends any stage may use) and
`gates` (one threshold set per Great Expectations suite).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "curate" / "default.yaml"
GATE_SUITES = ("raw", "filtered", "consistent")
TEACHERS = ("synthetic", "openai", "local")
VERIFIERS = ("auto", "oracle", "openai", "local", "none")
REWRITERS = ("none", "openai", "local")


class ConfigError(ValueError):
    """A config key that is unknown, mistyped or out of range; the message names the key."""


@dataclass(frozen=True)
class AnnotateConfig:
    teacher: str = "synthetic"
    media_root: str | None = None
    cache_dir: str | None = None
    num_frames: int = 8
    max_frame_side: int = 448
    items_per_video: int = 3


@dataclass(frozen=True)
class FilterConfig:
    max_box_area: float = 0.8
    time_slack_s: float = 0.0
    verifier: str = "auto"
    verifier_iou: float = 0.5
    verifier_on_unclear: str = "reject"
    crop_pad: float = 0.1


@dataclass(frozen=True)
class CheckConfig:
    time_tolerance_s: float = 1.0
    box_iou: float = 0.5
    span_tolerance_s: float = 0.05
    require_well_formed_claims: bool = True
    near_duplicate_similarity: float = 0.92
    rewrite: str = "none"


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str = ""
    model: str = ""
    api_key_env: str | None = "OPENAI_API_KEY"
    max_concurrency: int = 4
    max_retries: int = 5
    timeout_s: float = 120.0
    temperature: float = 0.0
    max_tokens: int = 4096
    json_mode: bool = True
    jpeg_quality: int = 85


@dataclass(frozen=True)
class LocalConfig:
    model: str | None = None
    max_new_tokens: int = 1024


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of one GX suite; shares are the fraction of records (GX `mostly`)."""

    min_records: int = 1
    required_tasks: tuple[str, ...] = ()
    min_task_share: float = 0.0
    max_task_share: float = 1.0
    reasoning_not_null: float = 0.9
    box_in_range: float = 1.0
    box_area_ok: float = 1.0
    times_in_video: float = 1.0
    mean_box_area: tuple[float, float] = (0.0, 0.5)
    mean_key_time_frac: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class CurateConfig:
    annotate: AnnotateConfig = field(default_factory=AnnotateConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    check: CheckConfig = field(default_factory=CheckConfig)
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    local: LocalConfig = field(default_factory=LocalConfig)
    gates: dict[str, GateConfig] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (written next to stage outputs as the resolved config)."""
        return dataclasses.asdict(self)


def _merge(base: dict, override: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, val in override.items():
        if key not in base:
            raise ConfigError(f"unknown config key '{where}{key}'; known: {sorted(base)}")
        if isinstance(base[key], dict) and isinstance(val, dict):
            out[key] = _merge(base[key], val, f"{where}{key}.")
        else:
            out[key] = val
    return out


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check `value` against a dataclass field type (the few shapes this config uses)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"config key '{key}' must have {len(args)} items, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise ConfigError(f"config key '{key}' must be {hint.__name__}, got {value!r}")
    return value


def _build(cls: type, data: dict, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(data[f.name], hints[f.name], f"{where}{f.name}")
    return cls(**kwargs)


def _check_choice(value: str, choices: tuple[str, ...], key: str) -> None:
    if value not in choices:
        raise ConfigError(f"config key '{key}' must be one of {list(choices)}, got {value!r}")


def load_config(config: str | Path | dict | CurateConfig | None = None, overrides: dict | None = None) -> CurateConfig:
    """The packaged default merged with `config` (a YAML path, a dict, or an already built config),
    then with `overrides` (a nested dict, e.g. from CLI flags)."""
    if isinstance(config, CurateConfig):
        if not overrides:
            return config
        config = config.to_dict()
    base = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    if config is None:
        override: dict = {}
    elif isinstance(config, dict):
        override = config
    else:
        path = Path(config)
        try:
            override = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read curate config {path}: {exc}") from exc
        if not isinstance(override, dict):
            raise ConfigError(f"curate config {path} must be a mapping, got {type(override).__name__}")
    merged = _merge(_merge(base, override, ""), overrides or {}, "")
    gates = {}
    for name, raw in merged["gates"].items():
        if name not in GATE_SUITES:
            raise ConfigError(f"unknown gate suite 'gates.{name}'; expected one of {list(GATE_SUITES)}")
        gates[name] = _build(GateConfig, raw, f"gates.{name}.")
    cfg = CurateConfig(
        annotate=_build(AnnotateConfig, merged["annotate"], "annotate."),
        filter=_build(FilterConfig, merged["filter"], "filter."),
        check=_build(CheckConfig, merged["check"], "check."),
        openai=_build(OpenAIConfig, merged["openai"], "openai."),
        local=_build(LocalConfig, merged["local"], "local."),
        gates=gates,
    )
    _check_choice(cfg.annotate.teacher, TEACHERS, "annotate.teacher")
    _check_choice(cfg.filter.verifier, VERIFIERS, "filter.verifier")
    _check_choice(cfg.filter.verifier_on_unclear, ("reject", "keep"), "filter.verifier_on_unclear")
    _check_choice(cfg.check.rewrite, REWRITERS, "check.rewrite")
    if not 0.0 < cfg.filter.max_box_area <= 1.0:
        raise ConfigError(f"config key 'filter.max_box_area' must be in (0, 1], got {cfg.filter.max_box_area}")
    if cfg.check.time_tolerance_s < 0 or cfg.check.span_tolerance_s < 0:
        raise ConfigError("config keys 'check.time_tolerance_s' and 'check.span_tolerance_s' must be >= 0")
    if cfg.openai.max_concurrency < 1:
        raise ConfigError(f"config key 'openai.max_concurrency' must be >= 1, got {cfg.openai.max_concurrency}")
    return cfg
