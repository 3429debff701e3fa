"""Annotate stage (`o3v annotate SOURCE --out OUT`): videos -> STGR records, with a pre-flight decode.

Sources and teachers are described in `o3v.curate.sources` and `o3v.curate.teacher`. Counting unit
(`in == kept + rejected` in stats.json): a *candidate record*. A manifest line that is malformed or
unsafe, a video that fails pre-flight, and a teacher call that fails or returns unparseable text each
count as one rejected unit; every item a teacher returns counts as one unit, kept or rejected. For an
imported file, every input record is one unit. stats.json also reports the video-level counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from o3v.curate.config import ConfigError, CurateConfig, load_config
from o3v.curate.dataset import MEDIA_META, Problem, StageOutput, reject_row, schema_reject, set_field
from o3v.curate.media import MediaError, default_cache_dir, safe_relpath
from o3v.curate.sources import Source, detect_source, probe_media, read_manifest
from o3v.curate.teacher import ModelTeacher, TeacherReply, VideoJob
from o3v.records import Record, RecordError, scan_records

log = logging.getLogger(__name__)

STAGE = "annotate"


class MediaChecker:
    """Pre-flight for records: safe relative media path, decoded once per file, `media_meta` attached."""

    def __init__(self, media_root: str, cache_dir: Path):
        self.root, self.cache = media_root, cache_dir
        self._seen: dict[str, tuple[Path, dict] | MediaError] = {}

    def probe(self, rel: str, kind: str) -> tuple[Path, dict[str, Any]]:
        if rel not in self._seen:
            try:
                self._seen[rel] = probe_media(self.root, rel, self.cache, kind)
            except MediaError as exc:
                self._seen[rel] = exc
        got = self._seen[rel]
        if isinstance(got, MediaError):
            raise got
        return got

    def attach(self, rec: Record) -> Problem | None:
        """Normalize the record's media path and attach `media_meta`; a Problem when the media is unusable."""
        field = "video_path" if rec.is_video else "image_path"
        rel = safe_relpath(rec.media_path, self.root)
        if rel is None:
            return Problem("unsafe_path", field, rec.media_path)
        try:
            _, meta = self.probe(rel, "video" if rec.is_video else "image")
        except MediaError as exc:
            return Problem(exc.reason, field, {"path": rec.media_path, "message": str(exc)})
        if rec.is_video:
            rec.video_path = rel
        else:
            rec.image_path = rel
            if rec.image_size and list(rec.image_size) != [meta["width"], meta["height"]]:
                return Problem(
                    "image_size_mismatch",
                    "image_size",
                    {"record": rec.image_size, "file": [meta["width"], meta["height"]]},
                )
        set_field(rec, MEDIA_META, meta)
        return None


def build_teacher(cfg: CurateConfig, src: Source, cache_dir: Path) -> Any:
    """The configured teacher; `synthetic` needs a synth world."""
    if cfg.annotate.teacher == "synthetic":
        if src.kind != "synth":
            raise ConfigError(
                f"annotate.teacher 'synthetic' needs a synth world folder, got {src.kind} {src.path}; "
                "use 'openai' or 'local' for your own videos"
            )
        from o3v.curate.synthetic import SyntheticTeacher

        return SyntheticTeacher(src.root)  # type: ignore[arg-type]
    from o3v.curate.backends import build_chat

    chat = build_chat(cfg.annotate.teacher, cfg, cache_dir)
    a = cfg.annotate
    return ModelTeacher(chat, a.num_frames, a.max_frame_side, a.items_per_video)


def run_teacher(teacher: Any, jobs: list[VideoJob]) -> Iterator[tuple[VideoJob, TeacherReply]]:
    """Teacher replies in manifest order; up to `teacher.concurrency` calls in flight (threads)."""
    workers = max(1, int(getattr(teacher, "concurrency", 1)))
    bar = tqdm(total=len(jobs), desc=f"teacher {teacher.name}", unit="video", mininterval=2.0)
    if workers == 1:
        for job in jobs:
            yield job, teacher(job)
            bar.update()
    else:
        done: dict[int, TeacherReply] = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(teacher, job): k for k, job in enumerate(jobs)}
            for fut in as_completed(futures):
                done[futures[fut]] = fut.result()
                bar.update()
        yield from ((job, done[k]) for k, job in enumerate(jobs))
    bar.close()


def _add_item(
    out: StageOutput,
    item: Any,
    rec: Record | RecordError,
    base: dict,
    media: MediaChecker,
    ids: set[str],
    invalid: str = "teacher_invalid_record",
    teacher_text: str | None = None,
) -> None:
    """Keep or reject one candidate record (schema, unique id, media pre-flight).

    `item` is the input as given (a teacher item or a raw record dict); `teacher_text` the whole reply.
    """
    if isinstance(rec, RecordError):
        extra = {"raw": teacher_text} if teacher_text is not None else {}
        out.reject(
            reject_row(STAGE, invalid, **base, field=rec.field, values=None, message=str(rec), record=item, **extra)
        )
        return
    rid = base["id"] = rec.id if rec.id is not None else base["id"]
    problem = Problem("duplicate_id", "id", rid) if rid is None or str(rid) in ids else None
    problem = problem or (media.attach(rec) if not rec.is_video or MEDIA_META not in rec.extra else None)
    if problem:
        out.reject(reject_row(STAGE, problem.reason, **base, field=problem.field, values=problem.values, record=item))
        return
    ids.add(str(rid))
    out.keep(rec)


