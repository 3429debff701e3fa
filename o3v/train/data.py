"""Training data: a curated dataset directory -> trl rows (prompt messages, frames as images, target or reference).

Per record (open-o3-video.md §6, ml-stack.md §5):
- video: frames sampled at exact times (`o3v.video.sample_frames`, 2 fps, 4-16 frames, even); for
  temporal-spatial records the annotated key frames are decoded at their times (`o3v.video.frames_at`) and
  inserted before the first sampled frame at or after them, unless a sampled frame already shows that time
  (`o3v.prompts.plan_frames`);
- still image (visual QA): one image, no frame lines;
- every frame is resized once here to the model-input size (`o3v.model.model_input_size`), the pixel
  space of every box the model reads or writes, so the processor's own resize is the identity;
- messages come from `o3v.prompts.build_messages` (shared with eval); the SFT target from
  `o3v.prompts.build_target` with boxes converted to model-input pixels; the GSPO ground truth is a
  `o3v.rewards.Reference` in the same pixel space, stored as JSON in a `reference` column.

Rows are built lazily (`datasets.Dataset.set_transform`) with a small cache, because trl reads each GSPO
prompt once per generation and decoding all videos up front would not fit real datasets in memory. Decoded clips
are kept apart, within a byte budget (`o3v.train.clips.ClipCache`, config `clip_cache_mb`): every epoch reads each
clip again, once per record on it.

Before training, every record is checked: its media file must exist (missing: an error naming the record
id and path, or with `on_missing_video: skip` a reject line in `OUT/rejects.jsonl` and a logged count),
SFT records need `reasoning_process`, GSPO records the ground truth their rewards use.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from o3v.curate.dataset import RECORDS, REJECTS, open_dataset, reject_row
from o3v.curate.media import MediaError, default_cache_dir, local_media, safe_relpath
from o3v.geometry import rescale_box, round_box
from o3v.grounded import map_boxes
from o3v.prompts import build_messages, build_target, plan_frames
from o3v.records import Record, RecordError, write_jsonl
from o3v.rewards.columns import check_truth, reference_from_record
from o3v.train.clips import ClipCache

log = logging.getLogger(__name__)


class TrainDataError(ValueError):
    """Training data that cannot be used; the message names the dataset, record id/index and field."""


@dataclass(frozen=True)
class FrameSettings:
    """How frames are sampled for training (config fields `fps`, `min_frames`, `max_frames`)."""

    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 16


@dataclass(frozen=True)
class TrainRecord:
    """A checked record and the local path of its media."""

    index: int
    record: Record
    media: Path


@dataclass
class TrainData:
    """The usable records of a dataset, where they came from, and what was skipped."""

    data_dir: Path
    records: list[TrainRecord]
    skipped: int
    version: dict[str, Any]


def data_version(data_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """What identifies the training data in the model card: records.jsonl's sha256 and the dataset metadata."""
    digest = hashlib.sha256((data_dir / RECORDS).read_bytes()).hexdigest()
    keep = {k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)}
    return {"path": str(data_dir), "records_sha256": digest, **keep}


def _record_label(rec: Record, index: int) -> str:
    return f"record {rec.id!r} (index {index})" if rec.id is not None else f"record index {index}"


