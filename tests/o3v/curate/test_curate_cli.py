"""CLI contracts of the curate area: --help everywhere, clear one-line errors (exit 2) for bad inputs and configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from curate_builders import clean_records, write_dataset
from hypothesis import given
from hypothesis import strategies as st

from o3v.cli import main
from o3v.curate.config import ConfigError, load_config
from o3v.curate.media import safe_relpath

COMMANDS = ("annotate", "filter", "check", "validate", "curate", "curate-report")
UPSTREAM = Path(__file__).resolve().parents[2] / "fixtures" / "stgr_upstream_sample.json"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_subcommand_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0 and "usage: o3v " + cmd in capsys.readouterr().out


def test_stage_commands_run_and_print_stats(tmp_path, capsys):
    ds = write_dataset(tmp_path / "in", clean_records())
    assert main(["filter", str(ds), "--out", str(tmp_path / "f"), "--verifier", "none"]) == 0
    assert main(["check", str(tmp_path / "f"), "--out", str(tmp_path / "c")]) == 0
    printed = [json.loads(chunk) for chunk in capsys.readouterr().out.replace("}\n{", "}\x00{").split("\x00")]
    assert [p["stage"] for p in printed] == ["filter", "check"] and printed[1]["kept"] == 5


def test_bad_inputs_are_one_clear_line_and_exit_2(tmp_path, capsys):
    assert main(["filter", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope/records.jsonl: missing" in capsys.readouterr().err
    ds = write_dataset(tmp_path / "in", clean_records())
    assert main(["filter", str(ds), "--out", str(tmp_path / "o")]) == 2  # verifier auto, no synth world
    assert "filter.verifier 'auto'" in capsys.readouterr().err
    (tmp_path / "m.jsonl").write_text('{"id": "a", "video": "a.mp4"}\n')
    assert main(["annotate", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "a")]) == 2
    assert "synthetic' needs a synth world" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("filter:\n  max_box_aera: 0.5\n")
    assert main(["check", str(ds), "--out", str(tmp_path / "c"), "--config", str(tmp_path / "bad.yaml")]) == 2
    assert "unknown config key 'filter.max_box_aera'" in capsys.readouterr().err
    assert main(["curate", "--source", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "cur"), "--teacher",
                 "openai"]) == 2  # fmt: skip
    assert "needs a synth world" in capsys.readouterr().err and not (tmp_path / "cur").exists()
    assert main(["curate-report", str(tmp_path)]) == 2
    assert "no stage outputs" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, message",
    [
        ({"filter": {"max_box_area": 1.5}}, "filter.max_box_area"),
        ({"filter": {"verifier": "gpt"}}, "filter.verifier"),
        ({"check": {"box_iou": "high"}}, "check.box_iou"),
        ({"gates": {"final": {}}}, "gates.final"),
        ({"gates": {"raw": {"mean_box_area": [0.1]}}}, "gates.raw.mean_box_area"),
        ({"openai": {"max_concurrency": 0}}, "openai.max_concurrency"),
    ],
)
def test_config_errors_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(override)


def test_upstream_sample_import_without_media_rejects_every_record_by_name(tmp_path):
    shutil.copy(UPSTREAM, tmp_path / "STGR-SFT.json")
    assert main(["annotate", str(tmp_path / "STGR-SFT.json"), "--out", str(tmp_path / "a")]) == 0
    stats = json.loads((tmp_path / "a" / "stats.json").read_text())
    n = len(json.loads(UPSTREAM.read_text()))
    assert (stats["in"], stats["kept"], stats["rejected"]) == (n, 0, n)
    rejects = [json.loads(line) for line in (tmp_path / "a" / "rejects.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in rejects} == {"video_missing", "image_missing"}
    assert all(r["id"].startswith("STGR-SFT-") and "no such file" in r["values"]["message"] for r in rejects)


@given(st.text(alphabet="ab./\\", max_size=20))
def test_safe_relpath_never_escapes(path):
    rel = safe_relpath(path)
    assert rel is None or not (rel.startswith("/") or rel == ".." or rel.startswith("../") or "/../" in rel)
