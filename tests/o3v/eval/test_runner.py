"""The runner: resumable predictions, rejects, voting, the blind-frame ablation (fake generation), and the
tiny model end to end on the synthetic V-STaR, TVGBench and VideoMME files with the HTML report."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from o3v.eval import runner
from o3v.eval.frames import FrameCache
from o3v.eval.runner import ModelHandle, evaluate

FAKE = ModelHandle(
    model=None,
    processor=SimpleNamespace(
        image_processor=SimpleNamespace(
            patch_size=14, merge_size=2, size={"shortest_edge": 3136, "longest_edge": 12544}
        )
    ),
    name="fake",
)


class FakeGenerate:
    """Stands in for `o3v.model.generate`: canned replies, every call recorded."""

    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def __call__(self, handle, convs, images, max_new_tokens, cfg, **kwargs):
        convs = convs if isinstance(convs[0], list) else [convs]
        self.calls.append(
            {
                "n": len(convs),
                "images": [len(i) for i in images] if isinstance(images[0], list) else [len(images)],
                **kwargs,
            }
        )
        n = kwargs.get("num_return_sequences", 1)
        return [self.reply(conv, i, kwargs) for conv in convs for i in range(n)]


def bench(world: Path, name: str) -> Path:
    return (
        world
        / "benchmarks"
        / {
            "vstar": "vstar/V_STaR_test.json",
            "tvgbench": "tvgbench/tvgbench.json",
            "videomme": "videomme/videomme/test-00000-of-00001.parquet",
        }[name]
    )


def sighted() -> object:
    """The tiny-cpu eval config without the blind-frame ablation (these tests count generate calls)."""
    from o3v.eval.config import load_config

    cfg = load_config("tiny-cpu")
    cfg.blind_ablation = False
    return cfg


def test_resume_skips_done_samples_and_repairs_a_torn_line(synth_world, tmp_path, monkeypatch):
    fake = FakeGenerate(lambda conv, i, kw: "<answer>From <t>1</t>s to <t>3</t>s</answer>")
    monkeypatch.setattr(runner, "generate_texts", fake)
    out = tmp_path / "tvg"
    evaluate(FAKE, "tvgbench", bench(synth_world, "tvgbench"), synth_world, out, sighted(), limit=2)
    assert sum(c["n"] for c in fake.calls) == 2
    preds = out / "predictions.jsonl"
    preds.write_text(preds.read_text() + '{"index": 2, "predic')  # a crash mid-write
    fake.calls.clear()
    result = evaluate(FAKE, "tvgbench", bench(synth_world, "tvgbench"), synth_world, out, sighted(), limit=4)
    assert sum(c["n"] for c in fake.calls) == 2  # samples 2 and 3 only
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3] and rows[0]["prediction"] == "1 to 3"
    assert result["n_scored"] == 4 and set(result["metrics"]) >= {"miou", "r@0.3", "r@0.5", "r@0.7"}
    assert json.loads((out / "metrics.json").read_text())["timing"]["inference_s"] >= 0
    fake.calls.clear()
    again = evaluate(FAKE, "tvgbench", bench(synth_world, "tvgbench"), synth_world, out, sighted(), limit=1)
    assert fake.calls == [] and again["n_scored"] == 1  # a smaller --limit rescoring the rows it has


def test_missing_media_is_rejected_with_its_reason(synth_world, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "generate_texts", FakeGenerate(lambda *a: "1 to 2"))
    items = json.loads(bench(synth_world, "tvgbench").read_text())[:3]
    items[1]["path"] = "nowhere.mp4"
    items[2]["answer"] = "soon"  # a malformed annotation row
    ann = tmp_path / "tvgbench.json"
    ann.write_text(json.dumps(items))
    result = evaluate(FAKE, "tvgbench", ann, synth_world, tmp_path / "out", sighted())
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert result["n_scored"] == 1 and result["n_rejected"] == 2
    assert {(r["stage"], r["index"]) for r in rejects} == {("load", 2), ("media", 1)}
    assert "nowhere.mp4" in next(r["reason"] for r in rejects if r["stage"] == "media")


@pytest.mark.parametrize("method", ["majority", "confidence"])
def test_voting_records_every_sample_and_weight(synth_world, tmp_path, monkeypatch, method):
    claim = "<think><obj>square</obj><box>[10,10,40,40]</box>at<t>1</t>s</think>"

    def reply(conv, i, kw):
        if conv[0]["content"][0]["text"].startswith("Only reply"):
            return "2"  # the relevance rating
        return [
            f"{claim}<answer>B</answer>",
            "<think>x</think><answer>C</answer>",
            "<answer>?</answer>",
            "<think>x</think><answer>C</answer>",
        ][i]

    fake = FakeGenerate(reply)
    monkeypatch.setattr(runner, "generate_texts", fake)
    over = {"voting": {"method": method, "n": 4, "temperature": 0.7}}
    from o3v.eval.config import load_config

    result = evaluate(
        FAKE, "videomme", bench(synth_world, "videomme"), synth_world, tmp_path, load_config("tiny-cpu", over), limit=1
    )
    row = json.loads((tmp_path / "predictions.jsonl").read_text().splitlines()[0])
    vote = row["vote"]
    assert vote["letters"] == ["B", "C", "", "C"] and len(vote["samples"]) == 4
    if method == "majority":
        assert vote["weights"] == [1.0, 1.0, 0.0, 1.0] and vote["letter"] == "C"
    else:  # B's evidence is rated 2 -> 1.0; C has no evidence -> 0.2 each; invalid -> 0
        assert vote["weights"] == [1.0, 0.2, 0.0, 0.2] and vote["ratings"][0] == "2" and vote["letter"] == "B"
        assert any(c["images"] == [1] for c in fake.calls)  # one crop sent for rating
    assert row["prediction"].endswith(f"<answer>{vote['letter']}</answer>")
    assert result["metrics"]["n"] == 1


def test_blind_frame_ablation_uses_another_clip(synth_world, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "generate_texts", FakeGenerate(lambda *a: "<think>x</think><answer>A</answer>"))
    result = evaluate(
        FAKE, "synthetic", synth_world / "stgr" / "STGR-RL.json", synth_world, tmp_path, "tiny-cpu", limit=12
    )
    blind = result["blind_frame"]
    assert blind and blind["n"] == 12 and (tmp_path / "predictions_blind.jsonl").is_file()
    from o3v.eval.benchmarks import synthetic

    by_id = {s.id: s for s in synthetic.load(synth_world / "stgr" / "STGR-RL.json").samples}
    for sid, other in blind["pairs"].items():
        mine, theirs = by_id[sid], by_id[other]
        assert (mine.video or mine.image) != (theirs.video or theirs.image)
        assert bool(mine.video) == bool(theirs.video)
    # Same canned answer with and without the right frames: identical scores, as a frame-blind model gets.
    assert blind["metrics"]["option_accuracy"] == result["metrics"]["option_accuracy"]
    # Every grounded mean scored on two or more items stores its per-item spread beside it, as do its constants.
    m, b = result["metrics"], result["baselines"]
    for metric, count, constant in (
        ("temporal_miou", "n_temporal", "best_constant_span"),
        ("box_miou", "n_box", "mean_box_answer"),
        ("evidence_miou", "n_evidence", "mean_box_evidence"),
    ):
        assert (m.get(f"{metric}_sd") is not None) == (m.get(count, 0) >= 2), metric
        assert b[constant][f"{metric}_sd"] is not None, metric


@pytest.fixture(scope="module")
def tiny_run(synth_world, tiny_model, tmp_path_factory):
    """The tiny model on three synthetic benchmark files (2 samples each), one model and one frame cache."""
    from o3v.eval.config import load_config
    from o3v.eval.report import build_report

    out = tmp_path_factory.mktemp("tiny-eval")
    cfg = load_config("tiny-cpu", {"max_new_tokens": 24})
    handle = runner.load_handle(tiny_model, cfg)
    cache = FrameCache()
    results = {
        name: evaluate(
            handle, name, bench(synth_world, name), synth_world, out / name, cfg, limit=2, frame_cache=cache
        )
        for name in ("vstar", "tvgbench", "videomme")
    }
    report = build_report([out / n for n in results], out / "report")
    return out, results, report, cache


def test_tiny_model_end_to_end(tiny_run):
    out, results, report, cache = tiny_run
    for name, res in results.items():
        assert res["n_scored"] == 2, name
        assert len((out / name / "predictions.jsonl").read_text().splitlines()) == 2
        assert res["baselines"], name
    vstar = results["vstar"]
    assert set(vstar["metrics"]) >= {"acc", "tiou_chain1", "viou_chain2", "mam", "mlgm"}
    assert "NOT the official judge" in vstar["metrics"]["judge"]["label"]
    assert (out / "vstar" / "results.json").is_file() and (out / "vstar" / "judge.jsonl").is_file()
    assert cache.stats.hits > 0  # the three files share clips: later benchmarks reuse decoded frames


def test_report_is_self_contained_and_shows_baselines(tiny_run):
    out, results, report, _ = tiny_run
    html = Path(report["html"]).read_text()
    assert "data:image/png;base64," in html and "<link" not in html and "src='http" not in html
    assert "At baseline" in html and "best_constant_span" in html and "paper: Open-o3 Video" in html
    combined = json.loads(Path(report["metrics"]).read_text())
    assert set(combined["benchmarks"]) == {"vstar", "tvgbench", "videomme"}
    rows = combined["verdicts"]["tvgbench"]
    assert rows[0]["metric"] == "miou" and rows[0]["verdict"] in ("at baseline", "below baseline")
    # The grounded means carry their per-item spread, so the intervals use it instead of the [0, 1] bound.
    assert rows[0]["se_basis"] == "sample sd" and rows[0]["blind"]["se_basis"] == "sample sd"
    base = results["vstar"]["baselines"]
    assert base["best_constant_span"]["tiou_sd"] is not None and base["mean_box"]["viou_sd"] is not None
