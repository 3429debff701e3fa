"""Time to grounding: CPU seconds until a tiny Qwen3-VL localises in space and in time, o3v's SFT path against a
plain PyTorch loop.

    python bench/learning.py [--steps 800] [--every 100] [--batch 16] [--lr 1e-3]
                             [--temporal-steps 2000] [--temporal-every 100] [--temporal-batch 8] [--skip-temporal]

Two tracks, each on fresh samples for every training row and 96 held-out samples of another seed:
- box: single-square stills (`o3v.synth.stills`: one coloured square on grey, "Where is the <colour> square?",
  target `<think><obj>..</obj><box>[..]</box></think><answer>..</answer>` in image pixels); score: held-out mean
  box IoU (`o3v.geometry.box_iou`);
- temporal: two-square clips (`o3v.synth.clips`: 8 frames of 64 px at 2 fps, "When is the <colour> square
  visible?", target `<think>..</think><answer>From <t>S</t>s to <t>E</t>s</answer>`), the task a plain loop
  learnt to tIoU 0.68 in 2,000 steps of 8 clips (tiny-learning.md); score: held-out mean tIoU
  (`o3v.geometry.temporal_iou`).
Model: `build_tiny(arch="qwen3_vl", seed=0)`. On each track both paths see the same rows (built by
`o3v.train.data.sft_row`: o3v's prompt builder, system prompt and frame lines included) in the same batches and
the same order (the rows are i.i.d. samples; o3v reads them with a sequential sampler, the plain loop slices them
in file order, so a ratio measures the code path, not a luckier sample order), the same batch size, AdamW at the
same constant learning rate, gradient clipping 1.0, one thread, loss on the completion only:
- o3v: `o3v.train.sft.run` (trl SFTTrainer, lazy rows, o3v's callbacks, its CPU fast paths `cpu_kernels`),
  checkpoints every `--every` steps;
- plain: a 25-line loop over the same rows with the stock kernels (clip rows are decoded inside the timed step,
  as o3v's lazy rows are; 16,000 decoded clips would not fit in memory).
Every `--every` steps both models answer the held-out samples greedily, parsed by `o3v.grounded.parse`
(unparsable answers score 0). Printed per track: the first step at which the held-out mean score >= 0.5, the
process CPU seconds spent training until then, the o3v / plain ratio (target <= 1.2), and SFT tokens/s. After the
box track a short GSPO run from its o3v model gives GSPO completion tokens/s. The last line is every curve as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

THRESHOLD = 0.5
HELD_OUT = 96


@dataclass
class Track:
    """One grounding task: its data, how long and how often to train and score, and how to score an answer."""

    label: str  # "box IoU" or "tIoU"
    kind: str  # "box": first answer box vs the target's; "span": answer span vs the target's
    steps: int
    every: int
    batch: int
    train: Path  # curated dataset folder (the o3v run reads it)
    rows: Sequence[dict]  # the same records as trl rows (the plain loop reads them)
    held: list[dict]


def answer_score(kind: str, text: str, target: str) -> float:
    """Box IoU ("box") or tIoU ("span") of a generated answer against the target text; 0 when either is missing."""
    from o3v.geometry import box_iou, temporal_iou
    from o3v.grounded import parse

    pred, truth = parse(text), parse(target)
    if kind == "box":
        pred_at, truth_at = pred.answer_boxes[:1], truth.answer_boxes[:1]
        return box_iou(pred_at[0], truth_at[0]) if pred_at and truth_at else 0.0
    return temporal_iou(pred.answer_span, truth.answer_span) if pred.answer_span and truth.answer_span else 0.0


def held_out_score(model, processor, rows: list[dict], kind: str) -> float:
    """Mean `answer_score` of greedy answers on held-out rows."""
    import torch

    processor.tokenizer.padding_side = "left"
    scores = []
    model.eval()
    for i in range(0, len(rows), 32):
        batch = rows[i : i + 32]
        texts = [processor.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in batch]
        enc = processor(text=texts, images=[r["images"] for r in batch], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=64, do_sample=False)
        for r, ids in zip(batch, out):
            text = processor.tokenizer.decode(ids[enc["input_ids"].shape[1] :], skip_special_tokens=True)
            scores.append(answer_score(kind, text, r["completion"][0]["content"][0]["text"]))
    model.train()
    processor.tokenizer.padding_side = "right"
    return sum(scores) / len(scores)


class LazyRows(Sequence):
    """The trl rows of a dataset, each built (its video decoded) when read, as o3v's lazy dataset does."""

    def __init__(self, data_dir: Path, processor) -> None:
        from o3v.train.data import load_train_data

        self.items = load_train_data(data_dir, "sft").records
        self.processor = processor

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):  # type: ignore[override]
        from o3v.train.data import FrameSettings, sft_row

        return sft_row(self.items[i], self.processor, FrameSettings())


