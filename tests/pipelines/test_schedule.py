"""`make schedule` and the KFP_HOST submit path against a stub KFP API on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from kfp_stub import KfpStub

from components import _platform
from pipelines import run as run_mod
from pipelines import schedule


def test_recurring_run_request_carries_cron_spec_and_service_account(tmp_path: Path) -> None:
    with KfpStub() as stub:
        out = schedule.create_schedule(stub.url, "0 0 3 * * 1", params={"model": "tiny-qwen2.5-vl"}, out_dir=tmp_path)
    assert out.recurring_run_id == "rr-1"
    paths = [p for _, p, _ in stub.requests]
    assert any(p.endswith("/healthz") for p in paths)
    body = stub.posted("/recurringruns")[0]
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * 1"}}
    assert body["mode"] == "ENABLE" and body["no_catchup"] is True and int(body["max_concurrency"]) == 1
    assert body["service_account"] == _platform.SERVICE_ACCOUNT and body["experiment_id"] == "exp-1"
    spec = body["pipeline_spec"]["pipeline_spec"]
    assert spec["pipelineInfo"]["name"] == "o3v-retrain"
    assert "platform_spec" in body["pipeline_spec"]
    assert body["runtime_config"]["parameters"] == {"model": "tiny-qwen2.5-vl"}
    # Scheduled retraining must read a fresh `latest`: the client rewrote every task to no caching.
    tasks = spec["root"]["dag"]["tasks"]
    assert all(t.get("cachingOptions", {}) == {} for t in tasks.values())
    assert "dataset@latest" in {t["taskInfo"]["name"] for t in tasks.values()}


@pytest.mark.parametrize(
    ("cron", "error"), [("0 3 * * 1", "has 5 fields"), ("0 0 3 * *", "has 5 fields"), ("* * *", "must have 6 fields")]
)
def test_bad_cron_is_refused_with_a_hint(cron: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        schedule.check_cron(cron)


def test_schedule_cli_needs_a_host(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KFP_HOST", raising=False)
    with pytest.raises(SystemExit):
        schedule.main(["--cron", "0 0 3 * * 1"])
    assert "set KFP_HOST" in capsys.readouterr().err


def test_kfp_host_submits_instead_of_running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with KfpStub() as stub:
        monkeypatch.setenv("KFP_HOST", stub.url)
        assert run_mod.main(["--set", "videos=4"]) == 0
    body = stub.posted("/runs")[0]
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "o3v"
    assert "platform_spec" in body["pipeline_spec"]
    assert body["runtime_config"]["parameters"]["videos"] == 4
    assert body["service_account"] == _platform.SERVICE_ACCOUNT
    assert (tmp_path / "build" / "pipelines" / "o3v.yaml").is_file()
    assert not (tmp_path / "local_outputs").exists()  # nothing ran here
