"""Category verification: does each annotated box, at its key frame, show the object it is named after?

Upstream asked Qwen2.5-VL-7B (open-o3-video.md §2.7). Backends (`filter.verifier`):

- `oracle`: synthetic worlds only; the world's ground truth (`world.json`) must hold an object of that
  name whose box at that time overlaps the annotated box by `filter.verifier_iou`;
- `openai` / `local`: the frame at the key-frame time is decoded (`o3v.video.frames_at`), the box is
  cropped with `filter.crop_pad` context and the model is asked "Is this a {object}?"; the first word of
  the reply decides (yes / no); anything else is `unclear` (rejected unless `verifier_on_unclear: keep`);
- `none`: verification switched off on purpose (logged); `auto` = `oracle` for synth worlds, else an error.

The filter stage picks the backend (`o3v.curate.filter.build_verifier`); `OracleVerifier` lives with the synth
world's other helpers in `o3v.curate.synthetic`.

What is verified, and when: the category is checked where the annotation says the object is seen,
i.e. each reasoning claim's box at the claim's own time; key_items boxes that no claim cites are
checked at their key frame's time; visual QA checks the answer box on the still image. Whether claim
times agree with the key-frame times is the check stage's rule (`claim_time_unmatched`): verifying a
cited box at a key-frame time that was shifted would report a time error as a category error.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from o3v.curate.config import CurateConfig
from o3v.curate.dataset import Problem
from o3v.curate.media import local_media
from o3v.geometry import box_iou, to_normalized
from o3v.grounded import parse_claims
from o3v.records import Record, gt_box

log = logging.getLogger(__name__)

VERIFIER_SYSTEM_PROMPT = "You check object labels. Answer with one word: yes or no."
_ANSWER_OBJ_RE = re.compile(r"<obj>(.*?)</obj>", re.S)
_FIRST_WORD_RE = re.compile(r"[a-z]+")
_CITED_IOU = 0.9  # a key_items box counts as cited by a claim of the same object with a box this close


@dataclass(frozen=True)
class VerifyItem:
    """One (media, time, object, normalized box) claim to verify; `time` is None for still images."""

    media: str
    time: float | None
    object: str
    box: tuple[float, float, float, float]
    field: str

    def key(self) -> tuple:
        t = None if self.time is None else round(self.time, 3)
        return (self.media, t, self.object.strip().lower(), tuple(round(v, 4) for v in self.box))


@dataclass(frozen=True)
class Verdict:
    answer: str  # "yes" | "no" | "unclear"
    raw: str | None = None
    detail: Any = None


def verify_items(rec: Record) -> list[VerifyItem]:
    """What to verify in one record (see the module docstring), boxes normalized."""
    w, h = (rec.image_size or (1, 1)) if rec.box_space() == "image_pixels" else (1, 1)
    if rec.task == "visual QA":
        box, m = gt_box(rec), _ANSWER_OBJ_RE.search(rec.answer)
        if box is None or m is None:
            return []
        return [VerifyItem(rec.media_path, None, m.group(1).strip(), tuple(to_normalized(box, w, h)), "answer")]
    claims = parse_claims(rec.reasoning_process) if rec.reasoning_process else ()
    items = [
        VerifyItem(rec.media_path, c.time, c.object, tuple(to_normalized(b, w, h)), "reasoning_process")
        for c in claims
        for b in c.boxes
    ]
    times = {str(kf.idx): float(kf.time) for kf in rec.key_frames}
    for idx, objects in (rec.key_items or {}).items():
        for name, boxes in (objects or {}).items():
            for j, box in enumerate(boxes or []):
                nb = tuple(to_normalized(box, w, h))
                cited = any(it.object == name and box_iou(it.box, nb) >= _CITED_IOU for it in items)
                if str(idx) in times and not cited:
                    items.append(VerifyItem(rec.media_path, times[str(idx)], name, nb, f"key_items.{idx}.{name}[{j}]"))
    return items


def parse_yes_no(text: str) -> str:
    """`yes` / `no` from the first word of a reply, else `unclear`.

    Example:
        >>> parse_yes_no("Yes, it is."), parse_yes_no(" no"), parse_yes_no("It might be")
        ('yes', 'no', 'unclear')
    """
    m = _FIRST_WORD_RE.search(text.lower()) if isinstance(text, str) else None
    word = m.group(0) if m else ""
    return word if word in ("yes", "no") else "unclear"


class NoVerifier:
    """Verification switched off in the config (every item passes; logged once)."""

    name = "none"

    def verify(self, items: list[VerifyItem]) -> list[Verdict]:
        return [Verdict("yes", detail="verification off") for _ in items]


class ModelVerifier:
    """Crops each box at its key frame and asks a vision-chat backend "Is this a {object}?"."""

    def __init__(self, chat: Any, media_root: str, cache_dir: Path, pad: float):
        self.chat, self.root, self.cache, self.pad = chat, media_root, cache_dir, pad
        self.name = f"model:{chat.name}"

    def crop(self, item: VerifyItem) -> Any:
        from PIL import Image

        local = local_media(self.root, item.media, self.cache)
        if item.time is None:
            img = Image.open(local).convert("RGB")
        else:
            from o3v.video import frames_at

            img = Image.fromarray(frames_at(local, [item.time]).frames[0])
        x1, y1, x2, y2 = item.box
        px, py = (x2 - x1) * self.pad, (y2 - y1) * self.pad
        box = (max(0.0, x1 - px) * img.width, max(0.0, y1 - py) * img.height,
               min(1.0, x2 + px) * img.width, min(1.0, y2 + py) * img.height)  # fmt: skip
        return img.crop(tuple(int(round(v)) for v in box))

    def _one(self, item: VerifyItem) -> Verdict:
        from o3v.curate.chat_client import ChatError
        from o3v.curate.media import MediaError
        from o3v.video import VideoError

        try:
            image = self.crop(item)
            text, _ = self.chat.ask(VERIFIER_SYSTEM_PROMPT, [("image", 0), ("text", f"Is this a {item.object}?")],
                                    [image])  # fmt: skip
        except (ChatError, VideoError, MediaError, OSError) as exc:
            return Verdict("unclear", None, f"{type(exc).__name__}: {exc}")
        return Verdict(parse_yes_no(text), text)

    def verify(self, items: list[VerifyItem]) -> list[Verdict]:
        workers = max(1, int(self.chat.concurrency))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(tqdm(pool.map(self._one, items), total=len(items), desc="verify", unit="box", mininterval=2))


def verify_records(
    verifier: Any, survivors: list[tuple[int, Record]], media_root: str, cfg: CurateConfig
) -> list[list[Problem]]:
    """Per record, the category problems found (empty list: verified). Identical items are asked once."""
    per_record = [verify_items(rec) for _, rec in survivors]
    unique: dict[tuple, VerifyItem] = {}
    for items in per_record:
        for it in items:
            unique.setdefault(it.key(), it)
    keys = list(unique)
    verdicts = dict(zip(keys, verifier.verify([unique[k] for k in keys])))
    out: list[list[Problem]] = []
    for items in per_record:
        problems = []
        for it in items:
            v = verdicts[it.key()]
            values = {"object": it.object, "time": it.time, "box": list(it.box), "answer": v.raw, "detail": v.detail}
            if v.answer == "no":
                problems.append(Problem("category_mismatch", it.field, values))
            elif v.answer == "unclear" and cfg.filter.verifier_on_unclear == "reject":
                problems.append(Problem("category_unclear", it.field, values))
        out.append(problems)
    return out
