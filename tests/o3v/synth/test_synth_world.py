"""o3v.synth world: layout, determinism, videos that decode to their ground truth, scene invariants."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.records import read_jsonl
from o3v.synth import generate
from o3v.synth.build import split_counts
from o3v.synth.world import COLOURS, WorldConfig, make_spec, preset
from o3v.video import frames_at, probe


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout(synth_world: Path) -> None:
    for rel in [
        "synth.json",
        "world.json",
        "manifest.jsonl",
        "faults.jsonl",
        "stgr/STGR-SFT.json",
        "stgr/STGR-RL.json",
        "benchmarks/vstar/V_STaR_test.json",
        "benchmarks/tvgbench/tvgbench.json",
        "benchmarks/videomme/videomme/test-00000-of-00001.parquet",
        "benchmarks/baselines.json",
    ]:
        assert (synth_world / rel).is_file(), rel
    summary = json.loads((synth_world / "synth.json").read_text())
    assert summary["videos"] == 6 and summary["seed"] == 0 and summary["fault_rate"] == 0.2
    assert sorted(p.name for p in (synth_world / "videos").glob("*.mp4")) == [f"vid_{i:03d}.mp4" for i in range(6)]
    assert summary["split"] == {
        "train": ["vid_000", "vid_001", "vid_002", "vid_003"],
        "eval": ["vid_004", "vid_005"],
        "benchmarks_share_training_videos": False,
    }
    baselines = json.loads((synth_world / "benchmarks/baselines.json").read_text())
    assert summary["baselines"] == baselines


def test_manifest_lists_training_videos_only(synth_world: Path) -> None:
    manifest = read_jsonl(synth_world / "manifest.jsonl")
    assert manifest == [{"id": f"vid_{i:03d}", "video": f"videos/vid_{i:03d}.mp4"} for i in range(4)]
    assert all((synth_world / row["video"]).is_file() for row in manifest)


def test_same_seed_gives_identical_files_and_another_seed_does_not(synth_world: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", videos=6, seed=0, faults=0.2, config=preset("classic"))
    assert again == json.loads((synth_world / "synth.json").read_text())
    assert tree_hashes(tmp_path / "again") == tree_hashes(synth_world)
    generate(tmp_path / "other", videos=6, seed=1, faults=0.2, config=preset("classic"))
    other = tree_hashes(tmp_path / "other")
    same = tree_hashes(synth_world)
    assert other.keys() == same.keys()
    assert all(other[k] != same[k] for k in same if k.startswith("videos/"))


def test_rerun_replaces_a_previous_world_and_refuses_foreign_folders(tmp_path: Path) -> None:
    out = tmp_path / "w"
    generate(out, videos=3, seed=5)
    generate(out, videos=2, seed=5)
    assert sorted(p.name for p in (out / "videos").glob("*.mp4")) == ["vid_000.mp4", "vid_001.mp4"]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no synth.json"):
        generate(foreign, videos=2, seed=0)
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"videos": 0, "seed": 0}, "videos"),
        ({"videos": 2, "seed": -1}, "seed"),
        ({"videos": 2, "seed": 0, "faults": 1.5}, "faults"),
        ({"videos": 2, "seed": 0, "heldout": 1.0}, "heldout"),
    ],
)
def test_generate_rejects_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "w", **kwargs)


@pytest.mark.parametrize(
    ("videos", "heldout", "expected"),
    [(1, 0.25, 0), (2, 0.25, 1), (6, 0.25, 2), (8, 0.25, 2), (8, 0.0, 0), (3, 0.9, 2)],
)
def test_split_counts(videos: int, heldout: float, expected: int) -> None:
    assert split_counts(videos, heldout) == expected


def test_videos_decode_with_o3v_video_and_match_world(synth_world: Path) -> None:
    world = json.loads((synth_world / "world.json").read_text())
    for v in world["videos"]:
        info = probe(synth_world / v["video"])
        assert (info.fps, info.num_frames, info.width, info.height) == (
            v["fps"],
            v["num_frames"],
            v["width"],
            v["height"],
        )
        assert 6.0 <= info.duration <= 12.0


def test_decoded_pixels_show_each_object_where_the_ground_truth_says(synth_world: Path) -> None:
    """The centre of an object's GT box, at a frame where no other object covers it, has the object's colour."""
    world = json.loads((synth_world / "world.json").read_text())
    checked = 0
    for v in world["videos"]:
        for k, obj in enumerate(v["objects"]):
            frame = (obj["first_frame"] + obj["last_frame"]) // 2
            box = obj["boxes"][frame]
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            later = [o["boxes"][frame] for o in v["objects"][k + 1 :] if o["boxes"][frame]]
            if any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in later):
                continue  # drawn over by a later object
            got = frames_at(synth_world / v["video"], [frame / v["fps"]]).frames[0]
            pixel = got[int(cy * v["height"]), int(cx * v["width"])].astype(int)
            assert np.abs(pixel - np.asarray(COLOURS[obj["colour"]])).max() <= 40, (v["id"], obj["name"], pixel)
            checked += 1
    assert checked >= 10


def test_world_boxes_visible_exactly_on_the_visible_frames(synth_world: Path) -> None:
    world = json.loads((synth_world / "world.json").read_text())
    for v in world["videos"]:
        assert len({o["name"] for o in v["objects"]}) == len(v["objects"])
        for o in v["objects"]:
            visible = [j for j, b in enumerate(o["boxes"]) if b is not None]
            assert visible == list(range(o["first_frame"], o["last_frame"] + 1))
            assert o["span"] == [o["first_frame"] / v["fps"], (o["last_frame"] + 1) / v["fps"]]
            for b in o["boxes"][o["first_frame"] : o["last_frame"] + 1]:
                assert 0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_scene_invariants(seed: int) -> None:
    """Any seed, both presets: object counts, unique colours and shapes, spans of 10-50% of the clip (and >= 1 s),
    positive boxes, and motion within the preset's range."""
    for cfg in (preset("classic"), preset("learnable")):
        _check_scene(cfg, seed)


