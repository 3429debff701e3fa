"""Shared glue for the stage wrappers: duck-typed KFP artifacts, parents, provenance, metrics."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from o3v.artifacts import provenance as pv

log = logging.getLogger(__name__)


class ArtifactLike(Protocol):
    """What o3v uses of a KFP artifact (`kfp.dsl.Artifact` and subclasses)."""

    path: str
    uri: str
    metadata: dict[str, Any]


class MetricsLike(ArtifactLike, Protocol):
    """A KFP `Metrics` artifact."""

    def log_metric(self, metric: str, value: float) -> None: ...


def parent(role: str, art: ArtifactLike) -> pv.Parent:
    """A provenance parent for an input artifact: its URI, its content hash and the stage that made it.

    The hash comes from the producer's metadata when present (no re-hashing of big checkpoints), else from
    the bytes on disk; an input without provenance (an imported raw file) gets only its hash.
    """
    meta = dict(getattr(art, "metadata", None) or {})
    tree = meta.get("tree_hash")
    if tree is None and Path(art.path).exists():
        tree = pv.hash_tree(Path(art.path))[0]
    return pv.Parent(role=role, uri=art.uri, tree_hash=tree, stage=meta.get("stage"))


def parents(inputs: Mapping[str, ArtifactLike | list[ArtifactLike] | None]) -> list[pv.Parent]:
    """Parents for every input; a list input (a collected fan-out) gives one parent per element."""
    out: list[pv.Parent] = []
    for role, value in inputs.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        out.extend(parent(role, art) for art in items)
    return out


def finish(
    out: ArtifactLike,
    stage: str,
    inputs: Mapping[str, ArtifactLike | list[ArtifactLike] | None],
    config: Mapping[str, Any] | None = None,
    summary: Mapping[str, Any] | None = None,
    compute_s: float | None = None,
) -> pv.Provenance:
    """Record provenance for a folder/file output and mirror it into the KFP artifact's metadata.

    `compute_s` (seconds spent in the library's stage function) goes into the metadata only: it describes
    this execution, not the content (bench/pipeline.py sets it against the task's wall time).
    """
    prov = pv.record(
        Path(out.path),
        stage=stage,
        uri=out.uri,
        parents=parents(inputs),
        config=dict(config or {}),
        run_id=pv.run_id_from_uri(out.uri),
        summary=dict(summary or {}),
    )
    out.metadata.update(prov.metadata())
    if compute_s is not None:
        out.metadata["compute_s"] = round(compute_s, 3)
    return prov


def flat_numbers(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Finite numbers of a nested dict as `a.b.c` keys (what KFP's `log_metric` accepts)."""
    out: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_numbers(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
        elif isinstance(value, bool):
            out[name] = float(value)
    return out


def write_metrics(
    metrics: MetricsLike,
    values: Mapping[str, Any],
    stage: str,
    inputs: Mapping[str, ArtifactLike | list[ArtifactLike] | None],
    config: Mapping[str, Any] | None = None,
    compute_s: float | None = None,
) -> pv.Provenance:
    """Log every number to the KFP Metrics artifact and write the o3v metrics file (values + provenance)."""
    for key, value in sorted(flat_numbers(values).items()):
        metrics.log_metric(key, value)
    prov = pv.write_metrics(
        Path(metrics.path),
        dict(values),
        stage=stage,
        uri=metrics.uri,
        parents=parents(inputs),
        config=dict(config or {}),
        run_id=pv.run_id_from_uri(metrics.uri),
    )
    metrics.metadata.update({k: v for k, v in prov.metadata().items() if k in ("stage", "tree_hash", "parents")})
    if compute_s is not None:
        metrics.metadata["compute_s"] = round(compute_s, 3)
    return prov


def whole_numbers_as_int(value: Any) -> Any:
    """Turn whole-number floats back into ints, recursively.

    KFP passes dict/list parameters as protobuf Structs, whose numbers are all doubles: `{"max_steps": 2}`
    arrives as `{"max_steps": 2.0}`, which strict configs reject. JSON has no int/float distinction to
    restore, so a whole number is taken to be an int (configs accept an int where they want a float).

    >>> whole_numbers_as_int({"max_steps": 2.0, "lr": 0.5, "x": [1.0, True]})
    {'max_steps': 2, 'lr': 0.5, 'x': [1, True]}
    """
    if isinstance(value, dict):
        return {k: whole_numbers_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers_as_int(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The pipeline's knobs and their types. KFP hands a dict argument that embeds pipeline parameters over as
# text (an int parameter arrives as "0.0"), so every knob is converted back here, by name.
KNOB_TYPES: dict[str, type] = {
    "seed": int,
    "fps": float,
    "max_frames": int,
    "min_pixels": int,
    "max_pixels": int,
    "accelerator_count": int,
    "accelerator_type": str,
}


def typed_knobs(knobs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Knob values converted to their types; an unknown knob or a value that does not convert names itself.

    >>> typed_knobs({"seed": "0.0", "fps": "2", "accelerator_type": "nvidia.com/gpu"})
    {'seed': 0, 'fps': 2.0, 'accelerator_type': 'nvidia.com/gpu'}
    """
    out: dict[str, Any] = {}
    for name, value in (knobs or {}).items():
        kind = KNOB_TYPES.get(name)
        if kind is None:
            raise ValueError(f"unknown pipeline knob {name!r}; expected one of {sorted(KNOB_TYPES)}")
        try:
            number = float(value) if kind is not str else None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"pipeline knob {name!r} must be a number, got {value!r}") from exc
        if kind is int and number is not None and not number.is_integer():
            raise ValueError(f"pipeline knob {name!r} must be a whole number, got {value!r}")
        out[name] = str(value) if kind is str else kind(number)
    return out


def read_metrics(path: str | Path) -> dict[str, Any]:
    """The values of an o3v metrics file (raises ValueError naming the file when it is not one)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable metrics file ({exc})") from exc
    if not isinstance(data, dict) or data.get("schema") != pv.METRICS_SCHEMA:
        raise ValueError(f"{path}: not an o3v metrics file (schema {pv.METRICS_SCHEMA!r})")
    return data["metrics"]


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object; errors name the file and what it should have been."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the {what} ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the {what} must be a JSON object")
    return data
