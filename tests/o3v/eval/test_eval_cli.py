"""CLI contracts of `o3v eval score / run / report` and `o3v infer` (argument names, outputs, exit codes)."""

import json
import os
import subprocess
import sys

import pytest

from o3v.cli import main

ITEM = {
    "vid": "vid_000",
    "domain": "d",
    "fps": 8,
    "frame_count": 80,
    "width": 160,
    "height": 120,
    "question": "what?",
    "chain": "",
    "object": "o",
    "answer": "a red star",
    "temporal_question": "when?",
    "timestamps": [2, 6],
    "spatial_question": "where?",
    "spatial_question_2": "where?",
    "bboxes": [{"timestamp": 3, "frame_index": 24, "xmin": 10, "ymin": 10, "xmax": 50, "ymax": 50}],
}
VSTAR_KEYS = {
    "acc",
    "tiou_chain1",
    "tiou_chain2",
    "viou_chain1",
    "viou_chain2",
    "am_chain1",
    "am_chain2",
    "lgm_chain1",
    "lgm_chain2",
    "mam",
    "mlgm",
}


@pytest.fixture
def vstar_files(tmp_path):
    ann = tmp_path / "V_STaR_test.json"
    ann.write_text(json.dumps([ITEM, dict(ITEM, vid="vid_001")]))
    result = [
        dict(
            ITEM,
            answer_vqa="a red star",
            judge_score=3,
            answer_temporal=[2, 6],
            answer_spatial={"3": [10, 10, 50, 50]},
            answer_temporal_2=[0, 10],
            answer_spatial_2={},
        ),
        dict(
            ITEM,
            vid="vid_001",
            answer_vqa="a cat",
            answer_temporal=[],
            answer_spatial=None,
            answer_temporal_2=[],
            answer_spatial_2=None,
        ),
    ]
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps(result))
    return ann, pred


