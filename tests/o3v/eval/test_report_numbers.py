"""Report arithmetic: nested metric lookup, the standard error (measured spread or bound) and the verdict."""

import math
import random

import pytest

from o3v.eval.benchmarks.base import sd
from o3v.eval.report import compare, headline_rows, standard_error, value_at


def test_value_at_handles_dotted_keys():
    data = {"r@0.5": 0.3, "by_duration": {"long": {"mean": 0.25}}, "flag": True}
    assert value_at(data, "r@0.5") == 0.3 and value_at(data, "by_duration.long.mean") == 0.25
    assert value_at(data, "by_duration.short.mean") is None and value_at(data, "flag") is None


def test_standard_error_bound():
    assert standard_error(0.5, 0.5, 100) == pytest.approx(math.sqrt(0.5 / 100))
    assert standard_error(0.0, 1.0, 10) == 0.0 and standard_error(0.3, 0.2, 0) == math.inf


def test_standard_error_uses_measured_spreads_and_the_bound_only_where_one_is_missing():
    assert standard_error(0.5, 0.4, 100, 0.2, 0.1) == pytest.approx(math.sqrt(0.05 / 100))
    assert standard_error(0.5, 0.4, 100, 0.2) == pytest.approx(math.sqrt((0.04 + 0.24) / 100))
    assert standard_error(0.5, 0.4, 100, None, 0.1) == pytest.approx(math.sqrt((0.25 + 0.01) / 100))


@pytest.mark.parametrize("seed", range(20))
def test_sample_spread_of_unit_scores_never_exceeds_the_bound(seed):
    """Bhatia-Davis: a [0, 1] score with mean p has variance <= p(1 - p); the sample (n - 1) variance is at most
    n / (n - 1) times that, so the measured spread can only narrow the interval (up to Bessel's factor)."""
    rng = random.Random(seed)
    n = rng.randint(2, 300)
    values = [rng.choice([0.0, 1.0, rng.random()]) for _ in range(n)]
    p = sum(values) / n
    assert sd(values) ** 2 <= p * (1 - p) * n / (n - 1) + 1e-12


def test_compare_reports_which_variances_its_interval_used():
    bases = {"const": 0.43, "whole": 0.3}
    bound = compare(0.52, bases, 200)
    measured = compare(0.52, bases, 200, sd=0.25, baseline_sds={"const": 0.2, "whole": 0.5})
    assert bound["se_basis"] == "bound" and measured["se_basis"] == "sample sd"
    assert measured["se"] == pytest.approx(math.sqrt((0.25**2 + 0.2**2) / 200))  # the best baseline's own spread
    assert bound["verdict"] == "at baseline" and measured["verdict"] == "above baseline"
    assert compare(0.52, bases, 200, sd=0.25)["se_basis"] == "mixed"


@pytest.mark.parametrize(
    ("value", "bases", "n", "verdict"),
    [
        (0.62, {"whole": 0.62, "const": 0.66}, 200, "at baseline"),  # tiny-learning.md's GSPO constant
        (0.90, {"const": 0.66}, 200, "above baseline"),
        (0.10, {"const": 0.66}, 200, "below baseline"),
        (0.70, {"const": 0.66}, 4, "at baseline"),  # too few samples to tell
        (None, {"const": 0.66}, 200, "not scored"),
        (0.5, {}, 200, "no constant baseline"),
    ],
)
def test_compare_verdicts(value, bases, n, verdict):
    assert compare(value, bases, n)["verdict"] == verdict


def test_lower_is_better_flips_the_gap():
    assert compare(0.1, {"x": 0.6}, 400, lower_is_better=True)["verdict"] == "above baseline"


def test_headline_rows_carry_paper_numbers_and_blind_deltas():
    result = {
        "benchmark": "synthetic",
        "n_scored": 100,
        "metrics": {"option_accuracy": 0.9, "temporal_miou": 0.3, "n_option": 100, "n_temporal": 100},
        "baselines": {"majority_option": {"accuracy": 0.3}, "best_constant_span": {"temporal_miou": 0.5}},
        "blind_frame": {
            "n": 200,
            "metrics": {"option_accuracy": 0.3, "temporal_miou": 0.3, "n_option": 100, "n_temporal": 100},
        },
    }
    rows = {r["metric"]: r for r in headline_rows(result)}
    assert rows["option_accuracy"]["n"] == 100  # the standard error uses the metric's own sample count
    assert rows["option_accuracy"]["verdict"] == "above baseline" and rows["option_accuracy"]["blind"]["uses_frames"]
    assert rows["temporal_miou"]["verdict"] == "below baseline" and not rows["temporal_miou"]["blind"]["uses_frames"]
    assert rows["temporal_miou"]["se_basis"] == "bound"  # no spreads stored: the [0, 1] bound
    measured = {
        **result,
        "metrics": {**result["metrics"], "temporal_miou_sd": 0.1},
        "baselines": {**result["baselines"], "best_constant_span": {"temporal_miou": 0.5, "temporal_miou_sd": 0.2}},
    }
    row = {r["metric"]: r for r in headline_rows(measured)}["temporal_miou"]
    assert row["se_basis"] == "sample sd" and row["se"] == pytest.approx(math.sqrt(0.05 / 100))
    assert row["blind"]["se_basis"] == "mixed"  # the blind run stored no spread
    vstar = headline_rows({"benchmark": "vstar", "n_scored": 1, "metrics": {"mam": 0.2}, "baselines": {}})
    assert vstar[0]["paper"] == {"Open-o3 Video": 33.7, "Qwen2.5-VL-7B": 19.3}


def test_verdict_is_the_95_interval_excluding_zero():
    """The gap's interval is delta +- 1.96 se; "above" exactly when its lower end is above 0."""
    n = 200
    se = standard_error(0.5, 0.4, n)
    just_above = compare(0.4 + 1.97 * se, {"c": 0.4}, n)
    just_inside = compare(0.4 + 1.90 * se, {"c": 0.4}, n)
    lo, hi = just_above["ci95"]
    assert lo > 0 and hi > lo and just_above["verdict"] == "above baseline"
    assert just_inside["ci95"][0] < 0 and just_inside["verdict"] == "at baseline"


def test_grounded_verdict_needs_both_the_constant_and_the_blind_run():
    from o3v.eval.report import grounded_verdict

    blind_yes, blind_no = {"uses_frames": True}, {"uses_frames": False}
    assert grounded_verdict({"verdict": "above baseline", "blind": blind_yes}) == "above constant and blind"
    assert grounded_verdict({"verdict": "above baseline", "blind": blind_no}) == "above constant, not above blind"
    assert grounded_verdict({"verdict": "at baseline", "blind": blind_yes}) == "above blind, not above constant"
    assert grounded_verdict({"verdict": "at baseline", "blind": blind_no}) == "not above constant or blind"
