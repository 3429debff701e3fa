"""The ablation library: aggregation maths, the variant configs, the fixed-σ knob, the table/plot/page."""

from __future__ import annotations

import json

import pytest

from o3v.ablation.aggregate import Interval, paired_difference, summarize, t_interval
from o3v.ablation.page import headline_text, write_outputs
from o3v.ablation.variants import GSPO_VARIANTS, VARIANTS, gspo_overrides, resolve_gspo
from o3v.rewards import get_reward_funcs
from o3v.train.config import ConfigError, resolve_config


def _vstar(mam: float, mlgm: float, blind: float = 0.1) -> dict:
    keys = ("tiou_chain1", "tiou_chain2", "viou_chain1", "viou_chain2")
    metrics = {"mam": mam, "mlgm": mlgm, **{k: mam for k in keys}}
    return {
        "metrics": metrics,
        "baselines": {"best_constant_span": {"tiou": 0.43}, "mean_box": {"viou": 0.07}, "constant_mam": {"mam": 0.17}},
        "blind_frame": {"metrics": {k: blind for k in metrics}},
    }


def _seed(seed: int, sft: float, gspo: float) -> dict:
    tvg = {"metrics": {"miou": 0.5}, "baselines": {"best_constant_span": {"miou": 0.43}}}
    log = [{"step": 1, "reward": 1.0, "reward_std": 0.4, "frac_reward_zero_std": 0.5, "rewards/format/mean": 0.9}]
    return {
        "seed": seed,
        "rows": {
            "base": {"vstar": _vstar(0.0, 0.0), "tvgbench": tvg},
            "sft": {"vstar": _vstar(sft, sft), "tvgbench": tvg},
            "gspo": {"vstar": _vstar(gspo, gspo), "tvgbench": tvg},
        },
        "gspo_logs": {"gspo": log},
    }


def test_t_interval_matches_the_textbook_value() -> None:
    # mean 0.3, sd 0.1, n 3: half-width t(0.975, 2) * 0.1 / sqrt(3) = 4.3027 * 0.05774 = 0.2484
    iv = t_interval([0.2, 0.3, 0.4])
    assert iv.mean == pytest.approx(0.3) and iv.hi - iv.mean == pytest.approx(0.24842, abs=1e-5)
    assert iv.excludes_zero()  # lo = 0.0516 > 0
    assert t_interval([1.0]).lo is None and not t_interval([1.0]).excludes_zero()


def test_paired_difference_removes_the_shared_seed_spread() -> None:
    sft, gspo = [0.2, 0.5, 0.8], [0.22, 0.52, 0.81]  # rows spread widely across seeds, the gain is steady
    assert t_interval(gspo).lo < t_interval(sft).hi  # unpaired, the rows' intervals overlap
    d = paired_difference(gspo, sft)
    assert d.excludes_zero() and d.mean > 0
    with pytest.raises(ValueError, match="one value per seed"):
        paired_difference([1.0], [1.0, 2.0])


def test_null_result_says_not_above(tmp_path) -> None:
    seeds = [_seed(0, 0.30, 0.33), _seed(1, 0.30, 0.27), _seed(2, 0.30, 0.31)]  # +0.03, -0.03, +0.01
    summary = write_outputs(seeds, tmp_path)
    d = summary["deltas"]["gspo"]["mAM"]
    assert d["ci95"][0] < 0 < d["ci95"][1]
    assert summary["headline"]["gspo"] == {"mAM": "not above", "mLGM": "not above"}
    assert summary["beats_sft"] is False
    page = (tmp_path / "ablation.html").read_text()
    assert "does not beat SFT only" in page and "not above" in page
    assert "50% of groups had zero std" in page  # why, from the GSPO logs
    assert "data:image/png;base64," in page and "<script" not in page
    assert (tmp_path / "ablation.png").stat().st_size > 5000
    assert (tmp_path / "gspo_diagnostics.png").is_file()
    table = (tmp_path / "ablation.md").read_text()
    assert "| SFT only |" in table and "best constant" in table and "↳ blind" in table
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["baselines"]["tIoU chain 1"] == pytest.approx(0.43)
    assert metrics["rows"]["sft"]["mAM"]["per_seed"] == [0.3, 0.3, 0.3]
    assert metrics["diagnostics"]["gspo"]["overall"]["frac_reward_zero_std"] == 0.5


def test_a_consistent_gain_is_above() -> None:
    seeds = [_seed(s, 0.30 + 0.1 * s, 0.35 + 0.1 * s + 0.001 * s) for s in range(3)]
    summary = summarize(seeds, ["base", "sft", "gspo"])
    assert summary["headline"]["gspo"] == {"mAM": "above", "mLGM": "above"}
    assert headline_text(summary)[0] is True and "beats SFT only" in headline_text(summary)[1]
    assert Interval(0.1, None, None, 1).excludes_zero() is False  # one seed: no interval, no claim


def test_rows_are_the_issues_six_and_every_gspo_variant_resolves() -> None:
    assert [v.name for v in VARIANTS] == [
        "base", "sft", "gspo", "gspo-gate-upstream", "gspo-fixed-sigma", "gspo-no-think"
    ]  # fmt: skip
    resolved = {v.name: resolve_gspo(v.name, max_steps=3) for v in GSPO_VARIANTS}
    assert all(r["max_steps"] == 3 for r in resolved.values())
    assert resolved["gspo"]["gate"] == "two-sided" and "proximity" not in resolved["gspo"]
    assert resolved["gspo-gate-upstream"]["gate"] == "upstream"
    assert resolved["gspo-fixed-sigma"]["proximity"] == "fixed" and resolved["gspo-fixed-sigma"]["fixed_sigma"] == 1.0
    assert not any(t.startswith("think_") for t in resolved["gspo-no-think"]["rewards"])
    assert {"answer_accuracy", "format"} <= set(resolved["gspo-no-think"]["rewards"])
    with pytest.raises(ValueError, match="unknown ablation variant"):
        gspo_overrides("gspo-nope")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"proximity": "constant"}, "proximity"), ({"proximity": "fixed", "fixed_sigma": 0}, "fixed_sigma"),
     ({"fixed_sigma": "wide"}, "fixed_sigma")],
)  # fmt: skip
def test_bad_proximity_settings_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        resolve_config("gspo", "tiny-cpu", overrides)


def test_fixed_sigma_changes_the_reward() -> None:
    ref = {"task": "temporal-spatial free-form QA", "key_frames": [{"time": 2.0}]}
    text = ["<think>at <t>4</t>s</think>"]
    adaptive = get_reward_funcs(["think_temporal_point"])[0]
    fixed = get_reward_funcs(["think_temporal_point"], proximity="fixed", fixed_sigma=1.0)[0]
    assert fixed.__name__ == adaptive.__name__ == "think_temporal_point"  # logged under the same key
    early = adaptive(text, [ref], progress=0.0)[0]  # σ = 4: exp(-4/32)
    assert early == pytest.approx(0.8825, abs=1e-4)
    assert fixed(text, [ref], progress=0.0)[0] == pytest.approx(0.1353, abs=1e-4)  # σ = 1: exp(-2)
    assert fixed(text, [ref], progress=1.0)[0] == adaptive(text, [ref], progress=1.0)[0]  # the schedule's end
    assert fixed(text, [ref])[0] == pytest.approx(0.1353, abs=1e-4)  # no progress needed
    with pytest.raises(ValueError, match="proximity"):
        get_reward_funcs(["think_temporal_point"], proximity="constant")
