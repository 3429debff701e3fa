"""Optional reasoning rewrite (`check.rewrite: openai | local`), the last step of upstream's construction.

The teacher gets the question, answer and the checked reasoning and returns `{"reasoning": "..."}`. A
rewrite is applied only when it keeps every grounded claim and every `<t>` time (same multisets), passes
every consistency rule again and concludes with the same option; otherwise the record keeps its
checked reasoning and the reason is counted in stats.json (`rewrite.kept_original`). An applied rewrite
keeps the previous text in the record's `reasoning_original` field.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

from o3v.curate.config import CurateConfig
from o3v.curate.consistency import consistency_problems, stated_option
from o3v.curate.dataset import set_field
from o3v.curate.media import default_cache_dir
from o3v.grounded import parse_claims, parse_times
from o3v.records import Record

log = logging.getLogger(__name__)

REWRITE_SYSTEM_PROMPT = """\
You edit the reasoning of a video question-answer item so that it reads as clear, step-by-step reasoning \
that leads to the given answer. Keep every grounded mention of the form \
<obj>name</obj><box>[x1,y1,x2,y2]</box>at<t>seconds</t>s exactly as written (same characters), keep every \
<t>seconds</t>s time, do not add new ones, and keep the final conclusion. \
Reply with ONE JSON object and nothing else: {"reasoning": "..."}"""


def _claims(text: str) -> Counter:
    return Counter(parse_claims(text))


def rewrite_one(chat: Any, rec: Record, cfg: CurateConfig) -> tuple[str | None, str]:
    """(new reasoning or None, outcome code): `applied` or why the original is kept."""
    from o3v.curate.chat_client import ChatError
    from o3v.curate.teacher import strip_fence

    old = rec.reasoning_process or ""
    prompt = f"Task: {rec.task}\nQuestion: {rec.question}\nAnswer: {rec.answer}\nReasoning: {old}"
    try:
        text, _ = chat.ask(REWRITE_SYSTEM_PROMPT, [("text", prompt)], [])
    except ChatError as exc:
        return None, exc.reason
    try:
        new = json.loads(strip_fence(text)).get("reasoning")
    except (json.JSONDecodeError, AttributeError):
        return None, "rewrite_unparseable"
    if not isinstance(new, str) or not new.strip():
        return None, "rewrite_unparseable"
    if _claims(new) != _claims(old):
        return None, "rewrite_changed_claims"
    if Counter(parse_times(new)) != Counter(parse_times(old)):
        return None, "rewrite_changed_times"
    if stated_option(new) != stated_option(old):
        return None, "rewrite_changed_option"
    trial = dataclasses.replace(rec, reasoning_process=new)
    if consistency_problems(trial, cfg.check):
        return None, "rewrite_inconsistent"
    return new, "applied"


def rewrite_reasoning(
    records: list[tuple[int, Record]], cfg: CurateConfig, media_root: str
) -> tuple[list[tuple[int, Record]], dict[str, Any]]:
    """Rewrite the reasoning of every record that has one; returns the records and the rewrite stats."""
    from o3v.curate.backends import build_chat

    chat = build_chat(cfg.check.rewrite, cfg, default_cache_dir(cfg.annotate.cache_dir))
    todo = [(k, rec) for k, (_, rec) in enumerate(records) if rec.reasoning_process]
    with ThreadPoolExecutor(max_workers=max(1, int(chat.concurrency))) as pool:
        results = list(
            tqdm(
                pool.map(lambda kr: rewrite_one(chat, kr[1], cfg), todo),
                total=len(todo),
                desc="rewrite",
                unit="rec",
                mininterval=2.0,
            )
        )
    outcomes: Counter = Counter()
    for (_, rec), (new, outcome) in zip(todo, results):
        outcomes[outcome] += 1
        if new is not None:
            set_field(rec, "reasoning_original", rec.reasoning_process)
            rec.reasoning_process = new
    stats = {
        "backend": chat.name,
        "attempted": len(todo),
        "applied": outcomes.pop("applied", 0),
        "kept_original": dict(sorted(outcomes.items())),
    }
    log.info("rewrite: %s", stats)
    return records, stats
