"""Training step costs: o3v's SFT step vs a plain trl SFT step, and a GSPO step split into generation vs loss.

    python bench/train.py [--steps 20] [--videos 6] [--batch 4] [--arch qwen3_vl|qwen2_5_vl]

1. SFT: the same tiny model (`--arch`: Qwen3-VL, the embedded default, or Qwen2.5-VL; random init, seed 0), the
   same rows, the same `SFTConfig` and seed (so the same sampler order, hence the same batches), once through
   `o3v.train.sft.build_trainer` (lazy rows built from the dataset directory, checks, progress callback) and once
   through a plain `trl.SFTTrainer` over an in-memory `datasets.Dataset` of those rows (images stored in Arrow, as a
   trl user would), and twice more through o3v with one part off: its decoded-clip cache (`clip_cache_mb: 0`, every
   row decodes its clip) and its CPU fast paths (`cpu_kernels: false`, o3v.train.cpu_kernels; plain trl runs the
   stock kernels). Time per optimizer step is the interval between consecutive step ends (data loading + collation
   + forward/backward + optimizer), median over the steps after a warm-up epoch, best of `--repeats` alternating
   runs. Target: o3v / plain <= 1.10.
2. GSPO (from the o3v SFT model, preset `gspo`: 4 completions per prompt group, `steps_per_generation=4`): per
   optimizer step, time in rollout generation (`model.generate` inside trl), reward scoring, the rest of the
   rollout step (old log-probs, advantages), and the loss pass (forward + backward + optimizer). The wrappers
   only time trl's methods; they change nothing.
Timings come from a shared machine: compare the ratios (CPU-time ratios are the robust ones), not absolute seconds.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars would distort the step timings
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from o3v.records import read_records, write_records  # noqa: E402


def make_world(root: Path, videos: int, arch: str) -> tuple[Path, dict[str, Path]]:
    """Tiny model + synthetic world + clean SFT / RL dataset directories (the world minus fault-labelled records)."""
    from o3v.model import build_tiny
    from o3v.synth import generate

    model = build_tiny(root / "tiny", arch=arch, seed=0)
    world = root / "world"
    generate(world, videos=videos, seed=0, faults=0.2)
    faulted = {json.loads(line)["id"] for line in (world / "faults.jsonl").read_text().splitlines() if line.strip()}
    data = {}
    for stage, name in (("sft", "STGR-SFT.json"), ("rl", "STGR-RL.json")):
        folder = root / f"data-{stage}"
        folder.mkdir()
        write_records(
            folder / "records.jsonl", [r for r in read_records(world / "stgr" / name) if r.id not in faulted]
        )
        (folder / "dataset.json").write_text(json.dumps({"media_root": str(world), "stage": "bench"}))
        data[stage] = folder
    return model, data


def step_clock():
    """A trainer callback recording wall and process-CPU time between consecutive optimizer-step ends.

    CPU time (all threads of this process) is what one step costs whatever else the shared machine runs;
    wall time is what a user waits on an idle machine. Both are kept.
    """
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.last = (0.0, 0.0)
            self.steps: list[float] = []
            self.cpu: list[float] = []

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.last = (time.perf_counter(), time.process_time())

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            now = (time.perf_counter(), time.process_time())
            self.steps.append(now[0] - self.last[0])
            self.cpu.append(now[1] - self.last[1])
            self.last = now

    return StepClock()


# o3v with one part switched off: every row decodes its clip; the stock CPU kernels (o3v.train.cpu_kernels).
VARIANTS = {"nocache": {"clip_cache_mb": 0}, "nokernels": {"cpu_kernels": False}}
LABELS = {"nocache": "clip cache off (`clip_cache_mb: 0`)", "nokernels": "CPU fast paths off (`cpu_kernels: false`)"}


def bench_sft(model: Path, data: Path, out: Path, steps: int, batch: int, warmup: int, repeats: int) -> dict:
    """Median step time of each trainer, best of `repeats` alternating runs (a shared machine's load drifts)."""
    from datasets import Dataset
    from trl import SFTTrainer

    from o3v.model import load_model
    from o3v.train import sft

    overrides = {"max_steps": warmup + steps, "per_device_train_batch_size": batch, "save_steps": 10**6,
                 "logging_steps": 10**6, "max_frames": 8}  # fmt: skip
    medians: dict[str, list[float]] = {"o3v": [], "plain": [], "o3v_cpu": [], "plain_cpu": []}
    medians |= {name: [] for name in VARIANTS}
    losses: dict[str, float] = {}
    for r in range(repeats):
        for name, change in VARIANTS.items():
            variant, _ = sft.build_trainer(
                data, out / f"{name}-{r}", "tiny-cpu", {**overrides, **change}, base_model=str(model)
            )
            clock_variant = step_clock()
            variant.add_callback(clock_variant)
            variant.train()
            medians[name].append(statistics.median(clock_variant.steps[warmup:]))
            losses[name] = variant.state.log_history[-1].get("train_loss", float("nan"))

        trainer, ctx = sft.build_trainer(data, out / f"o3v-{r}", "tiny-cpu", overrides, base_model=str(model))
        clock = step_clock()
        trainer.add_callback(clock)
        rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]  # the exact rows o3v trains on
        trainer.train()
        medians["o3v"].append(statistics.median(clock.steps[warmup:]))
        medians["o3v_cpu"].append(statistics.median(clock.cpu[warmup:]))
        losses["o3v"] = trainer.state.log_history[-1].get("train_loss", float("nan"))
        if r == 0:
            trainer.save_model(str(out / "sft-model"))  # GSPO starts from it (a random model has zero reward variance)
            ctx["processor"].save_pretrained(out / "sft-model")

        # Plain trl: same weights, same arguments (and seed, hence batches), rows materialised in an Arrow dataset.
        plain_rows = [{"prompt": x["prompt"], "completion": x["completion"], "images": x["images"]} for x in rows]
        plain_model, processor = load_model(model, dtype="float32", device="cpu")
        plain = SFTTrainer(
            model=plain_model,
            args=trainer.args,
            train_dataset=Dataset.from_list(plain_rows),
            processing_class=processor,
        )
        clock_plain = step_clock()
        plain.add_callback(clock_plain)
        plain.train()
        medians["plain"].append(statistics.median(clock_plain.steps[warmup:]))
        medians["plain_cpu"].append(statistics.median(clock_plain.cpu[warmup:]))
        losses["plain"] = plain.state.log_history[-1].get("train_loss", float("nan"))
    return {
        "o3v_median_s": min(medians["o3v"]),
        "plain_median_s": min(medians["plain"]),
        "o3v_cpu_s": min(medians["o3v_cpu"]),
        "plain_cpu_s": min(medians["plain_cpu"]),
        "steps": steps,
        "medians": medians,
        "losses": losses,
    }


