"""The evaluation report: one self-contained HTML page plus a combined `metrics.json`.

    o3v eval report out/eval/vstar out/eval/tvgbench out/eval/videomme --out out/report

For every benchmark result folder (written by `o3v.eval.runner.evaluate`) the page shows the headline metrics
beside the paper's numbers (benchmarks.md §8), beside **every** constant baseline, with a verdict that counts a
score as a gain only when the 95% interval of its gap to the best baseline excludes 0; for every benchmark the
blind-frame ablation (the same questions asked with another clip's frames); and an evidence gallery (frames with
ground-truth boxes in green and predicted boxes in red, timelines of predicted vs ground-truth spans).

A tiny model trained on CPU scores at these baselines (tiny-learning.md); the page says so in a banner at the
top instead of leaving the reader to find it. Images are embedded as base64 PNG and the CSS is inline, so the
HTML file is the whole report.
"""

from __future__ import annotations

import html
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import yaml

from o3v.eval.benchmarks import get
from o3v.eval.benchmarks.base import Evidence, Sample, match_rows
from o3v.eval.render import boxes_near, draw_boxes, hstack, panel_times, png_data_uri, timeline, vstack

log = logging.getLogger(__name__)
PAPER_FILE = Path(__file__).resolve().parents[1] / "configs" / "eval" / "paper.yaml"
PAPER_MODELS = ("Open-o3 Video", "Qwen2.5-VL-7B")


# ----------------------------------------------------------------------------- numbers


def value_at(data: dict, path: str) -> float | None:
    """`data["a"]["b"]` for path "a.b" (keys may contain dots only at the last level); None when absent."""
    node: Any = data
    parts = path.split(".")
    i = 0
    while i < len(parts):
        for j in range(len(parts), i, -1):  # longest key first: "r@0.5" holds a dot
            key = ".".join(parts[i:j])
            if isinstance(node, dict) and key in node:
                node, i = node[key], j
                break
        else:
            return None
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def standard_error(p: float, q: float, n: int, sd_p: float | None = None, sd_q: float | None = None) -> float:
    """Standard error of the difference of two means over n samples each, treated as independent.

    Each mean's per-item variance is its sample's own (`sd_p`, `sd_q`: the `<metric>_sd` the benchmark adapters
    store beside a mean over items) or, where that is unknown, the Bhatia-Davis bound p(1 - p) of a [0, 1]
    variable with mean p (exact for 0/1 scores such as accuracy). The two scores of one item usually rise and fall
    together (an easy item is easy for the model, its blind run and a constant alike), so ignoring that covariance
    errs wide; a constant fit on the whole file has at least n items, so using n for it errs wide too.

    >>> round(standard_error(0.5, 0.4, 100), 4), round(standard_error(0.5, 0.4, 100, sd_p=0.2, sd_q=0.1), 4)
    (0.07, 0.0224)
    """
    if n <= 0:
        return math.inf
    var_p = sd_p**2 if sd_p is not None else max(p * (1 - p), 0.0)
    var_q = sd_q**2 if sd_q is not None else max(q * (1 - q), 0.0)
    return math.sqrt((var_p + var_q) / n)


def sd_at(data: dict, path: str) -> float | None:
    """The per-item standard deviation stored beside the mean at `path` (`<path>_sd`); None when absent."""
    return value_at(data, f"{path}_sd")


Z95 = 1.96  # two-sided 95% normal quantile


def interval(delta: float, se: float) -> list[float]:
    """The 95% normal interval of a difference with standard error `se`."""
    return [delta - Z95 * se, delta + Z95 * se]


