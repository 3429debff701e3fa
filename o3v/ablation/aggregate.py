"""Per-seed ablation results -> means with 95% t-intervals, baselines, and paired GSPO-minus-SFT differences.

A seed's result (`SeedResult`, written by `o3v.artifacts.stages.ablation.seed_result`) holds, per row, the
eval result of each benchmark (the `metrics.json` of `o3v.eval.runner.evaluate`) and, per GSPO row, the
trainer's log history (`train_log.jsonl`). Everything here is pure: dicts in, dicts out.

Intervals are Student-t intervals over seeds (n seeds, n - 1 degrees of freedom): with 3 seeds the
half-width is 4.30 standard errors, so only a large, consistent gain excludes 0. The GSPO-minus-SFT difference
is paired by seed (same world, same SFT start), which removes the seed-to-seed spread the rows share.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# (label, benchmark, metric key in the eval result, key of the constant baselines' value)
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("mAM", "vstar", "mam", "mam"),
    ("mLGM", "vstar", "mlgm", "mlgm"),
    ("tIoU chain 1", "vstar", "tiou_chain1", "tiou"),
    ("tIoU chain 2", "vstar", "tiou_chain2", "tiou"),
    ("vIoU chain 1", "vstar", "viou_chain1", "viou"),
    ("vIoU chain 2", "vstar", "viou_chain2", "viou"),
    ("TVGBench mIoU", "tvgbench", "miou", "miou"),
)
HEADLINE = ("mAM", "mLGM")  # the goal: SFT+GSPO above SFT-only on these, interval excluding 0
# Per-step GSPO log keys the page plots (trl's names; see o3v.train.gspo).
DIAGNOSTICS = (
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "clip_ratio/region_mean",
    "completions/mean_length",
    "completions/clipped_ratio",
    "think_temporal_point/sigma",
)


@dataclass(frozen=True)
class Interval:
    """Mean over n seeds with its 95% t-interval (lo, hi are None for a single seed)."""

    mean: float
    lo: float | None
    hi: float | None
    n: int

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0."""
        return self.lo is not None and self.hi is not None and (self.lo > 0 or self.hi < 0)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for metrics.json)."""
        return {"mean": self.mean, "ci95": [self.lo, self.hi], "n": self.n}


def t_quantile(df: int, level: float = 0.95) -> float:
    """The two-sided Student-t critical value for `df` degrees of freedom.

    >>> round(t_quantile(2), 3), round(t_quantile(4), 3)
    (4.303, 2.776)
    """
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2, df))


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean and t-interval of `values` (one per seed).

    >>> t_interval([0.2, 0.3, 0.4])  # sd 0.1, se 0.0577, t(2) = 4.303
    Interval(mean=0.3, lo=0.051586, hi=0.548414, n=3)
    >>> t_interval([0.5])
    Interval(mean=0.5, lo=None, hi=None, n=1)
    """
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("t_interval needs at least one value")
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return Interval(round(mean, 6), None, None, len(xs))
    half = t_quantile(len(xs) - 1, level) * statistics.stdev(xs) / math.sqrt(len(xs))
    return Interval(round(mean, 6), round(mean - half, 6), round(mean + half, 6), len(xs))


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Interval:
    """t-interval of the per-seed differences a_i - b_i (same seeds, same order).

    >>> paired_difference([0.5, 0.6, 0.7], [0.4, 0.5, 0.6])  # the same +0.1 on every seed: no spread
    Interval(mean=0.1, lo=0.1, hi=0.1, n=3)
    >>> paired_difference([0.5, 0.4, 0.6], [0.45, 0.5, 0.5]).excludes_zero()
    False
    """
    if len(a) != len(b):
        raise ValueError(f"paired_difference needs one value per seed on both sides, got {len(a)} and {len(b)}")
    return t_interval([x - y for x, y in zip(a, b, strict=True)])


def best_constant(baselines: Mapping[str, Any], key: str) -> float | None:
    """The best constant baseline's value of `key` (e.g. "tiou") among an eval result's `baselines`.

    >>> best_constant({"whole_video_span": {"tiou": 0.37}, "best_constant_span": {"tiou": 0.43}}, "tiou")
    0.43
    >>> best_constant({"mean_box": {"viou": 0.07}}, "tiou") is None
    True
    """
    found = [
        float(b[key]) for b in baselines.values() if isinstance(b, Mapping) and isinstance(b.get(key), int | float)
    ]
    return max(found) if found else None