def _timed(obj, name: str, sink: list[float]) -> None:
    """Replace `obj.name` on this instance by a wrapper that appends each call's duration to `sink`."""
    original = getattr(obj, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - start)

    setattr(obj, name, wrapper)


def bench_gspo(base: Path, data: Path, out: Path, steps: int) -> dict[str, float]:
    from o3v.train import gspo

    overrides = {"max_steps": steps, "save_steps": 10**6, "logging_steps": 1, "max_frames": 8,
                 "max_completion_length": 64}  # fmt: skip
    trainer, _ = gspo.build_trainer(data, out / "gspo", "tiny-cpu", overrides, base_model=str(base))
    times: dict[str, list[float]] = {"generate": [], "rewards": [], "rollout": [], "step": []}
    _timed(trainer, "_generate", times["generate"])
    _timed(trainer, "_calculate_rewards", times["rewards"])
    _timed(trainer, "_generate_and_score_completions", times["rollout"])
    clock = step_clock()
    trainer.add_callback(clock)
    trainer.train()
    total = sum(clock.steps)
    gen, rew, roll = sum(times["generate"]), sum(times["rewards"]), sum(times["rollout"])
    return {
        "steps": len(clock.steps),
        "rollouts": len(times["rollout"]),
        "completions_per_rollout": trainer.args.per_device_train_batch_size * trainer.args.steps_per_generation,
        "step_mean_s": total / len(clock.steps),
        "generate_s": gen,
        "rewards_s": rew,
        "rollout_other_s": roll - gen - rew,
        "loss_s": total - roll,
        "total_s": total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per run")
    parser.add_argument("--videos", type=int, default=6, help="synthetic videos (records = 4 per video, minus faults)")
    parser.add_argument("--batch", type=int, default=4, help="SFT per-device batch")
    parser.add_argument("--arch", default="qwen3_vl", choices=["qwen3_vl", "qwen2_5_vl"], help="tiny model family")
    parser.add_argument("--repeats", type=int, default=3, help="alternating o3v / plain runs; best median is kept")
    parser.add_argument("--gspo-steps", type=int, default=8, help="GSPO optimizer steps (4 per rollout)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="o3v-bench-train-") as tmp:
        root = Path(tmp)
        model, data = make_world(root, args.videos, args.arch)
        n = len(read_records(data["sft"] / "records.jsonl"))
        warmup = -(-n // args.batch)  # one epoch: o3v's rows are decoded on first use, then cached
        s = bench_sft(model, data["sft"], root, args.steps, args.batch, warmup, args.repeats)
        g = bench_gspo(root / "sft-model", data["rl"], root, args.gspo_steps)
    ratio = s["o3v_median_s"] / s["plain_median_s"]
    cpu_ratio = s["o3v_cpu_s"] / s["plain_cpu_s"]
    print(
        f"\nSFT step, tiny {args.arch}, batch {args.batch}, {n} records, "
        f"median of {s['steps']} steps after {warmup} warm-up, best of {args.repeats} alternating runs"
    )
    print("| run | wall s/step | CPU s/step | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|")
    print(f"| plain trl SFTTrainer (Arrow rows) | {s['plain_median_s']:.4f} | {s['plain_cpu_s']:.4f} | 1.00 | 1.00 |")
    print(
        f"| o3v sft (lazy rows, checks, callback) | {s['o3v_median_s']:.4f} | {s['o3v_cpu_s']:.4f} | {ratio:.2f} | "
        f"{cpu_ratio:.2f} |"
    )
    for name, label in LABELS.items():
        best = min(s["medians"][name])
        print(f"| o3v sft, {label} | {best:.4f} | – | {best / s['plain_median_s']:.2f} | – |")
    print("target: o3v / plain <= 1.10")
    for name, label in LABELS.items():
        print(f"o3v step {s['o3v_median_s'] / min(s['medians'][name]):.2f}x the time of o3v with {label}")
    every = {k: [round(x, 4) for x in v] for k, v in s["medians"].items() if not k.endswith("_cpu")}
    print(f"all medians: {every}")
    losses = ", ".join(f"{k} {v:.4f}" for k, v in s["losses"].items())
    print(f"train_loss {losses} (same batches: equal up to float rounding)")
    print(
        f"\nGSPO, preset gspo, {g['steps']} steps, "
        f"{g['rollouts']} rollouts of {g['completions_per_rollout']} completions"
    )
    print("| part | total s | s per optimizer step | share |")
    print("|---|---|---|---|")
    for key, label in (("generate_s", "rollout generation (model.generate)"), ("rewards_s", "reward scoring"),
                       ("rollout_other_s", "rest of rollout (old log-probs, advantages)"),
                       ("loss_s", "loss pass (forward + backward + optimizer)")):  # fmt: skip
        print(f"| {label} | {g[key]:.3f} | {g[key] / g['steps']:.4f} | {g[key] / g['total_s']:.2f} |")
    print(f"| whole step | {g['total_s']:.3f} | {g['step_mean_s']:.4f} | 1.00 |")
    print(f"generation / loss ratio: {g['generate_s'] / max(g['loss_s'], 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
