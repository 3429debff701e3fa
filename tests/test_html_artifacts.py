"""Every kind of HTML artifact o3v writes renders offline from its single file, in headless Chromium.

Fast variant: the artifacts made directly from the library on small inputs (a passing and a failing gate's
Data Docs, a training-curves page, an eval report page, a page built with o3v.htmlpage). The same checks over
the artifacts of the tiny pipeline run are in tests/pipelines/test_run_html_pages.py. Screenshots go to
build/test-outputs/html-artifacts/.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from chromium_cdp import SCREENSHOTS, assert_renders_offline
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent / "o3v" / "curate"))
from curate_builders import clean_records, modified, spatial, write_dataset  # noqa: E402

from o3v import htmlpage  # noqa: E402

# A computed style each kind of page must show when its stylesheet applies (not a string in the HTML).
PROBES = {
    "card_border": "(e => e ? getComputedStyle(e).borderTopWidth : 'none')(document.querySelector('.card'))",
    "row_display": "(e => e ? getComputedStyle(e).display : 'none')(document.querySelector('.row'))",
    "body_font": "getComputedStyle(document.body).fontFamily",
}


CSS = "body{margin:2em;font-family:serif;color:#223}"


def _png_bytes(size=(320, 200)) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, (250, 250, 250))
    for x in range(size[0]):
        img.putpixel((x, size[1] - 1 - (x * (size[1] - 1)) // size[0]), (30, 90, 200))
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from o3v.curate.gates import validate

    tmp = tmp_path_factory.mktemp("html")
    good = write_dataset(tmp / "good", clean_records())
    big = modified(spatial("big"), key_items={"0": {"blue square": [[0.0, 0.0, 0.95, 0.95]]}, "1": {}})
    bad = write_dataset(tmp / "bad", [*clean_records(), big])
    out = {
        "gate-passed": validate(good, "filtered", tmp / "gate_ok").html_path,
        "gate-failed": validate(bad, "filtered", tmp / "gate_bad").html_path,
    }
    (tmp / "plot.png").write_bytes(_png_bytes())
    page = htmlpage.document(
        "o3v page",
        "<h1>curve</h1><img src='plot.png' alt='curve'>",
        css="body{margin:2em;font-family:serif;color:#223}",
    )
    (tmp / "page.html").write_text(htmlpage.self_contained(page, tmp))
    out["htmlpage"] = tmp / "page.html"
    out["ablation"] = _ablation_page(tmp / "ablation")
    return out


def _ablation_page(folder: Path) -> Path:
    """The `make reproduce` page (o3v.ablation.page) for two made-up seeds."""
    from o3v.ablation.page import write_outputs

    def seed(s: int, sft: float, gspo: float) -> dict:
        def vstar(v: float) -> dict:
            keys = ("mam", "mlgm", "tiou_chain1", "tiou_chain2", "viou_chain1", "viou_chain2")
            return {"metrics": dict.fromkeys(keys, v), "baselines": {"best_constant_span": {"tiou": 0.4}}}

        log = [{"step": i, "reward": 1.0 + i / 10, "frac_reward_zero_std": 0.25} for i in (1, 2, 3)]
        return {"seed": s, "rows": {"sft": {"vstar": vstar(sft)}, "gspo": {"vstar": vstar(gspo)}},
                "gspo_logs": {"gspo": log}}  # fmt: skip

    write_outputs([seed(0, 0.3, 0.31), seed(1, 0.3, 0.28)], folder)
    return folder / "ablation.html"


@pytest.mark.parametrize("kind", ["gate-passed", "gate-failed", "htmlpage", "ablation"])
def test_page_renders_offline_in_chromium(browser, pages, kind) -> None:
    report = browser.open(pages[kind], screenshot=SCREENSHOTS / "fast" / f"{kind}.png", probes=PROBES)
    assert_renders_offline(report)
    assert report.screenshot.stat().st_size > 5000
    if kind.startswith("gate"):
        # o3v's Data Docs stylesheet applies: Bootstrap-style cards and the flex grid, and GX's logo shows
        assert report.probes["card_border"] == "1px" and report.probes["row_display"] == "flex"
        assert [i["alt"] for i in report.images] == ["Great Expectations"]
        verdict = "Succeeded" if kind == "gate-passed" else "Failed"
        assert verdict in report.text
    elif kind == "ablation":  # the metrics plot and the GSPO diagnostics, inlined; the verdict in words
        assert len(report.images) == 2 and all(i["w"] > 500 for i in report.images)
        assert "does not beat SFT only" in report.text
    else:
        assert [(i["w"], i["h"]) for i in report.images] == [(320, 200)]


def test_raw_gx_page_fails_the_same_checks(browser, tmp_path) -> None:
    """The checks can fail: GX's own page (CDN links, S3 logo) does not render offline."""
    from o3v.curate.datadocs import gx_logo

    logo = gx_logo()
    raw = tmp_path / "raw.html"
    raw.write_text(
        "<html><head><link rel='stylesheet' href='https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css'>"
        "</head><body><div class='card'>x</div><img src='https://example.com/logo.png'>"
        f"<img src='{logo.as_uri() if logo else 'missing.png'}'></body></html>"
    )
    report = browser.open(raw)
    assert report.external_requests  # the CDN sheet and the remote image were asked for (and failed)
    with pytest.raises(AssertionError):
        assert_renders_offline(report)
