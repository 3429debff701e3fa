"""Annotate's inputs: what a source is, the video manifest, and the pre-flight decode of every video.

A source is one of:

- a synth world folder (`o3v synth --out DIR`: `manifest.jsonl`, `stgr/STGR-SFT.json`, `world.json`);
- a video manifest, JSONL `{"id", "video"}` with local paths (relative to the manifest's folder or
  `annotate.media_root`) or `gs://` URIs (one bucket per manifest);
- an upstream STGR-SFT/RL file (a `.json` list, or `.jsonl` whose lines carry "task") to import.

Pre-flight (benchmarks.md §10: broken and missing videos are what users of peer projects trip over
most): every distinct video is decoded once with `o3v.video.probe` before any teacher call; its
duration, fps and size go into the record's `media_meta`; missing, undecodable and unsafe paths
become rejects carrying the decoder's message.
"""

from __future__ import annotations

import json
import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from o3v.curate.dataset import DatasetError, Problem
from o3v.curate.media import MediaError, is_gcs, local_media, safe_relpath, split_gcs

log = logging.getLogger(__name__)

SourceKind = Literal["synth", "manifest", "import"]


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    path: Path  # the manifest (synth: the world's manifest) or the imported records file
    root: Path | None = None  # the synth world folder


@dataclass(frozen=True)
class ManifestEntry:
    index: int
    id: str
    rel_path: str


def detect_source(source: str | Path) -> Source:
    """Classify `source`; raises `DatasetError` naming what is missing."""
    p = Path(source)
    if p.is_dir():
        if (p / "manifest.jsonl").is_file() and (p / "stgr" / "STGR-SFT.json").is_file():
            return Source("synth", p / "manifest.jsonl", p)
        if (p / "manifest.jsonl").is_file():
            return Source("manifest", p / "manifest.jsonl")
        raise DatasetError(f"{p}: a source folder needs manifest.jsonl (and stgr/STGR-SFT.json for a synth world)")
    if not p.is_file():
        raise DatasetError(f"{p}: source not found (expected a synth folder, a manifest .jsonl or an STGR .json)")
    if p.suffix == ".json":
        return Source("import", p)
    first = _first_object(p)
    return Source("import" if isinstance(first, dict) and "task" in first else "manifest", p)


def _first_object(path: Path) -> Any:
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    return None
    return None


def read_manifest(path: Path, media_root: str | None) -> tuple[str, list[ManifestEntry], list[dict[str, Any]]]:
    """(media_root, entries, bad lines) of a manifest. Bad lines come back as reject material.

    Local paths are relative to `media_root` (default: the manifest's folder); gs:// URIs set the
    media root to their common `gs://bucket/prefix`. Mixing the two, or two buckets, is an error.
    """
    bad: list[dict[str, Any]] = []
    rows: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(
                {
                    "index": i,
                    "reason": "malformed_json",
                    "field": None,
                    "values": line[:200],
                    "message": f"{path}: line {i}: {exc.msg} at column {exc.colno}",
                }
            )
            continue
        problem = _manifest_problem(row, seen)
        if problem:
            rid = row.get("id") if isinstance(row, dict) else None
            bad.append({"index": i, "id": rid, **problem.to_json(), "message": f"{path}: line {i}: {problem.reason}"})
            continue
        seen.add(row["id"])
        rows.append((i, row["id"], row["video"]))
    uris = [v for _, _, v in rows if is_gcs(v)]
    if uris and len(uris) != len(rows):
        raise DatasetError(f"{path}: a manifest holds either local paths or gs:// URIs, not both")
    if uris:
        return _gcs_entries(path, rows, bad)
    root = str(Path(media_root).resolve() if media_root else path.parent.resolve())
    entries = []
    for i, rid, video in rows:
        rel = safe_relpath(video, root)
        if rel is None:
            bad.append(
                {
                    "index": i,
                    "id": rid,
                    "reason": "unsafe_path",
                    "field": "video",
                    "values": video,
                    "message": f"{path}: line {i}: video path {video!r} leaves the media root {root}",
                }
            )
        else:
            entries.append(ManifestEntry(i, rid, rel))
    return root, entries, bad


def _manifest_problem(row: Any, seen: set[str]) -> Problem | None:
    if not isinstance(row, dict):
        return Problem("manifest_schema", None, 'each line must be a JSON object {"id", "video"}')
    for key in ("id", "video"):
        if not isinstance(row.get(key), str) or not row[key]:
            return Problem("manifest_schema", key, row.get(key))
    if row["id"] in seen:
        return Problem("duplicate_id", "id", row["id"])
    return None


def _gcs_entries(path: Path, rows: list[tuple[int, str, str]], bad: list[dict]) -> tuple[str, list, list]:
    parsed = []
    for i, rid, uri in rows:
        try:
            parsed.append((i, rid, *split_gcs(uri)))
        except MediaError as exc:
            bad.append(
                {
                    "index": i,
                    "id": rid,
                    "reason": "unsafe_path",
                    "field": "video",
                    "values": uri,
                    "message": f"{path}: line {i}: {exc}",
                }
            )
    buckets = sorted({b for _, _, b, _ in parsed})
    if len(buckets) > 1:
        raise DatasetError(f"{path}: gs:// videos must share one bucket (one media root), found {buckets}")
    if not parsed:
        return "gs://", [], bad
    prefix = posixpath.commonpath([posixpath.dirname(n) or "." for _, _, _, n in parsed]).strip(".")
    root = f"gs://{buckets[0]}" + (f"/{prefix}" if prefix else "")
    cut = len(prefix) + 1 if prefix else 0
    return root, [ManifestEntry(i, rid, n[cut:]) for i, rid, _, n in parsed], bad


def probe_media(media_root: str, rel: str, cache_dir: Path, kind: str = "video") -> tuple[Path, dict[str, Any]]:
    """Decode one video (or open one image) and return its local path and `media_meta`.

    Raises `MediaError` whose `reason` is `<kind>_missing`, `<kind>_undecodable`, `download_failed`
    or `unsafe_path`, and whose message names the file (and carries the decoder's own message).
    """
    local = local_media(media_root, rel, cache_dir)
    if not local.is_file():
        raise MediaError(f"{local}: no such file", f"{kind}_missing")
    if kind == "image":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(local) as img:
                img.load()
                return local, {"kind": "image", "width": img.width, "height": img.height}
        except (OSError, UnidentifiedImageError) as exc:
            raise MediaError(f"{local}: {exc}", "image_undecodable") from exc
    from o3v.video import VideoError, probe

    try:
        info = probe(local)
    except VideoError as exc:
        raise MediaError(str(exc), "video_undecodable") from exc
    meta = {
        "kind": "video",
        "width": int(info.width),
        "height": int(info.height),
        "duration": float(info.duration),
        "fps": float(info.fps),
        "num_frames": int(info.num_frames),
    }
    return local, meta
