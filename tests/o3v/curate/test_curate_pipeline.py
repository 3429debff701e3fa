"""End to end on the session synth world: curate catches the injected faults, nothing is lost at any stage."""

from __future__ import annotations

import json
import shutil

import pytest

from o3v.cli import main
from o3v.curate.annotate import annotate
from o3v.curate.pipeline import STAGES, curate
from o3v.curate.report import curation_report


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def curated(synth_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("curated")
    return curate(synth_world, out), out


def test_every_stage_accounts_for_every_input(curated):
    res, out = curated
    assert res.failed_gate is None and set(res.gates) == {"raw", "filtered", "consistent"}
    previous_kept = None
    for stage in STAGES:
        stats = json.loads((out / stage / "stats.json").read_text())
        kept, rejects = _lines(out / stage / "records.jsonl"), _lines(out / stage / "rejects.jsonl")
        assert stats["in"] == stats["kept"] + stats["rejected"] == len(kept) + len(rejects), stage
        assert sum(stats["by_reason"].values()) == stats["rejected"]
        assert all(r["stage"] == stage and r["reason"] and "record" in r for r in rejects)
        if previous_kept is not None:
            assert stats["in"] == previous_kept  # nothing lost between stages either
        previous_kept = stats["kept"]
        assert json.loads((out / stage / "dataset.json").read_text())["media_root"]
    ids = [r["id"] for r in _lines(out / "check" / "records.jsonl")]
    assert len(ids) == len(set(ids))


def test_injected_faults_are_caught_by_their_stage(curated, synth_world):
    _, out = curated
    report = curation_report(out)
    labels = _lines(synth_world / "faults.jsonl")
    assert {lab["fault"] for lab in labels} == set(report["per_fault"])
    for fault, score in report["per_fault"].items():
        assert score["precision"] >= 0.95 and score["recall"] >= 0.95, (fault, score)
    assert report["clean_rejected"] == {}  # no clean record of the world is rejected
    rejected = {r["id"]: r for s in STAGES for r in _lines(out / s / "rejects.jsonl")}
    for lab in labels:
        assert rejected[lab["id"]]["stage"] == lab["stage"], lab


def test_gates_write_data_docs_and_the_report_cli_prints_the_contract(curated, capsys):
    res, out = curated
    for suite, gate in res.gates.items():
        assert gate.success and gate.html_path.is_file() and gate.html_path.parent == out / "gates" / suite
    assert main(["curate-report", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert set(got) == {"counts", "per_fault"} and set(got["counts"]) == set(STAGES)
    assert all(set(v) == {"precision", "recall"} for v in got["per_fault"].values())
    assert got["counts"]["annotate"]["in"] == got["counts"]["annotate"]["kept"] + got["counts"]["annotate"]["rejected"]
    summary = json.loads((out / "curate.json").read_text())
    assert summary["dataset"] == str(out / "check") and summary["failed_gate"] is None


def test_broken_and_missing_videos_are_rejected_at_preflight(synth_world, tmp_path):
    world = tmp_path / "world"
    shutil.copytree(synth_world, world)
    manifest = [json.loads(line) for line in (world / "manifest.jsonl").read_text().splitlines()]
    truncated, missing, text = (world / manifest[i]["video"] for i in range(3))
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 3])
    missing.unlink()
    text.write_text("this is not a video\n")
    stats = annotate(world, tmp_path / "out")
    rejects = {r["id"]: r for r in _lines(tmp_path / "out" / "rejects.jsonl")}
    assert rejects[manifest[0]["id"]]["reason"] == "video_undecodable"
    assert rejects[manifest[1]["id"]]["reason"] == "video_missing"
    assert rejects[manifest[2]["id"]]["reason"] == "video_undecodable"
    for i, path in enumerate((truncated, missing, text)):
        r = rejects[manifest[i]["id"]]
        assert str(path) in r["message"] and r["field"] == "video" and r["values"] == manifest[i]["video"]
    assert stats["videos"]["decoded"] == len(manifest) - 3
    assert stats["in"] == stats["kept"] + stats["rejected"]
    kept_videos = {r.get("video_path") for r in _lines(tmp_path / "out" / "records.jsonl")}
    assert not kept_videos & {m["video"] for m in manifest[:3]}


def test_curate_stops_at_a_failing_gate(synth_world, tmp_path, capsys):
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("gates:\n  raw:\n    min_records: 100000\n")
    assert main(["curate", "--source", str(synth_world), "--out", str(tmp_path / "cur"), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "gate 'raw': FAILED" in err and "expect_table_row_count_to_be_between" in err
    assert not (tmp_path / "cur" / "filter").exists()
    assert (tmp_path / "cur" / "gates" / "raw" / "gate_raw.html").is_file()


def test_synth_records_of_videos_left_out_of_the_manifest_are_rejected_not_dropped(synth_world, tmp_path):
    world = tmp_path / "world"
    shutil.copytree(synth_world, world)
    lines = (world / "manifest.jsonl").read_text().splitlines()
    (world / "manifest.jsonl").write_text("\n".join(lines[1:]) + "\n")  # drop the first video
    dropped = json.loads(lines[0])["video"]
    full = annotate(synth_world, tmp_path / "full")
    part = annotate(world, tmp_path / "part")
    assert part["in"] == full["in"]  # the same candidate records, every one accounted for
    rejects = _lines(tmp_path / "part" / "rejects.jsonl")
    assert rejects and all(r["reason"] == "not_in_manifest" and r["values"] == dropped for r in rejects)
    # the still image cut from the left-out video has no video of its own: checked and kept
    kept = _lines(tmp_path / "part" / "records.jsonl")
    assert part["kept"] == len(kept) == full["kept"] - len(rejects)
