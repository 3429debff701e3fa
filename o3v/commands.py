"""Foundation subcommands: `parse`, `synth`, `model`."""

from __future__ import annotations

import argparse
import json
import sys


def _parse(args: argparse.Namespace) -> int:
    from o3v.grounded import parse

    data = sys.stdin.buffer.read() if args.file is None else open(args.file, "rb").read()
    text = data.decode("utf-8", errors="replace")
    sys.stdout.write(json.dumps(parse(text).to_json(), ensure_ascii=False, allow_nan=False) + "\n")
    return 0


def _model_tiny(args: argparse.Namespace) -> int:
    from o3v.model import build_tiny

    out = build_tiny(args.out, arch=args.arch, seed=args.seed, size=args.size, pos_embed_std=args.pos_embed_std)
    sys.stdout.write(f"{out}\n")
    return 0


def _fraction(text: str) -> float:
    """argparse type for a rate in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _synth(args: argparse.Namespace) -> int:
    import time

    from o3v.synth import generate
    from o3v.synth.world import preset

    started = time.perf_counter()
    try:
        summary = generate(
            args.out,
            videos=args.videos,
            seed=args.seed,
            faults=args.faults,
            heldout=args.heldout,
            config=preset(args.preset),
        )
    except ValueError as exc:
        sys.stderr.write(f"o3v synth: error: {exc}\n")
        return 2
    elapsed = time.perf_counter() - started
    rec, flt, split = summary["records"], summary["faults"], summary["split"]
    lines = [
        f"wrote {args.out} in {elapsed:.2f} s: {summary['videos']} videos "
        f"({len(split['train'])} train, {len(split['eval'])} held out for benchmarks), seed {summary['seed']}",
        f"records (STGR-SFT.json and STGR-RL.json, same ids): {rec['total']}",
        *(f"  {task:<32}{n}" for task, n in rec["by_task"].items()),
        f"faults ({summary['fault_rate']:g} of records, faults.jsonl): {flt['total']}",
        *(f"  {fault:<32}{n}" for fault, n in flt["by_type"].items()),
        "benchmarks: " + ", ".join(f"{k} {v}" for k, v in summary["benchmarks"].items()),
        "constant baselines (benchmarks/baselines.json):",
    ]
    for name, b in summary["baselines"].items():
        shown = {k: v for k, v in b.items() if k not in ("mean_box", "best_constant_fraction")}
        lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if split["benchmarks_share_training_videos"]:
        lines.append("WARNING: no held-out videos; the benchmark files use the training videos")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the foundation subcommands."""
    p = sub.add_parser(
        "parse",
        help="parse grounded model output (stdin) into JSON",
        description="Read a completion on stdin and print {think, answer, claims, answer_span, option} as JSON. "
        "Never fails on malformed input: missing or broken parts come back as null / are left out.",
    )
    p.add_argument("file", nargs="?", help="read this file instead of stdin")
    p.set_defaults(func=_parse)

    p = sub.add_parser(
        "synth",
        help="generate the synthetic grounded-video world (videos, STGR records, faults, benchmarks)",
        description="Render videos of coloured shapes with exact per-frame ground truth, and write STGR-SFT/RL "
        "records for all six task types, labelled faults (faults.jsonl), V-STaR / TVGBench / VideoMME files over "
        "held-out videos, and their constant baselines. The same arguments give byte-identical files. Layout: "
        "docs/architecture.md.",
        epilog="example: o3v synth --out out/synth --videos 8 --seed 0 --faults 0.2",
    )
    p.add_argument("--out", required=True, help="output folder (created; a previous synth run in it is replaced)")
    p.add_argument("--videos", type=_positive_int, required=True, help="number of videos to render")
    p.add_argument("--seed", type=int, required=True, help="random seed (same seed, same files)")
    p.add_argument("--faults", type=_fraction, default=0.0, help="fraction of records that get one labelled fault")
    p.add_argument(
        "--heldout",
        type=_fraction,
        default=0.25,
        help="fraction of videos kept out of the records and used only by the benchmark files (default 0.25)",
    )
    p.add_argument(
        "--preset",
        choices=("learnable", "learnable-mixed", "learnable-shapes", "classic"),  # o3v.synth.world.PRESETS
        default="learnable",
        help="world preset: 'learnable' (default: 4 s clips, 1-2 salient objects, short traces; a tiny model learns "
        "it on a CPU), 'learnable-mixed' (the same, half the warm-up stills squares, half the other three shapes; "
        "the pipeline's default), 'learnable-shapes' (warm-up stills of all four shapes in equal shares) or "
        "'classic' (textured backgrounds, 2-4 moving objects, long traces)",
    )
    p.set_defaults(func=_synth)

    p = sub.add_parser("model", help="model utilities: build the tiny offline test model")
    model_sub = p.add_subparsers(dest="model_command", metavar="MODEL_COMMAND", required=True)
    t = model_sub.add_parser(
        "tiny",
        help="write a tiny random-init Qwen2.5-VL / Qwen3-VL checkpoint (offline, ~1 MB)",
        description="Build a randomly initialised model of the real architecture with a locally trained tokenizer "
        "and the real processor classes, saved like a hub checkpoint (load it with any o3v --model flag). "
        "Deterministic per --arch/--seed. Prints the output folder.",
    )
    t.add_argument("--out", required=True, help="output folder (created; files in it are overwritten)")
    t.add_argument("--arch", choices=("qwen2_5_vl", "qwen3_vl"), default="qwen2_5_vl", help="architecture")
    t.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    t.add_argument(
        "--size",
        choices=("xs", "s", "m"),
        default="xs",
        help="widths: xs (~0.3M params, wiring checks), s (~1-2M, learns the synthetic world), m (~3-4M)",
    )
    t.add_argument(
        "--pos-embed-std",
        type=float,
        default=None,
        help="qwen3_vl: init std of the ViT's learned position embedding (default 0.2, which makes the stills "
        "warm-up localise within 600 steps for every seed tried; 0.02 is the config's plain initializer_range)",
    )
    t.set_defaults(func=_model_tiny)
