"""The artifact store on a local folder (file://): immutability, latest pointer, fetch, concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from o3v.artifacts import provenance as pv
from o3v.artifacts.backends import FileBackend, PreconditionFailed, StoreError
from o3v.artifacts.store import ArtifactStore, VersionExistsError, local_version_dir, parse_ref


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore((tmp_path / "store").as_uri())


def test_publish_resolve_fetch_round_trip(store: ArtifactStore, make_artifact, tmp_path: Path) -> None:
    src = make_artifact("ds", {"records.jsonl": '{"id": 1}\n', "stats.json": "{}"})
    m = store.publish(src, "stgr-curated", kind="dataset", stage="check", config={"tol": 1.0}, run_id="r1")
    assert m.version == "v1" and m.uri == store.version_uri("stgr-curated", "v1")
    assert store.resolve("stgr-curated").version == "v1" == store.latest("stgr-curated")
    back = store.resolve("stgr-curated@v1")
    assert back.tree_hash == pv.hash_tree(src)[0] and back.provenance.config == {"tol": 1.0}
    assert back.provenance.code["package"] == "o3v" and back.provenance.run_id == "r1"
    out = store.fetch("stgr-curated@latest", tmp_path / "copy")
    assert (out / "records.jsonl").read_text() == '{"id": 1}\n'
    fetched = pv.read_local(out)
    assert fetched.parents[0].uri == m.uri and fetched.tree_hash == m.tree_hash
    assert local_version_dir(store, "stgr-curated").joinpath("stats.json").is_file()


def test_manifest_inherits_the_artifact_provenance(store: ArtifactStore, make_artifact) -> None:
    src = make_artifact("ds", {"records.jsonl": "x"})
    parent = pv.Parent(role="dataset", uri="/runs/r7/filter/dataset", tree_hash="cd" * 32, stage="filter")
    pv.record(src, stage="check", uri="/runs/r7/check/dataset", parents=[parent], config={"a": 1}, run_id="r7")
    m = store.publish(src, "stgr-curated")
    assert m.provenance.stage == "check" and m.provenance.run_id == "r7"
    assert m.provenance.parents == [parent] and m.source_uri == "/runs/r7/check/dataset"
    assert "provenance.json" not in m.provenance.files


def test_versions_are_immutable(store: ArtifactStore, make_artifact) -> None:
    store.publish(make_artifact("a", {"f": "1"}), "ds", version="2026-01")
    with pytest.raises(VersionExistsError, match="different content"):
        store.publish(make_artifact("b", {"f": "2"}), "ds", version="2026-01")
    assert store.resolve("ds@2026-01").provenance.files["f"]["sha256"] == pv.file_sha256(
        make_artifact("c", {"f": "1"}) / "f"
    )


def test_republishing_identical_content_is_a_no_op(store: ArtifactStore, make_artifact) -> None:
    first = store.publish(make_artifact("a", {"f": "1"}), "ds", version="x1")
    again = store.publish(make_artifact("b", {"f": "1"}), "ds", version="x1")
    assert again.published_at == first.published_at and store.versions("ds") == ["x1"]


def test_auto_versions_count_up_and_latest_follows(store: ArtifactStore, make_artifact) -> None:
    for i in range(3):
        store.publish(make_artifact(f"a{i}", {"f": str(i)}), "ds")
    assert store.versions("ds") == ["v1", "v2", "v3"] and store.latest("ds") == "v3"
    assert store.names() == ["ds"]


def test_promote_moves_latest_back(store: ArtifactStore, make_artifact) -> None:
    store.publish(make_artifact("a", {"f": "1"}), "ds")
    store.publish(make_artifact("b", {"f": "2"}), "ds")
    store.promote("ds@v1")
    assert store.latest("ds") == "v1"


def test_latest_never_moves_back_to_an_older_publish(store: ArtifactStore, make_artifact) -> None:
    old = store.publish(make_artifact("a", {"f": "1"}), "ds", set_latest=False)
    store.publish(make_artifact("b", {"f": "2"}), "ds")
    store._advance_latest(old)  # a slow writer finishing late must not win
    assert store.latest("ds") == "v2"


def test_unpublished_and_bad_refs_are_named(store: ArtifactStore, make_artifact) -> None:
    with pytest.raises(StoreError, match="nothing published under 'ds'"):
        store.resolve("ds")
    store.publish(make_artifact("a", {"f": "1"}), "ds")
    with pytest.raises(StoreError, match=r"no version 'v9'.*published: v1"):
        store.resolve("ds@v9")
    with pytest.raises(StoreError, match="lowercase"):
        parse_ref("Bad Name")
    with pytest.raises(StoreError, match="kind"):
        store.publish(make_artifact("b", {"f": "1"}), "ds", kind="weights")


def test_fetch_detects_corruption(store: ArtifactStore, make_artifact, tmp_path: Path) -> None:
    store.publish(make_artifact("a", {"f": "1"}), "ds")
    (tmp_path / "store" / "ds" / "versions" / "v1" / "files" / "f").write_text("tampered")
    with pytest.raises(StoreError, match="files/f: content does not match"):
        store.fetch("ds", tmp_path / "out")


def test_resumed_publish_after_a_crash_completes(store: ArtifactStore, make_artifact) -> None:
    src = make_artifact("a", {"f": "1", "g": "2"})
    # A crashed publisher left one file and no manifest: the version does not exist yet, and a retry finishes it.
    store.backend.upload("ds/versions/v1/files/f", src / "f", if_generation_match=0)
    assert store.versions("ds") == []
    m = store.publish(src, "ds", version="v1")
    assert store.versions("ds") == ["v1"] and set(m.provenance.files) == {"f", "g"}


def test_file_backend_enforces_preconditions(tmp_path: Path) -> None:
    b = FileBackend(tmp_path)
    assert b.write("k", b"1", if_generation_match=0) == 1
    with pytest.raises(PreconditionFailed):
        b.write("k", b"2", if_generation_match=0)
    assert b.write("k", b"2", if_generation_match=1) == 2
    with pytest.raises(PreconditionFailed, match="generation is 2, expected 1"):
        b.write("k", b"3", if_generation_match=1)
    assert b.read("k") == (b"2", 2)
    with pytest.raises(StoreError, match="invalid object key"):
        b.write("../escape", b"x")


def test_concurrent_auto_publishers_get_distinct_versions(store: ArtifactStore, make_artifact) -> None:
    sources = [make_artifact(f"a{i}", {"f": str(i)}) for i in range(6)]
    results: list = []
    threads = [threading.Thread(target=lambda s=s: results.append(store.publish(s, "ds"))) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.version for m in results) == [f"v{i}" for i in range(1, 7)]
    assert {m.tree_hash for m in results} == {pv.hash_tree(s)[0] for s in sources}
    latest = json.loads((Path(store.backend.root) / "ds" / "latest.json").read_text())
    assert latest["version"] == max(results, key=lambda m: m.published_at).version


def test_concurrent_pointer_updates_lose_nothing(tmp_path: Path) -> None:
    b = FileBackend(tmp_path)
    b.write("counter", b"0", if_generation_match=0)

    def bump() -> None:
        for _ in range(20):
            while True:
                data, gen = b.read("counter")
                try:
                    b.write("counter", str(int(data) + 1).encode(), if_generation_match=gen)
                    break
                except PreconditionFailed:
                    continue

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.read("counter")[0] == b"80"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors through /proc")
def test_uploads_do_not_leak_file_descriptors(tmp_path: Path) -> None:
    """Each upload once left its staging file's descriptor open: publishing a 1,360-video world (~20k files)
    failed with `Too many open files`."""
    backend = FileBackend(tmp_path / "store")
    src = tmp_path / "one.bin"
    src.write_bytes(b"x" * 64)
    before = len(list(Path("/proc/self/fd").iterdir()))
    for i in range(300):
        backend.upload(f"k/{i}", src, if_generation_match=0)
    backend.write("k/written", b"y")
    assert len(list(Path("/proc/self/fd").iterdir())) - before < 10
