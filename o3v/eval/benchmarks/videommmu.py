"""VideoMMMU adapter: lecture-video questions, multiple choice (letters A-J) and open answers.

Spec: benchmarks.md §5, open-o3-video.md §10.2. Annotations: one parquet or a folder holding the three subsets
`{Perception,Comprehension,Adaptation}/test-00000-of-00001.parquet`. Fields: `id` (`{split}_{Subject}_{n}`),
`question`, `options`, `answer`, `question_type` ("multiple-choice" or open), `image` (Adaptation's question
image). Perception/Comprehension prompts ask to ignore the quiz in the last frame; Adaptation passes the
question image. MCQ letters are parsed strictly (think mode); open answers with MMMU's `parse_open_response`
+ `eval_open` (the `open_answer` metric). Accuracy is instance-level over both. Reported: Overall, Perception.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from o3v.eval.benchmarks import mcq
from o3v.eval.benchmarks.base import (
    BenchmarkError,
    Evidence,
    Loaded,
    Media,
    Query,
    Reject,
    Sample,
    answer_row,
    group_by,
    match_rows,
)

NAME = "videommmu"
ID_FIELD = "id"
PARSE_MODE: mcq.ParseMode = "strict"
SUBSETS = ("Perception", "Comprehension", "Adaptation")
IGNORE_QUIZ = "Please ignore the Quiz question in last frame of the video."
ADAPT = "You should watch and learn the video content. Then apply what you learned to answer the following question."

# What the report shows for this benchmark: metric path, label, the constant baselines it must beat, paper column.
HEADLINE = [
    {
        "metric": "accuracy",
        "label": "Accuracy (overall)",
        "baselines": ["majority_option.accuracy", "chance.accuracy"],
        "paper": "videommmu/accuracy",
    },
    {
        "metric": "by_subset.Perception.mean",
        "label": "Accuracy (Perception)",
        "baselines": [],
        "paper": "videommmu/accuracy@perception",
    },
    {"metric": "unparsable", "label": "unparsable answers", "baselines": [], "paper": None, "lower_is_better": True},
]


def is_mcq(raw: dict) -> bool:
    return str(raw.get("question_type", "multiple-choice")).strip().lower() in ("multiple-choice", "multiple choice")


def _files(path: Path) -> list[tuple[str, Path]]:
    if path.is_dir():
        found = [(sub, f) for sub in SUBSETS for f in sorted((path / sub).glob("*.parquet"))]
        if not found:
            raise BenchmarkError(f"no {'/'.join(SUBSETS)}/*.parquet inside", file=path)
        return found
    subset = path.parent.name if path.parent.name in SUBSETS else "unknown"
    return [(subset, path)]


def load(path: str | Path) -> Loaded:
    """Read one VideoMMMU parquet or the folder of its three subsets."""
    path = Path(path)
    samples, rejects, index = [], [], 0
    for subset, file in _files(path):
        for row in mcq.read_table(file):
            parts = str(row.get("id", "")).split("_")  # "{split}_{Subject}_{n}"
            row = {**row, "subset": subset, "subject": parts[1] if len(parts) > 2 else "unknown"}
            try:
                samples.append(_sample(row, index, str(file)))
            except BenchmarkError as exc:
                rejects.append(Reject(index, exc.reason, exc.field, str(row.get("id"))))
            index += 1
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise BenchmarkError("ids are not unique across the subsets", file=path, field=ID_FIELD)
    return Loaded(samples, rejects, str(path))


def _sample(row: dict, index: int, file: str) -> Sample:
    for name in ("id", "question", "answer"):
        if row.get(name) in (None, ""):
            raise BenchmarkError("is missing", file=file, row=index, field=name)
    if is_mcq(row):
        row["options"] = mcq.as_list(row.get("options"), file=file, row=index, field="options")
        row["answer"] = str(row["answer"]).strip()
        if row["answer"] not in mcq.LETTERS[: len(row["options"])]:
            raise BenchmarkError(
                f"must be a letter among the options, got {row['answer']!r}", file=file, row=index, field="answer"
            )
    return Sample(id=str(row["id"]), index=index, raw=row, video=f"{row['id']}.mp4")


def _image(raw: dict) -> Any:
    """Adaptation's question image as PIL (parquet stores {"bytes", "path"}); None when absent."""
    img = raw.get("image")
    data = img.get("bytes") if isinstance(img, dict) else img if isinstance(img, bytes) else None
    if not data:
        return None
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB")


