"""Shared multiple-choice machinery of VideoMME, WorldSense and VideoMMMU: options, letter parsing, scoring.

Letter parsing has two published modes (benchmarks.md §2–§5):

- `strict` (Open-o3 think mode, VideoMME and VideoMMMU): the `<answer>` block, stripped, must be exactly one
  valid letter; anything else is unparsable.
- `mmmu` (WorldSense; Open-o3's non-think path): MMMU-style `parse_multi_choice_response` on the answer block
  (or the whole text when there is no block): candidates in the forms `(X)`, `**X**`, `{X}`, `X.`, `X:`, `X `;
  with none and a response longer than 5 words, the option texts are searched; the last occurrence wins.

Both differ from upstream in one deliberate way: an answer that yields no letter is **unparsable and wrong**,
never "A" (upstream's argmax fallback) nor a random letter (MMMU's).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Literal

from o3v.eval.benchmarks.base import (
    BenchmarkError,
    Evidence,
    Loaded,
    Query,
    Reject,
    Sample,
    claim_boxes,
    group_by,
    match_rows,
    mean,
    voted_letter,
)
from o3v.grounded import parse

LETTERS = "ABCDEFGHIJ"
ParseMode = Literal["strict", "mmmu"]
_PREFIX = re.compile(r"^\s*\(?([A-J])[\.\):]\s*")


def as_list(value: Any, *, file: str, row: int, field: str) -> list[str]:
    """Options as a list of strings: a list, a numpy array (parquet) or a stringified Python/JSON list (tsv)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise BenchmarkError(
                f"must be a list of options, got {value[:60]!r}", file=file, row=row, field=field
            ) from exc
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
        raise BenchmarkError(
            f"must be a non-empty list of strings, got {str(value)[:60]!r}", file=file, row=row, field=field
        )
    if len(value) > len(LETTERS):
        raise BenchmarkError(
            f"has {len(value)} options; at most {len(LETTERS)} are supported", file=file, row=row, field=field
        )
    return list(value)


def option_lines(options: list[str]) -> list[str]:
    """`["A. x", "B. y"]`; options already prefixed with their letter are kept as written.

    Example:
        >>> option_lines(["cat", "dog"]), option_lines(["A. cat", "B. dog"])
        (['A. cat', 'B. dog'], ['A. cat', 'B. dog'])
    """
    if all(_PREFIX.match(o) for o in options):
        return list(options)
    return [f"{LETTERS[i]}. {o}" for i, o in enumerate(options)]


def mcq_query(question: str, options: list[str], extra_images: tuple[Any, ...] = ()) -> Query:
    """The one model call of an MCQ benchmark: a General video QA MCQ with lettered options, open to voting."""
    return Query(
        "answer", "General video QA MCQ", question, option_lines(options), vote=True, extra_images=extra_images
    )


def option_texts(options: list[str]) -> list[str]:
    """Option texts without their letter prefix (used by MMMU's content fallback)."""
    return [_PREFIX.sub("", o, count=1).strip() for o in options]


def answer_text(text: str) -> str | None:
    """Content of the first `<answer>` block, stripped (None without one)."""
    return parse(text).answer


def strict_letter(text: str, letters: str) -> str | None:
    """Open-o3 think mode: the answer block must be exactly one valid letter.

    Example:
        >>> strict_letter("<answer> B </answer>", "ABCD"), strict_letter("<answer>B.</answer>", "ABCD")
        ('B', None)
    """
    ans = answer_text(text)
    return ans if ans is not None and len(ans) == 1 and ans in letters else None


def mmmu_letter(text: str, letters: str, texts: list[str] | None = None) -> str | None:
    """MMMU-style letter extraction (see the module docstring); None when nothing matches.

    Example:
        >>> mmmu_letter("I think (C) is right", "ABCD"), mmmu_letter("no idea", "ABCD")
        ('C', None)
    """
    block = answer_text(text)
    response = block if block is not None else text
    for ch in (",", ".", "!", "?", ";", ":", "'"):
        response = response.strip(ch)
    padded = f" {response} "
    found: dict[str, int] = {}
    for letter in letters:
        for form in (f"({letter})", f"**{letter}**", f"{{{letter}}}", f" {letter}.", f" {letter}:", f" {letter} "):
            pos = padded.rfind(form)
            if pos >= 0:
                found[letter] = max(found.get(letter, -1), pos)
    if not found and texts and len(response.split()) > 5:
        low = padded.lower()
        for letter, option in zip(letters, texts):
            pos = low.rfind(option.lower()) if option else -1
            if pos >= 0:
                found[letter] = pos
    if not found:
        return None
    return max(found, key=lambda k: (found[k], -letters.index(k)))


