"""Local `evaluate` metric modules: they load by path offline, agree with their pure functions, never crash."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.metrics import NAMES, compute, load, path_of
from o3v.metrics.frame_viou.frame_viou import sample_ious
from o3v.metrics.grounded_evidence.grounded_evidence import sample_scores
from o3v.metrics.open_answer.open_answer import candidates, is_correct
from o3v.metrics.temporal_iou.temporal_iou import span_iou
from o3v.metrics.text_match.text_match import token_f1


@pytest.mark.parametrize("name", NAMES)
def test_every_metric_loads_by_path_offline(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = load(name)
    module = type(metric).__module__  # evaluate copies the file into its module cache and imports it from there
    assert module.startswith(f"evaluate_modules.metrics.{name}.") and module.endswith(f".{name}")
    assert (path_of(name) / f"{name}.py").is_file()


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(ValueError, match="temporal_iou"):
        path_of("rouge")


def test_strict_and_inclusive_recall_differ_at_the_threshold():
    preds, refs = [[0.0, 5.0]], [[0.0, 10.0]]  # IoU exactly 0.5
    assert compute("temporal_iou", predictions=preds, references=refs, strict=False)["r@0.5"] == 1.0
    assert compute("temporal_iou", predictions=preds, references=refs, strict=True)["r@0.5"] == 0.0


spans = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=3)


@given(spans, spans)
def test_span_iou_is_bounded_and_symmetric(a, b):
    v = span_iou(a, b)
    assert 0.0 <= v <= 1.0 and v == span_iou(b, a)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 500) | st.floats(allow_nan=True) | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.sampled_from(["3", "4", "x"]), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200)
@given(json_values)
def test_frame_viou_never_raises_on_any_parsed_answer(pred):
    gt = [
        {"timestamp": 3, "xmin": 0, "ymin": 0, "xmax": 10, "ymax": 10},
        {"timestamp": 4, "xmin": 5, "ymin": 5, "xmax": 9, "ymax": 9},
    ]
    ious = sample_ious(gt, pred)
    assert len(ious) == 2 and all(0.0 <= v <= 1.0 and not math.isnan(v) for v in ious)


def test_frame_viou_module_matches_the_pure_function():
    gt = [{"timestamp": 3, "xmin": 0, "ymin": 0, "xmax": 10, "ymax": 10}]
    preds = [{"3": [0, 0, 5, 10]}, {"3": [[50, 50, 60, 60], [0, 0, 10, 10]]}, None, {"3": ["a", 1, 2, 3]}]
    res = compute("frame_viou", predictions=[json.dumps(p) for p in preds], references=[json.dumps(gt)] * 4)
    assert res["vious"] == [sample_ious(gt, p)[0] for p in preds] == [0.5, 1.0, 0.0, 0.0]
    assert res["ap@0.5"] == 0.5 and res["mviou"] == pytest.approx(0.375)


@given(st.text(max_size=200))
def test_open_answer_parsing_never_raises(text):
    candidates(text)
    is_correct(["42", "paris"], text)


@given(st.text(max_size=50), st.text(max_size=50))
def test_token_f1_is_bounded(a, b):
    assert 0.0 <= token_f1(a, b) <= 1.0


def test_grounded_evidence_matches_object_and_time():
    item = {"object": "Red Circle", "time": 2.0, "box": [0.1, 0.1, 0.3, 0.3]}
    near = {"object": "red circle", "time": 2.9, "box": [0.1, 0.1, 0.3, 0.3]}
    late = dict(near, time=3.5)
    other = dict(near, object="blue square")
    assert sample_scores([near], [item])["evidence_miou"] == 1.0
    assert sample_scores([late, other], [item]) == {
        "evidence_miou": 0.0,
        "evidence_recall": 0.0,
        "time_recall": 0.0,
        "claim_precision": 0.0,
    }
    res = compute("grounded_evidence", predictions=[json.dumps([near]), "[]"], references=[json.dumps([item]), "[]"])
    assert res["n"] == 1 and res["evidence_miou"] == 1.0  # samples without evidence are left out of the mean
