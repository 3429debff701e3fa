"""Evaluation settings: one YAML per model size in `o3v/configs/eval/<name>.yaml`, parsed into `EvalConfig`.

Every knob a score depends on (frames, pixels, tokens, decoding, voting, judge) is a field here and is written
into `metrics.json` with the results. Per-benchmark overrides go under `benchmarks: {<name>: {...}}` with the
same keys. Unknown keys are an error naming the key (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from o3v.eval.frames import Sampling
from o3v.eval.judge import JudgeConfig

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "eval"
VOTING_METHODS = ("none", "majority", "confidence")


class ConfigError(ValueError):
    """A config that cannot be used; names the file or key."""


@dataclass
class VotingConfig:
    method: str = "none"  # none | majority | confidence (open-o3-video.md §10.4)
    n: int = 1
    temperature: float = 0.7  # the paper does not publish its TTS temperature (§13 pitfall 18)
    top_p: float = 1.0
    seed: int = 0


@dataclass
class EvalConfig:
    dtype: str = "auto"
    device: str | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    frames: Sampling = field(default_factory=Sampling)
    max_new_tokens: int = 512
    temperature: float = 0.0
    batch_size: int = 4
    threads: int | None = None  # torch intra-op threads (None: torch's default); 1 when evals share a small CPU
    limit: int | None = None
    parse_mode: str | None = None  # MCQ letter parsing override: strict | mmmu
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    voting: VotingConfig = field(default_factory=VotingConfig)
    blind_ablation: bool = True  # every benchmark: re-run each sample with another clip's frames (tiny-learning.md)
    frame_cache_bytes: int = 2 << 30
    frame_cache_dir: str | None = None
    gallery: int = 6
    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_benchmark(self, name: str) -> EvalConfig:
        """This config with the `benchmarks[name]` overrides applied (and no nested overrides left)."""
        base = to_dict(self)
        base.pop("benchmarks")
        return from_dict(_merge(base, self.benchmarks.get(name, {})), where=f"benchmarks.{name}")


_NESTED = {"frames": Sampling, "judge": JudgeConfig, "voting": VotingConfig}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _check_keys(data: dict, cls: type, where: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            raise ConfigError(f"{where}: unknown key '{key}'" + (f" (did you mean '{near[0]}'?)" if near else ""))


def from_dict(data: dict[str, Any], where: str = "config") -> EvalConfig:
    """Build and validate an `EvalConfig` from plain values."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping, got {type(data).__name__}")
    _check_keys(data, EvalConfig, where)
    values = dict(data)
    for key, cls in _NESTED.items():
        if key in values:
            if not isinstance(values[key], dict):
                raise ConfigError(f"{where}: '{key}' must be a mapping")
            _check_keys(values[key], cls, f"{where}.{key}")
            values[key] = cls(**values[key])
    from o3v.eval.benchmarks import NAMES

    for name, over in (values.get("benchmarks") or {}).items():
        if name not in NAMES:
            raise ConfigError(f"{where}: benchmarks.{name}: unknown benchmark; expected one of {list(NAMES)}")
        from_dict(over, f"{where}.benchmarks.{name}")
    cfg = EvalConfig(**values)
    _validate(cfg, where)
    return cfg


def _validate(cfg: EvalConfig, where: str) -> None:
    checks = [
        (cfg.frames.sample_fps > 0, "frames.sample_fps must be > 0"),
        (1 <= cfg.frames.min_frames <= cfg.frames.max_frames, "need 1 <= frames.min_frames <= frames.max_frames"),
        (cfg.max_new_tokens >= 1, "max_new_tokens must be >= 1"),
        (cfg.batch_size >= 1, "batch_size must be >= 1"),
        (cfg.temperature >= 0, "temperature must be >= 0"),
        (cfg.limit is None or cfg.limit >= 1, "limit must be >= 1 or null"),
        (cfg.parse_mode in (None, "strict", "mmmu"), "parse_mode must be strict, mmmu or null"),
        (cfg.voting.method in VOTING_METHODS, f"voting.method must be one of {list(VOTING_METHODS)}"),
        (cfg.voting.n >= 1, "voting.n must be >= 1"),
        (
            cfg.voting.method == "none" or cfg.voting.n == 1 or cfg.voting.temperature > 0,
            "voting.n > 1 needs voting.temperature > 0 (greedy samples are identical)",
        ),
        (
            cfg.judge.backend in ("exact", "openai", "transformers"),
            "judge.backend must be exact, openai or transformers",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{where}: {message}")


def to_dict(cfg: EvalConfig) -> dict[str, Any]:
    """Plain values (written into metrics.json)."""
    return dataclasses.asdict(cfg)


def config_path(name: str | Path) -> Path:
    """A config name (`tiny-cpu`) in `o3v/configs/eval/`, or a path to a YAML file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    packaged = CONFIG_DIR / f"{name}.yaml"
    if packaged.is_file():
        return packaged
    known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if p.stem != "paper")
    raise ConfigError(f"no eval config {str(name)!r}: not a YAML file and not one of {known}")


def load_config(config: str | Path | dict | EvalConfig | None = None, overrides: dict | None = None) -> EvalConfig:
    """An `EvalConfig` from a name, a path, a dict or an instance, plus overrides (dicts merge key by key)."""
    if isinstance(config, EvalConfig):
        data, where = to_dict(config), "config"
    elif isinstance(config, dict):
        data, where = config, "config dict"
    else:
        path = config_path(config or "tiny-cpu")
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    return from_dict(_merge(data, overrides or {}), where)
