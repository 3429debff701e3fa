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

    out = build_tiny(args.out, arch=args.arch, seed=args.seed)
    sys.stdout.write(f"{out}\n")
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
    t.set_defaults(func=_model_tiny)
