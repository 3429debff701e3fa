"""The pipelines run locally with kfp.local: the whole DAG (tiny), a gate stopping a run, a YAML re-run,
the cache on an immediate second run, a killed run resuming, and `make pipeline-run` itself (slow)."""

from __future__ import annotations

import builtins
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kfp import components, local
from tiny_run import tiny_params as _params

from o3v.artifacts import provenance as pv
from o3v.artifacts.lineage import trace
from o3v.artifacts.store import ArtifactStore
from pipelines import compile as compile_mod
from pipelines import run as run_mod
from pipelines.end_to_end import o3v_pipeline

ROOT = Path(__file__).resolve().parents[2]


class LocalArtifact:
    """A plain stand-in for a KFP artifact (path, uri, metadata, log_metric) to make inputs with the glue."""

    def __init__(self, path: Path) -> None:
        self.path, self.uri, self.metadata = str(path), str(path), {}

    def log_metric(self, metric: str, value: float) -> None:
        self.metadata[metric] = value


@pytest.mark.e2e
def test_whole_dag_runs_and_summarises(tiny_runs) -> None:
    _, first, _ = tiny_runs
    assert first.status == "SUCCESS", first.tasks
    ran = {name.split("#")[0] for name in first.tasks}
    assert {
        "synth-world",
        "annotate",
        "validate-3",
        "filter-records",
        "check-records",
        "base-model",
        "train-sft",
        "train-gspo",
        "evaluate-benchmark",
        "build-report",
    } <= ran
    text = run_mod.summary_text(first, Path("artifacts"))
    for section in ("## Curation", "## Gates", "## Training", "## Evaluation beside constant baselines"):
        assert section in text
    assert "| raw | passed |" in text and "| vstar | tiou_chain1 |" in text and "| train-gspo |" in text


