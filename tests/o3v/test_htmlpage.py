"""o3v.htmlpage: one self-contained file out of a page with local and remote resources (no browser here;
tests/test_html_artifacts.py loads the results in headless Chromium)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from o3v import htmlpage


def _png(path, size=(6, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


PAGE = """<!DOCTYPE html><html><head><title>t &amp; u</title>
<link rel="stylesheet" href="https://cdn.example.com/bootstrap.css">
<link rel="stylesheet" href="css/site.css">
<link rel="icon" href="https://cdn.example.com/favicon.ico">
<script src="https://code.example.com/jquery.js"></script>
<script>window.x = 1;</script>
<style>h1 { background: url('img/dot.png') } h2 { background: url(https://x.example.com/a.png) }</style>
</head><body>
<nav><a href="../index.html">Home</a> <a href="#sec">Section</a> <a href="https://example.com/docs">docs</a></nav>
<img src="img/dot.png" alt="dot"><img src="https://s3.example.com/logo.png" alt="logo">
<div style="background-image: url(img/dot.png)">&lt;kept&gt; &#169;</div>
<iframe src="https://example.com/embed">fallback</iframe>
</body></html>"""


def test_local_resources_are_inlined_and_remote_ones_dropped(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "css").mkdir()
    png = _png(tmp_path / "img" / "dot.png")
    (tmp_path / "css" / "site.css").write_text("@import 'more.css'; body { background: url(../img/dot.png) }")
    (tmp_path / "css" / "more.css").write_text("p { color: #123456 }")
    assert len(htmlpage.external_references(PAGE)) == 10  # local files count too: they are outside the page
    out = htmlpage.self_contained(PAGE, tmp_path, extra_css="body{margin:0}", relative_links="drop")
    assert htmlpage.external_references(out) == []
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    assert out.count(uri) == 4  # <img>, the <style> url(), the style attribute, the linked sheet's url()
    assert "p { color: #123456 }" in out and "<script" not in out and "window.x" not in out
    assert "cdn.example.com" not in out and "s3.example.com" not in out and "<iframe" not in out
    assert "background: none" in out  # a remote CSS url() becomes `none`
    assert "<a>Home</a>" in out and 'href="#sec"' in out and 'href="https://example.com/docs"' in out
    assert "&lt;kept&gt; &#169;" in out and "<title>t &amp; u</title>" in out
    assert out.index("<style>body{margin:0}</style>") < out.index("</head>")


def test_inline_scripts_can_be_kept_and_links_left_alone(tmp_path):
    out = htmlpage.self_contained(PAGE, tmp_path, keep_inline_scripts=True)
    assert "<script>window.x = 1;</script>" in out and "jquery" not in out
    assert 'href="../index.html"' in out
    # the local file is missing here: both images are dropped (their alt text stays), none is left broken
    assert "<img" not in out and "<span>dot</span>" in out and "<span>logo</span>" in out


def test_document_and_data_uris(tmp_path):
    _png(tmp_path / "a.png")
    page = htmlpage.document("x < y", f"<img src='{htmlpage.file_data_uri(tmp_path / 'a.png')}'>", css="b{}")
    assert page.startswith("<!doctype html>") and "<title>x &lt; y</title>" in page and "<style>b{}</style>" in page
    assert htmlpage.external_references(page) == []
    assert htmlpage.mime_of("x.svg") == "image/svg+xml" and htmlpage.mime_of("x.PNG") == "image/png"
    assert htmlpage.is_remote("//cdn.x/y.js") and not htmlpage.is_remote("a/b.css")
