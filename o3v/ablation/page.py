"""The ablation's outputs: a Markdown table, PNG plots and one self-contained HTML page (o3v.htmlpage).

    write_outputs(seed_results, out_dir)   # -> ablation.md, ablation.png, gspo_diagnostics.png, ablation.html,
                                           #    metrics.json (every number of the table, per seed included)

The page says in words whether SFT+GSPO beats SFT-only on mAM and mLGM with a paired 95% interval that
excludes 0. When it does not, the GSPO diagnostics below the table show why: reward per term, group reward
std and the share of groups with zero std (no gradient), clip fractions and completion lengths.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from o3v import htmlpage
from o3v.ablation.aggregate import HEADLINE, diagnostics, summarize
from o3v.ablation.variants import BY_NAME, VARIANTS

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#1d2330;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccd;padding:4px 8px;text-align:right}
th{background:#eef1f6}.l{text-align:left}
.banner{padding:10px 14px;border-radius:6px;margin:1em 0}.ok{background:#e3f6e6}.warn{background:#fdf0dc}
.muted{color:#667;font-size:13px}img{max-width:100%;border:1px solid #dde}pre{white-space:pre-wrap}
"""


def _num(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v + 0.0:.{digits}f}"


def _ci(cell: Mapping[str, Any], signed: bool = False) -> str:
    """`0.412 ± 0.031` style: mean [lo, hi] (no interval for one seed)."""
    mean, (lo, hi) = cell.get("mean"), cell.get("ci95", [None, None])
    if mean is None:
        return "–"
    fmt = "{:+.3f}" if signed else "{:.3f}"
    text = fmt.format(mean + 0.0)
    return text if lo is None else f"{text} [{fmt.format(lo + 0.0)}, {fmt.format(hi + 0.0)}]"


def _label(name: str) -> str:
    return BY_NAME[name].label if name in BY_NAME else name


def headline_text(summary: Mapping[str, Any]) -> tuple[bool, str]:
    """(does the o3v default GSPO row beat SFT-only on mAM and mLGM?, the sentence saying so)."""
    ref = _label(summary.get("reference", "sft"))
    verdicts = summary.get("headline", {}).get("gspo", {})
    n = summary.get("n_seeds", 0)
    if not verdicts:
        return False, f"No SFT+GSPO vs {ref} comparison: the default GSPO row or the SFT row is missing."
    parts = []
    for label in HEADLINE:
        d = summary["deltas"]["gspo"].get(label, {})
        parts.append(f"{label} {verdicts.get(label, 'not above')} ({_ci(d, signed=True)})")
    won = all(verdicts.get(label) == "above" for label in HEADLINE)
    if won:
        return True, (
            f"SFT+GSPO (o3v default) beats {ref} on mAM and mLGM: the paired 95% intervals over {n} seeds "
            f"exclude 0 — " + "; ".join(parts) + "."
        )
    return False, (
        f"SFT+GSPO (o3v default) does not beat {ref} on both mAM and mLGM with a 95% interval excluding 0 over "
        f"{n} seeds — " + "; ".join(parts) + ". The GSPO diagnostics below show what the RL stage did."
    )


def why_lines(diag: Mapping[str, Mapping[str, Any]], row: str = "gspo") -> list[str]:
    """What the default GSPO row's logs say about its learning signal, in plain sentences (empty without logs)."""
    d = diag.get(row)
    if not d or not d["curves"]:
        return []
    curves, overall = d["curves"], d["overall"]

    def span(key: str) -> str:
        pts = curves.get(key)
        return f"{_num(pts[0][1])} → {_num(pts[-1][1])}" if pts else "not logged"

    steps = max((pts[-1][0] for pts in curves.values() if pts), default=0)
    return [
        f"{steps} GSPO steps per run, {d['n_runs']} runs: total reward (first → last step) {span('reward')}.",
        f"Group reward std {_num(overall.get('reward_std'))} on average; "
        f"{_num(100 * (overall.get('frac_reward_zero_std') or 0.0), 0)}% of groups had zero std "
        "(identical rewards: no advantage, no gradient).",
        f"Clip fraction {_num(overall.get('clip_ratio/region_mean'))} on average "
        "(share of sequences whose ratio left the trust region).",
        f"Completion length (tokens) {span('completions/mean_length')}.",
    ]


