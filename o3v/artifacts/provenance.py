"""Provenance of every artifact o3v writes: content hashes, parents, stage, config, code version, run id, time.

A stage output (a folder, or a single file such as a metrics JSON) gets a `provenance.json` record: inside the
folder for directory artifacts, beside the file as `<name>.provenance.json` for file artifacts. The same fields go
into the KFP artifact's metadata, so the Kubeflow UI shows them; `o3v.artifacts.lineage` walks the `parents`.

Hashes: sha256 per file and a *tree hash* = sha256 over the sorted `"<relpath>\\0<sha256>\\n"` lines, so two
folders with the same files in the same places hash the same wherever they live. The provenance file itself is
left out of the hash (it names the run and time, which differ between identical outputs).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROVENANCE_FILE = "provenance.json"
SCHEMA = "o3v.provenance/1"
METRICS_SCHEMA = "o3v.metrics/1"
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_hash_of(files: dict[str, dict[str, Any]]) -> str:
    """Tree hash of a `{relpath: {"sha256": ...}}` listing (order-independent)."""
    lines = "".join(f"{rel}\0{files[rel]['sha256']}\n" for rel in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def hash_tree(path: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """Hash a folder (every file below it, except provenance records) or a single file.

    Returns:
        (tree_hash, {relpath: {"sha256": hex, "size": bytes}}); a single file is listed under its own name.

    Raises:
        FileNotFoundError: naming the path, when it does not exist.
    """
    path = Path(path)
    embedded = _metrics_file(path)
    if embedded is not None:
        return metrics_hash(embedded["metrics"]), {}
    if path.is_file():
        entries = {path.name: path}
    elif path.is_dir():
        entries = {
            p.relative_to(path).as_posix(): p
            for p in sorted(path.rglob("*"))
            if p.is_file() and not _is_provenance_file(p.relative_to(path).as_posix())
        }
    else:
        raise FileNotFoundError(f"{path}: cannot hash a missing artifact")
    files = {rel: {"sha256": file_sha256(p), "size": p.stat().st_size} for rel, p in entries.items()}
    return tree_hash_of(files), files


def metrics_hash(values: dict[str, Any]) -> str:
    """Hash of a metrics dict (canonical JSON): the content hash of an o3v metrics file."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _metrics_file(path: Path) -> dict[str, Any] | None:
    """The parsed body of an o3v metrics file (`{"schema": METRICS_SCHEMA, "metrics", "provenance"}`), else None."""
    if not path.is_file() or path.stat().st_size > 16 << 20:
        return None
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == METRICS_SCHEMA else None


def _is_provenance_file(rel: str) -> bool:
    return rel == PROVENANCE_FILE or (rel.endswith(".provenance.json") and "/" not in rel)


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, str | None]:
    """The o3v package version plus the git sha of the code that ran.

    The sha comes from `O3V_GIT_SHA` (baked into the images at build time, where there is no .git) or from
    `git rev-parse HEAD` when the package runs from a checkout; `dirty` says whether tracked files differ from it.
    """
    from o3v import __version__

    sha = os.environ.get("O3V_GIT_SHA") or None
    dirty: str | None = None
    if sha is None:
        repo = Path(__file__).resolve().parents[2]
        sha = _git(repo, "rev-parse", "HEAD")
        if sha is not None:
            status = _git(repo, "status", "--porcelain", "--untracked-files=no")
            dirty = "true" if status else "false"
    return {"package": "o3v", "version": __version__, "git_sha": sha, "git_dirty": dirty}


