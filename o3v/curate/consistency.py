"""Consistency rules: reasoning, evidence and answer of one record must agree (pure; the stage is `o3v.curate.check`).

Rules (stable reason codes):

- grounded claims (`o3v.grounded.parse`) of records that annotate key frames must refer to one: a key
  frame within `check.time_tolerance_s` (`claim_time_unmatched`), naming an object annotated there
  (`claim_object_unmatched`), with a box overlapping that object's box by `check.box_iou`
  (`claim_box_mismatch`); boxes are compared normalized;
- the answer agrees with the evidence: temporal answers must contain a time the reasoning cites
  (`answer_outside_evidence`), MCQ letters must be among the options (`option_not_in_options`) and equal
  the option the reasoning states ("so the answer is option X.": `answer_contradicts_reasoning`), a temporal
  MCQ's chosen option must describe the answer span (`option_span_mismatch`); unreadable answers:
  `answer_unparseable`;
- tags are balanced and not nested (`unbalanced_tags`); every `<obj>` is a full claim
  (`malformed_claim`, when `check.require_well_formed_claims`);
- near-duplicate questions of one video and task (same content words and normalized text similarity >=
  `check.near_duplicate_similarity`): the first record is kept, later ones are `near_duplicate_question`;
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict

from o3v.curate.config import CheckConfig
from o3v.curate.dataset import Problem
from o3v.geometry import box_iou, to_normalized
from o3v.grounded import Claim, parse_claims, parse_times
from o3v.records import MCQ_TASKS, TEMPORAL_TASKS, Record, gt_option, gt_span

_TAG_RE = re.compile(r"</?(?:obj|box|t|think|answer)>")
_TAG_PAIRS_RE = re.compile(r"(?:<obj></obj>|<box></box>|<t></t>)*")
_OPENERS = ("<obj>", "<box>", "<t>")
_STATED_OPTION_RE = re.compile(r"(?i:answer\s+is)\s+(?:(?i:option)\s+)?[\(\[]?([A-Z])[\)\]]?(?=\s*[.,;:!]|\s*$)")
_OPTION_LETTER_RE = re.compile(r"^\s*[\(\[]?([A-Z])[\.\)\]:]")
_OPTION_SPAN_RE = re.compile(r"(\d+(?:\.\d+)?)\s*s?\s*(?:to|-|–)\s*(\d+(?:\.\d+)?)\s*s?")
_NON_WORD_RE = re.compile(r"[^\w]+")
# Function words only: a question that differs in anything else (object, colour, number, verb) is distinct.
_STOPWORDS = frozenset(
    "a an the of in on at to is are was were be been does do did this that these those it its there video clip "
    "please can you tell me what which".split()
)
_EPS = 1e-6


def normalize_question(text: str) -> str:
    """Lowercase, punctuation dropped, whitespace collapsed: the text near-duplicate detection compares.

    Example:
        >>> normalize_question("  When is the Red circle visible?? ")
        'when is the red circle visible'
    """
    return _NON_WORD_RE.sub(" ", text.lower()).strip()


def stated_option(reasoning: str | None) -> str | None:
    """The option letter the reasoning concludes with ("... so the answer is option B."), last mention wins."""
    if not reasoning:
        return None
    found = _STATED_OPTION_RE.findall(reasoning)
    return found[-1] if found else None


def lettered_options(options: list[str] | None) -> dict[str, str]:
    """Letter -> text after the letter, for `["A. ...", "(B) ..."]`-style options (unlettered ones skipped).

    Example:
        >>> lettered_options(["A. From 1s to 2s", "(B) never"])
        {'A': 'From 1s to 2s', 'B': 'never'}
    """
    out: dict[str, str] = {}
    for opt in options or []:
        m = _OPTION_LETTER_RE.match(opt)
        if m:
            out.setdefault(m.group(1), opt[m.end() :].strip())
    return out


def tag_problems(text: str | None, field: str) -> list[Problem]:
    """`unbalanced_tags` unless every `<obj>/<box>/<t>` is closed right after it opens (the grounded syntax
    never nests them), and no `<think>`/`<answer>` sits inside a field the target wraps in those tags."""
    if not text or "<" not in text:
        return []
    if _TAG_PAIRS_RE.fullmatch("".join(_TAG_RE.findall(text))):  # fast path: one C-level pass
        return []
    expected = None  # slow path, bad input only: name the first offending tag
    for m in _TAG_RE.finditer(text):
        tag = m.group(0)
        if expected is not None:
            if tag != expected:
                return [Problem("unbalanced_tags", field, {"tag": tag, "at": m.start(), "expected": expected})]
            expected = None
        elif tag in _OPENERS:
            expected = "</" + tag[1:]
        else:
            return [Problem("unbalanced_tags", field, {"tag": tag, "at": m.start()})]
    return [Problem("unbalanced_tags", field, {"unclosed": expected})]


def _frames_index(record: Record, size: tuple[float, float]) -> list[tuple[float, dict[str, list[tuple]]]]:
    """Per key frame: its time and {object name (lowercased): normalized boxes}, built once per record."""
    items = record.key_items or {}
    out = []
    for kf in record.key_frames:
        objects: dict[str, list[tuple]] = defaultdict(list)
        for name, boxes in (items.get(str(kf.idx)) or {}).items():
            objects[name.strip().lower()].extend(tuple(to_normalized(b, *size)) for b in boxes or [])
        out.append((float(kf.time), objects))
    return out


def claim_problems(record: Record, claims: tuple[Claim, ...], tol: float, min_iou: float) -> list[Problem]:
    """Every claim must point at an annotated key frame, object and box (records with key frames only)."""
    if not record.key_frames or not claims:
        return []
    size = (
        (float(record.image_size[0]), float(record.image_size[1]))  # type: ignore[index]
        if record.box_space() == "image_pixels"
        else (1.0, 1.0)
    )
    frames = _frames_index(record, size)
    out: list[Problem] = []
    for claim in claims:
        near = [objects for t, objects in frames if abs(t - claim.time) <= tol + _EPS]
        where = {"object": claim.object, "time": claim.time}
        if not near:
            times = [kf.time for kf in record.key_frames]
            out.append(Problem("claim_time_unmatched", "reasoning_process", {**where, "key_frame_times": times}))
            continue
        if record.key_items is None:  # key frames without key_items (upstream SFT shape): only the time is checked
            continue
        want = claim.object.strip().lower()
        annotated = [b for objects in near for b in objects.get(want, ())]
        if not annotated:
            out.append(Problem("claim_object_unmatched", "reasoning_process", where))
            continue
        for box in claim.boxes:
            nb = tuple(to_normalized(box, *size))
            if nb in annotated:  # the claim repeats an annotated box (the usual case): IoU 1, no need to compute
                continue
            best = max(box_iou(nb, a) for a in annotated)
            if best < min_iou:
                values = {**where, "box": list(box), "best_iou": round(best, 4)}
                out.append(Problem("claim_box_mismatch", "reasoning_process", values))
    return out


def answer_problems(record: Record, think_times: tuple[float, ...], span_tol: float) -> list[Problem]:
    """Temporal answers inside the cited times; MCQ letters among the options and matching the reasoning."""
    out: list[Problem] = []
    span = None
    if record.task in TEMPORAL_TASKS:
        span = gt_span(record)
        if span is None:
            return [Problem("answer_unparseable", "answer", record.answer)]
        s, e = span
        if think_times and not any(s - span_tol <= t <= e + span_tol for t in think_times):
            out.append(Problem("answer_outside_evidence", "answer", {"span": [s, e], "times": list(think_times)}))
    if record.task in MCQ_TASKS:
        letter = gt_option(record)
        if letter is None:
            return out + [Problem("answer_unparseable", "answer", record.answer)]
        letters = lettered_options(record.options)
        if letters and letter not in letters:
            out.append(Problem("option_not_in_options", "answer", {"answer": letter, "options": sorted(letters)}))
        stated = stated_option(record.reasoning_process)
        if stated is not None and stated != letter:
            out.append(Problem("answer_contradicts_reasoning", "answer", {"answer": letter, "reasoning": stated}))
        if span is not None and letter in letters:
            text = letters[letter]
            m = _OPTION_SPAN_RE.search(text)
            if m and (abs(float(m.group(1)) - span[0]) > span_tol or abs(float(m.group(2)) - span[1]) > span_tol):
                out.append(Problem("option_span_mismatch", "answer", {"option": text, "span": list(span)}))
    return out


def consistency_problems(record: Record, cfg: CheckConfig) -> list[Problem]:
    """All single-record consistency problems (near-duplicates are a cross-record rule, see `find_duplicates`)."""
    reasoning = record.reasoning_process
    out = tag_problems(reasoning, "reasoning_process") + tag_problems(record.answer, "answer")
    claims = parse_claims(reasoning) if reasoning else ()
    # Visual QA grounds with `<obj>name</obj><box>[..]</box>` and no time (open-o3-video.md §4): not a claim.
    if reasoning and cfg.require_well_formed_claims and record.is_video:
        n_obj = reasoning.count("<obj>")
        if n_obj != len(claims):
            out.append(Problem("malformed_claim", "reasoning_process", {"obj_tags": n_obj, "claims": len(claims)}))
    out += claim_problems(record, claims, cfg.time_tolerance_s, cfg.box_iou)
    out += answer_problems(record, parse_times(reasoning) if reasoning else (), cfg.span_tolerance_s)
    return out


def content_words(text: str) -> frozenset[str]:
    """Words of a normalized question that carry meaning (stopwords dropped; "when" / "where" stay: they ask
    different things).

    Example:
        >>> sorted(content_words("when is the red circle visible in the video"))
        ['circle', 'red', 'visible', 'when']
    """
    return frozenset(w for w in text.split() if w not in _STOPWORDS)


def find_duplicates(records: list[Record], threshold: float) -> dict[int, tuple[int, float]]:
    """Positions of near-duplicate records -> (position of the kept record, similarity).

    Two questions of one (media path, task) group are near-duplicates when they have the same content
    words (stopwords, case, punctuation and spacing aside) and a normalized character similarity >=
    `threshold`. Character similarity alone would merge templated questions about different objects
    ("the yellow man" / "the yellow woman" score 0.97), so a question that differs in any content word
    (an object, a colour, a number) is never dropped. The first of a group is kept, in input order.
    """
    groups: dict[tuple[str, str], list[tuple[int, str, frozenset[str]]]] = defaultdict(list)
    dups: dict[int, tuple[int, float]] = {}
    for pos, rec in enumerate(records):
        text = normalize_question(rec.question)
        words = content_words(text)
        kept = groups[(rec.media_path, rec.task)]
        for other_pos, other, other_words in kept:
            if words != other_words:
                continue
            ratio = difflib.SequenceMatcher(None, text, other, autojunk=False).ratio()
            if ratio >= threshold:
                dups[pos] = (other_pos, ratio)
                break
        else:
            kept.append((pos, text, words))
    return dups
