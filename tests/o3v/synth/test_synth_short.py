"""The learnable world's short records: every object is asked "when" twice, once in V-STaR chain 2's wording."""

from __future__ import annotations

import numpy as np
import pytest

from o3v.prompts import vstar_when_given_boxes
from o3v.synth import benchmarks as bench
from o3v.synth.short import build_short_drafts, when, whole_seconds
from o3v.synth.world import make_spec, preset


@pytest.mark.parametrize("seed", range(8))
def test_every_object_is_asked_when_in_a_short_wording_and_in_chain_2s(seed: int) -> None:
    spec = make_spec(f"vid_{seed}", np.random.default_rng(seed), preset("learnable"))
    drafts = {d.id: d for d in build_short_drafts(spec, np.random.default_rng(seed + 100))}
    for i, obj in enumerate(spec.objects):
        short, chain2 = drafts[f"{spec.id}-tqa-{i}"], drafts[f"{spec.id}-tqa2-{i}"]
        boxes = [list(spec.clipped_box(obj.name, s * spec.fps)) for s in whole_seconds(spec, obj)]
        asked = bench.vstar_questions(obj)["temporal_question"]
        assert chain2.question == vstar_when_given_boxes(asked, (spec.width, spec.height), boxes)
        assert "bounding boxes" not in short.question
        assert short.span == chain2.span == obj.span(spec.fps)


def test_an_unknown_wording_names_itself() -> None:
    spec = make_spec("vid_x", np.random.default_rng(0), preset("learnable"))
    with pytest.raises(ValueError, match="unknown temporal wording 'chain3'"):
        when(spec, np.random.default_rng(0), "vid_x-tqa-0", spec.objects[0], wording="chain3")
