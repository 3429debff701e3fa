"""Self-contained HTML pages: one file that renders offline, styles and images included.

Kubeflow shows an HTML artifact in a sandboxed iframe from that single file, so nothing it links may be
fetched: every o3v page (gate Data Docs, training curves, eval report, reproduce page) goes through here.

    from o3v import htmlpage
    page = htmlpage.document("title", "<h1>hi</h1><img src='plot.png'>", css="h1{color:#234}")
    page = htmlpage.self_contained(page, base=Path("folder/with/plot.png/next/to/it"))
    assert htmlpage.external_references(page) == []

- `data_uri(bytes, mime)` / `file_data_uri(path)`: a `data:` URI for an image, font or stylesheet.
- `inline_css(css, base)`: `url(...)` and `@import` of local files become data URIs / inlined text;
  remote ones are dropped (a remote font or background would be fetched, or fail offline).
- `self_contained(html, base)`: local stylesheets become `<style>`, local images/icons become data URIs,
  remote stylesheets/images/icons and every `<script src>` are dropped (an image leaves its alt text;
  inline scripts go too unless `keep_inline_scripts`); `extra_css` is added at the end of `<head>`;
  `relative_links="drop"` removes links to sibling pages the single file does not carry.
- `external_references(html)`: what a browser would fetch from outside the file (empty for a good page).
"""

from __future__ import annotations

import base64
import html as html_lib
import mimetypes
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