def compare(
    value: float | None,
    baselines: dict[str, float],
    n: int,
    *,
    lower_is_better: bool = False,
    sd: float | None = None,
    baseline_sds: dict[str, float | None] | None = None,
) -> dict:
    """Best baseline, the gap to it with its 95% interval, and the verdict: a gain counts only when the interval
    excludes 0 ("above baseline"), a loss only when it lies wholly below 0. `sd` and `baseline_sds` are the
    per-item spreads where known (`standard_error`)."""
    if value is None:
        return {"verdict": "not scored"}
    if not baselines:
        return {"verdict": "no constant baseline"}
    name, best = max(baselines.items(), key=lambda kv: -kv[1] if lower_is_better else kv[1])
    delta = (best - value) if lower_is_better else (value - best)
    sd_best = (baseline_sds or {}).get(name)
    se = standard_error(value, best, n, sd, sd_best)
    lo, hi = interval(delta, se)
    verdict = "above baseline" if lo > 0 else "below baseline" if hi < 0 else "at baseline"
    return {"best_baseline": name, "baseline_value": best, "delta": delta, "se": se, "ci95": [lo, hi],
            "se_basis": se_basis(sd, sd_best), "verdict": verdict}  # fmt: skip


def se_basis(sd_p: float | None, sd_q: float | None) -> str:
    """How `standard_error` got its variances: "sample sd" (both measured), "bound" (neither) or "mixed"."""
    known = (sd_p is not None) + (sd_q is not None)
    return "sample sd" if known == 2 else "bound" if known == 0 else "mixed"


def grounded_verdict(row: dict) -> str:
    """Plain words for a headline row: does it clear the best constant *and* its own blind-frame run?"""
    above_const = row.get("verdict") == "above baseline"
    blind = row.get("blind")
    if blind is None:
        return "above the constant baselines (no blind run)" if above_const else "not above the constant baselines"
    if above_const and blind["uses_frames"]:
        return "above constant and blind"
    if above_const:
        return "above constant, not above blind"
    if blind["uses_frames"]:
        return "above blind, not above constant"
    return "not above constant or blind"


def paper_values(benchmark: str, column: str | None) -> dict[str, float | None]:
    """Published values (percent) of the paper's reference models for a column (benchmarks.md §8)."""
    if not column:
        return {}
    paper = yaml.safe_load(PAPER_FILE.read_text(encoding="utf-8"))
    table = paper[getattr(get(benchmark), "PAPER_TABLE", "other")]
    if column not in table["columns"]:
        return {}
    k = table["columns"].index(column)
    return {m: table["rows"][m][k] if m in table["rows"] else None for m in PAPER_MODELS}


def headline_rows(result: dict) -> list[dict]:
    """Per headline metric of a result: value, every baseline, the comparison, paper values, the blind value."""
    adapter = get(result["benchmark"])
    rows = []
    n = int(result.get("n_scored") or 0)
    blind = (result.get("blind_frame") or {}).get("metrics") or {}
    for spec in adapter.HEADLINE:
        value = value_at(result["metrics"], spec["metric"])
        if value is None:
            continue
        bases, base_sds = {}, {}
        for path in spec["baselines"]:
            if (v := value_at(result["baselines"], path)) is not None:
                name = path.split(".")[0]
                bases[name] = v
                base_sds[name] = sd_at(result["baselines"], path)
        sd = sd_at(result["metrics"], spec["metric"])
        n_metric = int(value_at(result["metrics"], spec["n"]) or 0) if spec.get("n") else n
        row = {
            "metric": spec["metric"],
            "label": spec["label"],
            "value": value,
            "baselines": bases,
            "n": n_metric,
            **compare(
                value,
                bases,
                n_metric,
                lower_is_better=spec.get("lower_is_better", False),
                sd=sd,
                baseline_sds=base_sds,
            ),
            "paper": paper_values(result["benchmark"], spec.get("paper")),
        }
        blind_value = value_at(blind, spec["metric"]) if blind else None
        if blind_value is not None and value is not None:
            delta = value - blind_value
            n_blind = int(value_at(blind, spec["n"]) or 0) if spec.get("n") else int(result["blind_frame"]["n"] or 0)
            sd_blind = sd_at(blind, spec["metric"])
            se = standard_error(value, blind_value, n_blind, sd, sd_blind)
            lo, hi = interval(delta, se)
            row["blind"] = {"value": blind_value, "delta": delta, "se": se, "ci95": [lo, hi],
                            "se_basis": se_basis(sd, sd_blind), "uses_frames": lo > 0}  # fmt: skip
        row["grounded"] = grounded_verdict(row)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- gallery


