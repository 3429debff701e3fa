"""`o3v infer` against a synthetic world's truth: object naming, tIoU, per-box IoU, the evidence page, the CLI."""

import doctest
import json
import re
import shutil
from types import SimpleNamespace

import pytest

from o3v.cli import main
from o3v.eval import evidence_page, infer, truth
from o3v.eval.infer import read_completion
from o3v.eval.render import GT_COLOR, PRED_COLOR
from o3v.eval.truth import Scene, TruthError, named_object, scene_for, score
from o3v.geometry import to_pixels
from o3v.grounded import Claim, render_claim, render_completion, render_span
from o3v.htmlpage import external_references

NAMES = ["red square", "blue star", "green circle"]


@pytest.mark.parametrize("module", [truth, evidence_page, infer])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("When is the red square visible?", "red square"),
        ("Where is the RED SQUARE in the video?", "red square"),
        ("Where is the star?", "blue star"),
        ("the green object", "green circle"),
        ("the red star", None),  # colour of one object, shape of another
        ("the purple square", None),  # a colour the video does not have
        ("the hexagon", None),
        ("After the blue star appears, what does the red square do?", None),  # two objects
        ("What happens in the video?", None),
        ("squares", None),  # a word is not a prefix match
    ],
)
def test_named_object(text, expected):
    assert named_object(text, NAMES) == expected


def _scene() -> Scene:
    boxes = {"red square": [None, [0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0], None], "blue star": [[0, 0, 1, 1]] * 4}
    return Scene("v", "video", "w.json", "eval", 2.0, 2.0, {"red square": (0.5, 1.5), "blue star": (0.0, 2.0)}, boxes)


def test_score_by_hand():
    # fps 2: t=0.5 -> frame 1, t=1.0 -> frame 2, t=1.75 -> frame 4 -> clamped to 3 (off screen), t=2.5 -> outside
    text = render_completion(
        render_claim(Claim("red square", ((0, 0, 100, 50),), 0.5))
        + render_claim(Claim("square", ((100, 100, 200, 200),), 1.0))
        + render_claim(Claim("blue star", ((0, 0, 100, 100),), 1.0))
        + render_claim(Claim("red square", ((0, 0, 10, 10),), 1.75))
        + render_claim(Claim("blue star", ((0, 0, 200, 200),), 2.5)),  # after the end (2 s)
        render_span(0.5, 1.0),
    )
    got = read_completion(text, (200, 200), (200, 200))
    question = "When is the red square visible?"
    t = score(_scene(), question, got["span"], got["evidence"], got["answer_boxes"], (200, 200))
    assert t["object"] == "red square" and t["span"] == [0.5, 1.5]
    assert t["tiou"] == pytest.approx(0.5)
    assert [r["frame"] for r in t["evidence"]] == [1, 2, 2, 3, None]
    names = ["red square", "red square", "blue star", "red square", "blue star"]
    assert [r["truth_object"] for r in t["evidence"]] == names
    assert [r["iou"] for r in t["evidence"]] == pytest.approx([0.5, 1.0, 0.25, 0.0, 0.0])
    assert t["evidence"][1]["true_box"] == [100.0, 100.0, 200.0, 200.0] and t["evidence"][3]["true_box"] is None
    assert t["mean_evidence_iou"] == pytest.approx(1.75 / 5)
    assert t["answer_box_iou"] is None  # an answer box on a video has no time


def test_unknown_object_scores_only_named_claims():
    got = read_completion(render_completion(render_claim(Claim("thing", ((0, 0, 1, 1),), 0.0)), "yes"), (2, 2), (2, 2))
    t = score(_scene(), "What happens?", None, got["evidence"], [], (2, 2))
    assert t["object"] is None and "names no single object" in t["note"] and t["tiou"] is None
    assert t["evidence"][0]["iou"] is None and t["mean_evidence_iou"] is None


def _heldout(world_dir):
    w = json.loads((world_dir / "world.json").read_text())
    return next(v for v in w["videos"] if v["split"] == "eval")


