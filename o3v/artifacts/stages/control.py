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


def publish(artifact: ArtifactLike, *, name: str, kind: str, store_uri: str) -> str:
    """Publish a pipeline artifact as the next version of `name` in the store; returns the version URI.

    Publishing identical content again returns the existing version (the store is idempotent), so a rerun
    of this step never creates duplicates.
    """
    from o3v.artifacts.store import ArtifactStore

    store = ArtifactStore(store_uri)
    for existing in reversed(store.versions(name)):
        manifest = store.resolve(f"{name}@{existing}")
        if manifest.tree_hash == parent("artifact", artifact).tree_hash:
            log.info("%s: content already published as %s", name, manifest.uri)
            return manifest.uri
    manifest = store.publish(Path(artifact.path), name, kind=kind)
    artifact.metadata.update({"published_as": manifest.uri})
    return manifest.uri


def fetch(out: ArtifactLike, *, ref: str, store_uri: str, media: ArtifactLike | None = None) -> str:
    """Materialise a store version (`name@latest`, `name@v3`) as this step's output; returns its version URI.

    Used by scheduled retraining: the run reads whatever `latest` points to when it starts, and the fetched
    copy's provenance names that exact version. A dataset's `dataset.json` names the folder its videos live
    in; with `media` (a fetched media version) that folder is rewritten to where the media is now, and the
    provenance says so (the content hash is then the rewritten copy's, its parent the published version).
    """
    from o3v.artifacts import provenance as pv
    from o3v.artifacts.store import ArtifactStore

    store = ArtifactStore(store_uri)
    manifest = store.resolve(ref)
    dest = store.fetch(ref, Path(out.path))
    config: dict = {"ref": ref, "store": store.uri}
    meta_file = dest / "dataset.json"
    if media is not None and meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        config["media_root"] = {"published": meta.get("media_root"), "now": media.path}
        meta["media_root"] = media.path
        meta_file.write_text(json.dumps(meta, indent=2) + "\n")
    parents = [pv.Parent(role="version", uri=manifest.uri, tree_hash=manifest.tree_hash, stage=manifest.kind)]
    if media is not None:
        parents.append(parent("media", media))
    prov = pv.record(
        dest,
        stage="fetch",
        uri=out.uri,
        parents=parents,
        config=config,
        run_id=pv.run_id_from_uri(out.uri),
        summary={"version": f"{manifest.name}@{manifest.version}"},
    )
    out.metadata.update(prov.metadata())
    return manifest.uri