@pytest.mark.e2e
def test_lineage_of_the_final_metrics_reaches_the_raw_manifest(tiny_runs) -> None:
    _, first, _ = tiny_runs
    lineage = trace(str(first.run_dir / "build-report" / "metrics"))
    stages = set(lineage.stages())
    assert {
        "report",
        "eval-vstar",
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
    raw = [n.raw_manifest for n in lineage.nodes.values() if n.raw_manifest]
    assert raw == [str(first.run_dir / "synth-world" / "world" / "manifest.jsonl")]
    assert all(n.status == "ok" for n in lineage.nodes.values())


@pytest.mark.e2e
def test_store_holds_versions_with_the_run_in_their_manifest(tiny_runs) -> None:
    tmp, first, _ = tiny_runs
    store = ArtifactStore((tmp / "store").as_uri())
    assert store.names() == ["media", "o3v-model", "stgr-curated"]
    model = store.resolve("o3v-model@latest")
    assert model.provenance.stage == "gspo" and model.provenance.run_id == first.run_dir.name
    assert model.provenance.config["hardware"] == {"accelerator_type": "nvidia.com/gpu", "accelerator_count": 1}
    curated = store.resolve("stgr-curated@latest")
    assert curated.provenance.stage == "check" and curated.links["media"] == store.resolve("media").uri


@pytest.mark.e2e
def test_immediate_second_run_is_served_from_the_cache(tiny_runs) -> None:
    _, first, second = tiny_runs
    assert second.status == "SUCCESS"
    executed = {n for n, t in second.tasks.items() if not t["cached"]}
    # Publishing talks to the store (outside the DAG), so it runs every time; it is idempotent.
    assert executed and all(n.startswith("publish-version") for n in executed), executed
    assert second.wall_s < first.wall_s / 3
    # the summary of a cached run is the one the cached report step wrote (found through kfp's cache entry)
    assert second.output("build-report", "summary") == first.run_dir / "build-report" / "summary"
    assert "## Curation" in run_mod.summary_text(second, Path("artifacts"))


@pytest.mark.e2e
def test_failed_gate_stops_the_run_with_a_report(tmp_path: Path) -> None:
    params = _params(tmp_path, curate_config={"gates": {"raw": {"min_records": 100000}}})
    result = run_mod.run_local(o3v_pipeline, params, tmp_path / "root", cache=False)
    assert result.status == "FAILURE"
    assert result.tasks["stop-run"]["status"] == "FAILURE" and "train-sft" not in result.tasks
    report = result.run_dir / "report-gate-failure" / "report"
    assert report.read_text().startswith("# o3v run stopped: gate `raw` failed")
    assert "stop: gate raw failed" not in report.read_text()  # the report names the gate, not the task label
    assert "min_records" in report.read_text() or "expect_table_row_count" in report.read_text()
    assert "# o3v run stopped: gate `raw` failed" in run_mod.summary_text(result, tmp_path / "store")


def test_compiled_yaml_runs_again_locally(tmp_path: Path) -> None:
    """A compiled pipeline loaded back from its YAML runs under kfp.local (platform.md §3.4 check 2)."""
    from o3v.artifacts.stages import data

    world = LocalArtifact(tmp_path / "w")
    data.synth(world, videos=2, seed=1, faults=0.0)
    annotated = LocalArtifact(tmp_path / "a")
    data.annotate(world, annotated, LocalArtifact(tmp_path / "m"), config={})
    yaml_path = compile_mod.compile_pipeline(compile_mod.all_pipelines()["o3v-rerun-filter"], tmp_path / "yaml")
    loaded = components.load_component_from_file(str(yaml_path))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    loaded(dataset_uri=str(annotated.path), curate_config={})
    (kept,) = (tmp_path / "root").glob("o3v-rerun-filter-*/filter-records/kept")
    prov = pv.read_local(kept)
    assert prov.stage == "filter" and prov.parents[0].uri == str(annotated.path)


@pytest.mark.slow
def test_retraining_reads_the_latest_dataset_version(tiny_runs) -> None:
    """`o3v-retrain` (what `make schedule` schedules) on the store the tiny run published into."""
    from pipelines.retrain import retrain_pipeline

    tmp, _, _ = tiny_runs
    params = {k: v for k, v in _params(tmp).items() if k != "videos"}
    result = run_mod.run_local(retrain_pipeline, params, tmp / "root-retrain")
    assert result.status == "SUCCESS", result.tasks
    store = ArtifactStore((tmp / "store").as_uri())
    fetched = pv.read_local(result.run_dir / "fetch-dataset" / "dataset")
    assert fetched.parents[0].uri == store.resolve("stgr-curated@latest").uri
    assert store.versions("o3v-model") == ["v1", "v2"]
    assert "## Curation" not in (result.run_dir / "build-report" / "summary").read_text()


@pytest.mark.slow
def test_killed_run_resumes_from_cache_and_checkpoint(tmp_path: Path) -> None:
    """Kill the run while SFT trains (after a checkpoint), rerun: earlier steps are cached, SFT resumes."""
    params = _params(tmp_path, sft_overrides={"max_steps": 6, "save_steps": 2, "logging_steps": 1})
    args = [sys.executable, "-m", "pipelines.run", "--root", str(tmp_path / "root")]
    for key, value in params.items():
        args += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.time() + 900
        while not list((tmp_path / "ckpt").glob("sft/*/checkpoints/checkpoint-*")):
            assert proc.poll() is None, "the run ended before SFT wrote a checkpoint"
            assert time.time() < deadline, "no SFT checkpoint after 15 minutes"
            time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and every task process it started
        proc.wait()
    result = run_mod.run_local(o3v_pipeline, params, tmp_path / "root")
    assert result.status == "SUCCESS"
    assert all(result.tasks[n]["cached"] for n in ("synth-world", "annotate", "validate", "base-model"))
    sft = pv.read_local(result.run_dir / "train-sft" / "model")
    assert sft.config["resumed"] is True and sft.summary["global_step"] == 6


@pytest.mark.slow
def test_make_pipeline_run_completes(tmp_path: Path) -> None:
    """`make pipeline-run` as shipped: the embedded default, every stage real (minutes)."""
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.run", "--root", str(tmp_path / "root")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "=== pipeline SUCCESS" in out.stdout and "## Evaluation beside constant baselines" in out.stdout
    print(f"make pipeline-run: {time.time() - t0:.0f}s")


@pytest.mark.e2e
def test_console_is_short_and_names_every_task_log(tiny_runs) -> None:
    """The default console: a header, one start and one end line per task (with its log file), no kfp dumps."""
    tmp, first, second = tiny_runs
    console = (tmp / "console-first.txt").read_text()
    lines = console.splitlines()
    executed = [n for n, t in first.tasks.items() if not t["cached"]]
    progress = [line for line in lines if "]   ...   " in line]  # time-based: more on a slower machine
    assert len(lines) - len(progress) == 1 + 2 * len(executed), console  # header, start + end per task
    assert len(progress) <= 3 * len(executed), console
    assert "Streamed logs" not in console and "outputs:" not in console and "metadata=" not in console
    assert first.log_dir == first.run_dir / "logs"
    for name in executed:
        log = first.log_dir / f"{name.replace('#', '-')}.log"
        assert log.is_file() and log.stat().st_size > 0, name
        assert f"log: {log}" in console or f"log: {log.relative_to(Path.cwd())}" in console
    # the whole kfp output is in the files: the executing line, the streamed subprocess output, the outputs
    sft = (first.log_dir / "train-sft.log").read_text()
    assert "Executing task" in sft and "step 2/2" in sft and "outputs:" in sft
    assert (first.log_dir / "run.log").is_file() and not list((first.root / ".logs").glob("*/*"))
    assert second.log_dir == second.run_dir / "logs"


def test_a_failed_task_prints_its_log_tail_and_path(tmp_path: Path) -> None:
    """A task that fails: its end line says FAILED and names the log; the tail of the log follows."""
    import io

    from boom_pipeline import boom_pipeline

    console = io.StringIO()
    result = run_mod.run_local(boom_pipeline, {}, tmp_path / "root", cache=False, verbose=False, console=console)
    text = console.getvalue()
    assert result.status == "FAILURE"
    log = result.log_dir / "boom.log"
    assert log.is_file() and "line 0" in log.read_text() and "boom: something broke" in log.read_text()
    assert "FAILED  boom  FAILURE" in text and "boom: something broke" in text
    assert "line 0\n" not in text  # only the tail is shown
    assert f"whole log: {log}" in text


def test_run_local_gives_the_process_its_own_print_back(tmp_path, monkeypatch) -> None:
    """kfp.local's overlapping ParallelFor tasks can leave builtins.print indenting; run_local restores it."""
    real = builtins.print
    monkeypatch.setattr(builtins, "print", real)  # teardown puts it back even when the assertion fails

    def leaky_pipeline(**params) -> None:  # what a lost restore looks like to the process
        builtins.print = lambda *args, **kwargs: real("    ", *args, **kwargs)

    leaky_pipeline.name = "leaky"
    monkeypatch.setattr(run_mod, "for_local_run", lambda pipeline, fingerprint: pipeline)
    run_mod.run_local(leaky_pipeline, {}, tmp_path, console=open(os.devnull, "w"))
    assert builtins.print is real
