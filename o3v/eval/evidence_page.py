"""The evidence picture of one `o3v infer` answer: frames with predicted and true boxes, a timeline, one HTML file.

`pictures` draws (with `o3v.eval.render`, the report gallery's drawing code): the frames at the claimed times, or
the frames the model saw when it claimed nothing in the video, with the predicted boxes (red) and, when a
synthetic world knows the video, the true boxes at that frame (green); and a timeline of the predicted answer span
against the true visible span. `render_page` embeds them as PNG data URIs in a self-contained page
(`o3v.htmlpage.document`: inline CSS, no scripts, fonts or external requests), so it renders offline.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from o3v import htmlpage
from o3v.eval.render import (
    GT_COLOR,
    PRED_COLOR,
    boxes_near,
    draw_boxes,
    panel_times,
    png_data_uri,
    timeline,
)
from o3v.geometry import to_pixels

MAX_PANELS = 4


def _spread(times: list[float], k: int) -> list[float]:
    """Up to `k` of `times`, evenly spread, first and last included.

    Example:
        >>> _spread([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0], 4)
        [0.0, 1.0, 2.0, 3.0]
    """
    if len(times) <= k:
        return list(times)
    return [times[round(i * (len(times) - 1) / (k - 1))] for i in range(k)]


def _true_boxes(scene: Any, result: dict, time: float | None, near: list[dict]) -> list[list[float]]:
    """Pixel boxes, at `time`, of the question's object and of the objects the nearby claims were scored against."""
    truth = result.get("truth") or {}
    names = {truth.get("object"), *(r.get("truth_object") for r in near)} - {None}
    w, h = result["video_size"]
    boxes = (scene.box_at(n, time) for n in sorted(names))
    return [to_pixels(b, w, h) for b in boxes if b]


def _caption(label: str, rows: list[dict]) -> str:
    """`t=2.00s · IoU 0.81, 0.10`: the panel's time and the IoU of each box drawn on it (when the truth is known)."""
    ious = [f"{r['iou']:.2f}" for r in rows if r.get("iou") is not None]
    return f"{label} · IoU {', '.join(ious)}" if ious else label


def pictures(media: str | Path, result: dict, scene: Any = None) -> tuple[list[tuple[str, Any]], Any]:
    """(label, PIL image) panels and a timeline image (None for a still) for an `o3v infer` result.

    `scene` is the `o3v.eval.truth.Scene` of the medium (None: no true boxes or span are drawn).
    """
    rows = (result.get("truth") or {}).get("evidence") or result["evidence"]
    if result.get("duration") is None:  # a still image: one panel with every predicted box
        from PIL import Image

        with Image.open(media) as img:
            frame = img.convert("RGB")
        pred = [*result.get("answer_boxes", []), *(e["box"] for e in result["evidence"])]
        gt = _true_boxes(scene, result, None, rows) if scene else []
        return [("image", draw_boxes(frame, gt, pred, "image"))], None
    from o3v.video import frames_at

    duration = float(result["duration"])
    timed = [(float(e["time"]), e["box"]) for e in result["evidence"] if 0.0 <= float(e["time"]) <= duration]
    times = panel_times([], timed, limit=MAX_PANELS) or _spread(list(result.get("frame_times") or []), MAX_PANELS)
    got = frames_at(media, times or [duration / 2])
    panels = []
    for t, frame in zip(got.times, got.frames):
        t = float(t)
        near = [r for r in rows if abs(float(r["time"]) - t) <= 0.5]
        gt = _true_boxes(scene, result, t, near) if scene else []
        label = f"t={t:.2f}s"
        panels.append((_caption(label, near), draw_boxes(frame, gt, boxes_near(timed, t, 0.5), label)))
    truth = result.get("truth") or {}
    bar = timeline(
        duration,
        [tuple(truth["span"])] if truth.get("span") else [],
        [tuple(result["span"])] if result.get("span") else [],
        marks=[t for t, _ in timed],
        width=max(480, sum(p.width for _, p in panels)),
    )
    return panels, bar


CSS = """
body{font-family:system-ui,sans-serif;margin:20px auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:8px 0;font-size:14px} th,td{border:1px solid #ddd;padding:3px 8px;
text-align:left} th{background:#f4f4f4} pre{white-space:pre-wrap;background:#f8f8f8;padding:8px;font-size:13px}
.panels{display:flex;flex-wrap:wrap;gap:8px} figure{margin:0} figcaption{font-size:12px;color:#555}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.muted{color:#777;font-size:13px}
"""