def _add_reply(
    out: StageOutput, job: VideoJob, reply: TeacherReply, media: MediaChecker, ids: set[str], invalid: str
) -> int:
    """Keep or reject every item of one teacher reply; returns how many units it added."""
    if reply.error is not None:
        p = reply.error
        out.reject(
            reject_row(
                STAGE,
                p.reason,
                id=job.id,
                index=job.index,
                field=p.field,
                values=p.values,
                video=job.rel_path,
                raw=reply.raw,
            )
        )
        return 1
    for j, (raw, rec) in enumerate(reply.items):
        rid = raw.get("id") if isinstance(raw, dict) and raw.get("id") is not None else f"{job.id}-{j}"
        base = {"id": rid, "index": job.index, "video": job.rel_path, "item": j}
        _add_item(out, raw, rec, base, media, ids, invalid, reply.raw if invalid != "schema" else None)
    return len(reply.items)


def _add_unclaimed(out: StageOutput, teacher: Any, entries: list, media: MediaChecker, ids: set[str]) -> int:
    """Synth records that belong to no manifest video: still images are checked and kept, videos rejected."""
    items = teacher.unclaimed({e.rel_path for e in entries}) if hasattr(teacher, "unclaimed") else []
    for j, (raw, rec) in enumerate(items):
        base = {"id": raw.get("id") if isinstance(raw, dict) else None, "index": None, "item": j}
        if isinstance(rec, Record) and rec.is_video:
            out.reject(
                reject_row(STAGE, "not_in_manifest", **base, field="video_path", values=rec.video_path, record=raw)
            )
        else:
            _add_item(out, raw, rec, base, media, ids, "schema")
    return len(items)


def _import(src: Source, out_dir: Path, cfg: CurateConfig, cache: Path) -> dict[str, Any]:
    root = str(Path(cfg.annotate.media_root or src.path.parent).resolve())
    media, out, ids, n_in = MediaChecker(root, cache), StageOutput(STAGE), set(), 0
    for index, rec, raw in tqdm(scan_records(src.path), desc="import + pre-flight", unit="rec", mininterval=2.0):
        n_in += 1
        if isinstance(rec, RecordError):
            out.reject(schema_reject(STAGE, index, rec, raw))
            continue
        if rec.id is None:  # upstream files carry no ids; the position in the file is stable
            set_field(rec, "id", f"{src.path.stem}-{index:06d}")
        problem = Problem("duplicate_id", "id", rec.id) if str(rec.id) in ids else media.attach(rec)
        if problem:
            out.reject(
                reject_row(
                    STAGE,
                    problem.reason,
                    id=rec.id,
                    index=index,
                    field=problem.field,
                    values=problem.values,
                    record=raw,
                )
            )
            continue
        ids.add(str(rec.id))
        out.keep(rec)
    meta = {"media_root": root, "source": str(src.path.resolve()), "source_kind": "import", "teacher": None}
    return out.write(out_dir, n_in, meta, cfg)


def annotate(source: str | Path, out_dir: str | Path, config: Any = None) -> dict[str, Any]:
    """Annotate stage: a synth world, a manifest or an upstream file -> dataset `out_dir`; returns stats."""
    cfg: CurateConfig = load_config(config)
    src = detect_source(source)
    cache = default_cache_dir(cfg.annotate.cache_dir)
    if src.kind == "import":
        return _import(src, Path(out_dir), cfg, cache)
    teacher = build_teacher(cfg, src, cache)  # before pre-flight: a config error should not wait for decoding
    media_root, entries, bad = read_manifest(src.path, cfg.annotate.media_root if src.kind == "manifest" else None)
    out, media = StageOutput(STAGE), MediaChecker(media_root, cache)
    for b in bad:
        out.reject(reject_row(STAGE, b.pop("reason"), id=b.pop("id", None), index=b.pop("index"), **b))
    jobs = []
    for e in tqdm(entries, desc="pre-flight decode", unit="video", mininterval=2.0):
        try:
            local, meta = media.probe(e.rel_path, "video")
        except MediaError as exc:
            out.reject(
                reject_row(
                    STAGE, exc.reason, id=e.id, index=e.index, field="video", values=e.rel_path, message=str(exc)
                )
            )
            continue
        jobs.append(VideoJob(e.index, e.id, e.rel_path, local, meta))
    n_in, ids, failed_calls, cached = len(out.rejects), set(), 0, 0
    invalid = "schema" if teacher.name == "synthetic" else "teacher_invalid_record"
    for job, reply in run_teacher(teacher, jobs):
        n_in += _add_reply(out, job, reply, media, ids, invalid)
        failed_calls += reply.error is not None
        cached += reply.cached
    n_in += _add_unclaimed(out, teacher, entries, media, ids)
    meta = {
        "media_root": media_root,
        "source": str(Path(source).resolve()),
        "source_kind": src.kind,
        "teacher": teacher.name,
    }
    if src.kind == "synth":
        root = src.root.resolve()  # type: ignore[union-attr]
        meta["world"] = str(root / "world.json")
        if (root / "faults.jsonl").is_file():
            meta["fault_labels"] = str(root / "faults.jsonl")
    videos = {
        "in": len(entries) + len(bad),
        "decoded": len(jobs),
        "teacher_failed": failed_calls,
        "teacher_cached": cached,
    }
    return out.write(out_dir, n_in, meta, cfg, videos=videos)