def markdown_table(summary: Mapping[str, Any], diag: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Rows = variants, columns = metrics (mean [95% t-interval] over seeds), then baselines and paired deltas."""
    labels = summary["metrics"]
    n = summary["n_seeds"]
    won, sentence = headline_text(summary)
    out = [f"# o3v ablation: SFT vs SFT+GSPO ({n} seeds: {summary['seeds']})", "", sentence, ""]
    if not won and diag:
        out += [f"- {line}" for line in why_lines(diag)] + [""]
    out += ["Mean over seeds [95% t-interval]; blind = the same model asked with another clip's frames.", ""]
    out.append("| row | " + " | ".join(labels) + " |")
    out.append("|---|" + "---:|" * len(labels))
    for name, cells in summary["rows"].items():
        row = [_ci(cells[label]) for label in labels]
        out.append(f"| {_label(name)} | " + " | ".join(row) + " |")
        if any(cells[label].get("blind") is not None for label in labels):
            out.append("| ↳ blind | " + " | ".join(_num(cells[label].get("blind")) for label in labels) + " |")
    out.append("| best constant | " + " | ".join(_num(summary["baselines"].get(label)) for label in labels) + " |")
    out += ["", f"Paired per-seed difference, row minus {_label(summary['reference'])} [95% t-interval]:", ""]
    out.append("| row | " + " | ".join(labels) + " |")
    out.append("|---|" + "---:|" * len(labels))
    for name, cells in summary["deltas"].items():
        out.append(f"| {_label(name)} | " + " | ".join(_ci(cells.get(k, {}), signed=True) for k in labels) + " |")
    return "\n".join(out) + "\n"


def plot_metrics(summary: Mapping[str, Any], path: Path) -> Path:
    """Grouped bars: each metric, each row's mean with its 95% interval, the best constant as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, rows = summary["metrics"], list(summary["rows"])
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=100)
    width = 0.8 / max(1, len(rows))
    for i, name in enumerate(rows):
        cells = [summary["rows"][name][label] for label in labels]
        means = [c["mean"] if c["mean"] is not None else 0.0 for c in cells]
        err = [
            [m - c["ci95"][0] if c["ci95"][0] is not None else 0.0 for m, c in zip(means, cells, strict=True)],
            [c["ci95"][1] - m if c["ci95"][1] is not None else 0.0 for m, c in zip(means, cells, strict=True)],
        ]
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(labels))]
        ax.bar(xs, means, width, yerr=err, capsize=2, label=_label(name))
    for j, label in enumerate(labels):
        base = summary["baselines"].get(label)
        if base is not None:
            ax.hlines(base, j - 0.45, j + 0.45, colors="k", linestyles="dashed", linewidth=1)
    ax.set_xticks(range(len(labels)), labels, fontsize=9)
    ax.set_ylabel(f"mean over {summary['n_seeds']} seeds (95% t-interval)")
    ax.set_title("SFT vs SFT+GSPO ablation (dashed: best constant baseline)")
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_diagnostics(diag: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """GSPO curves per row (mean over seeds by step): reward terms, group std, zero-std share, clip, length."""
    if not diag:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("reward", "total reward"),
        ("reward_std", "group reward std"),
        ("frac_reward_zero_std", "share of zero-std groups"),
        ("clip_ratio/region_mean", "clip fraction"),
        ("completions/mean_length", "completion length (tokens)"),
    ]
    terms = sorted({k for d in diag.values() for k in d["curves"] if k.startswith("rewards/")})
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), dpi=90)
    flat = list(axes.flat)
    for ax, (key, title) in zip(flat, panels, strict=False):
        for name, d in diag.items():
            pts = d["curves"].get(key)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ".-", label=_label(name), linewidth=1, markersize=3)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("GSPO step", fontsize=8)
    ax = flat[5]
    default = diag.get("gspo") or next(iter(diag.values()))
    for key in terms:
        pts = default["curves"].get(key)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ".-", label=key.split("/")[1], linewidth=1, markersize=3)
    ax.set_title("reward per term (o3v default row)", fontsize=10)
    ax.legend(fontsize=7)
    flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _diag_table(diag: Mapping[str, Mapping[str, Any]]) -> str:
    keys = ["reward", "reward_std", "frac_reward_zero_std", "clip_ratio/region_mean", "completions/mean_length"]
    terms = sorted({k for d in diag.values() for k in d["overall"] if k.startswith("rewards/")})
    head = "".join(f"<th>{html.escape(k)}</th>" for k in [*keys, *terms])
    body = []
    for name, d in diag.items():
        cells = "".join(f"<td>{_num(d['overall'].get(k))}</td>" for k in [*keys, *terms])
        body.append(f"<tr><td class=l>{html.escape(_label(name))}</td><td>{d['n_runs']}</td>{cells}</tr>")
    return f"<table><tr><th class=l>row</th><th>runs</th>{head}</tr>{''.join(body)}</table>"


