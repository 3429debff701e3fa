"""images/preflight.py, the deploy-time checks the preflight Jobs run: storage round trip against the GCS emulator
(loopback, in-process), the teacher-secret report, the GPU check's failure path on a CPU-only machine, exit codes.
"""

from __future__ import annotations

import importlib.util

import pytest
from manifest_tools import ROOT


def _load_preflight():
    spec = importlib.util.spec_from_file_location("o3v_preflight", ROOT / "images" / "preflight.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


preflight = _load_preflight()


@pytest.fixture
def gcs(gcs_client):
    """The suite's GCS emulator client (`gcs_client`, tests/conftest.py) with bucket `o3v-test` holding nothing."""
    bucket = gcs_client.lookup_bucket("o3v-test") or gcs_client.create_bucket("o3v-test")
    for blob in gcs_client.list_blobs(bucket):
        blob.delete()
    return gcs_client


def test_storage_round_trip_leaves_nothing_behind(gcs):
    lines = preflight.check_storage("o3v-test", "test", client=gcs)
    assert len(lines) == 1 and lines[0].startswith("gcs: wrote, read back and deleted gs://o3v-test/preflight/")
    assert list(gcs.list_blobs("o3v-test")) == []


def test_storage_failure_names_the_bucket_and_the_fix(gcs):
    with pytest.raises(preflight.PreflightError) as err:
        preflight.check_storage("no-such-bucket", "test", client=gcs)
    assert "gs://no-such-bucket/preflight/" in str(err.value)
    assert "Workload Identity" in str(err.value)


def test_teacher_secret_is_reported_never_printed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-print")
    monkeypatch.delenv("OTHER_KEY", raising=False)
    lines = preflight.check_teacher_secret(["OPENAI_API_KEY", "OTHER_KEY"])
    assert lines[0] == "secret env OPENAI_API_KEY: present"
    assert lines[1].startswith("secret env OTHER_KEY: absent")
    assert not any("sk-do-not-print" in line for line in lines)


def test_gpu_check_fails_clearly_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the failure path is for CPU-only machines")
    with pytest.raises(preflight.PreflightError, match="sees no GPU"):
        preflight.check_gpu()


@pytest.mark.gpu
def test_gpu_check_passes_on_a_gpu_machine():
    pytest.importorskip("flash_attn")
    lines = preflight.check_gpu()
    assert any("bf16 matmul ok" in line for line in lines)


def test_main_exit_codes(monkeypatch, capsys, gcs):
    monkeypatch.delenv("O3V_BUCKET", raising=False)
    assert preflight.main(["storage"]) == 1
    assert "O3V_BUCKET is empty" in capsys.readouterr().err
    # With the bucket set, the real client path runs against the emulator (anonymous credentials via env).
    monkeypatch.setenv("O3V_BUCKET", "o3v-test")
    monkeypatch.setenv("O3V_GCP_PROJECT", "test")
    original = preflight.check_storage
    monkeypatch.setattr(preflight, "check_storage", lambda bucket, project: original(bucket, project, client=gcs))
    assert preflight.main(["storage"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("preflight storage: ok")
