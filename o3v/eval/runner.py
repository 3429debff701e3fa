"""Run a model on a benchmark: batched generation, resumable per-sample predictions, scores, baselines.

    from o3v.eval.runner import evaluate
    result = evaluate("out/tiny", "vstar", "V_STaR_test.json", "videos/", "out/eval/vstar", "tiny-cpu")

`evaluate` is the stage function the KFP eval component calls (docs/architecture.md). It writes into `out_dir`:

- `predictions.jsonl`: one row per sample **in the benchmark's own convention**, appended (and flushed) as soon
  as the sample is done; a rerun skips the samples already there, so a crash loses at most one batch;
- `rejects.jsonl`: annotation rows that do not fit the format and samples whose media is missing or unreadable,
  each with its reason (they are not scored and are counted in `n_rejected`);
- `judge.jsonl` (V-STaR): every raw judge reply with the judge's identity; reruns reuse it;
- `results.json` (V-STaR): the official result file, with `judge_score`, for the official scorer;
- `predictions_blind.jsonl` (synthetic): the blind-frame ablation, each sample asked with another clip's frames;
- `metrics.json`: scores, constant baselines, the ablation, the resolved config and frame-cache statistics.

Frames are decoded once per (video, sampling) through a `FrameCache` that several benchmarks can share.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from o3v.eval.benchmarks import get
from o3v.eval.benchmarks.base import Media, Sample, match_rows, messages_for
from o3v.eval.config import EvalConfig, load_config, to_dict
from o3v.eval.frames import FrameCache, Frames, MediaNotFound, MediaResolver, to_pil
from o3v.eval.voting import evidence_crops, rating_messages, relevance_weight, vote
from o3v.records import write_jsonl

log = logging.getLogger(__name__)
LETTERS = "ABCDEFGHIJ"


@dataclass
class ModelHandle:
    """A loaded model with its processor and the name it was loaded from."""

    model: Any
    processor: Any
    name: str


def load_handle(model: str | Path | tuple | ModelHandle, cfg: EvalConfig) -> ModelHandle:
    """Load `model` (a folder or hub id) through `o3v.model.load_model`, or wrap an already loaded pair.

    A handle whose `model` is an `o3v.eval.served.ServedModel` generates over HTTP (`--backend openai`).
    """
    if isinstance(model, ModelHandle):
        return model
    if isinstance(model, tuple):
        m, p = model
        return ModelHandle(m, p, str(getattr(m, "name_or_path", "") or "in-memory model"))
    from o3v.model import load_model

    m, p = load_model(model, dtype=cfg.dtype, device=cfg.device)
    return ModelHandle(m, p, str(model))


# ----------------------------------------------------------------------------- predictions file


def read_predictions(path: Path) -> list[dict]:
    """Rows of a predictions file; a torn last line (a crash mid-write) is dropped and the file repaired."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1:
                log.warning("%s: dropping a torn last line (an interrupted write): %.80s", path, line)
                write_jsonl(path, rows)
                break
            raise ValueError(f"{path}: line {i + 1} is not JSON ({exc.msg}); refusing to resume over it") from exc
    return rows


# ----------------------------------------------------------------------------- inference


@dataclass
class Job:
    sample: Sample
    media: Media
    frames: Frames
    queries: list


def _media(
    sample: Sample, source: Sample, handle: ModelHandle, cache: FrameCache, resolver: MediaResolver, cfg: EvalConfig
) -> tuple[Media, Frames]:
    """Frames of `source`'s media (the sample itself, or another clip for the blind-frame ablation)."""
    from o3v.model import model_input_size

    if source.video:
        frames = cache.get(resolver.resolve(source.video), cfg.frames)
    elif source.image:
        frames = cache.get(resolver.resolve(source.image), None)
    else:
        raise MediaNotFound(f"sample {sample.id}: names neither a video nor an image")
    size = model_input_size(handle.processor, frames.width, frames.height)
    return Media(frames.times, frames.duration, (frames.width, frames.height), size), frames


def _images(job: Job, query: Any) -> list:
    return to_pil(job.frames) + list(query.extra_images)


