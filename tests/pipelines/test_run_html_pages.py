"""Every HTML artifact of the tiny pipeline run renders offline from its own file in headless Chromium.

Artifacts are found generically (any output file that is an HTML document), so a new HTML output is checked
without editing this test. Screenshots: build/test-outputs/html-artifacts/pipeline/<task>__<output>.png.
"""

from __future__ import annotations

import re

import pytest
from chromium_cdp import SCREENSHOTS, assert_renders_offline, html_artifacts

# The kinds a whole run must produce: the gates' Data Docs, both training-curve pages, the eval report.
EXPECTED_KINDS = {"validate/docs", "train-sft/curves", "train-gspo/curves", "build-report/report"}


def _kind(rel: str) -> str:
    """`validate-3/docs` -> `validate/docs`: the task name without kfp's numeric suffix, then the output."""
    task, _, rest = rel.partition("/")
    return re.sub(r"-\d+$", "", task) + "/" + rest


@pytest.mark.e2e
def test_every_html_artifact_of_a_run_renders_offline(tiny_runs, browser) -> None:
    _, first, _ = tiny_runs
    found = {p.relative_to(first.run_dir).as_posix(): p for p in html_artifacts(first.run_dir)}
    kinds = {_kind(rel) for rel in found}
    assert EXPECTED_KINDS <= kinds, f"missing HTML artifacts: {EXPECTED_KINDS - kinds} (found {sorted(found)})"
    seen = []
    for rel, path in sorted(found.items()):
        shot = SCREENSHOTS / "pipeline" / (rel.replace("/", "__") + ".png")
        report = browser.open(path, screenshot=shot)
        assert_renders_offline(report)
        assert shot.stat().st_size > 5000
        seen.append((rel, report.title, len(report.images), report.restyled, report.elements))
    print("\n".join(f"{rel}: {title!r}, {n} images, {r}/{e} styled" for rel, title, n, r, e in seen))
