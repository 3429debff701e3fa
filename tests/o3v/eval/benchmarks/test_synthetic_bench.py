"""Synthetic benchmark and cross-checks against the synthetic world's own files.

Perfect completions written in o3v's grounded syntax (boxes in model-input pixels) must score 1 after the
scorer's conversions: this pins the model-input -> normalized / original-pixel paths. The constant baselines
computed here must equal those the world generator wrote (`benchmarks/baselines.json`): two implementations,
one answer.
"""

import json
import re

import pytest

from o3v.eval.benchmarks import get, synthetic
from o3v.geometry import rescale_box, round_box, to_pixels
from o3v.grounded import Claim, render_claim, render_completion, render_span
from o3v.records import gt_option, gt_span, record_from_dict

INPUT = (112, 84)  # model-input size of a 160x120 frame; any size works if the row says so


def perfect(sample) -> dict:
    rec = record_from_dict(sample.raw)
    claims = (
        "".join(
            render_claim(Claim(e.object, (tuple(round_box(to_pixels(e.box, *INPUT))),), e.time))
            for e in rec.evidence()
        )
        if rec.task != "visual QA"
        else ""
    )
    if rec.task == "temporal QA":
        answer = render_span(*gt_span(rec))
    elif rec.task == "temporal QA (MCQ)":
        answer = f"{render_span(*gt_span(rec))}.\nCorrect Option: {gt_option(rec)}"
    elif rec.task == "General video QA MCQ":
        answer = gt_option(rec)
    elif rec.task == "visual QA":
        box = json.loads(rec.answer.split("<box>")[1].split("</box>")[0])
        answer = f"<obj>x</obj><box>{json.dumps(round_box(rescale_box(box, rec.image_size, INPUT)))}</box>"
    else:
        answer = rec.answer
    return {
        "id": sample.id,
        "prediction": render_completion(claims or "reasoning", answer),
        "input_size": list(INPUT),
        "orig_size": [160, 120],
    }


@pytest.fixture(scope="module")
def clean_samples(synth_world):
    faulted = {json.loads(line)["id"] for line in (synth_world / "faults.jsonl").read_text().splitlines()}
    loaded = synthetic.load(synth_world / "stgr" / "STGR-RL.json")
    assert not loaded.rejects
    return [s for s in loaded.samples if s.id not in faulted]


def test_perfect_grounded_answers_score_one(clean_samples):
    m = synthetic.score(clean_samples, [perfect(s) for s in clean_samples])
    assert m["format_ok"] == 1.0 and m["missing"] == 0
    assert m["option_accuracy"] == 1.0 and m["option_unparsable"] == 0.0
    assert m["temporal_miou"] == pytest.approx(1.0) and m["free_form_exact"] == 1.0
    assert m["box_miou"] > 0.85  # integer pixels in a 112x84 frame round the boxes
    assert m["evidence_miou"] > 0.85 and m["evidence_recall"] == 1.0 and m["claim_precision"] == 1.0
    assert set(m["by_task"]) == {r.raw["task"] for r in clean_samples}
    assert m["object_named"] == 1.0 and m["n_object_named"] > 0


def test_object_named_tells_a_wrong_name_from_a_wrong_box(clean_samples):
    """Right boxes under the wrong shape name: evidence IoU falls to 0 and `object_named` says why; right names with
    the wrong boxes keep `object_named` at 1."""
    named = [s for s in clean_samples if synthetic.named_object(record_from_dict(s.raw))]
    assert named

    def other_shape(match: re.Match) -> str:
        colour, shape = match.group(1).split(" ", 1)
        return f"<obj>{colour} {'square' if shape == 'circle' else 'circle'}</obj>"

    rows = [perfect(s) for s in named]
    wrong_name = [{**r, "prediction": re.sub(r"<obj>([^<]+)</obj>", other_shape, r["prediction"])} for r in rows]
    m = synthetic.score(named, wrong_name)
    assert m["object_named"] == 0.0 and m["evidence_miou"] == 0.0
    wrong_box = [
        {**r, "prediction": re.sub(r"<box>\[[^\]]*\]</box>", "<box>[0,0,2,2]</box>", r["prediction"])} for r in rows
    ]
    m = synthetic.score(named, wrong_box)
    assert m["object_named"] == 1.0 and m["evidence_miou"] < 0.05
    unnamed = [s for s in clean_samples if s not in named and record_from_dict(s.raw).evidence()]
    m = synthetic.score(unnamed, [perfect(s) for s in unnamed])
    assert m["n_evidence"] > 0 and m["n_object_named"] == 0 and m["object_named"] is None  # no name to copy


def test_empty_answers_score_zero_and_are_unparsable(clean_samples):
    rows = [{"id": s.id, "prediction": "", "input_size": list(INPUT)} for s in clean_samples]
    m = synthetic.score(clean_samples, rows)
    assert m["option_accuracy"] == 0 and m["option_unparsable"] == 1.0 and m["evidence_miou"] == 0
    assert m["format_ok"] == 0.0


def test_missing_input_size_is_an_error_naming_the_field(clean_samples):
    sample = next(s for s in clean_samples if s.raw.get("key_items") and s.raw["task"] != "visual QA")
    with pytest.raises(ValueError, match="input_size"):
        synthetic.score([sample], [{"id": sample.id, "prediction": "x"}])


@pytest.mark.parametrize(
    ("name", "rel", "keys"),
    [
        (
            "vstar",
            "vstar/V_STaR_test.json",
            {
                "whole_video_tiou": "whole_video_span.tiou",
                "best_constant_tiou": "best_constant_span.tiou",
                "mean_box_viou": "mean_box.viou",
            },
        ),
        (
            "tvgbench",
            "tvgbench/tvgbench.json",
            {"whole_video_tiou": "whole_video_span.miou", "best_constant_tiou": "best_constant_span.miou"},
        ),
        (
            "videomme",
            "videomme/videomme/test-00000-of-00001.parquet",
            {"majority_option_accuracy": "majority_option.accuracy"},
        ),
    ],
)
def test_baselines_agree_with_the_world_generator(synth_world, name, rel, keys):
    from o3v.eval.report import value_at

    theirs = json.loads((synth_world / "benchmarks" / "baselines.json").read_text())[rel]
    adapter = get(name)
    ours = adapter.baselines(adapter.load(synth_world / "benchmarks" / rel).strict())
    for their_key, our_path in keys.items():
        assert value_at(ours, our_path) == pytest.approx(theirs[their_key], abs=1e-3), their_key
