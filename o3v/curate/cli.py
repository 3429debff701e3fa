"""`o3v` subcommands of the curate area (argument definitions only; work is imported lazily).

o3v annotate out/synth --out out/cur/annotate
o3v filter out/cur/annotate --out out/cur/filter
o3v check out/cur/filter --out out/cur/check
o3v validate out/cur/check --suite consistent --out out/cur/gates/consistent
o3v curate --source out/synth --out out/cur
o3v curate-report out/cur --json
"""

from __future__ import annotations

import argparse
import json
import sys

_CONFIG_HELP = "curation YAML merged over o3v/configs/curate/default.yaml (only the keys you change)"


def _config(args: argparse.Namespace):
    from o3v.curate.config import load_config

    overrides: dict = {}
    if getattr(args, "teacher", None):
        overrides.setdefault("annotate", {})["teacher"] = args.teacher
    if getattr(args, "verifier", None):
        overrides.setdefault("filter", {})["verifier"] = args.verifier
    return load_config(args.config, overrides)


def _errors():
    """Exceptions that are user-facing input problems: printed as one line, exit status 2."""
    from o3v.curate.config import ConfigError
    from o3v.curate.dataset import DatasetError
    from o3v.records import RecordError

    return (ConfigError, DatasetError, RecordError, FileNotFoundError)


def _run(fn, args: argparse.Namespace) -> int:
    try:
        return fn(args)
    except _errors() as exc:
        print(f"o3v {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _print_stats(stats: dict) -> None:
    print(json.dumps({k: stats[k] for k in ("stage", "in", "kept", "rejected", "by_reason")}, indent=2))


def _annotate(args: argparse.Namespace) -> int:
    from o3v.curate.annotate import annotate

    _print_stats(annotate(args.source, args.out, _config(args)))
    return 0


def _filter(args: argparse.Namespace) -> int:
    from o3v.curate.filter import filter_records

    _print_stats(filter_records(args.input, args.out, _config(args)))
    return 0


def _check(args: argparse.Namespace) -> int:
    from o3v.curate.check import check_records

    _print_stats(check_records(args.input, args.out, _config(args)))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from o3v.curate.gates import validate

    out = args.out or str(Path(args.input) / "gates" / args.suite)
    res = validate(args.input, args.suite, out, _config(args))
    print(res.summary)
    print(f"Data Docs: {res.html_path}")
    return 0 if res.success else 1


def _curate(args: argparse.Namespace) -> int:
    from o3v.curate.pipeline import curate
    from o3v.curate.report import curation_report, format_report

    res = curate(args.source, args.out, _config(args))
    print(format_report(curation_report(args.out)))
    for suite, gate in res.gates.items():
        print(f"gate {suite}: {'passed' if gate.success else 'FAILED'} ({gate.html_path})")
    if res.failed_gate:
        print(res.gates[res.failed_gate].summary, file=sys.stderr)
        return 1
    print(f"curated dataset: {res.dataset}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from o3v.curate.report import contract_json, curation_report, format_report

    report = curation_report(args.out_dir)
    print(json.dumps(contract_json(report)) if args.json else format_report(report))
    return 0


def _common(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--config", default=None, help=_CONFIG_HELP)


def _teacher_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teacher", choices=["synthetic", "openai", "local"], help="override annotate.teacher")


def _verifier_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--verifier", choices=["auto", "oracle", "openai", "local", "none"], help="override filter.verifier"
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's subcommands to the `o3v` parser."""
    p = sub.add_parser(
        "annotate",
        help="videos -> STGR records (teacher), with a pre-flight decode of every video",
        description="Annotate a synth world folder, a video manifest (JSONL {id, video}: local paths "
        "or gs:// URIs) or import an upstream STGR .json. Every video is decoded once first; "
        "missing/undecodable/unsafe paths and bad teacher output become rejects.",
    )
    p.add_argument("source", help="synth folder, manifest .jsonl, or upstream STGR .json/.jsonl")
    _common(p, "output dataset folder")
    _teacher_option(p)
    p.set_defaults(func=lambda a: _run(_annotate, a))

    p = sub.add_parser(
        "filter",
        help="box/time rules and category verification",
        description="Reject records with oversized (> filter.max_box_area), inverted, out-of-frame, "
        "NaN or zero-area boxes, times outside the video, and boxes whose object the verifier "
        "does not confirm.",
    )
    p.add_argument("input", help="input dataset folder")
    _common(p, "output dataset folder")
    _verifier_option(p)
    p.set_defaults(func=lambda a: _run(_filter, a))

    p = sub.add_parser(
        "check",
        help="reasoning/evidence/answer consistency, balanced tags, near-duplicates",
        description="Reject records whose grounded claims miss the annotated key frames, objects or "
        "boxes, whose answer disagrees with the evidence or the stated option, with unbalanced tags, "
        "or that repeat a question of the same video.",
    )
    p.add_argument("input", help="input dataset folder")
    _common(p, "output dataset folder")
    p.set_defaults(func=lambda a: _run(_check, a))

    p = sub.add_parser(
        "validate",
        help="Great Expectations gate on a dataset (exit 1 when it fails)",
        description="Validate a dataset folder with the GX suite for one boundary; prints the failed "
        "expectations and writes gate_<suite>.html (Data Docs) and gate_<suite>.json.",
    )
    p.add_argument("input", help="dataset folder")
    p.add_argument("--suite", required=True, choices=["raw", "filtered", "consistent"])
    p.add_argument("--out", default=None, help="where the Data Docs page goes (default: INPUT/gates/SUITE)")
    p.add_argument("--config", default=None, help=_CONFIG_HELP)
    p.set_defaults(func=lambda a: _run(_validate, a))

    p = sub.add_parser(
        "curate",
        help="annotate -> gate -> filter -> gate -> check -> gate",
        description="Run the whole curation on a synth world (synthetic teacher, oracle verifier by "
        "default) or a manifest; exits 1 at the first failing gate.",
    )
    p.add_argument("--source", required=True, help="synth folder, manifest .jsonl or upstream STGR file")
    _common(p, "output folder (annotate/, filter/, check/, gates/, curate.json)")
    _teacher_option(p)
    _verifier_option(p)
    p.set_defaults(func=lambda a: _run(_curate, a))

    p = sub.add_parser(
        "curate-report",
        help="per-stage counts and per-fault precision/recall of a curate run",
        description="Summarize OUT of `o3v curate`: kept/rejected per stage and, when the source was a "
        "synth world with fault labels, precision and recall per fault type.",
    )
    p.add_argument("out_dir", metavar="OUT", help="output folder of `o3v curate`")
    p.add_argument("--json", action="store_true", help='print {"counts": ..., "per_fault": ...} as JSON')
    p.set_defaults(func=lambda a: _run(_report, a))