def metric_values(result: Mapping[str, Any], key: str) -> tuple[float | None, float | None]:
    """(model value, blind-frame value) of `key` in one eval result; None where absent."""
    value = result.get("metrics", {}).get(key)
    blind = (result.get("blind_frame") or {}).get("metrics", {}).get(key)
    return (None if value is None else float(value)), (None if blind is None else float(blind))


def _mean(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return round(statistics.fmean(vals), 6) if vals else None


def summarize(seeds: Sequence[Mapping[str, Any]], variants: Sequence[str], reference: str = "sft") -> dict[str, Any]:
    """The ablation's numbers from the per-seed results.

    Args:
        seeds: one dict per seed: {"seed": int, "rows": {variant: {benchmark: eval result}}}.
        variants: the row names in table order.
        reference: the row each GSPO row is compared with (paired by seed).

    Returns:
        {"n_seeds", "seeds", "metrics": [labels], "rows": {variant: {label: Interval dict + "blind"}},
         "baselines": {label: mean best constant}, "deltas": {variant: {label: Interval dict}},
         "headline": {variant: {label: "above" | "below" | "not above"}}}
    """
    rows: dict[str, dict[str, Any]] = {}
    per_seed: dict[str, dict[str, list[float]]] = {}
    baselines: dict[str, float | None] = {}
    for label, bench, key, base_key in METRICS:
        consts = []
        for s in seeds:
            results = [r.get(bench) for r in s["rows"].values() if r.get(bench)]
            consts.append(best_constant(results[0].get("baselines", {}), base_key) if results else None)
        baselines[label] = _mean(consts)
        for name in variants:
            got = [metric_values(s["rows"].get(name, {}).get(bench) or {}, key) for s in seeds]
            values = [v for v, _ in got if v is not None]
            per_seed.setdefault(name, {})[label] = values
            cell = t_interval(values).as_dict() if values else {"mean": None, "ci95": [None, None], "n": 0}
            cell["per_seed"] = values
            cell["blind"] = _mean(b for _, b in got)
            rows.setdefault(name, {})[label] = cell
    deltas: dict[str, dict[str, Any]] = {}
    headline: dict[str, dict[str, str]] = {}
    for name in variants:
        if name == reference or not name.startswith("gspo"):
            continue
        for label, *_ in METRICS:
            a, b = per_seed[name][label], per_seed.get(reference, {}).get(label, [])
            if not a or len(a) != len(b):
                continue
            d = paired_difference(a, b)
            deltas.setdefault(name, {})[label] = d.as_dict()
            if label in HEADLINE:
                headline.setdefault(name, {})[label] = verdict(d)
    return {
        "n_seeds": len(seeds),
        "seeds": [s.get("seed") for s in seeds],
        "metrics": [m[0] for m in METRICS],
        "rows": rows,
        "baselines": baselines,
        "deltas": deltas,
        "headline": headline,
        "reference": reference,
    }


def verdict(d: Interval) -> str:
    """ "above" / "below" when the paired interval excludes 0, else "not above" (a null, said plainly).

    >>> verdict(Interval(0.02, 0.01, 0.03, 3)), verdict(Interval(0.02, -0.01, 0.05, 3))
    ('above', 'not above')
    """
    if d.excludes_zero():
        return "above" if d.mean > 0 else "below"
    return "not above"


def diagnostics(logs: Sequence[Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """GSPO curves of one row over seeds: per step, the mean over seeds of each logged key, and per-run means.

    `logs` holds one trainer log history per seed (`train_log.jsonl` rows, each with a "step").

    >>> d = diagnostics([[{"step": 1, "reward": 1.0, "frac_reward_zero_std": 0.5}],
    ...                  [{"step": 1, "reward": 0.5, "frac_reward_zero_std": 0.0}]])
    >>> d["curves"]["reward"], d["overall"]["frac_reward_zero_std"]
    ([[1, 0.75]], 0.25)
    """
    curves: dict[str, list[list[float]]] = {}
    overall: dict[str, float | None] = {}
    keys = set(DIAGNOSTICS)
    for log in logs:
        for row in log:
            keys |= {k for k in row if k.startswith("rewards/") and k.endswith("/mean")}
    for key in sorted(keys):
        by_step: dict[int, list[float]] = {}
        for log in logs:
            for row in log:
                value = row.get(key)
                if isinstance(value, int | float) and math.isfinite(value) and "step" in row:
                    by_step.setdefault(int(row["step"]), []).append(float(value))
        if by_step:
            curves[key] = [[step, round(statistics.fmean(v), 6)] for step, v in sorted(by_step.items())]
            overall[key] = _mean(statistics.fmean(v) for v in by_step.values())
    return {"curves": curves, "overall": overall, "n_runs": len(logs)}
