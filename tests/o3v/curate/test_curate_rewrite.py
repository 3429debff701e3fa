"""Reasoning rewrite through the openai backend (loopback replay): applied only when the claims survive verbatim."""

from __future__ import annotations

import json

from curate_builders import mcq, modified, spatial, temporal, write_dataset
from openai_replay import ReplayServer

from o3v.curate.check import check_records


def test_rewrite_keeps_claims_or_keeps_the_original(tmp_path):
    st, t, m = spatial("st"), temporal("t", "videos/v1.mp4"), mcq("m", "videos/v2.mp4")
    moved = modified(spatial("moved", "videos/v3.mp4"), question="What does the blue square do?")
    good = ("First the <obj>blue square</obj><box>[0.1,0.2,0.3,0.4]</box>at<t>2</t>s shows up; later the "
            "<obj>red circle</obj><box>[0.5,0.5,0.6,0.6]</box>at<t>4.5</t>s moves to the right.")  # fmt: skip
    routes = {
        st["question"]: [{"content": json.dumps({"reasoning": good})}],
        # drops the cited times: the original stays
        t["question"]: [{"content": json.dumps({"reasoning": "The triangle is visible for a while."})}],
        m["question"]: [{"content": "Sure! Here is the rewrite: ..."}],
        moved["question"]: [{"content": json.dumps({"reasoning": good.replace("0.1,0.2", "0.15,0.2")})}],
    }
    ds = write_dataset(tmp_path / "in", [st, t, m, moved])
    cfg = {"check": {"rewrite": "openai"},
           "openai": {"model": "replay", "api_key_env": None, "max_retries": 1},
           "annotate": {"cache_dir": str(tmp_path / "cache")}}  # fmt: skip
    with ReplayServer(routes) as srv:
        cfg["openai"]["base_url"] = srv.url
        stats = check_records(ds, tmp_path / "out", cfg)
    assert stats["kept"] == 4 and stats["rewrite"]["applied"] == 1 and len(srv.requests) == 4
    assert stats["rewrite"]["kept_original"] == {"rewrite_changed_claims": 1, "rewrite_changed_times": 1,
                                                 "rewrite_unparseable": 1}  # fmt: skip
    kept = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "records.jsonl").read_text().splitlines())}
    assert kept["st"]["reasoning_process"] == good and kept["st"]["reasoning_original"] == st["reasoning_process"]
    assert kept["t"]["reasoning_process"] == t["reasoning_process"] and "reasoning_original" not in kept["t"]
