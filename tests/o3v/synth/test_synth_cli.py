"""`o3v synth` command line: help, summary output, argument errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from o3v.cli import main


def test_help_lists_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--out", "--videos", "--seed", "--faults", "--heldout"):
        assert flag in out


def test_synth_prints_counts_faults_and_baselines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "w"
    assert main(["synth", "--out", str(out_dir), "--videos", "3", "--seed", "7", "--faults", "0.5"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((out_dir / "synth.json").read_text())
    assert f"records (STGR-SFT.json and STGR-RL.json, same ids): {summary['records']['total']}" in out
    assert f"faults (0.5 of records, faults.jsonl): {summary['faults']['total']}" in out
    for task in summary["records"]["by_task"]:
        assert task in out
    for name, values in summary["baselines"].items():
        assert name in out
        if "whole_video_tiou" in values:
            assert f"whole_video_tiou={values['whole_video_tiou']}" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--videos", "0", "--seed", "0"],
        ["--videos", "2", "--seed", "0", "--faults", "1.5"],
        ["--videos", "two", "--seed", "0"],
        ["--seed", "0"],
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--out", str(tmp_path / "w"), *argv])
    assert exc.value.code == 2
    assert "o3v synth" in capsys.readouterr().err


def test_refusing_a_foreign_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine.txt").write_text("x")
    assert main(["synth", "--out", str(tmp_path), "--videos", "2", "--seed", "0"]) == 2
    assert "holds no synth.json" in capsys.readouterr().err
