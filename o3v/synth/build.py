"""`generate`: write a whole synthetic world (videos, STGR records, faults, benchmarks, baselines) to a folder.

Layout (docs/architecture.md): `synth.json`, `world.json`, `manifest.jsonl`, `videos/*.mp4`,
`images/*.png`, `stgr/STGR-SFT.json`, `stgr/STGR-RL.json`, `faults.jsonl`, `benchmarks/...`.

Train/eval split: the last `round(videos * heldout)` videos (at least one when there are two or more
videos and `heldout > 0`) are held out: the benchmark files use only them, while the STGR records and
`manifest.jsonl` (the input of `o3v annotate`) use only the others, so evaluation never scores a model
on videos it was trained on. With `heldout=0` (or a single video) the benchmarks share the training
videos, and the summary and a warning say so.

Determinism: every random choice comes from generators seeded with `(seed, video index, stream)`, and
the encoder runs single-threaded, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from o3v.records import TASKS, record_from_dict, write_jsonl, write_records
from o3v.synth import benchmarks as bench
from o3v.synth.faults import FAULTS, STAGES, inject_faults
from o3v.synth.short import build_short_drafts
from o3v.synth.stills import write_stills
from o3v.synth.tasks import Draft, build_drafts
from o3v.synth.world import VideoSpec, WorldConfig, make_spec, render, spec_to_json, write_mp4

SYNTHETIC_FILE = "synthetic/records.jsonl"  # under benchmarks/: held-out grounded records (SFT form, no faults)

log = logging.getLogger(__name__)

# Outputs of a previous run that a new run replaces (nothing else in OUT is touched).
_OWNED = ("synth.json", "world.json", "manifest.jsonl", "faults.jsonl", "videos", "images", "stgr", "benchmarks")
# Random streams per video: independent, so adding videos never changes the earlier ones.
_SCENE, _TASKS, _BENCH = 0, 1, 2
_STILLS = 2_000_003
_FAULT_STREAM = 1_000_003


def config_json(cfg: WorldConfig) -> dict:
    """The world config as written to synth.json / world.json (tuples as JSON lists)."""
    return json.loads(json.dumps(asdict(cfg)))


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _prepare(out: Path) -> None:
    """Create OUT, or clear a previous synth run in it; refuse a non-empty folder that is not one."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        if not (out / "synth.json").exists():
            raise ValueError(
                f"{out}: directory is not empty and holds no synth.json; refusing to write a world into it"
            )
        for name in _OWNED:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _check_args(videos: int, seed: int, faults: float, heldout: float) -> None:
    if isinstance(videos, bool) or not isinstance(videos, int) or videos < 1:
        raise ValueError(f"videos must be a positive integer, got {videos!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= float(faults) <= 1.0:
        raise ValueError(f"faults must be a rate in [0, 1], got {faults!r}")
    if not 0.0 <= float(heldout) < 1.0:
        raise ValueError(f"heldout must be a fraction in [0, 1), got {heldout!r}")


def _check_parquet_support() -> None:
    """The VideoMME file is parquet: fail before rendering anything when pandas/pyarrow are missing."""
    missing = [m for m in ("pandas", "pyarrow") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"o3v synth writes the VideoMME parquet file and needs {missing}: pip install 'o3v[eval]'")


def split_counts(videos: int, heldout: float) -> int:
    """How many videos are held out for the benchmarks."""
    if videos < 2 or heldout <= 0:
        return 0
    return min(videos - 1, max(1, int(round(videos * heldout))))


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def drafts_for(spec: VideoSpec, rng: np.random.Generator, cfg: WorldConfig) -> list[Draft]:
    """The STGR drafts of one video in the world's trace style ("short" or "long")."""
    if cfg.trace == "short":
        return build_short_drafts(spec, rng)
    if cfg.trace == "long":
        return build_drafts(spec, rng)
    raise ValueError(f"unknown trace style {cfg.trace!r}; expected 'short' or 'long'")


def _write_benchmarks(
    out: Path, specs: list[tuple[int, VideoSpec]], seed: int, cfg: WorldConfig
) -> tuple[dict, dict, list[Draft]]:
    vstar, tvg, mme, grounded = [], [], [], []
    for i, spec in specs:
        vstar += bench.vstar_items(spec)
        tvg += bench.tvg_items(spec)
        mme += bench.videomme_rows(spec, _rng(seed, i, _BENCH))
        grounded += drafts_for(spec, _rng(seed, i, _TASKS), cfg)
    root = out / "benchmarks"
    _write_json(root / bench.VSTAR_FILE, vstar)
    _write_json(root / bench.TVG_FILE, tvg)
    bench.write_videomme(root / bench.VIDEOMME_FILE, mme)
    _write_stills(out, grounded)
    write_jsonl(root / SYNTHETIC_FILE, [d.records()[0].to_dict() for d in grounded])
    baselines = bench.baselines(vstar, tvg, mme)
    _write_json(root / "baselines.json", baselines)
    counts = {"vstar": len(vstar), "tvgbench": len(tvg), "videomme": len(mme), "synthetic": len(grounded)}
    return counts, baselines, grounded


def generate(
    out_dir: str | Path,
    videos: int,
    seed: int,
    faults: float = 0.0,
    heldout: float = 0.25,
    config: WorldConfig | None = None,
) -> dict:
    """Write a synthetic grounded-video world to `out_dir` and return its summary (also `synth.json`).

    `faults` is the fraction of STGR records that get one labelled fault (`o3v.synth.faults`);
    `heldout` the fraction of videos kept for the benchmark files only.
    """
    _check_args(videos, seed, faults, heldout)
    _check_parquet_support()
    cfg = config or WorldConfig()
    out = Path(out_dir)
    _prepare(out)
    started = time.perf_counter()
    n_eval = split_counts(videos, heldout)
    world, manifest, drafts, train_specs, eval_specs = [], [], [], [], []
    for i in range(videos):
        vid = f"vid_{i:03d}"
        spec = make_spec(vid, _rng(seed, i, _SCENE), cfg)
        video_path = f"videos/{vid}.mp4"
        write_mp4(render(spec), out / video_path, spec.fps, cfg.qp)
        split = "eval" if i >= videos - n_eval else "train"
        level = logging.INFO if videos <= 20 or (i + 1) % max(1, videos // 10) == 0 else logging.DEBUG
        log.log(level, "video %d/%d %s (%s): %d frames", i + 1, videos, vid, split, spec.num_frames)
        world.append({**spec_to_json(spec, video_path), "split": split})
        if split == "eval":
            eval_specs.append((i, spec))
            continue
        train_specs.append((i, spec))
        manifest.append({"id": vid, "video": video_path})
        new = drafts_for(spec, _rng(seed, i, _TASKS), cfg)
        _write_stills(out, new)
        drafts += new
    if n_eval == 0:
        log.warning("no held-out videos: the benchmark files use the training videos")
    labels = inject_faults(drafts, faults, _rng(seed, _FAULT_STREAM))
    sft, rl = zip(*(d.records() for d in drafts)) if drafts else ((), ())
    warm_truth: list[dict] = []
    n_warm = cfg.warmup_stills_per_video * len(train_specs)
    if n_warm:  # the curriculum start, after the video records (faults are planted in those only)
        size = (cfg.width, cfg.height)
        raw, warm_truth = write_stills(out, n_warm, _rng(seed, _STILLS), size, "warmup", cfg.warmup_shapes)
        warm = [record_from_dict(r) for r in raw]
        sft, rl = (*sft, *warm), (*rl, *warm)
    write_records(out / "stgr" / "STGR-SFT.json", sft)
    write_records(out / "stgr" / "STGR-RL.json", rl)
    write_jsonl(out / "faults.jsonl", labels)
    write_jsonl(out / "manifest.jsonl", manifest)
    bench_counts, baselines, held_out = _write_benchmarks(out, eval_specs or train_specs, seed, cfg)
    stills = _still_sources(drafts + held_out) + warm_truth
    world_json = {"seed": seed, "config": config_json(cfg), "videos": world, "images": stills}
    _write_json(out / "world.json", world_json)
    summary = _summary(
        seed,
        videos,
        faults,
        heldout,
        cfg,
        [s for _, s in train_specs],
        [s for _, s in eval_specs],
        drafts,
        labels,
        bench_counts,
        baselines,
    )
    _write_json(out / "synth.json", summary)
    log.info("wrote %s in %.2f s", out, time.perf_counter() - started)
    return summary


def _write_stills(out: Path, drafts: list[Draft]) -> None:
    """Write visual-QA stills as PNG and drop the pixels from memory (`image_frame` says where they came from)."""
    for d in drafts:
        if d.image is not None:
            path = out / d.image_path
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(d.image).save(path, format="PNG")
            d.image = None


def _still_sources(drafts: list[Draft]) -> list[dict]:
    """world.json "images": where each still comes from, and the ground truth of every object on it."""
    out = []
    for d in drafts:
        if d.image_frame is None:
            continue
        spec, frame = d.video, d.image_frame
        objects = [{"name": n, "box": spec.box(n, frame)} for n in spec.visible_at(frame)]
        out.append(
            {
                "image": d.image_path,
                "video": d.video_path,
                "frame": frame,
                "time": frame / spec.fps,
                "width": spec.width,
                "height": spec.height,
                "objects": objects,
            }
        )
    return out


def _summary(
    seed: int,
    videos: int,
    faults: float,
    heldout: float,
    cfg: WorldConfig,
    train_specs: list[VideoSpec],
    eval_specs: list[VideoSpec],
    drafts: list[Draft],
    labels: list[dict],
    bench_counts: dict,
    baselines: dict,
) -> dict:
    by_task = Counter(d.task for d in drafts)
    by_fault = Counter(label["fault"] for label in labels)
    return {
        "seed": seed,
        "videos": videos,
        "fault_rate": faults,
        "heldout": heldout,
        "config": config_json(cfg),
        "split": {
            "train": [s.id for s in train_specs],
            "eval": [s.id for s in eval_specs],
            "benchmarks_share_training_videos": not eval_specs,
        },
        "records": {
            "total": len(drafts),
            "by_task": {t: by_task.get(t, 0) for t in TASKS},
            "warmup_stills": cfg.warmup_stills_per_video * len(train_specs),
        },
        "faults": {
            "total": len(labels),
            "target": int(round(faults * len(drafts))),
            "by_type": {f: by_fault.get(f, 0) for f in FAULTS},
            "by_stage": dict(Counter(STAGES[label["fault"]] for label in labels)),
        },
        "benchmarks": bench_counts,
        "baselines": baselines,
        "files": {
            "world": "world.json",
            "manifest": "manifest.jsonl",
            "sft": "stgr/STGR-SFT.json",
            "rl": "stgr/STGR-RL.json",
            "faults": "faults.jsonl",
            "vstar": f"benchmarks/{bench.VSTAR_FILE}",
            "tvgbench": f"benchmarks/{bench.TVG_FILE}",
            "videomme": f"benchmarks/{bench.VIDEOMME_FILE}",
            "synthetic": f"benchmarks/{SYNTHETIC_FILE}",
            "baselines": "benchmarks/baselines.json",
        },
    }
