"""Lineage walks from a result back to the raw manifest (o3v.artifacts.lineage) and `o3v lineage`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from o3v.artifacts import provenance as pv
from o3v.artifacts.lineage import render, trace
from o3v.artifacts.store import ArtifactStore
from o3v.cli import main


def _chain(tmp_path: Path) -> dict[str, Path]:
    """A hand-built provenance chain shaped like a pipeline run: synth -> annotate -> gate -> ... -> report."""
    made: dict[str, Path] = {}

    def art(stage: str, parents: list[tuple[str, str]], *, file: bool = False) -> Path:
        path = tmp_path / "run" / stage / ("metrics" if file else "out")
        path.parent.mkdir(parents=True, exist_ok=True)
        if file:
            path.write_text(json.dumps({"stage": stage}))
        else:
            path.mkdir()
            (path / "records.jsonl").write_text(stage)
            if stage == "synth":
                (path / "manifest.jsonl").write_text('{"id": "v0", "video": "videos/v0.mp4"}\n')
        ps = [pv.Parent(role=r, uri=str(made[p]), tree_hash=pv.hash_tree(made[p])[0], stage=p) for r, p in parents]
        pv.record(path, stage=stage, parents=ps, run_id="run", summary={"kept": 1})
        made[stage] = path
        return path

    art("synth", [])
    art("annotate", [("source", "synth")])
    art("gate-raw", [("dataset", "annotate")], file=True)
    art("filter", [("dataset", "annotate"), ("gate", "gate-raw")])
    art("gate-filtered", [("dataset", "filter")], file=True)
    art("check", [("dataset", "filter"), ("gate", "gate-filtered")])
    art("gate-consistent", [("dataset", "check")], file=True)
    art("base-model", [])
    art("sft", [("dataset", "check"), ("gate", "gate-consistent"), ("base_model", "base-model")])
    art("gspo", [("dataset", "check"), ("base_model", "sft")])
    art("eval", [("model", "gspo"), ("world", "synth")])
    art("report", [("results", "eval")], file=True)
    return made


def test_chain_from_report_reaches_the_raw_manifest(tmp_path: Path) -> None:
    made = _chain(tmp_path)
    lineage = trace(str(made["report"]))
    stages = set(lineage.stages())
    assert {
        "report",
        "eval",
        "gspo",
        "sft",
        "gate-consistent",
        "check",
        "gate-filtered",
        "filter",
        "gate-raw",
        "annotate",
        "synth",
    } <= stages
    raw = [n for n in lineage.nodes.values() if n.raw_manifest]
    assert [n.stage for n in raw] == ["synth"] and raw[0].raw_manifest.endswith("synth/out/manifest.jsonl")
    assert all(n.status == "ok" for n in lineage.nodes.values())
    text = render(lineage, "text")
    assert text.splitlines()[0].startswith("report") and "raw video manifest" in text and "(see above)" in text


def test_json_and_dot_formats(tmp_path: Path) -> None:
    lineage = trace(str(_chain(tmp_path)["report"]))
    data = json.loads(render(lineage, "json"))
    assert data["root"] == lineage.root and len(data["nodes"]) == len(lineage.nodes)
    assert {e["role"] for e in data["edges"]} >= {"results", "model", "base_model", "gate", "source"}
    dot = render(lineage, "dot")
    assert dot.startswith("digraph lineage {") and dot.count("->") == len(lineage.edges)
    with pytest.raises(ValueError, match="unknown lineage format"):
        render(lineage, "xml")


def test_changed_and_missing_parents_are_flagged(tmp_path: Path) -> None:
    made = _chain(tmp_path)
    (made["filter"] / "records.jsonl").write_text("edited after the fact")
    import shutil

    shutil.rmtree(made["base-model"])
    lineage = trace(str(made["report"]))
    status = {n.stage: n.status for n in lineage.nodes.values()}
    assert status["filter"] == "hash-mismatch" and status["base-model"] == "missing"


def test_lineage_through_a_store_version(tmp_path: Path) -> None:
    made = _chain(tmp_path)
    store = ArtifactStore((tmp_path / "store").as_uri())
    store.publish(made["check"], "stgr-curated")
    lineage = trace("stgr-curated@latest", store)
    root = lineage.nodes[lineage.root]
    assert root.version == "stgr-curated@v1" and root.stage == "check" and root.status == "ok"
    assert "synth" in lineage.stages()


def test_cli_prints_text_json_and_dot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = _chain(tmp_path)
    assert main(["lineage", str(made["report"])]) == 0
    assert "raw video manifest" in capsys.readouterr().out
    assert main(["lineage", str(made["report"]), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["root"] == str(made["report"])
    assert main(["lineage", made["report"].as_uri(), "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph")
    assert main(["lineage", str(tmp_path / "nope")]) == 1
    assert "nope: no such artifact" in capsys.readouterr().err


def test_cli_artifacts_publish_list_resolve_fetch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = _chain(tmp_path)
    store = ["--store", (tmp_path / "s").as_uri()]
    assert main(["artifacts", "publish", str(made["check"]), "--name", "stgr-curated", *store]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "v1"
    assert main(["artifacts", "list", *store]) == 0
    assert capsys.readouterr().out.strip() == "stgr-curated: v1*"
    assert main(["artifacts", "resolve", "stgr-curated", *store]) == 0
    assert json.loads(capsys.readouterr().out)["stage"] == "check"
    assert main(["artifacts", "fetch", "stgr-curated@v1", "--out", str(tmp_path / "f"), *store]) == 0
    assert (tmp_path / "f" / "records.jsonl").read_text() == "check"
    assert main(["artifacts", "resolve", "stgr-curated@v7", *store]) == 1
    assert "no version 'v7'" in capsys.readouterr().err


def test_lineage_reads_artifacts_in_gcs(gcs_client, gcs_bucket, tmp_path: Path) -> None:
    """On a cluster KFP artifacts live in GCS: a folder keeps provenance.json, a metrics file embeds it."""
    from google.cloud import storage

    base = f"gs://{gcs_bucket}/root/o3v/run-1"
    world = tmp_path / "world"
    world.mkdir()
    (world / "manifest.jsonl").write_text('{"id": "v0", "video": "videos/v0.mp4"}\n')
    prov = pv.record(world, stage="synth", uri=f"{base}/synth-world/world")
    metrics = tmp_path / "metrics"
    pv.write_metrics(
        metrics,
        {"acc": 0.5},
        stage="report",
        uri=f"{base}/build-report/metrics",
        parents=[pv.Parent(role="world", uri=prov.uri, tree_hash=prov.tree_hash, stage="synth")],
    )
    bucket = gcs_client.bucket(gcs_bucket)
    for path in (world / "manifest.jsonl", world / "provenance.json"):
        bucket.blob(f"root/o3v/run-1/synth-world/world/{path.name}").upload_from_filename(str(path))
    bucket.blob("root/o3v/run-1/build-report/metrics").upload_from_filename(str(metrics))
    assert isinstance(storage.Client(), storage.Client)  # the lineage reader makes its own client
    lineage = trace(f"{base}/build-report/metrics")
    assert [lineage.nodes[u].stage for u in lineage.nodes] == ["report", "synth"]
    assert lineage.nodes[prov.uri].status == "ok"
