"""Evaluation: benchmark adapters, inference, scoring, voting and the report.

- `benchmarks/`: one adapter per benchmark (V-STaR, TVGBench, VideoMME, WorldSense, VideoMMMU, synthetic), all
  with the interface of `benchmarks/base.py`; scoring goes through the local `evaluate` modules in `o3v.metrics`.
- `runner.evaluate(model, benchmark, annotations, media_root, out_dir, config)`: the stage function (KFP).
- `judge`: V-STaR's "what" judge backends; `voting`: majority and confidence-aware test-time voting;
  `frames`: the shared frame cache; `report.build_report`: the HTML report; `infer`: `o3v infer`.

CLI: `o3v eval score | run | report`, `o3v infer` (see `o3v/eval/cli.py`); smoke: `make eval-smoke`.
"""
