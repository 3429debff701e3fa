"""Held-out generalisation: score a model on a synthetic world generated with a seed its training never used.

`o3v eval unseen --model M --seed S --out OUT` writes the world (`o3v.synth.build.generate`), runs the V-STaR- and
TVGBench-format files through `o3v.eval.runner.evaluate` (the eval's own parser, constants and blind run), and
checks the bar of issue 10: mean tIoU over both V-STaR chains at least `TIME_MARGIN` above the best constant span,
and mean vIoU at least `BOX_RATIO` times the mean-box constant. The verdict, with every figure behind it, goes to
`OUT/unseen.json`; `verdict` is pure, so it also reads `metrics.json` files from any earlier `o3v eval run`.

The bars are checked on the point estimates, as the issue states them. Beside each sits a 95% interval from the
report's standard error (`o3v.eval.report.standard_error`, over the scored V-STaR items, from the per-item spreads
the scorer stores, or the [0, 1] bound where they are absent), so a reader sees whether a pass or a miss is within
sampling noise of its bar. The spread of a two-chain mean is bounded by the mean of the two chains' spreads (the
standard deviation is a norm). The box ratio's interval treats the mean-box constant as fixed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from o3v.eval.report import Z95, interval, sd_at, standard_error, value_at

log = logging.getLogger(__name__)

TIME_MARGIN = 0.10  # mean tIoU (both chains) minus the best constant span
BOX_RATIO = 2.0  # mean vIoU (both chains) over the mean-box constant
VERDICT_FILE = "unseen.json"


def _mean(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else sum(values) / len(values)  # type: ignore[arg-type]


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _rounded(ci: list[float] | None, digits: int) -> list[float] | None:
    return None if ci is None else [round(ci[0], digits), round(ci[1], digits)]


def verdict(vstar: dict, tvgbench: dict | None = None) -> dict:
    """The generalisation check from V-STaR's (and optionally TVGBench's) `metrics.json`; never raises.

    A figure that is missing makes its check fail with a reason instead of passing by default.

    Example:
        >>> v = {"metrics": {"tiou_chain1": 0.56, "tiou_chain2": 0.50, "viou_chain1": 0.26, "viou_chain2": 0.16},
        ...      "baselines": {"best_constant_span": {"tiou": 0.42}, "mean_box": {"viou": 0.065}},
        ...      "blind_frame": {"metrics": {"tiou_chain1": 0.36, "tiou_chain2": 0.37}}, "n_scored": 200}
        >>> r = verdict(v)
        >>> r["time"]["gap"], r["time"]["passed"], r["box"]["ratio"], r["box"]["passed"], r["passed"]
        (0.11, True, 3.23, True, True)
        >>> r["time"]["ci95"], r["box"]["ci95"]
        ([0.013, 0.207], [2.36, 4.1])
        >>> verdict({"metrics": {}})["passed"], verdict({"metrics": {}})["time"]["reason"]
        (False, 'V-STaR tIoU or the best constant span is missing')
    """

    def both(path: str, suffix: str = "") -> float | None:  # the mean of chain 1 and chain 2
        return _mean(value_at(vstar, f"{path}_chain1{suffix}"), value_at(vstar, f"{path}_chain2{suffix}"))

    t_model, v_model = both("metrics.tiou"), both("metrics.viou")
    t_blind, v_blind = both("blind_frame.metrics.tiou"), both("blind_frame.metrics.viou")
    span, box = value_at(vstar, "baselines.best_constant_span.tiou"), value_at(vstar, "baselines.mean_box.viou")
    n = _count(vstar.get("n_scored") if isinstance(vstar, dict) else None)
    time: dict[str, Any] = {"model": t_model, "best_constant_span": span, "blind": t_blind, "needs_gap": TIME_MARGIN}
    if t_model is None or span is None:
        time.update(gap=None, ci95=None, passed=False, reason="V-STaR tIoU or the best constant span is missing")
    else:
        sds = both("metrics.tiou", "_sd"), sd_at(vstar, "baselines.best_constant_span.tiou")
        ci = interval(t_model - span, standard_error(t_model, span, n, *sds)) if n else None
        time.update(gap=round(t_model - span, 4), ci95=_rounded(ci, 3), passed=t_model - span >= TIME_MARGIN)
    boxes: dict[str, Any] = {"model": v_model, "mean_box": box, "blind": v_blind, "needs_ratio": BOX_RATIO}
    if v_model is None or not box:
        boxes.update(ratio=None, ci95=None, passed=False, reason="V-STaR vIoU or the mean-box constant is missing")
    else:
        half = Z95 * standard_error(v_model, 0.0, n, both("metrics.viou", "_sd")) if n else None
        ci = None if half is None else [max(v_model - half, 0.0) / box, (v_model + half) / box]
        boxes.update(ratio=round(v_model / box, 2), ci95=_rounded(ci, 2), passed=v_model >= BOX_RATIO * box)
    out: dict[str, Any] = {"n_vstar": n}
    out.update(time=time, box=boxes, passed=bool(time["passed"] and boxes["passed"]))
    if tvgbench is not None:
        out["tvgbench"] = {
            "miou": value_at(tvgbench, "metrics.miou"),
            "best_constant_span": value_at(tvgbench, "baselines.best_constant_span.miou"),
            "blind": value_at(tvgbench, "blind_frame.metrics.miou"),
        }
    return out


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _ci(ci: list[float] | None, spec: str, prefix: str = "") -> str:
    return "" if not ci else f" [95% {prefix}{format(ci[0], spec)}, {prefix}{format(ci[1], spec)}]"


def lines(result: dict) -> list[str]:
    """The verdict in words, one line per check."""
    t, b = result["time"], result["box"]
    ok = {True: "PASS", False: "FAIL"}
    out = [
        f"{ok[t['passed']]} time: V-STaR mean tIoU {_fmt(t['model'])} vs best constant span "
        f"{_fmt(t['best_constant_span'])} (gap {_fmt(t['gap'], '+.3f')}{_ci(t.get('ci95'), '+.3f')}, "
        f"needs >= +{TIME_MARGIN:.2f}; blind {_fmt(t['blind'])})",
        f"{ok[b['passed']]} boxes: V-STaR mean vIoU {_fmt(b['model'])} vs mean box {_fmt(b['mean_box'])} "
        f"(x{_fmt(b['ratio'], '.2f')}{_ci(b.get('ci95'), '.2f', 'x')}, needs >= x{BOX_RATIO:.0f}; "
        f"blind {_fmt(b['blind'])})",
    ]
    if "tvgbench" in result:
        g = result["tvgbench"]
        out.append(
            f"info TVGBench mIoU {_fmt(g['miou'])} (best constant span {_fmt(g['best_constant_span'])}, "
            f"blind {_fmt(g['blind'])})"
        )
    return out


def run_unseen(
    model: str | Path,
    out_dir: str | Path,
    seed: int,
    *,
    videos: int = 680,
    config: str | Path = "tiny-cpu",
    limit: int | None = 200,
) -> dict:
    """Generate a world at `seed`, evaluate `model` on its V-STaR and TVGBench files, write and return the verdict."""
    from o3v.eval.config import load_config
    from o3v.eval.frames import FrameCache
    from o3v.eval.runner import evaluate, load_handle
    from o3v.synth.build import generate

    cfg = load_config(config)
    handle = load_handle(str(model), cfg)  # first: a wrong model path fails before the world is written
    out = Path(out_dir)
    world = out / "world"
    files = generate(world, videos, seed)["files"]
    cache = FrameCache(cfg.frame_cache_bytes, cfg.frame_cache_dir)
    results = {
        name: evaluate(handle, name, world / files[name], world, out / name, cfg, limit=limit, frame_cache=cache)
        for name in ("vstar", "tvgbench")
    }
    result = {"model": str(model), "seed": seed, "videos": videos, "limit": limit}
    result.update(verdict(results["vstar"], results["tvgbench"]))
    (out / VERDICT_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for line in lines(result):
        log.info("unseen world (seed %d): %s", seed, line)
    return result