_MIME = {
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".otf": "font/otf",
    ".woff2": "font/woff2",
    ".css": "text/css",
}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?(['"]?)([^'")\s;]+)\1\s*\)?[^;]*;""", re.IGNORECASE)
_SRC_TAGS = {"img", "source", "video", "audio", "embed", "iframe", "track", "input"}
_VOID = {"img", "source", "embed", "track", "input", "link", "meta", "br", "hr", "col", "area", "base", "wbr"}


def data_uri(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,...` for `data`."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def mime_of(path: str | Path) -> str:
    """The MIME type o3v uses for a file, from its suffix (application/octet-stream when unknown)."""
    suffix = Path(path).suffix.lower()
    return _MIME.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"


def file_data_uri(path: str | Path) -> str:
    """A data URI holding the file at `path` (its MIME type from the suffix)."""
    return data_uri(Path(path).read_bytes(), mime_of(path))


def is_inline(url: str) -> bool:
    """True for what needs no fetch: data: URIs, fragments, empty and javascript:/about: URLs."""
    url = url.strip()
    return not url or url.startswith("#") or url.split(":", 1)[0].lower() in ("data", "about", "javascript", "blob")


def is_remote(url: str) -> bool:
    """True for a URL with a network scheme or a scheme-relative `//host/...` URL."""
    url = url.strip()
    return url.startswith("//") or urlsplit(url).scheme.lower() in ("http", "https", "ftp", "ws", "wss")


def _local_file(url: str, base: Path | None) -> Path | None:
    """The local file a relative or file: URL names under `base`, when it exists."""
    if is_inline(url) or is_remote(url):
        return None
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
    elif parts.scheme or base is None:
        return None
    else:
        path = base / unquote(parts.path)
    return path if path.is_file() else None


def inline_css(css: str, base: Path | None = None, _depth: int = 0) -> str:
    """`css` with local `@import`s inlined and local `url(...)`s as data URIs; remote ones dropped."""

    def imported(m: re.Match) -> str:
        path = _local_file(m[2], base)
        if path is None or _depth > 4:
            return ""
        return inline_css(path.read_text(encoding="utf-8", errors="replace"), path.parent, _depth + 1)

    def url(m: re.Match) -> str:
        target = m[2]
        if is_inline(target):
            return m[0]
        path = _local_file(target, base)
        return f'url("{file_data_uri(path)}")' if path is not None else "none"

    return _CSS_URL.sub(url, _CSS_IMPORT.sub(imported, css))


def _attrs_text(attrs: list[tuple[str, str | None]]) -> str:
    return "".join(f" {k}" if v is None else f' {k}="{html_lib.escape(v, quote=True)}"' for k, v in attrs)


class _Inliner(HTMLParser):
    """Re-emits the document unchanged except for the tags `self_contained` rewrites."""

    def __init__(self, base: Path | None, extra_css: str, keep_inline_scripts: bool, relative_links: str) -> None:
        super().__init__(convert_charrefs=False)
        self.base, self.extra_css = base, extra_css
        self.keep_inline_scripts, self.relative_links = keep_inline_scripts, relative_links
        self.out: list[str] = []
        self.skip_until: str | None = None  # end tag that closes a dropped element
        self.in_style = False
        self.added_css = False
        self.dropped: list[str] = []

    def _extra_style(self) -> None:
        if self.extra_css and not self.added_css:
            self.out.append(f"<style>{self.extra_css}</style>")
            self.added_css = True

    def _src(self, url: str) -> str | None:
        """The inlined value of a src/href, or None when the resource must be dropped."""
        if is_inline(url):
            return url
        path = _local_file(url, self.base)
        if path is None:
            self.dropped.append(url)
            return None
        return file_data_uri(path)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if self.skip_until:
            return
        a = dict(attrs)
        end = "/>" if closed else ">"
        if tag == "script":
            if a.get("src") is not None or not self.keep_inline_scripts:
                self.dropped.append(a.get("src") or "<inline script>")
                self.skip_until = None if closed else "script"
                return
        elif tag == "link":
            rel = (a.get("rel") or "").lower().split()
            href = a.get("href") or ""
            if "stylesheet" in rel:
                path = _local_file(href, self.base)
                if path is None:
                    self.dropped.append(href)
                else:
                    css = inline_css(path.read_text(encoding="utf-8", errors="replace"), path.parent)
                    self.out.append(f"<style>{css}</style>")
                return
            if not is_inline(href):
                new = self._src(href) if "icon" in rel else None
                if new is None:
                    if "icon" not in rel:
                        self.dropped.append(href)
                    return
                attrs = [(k, new if k == "href" else v) for k, v in attrs]
        elif tag in _SRC_TAGS and a.get("src") is not None:
            new = self._src(a["src"] or "")
            if new is None:  # a missing/remote image leaves its alt text, not a broken image
                if a.get("alt"):
                    self.out.append(f"<span>{html_lib.escape(a['alt'])}</span>")
                if tag not in _VOID and not closed:
                    self.skip_until = tag
                return
            attrs = [(k, new if k == "src" else v) for k, v in attrs if k != "srcset"]
        elif tag == "a" and self.relative_links == "drop":
            href = a.get("href") or ""
            if href and not is_inline(href) and not is_remote(href):
                attrs = [(k, v) for k, v in attrs if k != "href"]
        elif tag == "style":
            self.in_style = True
        if any(k == "style" and v and "url(" in v for k, v in attrs):
            attrs = [(k, inline_css(v, self.base) if k == "style" and v else v) for k, v in attrs]
        self.out.append(f"<{tag}{_attrs_text(attrs)}{end}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def handle_endtag(self, tag: str) -> None:
        if self.skip_until:
            if tag == self.skip_until:
                self.skip_until = None
            return
        if tag == "style":
            self.in_style = False
        if tag == "head":
            self._extra_style()
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skip_until:
            self.out.append(inline_css(data, self.base) if self.in_style else data)

    def handle_entityref(self, name: str) -> None:
        if not self.skip_until:
            self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        if not self.skip_until:
            self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        if not self.skip_until:
            self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")


def self_contained(
    html: str,
    base: str | Path | None = None,
    *,
    extra_css: str = "",
    keep_inline_scripts: bool = False,
    relative_links: str = "keep",
) -> str:
    """`html` as one self-contained file (module docstring); `base` is the folder relative URLs resolve in."""
    if relative_links not in ("keep", "drop"):
        raise ValueError(f"relative_links must be 'keep' or 'drop', got {relative_links!r}")
    parser = _Inliner(Path(base) if base is not None else None, extra_css, keep_inline_scripts, relative_links)
    parser.feed(html)
    parser.close()
    if extra_css and not parser.added_css:  # no </head>: put the styles first
        parser.out.insert(0, f"<style>{extra_css}</style>")
    return "".join(parser.out)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"])
        if (
            tag == "link"
            and a.get("href")
            and set(a.get("rel", "").lower().split()) & {"stylesheet", "icon", "preload"}
        ):
            self.refs.append(a["href"])
        if tag in _SRC_TAGS and a.get("src"):
            self.refs.append(a["src"])
        if a.get("srcset"):
            self.refs += [part.split()[0] for part in a["srcset"].split(",") if part.strip()]
        if a.get("style"):
            self.refs += [m[2] for m in _CSS_URL.finditer(a["style"])]
        self.in_style = tag == "style"

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.refs += [m[2] for m in _CSS_URL.finditer(data)] + [m[2] for m in _CSS_IMPORT.finditer(data)]


def external_references(html: str) -> list[str]:
    """URLs in `html` a browser would fetch from outside the file (scripts, stylesheets, images, CSS urls)."""
    parser = _Refs()
    parser.feed(html)
    parser.close()
    return [ref for ref in parser.refs if not is_inline(ref)]


def document(title: str, body: str, css: str = "") -> str:
    """A minimal UTF-8 HTML5 page around `body` with `css` in a `<style>` element."""
    style = f"<style>{css}</style>" if css else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html_lib.escape(title)}</title>{style}</head><body>{body}</body></html>\n"
    )
