"""A one-task pipeline whose task prints `n` lines and fails (no `from __future__ import annotations`: kfp reads
the real annotation types)."""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def boom(n: int) -> int:
    for i in range(n):
        print(f"line {i}")
    raise RuntimeError("boom: something broke")


@dsl.pipeline(name="o3v-test-boom")
def boom_pipeline(n: int = 40):
    boom(n=n)
