"""`o3v eval unseen`: the held-out-world generalisation check (verdict arithmetic, CLI contract, exit codes)."""

import json

import pytest

from o3v.cli import main
from o3v.eval.unseen import BOX_RATIO, TIME_MARGIN, lines, verdict


def _vstar(t1=0.56, t2=0.50, v1=0.26, v2=0.16, span=0.42, box=0.065):
    return {
        "metrics": {"tiou_chain1": t1, "tiou_chain2": t2, "viou_chain1": v1, "viou_chain2": v2},
        "baselines": {"best_constant_span": {"tiou": span}, "mean_box": {"viou": box}},
        "blind_frame": {"metrics": {"tiou_chain1": 0.35, "tiou_chain2": 0.36, "viou_chain1": 0.03, "viou_chain2": 0}},
        "n_scored": 200,
    }


def test_verdict_passes_only_when_both_bars_are_met():
    assert verdict(_vstar())["passed"]
    short_time = verdict(_vstar(t1=0.52, t2=0.50))  # mean 0.51: +0.09 over 0.42
    assert not short_time["passed"] and not short_time["time"]["passed"] and short_time["box"]["passed"]
    assert short_time["time"]["gap"] == pytest.approx(0.09)
    weak_boxes = verdict(_vstar(v1=0.14, v2=0.11))  # mean 0.125 < 2 x 0.065
    assert not weak_boxes["passed"] and weak_boxes["time"]["passed"] and weak_boxes["box"]["ratio"] == 1.92
    exact = verdict(_vstar(t1=0.52, t2=0.52, v1=0.13, v2=0.13, span=0.42, box=0.065))  # on the bars: pass
    assert exact["time"]["passed"] and exact["box"]["passed"]
    assert (TIME_MARGIN, BOX_RATIO) == (0.10, 2.0)


@pytest.mark.parametrize(
    "bad",
    [{}, {"metrics": None}, {"metrics": {"tiou_chain1": "0.5"}}, [], None, {"baselines": {"mean_box": {"viou": 0}}}],
)
def test_verdict_never_raises_and_fails_on_missing_figures(bad):
    result = verdict(bad)  # type: ignore[arg-type]
    assert result["passed"] is False and result["time"]["reason"] and result["box"]["reason"]
    assert all(line.startswith("FAIL") for line in lines(result))


def test_unseen_cli_writes_the_world_scores_and_a_failing_verdict(tmp_path, monkeypatch, capsys):
    """A model that always answers the whole clip and no box is scored on a fresh world and fails both bars."""
    from types import SimpleNamespace

    from o3v.eval import runner

    ip = SimpleNamespace(patch_size=16, merge_size=2, size={"shortest_edge": 3136, "longest_edge": 12544})
    monkeypatch.setattr(
        runner, "load_handle", lambda model, cfg: runner.ModelHandle(None, SimpleNamespace(image_processor=ip), model)
    )
    answer = "<answer>From <t>0</t>s to <t>4</t>s</answer>"
    monkeypatch.setattr(runner, "generate_texts", lambda h, convs, *a, **k: [answer] * len(convs))
    out = tmp_path / "unseen"
    rc = main(["eval", "unseen", "--model", "m", "--seed", "4242", "--out", str(out), "--videos", "8", "--limit", "3"])
    text = capsys.readouterr().out
    assert rc == 1, text
    assert "FAIL time" in text and "FAIL boxes" in text and "TVGBench" in text
    result = json.loads((out / "unseen.json").read_text())
    assert result["seed"] == 4242 and result["passed"] is False and result["n_vstar"] == 3
    assert json.loads((out / "world" / "synth.json").read_text())["seed"] == 4242
    assert (out / "vstar" / "metrics.json").is_file() and (out / "tvgbench" / "metrics.json").is_file()
    assert result["time"]["gap"] is not None and result["time"]["gap"] < TIME_MARGIN
    assert result["box"]["model"] == 0.0 and result["box"]["ratio"] == 0.0


def test_unseen_cli_rejects_a_bad_world_size(tmp_path, monkeypatch, capsys):
    from o3v.eval import runner

    monkeypatch.setattr(runner, "load_handle", lambda model, cfg: None)
    rc = main(["eval", "unseen", "--model", "m", "--seed", "1", "--out", str(tmp_path), "--videos", "0"])
    assert rc == 2 and "videos" in capsys.readouterr().err


def test_unseen_cli_names_a_missing_model_before_writing_a_world(tmp_path, capsys):
    rc = main(["eval", "unseen", "--model", str(tmp_path / "nope"), "--seed", "1", "--out", str(tmp_path / "o")])
    assert rc == 2 and "nope" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_verdict_puts_a_95_interval_beside_each_bar_that_narrows_with_more_items():
    small, large = _vstar() | {"n_scored": 50}, _vstar() | {"n_scored": 5000}
    for result in (verdict(small), verdict(large)):
        lo, hi = result["time"]["ci95"]
        assert lo < result["time"]["gap"] < hi
        lo, hi = result["box"]["ci95"]
        assert lo < result["box"]["ratio"] < hi
    width = {k: [verdict(v)[k]["ci95"][1] - verdict(v)[k]["ci95"][0] for v in (small, large)] for k in ("time", "box")}
    assert width["time"][1] < width["time"][0] / 5 and width["box"][1] < width["box"][0] / 5
    text = " ".join(lines(verdict(small)))
    assert "[95% " in text and "[95% x" in text
    no_count = verdict(_vstar() | {"n_scored": None})  # no interval without a count; the bars still decide
    assert no_count["time"]["ci95"] is None and no_count["box"]["ci95"] is None and no_count["passed"]
    assert "[95%" not in " ".join(lines(no_count))


def test_verdict_intervals_use_the_stored_per_item_spreads():
    """With `<metric>_sd` beside the means, the interval comes from the measured spread: the chain mean's spread is
    bounded by the mean of the two chains' spreads; without them it falls back to the wider [0, 1] bound."""
    import math

    from o3v.eval.report import Z95

    bound = _vstar()
    measured = _vstar()
    measured["metrics"] |= {"tiou_chain1_sd": 0.2, "tiou_chain2_sd": 0.3, "viou_chain1_sd": 0.1, "viou_chain2_sd": 0.2}
    measured["baselines"]["best_constant_span"]["tiou_sd"] = 0.1
    lo, hi = verdict(measured)["time"]["ci95"]
    half = Z95 * math.sqrt((0.25**2 + 0.1**2) / 200)
    assert (lo, hi) == (round(0.11 - half, 3), round(0.11 + half, 3))
    v_half = Z95 * 0.15 / math.sqrt(200)
    assert verdict(measured)["box"]["ci95"] == [round((0.21 - v_half) / 0.065, 2), round((0.21 + v_half) / 0.065, 2)]
    for k in ("time", "box"):
        wide, narrow = verdict(bound)[k]["ci95"], verdict(measured)[k]["ci95"]
        assert narrow[1] - narrow[0] < wide[1] - wide[0]
