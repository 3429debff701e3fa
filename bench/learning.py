"""Time to grounding: CPU seconds until a tiny Qwen3-VL localises, o3v's SFT path against a plain PyTorch loop.

    python bench/learning.py [--steps 800] [--every 100] [--batch 16] [--lr 1e-3]

Data: single-square stills (`o3v.synth.stills`: one coloured square on grey, "Where is the <colour> square?",
target `<think><obj>..</obj><box>[..]</box></think><answer>..</answer>` in image pixels), fresh stills for every
sample, 96 held-out stills. Model: `build_tiny(arch="qwen3_vl", seed=0)`. Both paths see the same rows (built by
`o3v.train.data.sft_row`: o3v's prompt builder, system prompt included), the same batch size, AdamW at the same
constant learning rate, gradient clipping 1.0, one thread, loss on the completion only:
- o3v: `o3v.train.sft.run` (trl SFTTrainer, lazy rows, o3v's callbacks), checkpoints every `--every` steps;
- plain: a 25-line loop over the same rows.
Every `--every` steps both models answer the held-out stills greedily; IoU comes from `o3v.grounded.parse` and
`o3v.geometry.box_iou`. Printed: the first step at which held-out mean box IoU >= 0.5, the process CPU seconds
spent training until then, the o3v / plain ratio (target <= 1.2), and SFT tokens/s. Then a short GSPO run from
the o3v model gives GSPO completion tokens/s.

Temporal grounding (tIoU >= 0.5) is not reached within a bench-sized budget on this machine (tiny-learning.md:
2,000 steps of 8 clips in a plain loop); the bench says so instead of printing a number it did not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

THRESHOLD = 0.5


def held_out_iou(model, processor, rows: list[dict]) -> float:
    """Mean box IoU of greedy answers on held-out rows (o3v's parser; unparsable answers count 0)."""
    import torch

    from o3v.geometry import box_iou
    from o3v.grounded import parse

    processor.tokenizer.padding_side = "left"
    ious = []
    model.eval()
    for i in range(0, len(rows), 32):
        batch = rows[i : i + 32]
        texts = [processor.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in batch]
        enc = processor(text=texts, images=[r["images"] for r in batch], return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=64, do_sample=False)
        for r, ids in zip(batch, out):
            text = processor.tokenizer.decode(ids[enc["input_ids"].shape[1] :], skip_special_tokens=True)
            truth = parse(r["completion"][0]["content"][0]["text"]).answer_boxes
            pred = parse(text).answer_boxes
            ious.append(box_iou(pred[0], truth[0]) if pred and truth else 0.0)
    model.train()
    processor.tokenizer.padding_side = "right"
    return sum(ious) / len(ious)


def rows_of(data_dir: Path, processor) -> list[dict]:
    from o3v.train.data import FrameSettings, load_train_data, sft_row

    td = load_train_data(data_dir, "sft")
    return [sft_row(item, processor, FrameSettings()) for item in td.records]


def plain_loop(base: Path, rows: list[dict], held: list[dict], args) -> dict:
    """The minimal loop: same rows, batch, optimizer, lr and clipping as the o3v run."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(0)
    processor = AutoProcessor.from_pretrained(base)
    model = AutoModelForImageTextToText.from_pretrained(base)
    start_id = processor.tokenizer.convert_tokens_to_ids("<|im_start|>")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    order = random.Random(0)
    curve, cpu, tokens = [], 0.0, 0
    for step in range(1, args.steps + 1):
        t0 = time.process_time()
        batch = order.sample(rows, args.batch)
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
        if step % args.every == 0:
            curve.append({"step": step, "cpu_s": round(cpu, 1), "iou": round(held_out_iou(model, processor, held), 3)})
            print(f"plain step {step}: held-out IoU {curve[-1]['iou']} after {cpu:.0f} CPU s", flush=True)
    return {"curve": curve, "tokens_per_s": round(tokens / cpu, 1)}


def o3v_run(base: Path, train: Path, held: list[dict], out: Path, args) -> dict:
    """o3v's SFT path; CPU time measured around the whole run, checkpoints scored afterwards."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from o3v.train.sft import run

    overrides = {
        "max_steps": args.steps,
        "per_device_train_batch_size": args.batch,
        "learning_rate": args.lr,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0,
        "local_processes": 1,
        "sample_order": "random",
        "train_sampling_strategy": "random",
        "save_steps": args.every,
        "save_total_limit": None,
        "logging_steps": args.every,
    }
    t0 = time.process_time()
    metrics = run(train, out, "tiny-cpu", overrides, str(base))
    cpu = time.process_time() - t0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    tokens = max((row.get("num_tokens", 0) for row in log), default=0)
    curve = []
    for step in range(args.every, args.steps + 1, args.every):
        ckpt = out / "checkpoints" / f"checkpoint-{step}"
        processor = AutoProcessor.from_pretrained(ckpt)
        model = AutoModelForImageTextToText.from_pretrained(ckpt)
        # steps cost the same: CPU time to a checkpoint is its share of the whole run
        curve.append(
            {
                "step": step,
                "cpu_s": round(cpu * step / args.steps, 1),
                "iou": round(held_out_iou(model, processor, held), 3),
            }
        )
        print(f"o3v   step {step}: held-out IoU {curve[-1]['iou']}", flush=True)
    return {"curve": curve, "tokens_per_s": round(tokens / cpu, 1) if tokens else None, "metrics": metrics}


def first_at(curve: list[dict]) -> dict | None:
    return next((c for c in curve if c["iou"] >= THRESHOLD), None)


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
    args = ap.parse_args()

    from o3v.torchvision_cpu import install

    install()
    import torch
    from transformers import AutoProcessor

    from o3v.model import build_tiny
    from o3v.synth.stills import write_square_stills

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = build_tiny(root / "tiny", arch="qwen3_vl", seed=0)
        train = write_square_stills(root / "train", n=args.steps * args.batch, seed=0)
        held_dir = write_square_stills(root / "held", n=96, seed=1)
        processor = AutoProcessor.from_pretrained(base)
        rows, held = rows_of(train, processor), rows_of(held_dir, processor)
        ours = o3v_run(base, train, held, root / "o3v", args)
        plain = plain_loop(base, rows, held, args)
        gspo = gspo_tokens_per_s(root / "o3v", train, root / "gspo")
    a, b = first_at(ours["curve"]), first_at(plain["curve"])
    print("\n| path | first step with held-out box IoU >= 0.5 | CPU s to it | SFT tokens/s |")
    print("|---|---:|---:|---:|")
    for name, hit, run in (("o3v SFT (trl)", a, ours), ("plain PyTorch loop", b, plain)):
        step, cpu = (hit["step"], hit["cpu_s"]) if hit else ("not reached", "-")
        print(f"| {name} | {step} | {cpu} | {run['tokens_per_s']} |")
    if a and b:
        print(f"\no3v / plain CPU seconds to IoU >= 0.5: {a['cpu_s'] / b['cpu_s']:.2f} (target <= 1.2)")
    else:
        print(f"\nratio not measured: IoU >= 0.5 not reached by both paths within {args.steps} steps")
    print(f"GSPO completion tokens/s (4 steps from the o3v model): {gspo}")
    print("temporal tIoU >= 0.5: not measured (not reached within a bench-sized budget; see the module docstring)")
    print(json.dumps({"o3v": ours["curve"], "plain": plain["curve"]}))


if __name__ == "__main__":
    main()