def load_train_data(
    data_dir: str | Path,
    stage: str,
    *,
    on_missing_video: str = "error",
    max_records: int | None = None,
    rejects_path: str | Path | None = None,
    cache_dir: str | None = None,
    tasks: list[str] | None = None,
) -> TrainData:
    """Check every record of `data_dir` for `stage` ("sft" or "gspo"); raises `TrainDataError` before training.

    Missing media follow `on_missing_video` ("error" or "skip"); skipped records are written to `rejects_path`.
    `tasks` selects task types (a choice of the run, logged with its count, not a reject).
    """
    from o3v.curate.dataset import DatasetError

    try:
        ds = open_dataset(data_dir)
    except DatasetError as exc:
        raise TrainDataError(str(exc)) from exc
    where = str(ds.path / RECORDS)
    cache = default_cache_dir(cache_dir)
    kept: list[TrainRecord] = []
    rejects: list[dict[str, Any]] = []
    unselected = 0
    for index, rec, _ in ds.scan():
        if max_records is not None and len(kept) >= max_records:
            break
        if isinstance(rec, RecordError):
            raise TrainDataError(f"{rec} (training reads curated datasets: run `o3v check` first)")
        if tasks is not None and rec.task not in tasks:
            unselected += 1
            continue
        _check_record(rec, index, stage, where)
        field = "video_path" if rec.is_video else "image_path"
        rel = safe_relpath(rec.media_path, ds.media_root)
        problem, path = None, None
        if rel is None:
            problem = f"{field} {rec.media_path!r} leaves the media root {ds.media_root!r}"
        else:
            try:
                path = local_media(ds.media_root, rel, cache)
            except MediaError as exc:
                problem = str(exc)
            if path is not None and not path.is_file():
                problem = f"{field} not found: {path}"
        if problem is None and path is not None:
            kept.append(TrainRecord(index, rec, path))
            continue
        if on_missing_video != "skip":
            raise TrainDataError(f"{where}: {_record_label(rec, index)}: {problem} (or set on_missing_video: skip)")
        rejects.append(reject_row(stage, "media_missing", id=rec.id, index=index, field=field, values=rec.media_path))
    if rejects_path is not None:
        write_jsonl(rejects_path, rejects)
    if rejects:
        log.warning("skipped %d record(s) whose media is missing (listed in %s)", len(rejects), rejects_path)
    if unselected:
        log.info("tasks %s: left out %d record(s) of other task types", tasks, unselected)
    if not kept:
        raise TrainDataError(
            f"{where}: no trainable records ({len(rejects)} skipped for missing media, {unselected} of other tasks)"
        )
    log.info("%s data: %d records from %s (%d skipped)", stage, len(kept), data_dir, len(rejects))
    return TrainData(ds.path, kept, len(rejects), data_version(ds.path, ds.meta))


def _check_record(rec: Record, index: int, stage: str, where: str) -> None:
    label = _record_label(rec, index)
    if stage == "sft" and not rec.reasoning_process:
        raise TrainDataError(f"{where}: {label}: field 'reasoning_process' is missing (SFT trains on it)")
    if stage == "gspo":
        try:
            check_truth(rec)
        except RecordError as exc:
            raise TrainDataError(f"{where}: {label}: field '{exc.field}' {exc.reason}") from None


# ----------------------------------------------------------------------------- one example


@dataclass
class Example:
    """One prompt: chat messages with image placeholders, the images in order, and their model-input size."""

    messages: list[dict]
    images: list[Any]
    frame_size: tuple[int, int]


def _resized(frames: Any, size: tuple[int, int]) -> list[Any]:
    """uint8 arrays -> PIL images at the model-input size (bicubic, as the Qwen image processor)."""
    from PIL import Image

    return [Image.fromarray(f).resize(size, Image.Resampling.BICUBIC) for f in frames]


def build_example(item: TrainRecord, processor: Any, frames: FrameSettings, clips: ClipCache | None = None) -> Example:
    """Decode (or take from `clips`) and lay out one record's frames and messages (see the module docstring)."""
    from o3v.model import model_input_size

    rec = item.record
    if not rec.is_video:
        from PIL import Image

        with Image.open(item.media) as img:
            image = img.convert("RGB")
        size = model_input_size(processor, *image.size)
        messages = build_messages(rec.task, rec.question, None, options=rec.options)
        return Example(messages, [image.resize(size, Image.Resampling.BICUBIC)], size)

    from o3v.video import frames_at

    cache = clips if clips is not None else ClipCache(0)
    sampled = cache.sample(item.media, frames.fps, frames.min_frames, frames.max_frames)
    height, width = sampled.frames.shape[1:3]
    size = model_input_size(processor, width, height)
    key_times = sorted(float(kf.time) for kf in rec.key_frames) if rec.task == "temporal-spatial free-form QA" else []
    slots = plan_frames(list(sampled.times), key_times)
    inserted = [s.time for s in slots if s.kind == "key"]  # key frames that are not already sampled frames
    key_frames = list(frames_at(item.media, inserted).frames) if inserted else []
    sampled_iter, key_iter = iter(sampled.frames), iter(key_frames)
    ordered = [next(key_iter) if slot.kind == "key" else next(sampled_iter) for slot in slots]
    messages = build_messages(rec.task, rec.question, [s.time for s in slots], sampled.info.duration, rec.options)
    return Example(messages, _resized(ordered, size), size)


