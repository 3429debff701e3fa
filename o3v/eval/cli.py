"""`o3v` subcommands of the eval area (argument definitions only; work is imported lazily).

    o3v eval score --benchmark tvgbench --annotations tvgbench.json --predictions preds.jsonl --out metrics.json
    o3v eval run --model out/tiny --benchmark vstar tvgbench --annotations V_STaR_test.json tvgbench.json \
        --media-root out/synth/videos --out out/eval --config tiny-cpu --limit 4 --report
    o3v eval report out/eval/vstar out/eval/tvgbench --out out/eval/report
    o3v eval unseen --model out/model --seed 31337 --out out/unseen     # a world no run used; the issue-10 bar
    o3v infer --model out/tiny --video clip.mp4 --question "Where is the red circle?" --image answer.png
    o3v infer --model out/tiny --video out/synth/videos/vid_015.mp4 --question "When is the red square visible?" \
        --task "temporal QA" --html answer.html
"""

from __future__ import annotations

import argparse
import json
import sys

from o3v.eval.benchmarks import NAMES as BENCHMARKS  # a tuple of names; importing it loads no adapter


def _score(args: argparse.Namespace) -> int:
    from o3v.eval.benchmarks import get
    from o3v.eval.benchmarks.base import BenchmarkError, read_rows

    adapter = get(args.benchmark)
    try:
        samples = adapter.load(args.annotations).strict()
        rows = read_rows(args.predictions)
        if args.judge and hasattr(adapter, "judge_rows"):
            from o3v.eval.judge import JudgeConfig, make_judge

            cfg = JudgeConfig(
                backend=args.judge,
                model=args.judge_model or "",
                revision=args.judge_revision or "",
                base_url=args.judge_url or "",
            )
            cache = (args.out + ".judge.jsonl") if args.out else str(args.predictions) + ".judge.jsonl"
            rows = adapter.judge_rows(rows, make_judge(cfg, cache))
        elif args.judge:
            print(f"error: --judge applies to vstar only, not {args.benchmark}", file=sys.stderr)
            return 2
        metrics = adapter.score(samples, rows, file=str(args.predictions), parse_mode=args.parse_mode)
    except (BenchmarkError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(metrics, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        from pathlib import Path

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


def _overrides(pairs: list[str]) -> dict:
    """`key.sub=value` pairs (values parsed as YAML) -> a nested dict."""
    import yaml

    out: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"error: --set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = yaml.safe_load(value)
    return out


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from o3v.eval.config import ConfigError, load_config
    from o3v.eval.frames import FrameCache
    from o3v.eval.runner import evaluate, load_handle

    if len(args.annotations) != len(args.benchmark):
        print("error: give one --annotations file per --benchmark, in the same order", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config, _overrides(args.set))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.backend == "openai":
        if not args.base_url:
            print("error: --backend openai needs --base-url (the server's OpenAI-compatible /v1 URL)", file=sys.stderr)
            return 2
        from o3v.eval.runner import ModelHandle
        from o3v.eval.served import load_served

        served, processor = load_served(
            args.base_url, args.model, processor=args.processor, api_key_env=args.api_key_env,
            concurrency=cfg.batch_size,
        )  # fmt: skip
        handle = ModelHandle(served, processor, served.name)
    else:
        if args.base_url or args.processor:
            print("error: --base-url and --processor apply to --backend openai only", file=sys.stderr)
            return 2
        handle = load_handle(args.model, cfg)
    cache = FrameCache(cfg.frame_cache_bytes, cfg.frame_cache_dir)  # shared: frames decoded once across benchmarks
    dirs = []
    for name, ann in zip(args.benchmark, args.annotations):
        out = Path(args.out) / name
        result = evaluate(handle, name, ann, args.media_root, out, cfg, limit=args.limit, frame_cache=cache)
        dirs.append(out)
        print(
            json.dumps(
                {
                    "benchmark": name,
                    "out": str(out),
                    "n_scored": result["n_scored"],
                    "n_rejected": result["n_rejected"],
                }
            )
        )
    if args.report:
        from o3v.eval.report import build_report

        rep = build_report(dirs, Path(args.out) / "report")
        print(json.dumps({"report": rep["html"]}))
    return 0


def _unseen(args: argparse.Namespace) -> int:
    from o3v.eval.config import ConfigError
    from o3v.eval.unseen import lines, run_unseen
    from o3v.model import ModelLoadError

    try:
        result = run_unseen(
            args.model, args.out, args.seed, videos=args.videos, config=args.config, limit=args.limit or None
        )
    except (ConfigError, ModelLoadError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines(result)))
    print(json.dumps({"verdict": str(args.out) + "/unseen.json", "passed": result["passed"]}))
    return 0 if result["passed"] else 1


def _report(args: argparse.Namespace) -> int:
    from o3v.eval.report import build_report

    rep = build_report(args.results, args.out, title=args.title, gallery_size=args.gallery)
    print(json.dumps({"html": rep["html"], "metrics": rep["metrics"]}))
    return 0


def _infer(args: argparse.Namespace) -> int:
    from pathlib import Path

    from o3v.eval.config import ConfigError
    from o3v.eval.infer import infer
    from o3v.eval.truth import TruthError
    from o3v.prompts import SYSTEM_PROMPTS

    if not Path(args.video).is_file():
        print(f"error: --video {args.video}: no such file", file=sys.stderr)
        return 2
    if args.task not in SYSTEM_PROMPTS:
        print(f"error: --task {args.task!r}: expected one of {sorted(SYSTEM_PROMPTS)}", file=sys.stderr)
        return 2
    try:
        result = infer(
            args.model,
            args.video,
            args.question,
            task=args.task,
            options=args.options,
            config=args.config,
            image_out=args.image,
            world=args.world,
            html_out=args.html,
        )
    except (TruthError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's subcommands to the `o3v` parser."""
    ev = sub.add_parser(
        "eval",
        help="evaluate on benchmarks: score, run, report, unseen",
        description="Benchmark evaluation: score prediction files exactly as published, run a "
        "model on benchmark files, build the HTML report, check generalisation on an unseen synthetic world.",
    )
    evsub = ev.add_subparsers(dest="eval_command", metavar="COMMAND")

    p = evsub.add_parser(
        "score",
        help="score a predictions file against official annotations",
        description="Print (and write with --out) the metrics as fractions. V-STaR: P is the "
        "official result format (annotation fields + answer_vqa, answer_temporal, answer_spatial, "
        "answer_temporal_2, answer_spatial_2, optionally judge_score 0-3). TVGBench: P is JSONL "
        '{"index": i, "prediction": text}. MCQ benchmarks: JSONL rows with the benchmark\'s id '
        '(or "index") and "prediction".',
    )
    p.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    p.add_argument("--annotations", required=True, help="the benchmark's official annotation file")
    p.add_argument("--predictions", required=True, help="predictions in the benchmark's own convention")
    p.add_argument("--out", help="write the metrics JSON here too")
    p.add_argument(
        "--judge",
        choices=("exact", "openai", "transformers"),
        help="V-STaR: rate answer_vqa rows lacking judge_score with this judge backend",
    )
    p.add_argument("--judge-model", help="judge model id or folder (openai / transformers backends)")
    p.add_argument("--judge-revision", help="judge model revision, recorded with every score")
    p.add_argument("--judge-url", help="OpenAI-compatible base URL (openai backend)")
    p.add_argument("--parse-mode", choices=("strict", "mmmu"), help="MCQ letter parsing (default: the benchmark's)")
    p.set_defaults(func=_score)

    p = evsub.add_parser(
        "run",
        help="run a model on benchmark files and score it",
        description="Batched generation, resumable predictions.jsonl, metrics.json with constant "
        "baselines; frames decoded once and shared across the benchmarks of one run.",
    )
    p.add_argument("--model", required=True, help="model folder or hub id (--backend openai: the served model name)")
    p.add_argument(
        "--backend",
        choices=("transformers", "openai"),
        default="transformers",
        help="transformers: load the model in this process; openai: query a served model (vLLM, SGLang, "
        "transformers serve) at --base-url",
    )
    p.add_argument("--base-url", help="--backend openai: the server's OpenAI-compatible URL, e.g. http://host:8000/v1")
    p.add_argument(
        "--processor",
        help="--backend openai: the model's folder or hub id for its processor (default: --model); the eval "
        "config's min_pixels/max_pixels must be the server's",
    )
    p.add_argument(
        "--api-key-env",
        help="--backend openai: environment variable holding the API key (default: none, keyless endpoint)",
    )
    p.add_argument("--benchmark", required=True, nargs="+", choices=BENCHMARKS)
    p.add_argument("--annotations", required=True, nargs="+", help="one annotation file per --benchmark")
    p.add_argument("--media-root", help="folder holding the videos/images (default: next to the annotations)")
    p.add_argument("--out", required=True, help="results go to OUT/<benchmark>/")
    p.add_argument("--config", default="tiny-cpu", help="eval config name in o3v/configs/eval or a YAML path")
    p.add_argument("--limit", type=int, help="only the first N samples of each benchmark")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override, e.g. voting.n=4")
    p.add_argument("--report", action="store_true", help="also write OUT/report/report.html")
    p.set_defaults(func=_run)

    p = evsub.add_parser(
        "report",
        help="HTML report from eval result folders",
        description="One self-contained HTML page (tables beside the paper and constant baselines, "
        "blind-frame ablation, evidence gallery) plus a combined metrics.json.",
    )
    p.add_argument("results", nargs="+", help="folders written by `o3v eval run` (one per benchmark)")
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="o3v evaluation report")
    p.add_argument("--gallery", type=int, help="evidence items per benchmark (default: the run's config)")
    p.set_defaults(func=_report)

    p = evsub.add_parser(
        "unseen",
        help="held-out generalisation: a world from a new seed, V-STaR + TVGBench, the issue-10 bar",
        description="Generate a synthetic world with --seed (pick one the model's training never used), "
        "evaluate the model on its V-STaR- and TVGBench-format files (constants and blind run included) and "
        "check: mean tIoU over both V-STaR chains >= best constant span + 0.10, mean vIoU >= 2x the mean box. "
        "Writes OUT/world, OUT/vstar, OUT/tvgbench and OUT/unseen.json. Exit 0 when both checks pass, 1 when "
        "one fails, 2 on bad input.",
    )
    p.add_argument("--model", required=True, help="model folder (e.g. fetched with o3v artifacts fetch o3v-model)")
    p.add_argument("--seed", required=True, type=int, help="world seed the model never saw (the default run uses 0)")
    p.add_argument("--out", required=True)
    p.add_argument("--videos", type=int, default=680, help="videos in the world; a quarter are benchmark videos")
    p.add_argument("--config", default="tiny-cpu", help="eval config name in o3v/configs/eval or a YAML path")
    p.add_argument("--limit", type=int, default=200, help="samples per benchmark (0: all)")
    p.set_defaults(func=_unseen)

    ev.set_defaults(func=lambda a: (ev.print_help(), 0)[1])

    p = sub.add_parser(
        "infer",
        help="answer one question about one video, with evidence and a confidence",
        description="Prints JSON: answer, evidence (times and boxes in original-video pixels), a "
        "confidence (the model's own relevance rating of its cropped evidence), the raw output, and 'truth' "
        "(tIoU and box IoUs against the world's ground truth) when the video belongs to a synthetic world. "
        "--video may also be a still image (visual QA).",
    )
    p.add_argument("--model", required=True, help="model folder or hub id")
    p.add_argument("--video", required=True)
    p.add_argument("--question", required=True)
    p.add_argument(
        "--task",
        default="temporal-spatial free-form QA",
        help="o3v task whose system prompt is used (default: grounded free-form QA)",
    )
    p.add_argument("--options", nargs="+", help="MCQ options, e.g. 'A. red' 'B. blue'")
    p.add_argument("--config", default="tiny-cpu", help="eval config (frames, pixels, max_new_tokens)")
    p.add_argument("--image", help="write an annotated PNG (frames with the evidence boxes, answer span)")
    p.add_argument(
        "--world",
        help="synthetic world.json to score against (default: a world.json next to or up to 3 folders above "
        "the video); the output's 'truth' then holds tIoU and per-box IoU against the exact ground truth",
    )
    p.add_argument(
        "--html",
        metavar="OUT.html",
        help="write a self-contained evidence page: frames with predicted and true boxes, and a span timeline",
    )
    p.set_defaults(func=_infer)