def parse_letter(text: str, options: list[str], mode: ParseMode) -> str | None:
    """The option letter of a model answer under `mode`, or None (unparsable)."""
    letters = LETTERS[: len(options)]
    if mode == "strict":
        return strict_letter(text, letters)
    if mode == "mmmu":
        return mmmu_letter(text, letters, option_texts(options))
    raise ValueError(f"unknown MCQ parse mode {mode!r}; expected 'strict' or 'mmmu'")


def row_letter(row: dict, options: list[str], mode: ParseMode) -> str:
    """The letter a predictions row stands for: its vote's winner if it voted, else the parsed prediction."""
    voted = voted_letter(row)
    if voted is not None:
        return voted
    return parse_letter(str(row.get("prediction", "")), options, mode) or ""


def score_mcq(
    samples: list[Sample],
    rows: list[dict],
    *,
    id_field: str,
    mode: ParseMode,
    breakdowns: tuple[str, ...],
    file: str = "",
) -> dict:
    """Accuracy, unparsable and missing rates, overall and per breakdown field.

    A sample without a prediction row is wrong and counted in `missing`.
    """
    from o3v.metrics import compute

    by_id = match_rows(samples, rows, id_field, file)
    preds = [row_letter(by_id[s.id], s.raw["options"], mode) if s.id in by_id else "" for s in samples]
    refs = [str(s.raw["answer"]).strip() for s in samples]
    res = compute("mcq_accuracy", predictions=preds, references=refs)
    missing = sum(1 for s in samples if s.id not in by_id)
    out = {
        "accuracy": res["accuracy"],
        "unparsable": (sum(1 for p in preds if not p) - missing) / len(samples) if samples else 0.0,
        "missing": missing / len(samples) if samples else 0.0,
        "n": len(samples),
    }
    for name in breakdowns:
        keys = [str(s.raw.get(name, "unknown")) for s in samples]
        out[f"by_{name}"] = group_by(keys, [float(c) for c in res["correct"]])
    return out


def mcq_baselines(samples: list[Sample]) -> dict:
    """Majority option (most frequent ground-truth letter, ties to the earliest) and uniform chance."""
    if not samples:
        return {}
    counts: dict[str, int] = {}
    for s in samples:
        counts[str(s.raw["answer"]).strip()] = counts.get(str(s.raw["answer"]).strip(), 0) + 1
    letter = max(sorted(counts), key=lambda k: counts[k])
    return {
        "majority_option": {"letter": letter, "accuracy": counts[letter] / len(samples)},
        "chance": {"accuracy": mean(1.0 / len(s.raw["options"]) for s in samples)},
    }


def mcq_evidence(sample: Sample, row: dict | None, mode: ParseMode) -> Evidence:
    """Gallery view: the question with its options, the parsed letter and whether it is right."""
    letter = row_letter(row, sample.raw["options"], mode) if row else ""
    question = sample.raw["question"] + "\n" + "\n".join(option_lines(sample.raw["options"]))
    return Evidence(
        question=question,
        answer=str(sample.raw["answer"]),
        predicted=letter or "(unparsable)",
        correct=bool(letter) and letter == str(sample.raw["answer"]).strip(),
        pred_boxes=claim_boxes(str(row.get("prediction", "")), row) if row else [],
    )


def plain(value: Any) -> Any:
    """numpy scalars/arrays from parquet -> Python values (JSON-safe)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def read_table(path: str | Path, *, sep: str | None = None) -> list[dict]:
    """Rows of a parquet or TSV file as plain dicts (the error names the file)."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_parquet(path) if sep is None else pd.read_csv(path, sep=sep, keep_default_na=False)
    except (OSError, ValueError, ImportError) as exc:
        raise BenchmarkError(f"cannot read the table: {exc}", file=path) from exc
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def load_mcq(
    rows: list[dict],
    file: str,
    *,
    id_field: str,
    options_field: str,
    video_of: Any,
    required: tuple[str, ...] = ("question", "answer"),
) -> Loaded:
    """Validate MCQ rows into samples with `raw["options"]` (a list) and a letter `raw["answer"]`."""
    samples, rejects = [], []
    for i, row in enumerate(rows):
        missing = [k for k in (id_field, options_field, *required) if row.get(k) in (None, "")]
        if missing:
            rejects.append(Reject(i, "is missing", missing[0], str(row.get(id_field, i))))
            continue
        try:
            options = as_list(row[options_field], file=file, row=i, field=options_field)
        except BenchmarkError as exc:
            rejects.append(Reject(i, exc.reason, options_field, str(row[id_field])))
            continue
        answer = str(row["answer"]).strip()
        if answer not in LETTERS[: len(options)]:
            rejects.append(
                Reject(
                    i, f"must be one of {list(LETTERS[: len(options)])}, got {answer!r}", "answer", str(row[id_field])
                )
            )
            continue
        raw = {**row, "options": options, "answer": answer}
        samples.append(Sample(id=str(row[id_field]), index=i, raw=raw, video=video_of(row)))
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise BenchmarkError(f"id {dup!r} appears more than once", file=file, field=id_field)
    return Loaded(samples, rejects, file)
