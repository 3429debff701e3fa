"""The artifact store on gs:// against `gcp-storage-emulator` on loopback, plus retries on transient errors.

What the emulator leaves untested (platform.md §4.1): it ignores `if_generation_match`, so

- the wire path (upload/download/list/metadata through google-cloud-storage) is tested against the emulator;
- create-only versions and the compare-and-swap of the latest pointer are tested by wrapping the GCS backend
  in `EnforcingBackend`, a test double that applies GCS's precondition rule (current generation must equal the
  expected one) before delegating. This checks o3v's logic given GCS semantics, **not** that the real GCS
  server enforces them or that google-cloud-storage forwards the argument -- that part is untested offline;
- the file backend enforces preconditions itself (os.link + flock), and test_store_file.py races real threads.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from google.api_core import exceptions as gexc

from o3v.artifacts import provenance as pv
from o3v.artifacts.backends import GCSBackend, PreconditionFailed, StoreError, retry_transient
from o3v.artifacts.store import ArtifactStore, VersionExistsError


class EnforcingBackend:
    """Wraps a backend and enforces `if_generation_match` the way GCS does (the emulator does not)."""

    def __init__(self, inner: GCSBackend) -> None:
        self.inner, self.uri, self._lock = inner, inner.uri, threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def _guard(self, key: str, expected: int | None, write):
        with self._lock:
            current = self.inner.generation(key)
            if expected is not None and current != expected:
                raise PreconditionFailed(f"{self.uri}/{key}: generation {current} != {expected}")
            return write()

    def write(self, key, data, *, if_generation_match=None):
        return self._guard(key, if_generation_match, lambda: self.inner.write(key, data))

    def upload(self, key, path, *, if_generation_match=None):
        return self._guard(key, if_generation_match, lambda: self.inner.upload(key, path))


def test_emulator_does_not_enforce_preconditions(gcs_client, gcs_bucket) -> None:
    """Documents the gap: if this starts failing, the emulator learned preconditions and the double can go."""
    backend = GCSBackend(gcs_bucket, "p", client=gcs_client)
    backend.write("k", b"1", if_generation_match=0)
    backend.write("k", b"2", if_generation_match=0)  # real GCS: 412 Precondition Failed
    assert backend.read("k")[0] == b"2"


def test_publish_resolve_fetch_over_the_wire(gcs_client, gcs_bucket, make_artifact, tmp_path: Path) -> None:
    store = ArtifactStore(f"gs://{gcs_bucket}/store", backend=GCSBackend(gcs_bucket, "store", client=gcs_client))
    src = make_artifact("m", {"model.safetensors": "w" * 3000, "cfg/config.json": "{}"})
    m = store.publish(src, "o3v-gspo", kind="model", stage="gspo", config={"beta": 0.0})
    assert m.uri == f"gs://{gcs_bucket}/store/o3v-gspo/versions/v1"
    names = {b.name for b in gcs_client.list_blobs(gcs_bucket)}
    assert {
        "store/o3v-gspo/versions/v1/manifest.json",
        "store/o3v-gspo/latest.json",
        "store/o3v-gspo/versions/v1/files/cfg/config.json",
    } <= names
    assert store.resolve("o3v-gspo@latest").tree_hash == pv.hash_tree(src)[0]
    out = store.fetch("o3v-gspo", tmp_path / "copy")
    assert (out / "cfg" / "config.json").read_text() == "{}"
    store.publish(make_artifact("m2", {"model.safetensors": "v"}), "o3v-gspo", kind="model")
    assert store.versions("o3v-gspo") == ["v1", "v2"] and store.latest("o3v-gspo") == "v2"
    assert store.names() == ["o3v-gspo"]


def test_create_only_and_latest_cas_with_gcs_semantics(gcs_client, gcs_bucket, make_artifact) -> None:
    backend = EnforcingBackend(GCSBackend(gcs_bucket, "s", client=gcs_client))
    store = ArtifactStore(backend.uri, backend=backend)
    store.publish(make_artifact("a", {"f": "1"}), "ds", version="r1")
    with pytest.raises(VersionExistsError):
        store.publish(make_artifact("b", {"f": "2"}), "ds", version="r1")
    assert store.publish(make_artifact("c", {"f": "1"}), "ds", version="r1").version == "r1"  # idempotent retry
    results = []
    sources = [make_artifact(f"t{i}", {"f": f"t{i}"}) for i in range(4)]
    threads = [threading.Thread(target=lambda s=s: results.append(store.publish(s, "ds"))) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.version for m in results) == ["v1", "v2", "v3", "v4"]
    assert store.latest("ds") == max(results, key=lambda m: m.published_at).version


def test_transient_errors_are_retried_then_succeed(gcs_client, gcs_bucket, make_artifact, monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    backend = GCSBackend(gcs_bucket, "", client=gcs_client)
    blob_cls = type(backend._bucket.blob("x"))
    real = blob_cls.upload_from_filename
    calls = {"n": 0}

    def flaky(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise gexc.ServiceUnavailable("503 backend busy")
        return real(self, *a, **kw)

    monkeypatch.setattr(blob_cls, "upload_from_filename", flaky)
    m = ArtifactStore(backend.uri, backend=backend).publish(make_artifact("a", {"f": "1"}), "ds")
    assert m.version == "v1" and calls["n"] == 3


def test_retry_gives_up_and_does_not_retry_permanent_errors() -> None:
    sleeps: list[float] = []
    calls = {"n": 0}

    def always_503():
        calls["n"] += 1
        raise gexc.ServiceUnavailable("down")

    with pytest.raises(gexc.ServiceUnavailable):
        retry_transient(always_503, what="t", attempts=4, base_delay=1.0, sleep=sleeps.append)
    assert calls["n"] == 4 and len(sleeps) == 3 and all(0 <= s <= 4.0 for s in sleeps)

    def forbidden():
        calls["n"] += 1
        raise gexc.Forbidden("no")

    calls["n"] = 0
    with pytest.raises(gexc.Forbidden):
        retry_transient(forbidden, what="t", sleep=sleeps.append)
    assert calls["n"] == 1


def test_bad_store_uris_are_named() -> None:
    with pytest.raises(StoreError, match="needs a bucket"):
        ArtifactStore("gs:///nobucket")
    with pytest.raises(StoreError, match="unsupported store scheme 's3'"):
        ArtifactStore("s3://b/p")
