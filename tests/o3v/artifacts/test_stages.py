"""The stage glue the KFP components call (o3v.artifacts.stages), driven with plain artifact objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from o3v.artifacts import provenance as pv
from o3v.artifacts.lineage import trace
from o3v.artifacts.stages import common, control, data
from o3v.artifacts.stages import evaluate as ev
from o3v.artifacts.stages import train as tr
from o3v.artifacts.store import ArtifactStore


@dataclass
class FakeArtifact:
    """Quacks like kfp.dsl.Artifact / Metrics: path, uri, metadata, log_metric."""

    path: str
    metadata: dict[str, Any] = field(default_factory=dict)
    logged: dict[str, float] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return self.path

    def log_metric(self, metric: str, value: float) -> None:
        assert isinstance(value, float)
        self.logged[metric] = value


def art(tmp_path: Path, run: str, task: str, key: str) -> FakeArtifact:
    path = tmp_path / run / task / key
    path.parent.mkdir(parents=True, exist_ok=True)
    return FakeArtifact(str(path))


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FakeArtifact]:
    """synth -> annotate -> gate(raw) -> filter through the glue, as the pipeline wires them."""
    tmp = tmp_path_factory.mktemp("glue")
    world = art(tmp, "run-1", "synth-world", "world")
    data.synth(world, videos=3, seed=0, faults=0.3)
    ann, ann_m = art(tmp, "run-1", "annotate", "dataset"), art(tmp, "run-1", "annotate", "metrics")
    data.annotate(world, ann, ann_m, config={})
    verdict, docs = art(tmp, "run-1", "validate", "verdict"), art(tmp, "run-1", "validate", "docs")
    passed = data.validate(ann, verdict, docs, suite="raw", config={})
    kept, kept_m = art(tmp, "run-1", "filter-records", "kept"), art(tmp, "run-1", "filter-records", "metrics")
    data.filter_records(ann, verdict, kept, kept_m, config={})
    return {
        "world": world,
        "annotate": ann,
        "annotate_metrics": ann_m,
        "verdict": verdict,
        "docs": docs,
        "filtered": kept,
        "filter_metrics": kept_m,
        "passed": passed,
        "tmp": FakeArtifact(str(tmp)),
    }


def test_outputs_carry_provenance_in_files_and_metadata(curated: dict[str, FakeArtifact]) -> None:
    ann = curated["annotate"]
    prov = pv.read_local(Path(ann.path))
    assert prov.stage == "annotate" and prov.run_id == "run-1"
    assert prov.parents[0].role == "source" and prov.parents[0].uri == curated["world"].uri
    assert ann.metadata["tree_hash"] == prov.tree_hash and ann.metadata["compute_s"] >= 0
    stats = json.loads((Path(ann.path) / "stats.json").read_text())
    assert prov.summary == {k: stats[k] for k in ("in", "kept", "rejected")}


def test_metrics_are_logged_and_written_for_local_caching(curated: dict[str, FakeArtifact]) -> None:
    m = curated["filter_metrics"]
    values = common.read_metrics(m.path)  # a file exists at metrics.path (platform.md §3.1 trap)
    assert values["in"] == values["kept"] + values["rejected"]
    assert m.logged["kept"] == float(values["kept"]) and all(isinstance(v, float) for v in m.logged.values())


def test_gate_writes_docs_and_a_verdict(curated: dict[str, FakeArtifact]) -> None:
    verdict = common.read_metrics(curated["verdict"].path)
    assert curated["passed"] is True and verdict["passed"] is True and verdict["gate"] == "raw"
    assert "PASSED" in verdict["summary"]
    assert Path(curated["docs"].path).read_text().lstrip().lower().startswith(("<!doctype", "<html"))


def test_filter_lineage_goes_through_the_gate_to_the_raw_manifest(curated: dict[str, FakeArtifact]) -> None:
    lineage = trace(curated["filtered"].path)
    assert {"filter", "gate-raw", "annotate", "synth"} <= set(lineage.stages())
    assert any(n.raw_manifest and n.raw_manifest.endswith("manifest.jsonl") for n in lineage.nodes.values())


def test_failed_gate_reports_and_stops(curated: dict[str, FakeArtifact], tmp_path: Path) -> None:
    verdict, docs = art(tmp_path, "run-2", "validate", "verdict"), art(tmp_path, "run-2", "validate", "docs")
    strict = {"gates": {"raw": {"min_records": 100000}}}
    assert data.validate(curated["annotate"], verdict, docs, suite="raw", config=strict) is False
    report = art(tmp_path, "run-2", "report-gate-failure", "report")
    message = control.gate_failure_report(verdict, report)
    text = Path(report.path).read_text()
    assert text.startswith("# o3v run stopped: gate `raw` failed") and "FAILED" in text
    assert message.startswith("gate 'raw' failed") and report.metadata["failed_gate"] == "raw"
    with pytest.raises(control.GateFailed, match="gate 'raw' failed"):
        control.stop_run(message)


def test_publish_is_idempotent_and_fetch_brings_the_linked_media(
    curated: dict[str, FakeArtifact], tmp_path: Path
) -> None:
    store = (tmp_path / "store").as_uri()
    media_ver = control.publish(curated["world"], name="media", kind="world", store_uri=store)
    first = control.publish(
        curated["filtered"], name="stgr-curated", kind="dataset", store_uri=store, media_version=media_ver
    )
    again = control.publish(
        curated["filtered"], name="stgr-curated", kind="dataset", store_uri=store, media_version=media_ver
    )
    assert first == again and ArtifactStore(store).versions("stgr-curated") == ["v1"]
    assert ArtifactStore(store).resolve("stgr-curated").links == {"media": media_ver}
    dataset, media = art(tmp_path, "run-3", "fetch", "dataset"), art(tmp_path, "run-3", "fetch", "media")
    assert control.fetch_dataset(dataset, media, ref="stgr-curated@latest", store_uri=store) == first
    assert (Path(media.path) / "manifest.jsonl").is_file()
    assert json.loads((Path(dataset.path) / "dataset.json").read_text())["media_root"] == media.path
    prov = pv.read_local(Path(dataset.path))
    assert [p.uri for p in prov.parents] == [first, media_ver] and prov.config["media_root"]["now"] == media.path
    assert dataset.metadata["tree_hash"] == pv.hash_tree(Path(dataset.path))[0]


def test_fetch_refuses_a_dataset_without_media(curated: dict[str, FakeArtifact], tmp_path: Path) -> None:
    from o3v.artifacts.store import StoreError

    store = (tmp_path / "store").as_uri()
    control.publish(curated["filtered"], name="stgr-curated", kind="dataset", store_uri=store)
    with pytest.raises(StoreError, match="without a media link"):
        control.fetch_dataset(
            art(tmp_path, "r", "f", "d"), art(tmp_path, "r", "f", "m"), ref="stgr-curated", store_uri=store
        )


@pytest.mark.parametrize(
    ("knobs", "typed"),
    [
        ({"seed": "0.0", "max_frames": "8"}, {"seed": 0, "max_frames": 8}),
        ({"fps": 2, "accelerator_count": 1.0}, {"fps": 2.0, "accelerator_count": 1}),
        ({"accelerator_type": "nvidia.com/gpu"}, {"accelerator_type": "nvidia.com/gpu"}),
    ],
)
def test_knobs_arrive_as_text_and_are_typed_back(knobs: dict, typed: dict) -> None:
    assert common.typed_knobs(knobs) == typed


@pytest.mark.parametrize(
    ("knobs", "error"),
    [
        ({"sed": 1}, "unknown pipeline knob 'sed'"),
        ({"max_frames": "8.5"}, "whole number"),
        ({"fps": "fast"}, "must be a number"),
    ],
)
def test_bad_knobs_name_themselves(knobs: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        common.typed_knobs(knobs)


def test_knobs_map_onto_train_and_eval_configs() -> None:
    knobs = {"seed": "3.0", "fps": "0.0", "max_frames": "8.0", "min_pixels": "0", "max_pixels": "50176.0"}
    assert tr.train_overrides({"max_steps": 2.0}, knobs) == {
        "seed": 3, "max_frames": 8, "frame_max_pixels": 50176, "max_steps": 2}  # fmt: skip
    assert ev.eval_overrides({"limit": 2.0, "frames": {"min_frames": 2.0}}, knobs) == {
        "voting": {"seed": 3},
        "frames": {"max_frames": 8, "min_frames": 2},
        "max_pixels": 50176,
        "limit": 2,
    }


def test_a_benchmark_entry_sets_its_own_eval_keys_under_the_run_overrides() -> None:
    synthetic = {"name": "synthetic", "annotations": "s.jsonl", "eval": {"limit": None, "batch_size": 4}}
    assert ev.benchmark_overrides(synthetic, None) == {"limit": None, "batch_size": 4}
    assert ev.benchmark_overrides(synthetic, {"limit": 1}) == {"limit": 1, "batch_size": 4}
    assert ev.benchmark_overrides({"name": "vstar", "annotations": "v.json"}, {"limit": 1}) == {"limit": 1}
    with pytest.raises(ValueError, match="'synthetic'.*'eval' must be a mapping"):
        ev.benchmark_overrides({**synthetic, "eval": 5}, None)


def test_training_work_dir_is_keyed_by_inputs_and_settings(curated: dict[str, FakeArtifact], tmp_path: Path) -> None:
    inputs = {"dataset": curated["filtered"], "base_model": curated["annotate"]}
    a = tr.work_dir(str(tmp_path), "sft", inputs, "tiny-cpu", {"max_steps": 2})
    assert a == tr.work_dir(str(tmp_path), "sft", dict(reversed(list(inputs.items()))), "tiny-cpu", {"max_steps": 2})
    assert a != tr.work_dir(str(tmp_path), "sft", inputs, "tiny-cpu", {"max_steps": 3})
    assert a.parent == tmp_path / "sft"


def test_training_work_dir_changes_with_the_code(curated, tmp_path: Path, monkeypatch) -> None:
    inputs = {"dataset": curated["filtered"]}
    monkeypatch.setenv("O3V_CODE", "aaaa")
    a = tr.work_dir(str(tmp_path), "sft", inputs, "tiny-cpu", {})
    monkeypatch.setenv("O3V_CODE", "bbbb")
    assert a != tr.work_dir(str(tmp_path), "sft", inputs, "tiny-cpu", {})


def test_hub_base_model_is_a_reference(tmp_path: Path) -> None:
    out = art(tmp_path, "run-4", "base-model", "out")
    tr.base_model("Qwen/Qwen2.5-VL-7B-Instruct", out)
    assert tr.model_source(out) == "Qwen/Qwen2.5-VL-7B-Instruct" and out.metadata["stage"] == "base-model"


def test_run_summary_table() -> None:
    stages = {
        "annotate": {"in": 10, "kept": 10, "rejected": 0},
        "filter": {"in": 10, "kept": 8, "rejected": 2},
        "gate-raw": {
            "gate": "raw",
            "passed": True,
            "statistics": {"successful_expectations": 17, "evaluated_expectations": 17},
        },
        "sft": {"global_step": 60, "loss_first": 9.5, "loss_last": 2.25},
        "gspo": {"global_step": 60, "loss_first": 0.0, "loss_last": -0.0, "reward_first": 1.5, "reward_last": 2.0},
    }
    verdicts = {
        "tvgbench": [
            {
                "metric": "miou",
                "value": 0.1,
                "best_baseline": "best_constant_span",
                "baseline_value": 0.55,
                "delta": -0.45,
                "ci95": [-0.5, -0.4],
                "verdict": "below baseline",
                "blind": {"value": 0.05, "delta": 0.05, "ci95": [-0.01, 0.11], "uses_frames": False},
                "grounded": "not above constant or blind",
            }
        ]
    }
    text = ev.run_summary(stages, verdicts, {"report": "/r/report"})
    assert "| filter | 10 | 8 | 2 |" in text and "| check | not run | not run | not run |" in text
    assert "| raw | passed | 17/17 |" in text and "| filtered | not run | – |" in text
    assert "| sft | 60 | 9.5 → 2.25 | – |" in text and "| gspo | 60 | 0 → 0 | 1.5 → 2 |" in text
    assert (
        "| tvgbench | miou | 0.1 | best_constant_span = 0.55 | -0.450 [-0.500, -0.400] | 0.05 | "
        "+0.050 [-0.010, +0.110] | not above constant or blind |" in text
    )
    assert text.rstrip().endswith("- report: `/r/report`")
    eval_only = ev.run_summary({}, verdicts, {})
    assert "## Curation" not in eval_only and "## Training" not in eval_only and "| tvgbench | miou |" in eval_only