def _num(v: Any, digits: int = 3) -> str:
    return "–" if v is None else f"{float(v):.{digits}f}"


def _span(s: Any) -> str:
    return "–" if not s else f"{float(s[0]):.2f} s to {float(s[1]):.2f} s"


def _rgb(c: tuple[int, int, int]) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def _truth_html(truth: dict | None) -> str:
    if not truth:
        return "<p class=muted>No synthetic world holds this video: there is no truth to compare with.</p>"
    e = html.escape
    rows = [
        ("world", e(str(truth["world"]))),
        ("video / image", f"{e(str(truth['id']))} (split: {e(str(truth.get('split')))})"),
        ("object the question names", e(str(truth["object"] or "none: " + truth.get("note", "")))),
        ("true visible span", _span(truth["span"])),
        ("tIoU of the answer span", _num(truth["tiou"])),
        ("mean evidence box IoU", _num(truth["mean_evidence_iou"])),
        ("answer box IoU", _num(truth["answer_box_iou"])),
    ]
    head = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    ev = "".join(
        f"<tr><td>{e(str(r['object']))}</td><td>{_num(r['time'], 2)}</td><td>{e(str(r['box']))}</td>"
        f"<td>{e(str(r['truth_object']))}</td><td>{e(str(r['true_box']))}</td><td>{_num(r['iou'])}</td></tr>"
        for r in truth["evidence"]
    )
    table = (
        "<table><tr><th>claimed object</th><th>time (s)</th><th>predicted box</th><th>true object</th>"
        f"<th>true box</th><th>IoU</th></tr>{ev}</table>"
        if ev
        else "<p class=muted>The answer claims no evidence boxes.</p>"
    )
    return f"<h2>Against the world's truth</h2><table>{head}</table><h3>Evidence boxes</h3>{table}"


def render_page(result: dict, panels: list[tuple[str, Any]], bar: Any = None) -> str:
    """The self-contained HTML page of one answer (images embedded as PNG data URIs)."""
    e = html.escape
    figures = "".join(
        f"<figure><img src='{png_data_uri(img)}' alt='{e(label)}'><figcaption>{e(label)}</figcaption></figure>"
        for label, img in panels
    )
    timeline_html = (
        f"<h3>Timeline</h3><img src='{png_data_uri(bar)}' alt='answer span against the true span'>" if bar else ""
    )
    answer = result.get("answer")
    body = "\n".join(
        [
            "<h1>o3v infer</h1>",
            f"<div class=muted>{e(str(result['video']))} · task {e(str(result['task']))} · video "
            f"{result['video_size'][0]}x{result['video_size'][1]} px, boxes in original-video pixels</div>",
            "<table>",
            f"<tr><th>question</th><td>{e(str(result['question']))}</td></tr>",
            f"<tr><th>answer</th><td>{e(answer) if answer is not None else '<i>no answer block</i>'}</td></tr>",
            f"<tr><th>answer span</th><td>{_span(result.get('span'))}</td></tr>",
            f"<tr><th>option</th><td>{e(str(result.get('option') or '–'))}</td></tr>",
            f"<tr><th>confidence</th><td>{_num(result.get('confidence'), 2)} "
            f"<span class=muted>({e(str(result.get('confidence_note', '')))})</span></td></tr>",
            "</table>",
            _truth_html(result.get("truth")),
            "<h2>Evidence</h2><div class='legend muted'>boxes and spans:"
            f"<span style='background:{_rgb(GT_COLOR)}'></span>truth"
            f"<span style='background:{_rgb(PRED_COLOR)}'></span>prediction</div>",
            f"<div class=panels>{figures}</div>",
            timeline_html,
            f"<h3>Raw completion</h3><pre>{e(str(result.get('raw', '')))}</pre>",
        ]
    )
    return htmlpage.document("o3v infer", body, css=CSS)


def write_page(media: str | Path, result: dict, out: str | Path, scene: Any = None) -> Path:
    """Draw the pictures of `result` and write the page to `out`."""
    panels, bar = pictures(media, result, scene)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page(result, panels, bar), encoding="utf-8")
    return out
