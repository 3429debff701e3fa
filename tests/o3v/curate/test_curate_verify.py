"""What the category verifier is asked (verify_items) and how the oracle answers, on a hand-written world."""

from __future__ import annotations

import json

import pytest
from curate_builders import modified, spatial, visual

from o3v.curate.synthetic import OracleVerifier
from o3v.curate.verify import VerifyItem, parse_yes_no, verify_items
from o3v.records import record_from_dict

WORLD = {
    "videos": [{
        "id": "v0", "video": "videos/v0.mp4", "fps": 2, "num_frames": 20,
        "objects": [{"name": "red circle", "boxes": [None] * 4 + [[0.5, 0.5, 0.6, 0.6]] * 16}],
    }],
    "images": [{"image": "images/i0.png", "objects": [{"name": "red circle", "box": [0.5, 0.5, 0.6, 0.6]}]}],
}  # fmt: skip


@pytest.fixture
def oracle(tmp_path):
    (tmp_path / "world.json").write_text(json.dumps(WORLD))
    return OracleVerifier(tmp_path / "world.json", 0.5)


def _item(obj="red circle", t=4.5, box=(0.5, 0.5, 0.6, 0.6), media="videos/v0.mp4"):
    return VerifyItem(media, t, obj, box, "f")


def test_oracle_verdicts(oracle):
    items = [
        _item(),  # right name, right place
        _item(obj="purple hexagon"),  # wrong_category: no such object
        _item(box=(0.1, 0.1, 0.2, 0.2)),  # the object is elsewhere
        _item(t=1.0),  # not visible yet
        _item(media="videos/unknown.mp4"),  # not part of the world: cannot say
        _item(t=None, media="images/i0.png"),
        _item(t=4.2499999),  # a written time a hair off the frame grid still finds frame 9 (4.5 s)
    ]
    got = [(v.answer, v.detail["why"] if isinstance(v.detail, dict) else v.detail) for v in oracle.verify(items)]
    assert [a for a, _ in got] == ["yes", "no", "no", "no", "unclear", "yes", "yes"]
    assert got[1][1] == "no purple hexagon in videos/v0.mp4" and got[3][1] == "not visible at 1.0 s"
    assert got[2][1].startswith("the red circle is elsewhere")


def test_verify_items_checks_claims_at_their_own_time_and_uncited_boxes_at_key_frames():
    rec = spatial()  # claims cite both key_items boxes
    items = verify_items(record_from_dict(rec))
    assert [(i.object, i.time, i.field) for i in items] == [("blue square", 2.0, "reasoning_process"),
                                                            ("red circle", 4.5, "reasoning_process")]  # fmt: skip
    # a shifted key frame does not move what is verified: the claim still says 4.5 s
    shifted = modified(rec, key_frames=[{"time": 2.0, "idx": 0}, {"time": 7.5, "idx": 1}])
    assert [i.time for i in verify_items(record_from_dict(shifted))] == [2.0, 4.5]
    # a key_items box no claim cites is verified at its key frame
    extra = modified(
        rec, key_items={**rec["key_items"], "0": {**rec["key_items"]["0"], "cat": [[0.7, 0.1, 0.8, 0.2]]}}
    )
    assert ("cat", 2.0, "key_items.0.cat[0]") in [
        (i.object, i.time, i.field) for i in verify_items(record_from_dict(extra))
    ]
    [vqa] = verify_items(record_from_dict(visual()))
    assert vqa.time is None and vqa.object == "red circle" and vqa.box == (0.5, 0.5, 0.6, 0.6)


@pytest.mark.parametrize("text, want", [("Yes", "yes"), ("no.", "no"), ("NO, it is a square", "no"),
                                        ("", "unclear"), ("Maybe yes", "unclear"), ("yesno", "unclear")])  # fmt: skip
def test_parse_yes_no(text, want):
    assert parse_yes_no(text) == want
