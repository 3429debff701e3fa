"""Eval configs: every packaged YAML loads; unknown keys and impossible values fail naming the key."""

import re

import pytest

from o3v.eval.config import CONFIG_DIR, ConfigError, load_config


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if p.stem != "paper"))
def test_packaged_configs_load_for_every_benchmark(name):
    from o3v.eval.benchmarks import NAMES

    cfg = load_config(name)
    for bench in NAMES:
        assert cfg.for_benchmark(bench).frames.max_frames >= 1


def test_benchmark_overrides_apply_only_to_their_benchmark():
    cfg = load_config("qwen2.5-vl-7b")
    assert cfg.for_benchmark("vstar").frames.sample_fps == 1.0 and cfg.for_benchmark("vstar").frames.max_frames == 16
    assert cfg.for_benchmark("videomme").frames.max_frames == 64
    assert cfg.for_benchmark("vstar").judge.model == "Qwen/Qwen2.5-72B-Instruct"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"frmes": {}}, "unknown key 'frmes' (did you mean 'frames'?)"),
        ({"voting": {"methd": "x"}}, "voting: unknown key 'methd'"),
        ({"voting": {"method": "majority", "n": 4, "temperature": 0.0}}, "needs voting.temperature > 0"),
        ({"frames": {"min_frames": 9, "max_frames": 4}}, "min_frames <= frames.max_frames"),
        ({"benchmarks": {"nope": {}}}, "benchmarks.nope: unknown benchmark"),
        ({"benchmarks": {"vstar": {"max_new_token": 3}}}, "benchmarks.vstar: unknown key 'max_new_token'"),
        ({"judge": {"backend": "gpt"}}, "judge.backend"),
    ],
)
def test_bad_configs_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config("tiny-cpu", overrides)


def test_unknown_config_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="tiny-cpu"):
        load_config("tiny-gpu")