def _frames_for(sample: Sample, ev: Evidence, media_root: str) -> list[tuple[float | None, Any]]:
    """(time, frame) pairs to draw: the moments with GT or predicted boxes, else three spread-out frames."""
    from o3v.eval.frames import MediaResolver

    resolver = MediaResolver(media_root)
    if sample.image:
        from PIL import Image

        with Image.open(resolver.resolve(sample.image)) as img:
            return [(None, img.convert("RGB"))]
    from o3v.video import frames_at, probe

    path = resolver.resolve(sample.video)
    times = panel_times(ev.gt_boxes, ev.pred_boxes)
    if not times:
        duration = probe(path).duration
        times = [duration * f for f in (0.2, 0.5, 0.8)]
    got = frames_at(path, times)
    return list(zip([float(t) for t in got.times], list(got.frames)))


def gallery_item(sample: Sample, row: dict | None, adapter: Any, media_root: str) -> dict:
    """One gallery entry: an evidence picture (frames with boxes + timeline) and the texts to show."""
    ev = adapter.evidence(sample, row)
    picture = None
    try:
        panels = []
        for t, frame in _frames_for(sample, ev, media_root):
            if t is None:
                gt, pred = [b for _, b in ev.gt_boxes], [b for _, b in ev.pred_boxes]
                label = "image"
            else:
                gt, pred = boxes_near(ev.gt_boxes, t, 0.5), boxes_near(ev.pred_boxes, t, 0.5)
                label = f"t={t:.1f}s"
            panels.append(draw_boxes(frame, gt, pred, label))
        parts = [hstack(panels)]
        if ev.duration and (ev.gt_spans or ev.pred_spans):
            parts.append(
                timeline(
                    ev.duration,
                    [(s.start, s.end) for s in ev.gt_spans],
                    [(s.start, s.end) for s in ev.pred_spans],
                    width=parts[0].width,
                )
            )
        picture = png_data_uri(vstack(parts))
    except Exception as exc:  # noqa: BLE001 - a missing clip must not kill the report; it says why instead
        log.warning("gallery: sample %s: no picture: %s", sample.id, exc)
        picture = None
        ev.predicted = f"{ev.predicted}\n[no picture: {exc}]"
    return {
        "id": sample.id,
        "question": ev.question,
        "answer": ev.answer,
        "predicted": ev.predicted,
        "correct": ev.correct,
        "picture": picture,
    }


def gallery(result_dir: Path, result: dict, limit: int) -> list[dict]:
    adapter = get(result["benchmark"])
    samples = adapter.load(result["annotations"]).samples
    preds = result_dir / ("results.json" if (result_dir / "results.json").is_file() else "predictions.jsonl")
    from o3v.eval.benchmarks.base import read_rows

    rows = match_rows(samples, read_rows(preds), adapter.ID_FIELD, preds) if preds.is_file() else {}
    chosen = [s for s in samples if s.id in rows][:limit]
    return [gallery_item(s, rows[s.id], adapter, result["media_root"]) for s in chosen]


