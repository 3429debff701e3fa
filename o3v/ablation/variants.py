"""The ablation's rows: which model each one is and, for the SFT+GSPO rows, the GSPO recipe overrides.

Every GSPO row starts from the same SFT model of its seed and runs the `tiny-cpu` GSPO recipe plus its own
overrides; only the named switch differs from the o3v default (open-o3-video.md §9.2, §9.4, §14):

| row | model | overrides |
|---|---|---|
| `base` | the untrained tiny model | – |
| `sft` | SFT only | – |
| `gspo` | SFT+GSPO, o3v default: two-sided gate, adaptive σ | – |
| `gspo-gate-upstream` | SFT+GSPO, the reference's one-sided gate | `gate: upstream` |
| `gspo-fixed-sigma` | SFT+GSPO, constant σ = 1 s (no adaptive proximity) | `proximity: fixed`, `fixed_sigma: 1.0` |
| `gspo-no-think` | SFT+GSPO with r_acc + r_fmt only (no r_thk terms) | `rewards:` without the `think_*` terms |

The constant σ is 1 s: the schedule's own end value (σ = 1 for ρ >= 0.75) and the width of the temporal gate,
so the row removes only the annealing. σ = 4 (the schedule's start) would make the term almost constant on
the synthetic world's 4 s clips (exp(-d²/32) >= 0.6 for any time in the clip) and so ablate the term itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from o3v.rewards import ALL_TERMS
from o3v.rewards.thinking import FIXED_SIGMA

Stage = Literal["base", "sft", "gspo"]
ANSWER_AND_FORMAT = tuple(t for t in ALL_TERMS if not t.startswith("think_"))


@dataclass(frozen=True)
class Variant:
    """One row of the ablation: its key, a label for tables, the stage that made the model, GSPO overrides."""

    name: str
    label: str
    stage: Stage
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The name as a Python identifier (KFP input names): `gspo-fixed-sigma` -> `gspo_fixed_sigma`."""
        return self.name.replace("-", "_")


VARIANTS: tuple[Variant, ...] = (
    Variant("base", "base (untrained)", "base"),
    Variant("sft", "SFT only", "sft"),
    Variant("gspo", "SFT+GSPO (o3v: two-sided gate, adaptive σ)", "gspo"),
    Variant("gspo-gate-upstream", "SFT+GSPO, gate: upstream", "gspo", {"gate": "upstream"}),
    Variant(
        "gspo-fixed-sigma",
        f"SFT+GSPO, fixed σ = {FIXED_SIGMA:g} s",
        "gspo",
        {"proximity": "fixed", "fixed_sigma": FIXED_SIGMA},
    ),
    Variant("gspo-no-think", "SFT+GSPO, r_acc + r_fmt only", "gspo", {"rewards": list(ANSWER_AND_FORMAT)}),
)
BY_NAME: dict[str, Variant] = {v.name: v for v in VARIANTS}
GSPO_VARIANTS: tuple[Variant, ...] = tuple(v for v in VARIANTS if v.stage == "gspo")


def variant(name: str) -> Variant:
    """The variant called `name`; an unknown name is a ValueError listing the known ones.

    >>> variant("gspo-gate-upstream").overrides
    {'gate': 'upstream'}
    """
    if name not in BY_NAME:
        raise ValueError(f"unknown ablation variant {name!r}; one of {list(BY_NAME)}")
    return BY_NAME[name]


def gspo_overrides(name: str, base: Mapping[str, Any] | None = None, max_steps: int = 0) -> dict[str, Any]:
    """The GSPO recipe overrides of variant `name`: `base` (the run's own), then `max_steps` (> 0), then the variant's.

    The variant's switch wins: the row must be the ablation it names whatever else the run overrides.

    >>> gspo_overrides("gspo-fixed-sigma", {"max_steps": 5, "seed": 1}, max_steps=30)
    {'max_steps': 30, 'seed': 1, 'proximity': 'fixed', 'fixed_sigma': 1.0}
    >>> gspo_overrides("gspo-no-think")["rewards"]
    ['answer_accuracy', 'answer_temporal_iou', 'answer_visual_iou', 'format']
    """
    v = variant(name)
    if v.stage != "gspo":
        raise ValueError(f"ablation variant {name!r} is not a GSPO row (stage {v.stage!r})")
    out = dict(base or {})
    if max_steps and int(max_steps) > 0:
        out["max_steps"] = int(max_steps)
    return {**out, **{k: (list(x) if isinstance(x, list | tuple) else x) for k, x in v.overrides.items()}}


def eval_overrides(base: Mapping[str, Any] | None = None, limit: int = 0, blind: bool = True) -> dict[str, Any]:
    """Eval config overrides: `base`, then `limit` samples per benchmark (> 0) and the blind-frame run on/off.

    >>> eval_overrides({"batch_size": 8}, limit=4, blind=False)
    {'batch_size': 8, 'limit': 4, 'blind_ablation': False}
    """
    out = dict(base or {})
    if limit and int(limit) > 0:
        out["limit"] = int(limit)
    out["blind_ablation"] = bool(blind)
    return out


def resolve_gspo(name: str, config: str = "tiny-cpu", base: Mapping[str, Any] | None = None, max_steps: int = 0):
    """The validated GSPO recipe of variant `name` (`o3v.train.config.resolve_config`; raises ConfigError)."""
    from o3v.train.config import resolve_config

    return resolve_config("gspo", config, gspo_overrides(name, base, max_steps))[0]