def queries(sample: Sample, media: Media) -> list[Query]:
    raw = sample.raw
    image = _image(raw) if raw.get("subset") == "Adaptation" else None
    hint = ADAPT if raw.get("subset") == "Adaptation" else IGNORE_QUIZ
    extra = (image,) if image is not None else ()
    if is_mcq(raw):
        return [mcq.mcq_query(f"{raw['question']}\n{hint}", raw["options"], extra_images=extra)]
    return [
        Query(
            "answer",
            "General video QA Free-form",
            f"{raw['question']}\n{hint}\nRespond with only the final answer.",
            extra_images=extra,
        )
    ]


def answer_letter(sample: Sample, text: str, mode: mcq.ParseMode = PARSE_MODE) -> str | None:
    return mcq.parse_letter(text, sample.raw["options"], mode) if is_mcq(sample.raw) else None


def predict(sample: Sample, outputs: dict[str, str], media: Media) -> dict:
    return answer_row({"index": sample.index, ID_FIELD: sample.id}, outputs["answer"], media)


def _golds(answer: Any) -> list[str]:
    if isinstance(answer, list):
        return [str(a) for a in answer]
    text = str(answer).strip()
    if text.startswith("["):
        try:
            value = json.loads(text.replace("'", '"'))
            if isinstance(value, list):
                return [str(a) for a in value]
        except json.JSONDecodeError:
            pass
    return [text]


def score(samples: list[Sample], rows: list[dict], *, file: str = "", parse_mode: str | None = None, **_: Any) -> dict:
    """Instance-level accuracy over MCQ and open questions, with the MCQ unparsable rate and breakdowns."""
    from o3v.metrics import compute

    mode = parse_mode or PARSE_MODE
    by_id = match_rows(samples, rows, ID_FIELD, file)
    mcqs = [s for s in samples if is_mcq(s.raw)]
    opens = [s for s in samples if not is_mcq(s.raw)]
    correct: dict[str, float] = {}
    out: dict[str, Any] = {}
    if mcqs:
        res = mcq.score_mcq(
            mcqs, [by_id[s.id] for s in mcqs if s.id in by_id], id_field=ID_FIELD, mode=mode, breakdowns=(), file=file
        )
        letters = [mcq.row_letter(by_id[s.id], s.raw["options"], mode) if s.id in by_id else "" for s in mcqs]
        correct.update({s.id: float(bool(p) and p == s.raw["answer"]) for s, p in zip(mcqs, letters)})
        out["mcq"] = res
    if opens:
        texts = [str(by_id[s.id].get("prediction", "")) if s.id in by_id else "" for s in opens]
        preds = [mcq.answer_text(t) or t for t in texts]
        refs = [json.dumps(_golds(s.raw["answer"])) for s in opens]
        res = compute("open_answer", predictions=preds, references=refs)
        correct.update({s.id: float(c) for s, c in zip(opens, res["correct"])})
        out["open"] = {"accuracy": res["accuracy"], "n": res["n"]}
    values = [correct[s.id] for s in samples]
    out = {
        "accuracy": sum(values) / len(values) if values else 0.0,
        "unparsable": out.get("mcq", {}).get("unparsable", 0.0) * len(mcqs) / len(samples) if samples else 0.0,
        "missing": sum(1 for s in samples if s.id not in by_id) / len(samples) if samples else 0.0,
        "n": len(samples),
        **out,
    }
    for name in ("subset", "question_type", "subject"):
        out[f"by_{name}"] = group_by([str(s.raw.get(name, "unknown")) for s in samples], values)
    return out


def baselines(samples: list[Sample], **_: Any) -> dict:
    """Majority option and chance over the MCQ questions (open questions have no constant answer here)."""
    return mcq.mcq_baselines([s for s in samples if is_mcq(s.raw)])


def evidence(sample: Sample, row: dict | None) -> Evidence:
    if is_mcq(sample.raw):
        return mcq.mcq_evidence(sample, row, PARSE_MODE)
    text = str((row or {}).get("prediction", ""))
    return Evidence(
        question=sample.raw["question"],
        answer=str(sample.raw["answer"]),
        predicted=mcq.answer_text(text) or text or "(none)",
    )
