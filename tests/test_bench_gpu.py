"""bench/gpu.py's synthetic VLM inputs: one contiguous run of image tokens per frame, as get_rope_index expects."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def gpu_bench(load_bench):
    return load_bench("gpu")


@pytest.mark.parametrize("name", ["qwen3-vl-8b", "qwen2.5-vl-7b"])
@pytest.mark.parametrize(("frames", "per_frame", "text_len"), [(18, 128, 660), (16, 256, 350), (4, 16, 328)])
def test_one_image_run_per_frame(gpu_bench, name: str, frames: int, per_frame: int, text_len: int) -> None:
    cfg = SimpleNamespace(vision_start_token_id=151652, vision_end_token_id=151653, image_token_id=151655,
                          vision_config=SimpleNamespace(temporal_patch_size=2))  # fmt: skip
    ids, pixels, grid, types = gpu_bench.vlm_inputs(name, cfg, 2, frames, per_frame, text_len, "cpu")
    assert ids.shape == (2, text_len + frames * (per_frame + 2))
    assert grid.shape == (2 * frames, 3)
    for row in types:
        starts = int(((row[1:] == 1) & (row[:-1] == 0)).sum()) + int(row[0] == 1)
        assert starts == frames  # a block cut into another one gave more runs than grids (StopIteration at real size)
        assert int(row.sum()) == frames * per_frame
