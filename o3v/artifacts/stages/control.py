"""Run control for KFP components: the gate-failure report, stopping a run, publishing and fetching versions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from o3v.artifacts.stages.common import ArtifactLike, parent, read_metrics

log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """A data-quality gate failed; the run stops here (the message carries the gate's summary)."""


def gate_failure_report(verdict: ArtifactLike, report: ArtifactLike) -> str:
    """Write the Markdown report of a stopped run: which gate failed and its failed expectations.

    Returns the one-paragraph message the `stop_run` step fails with.
    """
    values = read_metrics(verdict.path)
    gate, summary = values.get("gate", "?"), values.get("summary", "")
    failed = values.get("failed") or []
    lines = [
        f"# o3v run stopped: gate `{gate}` failed",
        "",
        f"The `{gate}` data-quality gate rejected the dataset, so no later stage ran "
        "(training and evaluation never saw this data).",
        "",
        "```",
        summary,
        "```",
        "",
        f"{len(failed)} expectation(s) failed. Gate verdict: `{verdict.uri}`.",
        "The Great Expectations Data Docs page is the gate step's `docs` output.",
    ]
    Path(report.path).write_text("\n".join(lines) + "\n")
    report.metadata.update({"failed_gate": gate, "verdict": verdict.uri})
    message = f"gate '{gate}' failed: {summary}"
    log.error("%s", message)
    return message


def stop_run(message: str) -> None:
    """Fail the step (and so the run) with `message`."""
    raise GateFailed(message)


def publish(artifact: ArtifactLike, *, name: str, kind: str, store_uri: str, media_version: str = "") -> str:
    """Publish a pipeline artifact as the next version of `name` in the store; returns the version URI.

    Publishing identical content again returns the existing version (the store is idempotent), so a rerun
    of this step never creates duplicates. `media_version` links a dataset to the media version its
    records' videos are in (what `fetch_dataset` fetches with it).
    """
    from o3v.artifacts.store import ArtifactStore

    store = ArtifactStore(store_uri)
    tree = parent("artifact", artifact).tree_hash
    for existing in reversed(store.versions(name)):
        manifest = store.resolve(f"{name}@{existing}")
        if manifest.tree_hash == tree:
            log.info("%s: content already published as %s", name, manifest.uri)
            return manifest.uri
    links = {"media": media_version} if media_version else {}
    manifest = store.publish(Path(artifact.path), name, kind=kind, links=links)
    artifact.metadata.update({"published_as": manifest.uri})
    return manifest.uri


def fetch_dataset(dataset: ArtifactLike, media: ArtifactLike, *, ref: str, store_uri: str) -> str:
    """Materialise a dataset version and the media version it was published with; returns the dataset's URI.

    Used by scheduled retraining: `ref` is usually `stgr-curated@latest`, resolved when the run starts. The
    records' `dataset.json` names the folder their videos live in; it is rewritten to where the media is now,
    and the copy's provenance says so (its content hash is the rewritten copy's; its parents are the two
    published versions).

    Raises:
        StoreError: the dataset version has no media link (it was published without one).
    """
    from o3v.artifacts import provenance as pv
    from o3v.artifacts.store import ArtifactStore, StoreError

    store = ArtifactStore(store_uri)
    manifest = store.resolve(ref)
    media_uri = manifest.links.get("media")
    if not media_uri:
        raise StoreError(f"{manifest.uri}: published without a media link; cannot tell where its videos are")
    media_manifest = store.resolve(media_uri)
    store.fetch(media_uri, Path(media.path))
    media.metadata.update({"stage": "fetch", "version": media_manifest.uri, "tree_hash": media_manifest.tree_hash})
    dest = store.fetch(ref, Path(dataset.path))
    meta_file = dest / "dataset.json"
    meta = json.loads(meta_file.read_text())
    config = {"ref": ref, "store": store.uri, "media_root": {"published": meta.get("media_root"), "now": media.path}}
    meta["media_root"] = media.path
    meta_file.write_text(json.dumps(meta, indent=2) + "\n")
    parents = [
        pv.Parent(role="version", uri=manifest.uri, tree_hash=manifest.tree_hash, stage=manifest.kind),
        pv.Parent(role="media", uri=media_manifest.uri, tree_hash=media_manifest.tree_hash, stage="world"),
    ]
    summary = {"version": f"{manifest.name}@{manifest.version}", "media": media_uri}
    prov = pv.record(
        dest,
        stage="fetch",
        uri=dataset.uri,
        parents=parents,
        config=config,
        run_id=pv.run_id_from_uri(dataset.uri),
        summary=summary,
    )
    dataset.metadata.update(prov.metadata())
    return manifest.uri
