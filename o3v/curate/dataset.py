"""The dataset artifact every curation stage reads and writes (docs/architecture.md, "Dataset artifact").

    records.jsonl   kept records (upstream-shaped STGR dicts with a unique "id")
    rejects.jsonl   one line per rejected record: {"id", "index", "stage", "reason", "field", "values", ...}
    stats.json      {"stage", "in", "kept", "rejected", "by_reason"}; in == kept + rejected, always
    dataset.json    {"media_root", "stage", ...}: record media paths are relative to media_root

Counting unit: the **record**. A record with several bad boxes is rejected once; its reject line names
the first problem in `reason`/`field`/`values` and lists every problem under `problems`. Each reject
line also keeps the offending record (or the teacher's raw text), so nothing is lost.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from o3v.records import Record, RecordError, scan_records, write_jsonl

log = logging.getLogger(__name__)

RECORDS, REJECTS, STATS, META = "records.jsonl", "rejects.jsonl", "stats.json", "dataset.json"

MEDIA_META = "media_meta"  # {"kind", "width", "height"[, "duration", "fps", "num_frames"]}, added by annotate


class DatasetError(ValueError):
    """A dataset directory that cannot be read at all (missing files, unreadable metadata)."""


def reject_row(
    stage: str,
    reason: str,
    *,
    id: str | None,
    index: int | None,
    field: str | None = None,
    values: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """One rejects.jsonl line. `reason` is a stable code; `field`/`values` say what was wrong."""
    return {"id": id, "index": index, "stage": stage, "reason": reason, "field": field, "values": values, **extra}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a record: a stable reason code, the offending field and its values."""

    reason: str
    field: str | None = None
    values: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "field": self.field, "values": self.values}


def problems_reject(stage: str, record: Record, index: int, problems: list[Problem], **extra: Any) -> dict[str, Any]:
    """Reject line for a record with one or more problems: the first names the reason, all are listed."""
    first = problems[0]
    return reject_row(
        stage,
        first.reason,
        id=record.id,
        index=index,
        field=first.field,
        values=first.values,
        problems=[p.to_json() for p in problems],
        record=record.to_dict(),
        **extra,
    )


def set_field(record: Record, key: str, value: Any) -> None:
    """Set `id` or an extra field on a record so that `to_dict` writes it (records keep their key order)."""
    if key == "id":
        record.id = value
    else:
        record.extra[key] = value
    if record.key_order and key not in record.key_order:
        record.key_order = ("id", *record.key_order) if key == "id" else (*record.key_order, key)


def schema_reject(stage: str, index: int, err: RecordError, raw: Any) -> dict[str, Any]:
    """Reject line for an input line that is not valid JSON or not a valid record."""
    reason = "malformed_json" if raw is None else "schema"
    rid = raw.get("id") if isinstance(raw, dict) else None
    return reject_row(stage, reason, id=rid, index=index, field=err.field, values=None, message=str(err), record=raw)


@dataclass
class DatasetIn:
    """An input dataset directory: its metadata and where its records live."""

    path: Path
    meta: dict[str, Any]

    @property
    def media_root(self) -> str:
        return self.meta.get("media_root", "")

    def scan(self) -> Iterator[tuple[int, Record | RecordError, Any]]:
        """Every line of records.jsonl as `(index, record_or_error, raw)`; see `o3v.records.scan_records`."""
        return scan_records(self.path / RECORDS)


def open_dataset(in_dir: str | Path) -> DatasetIn:
    """Open a dataset directory; raises `DatasetError` naming the missing or broken file."""
    in_dir = Path(in_dir)
    meta_path, rec_path = in_dir / META, in_dir / RECORDS
    if not rec_path.is_file():
        raise DatasetError(f"{rec_path}: missing (a dataset directory holds {RECORDS} and {META})")
    if not meta_path.is_file():
        raise DatasetError(f"{meta_path}: missing (a dataset directory holds {RECORDS} and {META})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{meta_path}: unreadable: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("media_root"), str):
        raise DatasetError(f"{meta_path}: field 'media_root' must be a string")
    return DatasetIn(in_dir, meta)


@dataclass
class StageOutput:
    """Collects a stage's kept records and rejects, then writes the four files with the count invariant."""

    stage: str
    kept: list[Record] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def keep(self, record: Record) -> None:
        self.kept.append(record)

    def reject(self, row: dict[str, Any]) -> None:
        self.rejects.append(row)

    def screen(
        self, ds: DatasetIn, rules: Callable[[Record], list[Problem]], desc: str
    ) -> tuple[int, list[tuple[int, Record]]]:
        """A stage's rule pass over `ds`: malformed lines and records with problems become rejects here.

        Returns the number of input lines and the `(index, record)` survivors, in input order.
        """
        survivors: list[tuple[int, Record]] = []
        n_in = 0
        for index, rec, raw in tqdm(ds.scan(), desc=desc, unit="rec", mininterval=2.0):
            n_in += 1
            if isinstance(rec, RecordError):
                self.reject(schema_reject(self.stage, index, rec, raw))
                continue
            problems = rules(rec)
            if problems:
                self.reject(problems_reject(self.stage, rec, index, problems))
            else:
                survivors.append((index, rec))
        return n_in, survivors

    def write(
        self, out_dir: str | Path, n_in: int, meta: dict[str, Any], config: Any = None, **extra_stats: Any
    ) -> dict[str, Any]:
        """Write records/rejects/stats/dataset.json (+ the resolved config); returns the stats dict."""
        n_kept, n_rej = len(self.kept), len(self.rejects)
        if n_kept + n_rej != n_in:  # a bug in the stage, never a data problem: refuse to write a lossy artifact
            raise AssertionError(f"stage {self.stage}: kept {n_kept} + rejected {n_rej} != input {n_in}")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / RECORDS, (r.to_dict() for r in self.kept))
        write_jsonl(out / REJECTS, self.rejects)
        stats = {
            "stage": self.stage,
            "in": n_in,
            "kept": n_kept,
            "rejected": n_rej,
            "by_reason": dict(sorted(Counter(r["reason"] for r in self.rejects).items())),
            **extra_stats,
        }
        (out / STATS).write_text(json.dumps(stats, indent=2, default=str) + "\n", encoding="utf-8")
        (out / META).write_text(json.dumps({**meta, "stage": self.stage}, indent=2) + "\n", encoding="utf-8")
        if config is not None:
            (out / "config.resolved.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), "utf-8")
        log.info("%s: in %d, kept %d, rejected %d %s", self.stage, n_in, n_kept, n_rej, stats["by_reason"])
        return stats