def batch_indices(n: int, size: int, step: int) -> range:
    """The rows of training step `step` (from 1) as a sequential, non-dropping loader reads `n` rows each epoch.

    >>> [list(batch_indices(5, 2, s)) for s in range(1, 5)]
    [[0, 1], [2, 3], [4], [0, 1]]
    """
    per_epoch = -(-n // size)
    k = (step - 1) % per_epoch
    return range(k * size, min(n, (k + 1) * size))


def plain_loop(base: Path, track: Track, lr: float) -> dict:
    """The minimal loop: same rows, batch, optimizer, lr and clipping as the o3v run."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(0)
    processor = AutoProcessor.from_pretrained(base)
    model = AutoModelForImageTextToText.from_pretrained(base)
    start_id = processor.tokenizer.convert_tokens_to_ids("<|im_start|>")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    curve, cpu, tokens = [], 0.0, 0
    for step in range(1, track.steps + 1):
        t0 = time.process_time()
        batch = [track.rows[i] for i in batch_indices(len(track.rows), track.batch, step)]
        texts = [processor.apply_chat_template(r["prompt"] + r["completion"], tokenize=False) for r in batch]
        enc = processor(text=texts, images=[r["images"] for r in batch], return_tensors="pt", padding=True)
        labels = enc["input_ids"].clone()
        for i in range(len(batch)):  # loss on the assistant turn only
            last = (enc["input_ids"][i] == start_id).nonzero().flatten()[-1].item()
            labels[i, : last + 3] = -100
        labels[enc["attention_mask"] == 0] = -100
        loss = model(**enc, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        cpu += time.process_time() - t0
        tokens += int(enc["attention_mask"].sum())
        if step % track.every == 0:
            score = round(held_out_score(model, processor, track.held, track.kind), 3)
            curve.append({"step": step, "cpu_s": round(cpu, 1), "iou": score})
            print(f"plain step {step}: held-out {track.label} {score} after {cpu:.0f} CPU s", flush=True)
    return {"curve": curve, "tokens_per_s": round(tokens / cpu, 1)}


def o3v_run(base: Path, track: Track, out: Path, lr: float) -> dict:
    """o3v's SFT path; CPU time measured around the whole run, checkpoints scored afterwards."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from o3v.train.sft import run

    overrides = {
        "max_steps": track.steps,
        "per_device_train_batch_size": track.batch,
        "learning_rate": lr,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "local_processes": 1,
        "sample_order": "random",  # no reordering: the rows in file order, as the plain loop reads them
        "task_repeats": {},  # no upweighting either (the recipe's weights need a planned order)
        "train_sampling_strategy": "sequential",
        "save_steps": track.every,
        "save_total_limit": None,
        "logging_steps": track.every,
    }
    t0 = time.process_time()
    metrics = run(track.train, out, "tiny-cpu", overrides, str(base))
    cpu = time.process_time() - t0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    tokens = max((row.get("num_tokens", 0) for row in log), default=0)
    curve = []
    for step in range(track.every, track.steps + 1, track.every):
        ckpt = out / "checkpoints" / f"checkpoint-{step}"
        processor = AutoProcessor.from_pretrained(ckpt)
        model = AutoModelForImageTextToText.from_pretrained(ckpt)
        # steps cost the same: CPU time to a checkpoint is its share of the whole run
        score = round(held_out_score(model, processor, track.held, track.kind), 3)
        curve.append({"step": step, "cpu_s": round(cpu * step / track.steps, 1), "iou": score})
        print(f"o3v   step {step}: held-out {track.label} {score}", flush=True)
    return {"curve": curve, "tokens_per_s": round(tokens / cpu, 1) if tokens else None, "metrics": metrics}


def first_at(curve: list[dict]) -> dict | None:
    return next((c for c in curve if c["iou"] >= THRESHOLD), None)


def report(track: Track, ours: dict, plain: dict) -> None:
    """The Markdown table of one track and its o3v / plain ratio line."""
    a, b = first_at(ours["curve"]), first_at(plain["curve"])
    print(f"\n| path | first step with held-out {track.label} >= {THRESHOLD} | CPU s to it | SFT tokens/s |")
    print("|---|---:|---:|---:|")
    for name, hit, run in (("o3v SFT (trl)", a, ours), ("plain PyTorch loop", b, plain)):
        step, cpu = (hit["step"], hit["cpu_s"]) if hit else ("not reached", "-")
        print(f"| {name} | {step} | {cpu} | {run['tokens_per_s']} |")
    ratio = f"{a['cpu_s'] / b['cpu_s']:.2f}" if a and b else f"not reached by both paths within {track.steps} steps"
    print(f"\no3v / plain CPU seconds to {track.label} >= {THRESHOLD}: {ratio} (target <= 1.2)")


def gspo_tokens_per_s(sft_model: Path, train: Path, out: Path) -> float | None:
    """Completion tokens per CPU second of a short GSPO run from the o3v SFT model (rollouts + loss)."""
    from o3v.train.gspo import run

    t0 = time.process_time()
    m = run(train, out, "tiny-cpu", {"max_steps": 4, "local_processes": 1, "logging_steps": 1, "max_records": 64},
            str(sft_model))  # fmt: skip
    cpu = time.process_time() - t0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    lengths = [row["completions/mean_length"] for row in log if "completions/mean_length" in row]
    if not lengths:
        return None
    per_step = 8  # the tiny-cpu recipe: per_device_train_batch_size completions per step
    return round(sum(lengths) * per_step / cpu, 1) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--temporal-steps", type=int, default=2000)
    ap.add_argument("--temporal-every", type=int, default=100)
    ap.add_argument("--temporal-batch", type=int, default=8)
    ap.add_argument("--skip-temporal", action="store_true", help="only the box track (and GSPO tokens/s)")
    args = ap.parse_args()

    from o3v.torchvision_cpu import install

    install()
    import torch
    from transformers import AutoProcessor

    from o3v.model import build_tiny
    from o3v.synth.clips import write_square_clips
    from o3v.synth.stills import write_square_stills

    torch.set_num_threads(1)
    curves = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = build_tiny(root / "tiny", arch="qwen3_vl", seed=0)
        processor = AutoProcessor.from_pretrained(base)
        train = write_square_stills(root / "train", n=args.steps * args.batch, seed=0)
        held = list(LazyRows(write_square_stills(root / "held", n=HELD_OUT, seed=1), processor))
        box = Track(
            "box IoU", "box", args.steps, args.every, args.batch, train, list(LazyRows(train, processor)), held
        )
        ours, plain = o3v_run(base, box, root / "o3v", args.lr), plain_loop(base, box, args.lr)
        gspo = gspo_tokens_per_s(root / "o3v", train, root / "gspo")
        report(box, ours, plain)
        print(f"GSPO completion tokens/s (4 steps from the o3v model): {gspo}")
        curves.update({"o3v": ours["curve"], "plain": plain["curve"]})
        if args.skip_temporal:
            print(f"temporal tIoU >= {THRESHOLD}: skipped (--skip-temporal)")
        else:
            clips = write_square_clips(root / "clips", n=args.temporal_steps * args.temporal_batch, seed=0)
            held = list(LazyRows(write_square_clips(root / "held-clips", n=HELD_OUT, seed=1), processor))
            steps, every, batch = args.temporal_steps, args.temporal_every, args.temporal_batch
            temporal = Track("tIoU", "span", steps, every, batch, clips, LazyRows(clips, processor), held)
            ours, plain = o3v_run(base, temporal, root / "o3v-temporal", args.lr), plain_loop(base, temporal, args.lr)
            report(temporal, ours, plain)
            curves.update({"o3v_temporal": ours["curve"], "plain_temporal": plain["curve"]})
    print(json.dumps(curves))


if __name__ == "__main__":
    main()
