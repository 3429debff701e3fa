"""Score completions of reference records outside training: the `o3v reward` audit.

    o3v reward --records STGR-RL.json --completions completions.jsonl --frame-size 420 224 [--progress 0.5]

`--records` is an STGR JSON list or JSONL; `--completions` is JSONL `{"index": i, "completion": text}` with
`i` indexing the records; `--frame-size W H` is the model-input frame size the completion's boxes are in.
Output: one JSON line per completion, `{"index": i, "rewards": {term: value}, "total": sum}`, with only the
terms that apply to the record's task (open-o3-video.md §9.6).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from o3v.records import Record, RecordError, read_jsonl, read_records
from o3v.rewards import score_completion
from o3v.rewards.columns import reference_from_record
from o3v.rewards.thinking import Gate

log = logging.getLogger(__name__)


def _completion_rows(path: Path, n_records: int) -> Iterator[tuple[int, str]]:
    for line, row in enumerate(read_jsonl(path)):
        where = f"file {path}, line {line + 1}"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: must be a JSON object with 'index' and 'completion'")
        index, text = row.get("index"), row.get("completion")
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"{where}, field 'index': must be an integer, got {index!r}")
        if not 0 <= index < n_records:
            raise ValueError(f"{where}, field 'index': {index} is out of range for {n_records} records")
        if not isinstance(text, str):
            raise ValueError(f"{where}, field 'completion': must be a string, got {type(text).__name__}")
        yield index, text


def score_file(
    records: str | Path,
    completions: str | Path,
    frame_size: tuple[int, int],
    progress: float = 1.0,
    gate: Gate = "two-sided",
) -> Iterator[dict]:
    """Yield `{"index", "rewards", "total"}` per completion line (see the module docstring)."""
    width, height = frame_size
    if width <= 0 or height <= 0:
        raise ValueError(f"--frame-size must be positive, got {width} {height}")
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"--progress must be in [0, 1], got {progress}")
    recs: list[Record] = read_records(records)
    cache: dict[int, object] = {}
    n = 0
    for index, text in _completion_rows(Path(completions), len(recs)):
        if index not in cache:
            try:
                cache[index] = reference_from_record(recs[index], (width, height))
            except RecordError as exc:
                raise exc.located(str(records), index) from None
        rewards = score_completion(text, cache[index], progress=progress, gate=gate)  # type: ignore[arg-type]
        n += 1
        yield {"index": index, "rewards": rewards, "total": sum(rewards.values())}
    log.info("scored %d completions against %d records", n, len(recs))
