"""A synthetic grounded-video world: procedurally generated videos with exact ground truth.

    o3v synth --out out/synth --videos 8 --seed 0 --faults 0.2

`generate(out_dir, videos, seed, faults)` writes the layout described in docs/architecture.md and
returns its summary. Modules: `world` (scene, rendering, H.264 encoding), `tasks` (the six STGR task
types), `faults` (labelled fault injection), `benchmarks` (V-STaR / TVGBench / VideoMME files and
constant baselines), `build` (`generate`).
"""

from o3v.synth.build import generate

__all__ = ["generate"]
