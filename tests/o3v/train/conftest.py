"""Train-area fixtures derived from the suite's one synthetic world (`synth_world`) and tiny model (`tiny_model`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from o3v.records import read_records, write_records


@pytest.fixture(scope="session")
def train_data(synth_world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clean dataset directories {"sft": ..., "rl": ...}: the world's STGR files minus every fault-labelled record.

    (The curation stages remove exactly these; using the labels keeps training tests independent of curation.)
    """
    faults = (synth_world / "faults.jsonl").read_text().splitlines()
    faulted = {json.loads(line)["id"] for line in faults if line.strip()}
    out = {}
    for stage, name in (("sft", "STGR-SFT.json"), ("rl", "STGR-RL.json")):
        folder = tmp_path_factory.mktemp(f"train-{stage}")
        records = [r for r in read_records(synth_world / "stgr" / name) if r.id not in faulted]
        write_records(folder / "records.jsonl", records)
        meta = {"media_root": str(synth_world), "stage": "synth-minus-faults"}
        (folder / "dataset.json").write_text(json.dumps(meta))
        out[stage] = folder
    return out


@pytest.fixture(scope="session")
def tiny_processor(tiny_model: Path):
    """The tiny model's processor (loaded once)."""
    from o3v.model import load_model

    return load_model(tiny_model)[1]


@pytest.fixture(autouse=True)
def one_process_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train tests run in-process (the tiny-cpu recipe asks for 2 DDP processes); a test that passes
    `local_processes` in its overrides gets what it asks for."""
    from o3v.train import launch

    def processes(stage: str, config: object, overrides: dict | None) -> int:
        return int((overrides or {}).get("local_processes", 1))

    monkeypatch.setattr(launch, "local_processes", processes)
