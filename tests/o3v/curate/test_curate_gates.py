"""Great Expectations gates: the frame they validate, a passing and a failing gate, Data Docs, CLI exit codes."""

from __future__ import annotations

import json
import math

from curate_builders import clean_records, modified, spatial, temporal, write_dataset

from o3v.cli import main
from o3v.curate.gates import records_frame, validate
from o3v.htmlpage import external_references


def test_records_frame_aggregates_boxes_and_times(tmp_path):
    big = spatial("big")
    big["key_items"]["1"]["red circle"] = [[0.0, 0.0, 0.9, 0.95]]
    ds = write_dataset(tmp_path / "ds", [*clean_records(), big], raw_lines=['{"id": "x", "task": 7}'])
    df = records_frame(ds).set_index("id", drop=False)
    assert len(df) == 7 and df["schema_ok"].sum() == 6
    assert math.isclose(df.loc["a", "max_box_area"], 0.04) and math.isclose(df.loc["big", "max_box_area"], 0.855)
    assert math.isclose(df.loc["a", "max_key_time_frac"], 0.45)  # 4.5 s of 10 s
    assert math.isnan(df.loc["b", "max_box_area"])  # temporal QA: no boxes
    assert math.isclose(df.loc["e", "max_box_coord"], 0.6)  # visual QA pixels normalized by image_size
    assert df.loc["a", "task_share"] == 2 / 6


def test_gate_passes_on_clean_data_and_fails_with_a_readable_summary(tmp_path):
    good = write_dataset(tmp_path / "good", clean_records())
    ok = validate(good, "filtered", tmp_path / "gate_ok")
    assert ok.success and ok.html_path.is_file() and ok.statistics["unsuccessful_expectations"] == 0
    assert json.loads((tmp_path / "gate_ok" / "gate_filtered.json").read_text())["success"] is True

    big = modified(spatial("big"), key_items={"0": {"blue square": [[0.0, 0.0, 0.95, 0.95]]}, "1": {}})
    bad = write_dataset(tmp_path / "bad", [*clean_records(), big], raw_lines=['{"id": "cut", "task": "temp'])
    res = validate(bad, "filtered", tmp_path / "gate_bad")
    assert not res.success
    assert "gate 'filtered': FAILED" in res.summary
    assert "max_box_area" in res.summary and "'big'" in res.summary
    assert "schema_ok" in res.summary and "line 6" in res.summary  # the truncated line, by position
    assert res.html_path.is_file() and "<html" in res.html_path.read_text().lower()
    # one self-contained file: nothing fetched from a CDN or a sibling file (rendered in tests/test_html_artifacts.py)
    assert external_references(res.html_path.read_text()) == [] and "<script" not in res.html_path.read_text()
    failed = {f["kwargs"]["column"] for f in res.failed if "column" in f["kwargs"]}
    assert {"max_box_area", "schema_ok"} <= failed


def test_raw_gate_tolerates_what_filter_will_remove_and_cli_exit_codes(tmp_path, capsys):
    big = modified(spatial("big"), key_items={"0": {"blue square": [[0.0, 0.0, 0.95, 0.95]]}, "1": {}})
    ds = write_dataset(tmp_path / "ds", [*clean_records(), *[spatial(f"s{i}", f"videos/s{i}.mp4") for i in range(4)],
                                         big])  # fmt: skip
    # 1 oversized record in 10: within the raw gate's `mostly`, a failure for the filtered gate
    assert main(["validate", str(ds), "--suite", "raw", "--out", str(tmp_path / "raw")]) == 0
    assert main(["validate", str(ds), "--suite", "filtered", "--out", str(tmp_path / "filtered")]) == 1
    out = capsys.readouterr().out
    assert "gate 'raw': PASSED" in out and "gate 'filtered': FAILED" in out and "Data Docs:" in out


def test_a_dataset_without_boxes_or_key_frames_is_not_failed_by_vacuous_means(tmp_path):
    ds = write_dataset(tmp_path / "ds", [temporal(f"t{i}", f"videos/v{i}.mp4") for i in range(3)])
    res = validate(ds, "consistent", tmp_path / "gate")
    assert res.success, res.summary
    assert "mean_box_area" not in {f["kwargs"].get("column") for f in res.failed}
