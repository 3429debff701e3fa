"""o3v.synth.clips: two-square clips whose temporal-QA records match what the decoded video shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from o3v.grounded import parse, parse_span
from o3v.synth.clips import CLIP_FRAMES, SPAN_FRAMES, SQUARE_SIDE, clip_record, square_clip, write_square_clips
from o3v.synth.world import COLOURS
from o3v.train.data import load_train_data
from o3v.video import sample_frames


def test_clip_spans_are_short_runs_and_the_record_states_the_asked_span():
    rng = np.random.default_rng(3)
    for i in range(50):
        spec = square_clip(rng, f"c{i}")
        assert len({o.colour for o in spec.objects}) == len(spec.objects) == 2
        for o in spec.objects:
            assert SPAN_FRAMES[0] <= o.last - o.first + 1 <= SPAN_FRAMES[1]
            assert 0 <= o.first <= o.last < CLIP_FRAMES
        rec = clip_record(spec, "videos/x.mp4")
        asked = spec.objects[-1]
        assert rec["question"] == f"When is the {asked.name} visible?"
        target = f"<think>{rec['reasoning_process']}</think>\n<answer>{rec['answer']}</answer>"
        assert parse(target).answer_span == asked.span(spec.fps)
        assert parse(target).think_times == asked.span(spec.fps)


def test_written_clips_load_as_sft_data_and_show_the_asked_square_exactly_on_its_span(tmp_path):
    out = write_square_clips(tmp_path / "clips", n=3, seed=0)
    assert json.loads((out / "dataset.json").read_text())["records"] == 3
    data = load_train_data(out, "sft")
    assert [item.record.task for item in data.records] == ["temporal QA"] * 3
    for item in data.records:
        sampled = sample_frames(item.media)
        assert len(sampled.frames) == CLIP_FRAMES
        start, end = parse_span(item.record.answer)  # type: ignore[misc]
        colour = item.record.question.split()[3]
        rgb = np.asarray(COLOURS[colour], float)
        for frame, t in zip(sampled.frames, sampled.times):
            # the asked square is drawn on top: a square of its colour, SQUARE_SIDE wide, is there on its span only
            close = (np.abs(frame.astype(float) - rgb).max(axis=-1) < 40).sum()
            assert (close > 0.6 * SQUARE_SIDE**2) == (start <= t < end), (item.record.id, t, close)


def test_write_square_clips_needs_a_clip(tmp_path):
    with pytest.raises(ValueError, match="n must be >= 1"):
        write_square_clips(tmp_path, n=0, seed=0)
