"""Lineage audits: walk provenance records from any artifact back to the raw inputs it was made from.

Every stage output carries a provenance record (o3v.artifacts.provenance) naming its parents by URI and tree
hash; store versions carry the same fields in their manifest. Starting from an eval result (or a store
version), `trace` follows the parents through model, GSPO, SFT, the gates and curation to the raw video
manifest, and checks on the way that each parent's content still has the hash its child recorded.

    o3v lineage local_outputs/o3v-2026-.../report/metrics
    o3v lineage stgr-curated@latest --store file://artifacts --format dot | dot -Tsvg > lineage.svg
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from o3v.artifacts.provenance import METRICS_SCHEMA, PROVENANCE_FILE, Provenance, hash_tree, read_local
from o3v.artifacts.store import ArtifactStore, Manifest, StoreError, parse_ref

log = logging.getLogger(__name__)

RAW_MANIFEST = "manifest.jsonl"


@dataclass
class Node:
    """One artifact in a lineage graph."""

    uri: str
    stage: str | None = None
    tree_hash: str | None = None
    run_id: str | None = None
    created_at: str | None = None
    code: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    version: str | None = None  # "name@version" for store versions
    raw_manifest: str | None = None  # set on a source artifact holding the raw video manifest
    status: str = "ok"  # ok | raw (no provenance: an input from outside o3v) | missing | hash-mismatch


@dataclass
class Edge:
    """`child` was made from `parent` (the parent's role in the child's stage)."""

    child: str
    parent: str
    role: str
    expected_hash: str | None = None


@dataclass
class Lineage:
    """The graph reachable from `root` through provenance parents."""

    root: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def parents_of(self, uri: str) -> list[Edge]:
        """Edges from `uri` to its parents, in recorded order."""
        return [e for e in self.edges if e.child == uri]

    def stages(self) -> list[str]:
        """Stages of every node reached (for audits: "does the chain reach curation?")."""
        return [n.stage or n.status for n in self.nodes.values()]

    def to_json(self) -> dict[str, Any]:
        """JSON form: root, nodes (list), edges."""
        return {
            "root": self.root,
            "nodes": [asdict(n) for n in self.nodes.values()],
            "edges": [asdict(e) for e in self.edges],
        }


def _normalise(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return str(Path(parsed.path))
    if parsed.scheme == "":
        return str(Path(uri).absolute())
    return uri.rstrip("/")


def load_record(uri: str, store: ArtifactStore | None = None) -> Provenance | Manifest | None:
    """The provenance (or version manifest) of the artifact at `uri`; None when it has none.

    `uri` is a local path, a file:// or gs:// URI, a store version URI, or `name[@version]` in `store`.
    """
    if store is not None and "/" not in uri and "://" not in uri and not Path(uri).exists():
        return store.resolve(uri)
    if "/versions/" in uri:
        root, _, rest = uri.partition("/versions/")
        store_root, _, name = root.rpartition("/")
        return ArtifactStore(store_root).resolve(f"{name}@{rest.strip('/').split('/')[0]}")
    if uri.startswith("gs://"):
        return _read_gcs_provenance(uri)
    path = Path(_normalise(uri))
    if not path.exists():
        raise FileNotFoundError(f"{uri}: no such artifact")
    return read_local(path)


def _read_gcs_provenance(uri: str) -> Provenance | None:
    """Provenance of a KFP artifact in GCS: `<uri>/provenance.json` (folders) or inside an o3v metrics file."""
    from o3v.artifacts.backends import GCSBackend, NotFound

    bucket, _, key = uri[len("gs://") :].partition("/")
    backend = GCSBackend(bucket)
    for candidate in (f"{key}/{PROVENANCE_FILE}", f"{key}.provenance.json"):
        try:
            data, _ = backend.read(candidate)
        except NotFound:
            continue
        return Provenance.from_json(json.loads(data), source=f"gs://{bucket}/{candidate}")
    try:
        data, _ = backend.read(key)
    except NotFound:
        return None
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(body, dict) and body.get("schema") == METRICS_SCHEMA:
        return Provenance.from_json(body["provenance"], source=uri)
    return None


def trace(ref: str, store: ArtifactStore | None = None, *, verify: bool = True, max_nodes: int = 1000) -> Lineage:
    """Walk parents breadth-first from `ref`; unreadable parents become `missing` nodes, never a crash.

    With `verify`, local artifacts are re-hashed, so content edited after it was recorded shows as
    `hash-mismatch` (remote ones are checked against the hash their child recorded only).

    Raises:
        FileNotFoundError / StoreError: only when `ref` itself cannot be read.
    """
    first = load_record(ref, store)
    root = _normalise(first.uri) if first is not None and first.uri else _normalise(ref)
    lineage = Lineage(root=root)
    queue: list[tuple[str, Provenance | Manifest | None]] = [(root, first)]
    while queue and len(lineage.nodes) < max_nodes:
        uri, rec = queue.pop(0)
        if uri in lineage.nodes:
            continue
        node = _node(uri, rec)
        content = Path(uri) / "files" if isinstance(rec, Manifest) else Path(uri)  # a version keeps files/ apart
        if verify and node.status == "ok" and content.exists() and hash_tree(content)[0] != node.tree_hash:
            node.status = "hash-mismatch"
        lineage.nodes[uri] = node
        prov = rec.provenance if isinstance(rec, Manifest) else rec
        for parent in prov.parents if prov else []:
            puri = _normalise(parent.uri)
            lineage.edges.append(Edge(uri, puri, parent.role, parent.tree_hash))
            if puri in lineage.nodes or any(q[0] == puri for q in queue):
                continue
            try:
                queue.append((puri, load_record(parent.uri, store)))
            except (OSError, StoreError, ValueError) as exc:
                log.warning("lineage: cannot read parent %s of %s: %s", parent.uri, uri, exc)
                lineage.nodes[puri] = Node(uri=puri, stage=parent.stage, tree_hash=parent.tree_hash, status="missing")
    _check_hashes(lineage)
    return lineage


def _node(uri: str, rec: Provenance | Manifest | None) -> Node:
    if rec is None:
        path = Path(uri)
        raw = str(path / RAW_MANIFEST) if (path / RAW_MANIFEST).is_file() else None
        return Node(uri=uri, status="raw", raw_manifest=raw)
    prov = rec.provenance if isinstance(rec, Manifest) else rec
    raw = f"{uri}/{RAW_MANIFEST}" if RAW_MANIFEST in prov.files and not prov.parents else None
    return Node(
        uri=uri,
        stage=prov.stage,
        tree_hash=prov.tree_hash,
        run_id=prov.run_id,
        created_at=prov.created_at,
        code=dict(prov.code),
        config=dict(prov.config),
        summary=dict(prov.summary),
        version=f"{rec.name}@{rec.version}" if isinstance(rec, Manifest) else None,
        raw_manifest=raw,
    )


def _check_hashes(lineage: Lineage) -> None:
    """Flag parents whose content no longer matches the hash their child recorded."""
    for edge in lineage.edges:
        node = lineage.nodes.get(edge.parent)
        if node and node.status == "ok" and edge.expected_hash and node.tree_hash != edge.expected_hash:
            node.status = "hash-mismatch"


def render_text(lineage: Lineage) -> str:
    """An indented tree from the root; a node reached twice is printed once and referenced after."""
    lines: list[str] = []
    seen: set[str] = set()

    def visit(uri: str, prefix: str, role: str | None, last: bool, depth: int) -> None:
        node = lineage.nodes[uri]
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        label = f"[{role}] " if role else ""
        lines.append(f"{prefix}{branch}{label}{_describe(node)}")
        child_prefix = prefix + ("" if depth == 0 else ("   " if last else "│  "))
        if uri in seen:
            lines[-1] += "  (see above)"
            return
        seen.add(uri)
        for key, value in _details(node):
            lines.append(f"{child_prefix}   {key}: {value}")
        edges = lineage.parents_of(uri)
        for i, edge in enumerate(edges):
            visit(edge.parent, child_prefix, edge.role, i == len(edges) - 1, depth + 1)

    visit(lineage.root, "", None, True, 0)
    return "\n".join(lines)


def _describe(node: Node) -> str:
    head = node.stage or "(no provenance)"
    tags = [node.version] if node.version else []
    if node.tree_hash:
        tags.append(f"tree {node.tree_hash[:12]}")
    if node.status != "ok":
        tags.append(node.status.upper())
    return f"{head}  {node.uri}" + (f"  ({', '.join(tags)})" if tags else "")


def _details(node: Node) -> list[tuple[str, str]]:
    out = []
    if node.run_id:
        out.append(("run", f"{node.run_id} at {node.created_at}"))
    if node.code.get("git_sha") or node.code.get("version"):
        dirty = " (uncommitted changes)" if node.code.get("git_dirty") == "true" else ""
        out.append(("code", f"o3v {node.code.get('version')} git {str(node.code.get('git_sha'))[:12]}{dirty}"))
    if node.summary:
        text = json.dumps(node.summary, sort_keys=True, default=str)
        out.append(("summary", text if len(text) <= 160 else text[:157] + "..."))
    if node.raw_manifest:
        out.append(("raw video manifest", node.raw_manifest))
    return out


def render_dot(lineage: Lineage) -> str:
    """Graphviz DOT: one box per artifact, arrows from parent to child labelled with the role."""
    ids = {uri: f"n{i}" for i, uri in enumerate(lineage.nodes)}
    lines = ["digraph lineage {", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for uri, node in lineage.nodes.items():
        label = f"{node.stage or node.status}\\n{_dot_escape(_short(uri))}"
        if node.tree_hash:
            label += f"\\n{node.tree_hash[:12]}"
        style = ' style=filled fillcolor="#fde2e2"' if node.status not in ("ok", "raw") else ""
        lines.append(f'  {ids[uri]} [label="{label}"{style}];')
    for edge in lineage.edges:
        lines.append(f'  {ids[edge.parent]} -> {ids[edge.child]} [label="{_dot_escape(edge.role)}"];')
    lines.append("}")
    return "\n".join(lines)


def _short(uri: str, keep: int = 3) -> str:
    parts = uri.rstrip("/").split("/")
    return "/".join(parts[-keep:]) if len(parts) > keep else uri


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render(lineage: Lineage, fmt: str) -> str:
    """Render as `text`, `json` or `dot`."""
    if fmt == "json":
        return json.dumps(lineage.to_json(), indent=2, sort_keys=True, default=str)
    if fmt == "dot":
        return render_dot(lineage)
    if fmt == "text":
        return render_text(lineage)
    raise ValueError(f"unknown lineage format {fmt!r} (text, json, dot)")


__all__ = ["Lineage", "Node", "Edge", "trace", "render", "load_record", "parse_ref"]
