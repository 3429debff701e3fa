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