def test_score_vstar_prints_and_writes_the_contract_keys(vstar_files, tmp_path, capsys):
    ann, pred = vstar_files
    out = tmp_path / "m.json"
    # Row 1 has no judge_score: the exact-match judge rates it (labelled as not the official judge).
    rc = main(
        [
            "eval",
            "score",
            "--benchmark",
            "vstar",
            "--annotations",
            str(ann),
            "--predictions",
            str(pred),
            "--out",
            str(out),
            "--judge",
            "exact",
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert rc == 0 and printed == json.loads(out.read_text())
    assert VSTAR_KEYS <= set(printed)
    assert printed["acc"] == 0.5 and printed["tiou_chain1"] == 0.5 and printed["viou_chain1"] == 0.5
    assert all(0.0 <= printed[k] <= 1.0 for k in VSTAR_KEYS if printed[k] is not None)  # fractions


def test_score_vstar_without_judge_scores_fails_naming_the_row(vstar_files, capsys):
    ann, pred = vstar_files
    rc = main(["eval", "score", "--benchmark", "vstar", "--annotations", str(ann), "--predictions", str(pred)])
    err = capsys.readouterr().err
    assert rc == 2 and "row 1" in err and "judge_score" in err


def test_score_tvgbench_contract_via_the_console_script(tmp_path):
    ann = tmp_path / "tvgbench.json"
    ann.write_text(
        json.dumps(
            [
                {"path": "a.mp4", "question": "q", "answer": "2-6", "duration": 10.0},
                {"path": "b.mp4", "question": "q", "answer": "0-5", "duration": 10.0},
            ]
        )
    )
    pred = tmp_path / "p.jsonl"
    pred.write_text('{"index": 0, "prediction": "2.0 to 6.0"}\n{"index": 1, "prediction": "no idea"}\n')
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "o3v.cli",
            "eval",
            "score",
            "--benchmark",
            "tvgbench",
            "--annotations",
            str(ann),
            "--predictions",
            str(pred),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert {k: m[k] for k in ("miou", "r@0.3", "r@0.5", "r@0.7")} == {
        "miou": 0.5,
        "r@0.3": 0.5,
        "r@0.5": 0.5,
        "r@0.7": 0.5,
    }


def test_score_mcq_reports_accuracy_unparsable_and_breakdowns(synth_world, tmp_path, capsys):
    ann = synth_world / "benchmarks" / "videomme" / "videomme" / "test-00000-of-00001.parquet"
    from o3v.eval.benchmarks import videomme

    samples = videomme.load(ann).strict()
    pred = tmp_path / "p.jsonl"
    pred.write_text(
        "\n".join(
            json.dumps(
                {"question_id": s.id, "prediction": f"<answer>{s.raw['answer']}</answer>" if i == 0 else "I think A"}
            )
            for i, s in enumerate(samples)
        )
    )
    assert (
        main(["eval", "score", "--benchmark", "videomme", "--annotations", str(ann), "--predictions", str(pred)]) == 0
    )
    m = json.loads(capsys.readouterr().out)
    n = len(samples)
    assert m["accuracy"] == pytest.approx(1 / n) and m["unparsable"] == pytest.approx((n - 1) / n)
    assert {"by_duration", "by_domain", "by_sub_category", "by_task_type"} <= set(m)


def test_eval_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = capsys.readouterr().out
    assert all(cmd in text for cmd in ("score", "run", "report", "unseen"))


def test_infer_returns_answer_evidence_confidence_and_an_image(synth_world, tiny_model, tmp_path, capsys):
    png = tmp_path / "answer.png"
    rc = main(
        [
            "infer",
            "--model",
            str(tiny_model),
            "--video",
            str(synth_world / "videos" / "vid_000.mp4"),
            "--question",
            "Where is the red star?",
            "--image",
            str(png),
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and png.is_file() and png.stat().st_size > 0
    assert set(out) >= {"answer", "evidence", "confidence", "raw", "video_size", "input_size"}
    world = json.loads((synth_world / "world.json").read_text())["videos"][0]
    assert out["video_size"] == [world["width"], world["height"]] and 0.0 <= out["confidence"] <= 1.0


def test_infer_converts_evidence_to_original_pixels_and_rates_it(synth_world, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from o3v.eval import runner
    from o3v.eval.infer import infer
    from o3v.model import model_input_size

    ip = SimpleNamespace(patch_size=14, merge_size=2, size={"shortest_edge": 3136, "longest_edge": 12544})
    handle = runner.ModelHandle(None, SimpleNamespace(image_processor=ip), "fake")
    world = json.loads((synth_world / "world.json").read_text())["videos"][0]
    w, h = world["width"], world["height"]
    iw, ih = model_input_size(handle.processor, w, h)  # e.g. 160x120 -> 112x84
    completion = (
        f"<think><obj>red star</obj><box>[{iw / 4},{ih / 4},{iw / 2},{ih / 2}]</box>at<t>2.5</t>s</think>\n"
        "<answer>From <t>2.5</t>s to <t>7</t>s</answer>"
    )
    seen = []

    def fake(h, convs, images, max_new_tokens, cfg, **kw):
        seen.append(len(images[0]))
        return ["1"] if convs[0][0]["content"][0]["text"].startswith("Only reply") else [completion]

    monkeypatch.setattr(runner, "generate_texts", fake)
    out = infer(
        handle,
        synth_world / "videos" / "vid_000.mp4",
        "When is the red star visible?",
        task="temporal QA",
        image_out=tmp_path / "a.png",
    )
    assert out["input_size"] == [iw, ih] and iw % 28 == 0 and ih % 28 == 0 and out["span"] == [2.5, 7.0]
    assert out["evidence"] == [{"object": "red star", "time": 2.5, "box": [w / 4, h / 4, w / 2, h / 2]}]
    assert out["confidence"] == 0.6 and out["rating_reply"] == "1" and seen[1] == 1  # one crop rated
    assert (tmp_path / "a.png").is_file()


def test_run_two_benchmarks_with_overrides_and_report(synth_world, tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from o3v.eval import runner

    ip = SimpleNamespace(patch_size=14, merge_size=2, size={"shortest_edge": 3136, "longest_edge": 12544})
    seen = {}

    def fake_handle(model, cfg):
        seen["max_new_tokens"] = cfg.max_new_tokens
        return runner.ModelHandle(None, SimpleNamespace(image_processor=ip), str(model))

    monkeypatch.setattr(runner, "load_handle", fake_handle)
    monkeypatch.setattr(runner, "generate_texts", lambda h, convs, *a, **k: ["<answer>A</answer>"] * len(convs))
    b = synth_world / "benchmarks"
    rc = main(
        [
            "eval",
            "run",
            "--model",
            "m",
            "--benchmark",
            "tvgbench",
            "videomme",
            "--annotations",
            str(b / "tvgbench" / "tvgbench.json"),
            str(b / "videomme" / "videomme" / "test-00000-of-00001.parquet"),
            "--media-root",
            str(synth_world),
            "--out",
            str(tmp_path),
            "--limit",
            "2",
            "--set",
            "max_new_tokens=8",
            "--report",
        ]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 0 and seen["max_new_tokens"] == 8
    assert [x.get("benchmark") for x in lines[:2]] == ["tvgbench", "videomme"] and lines[0]["n_scored"] == 2
    assert (tmp_path / "report" / "report.html").is_file() and lines[2]["report"].endswith("report.html")
    m = json.loads((tmp_path / "videomme" / "metrics.json").read_text())
    from o3v.eval.benchmarks import videomme

    first_two = videomme.load(b / "videomme" / "videomme" / "test-00000-of-00001.parquet").samples[:2]
    assert m["metrics"]["accuracy"] == sum(s.raw["answer"] == "A" for s in first_two) / 2  # the model always says A
    assert m["config"]["max_new_tokens"] == 8
