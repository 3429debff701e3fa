"""WorldSense adapter: audio-visual MCQ from `WorldSense.tsv`, scored on video frames only (no audio).

Spec: benchmarks.md §4, open-o3-video.md §10.2. Fields: `index`, `video` (or `video_path`), `question`,
`candidates` (a stringified list of "A. ..."), `answer`, `domain`, `sub_category`, `task_domain`, `task_type`,
`audio_class`, `duration`. Open-o3 states that the video has no audio transcript and matches letters with
MMMU's `parse_multi_choice_response` (here without its random fallback). Reported: Overall and Recognition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from o3v.eval.benchmarks import mcq
from o3v.eval.benchmarks.base import Evidence, Loaded, Media, Query, Sample, answer_row

NAME = "worldsense"
ID_FIELD = "index"
PARSE_MODE: mcq.ParseMode = "mmmu"
BREAKDOWNS = ("task_domain", "domain", "duration", "task_type")
PREFIX = "Carefully watch this video and pay attention to every detail. This video does not have audio transcripts."

# What the report shows for this benchmark: metric path, label, the constant baselines it must beat, paper column.
HEADLINE = [
    {
        "metric": "accuracy",
        "label": "Accuracy (overall)",
        "baselines": ["majority_option.accuracy", "chance.accuracy"],
        "paper": "worldsense/accuracy",
    },
    {
        "metric": "by_task_domain.Recognition.mean",
        "label": "Accuracy (Recognition)",
        "baselines": [],
        "paper": "worldsense/accuracy@recognition",
    },
    {"metric": "unparsable", "label": "unparsable answers", "baselines": [], "paper": None, "lower_is_better": True},
]


def _video(row: dict) -> str:
    name = str(row.get("video") or row.get("video_path"))
    return name if Path(name).suffix else f"{name}.mp4"


def load(path: str | Path) -> Loaded:
    """Read the WorldSense TSV (the id is the `index` column)."""
    rows = mcq.read_table(path, sep="\t")
    for row in rows:
        if row.get("video") in (None, "") and row.get("video_path"):
            row["video"] = row["video_path"]
    return mcq.load_mcq(
        rows,
        str(path),
        id_field=ID_FIELD,
        options_field="candidates",
        video_of=_video,
        required=("question", "answer", "video"),
    )


def queries(sample: Sample, media: Media) -> list[Query]:
    return [mcq.mcq_query(f"{PREFIX}\n{sample.raw['question']}", sample.raw["options"])]


def answer_letter(sample: Sample, text: str, mode: mcq.ParseMode = PARSE_MODE) -> str | None:
    return mcq.parse_letter(text, sample.raw["options"], mode)


def predict(sample: Sample, outputs: dict[str, str], media: Media) -> dict:
    # WorldSense's id *is* its `index` column, so rows carry that value (not the position in the file).
    return answer_row({"index": sample.raw["index"]}, outputs["answer"], media)


def score(samples: list[Sample], rows: list[dict], *, file: str = "", parse_mode: str | None = None, **_: Any) -> dict:
    return mcq.score_mcq(
        samples, rows, id_field=ID_FIELD, mode=parse_mode or PARSE_MODE, breakdowns=BREAKDOWNS, file=file
    )


def baselines(samples: list[Sample], **_: Any) -> dict:
    return mcq.mcq_baselines(samples)


def evidence(sample: Sample, row: dict | None) -> Evidence:
    return mcq.mcq_evidence(sample, row, PARSE_MODE)
