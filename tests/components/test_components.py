"""Components: each body runs as a plain function (`.python_func`) on plain artifacts, and one component runs
alone under kfp.local's SubprocessRunner (the lightweight-component path the pipelines use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kfp import local

from components import control, data, evaluate, train
from o3v.artifacts import provenance as pv


class Plain:
    """A stand-in for kfp.dsl artifacts: path, uri, metadata, log_metric."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.uri, self.metadata = str(path), str(path), {}
        self.logged: dict[str, Any] = {}

    def log_metric(self, metric: str, value: float) -> None:
        self.logged[metric] = value


def test_every_stage_has_a_component() -> None:
    names = {c.name for m in (data, train, evaluate, control) for c in vars(m).values() if hasattr(c, "python_func")}
    assert {
        "synth-world",
        "annotate",
        "validate",
        "filter-records",
        "check-records",
        "base-model",
        "train-sft",
        "train-gspo",
        "evaluate-benchmark",
        "build-report",
        "report-gate-failure",
        "stop-run",
        "publish-version",
        "fetch-dataset",
    } <= names


def test_data_components_as_plain_functions(tmp_path: Path) -> None:
    world = Plain(tmp_path / "run" / "synth-world" / "world")
    data.synth_world.python_func(videos=2, seed=0, faults=0.0, world=world)
    assert (Path(world.path) / "manifest.jsonl").is_file() and world.metadata["stage"] == "synth"
    ds, m = Plain(tmp_path / "run" / "annotate" / "dataset"), Plain(tmp_path / "run" / "annotate" / "metrics")
    data.annotate.python_func(source=world, config={}, dataset=ds, metrics=m)
    assert m.logged["kept"] > 0 and pv.read_local(Path(ds.path)).parents[0].uri == world.uri
    kept, km = Plain(tmp_path / "run" / "filter" / "kept"), Plain(tmp_path / "run" / "filter" / "metrics")
    data.filter_records.python_func(dataset=ds, config={}, kept=kept, metrics=km)  # the gate input is optional
    assert json.loads((Path(kept.path) / "stats.json").read_text())["in"] == m.logged["kept"]


def test_control_components_as_plain_functions(tmp_path: Path) -> None:
    verdict = Plain(tmp_path / "validate" / "verdict")
    pv.write_metrics(
        Path(verdict.path),
        {"gate": "filtered", "passed": False, "summary": "gate 'filtered': FAILED", "failed": [{"expectation": "x"}]},
        stage="gate-filtered",
    )
    report = Plain(tmp_path / "report-gate-failure" / "report")
    message = control.report_gate_failure.python_func(verdict=verdict, report=report)
    assert "gate `filtered` failed" in Path(report.path).read_text() and message.startswith("gate 'filtered'")
    with pytest.raises(RuntimeError, match="gate 'filtered' failed"):
        control.stop_run.python_func(message=message)
    art = Plain(tmp_path / "x" / "dataset")
    Path(art.path).mkdir()
    (Path(art.path) / "records.jsonl").write_text("{}\n")
    uri = control.publish_version.python_func(
        artifact=art, name="ds", kind="dataset", store_uri=(tmp_path / "store").as_uri()
    )
    assert uri.endswith("/ds/versions/v1") and art.metadata["published_as"] == uri


def test_one_component_runs_under_the_local_subprocess_runner(tmp_path: Path) -> None:
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    task = data.synth_world(videos=2, seed=3, faults=0.0)
    world = task.outputs["world"]
    assert (Path(world.path) / "manifest.jsonl").is_file()
    assert world.metadata["stage"] == "synth" and world.metadata["tree_hash"] == pv.hash_tree(Path(world.path))[0]
