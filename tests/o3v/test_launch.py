"""`local_processes`: the run relaunches itself under torchrun; the field is read without building the trl config."""

from __future__ import annotations

import sys

import pytest

from o3v.train import launch
from o3v.train.config import ConfigError


def test_local_processes_comes_from_overrides_then_recipe(tmp_path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("local_processes: 2\nmax_steps: 3\n")
    assert launch.local_processes("sft", str(recipe), {}) == 2
    assert launch.local_processes("sft", str(recipe), {"local_processes": 1}) == 1
    assert launch.local_processes("sft", {"max_steps": 3}, None) == 1
    assert launch.local_processes("gspo", {"local_processes": None}, None) == 1
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ConfigError, match="local_processes"):
            launch.local_processes("sft", str(recipe), {"local_processes": bad})


def test_command_is_the_stage_entry_point_under_torchrun(tmp_path) -> None:
    cmd = launch.command("gspo", "D", tmp_path, "tiny-cpu", {"max_steps": 2}, "M", True, 2)
    assert cmd[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert cmd[5:7] == ["-m", "o3v.train.gspo"]
    assert cmd[cmd.index("--overrides") + 1] == '{"max_steps": 2}'
    assert cmd[cmd.index("--base-model") + 1] == "M" and cmd[-1] == "--resume"


def test_under_launcher_follows_local_rank(monkeypatch) -> None:
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert not launch.under_launcher()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert launch.under_launcher()


def test_leave_process_group_destroys_it_and_is_a_no_op_without_one(tmp_path) -> None:
    import torch.distributed as dist

    launch.leave_process_group()  # no group: nothing to wait for
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        launch.leave_process_group()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