def sft_target(rec: Record, frame_size: tuple[int, int]) -> str:
    """The assistant text SFT trains on, with every box in model-input pixels.

    STGR boxes are normalized (`build_target` scales them); visual-QA boxes are original-image pixels and are
    rescaled from `image_size` first.
    """
    if rec.box_space() == "image_pixels":

        def to_input(box: Any) -> list[int]:
            return round_box(rescale_box(box, rec.image_size, frame_size))  # type: ignore[arg-type]

        reasoning = map_boxes(rec.reasoning_process or "", to_input)
        return build_target(reasoning, map_boxes(rec.answer, to_input), None)
    return build_target(rec.reasoning_process, rec.answer, frame_size)


def sft_row(
    item: TrainRecord, processor: Any, frames: FrameSettings, clips: ClipCache | None = None
) -> dict[str, Any]:
    """A trl prompt-completion row: loss falls on the completion only (trl `completion_only_loss`)."""
    ex = build_example(item, processor, frames, clips)
    completion = [{"role": "assistant", "content": [{"type": "text", "text": sft_target(item.record, ex.frame_size)}]}]
    return {"prompt": ex.messages, "completion": completion, "images": ex.images, "id": str(item.record.id)}


def gspo_row(
    item: TrainRecord, processor: Any, frames: FrameSettings, clips: ClipCache | None = None
) -> dict[str, Any]:
    """A trl GRPO row: the prompt, its frames, and the ground truth for the rewards (`reference`, JSON)."""
    ex = build_example(item, processor, frames, clips)
    ref = reference_from_record(item.record, ex.frame_size)
    return {"prompt": ex.messages, "images": ex.images, "reference": ref.to_json(), "id": str(item.record.id)}


# ----------------------------------------------------------------------------- lazy dataset


class RowCache:
    """Builds rows on demand and keeps the last `size` (trl reads each GSPO row once per generation)."""

    def __init__(self, items: list[TrainRecord], build: Callable[[TrainRecord], dict[str, Any]], size: int = 32):
        self.items, self.build, self.size = items, build, size
        self._rows: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def row(self, i: int) -> dict[str, Any]:
        if i in self._rows:
            self._rows.move_to_end(i)
            return self._rows[i]
        item = self.items[i]
        try:
            row = self.build(item)
        except Exception as exc:  # decoding errors surface mid-training: say which record
            raise TrainDataError(f"{_record_label(item.record, item.index)} ({item.media}): {exc}") from exc
        self._rows[i] = row
        if len(self._rows) > self.size:
            self._rows.popitem(last=False)
        return row

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        rows = [self.row(i) for i in batch["row"]]
        return {key: [r[key] for r in rows] for key in rows[0]}


def lazy_dataset(
    items: list[TrainRecord], build: Callable[[TrainRecord], dict[str, Any]], order: list[int] | None = None
) -> Any:
    """A `datasets.Dataset` of row indices whose rows are built by `build` when read.

    `order` lists the record index of each dataset row (repeats allowed, e.g. `planned_order`); default: each
    record once, in file order.
    """
    from datasets import Dataset

    ds = Dataset.from_dict({"row": list(range(len(items))) if order is None else list(order)})
    ds.set_transform(RowCache(items, build))
    return ds


def length_key(item: TrainRecord, frames: FrameSettings) -> int:
    """A cheap stand-in for a record's token count (no decoding): images x frame budget + text length."""
    rec = item.record
    images = 1 if not rec.is_video else frames.max_frames + len(rec.key_frames)
    text = len(rec.question) + len(rec.reasoning_process or "") + len(rec.answer or "")
    return images * 24 + text // 3