def _perfect_completion(entry, obj, input_size):
    """Claims at two visible frames with the exact true boxes in model-input pixels, and the exact visible span."""
    frames = [j for j, b in enumerate(obj["boxes"]) if b][:: max(1, entry["fps"])][:2]
    claims = [Claim(obj["name"], (tuple(to_pixels(obj["boxes"][j], *input_size)),), j / entry["fps"]) for j in frames]
    return render_completion("".join(render_claim(c) for c in claims), render_span(*obj["span"])), frames


def test_heldout_video_perfect_answer(synth_world):
    entry = _heldout(synth_world)
    obj = entry["objects"][0]
    video = synth_world / entry["video"]
    scene = scene_for(video)
    assert scene is not None and scene.id == entry["id"] and scene.split == "eval"
    size = (entry["width"], entry["height"])
    text, frames = _perfect_completion(entry, obj, (112, 84))  # any model-input size: read_completion rescales
    got = read_completion(text, (112, 84), size)
    t = score(scene, f"When is the {obj['name']} visible?", got["span"], got["evidence"], [], size)
    assert t["object"] == obj["name"] and t["tiou"] == pytest.approx(1.0)
    assert [r["frame"] for r in t["evidence"]] == frames
    assert all(r["iou"] > 0.98 for r in t["evidence"])  # evidence is rounded to 0.1 original pixels


def test_still_image_answer_box(synth_world):
    w = json.loads((synth_world / "world.json").read_text())
    still = w["images"][0]
    obj = still["objects"][0]
    scene = scene_for(synth_world / still["image"])
    assert scene is not None and scene.kind == "image" and scene.split == "train"
    box = to_pixels(obj["box"], still["width"], still["height"])
    t = score(scene, f"Where is the {obj['name']}?", None, [], [box], (still["width"], still["height"]))
    assert t["answer_box_iou"] == pytest.approx(1.0) and t["span"] is None


def test_world_lookup_errors(synth_world, tmp_path):
    video = synth_world / _heldout(synth_world)["video"]
    lone = tmp_path / "lone" / "clip.mp4"
    lone.parent.mkdir()
    shutil.copy(video, lone)
    assert scene_for(lone) is None  # no world.json next to or above it
    with pytest.raises(TruthError, match="holds no video or image 'clip.mp4'"):
        scene_for(lone, synth_world / "world.json")
    same_name = tmp_path / "other" / "videos" / video.name  # another world's file with the same name
    same_name.parent.mkdir(parents=True)
    shutil.copy(video, same_name)
    with pytest.raises(TruthError, match=f"holds no video or image '{video.name}'"):
        scene_for(same_name, synth_world / "world.json")
    bad = tmp_path / "world.json"
    bad.write_text(json.dumps({"videos": [{"id": "x", "video": "lone/clip.mp4"}]}))
    with pytest.raises(TruthError, match=r"videos\[0\]: missing field 'objects'"):
        scene_for(lone)
    bad.write_text("{")
    with pytest.raises(TruthError, match="world.json: cannot read the world"):
        scene_for(lone, bad)


def _fake_handle(monkeypatch):
    """A handle whose processor resizes like Qwen's; `handle.completion` is what the 'model' answers."""
    from o3v.eval import runner

    ip = SimpleNamespace(patch_size=14, merge_size=2, size={"shortest_edge": 3136, "longest_edge": 12544})
    handle = runner.ModelHandle(None, SimpleNamespace(image_processor=ip), "fake")
    replies = {}

    def fake(h, convs, images, max_new_tokens, cfg, **kw):
        return ["2"] if convs[0][0]["content"][0]["text"].startswith("Only reply") else [replies["completion"]]

    monkeypatch.setattr(runner, "generate_texts", fake)
    return handle, replies


