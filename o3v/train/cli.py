"""`o3v` subcommands of the train area: `sft`, `gspo`, `reward` (argument definitions only; work is imported lazily).

o3v sft  --data DATASET_DIR --out OUT --config tiny-cpu --base-model MODEL_DIR [--set max_steps=40] [--resume]
o3v gspo --data DATASET_DIR --out OUT --config tiny-cpu --base-model SFT_DIR [--set max_steps=60] [--resume]
o3v reward --records STGR-RL.json --completions C.jsonl --frame-size 420 224 [--progress 0.5] [--gate upstream]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys


def _overrides(args: argparse.Namespace) -> dict:
    """`--overrides JSON` then each `--set key=value` (value parsed as YAML: `3`, `1e-5`, `true`, `[a, b]`)."""
    import yaml

    out = dict(json.loads(args.overrides)) if args.overrides else {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _input_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input (config, data, checkpoints, model path): one clear line, no traceback."""
    from o3v.model import ModelLoadError
    from o3v.records import RecordError
    from o3v.train.config import ConfigError
    from o3v.train.data import TrainDataError
    from o3v.train.runner import ResumeError

    return ConfigError, TrainDataError, ResumeError, ModelLoadError, RecordError


def _train(args: argparse.Namespace) -> int:
    import importlib

    stage = importlib.import_module(f"o3v.train.{args.command}")
    try:
        # the trainer's own prints (progress-bar log dicts) go to stderr: stdout carries only the result JSON
        with contextlib.redirect_stdout(sys.stderr):
            result = stage.run(
                data_dir=args.data,
                out_dir=args.out,
                config=args.config,
                overrides=_overrides(args),
                base_model=args.base_model,
                resume=args.resume,
            )
    except _input_errors() as exc:
        print(f"o3v {args.command}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0


def _trainjob(args: argparse.Namespace) -> int:
    """`o3v trainjob <stage> ...`: run `o3v <stage>` as a Kubeflow Trainer TrainJob, or print the object."""
    import yaml

    from o3v.train import trainjob
    from o3v.train.trainer_schema import validate

    try:
        launch = trainjob.Launch(
            stage=args.stage, data_dir=args.data, out_dir=args.out, config=args.config, overrides=_overrides(args),
            base_model=args.base_model, resume=args.resume, num_nodes=args.num_nodes, gpus_per_node=args.gpus_per_node,
            image=args.image, runtime=args.runtime, namespace=args.namespace,
        )  # fmt: skip
        if args.dry_run:
            obj = trainjob.render(launch)
            sys.stdout.write(yaml.safe_dump(obj, sort_keys=False))
            errors = validate(obj)
            for error in errors:
                print(f"o3v trainjob: schema error: {error}", file=sys.stderr)
            return 1 if errors else 0
        result = trainjob.run_trainjob(launch, "local" if args.local else "kubernetes")
    except ValueError as exc:
        print(f"o3v trainjob: error: {exc}", file=sys.stderr)
        return 2
    except trainjob.TrainJobError as exc:
        print(f"o3v trainjob: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


def _reward(args: argparse.Namespace) -> int:
    from o3v.records import RecordError
    from o3v.rewards.audit import score_file

    try:
        for row in score_file(args.records, args.completions, tuple(args.frame_size), args.progress, args.gate):
            sys.stdout.write(json.dumps(row, allow_nan=False) + "\n")
    except (RecordError, ValueError) as exc:
        print(f"o3v reward: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _add_train_args(p: argparse.ArgumentParser, stage: str) -> None:
    p.add_argument("--data", required=True, help="dataset directory (records.jsonl + dataset.json)")
    p.add_argument("--out", required=True, help="output model folder (checkpoints go to OUT/checkpoints)")
    p.add_argument(
        "--config",
        default="tiny-cpu",
        help=f"config name under o3v/configs/train/{stage}/ (tiny-cpu, qwen2.5-vl-7b, qwen3-vl-8b) or a YAML path",
    )
    p.add_argument("--base-model", default=None, help="model folder or hub id (default: the config's base_model)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config field (repeatable)")
    p.add_argument("--overrides", default=None, help="config overrides as a JSON object (applied before --set)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT/checkpoints")
    p.set_defaults(func=_train)


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's subcommands to the `o3v` parser."""
    p = sub.add_parser(
        "sft",
        help="supervised cold start (trl SFTTrainer) on a curated STGR dataset",
        description="SFT on STGR-CoT records through the shared prompt builder: frames as images with their times, "
        "key frames inserted, boxes in model-input pixels, loss on completion tokens only. Writes a model folder "
        "(safetensors + processor + model_card.md + metrics.json + curves).",
    )
    _add_train_args(p, "sft")
    p = sub.add_parser(
        "gspo",
        help="GSPO (trl GRPOTrainer, sequence-level ratios) with the grounded rewards",
        description="GSPO on STGR-RL records with the grounded rewards (o3v.rewards). Start from the SFT output. "
        "Config preset `gspo` (default) is real off-policy GSPO; `upstream` reproduces the reference's on-policy run.",
    )
    _add_train_args(p, "gspo")
    p = sub.add_parser(
        "trainjob",
        help="run SFT or GSPO as a Kubeflow Trainer TrainJob (multi-node; --local: this machine)",
        description="Submit `torchrun -m o3v.train.<stage>` with these arguments as a TrainJob through the Kubeflow "
        "SDK (TrainerClient) against the o3v-torch ClusterTrainingRuntime, stream node 0's log and wait. --local runs "
        "one node through the SDK's local process backend; --dry-run prints the TrainJob the SDK would submit.",
    )
    p.add_argument("stage", choices=("sft", "gspo"), help="training stage")
    _add_train_args(p, "sft|gspo")
    p.add_argument("--num-nodes", type=int, default=1, help="training nodes (default 1)")
    p.add_argument("--gpus-per-node", type=int, default=8, help="GPUs per node (default 8)")
    p.add_argument("--image", default=None, help="trainer image (default: the runtime's)")
    p.add_argument("--runtime", default="o3v-torch", help="ClusterTrainingRuntime name (default o3v-torch)")
    p.add_argument("--namespace", default="kubeflow", help="namespace of the TrainJob (default kubeflow)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--local", action="store_true", help="one node on this machine (SDK local process backend)")
    mode.add_argument("--dry-run", action="store_true", help="print the TrainJob (schema-checked); submit nothing")
    p.set_defaults(func=_trainjob)
    p = sub.add_parser(
        "reward",
        help="score completions with the grounded rewards (audit)",
        description="Print one JSON line per completion: {index, rewards: {term: value}, total}. Only the terms "
        "that apply to the record's task are listed (open-o3-video.md §9.6).",
    )
    p.add_argument("--records", required=True, help="STGR-RL JSON list or JSONL")
    p.add_argument("--completions", required=True, help='JSONL of {"index": i, "completion": text}')
    p.add_argument(
        "--frame-size",
        nargs=2,
        type=int,
        required=True,
        metavar=("W", "H"),
        help="model-input frame size the completion boxes are in",
    )
    p.add_argument(
        "--progress",
        type=float,
        default=1.0,
        metavar="P",
        help="training progress in [0,1] for the temporal-proximity sigma (default 1.0: sigma = 1 s)",
    )
    p.add_argument("--gate", choices=("two-sided", "upstream"), default="two-sided", help="temporal gate")
    p.set_defaults(func=_reward)