def generate_texts(
    handle: ModelHandle, convs: list, images: list, max_new_tokens: int, cfg: EvalConfig, **kwargs: Any
) -> list[str]:
    """Completions from the in-process model, or over HTTP when the handle holds a served model (`o3v.eval.served`)."""
    from o3v.eval.served import ServedModel

    if isinstance(handle.model, ServedModel):
        return handle.model.generate(convs, images, max_new_tokens=max_new_tokens, **kwargs)
    from o3v.model import generate

    return generate(handle.model, handle.processor, convs, images, max_new_tokens=max_new_tokens, **kwargs)


def _greedy(handle: ModelHandle, calls: list[tuple[Job, Any]], cfg: EvalConfig) -> list[str]:
    """One completion per (job, query), generated in batches of `cfg.batch_size` with equal token budgets."""
    out: list[str | None] = [None] * len(calls)
    by_budget: dict[int, list[int]] = {}
    for i, (_, q) in enumerate(calls):
        by_budget.setdefault(q.max_new_tokens or cfg.max_new_tokens, []).append(i)
    for budget, idxs in by_budget.items():
        for start in range(0, len(idxs), cfg.batch_size):
            part = idxs[start : start + cfg.batch_size]
            convs = [messages_for(calls[i][1], calls[i][0].media) for i in part]
            imgs = [_images(*calls[i]) for i in part]
            texts = generate_texts(handle, convs, imgs, budget, cfg, temperature=cfg.temperature)
            for i, text in zip(part, texts):
                out[i] = text
    return [t or "" for t in out]


def _voted(handle: ModelHandle, adapter: Any, job: Job, query: Any, cfg: EvalConfig) -> tuple[str, dict]:
    """N sampled answers, weighted (majority or confidence-aware) and voted; returns (chosen text, vote record)."""
    v = cfg.voting
    texts = generate_texts(
        handle,
        messages_for(query, job.media),
        _images(job, query),
        query.max_new_tokens or cfg.max_new_tokens,
        cfg,
        temperature=v.temperature,
        top_p=v.top_p,
        num_return_sequences=v.n,
        seed=v.seed + job.sample.index,
    )
    mode = [cfg.parse_mode] if cfg.parse_mode else []
    letters = [adapter.answer_letter(job.sample, t, *mode) for t in texts]
    order = LETTERS[: len(query.options or LETTERS)]
    ratings: list[str | None] = [None] * len(texts)
    weights = [1.0 if letter else 0.0 for letter in letters]
    if v.method == "confidence":
        for i, (text, letter) in enumerate(zip(texts, letters)):
            if not letter:
                continue
            crops = evidence_crops(text, list(job.frames.array), job.frames.times or [0.0], job.media.input_size)
            if crops:
                ratings[i] = generate_texts(
                    handle, rating_messages(query.question, query.options, len(crops)), crops, 4, cfg, temperature=0.0
                )[0]
            weights[i] = relevance_weight(ratings[i])
    winner, totals = vote(letters, weights, order)
    chosen = next((t for t, letter in zip(texts, letters) if winner and letter == winner), texts[0])
    record = {
        "method": v.method,
        "n": v.n,
        "temperature": v.temperature,
        "letters": [x or "" for x in letters],
        "weights": weights,
        "ratings": ratings,
        "totals": totals,
        "letter": winner or "",
        "samples": texts,
    }
    return chosen, record


def infer(
    handle: ModelHandle,
    adapter: Any,
    samples: list[Sample],
    out_path: Path,
    cfg: EvalConfig,
    cache: FrameCache,
    resolver: MediaResolver,
    rejects: list[dict],
    *,
    swap: dict[str, Sample] | None = None,
    desc: str = "",
) -> dict[str, float]:
    """Predict every sample, appending one row per sample to `out_path`; returns {sample id: media duration}."""
    from tqdm.auto import tqdm

    durations: dict[str, float] = {}
    voting = cfg.voting.method != "none" and cfg.voting.n > 1
    with out_path.open("a", encoding="utf-8") as f, tqdm(total=len(samples), desc=desc, unit="sample") as bar:
        for start in range(0, len(samples), cfg.batch_size):
            jobs = []
            for s in samples[start : start + cfg.batch_size]:
                try:
                    media, frames = _media(s, (swap or {}).get(s.id, s), handle, cache, resolver, cfg)
                except (MediaNotFound, ValueError, OSError) as exc:  # VideoError is a ValueError naming the file
                    log.warning("%s: sample %s rejected: %s", desc, s.id, exc)
                    rejects.append({"index": s.index, "id": s.id, "stage": "media", "reason": str(exc)})
                    continue
                if media.duration is not None:
                    durations[s.id] = media.duration
                jobs.append(Job(s, media, frames, adapter.queries(s, media)))
            calls = [(j, q) for j in jobs for q in j.queries if not (voting and q.vote)]
            texts = iter(_greedy(handle, calls, cfg))
            for job in jobs:
                outputs, vote_record = {}, None
                for q in job.queries:
                    if voting and q.vote:
                        outputs[q.key], vote_record = _voted(handle, adapter, job, q, cfg)
                    else:
                        outputs[q.key] = next(texts)
                row = adapter.predict(job.sample, outputs, job.media)
                if swap:
                    row["blind_frames_from"] = swap[job.sample.id].id
                if vote_record:
                    row["vote"] = vote_record
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
            bar.update(min(cfg.batch_size, len(samples) - start))
    return durations


