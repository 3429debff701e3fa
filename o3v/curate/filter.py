"""Filter stage (`o3v filter IN --out OUT`): box and time rules, then category verification.

Rules (reason codes are stable; `o3v curate-report` maps them to fault types):

- every annotated box (key_items, the visual-QA answer box, and every claim box in the reasoning) must be
  usable: `box_inverted`, `box_zero_area`, `box_out_of_frame`, `box_non_finite` (`o3v.geometry.box_problem`),
  and cover at most `filter.max_box_area` of the frame: `box_oversized` (upstream drops boxes > 80%);
  claim boxes in the reasoning get the same codes prefixed `claim_`;
- times must lie inside the video: `time_outside_video` (key frames), `claim_time_outside_video`,
  `answer_span_outside_video`, `answer_span_inverted`; key_items must be keyed by an annotated key frame:
  `key_items_unknown_frame`; records need the pre-flight `media_meta` that `annotate` adds: `media_meta_missing`;
- category verification (`o3v.curate.verify`): each box at its key frame must show the object it is named
  after: `category_mismatch` (the verifier said no) or `category_unclear` (no yes/no answer, by default a reject).

A record with any problem is rejected as a whole (dataset.py explains why the unit is the record): its
reasoning cites the box, so dropping only the box would leave an ungrounded claim behind.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from o3v.curate.config import ConfigError, CurateConfig, FilterConfig, load_config
from o3v.curate.dataset import MEDIA_META, DatasetIn, Problem, StageOutput, open_dataset, problems_reject
from o3v.curate.verify import ModelVerifier, NoVerifier, verify_records
from o3v.geometry import area_fraction, box_problem
from o3v.grounded import Claim, parse_claims
from o3v.records import TEMPORAL_TASKS, Record, gt_box, gt_span

log = logging.getLogger(__name__)

STAGE = "filter"


def box_check(box: Any, max_area: float, width: float = 1.0, height: float = 1.0) -> str | None:
    """Reason code for an unusable or oversized box (`box_*`), or None when it is fine.

    Example:
        >>> box_check([0.1, 0.1, 0.2, 0.2], 0.8), box_check([0.0, 0.0, 0.95, 0.95], 0.8)
        (None, 'box_oversized')
    """
    normalized = width == 1.0 and height == 1.0
    code = box_problem(box, normalized=normalized, width=width, height=height)
    if code is not None:
        return f"box_{code}"
    return "box_oversized" if area_fraction(box, width, height) > max_area else None


def _frame_size(record: Record) -> tuple[float, float]:
    """Size that the record's stored boxes are measured in: (1, 1) when normalized, else the image pixels."""
    if record.box_space() == "image_pixels":
        return float(record.image_size[0]), float(record.image_size[1])  # type: ignore[index]
    return 1.0, 1.0


def _claims(record: Record) -> tuple[Claim, ...]:
    return parse_claims(record.reasoning_process) if record.reasoning_process else ()


def box_problems(record: Record, max_area: float, claims: tuple[Claim, ...] | None = None) -> list[Problem]:
    """Problems of every key_items box, the visual-QA answer box and every claim box in the reasoning."""
    w, h = _frame_size(record)
    out: list[Problem] = []
    seen: dict[tuple, str | None] = {}  # claims usually repeat a key_items box: judge each box once
    for idx, objects in (record.key_items or {}).items():
        for name, boxes in (objects or {}).items():
            for j, box in enumerate(boxes or []):
                code = seen[tuple(box)] = box_check(box, max_area, w, h)
                if code:
                    out.append(Problem(code, f"key_items.{idx}.{name}[{j}]", box))
    if record.task == "visual QA":
        box = gt_box(record)
        code = "box_missing" if box is None else box_check(box, max_area, w, h)
        if code:
            out.append(Problem(code, "answer", box if box is not None else record.answer))
    for claim in _claims(record) if claims is None else claims:
        for box in claim.boxes:
            code = seen[box] if box in seen else box_check(box, max_area, w, h)
            if code:
                out.append(Problem(f"claim_{code}", "reasoning_process", {"object": claim.object, "box": box}))
    return out


