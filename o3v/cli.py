"""`o3v` console script: one entry point, subcommands registered by each area of the library.

Each area keeps its own argparse definitions in a light `cli` module (no torch/GX import at parse
time, so `o3v --help` is instant); the heavy work is imported when a command runs.

    o3v --help
    o3v synth --out out/synth --videos 8 --seed 0 --faults 0.2
    o3v parse < completion.txt
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from o3v import __version__

# Areas that add subcommands; each module defines `register(subparsers)`.
AREAS = (
    "o3v.commands",
    "o3v.curate.cli",
    "o3v.train.cli",
    "o3v.eval.cli",
    "o3v.artifacts.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="o3v",
        description="Grounded video reasoning pipeline (Open-o3 Video): synthesize, curate, train, evaluate, audit.",
    )
    parser.add_argument("--version", action="version", version=f"o3v {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in AREAS:
        importlib.import_module(area).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        rc = args.func(args)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