def planned_order(lengths: list[int], batch: int, rows: int, seed: int, group: int = 32) -> list[int]:
    """`rows` record indices in length-grouped batches: seeded epochs, each a fresh permutation cut into windows
    of `group` batches, sorted by length inside a window, cut into batches, batches shuffled.

    Batches of similar length waste little on padding (the trainer then reads the rows in this order); every
    record appears once per epoch.

    Example:
        >>> order = planned_order([5, 50, 6, 60, 7, 70, 8, 80], batch=2, rows=8, seed=0, group=4)
        >>> sorted(order), [sorted(order[i:i + 2]) in ([0, 2], [0, 4], [0, 6], [2, 4], [2, 6], [4, 6], [1, 3],
        ...                 [1, 5], [1, 7], [3, 5], [3, 7], [5, 7]) for i in range(0, 8, 2)]
        ([0, 1, 2, 3, 4, 5, 6, 7], [True, True, True, True])
    """
    import random

    if batch < 1 or rows < 0 or not lengths:
        raise ValueError(f"need batch >= 1, rows >= 0 and records, got batch={batch}, rows={rows}, {len(lengths)}")
    rng = random.Random(seed)
    out: list[int] = []
    while len(out) < rows:
        perm = list(range(len(lengths)))
        rng.shuffle(perm)
        window = group * batch
        batches = []
        for w in range(0, len(perm), window):
            chunk = sorted(perm[w : w + window], key=lambda i: lengths[i])
            batches += [chunk[b : b + batch] for b in range(0, len(chunk), batch)]
        rng.shuffle(batches)
        out += [i for b in batches for i in b]
    return out[:rows]


def rejects_file(out_dir: str | Path) -> Path:
    """Where a training run lists the records it skipped."""
    return Path(out_dir) / REJECTS


def repeated(items: list[TrainRecord], indices: list[int], repeats: dict[str, int] | None) -> list[int]:
    """`indices`, each `repeats[task]` times for the task types `repeats` names and once otherwise: a record
    that comes N times per epoch (how `task_repeats` upweights task types).

    Example:
        >>> from types import SimpleNamespace as R
        >>> items = [R(record=R(task=t)) for t in ("temporal QA", "visual QA", "temporal QA")]
        >>> repeated(items, [0, 1, 2], {"temporal QA": 2}), repeated(items, [1, 2], None)
        ([0, 0, 1, 2, 2], [1, 2])
    """
    repeats = repeats or {}
    return [i for i in indices for _ in range(repeats.get(items[i].record.task, 1))]


def _planned_pool(pool: list[int], lengths: list[int], batch: int, rows: int, seed: int) -> list[int]:
    order = planned_order([lengths[i] for i in pool], batch, rows, seed)
    return [pool[j] for j in order]


def curriculum_order(
    items: list[TrainRecord],
    lengths: list[int],
    batch: int,
    rows: int,
    warm_steps: int,
    seed: int,
    repeats: dict[str, int] | None = None,
) -> list[int]:
    """`warm_steps` batches of warm-up stills (records from `o3v.synth.stills`) first, then `planned_order` over
    the other records; without warm-up records (or with `warm_steps` 0) it is `planned_order` over everything.
    `repeats` (task type -> N) puts those records N times into each epoch of the planned part."""
    import random

    from o3v.synth.stills import STILL_SOURCE

    warm = [i for i, it in enumerate(items) if it.record.source == STILL_SOURCE]
    rest = [i for i, it in enumerate(items) if it.record.source != STILL_SOURCE]
    if not warm or not rest or warm_steps <= 0:
        return _planned_pool(repeated(items, list(range(len(items))), repeats), lengths, batch, rows, seed)
    n_warm = min(rows, warm_steps * batch)
    rng = random.Random(seed)
    first: list[int] = []
    while len(first) < n_warm:
        perm = list(warm)
        rng.shuffle(perm)
        first += perm
    return first[:n_warm] + _planned_pool(repeated(items, rest, repeats), lengths, batch, rows - n_warm, seed)
