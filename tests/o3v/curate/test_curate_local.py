"""The `local` backend: a transformers VLM (the session's tiny random Qwen2.5-VL) as teacher and verifier.

The tiny model writes random text, which is exactly the untrusted output the stages must survive:
every video becomes a `teacher_unparseable` reject that keeps the model's text, every verification an
`unclear` verdict; nothing crashes and nothing is lost.
"""

from __future__ import annotations

import json

from o3v.curate.annotate import annotate
from o3v.curate.dataset import open_dataset
from o3v.curate.filter import filter_records
from o3v.records import write_jsonl


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_local_teacher_and_verifier_survive_random_output(synth_world, tiny_model, tmp_path):
    videos = [json.loads(line)["video"] for line in (synth_world / "manifest.jsonl").read_text().splitlines()][:2]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"id": f"v{i}", "video": v}) + "\n"
                                              for i, v in enumerate(videos)))  # fmt: skip
    cfg = {
        "annotate": {"teacher": "local", "media_root": str(synth_world), "num_frames": 2, "max_frame_side": 112},
        "local": {"model": str(tiny_model), "max_new_tokens": 12},
        "filter": {"verifier": "local"},
    }
    stats = annotate(tmp_path / "m.jsonl", tmp_path / "ann", cfg)
    assert (stats["in"], stats["kept"], stats["rejected"]) == (2, 0, 2)
    for rej in _lines(tmp_path / "ann" / "rejects.jsonl"):
        assert rej["reason"] == "teacher_unparseable" and isinstance(rej["raw"], str)

    # verifier: two clean synth records of one video, asked through the same local model
    synth = annotate(synth_world, tmp_path / "syn")
    assert synth["kept"] > 0
    keep = [r for r in _lines(tmp_path / "syn" / "records.jsonl") if r.get("key_items")][:2]
    write_jsonl(tmp_path / "two" / "records.jsonl", keep)
    (tmp_path / "two" / "dataset.json").write_text(json.dumps(open_dataset(tmp_path / "syn").meta))
    fstats = filter_records(tmp_path / "two", tmp_path / "filt", cfg)
    assert fstats["in"] == 2 and fstats["kept"] + fstats["rejected"] == 2
    assert fstats["verifier"].startswith("model:local:")
    for rej in _lines(tmp_path / "filt" / "rejects.jsonl"):
        assert rej["reason"] in ("category_unclear", "category_mismatch")
        assert all(isinstance(p["values"]["answer"], str) for p in rej["problems"])  # the model's own words
