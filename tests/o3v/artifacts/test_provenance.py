"""Content hashes, provenance records and run ids (o3v.artifacts.provenance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from o3v.artifacts import provenance as pv


def test_tree_hash_ignores_location_and_provenance_file(make_artifact) -> None:
    a = make_artifact("a", {"records.jsonl": "x\n", "sub/stats.json": "{}"})
    b = make_artifact("b", {"sub/stats.json": "{}", "records.jsonl": "x\n"})
    pv.record(b, stage="filter")
    assert pv.hash_tree(a)[0] == pv.hash_tree(b)[0]
    assert set(pv.hash_tree(b)[1]) == {"records.jsonl", "sub/stats.json"}


def test_tree_hash_changes_with_content_and_with_names(make_artifact) -> None:
    base = pv.hash_tree(make_artifact("a", {"r.jsonl": "x"}))[0]
    assert pv.hash_tree(make_artifact("b", {"r.jsonl": "y"}))[0] != base
    assert pv.hash_tree(make_artifact("c", {"s.jsonl": "x"}))[0] != base


def test_file_sha256_matches_known_value(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    assert pv.file_sha256(tmp_path / "f") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@given(st.dictionaries(st.text("abc/", min_size=1, max_size=6), st.text("0123456789abcdef", min_size=64, max_size=64)))
def test_tree_hash_is_order_independent(listing: dict[str, str]) -> None:
    files = {k: {"sha256": v} for k, v in listing.items()}
    reordered = dict(reversed(list(files.items())))
    assert pv.tree_hash_of(files) == pv.tree_hash_of(reordered)


def test_record_round_trips_and_feeds_metadata(make_artifact) -> None:
    art = make_artifact("a", {"records.jsonl": "x\n"})
    parent = pv.Parent(role="dataset", uri="/some/where", tree_hash="ab" * 32, stage="annotate")
    rec = pv.record(
        art, stage="filter", parents=[parent], config={"max_area": 0.8}, run_id="run-1", summary={"kept": 3}
    )
    back = pv.read_local(art)
    assert back == rec
    meta = rec.metadata()
    assert meta["stage"] == "filter" and meta["file_count"] == 1 and "files" not in meta
    assert meta["parents"][0]["uri"] == "/some/where"
    assert meta["code"]["package"] == "o3v"
    json.dumps(meta)  # KFP metadata must be JSON


def test_file_artifact_gets_a_sidecar(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.write_text('{"acc": 0.5}')
    pv.record(metrics, stage="report")
    assert (tmp_path / "metrics.provenance.json").is_file()
    assert pv.read_local(metrics).files == {"metrics": {"sha256": pv.file_sha256(metrics), "size": 12}}


def test_missing_artifact_and_bad_record_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        pv.hash_tree(tmp_path / "nope")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "provenance.json").write_text("{not json")
    with pytest.raises(ValueError, match="provenance.json"):
        pv.read_local(tmp_path / "d")
    (tmp_path / "d" / "provenance.json").write_text('{"schema": "other"}')
    with pytest.raises(ValueError, match="not an o3v provenance"):
        pv.read_local(tmp_path / "d")


def test_code_version_names_package_and_git() -> None:
    code = pv.code_version()
    assert code["package"] == "o3v" and code["version"]
    assert code["git_sha"] is None or len(code["git_sha"]) == 40


@pytest.mark.parametrize(
    ("uri", "run"),
    [
        ("/r/local_outputs/o3v-2026-01-01-00-00-00-000001/annotate/dataset", "o3v-2026-01-01-00-00-00-000001"),
        ("/r/o3v-run/for-loop-2-iteration-1/evaluate-benchmark/results", "o3v-run"),
        ("gs://b/root/o3v/3f2a-uuid/sft/model", "3f2a-uuid"),
        ("x/y", None),
    ],
)
def test_run_id_from_uri(uri: str, run: str | None) -> None:
    assert pv.run_id_from_uri(uri) == run