def test_infer_scores_and_draws_a_perfect_answer(synth_world, tmp_path, monkeypatch):
    from PIL import Image

    from o3v.model import model_input_size

    entry = _heldout(synth_world)
    obj = entry["objects"][0]
    handle, replies = _fake_handle(monkeypatch)
    size = model_input_size(handle.processor, entry["width"], entry["height"])
    replies["completion"], _ = _perfect_completion(entry, obj, size)
    page, png = tmp_path / "a.html", tmp_path / "a.png"
    out = infer.infer(
        handle,
        synth_world / entry["video"],
        f"When is the {obj['name']} visible?",
        task="temporal QA",
        image_out=png,
        html_out=page,
    )
    t = out["truth"]
    assert t["id"] == entry["id"] and t["tiou"] == pytest.approx(1.0) and t["mean_evidence_iou"] > 0.98
    colours = {c for _, c in Image.open(png).convert("RGB").getcolors(1 << 20)}
    assert GT_COLOR in colours and PRED_COLOR in colours  # true and predicted boxes both drawn
    html = page.read_text()
    assert html.count("<img src='data:image/png;base64,") == len(t["evidence"]) + 1  # panels + timeline
    assert "tIoU of the answer span</th><td>1.000" in html and not external_references(html)


def test_cli_infer_tiny_model_json_and_html(synth_world, tiny_model, tmp_path, capsys):
    entry = _heldout(synth_world)
    page = tmp_path / "page.html"
    question = f"When is the {entry['objects'][0]['name']} visible?"
    args = ["infer", "--model", str(tiny_model), "--video", str(synth_world / entry["video"])]
    rc = main([*args, "--question", question, "--task", "temporal QA", "--html", str(page)])
    out = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert rc == 0 and set(out) >= {"answer", "span", "evidence", "truth", "raw", "html"}
    obj = entry["objects"][0]
    assert out["truth"]["object"] == obj["name"] and out["truth"]["span"] == obj["span"]
    assert set(out["truth"]) >= {"tiou", "evidence", "mean_evidence_iou", "answer_box_iou", "split"}
    html = page.read_text()
    assert "<img src='data:image/png;base64," in html and not external_references(html)
    assert not re.search(r"https?://", html.split("<h3>Raw completion</h3>")[0])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--video", "missing.mp4"], "no such file"),
        (["--world", "missing/world.json"], "cannot read the world"),
        (["--task", "nonsense"], "--task 'nonsense'"),
    ],
)
def test_cli_infer_bad_args(synth_world, tmp_path, capsys, extra, message):
    video = str(synth_world / _heldout(synth_world)["video"])
    args = ["infer", "--model", str(tmp_path / "no-model"), "--video", video, "--question", "q", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_infer_on_a_still_scores_the_answer_box(synth_world, tmp_path, monkeypatch):
    from o3v.model import model_input_size

    still = json.loads((synth_world / "world.json").read_text())["images"][0]
    obj = still["objects"][0]
    handle, replies = _fake_handle(monkeypatch)
    size = model_input_size(handle.processor, still["width"], still["height"])
    box = "[" + ",".join(repr(v) for v in to_pixels(obj["box"], *size)) + "]"
    replies["completion"] = f"<think>there</think><answer><obj>{obj['name']}</obj><box>{box}</box></answer>"
    page = tmp_path / "still.html"
    out = infer.infer(
        handle, synth_world / still["image"], f"Where is the {obj['name']}?", task="visual QA", html_out=page
    )
    assert out["duration"] is None and out["truth"]["kind"] == "image"
    assert out["truth"]["answer_box_iou"] > 0.98 and out["truth"]["tiou"] is None
    html = page.read_text()
    shown = re.search(r"answer box IoU</th><td>([0-9.]+)<", html)
    assert html.count("data:image/png;base64,") == 1 and shown and float(shown.group(1)) > 0.98


def test_infer_page_renders_offline_in_chromium(browser, synth_world, tmp_path, monkeypatch):
    from chromium_cdp import SCREENSHOTS, assert_renders_offline

    from o3v.model import model_input_size

    entry = _heldout(synth_world)
    obj = entry["objects"][0]
    handle, replies = _fake_handle(monkeypatch)
    size = model_input_size(handle.processor, entry["width"], entry["height"])
    replies["completion"], _ = _perfect_completion(entry, obj, size)
    page = tmp_path / "infer.html"
    out = infer.infer(handle, synth_world / entry["video"], f"When is the {obj['name']} visible?", html_out=page)
    report = browser.open(page, screenshot=SCREENSHOTS / "fast" / "infer.png")
    assert_renders_offline(report)
    assert len(report.images) == len(out["evidence"]) + 1 and obj["name"] in report.text
