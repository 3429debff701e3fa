"""`make eval-smoke`: world + tiny model -> all four synthetic benchmark files -> report.

Slow: 40-130 s on 2 shared cores.

The fast version (2 samples per file, shared fixtures) is `test_runner.py::test_tiny_model_end_to_end`.
"""

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_eval_smoke_writes_a_report_at_baseline(tmp_path):
    from o3v.eval.smoke import BENCHMARKS, run

    result = run(tmp_path, limit=None)
    html = Path(result["report"]).read_text()
    combined = json.loads(Path(result["metrics"]).read_text())
    assert set(combined["benchmarks"]) == set(BENCHMARKS)
    for name, res in combined["benchmarks"].items():
        assert res["n_scored"] == res["n_samples"] > 0 and res["n_rejected"] == 0, name
    assert combined["benchmarks"]["synthetic"]["blind_frame"]["n"] > 0
    assert "At baseline" in html and html.count("data:image/png;base64,") >= 4
    assert result["frame_cache"]["hits"] > 0
