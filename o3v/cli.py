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
from typing import NoReturn

from o3v import __version__

# Areas that add subcommands; each module defines `register(subparsers)`.
AREAS = (
    "o3v.commands",
    "o3v.curate.cli",
    "o3v.train.cli",
    "o3v.eval.cli",
    "o3v.artifacts.cli",
)


# `o3v --help`: the commands by stage, each with its one-line purpose (its `help=`) and an example.
# tests/o3v/test_cli.py checks that every registered command is listed once and every example parses.
STAGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("data and models", (
        ("synth", "o3v synth --out out/synth --videos 8 --seed 0 --faults 0.2"),
        ("model", "o3v model tiny --out out/tiny --arch qwen3_vl"),
    )),
    ("curate (annotate -> gate -> filter -> gate -> check -> gate)", (
        ("curate", "o3v curate --source out/synth --out out/curated"),
        ("annotate", "o3v annotate out/synth --out out/annotate"),
        ("validate", "o3v validate out/annotate --suite raw"),
        ("filter", "o3v filter out/annotate --out out/filter"),
        ("check", "o3v check out/filter --out out/check"),
        ("curate-report", "o3v curate-report out/curated --json"),
    )),
    ("train", (
        ("sft", "o3v sft --data out/curated/check --out out/sft --base-model out/tiny"),
        ("gspo", "o3v gspo --data out/curated/check --out out/gspo --base-model out/sft"),
        ("trainjob", "o3v trainjob sft --data out/curated/check --out out/sft --num-nodes 2 --dry-run"),
        ("reward", "o3v reward --records out/synth/stgr/STGR-RL.json --completions out/completions.jsonl "
                   "--frame-size 420 224"),
    )),
    ("evaluate and use", (
        ("eval", "o3v eval run --model out/gspo --benchmark vstar "
                 "--annotations out/synth/benchmarks/vstar/V_STaR_test.json --out out/eval --report"),
        ("infer", "o3v infer --model out/gspo --video out/synth/videos/vid_000.mp4 "
                  "--question 'Where is the red circle?'"),
        ("parse", "o3v parse completion.txt"),
    )),
    ("artifacts and lineage", (
        ("artifacts", "o3v artifacts list --store file://artifacts"),
        ("lineage", "o3v lineage out/gspo --format json"),
    )),
)  # fmt: skip
STREAMS = "Progress and logs go to stderr; results go to stdout (JSON or JSONL where a command prints data)."


class OneLineErrors(argparse.ArgumentParser):
    """An argparse parser whose errors are one line naming the argument (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _purposes(sub: argparse._SubParsersAction) -> dict[str, str]:
    """Each registered command's one-line `help=`."""
    return {action.dest: action.help or "" for action in sub._get_subactions()}


def grouped_help(sub: argparse._SubParsersAction) -> str:
    """The `o3v --help` command list: by stage, a purpose and an example per command (subcommands named)."""
    purposes = _purposes(sub)
    lines = ["commands, by stage:"]
    for stage, commands in STAGES:
        lines.append(f"\n  {stage}")
        for name, example in commands:
            nested = [a for a in sub.choices[name]._actions if isinstance(a, argparse._SubParsersAction)]
            also = f" [{' | '.join(nested[0].choices)}]" if nested else ""
            lines.append(f"    {name:<16} {purposes.get(name, '')}{also}")
            lines.append(f"    {'':<16}   e.g. {example}")
    return "\n".join(lines) + f"\n\n{STREAMS}\n`o3v COMMAND --help` for a command's arguments.\n"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="o3v",
        usage="o3v [-h] [--version] [-v] COMMAND ...",
        description="Grounded video reasoning pipeline (Open-o3 Video): synthesize, curate, train, evaluate, audit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"o3v {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS, prog="o3v")
    for area in AREAS:
        importlib.import_module(area).register(sub)
    parser.epilog = grouped_help(sub)
    return parser


def _missing_subcommand(parser: argparse.ArgumentParser, command: str) -> int:
    """`o3v eval` with no eval command: one line naming what is missing, exit 2."""
    nested = [a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction)]
    sub = nested[0].choices[command] if nested else None
    choices = [a for a in (sub._actions if sub else []) if isinstance(a, argparse._SubParsersAction)]
    names = ", ".join(choices[0].choices) if choices else "see --help"
    sys.stderr.write(f"o3v {command}: error: missing COMMAND (one of {names}) (see `o3v {command} --help`)\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(  # progress and logs: stderr (results: stdout)
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        if args.command is None:
            parser.print_help()
            return 0
        return _missing_subcommand(parser, args.command)
    try:
        rc = args.func(args)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