def _git(repo: Path, *args: str) -> str | None:
    if not (repo / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds (sortable as text)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


@dataclass
class Parent:
    """One input an artifact was made from."""

    role: str  # the input's name in the stage ("dataset", "base_model", "gate", ...)
    uri: str
    tree_hash: str | None = None
    stage: str | None = None


@dataclass
class Provenance:
    """Where an artifact came from. Serialised as `provenance.json` and flattened into KFP artifact metadata."""

    stage: str
    uri: str
    tree_hash: str
    files: dict[str, dict[str, Any]]
    parents: list[Parent] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    code: dict[str, str | None] = field(default_factory=code_version)
    run_id: str | None = None
    created_at: str = field(default_factory=utc_now)
    summary: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the on-disk form)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "<provenance>") -> Provenance:
        """Parse the on-disk form; raises ValueError naming `source` and the field on bad input."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"{source}: not an o3v provenance record (schema must be {SCHEMA!r})")
        try:
            parents = [Parent(**p) for p in data.get("parents", [])]
            kwargs = {k: data[k] for k in ("stage", "uri", "tree_hash", "files")}
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{source}: bad provenance field: {exc}") from exc
        optional = ("config", "code", "run_id", "created_at", "summary")
        return cls(parents=parents, **kwargs, **{k: data[k] for k in optional if k in data})

    def metadata(self) -> dict[str, Any]:
        """The fields shown in the Kubeflow UI (artifact metadata): everything but the per-file listing."""
        meta = self.to_json()
        meta.pop("files")
        meta["file_count"] = len(self.files)
        return meta


def provenance_path(artifact: Path) -> Path:
    """Where the provenance record of a folder or file artifact lives."""
    artifact = Path(artifact)
    return artifact / PROVENANCE_FILE if artifact.is_dir() else artifact.with_name(artifact.name + ".provenance.json")


def record(
    artifact: Path,
    *,
    stage: str,
    uri: str | None = None,
    parents: list[Parent] | None = None,
    config: dict[str, Any] | None = None,
    run_id: str | None = None,
    summary: dict[str, Any] | None = None,
) -> Provenance:
    """Hash an artifact and write its provenance record next to it; returns the record.

    Args:
        artifact: the output folder or file (must exist).
        stage: the stage that produced it ("annotate", "sft", ...).
        uri: the artifact's URI (KFP `artifact.uri`); defaults to the absolute local path.
        parents: the inputs it was made from.
        config: the resolved configuration of the stage (JSON-serialisable).
        run_id: the pipeline run that produced it.
        summary: small headline numbers (counts, losses) for the UI and lineage output.
    """
    artifact = Path(artifact)
    tree, files = hash_tree(artifact)
    prov = Provenance(
        stage=stage,
        uri=uri or str(artifact.absolute()),
        tree_hash=tree,
        files=files,
        parents=list(parents or []),
        config=dict(config or {}),
        run_id=run_id,
        summary=dict(summary or {}),
    )
    provenance_path(artifact).write_text(json.dumps(prov.to_json(), indent=2, sort_keys=True, default=str) + "\n")
    log.info("%s: provenance written (tree %s, %d files)", stage, tree[:12], len(files))
    return prov


def write_metrics(path: Path, values: dict[str, Any], **fields: Any) -> Provenance:
    """Write an o3v metrics file: the values plus their provenance in one JSON document.

    A KFP `Output[Metrics]` is a single file and only that file is uploaded on a cluster, so the provenance
    travels inside it rather than in a sidecar. Its content hash is `metrics_hash(values)`.

    Args:
        path: the file to write (e.g. `metrics.path`).
        values: JSON-serialisable metrics (nested dicts allowed).
        **fields: `Provenance` fields (stage, uri, parents, config, run_id, summary).
    """
    path = Path(path)
    fields.setdefault("uri", str(path.absolute()))
    prov = Provenance(tree_hash=metrics_hash(values), files={}, **fields)
    body = {"schema": METRICS_SCHEMA, "metrics": values, "provenance": prov.to_json()}
    path.write_text(json.dumps(body, indent=2, sort_keys=True, default=str) + "\n")
    return prov


def read_local(artifact: Path) -> Provenance | None:
    """The provenance record of a local artifact, or None when it has none (a raw input)."""
    path = provenance_path(Path(artifact))
    embedded = _metrics_file(Path(artifact))
    if not path.is_file() and embedded is not None:
        return Provenance.from_json(embedded["provenance"], source=str(artifact))
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: provenance is not valid JSON ({exc})") from exc
    return Provenance.from_json(data, source=str(path))


def run_id_from_uri(uri: str) -> str | None:
    """The pipeline run an output URI belongs to.

    KFP puts outputs at `<root>/<run>/<task>/<key>` locally and `<root>/<pipeline>/<run>/<task>/<key>` on a
    cluster, with `for-loop-*` folders between run and task inside ParallelFor. Returns `<run>` (None when the
    URI is too short to tell). Deriving it from the URI, not from a parameter, keeps cached tasks cacheable:
    a run-id argument would change every cache key.
    """
    parts = [p for p in uri.rstrip("/").split("/") if p]
    if len(parts) < 3:
        return None
    parts = parts[:-2]  # drop <task>/<key>
    while parts and parts[-1].startswith("for-loop-"):
        parts.pop()
    return parts[-1] if parts else None