# ----------------------------------------------------------------------------- evaluate


def _durations(samples: list[Sample], resolver: MediaResolver) -> dict[str, float]:
    """Video durations from the file headers (for the span baselines of samples that were not decoded)."""
    from o3v.video import probe

    out = {}
    for s in samples:
        if s.video:
            try:
                out[s.id] = probe(resolver.resolve(s.video)).duration
            except (MediaNotFound, ValueError, OSError) as exc:
                log.warning("sample %s: no duration for the baselines: %s", s.id, exc)
    return out


def _relative(path: str | Path, root: str | Path) -> str | None:
    """`path` relative to `root` when it lies inside it, else None."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return None


def _blind_pairs(samples: list[Sample]) -> dict[str, Sample]:
    """Each sample paired with the next one (cyclically) whose video/image differs: its frames replace the own."""
    out = {}
    for i, s in enumerate(samples):
        for k in range(1, len(samples)):
            other = samples[(i + k) % len(samples)]
            if (other.video or other.image) != (s.video or s.image) and bool(other.video) == bool(s.video):
                out[s.id] = other
                break
    return out


def _predicted(
    samples: list[Sample], path: Path, id_field: str, universe: list[Sample] | None = None
) -> tuple[list[Sample], list[dict]]:
    """The samples of `samples` already in the predictions file, and their rows.

    Rows are matched against `universe` (all samples of the annotation file): a row of a sample outside this
    run's `--limit` is kept and ignored, a row naming no sample at all is an error (another file's predictions).
    """
    by_id = match_rows(universe or samples, read_predictions(path), id_field, path)
    done = [s for s in samples if s.id in by_id]
    return done, [by_id[s.id] for s in done]


def _judged(
    adapter: Any, rows: list[dict], cfg: EvalConfig, out: Path, results: str = "results.json"
) -> tuple[list[dict], dict | None]:
    """Rows rated by the configured judge (and `results.json`) for adapters with a judged dimension (V-STaR).

    Returns the rows and the judge's identity (None, rows unchanged, for adapters without a judge).
    """
    if not hasattr(adapter, "judge_rows"):
        return rows, None
    from o3v.eval.judge import make_judge

    judge = make_judge(cfg.judge, out / "judge.jsonl")
    rows = adapter.judge_rows(rows, judge)
    (out / results).write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return rows, judge.identity()


def evaluate(
    model: str | Path | tuple | ModelHandle,
    benchmark: str,
    annotations: str | Path,
    media_root: str | Path | None,
    out_dir: str | Path,
    config: str | Path | dict | EvalConfig | None = None,
    *,
    limit: int | None = None,
    frame_cache: FrameCache | None = None,
) -> dict:
    """Evaluate `model` on one benchmark file; writes the files listed in the module docstring; returns metrics."""
    cfg = load_config(config).for_benchmark(benchmark)
    if limit is not None:
        cfg.limit = limit
    adapter = get(benchmark)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded = adapter.load(annotations)
    root = media_root or getattr(adapter, "media_root", lambda _: None)(annotations) or Path(annotations).parent
    samples = loaded.samples[: cfg.limit] if cfg.limit else loaded.samples
    rejects = [{**r.to_json(), "stage": "load"} for r in loaded.rejects]
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    handle = load_handle(model, cfg)
    from o3v.model import set_pixel_budget

    set_pixel_budget(handle.processor, cfg.min_pixels, cfg.max_pixels)
    cache = frame_cache or FrameCache(cfg.frame_cache_bytes, cfg.frame_cache_dir)
    resolver = MediaResolver(root)
    pred_path = out / "predictions.jsonl"
    done, _ = _predicted(samples, pred_path, adapter.ID_FIELD, loaded.samples)
    done_ids = {s.id for s in done}
    todo = [s for s in samples if s.id not in done_ids]
    if done:
        log.info(
            "%s: resuming, %d of %d samples already predicted in %s", benchmark, len(done), len(samples), pred_path
        )
    t0 = time.perf_counter()
    durations = infer(handle, adapter, todo, pred_path, cfg, cache, resolver, rejects, desc=benchmark)
    t_infer = time.perf_counter() - t0
    scored, rows = _predicted(samples, pred_path, adapter.ID_FIELD, loaded.samples)
    durations.update(_durations([s for s in loaded.samples if s.id not in durations], resolver))
    rows, judge_label = _judged(adapter, rows, cfg, out)
    t1 = time.perf_counter()
    metrics = adapter.score(scored, rows, file=str(pred_path), parse_mode=cfg.parse_mode)
    t_score = time.perf_counter() - t1
    result = {
        "benchmark": benchmark,
        "model": handle.name,
        "annotations": str(annotations),
        "media_root": str(root),
        # lets the report find the file again when the results move to another machine or pod
        "annotations_rel": _relative(annotations, root),
        "n_samples": len(samples),
        "n_scored": len(scored),
        "n_rejected": len(rejects),
        "metrics": metrics,
        # Constants are fit and scored on the whole annotation file (not only the --limit subset): a constant
        # tuned on 2 samples would be an oracle, not a baseline.
        "baselines": adapter.baselines(loaded.samples, durations=durations),
        "baselines_n": len(loaded.samples),
        "blind_frame": None,
        "judge": judge_label,
        "config": to_dict(cfg),
        "frame_cache": cache.stats.to_json(),
        "timing": {"inference_s": round(t_infer, 3), "scoring_s": round(t_score, 3)},
    }
    if cfg.blind_ablation and getattr(adapter, "BLIND_ABLATION", True) and scored:
        result["blind_frame"] = _blind(
            handle, adapter, scored, out, cfg, cache, resolver, rejects, benchmark, loaded.samples
        )
    write_jsonl(out / "rejects.jsonl", rejects)
    (out / "metrics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    log.info("%s: %d scored, %d rejected -> %s", benchmark, len(scored), len(rejects), out / "metrics.json")
    return result


def _blind(
    handle: ModelHandle,
    adapter: Any,
    samples: list[Sample],
    out: Path,
    cfg: EvalConfig,
    cache: FrameCache,
    resolver: MediaResolver,
    rejects: list[dict],
    benchmark: str,
    universe: list[Sample],
) -> dict | None:
    """Every sample asked again with another clip's frames, scored against its own ground truth.

    Pairs are drawn over the whole annotation file, so they do not change with `--limit` and a resumed
    ablation stays consistent; each row records the sample whose frames it was shown (`blind_frames_from`).
    """
    pairs = _blind_pairs(universe)
    if not pairs:
        log.warning("%s: blind-frame ablation skipped: every sample shares one video", benchmark)
        return None
    paired = [s for s in samples if s.id in pairs]
    path = out / "predictions_blind.jsonl"
    done, _ = _predicted(paired, path, adapter.ID_FIELD, universe)
    done_ids = {s.id for s in done}
    infer(
        handle,
        adapter,
        [s for s in paired if s.id not in done_ids],
        path,
        cfg,
        cache,
        resolver,
        rejects,
        swap=pairs,
        desc=f"{benchmark} (blind frames)",
    )
    scored, rows = _predicted(paired, path, adapter.ID_FIELD, universe)
    rows, _ = _judged(adapter, rows, cfg, out, "results_blind.json")
    return {
        "metrics": adapter.score(scored, rows, file=str(path), parse_mode=cfg.parse_mode),
        "n": len(scored),
        "pairs": {s.id: pairs[s.id].id for s in scored},
    }