# ----------------------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1180px;color:#222}
h1{margin-bottom:4px} h2{margin-top:36px;border-bottom:2px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:10px 0;font-size:14px} th,td{border:1px solid #ddd;padding:4px 8px;
text-align:right} th{background:#f4f4f4} td.l,th.l{text-align:left}
.banner{padding:12px 16px;border-radius:6px;margin:16px 0;font-size:15px}
.warn{background:#fff4e5;border:1px solid #f0b35a} .ok{background:#eaf7ea;border:1px solid #7cc47c}
.above{color:#1a7f2e;font-weight:600} .below{color:#b3261e;font-weight:600} .at{color:#8a6100;font-weight:600}
.muted{color:#777;font-size:13px} .item{display:flex;gap:16px;margin:14px 0;padding:10px;border:1px solid #eee}
.item img{max-width:640px;border:1px solid #ccc} .item pre{white-space:pre-wrap;margin:2px 0;font-size:13px}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
"""


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v + 0.0:.1f}"  # + 0.0: no "-0.0"


def _table(rows: list[dict], with_blind: bool) -> str:
    head = (
        "<tr><th class=l>metric</th><th>model</th><th class=l>constant baselines</th><th>gap to best [95%]</th>"
        "<th class=l>verdict</th>"
        + ("<th>blind frames</th><th>gap to blind [95%]</th><th class=l>uses the frames?</th>" if with_blind else "")
        + "".join(f"<th>paper: {m}</th>" for m in PAPER_MODELS)
        + "</tr>"
    )
    body = []
    for r in rows:
        bases = ", ".join(f"{html.escape(k)} {_pct(v)}" for k, v in r["baselines"].items()) or "none"
        verdict = r.get("verdict", "")
        cls = {"above baseline": "above", "below baseline": "below", "at baseline": "at"}.get(verdict, "muted")
        gap = (
            f"{100 * r['delta']:+.1f} [{100 * r['ci95'][0]:+.1f}, {100 * r['ci95'][1]:+.1f}]" if "delta" in r else "–"
        )
        cells = [
            f"<td class=l>{html.escape(r['label'])}</td>",
            f"<td>{_pct(r['value'])}</td>",
            f"<td class=l>{bases}</td>",
            f"<td>{gap}</td>",
            f"<td class='l {cls}'>{html.escape(verdict)}</td>",
        ]
        if with_blind:
            b = r.get("blind")
            cells.append(f"<td>{_pct(b['value']) if b else '–'}</td>")
            ci = b["ci95"] if b else None
            cells.append(
                f"<td>{100 * b['delta']:+.1f} [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]</td>" if b else "<td>–</td>"
            )
            uses = ("yes" if b["uses_frames"] else "no: same score without its own frames") if b else "–"
            cells.append(f"<td class='l {'above' if b and b['uses_frames'] else 'at'}'>{uses}</td>")
        cells += [f"<td>{'–' if v is None else f'{v:.1f}'}</td>" for v in (r["paper"].get(m) for m in PAPER_MODELS)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _banner(all_rows: dict[str, list[dict]]) -> str:
    gains = [
        (b, r["label"])
        for b, rows in all_rows.items()
        for r in rows
        if r.get("verdict") == "above baseline" and "unparsable" not in r["metric"]
    ]
    blind_gains = [
        (b, r["label"]) for b, rows in all_rows.items() for r in rows if (r.get("blind") or {}).get("uses_frames")
    ]
    if not gains:
        return (
            "<div class='banner warn'><b>At baseline.</b> No score clears its best constant baseline with a 95% "
            "interval above 0: this model does not (yet) answer better than a constant that ignores the video. "
            "Treat every number below as a check of the mechanics, not of video understanding.</div>"
        )
    text = "; ".join(f"{html.escape(b)}: {html.escape(label)}" for b, label in gains)
    blind = (
        ""
        if blind_gains
        else " The blind-frame ablation shows no dependence on the frames, so these gains "
        "may come from text patterns alone."
    )
    return f"<div class='banner ok'><b>Above baseline:</b> {text}.{blind}</div>"


def render_html(results: list[tuple[Path, dict]], galleries: dict[str, list[dict]], title: str) -> str:
    all_rows = {r["benchmark"]: headline_rows(r) for _, r in results}
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<div class=muted>generated {time.strftime('%Y-%m-%d %H:%M:%S')} · values in percent "
        "(metrics.json stores fractions) · gap = model − best baseline [95% interval; its standard error uses the "
        "per-item spread of each mean where the scorer measured it, else the [0, 1] bound p(1 − p), and ignores the "
        "positive covariance of scores on the same items] · a gain counts only when its interval excludes 0</div>",
        _banner(all_rows),
    ]
    for rdir, res in results:
        name = res["benchmark"]
        judge = (res["metrics"].get("judge") or {}).get("label") if isinstance(res["metrics"], dict) else None
        cfg = res.get("config", {})
        parts.append(
            f"<h2>{html.escape(name)}</h2><div class=muted>model {html.escape(str(res['model']))} · "
            f"{res['n_scored']} of {res['n_samples']} samples scored, {res['n_rejected']} rejected · "
            f"frames {html.escape(json.dumps(cfg.get('frames')))} · max_new_tokens "
            f"{cfg.get('max_new_tokens')} · voting {html.escape(json.dumps(cfg.get('voting', {})))} · "
            f"results in {html.escape(str(rdir))}</div>"
        )
        if judge:
            official = (res["metrics"].get("judge") or {}).get("official")
            parts.append(
                f"<div class='banner {'ok' if official else 'warn'}'>What-accuracy judge: {html.escape(judge)}</div>"
            )
        parts.append(_table(all_rows[name], with_blind=bool(res.get("blind_frame"))))
        if res.get("blind_frame"):
            parts.append(
                "<div class=muted>Blind frames: every sample asked again with another clip's frames and "
                "scored against its own ground truth. A model that uses the video loses score here.</div>"
            )
        items = galleries.get(name, [])
        if items:
            parts.append(
                "<h3>Evidence gallery</h3><div class='legend muted'>boxes and spans:<span "
                "style='background:#28aa3c'></span>ground truth<span style='background:#dc2828'></span>"
                "prediction (original-video pixels)</div>"
            )
            for it in items:
                mark = "" if it["correct"] is None else ("✓ " if it["correct"] else "✗ ")
                img = f"<img src='{it['picture']}' alt='evidence'>" if it["picture"] else "<i>no picture</i>"
                parts.append(
                    f"<div class=item><div>{img}</div><div><pre><b>Q</b> {html.escape(it['question'])}"
                    f"</pre><pre><b>GT</b> {html.escape(str(it['answer']))}</pre><pre><b>{mark}Model</b> "
                    f"{html.escape(str(it['predicted']))}</pre><div class=muted>sample "
                    f"{html.escape(str(it['id']))}</div></div></div>"
                )
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(
    result_dirs: list[str | Path],
    out_dir: str | Path,
    *,
    title: str = "o3v evaluation report",
    gallery_size: int | None = None,
) -> dict:
    """Write `report.html` and a combined `metrics.json` into `out_dir`; returns their paths and the verdicts."""
    results = []
    for d in result_dirs:
        path = Path(d) / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{d}: no metrics.json (is this an `o3v eval run` output folder?)")
        results.append((Path(d), json.loads(path.read_text(encoding="utf-8"))))
    galleries = {}
    for rdir, res in results:
        limit = gallery_size if gallery_size is not None else int(res.get("config", {}).get("gallery", 6))
        galleries[res["benchmark"]] = gallery(rdir, res, limit) if limit > 0 else []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "report.html"
    page.write_text(render_html(results, galleries, title), encoding="utf-8")
    verdicts = {res["benchmark"]: headline_rows(res) for _, res in results}
    combined = {"benchmarks": {res["benchmark"]: res for _, res in results}, "verdicts": verdicts}
    metrics = out / "metrics.json"
    metrics.write_text(json.dumps(combined, indent=2, default=str), encoding="utf-8")
    log.info("report: %s", page)
    return {"html": str(page), "metrics": str(metrics), "verdicts": verdicts}