def time_problems(record: Record, slack: float, claims: tuple[Claim, ...] | None = None) -> list[Problem]:
    """Key-frame, claim and answer-span times outside the video, and key_items keyed by no key frame."""
    meta = record.extra.get(MEDIA_META)
    if not isinstance(meta, dict):
        return [Problem("media_meta_missing", MEDIA_META, None)]
    if not record.is_video:
        return []
    duration = float(meta["duration"])
    limit = duration + slack
    out: list[Problem] = []
    for i, kf in enumerate(record.key_frames):
        if kf.time > limit:
            out.append(Problem("time_outside_video", f"key_frames[{i}].time", {"time": kf.time, "duration": duration}))
    frame_ids = {str(kf.idx) for kf in record.key_frames if kf.idx is not None}
    for idx in record.key_items or {}:
        if str(idx) not in frame_ids:
            out.append(Problem("key_items_unknown_frame", f"key_items.{idx}", {"key_frames": sorted(frame_ids)}))
    for claim in _claims(record) if claims is None else claims:
        if claim.time > limit:
            values = {"object": claim.object, "time": claim.time, "duration": duration}
            out.append(Problem("claim_time_outside_video", "reasoning_process", values))
    if record.task in TEMPORAL_TASKS:
        span = gt_span(record)
        if span is not None and span[1] < span[0]:
            out.append(Problem("answer_span_inverted", "answer", list(span)))
        elif span is not None and span[1] > limit:
            out.append(Problem("answer_span_outside_video", "answer", {"span": list(span), "duration": duration}))
    return out


def rule_problems(record: Record, cfg: FilterConfig) -> list[Problem]:
    """All rule-based problems of one record (empty list: the record goes on to category verification)."""
    claims = _claims(record)  # parsed once for both rule families
    return time_problems(record, cfg.time_slack_s, claims) + box_problems(record, cfg.max_box_area, claims)


def build_verifier(cfg: CurateConfig, ds: DatasetIn) -> Any:
    """The configured verifier; `auto` picks the oracle when the dataset came from a synth world.

    Each backend is imported only when chosen (the oracle needs the synth helpers, a model the chat client)."""
    kind = cfg.filter.verifier
    world = ds.meta.get("world")
    if kind == "auto":
        if not world:
            raise ConfigError("filter.verifier 'auto' found no synth world in dataset.json; choose 'openai', "
                              "'local' or 'none' (category verification off) for your own videos")  # fmt: skip
        kind = "oracle"
    if kind == "oracle":
        if not world or not Path(world).is_file():
            raise ConfigError(f"filter.verifier 'oracle' needs the synth world's world.json, got {world!r}")
        from o3v.curate.synthetic import OracleVerifier

        return OracleVerifier(Path(world), cfg.filter.verifier_iou)
    if kind == "none":
        log.warning("category verification is off (filter.verifier: none)")
        return NoVerifier()
    from o3v.curate.backends import build_chat
    from o3v.curate.media import default_cache_dir

    cache = default_cache_dir(cfg.annotate.cache_dir)
    return ModelVerifier(build_chat(kind, cfg, cache), ds.media_root, cache, cfg.filter.crop_pad)


def filter_records(in_dir: str | Path, out_dir: str | Path, config: Any = None) -> dict[str, Any]:
    """Filter stage: dataset `in_dir` -> dataset `out_dir`; returns the stats dict."""
    cfg: CurateConfig = load_config(config)
    ds = open_dataset(in_dir)
    out = StageOutput(STAGE)
    n_in, survivors = out.screen(ds, lambda rec: rule_problems(rec, cfg.filter), "filter rules")
    verifier = build_verifier(cfg, ds)
    verified = verify_records(verifier, survivors, ds.media_root, cfg)
    for (index, rec), problems in zip(survivors, verified):
        if problems:
            out.reject(problems_reject(STAGE, rec, index, problems, verifier=verifier.name))
        else:
            out.keep(rec)
    return out.write(out_dir, n_in, ds.meta, cfg, verifier=verifier.name)