def _check_scene(cfg: WorldConfig, seed: int) -> None:
    spec = make_spec("v", np.random.default_rng(seed), cfg)
    assert cfg.min_seconds * cfg.fps <= spec.num_frames <= cfg.max_seconds * cfg.fps
    assert cfg.min_objects <= len(spec.objects) <= cfg.max_objects
    assert len({o.colour for o in spec.objects}) == len({o.shape for o in spec.objects}) == len(spec.objects)
    for o in spec.objects:
        length = o.last - o.first + 1
        assert length >= cfg.fps  # >= 1 s
        assert length <= math.floor(0.5 * spec.num_frames) or length == cfg.fps
        assert length >= math.ceil(0.1 * spec.num_frames)
        for j in (o.first, (o.first + o.last) // 2, o.last):
            x0, y0, x1, y1 = spec.clipped_box(o.name, j)
            assert x1 > x0 and y1 > y0
        assert spec.box(o.name, o.last + 1) is None
        (sx, sy), (ex, ey) = o.start, o.end
        assert math.hypot(ex - sx, ey - sy) <= cfg.max_move * min(cfg.width, cfg.height) + 1e-9


def test_warmup_stills_name_the_drawn_shape(learnable_world: Path, tmp_path: Path) -> None:
    """`learnable` warm-up stills are squares; `learnable-shapes` ones draw every shape, and each record names the
    object on its pixels: a square fills its box's corners, the other shapes leave them grey."""
    from PIL import Image

    from o3v.synth.world import GREY, SHAPES

    default = json.loads((learnable_world / "world.json").read_text())
    squares = [e["objects"][0]["name"] for e in default["images"] if Path(e["image"]).name.startswith("warmup-")]
    assert squares and all(name.endswith(" square") for name in squares)
    shapes_world = tmp_path / "shapes"
    generate(shapes_world, videos=4, seed=0, config=preset("learnable-shapes"))
    world = json.loads((shapes_world / "world.json").read_text())
    warm = {e["image"]: e for e in world["images"] if Path(e["image"]).name.startswith("warmup-")}
    assert len(warm) == json.loads((shapes_world / "synth.json").read_text())["records"]["warmup_stills"] > 0
    sft = json.loads((shapes_world / "stgr/STGR-SFT.json").read_text())
    records = [r for r in sft if r["id"].startswith("warmup")]
    assert len(records) == len(warm)
    seen = set()
    for rec in records:
        entry = warm[rec["image_path"]]
        name = entry["objects"][0]["name"]
        assert rec["question"] == f"Where is the {name}?" and rec["answer"].startswith(f"<obj>{name}</obj>"), rec["id"]
        pixels = np.asarray(Image.open(shapes_world / rec["image_path"]).convert("RGB"))
        x1, y1, x2, y2 = (round(v * s) for v, s in zip(entry["objects"][0]["box"], [128, 96] * 2, strict=True))
        corner = tuple(int(c) for c in pixels[y1, x1])
        assert (corner != GREY) == name.endswith(" square"), (rec["id"], name, corner)
        assert tuple(int(c) for c in pixels[(y1 + y2) // 2, (x1 + x2) // 2]) == COLOURS[name.split()[0]], rec["id"]
        seen.add(name.split()[1])
    assert seen == set(SHAPES)


def test_mixed_preset_stills_are_half_squares(tmp_path: Path) -> None:
    """`learnable-mixed`: squares in about half the warm-up stills, each of the other three shapes in about a sixth."""
    from collections import Counter

    from o3v.synth.world import SHAPES

    generate(tmp_path, videos=8, seed=0, config=preset("learnable-mixed"))
    world = json.loads((tmp_path / "world.json").read_text())
    names = [e["objects"][0]["name"] for e in world["images"] if Path(e["image"]).name.startswith("warmup-")]
    shapes = Counter(name.split()[1] for name in names)
    assert set(shapes) == set(SHAPES)
    assert 0.4 <= shapes["square"] / len(names) <= 0.6, shapes