def render_html(summary: Mapping[str, Any], diag: Mapping[str, Any], table_md: str, plots: Sequence[str]) -> str:
    """The page body (images by file name; `write_outputs` inlines them)."""
    won, sentence = headline_text(summary)
    lines = [] if won else why_lines(diag)
    why = "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>" if lines else ""
    labels = summary["metrics"]
    rows = []
    for name, cells in summary["rows"].items():
        tds = "".join(f"<td>{html.escape(_ci(cells[k]))}</td>" for k in labels)
        rows.append(f"<tr><td class=l>{html.escape(_label(name))}</td>{tds}</tr>")
        if any(cells[k].get("blind") is not None for k in labels):
            blind = "".join(f"<td class=muted>{_num(cells[k].get('blind'))}</td>" for k in labels)
            rows.append(f"<tr><td class='l muted'>↳ blind frames</td>{blind}</tr>")
    consts = "".join(f"<td>{_num(summary['baselines'].get(k))}</td>" for k in labels)
    rows.append(f"<tr><td class=l>best constant baseline</td>{consts}</tr>")
    head = "".join(f"<th>{html.escape(k)}</th>" for k in labels)
    deltas = [
        f"<tr><td class=l>{html.escape(_label(n))}</td>"
        + "".join(f"<td>{html.escape(_ci(c.get(k, {}), signed=True))}</td>" for k in labels)
        + "</tr>"
        for n, c in summary["deltas"].items()
    ]
    imgs = "".join(f"<p><img src='{html.escape(p)}' alt='{html.escape(p)}'></p>" for p in plots)
    body = (
        f"<h1>SFT vs SFT+GSPO ablation</h1><div class=muted>{summary['n_seeds']} seeds {summary['seeds']} · "
        "synthetic world, V-STaR-format and TVGBench-format held-out files · mean over seeds [95% t-interval, "
        "n − 1 degrees of freedom]</div>"
        f"<div class='banner {'ok' if won else 'warn'}'>{html.escape(sentence)}{why}</div>"
        f"<h2>Scores</h2><table><tr><th class=l>row</th>{head}</tr>{''.join(rows)}</table>"
        f"<h2>Paired difference: row minus {html.escape(_label(summary['reference']))}</h2>"
        f"<table><tr><th class=l>row</th>{head}</tr>{''.join(deltas)}</table>"
        f"<h2>Plots and GSPO diagnostics</h2>{imgs}"
        + (f"<h3>GSPO logs, mean over steps and seeds</h3>{_diag_table(diag)}" if diag else "")
        + f"<h2>Markdown</h2><pre>{html.escape(table_md)}</pre>"
    )
    return htmlpage.document("o3v ablation: SFT vs SFT+GSPO", body, css=CSS)


def write_outputs(seed_results: Sequence[Mapping[str, Any]], out_dir: str | Path) -> dict[str, Any]:
    """Write the table, plots, page and metrics.json for per-seed results; returns the summary dict.

    `seed_results`: one dict per seed, {"seed", "rows": {variant: {benchmark: eval result}},
    "gspo_logs": {variant: [train_log rows]}} (`o3v.artifacts.stages.ablation.seed_result`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    present = {name for s in seed_results for name in s["rows"]}
    variants = [v.name for v in VARIANTS if v.name in present]
    summary = summarize(seed_results, variants)
    diag = {
        name: diagnostics([s["gspo_logs"][name] for s in seed_results if name in s.get("gspo_logs", {})])
        for name in variants
        if any(name in s.get("gspo_logs", {}) for s in seed_results)
    }
    summary["beats_sft"] = headline_text(summary)[0]
    summary["gspo_diagnostics"] = {name: d["overall"] for name, d in diag.items()}
    table = markdown_table(summary, diag)
    (out / "ablation.md").write_text(table, encoding="utf-8")
    plots = [plot_metrics(summary, out / "ablation.png").name]
    if plot_diagnostics(diag, out / "gspo_diagnostics.png"):
        plots.append("gspo_diagnostics.png")
    page = render_html(summary, diag, table, plots)
    (out / "ablation.html").write_text(htmlpage.self_contained(page, out), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps({**summary, "diagnostics": diag}, indent=2), encoding="utf-8")
    return summary
