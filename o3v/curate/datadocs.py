"""The gate's Great Expectations Data Docs page as one self-contained file (renders offline, in KFP's iframe).

GX renders a validation page that links Bootstrap, Font Awesome, jQuery and Vega from CDNs and its logo from
S3; offline (and in the Kubeflow UI's sandboxed iframe) it shows as a bare list of links. `self_contained_page`
drops those links and scripts (`o3v.htmlpage.self_contained`), inlines local files, puts GX's own packaged
logo in as a data URI, and adds `STYLE`: o3v's own small stylesheet for the Bootstrap classes the page uses
(grid, cards, tables, badges, alerts, sidebar), with check/cross glyphs in place of the icon font, and
hides what needs the dropped scripts or the network (the show/hide buttons, GX's newsletter footer). The
collapsed "Info" block opens through CSS `:target` (its link's own `#id`), so no script is needed.
"""

from __future__ import annotations

import re
from pathlib import Path

from o3v import htmlpage

_SPACE = {"0": "0", "1": ".25rem", "2": ".5rem", "3": "1rem", "4": "1.5rem", "5": "3rem"}
_SIDES = {"": ("",), "t": ("-top",), "b": ("-bottom",), "l": ("-left",), "r": ("-right",),
          "x": ("-left", "-right"), "y": ("-top", "-bottom")}  # fmt: skip
_BREAKPOINTS = {"": None, "sm": 576, "md": 768, "lg": 992}
_COLUMNS = (2, 6, 10, 12)
_GX_LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"')\s]*/logo-long\.png[^\"')\s]*")


def _spacing(infix: str) -> str:
    """Bootstrap-style m-*/p-* utilities (`mb-2`, `pl-sm-3`, `px-0`, ...) for one breakpoint infix."""
    rules = []
    for prop, name in (("m", "margin"), ("p", "padding")):
        for side, suffixes in _SIDES.items():
            for size, value in _SPACE.items():
                decls = ";".join(f"{name}{s}:{value}" for s in suffixes)
                rules.append(f".{prop}{side}{infix}-{size}{{{decls}}}")
    return "".join(rules)


def _responsive() -> str:
    """Spacing, column and display utilities, each inside its breakpoint's media query."""
    out = []
    for bp, width in _BREAKPOINTS.items():
        infix = f"-{bp}" if bp else ""
        cols = "".join(f".col{infix}-{n}{{flex:0 0 {n / 12:.4%};max-width:{n / 12:.4%}}}" for n in _COLUMNS)
        shows = "".join(f".d{infix}-{d}{{display:{d}}}" for d in ("none", "block", "flex", "inline-flex"))
        rules = _spacing(infix) + cols + shows
        out.append(rules if width is None else f"@media (min-width:{width}px){{{rules}}}")
    return "".join(out)


STYLE = (
    "*,::before,::after{box-sizing:border-box}"
    "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;"
    "font-size:.92rem;line-height:1.5;color:#212529;background:#fff}"
    "a{color:#0b5cad;text-decoration:none}a:hover{text-decoration:underline}"
    "h1,h2,h3,h4,h5,h6,.h6{margin:0 0 .5rem;font-weight:600;line-height:1.25}h4{font-size:1.3rem}"
    "h5{font-size:1.1rem}h6,.h6{font-size:1rem}.lead{font-size:1.05rem;font-weight:300}"
    "ul,ol{padding-left:1.25rem}p{margin:0 0 .75rem}"
    ".container-fluid{width:100%}.row{display:flex;flex-wrap:wrap}"
    "[class*='col-']{position:relative;width:100%;min-width:0}"
    ".navbar{display:flex;align-items:center;padding:.5rem 1rem;background:#fff}"
    ".sticky-top{position:sticky;top:0;z-index:1020}.sticky{position:sticky;top:80px}"
    ".border-bottom{border-bottom:1px solid #dee2e6}.rounded{border-radius:.3rem}"
    ".float-left{float:left}.mr-auto{margin-right:auto}.ml-auto{margin-left:auto}.h-100{height:100%}"
    ".align-items-center{align-items:center}.justify-content-center{justify-content:center}"
    ".navbar-brand img{display:block}.bg-light{background:#f4f6f8}"
    ".breadcrumb{display:flex;flex-wrap:wrap;list-style:none;margin:0;padding:.4rem .8rem;border-radius:.3rem}"
    ".breadcrumb-item+.breadcrumb-item::before{content:'/';padding:0 .5rem;color:#6c757d}"
    ".breadcrumb-item.active{color:#495057}"
    ".card{display:flex;flex-direction:column;border:1px solid #d9dee3;border-radius:.4rem;background:#fff}"
    ".card-header{padding:.6rem 1rem;background:#f4f6f8;border-bottom:1px solid #d9dee3}"
    ".card-body{padding:1rem}.card-text{margin:0}"
    ".table{width:100%;border-collapse:collapse;margin-bottom:1rem}"
    ".table th,.table td{padding:.45rem .6rem;border-top:1px solid #dee2e6;vertical-align:top;text-align:left}"
    ".table thead th{border-bottom:2px solid #dee2e6;background:#f4f6f8}"
    ".table-sm th,.table-sm td{padding:.25rem .45rem}.table-responsive{display:block;width:100%;overflow-x:auto}"
    ".show-scrollbars{overflow:auto;max-height:30em}"
    ".badge{display:inline-block;padding:.2em .5em;font-size:80%;font-weight:600;border-radius:.25rem;"
    "white-space:nowrap;font-family:ui-monospace,'DejaVu Sans Mono',monospace}"
    ".badge-secondary{background:#5f6b76;color:#fff}.badge-info{background:#117a8b;color:#fff}"
    ".alert{padding:.55rem 1rem;border:1px solid transparent;border-radius:.3rem;margin-bottom:.75rem}"
    ".alert-secondary{background:#eceef0;border-color:#d6d8db;color:#30363b}"
    ".alert-danger{background:#fbe3e5;border-color:#f2c1c6;color:#70151e}"
    ".text-success{color:#157347}.text-danger{color:#c0283a}.text-warning{color:#a36a00}.text-muted{color:#6c757d}"
    ".fas,.far,.fa{font-style:normal;font-weight:700;display:inline-block;min-width:1.1em}"
    ".fa-check-circle::before,.fa-check::before{content:'\\2714'}"
    ".fa-times-circle::before,.fa-times::before{content:'\\2718'}"
    ".fa-exclamation-triangle::before{content:'\\26A0'}"
    ".nav{display:flex;flex-wrap:wrap;list-style:none;padding:0;margin:0}.nav-pills{flex-direction:column}"
    ".nav-link{display:block;padding:.2rem .5rem;border-radius:.25rem}.nav-link:hover{background:#eef2f6}"
    ".btn-group-toggle,.ge-walkthrough-modal,.modal,body>footer{display:none}"
    ".card:has(.btn-group-toggle){display:none}"
    ".collapse{display:none}.collapse:target,.collapse.show{display:block}"
    ".ge-section{clear:both;margin-bottom:1.75rem}"
    "code,pre{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.85em}" + _responsive()
)


def gx_logo() -> Path | None:
    """GX's packaged long logo (the page's own logo URL is on S3), or None when GX is not installed."""
    try:
        import great_expectations
    except ImportError:
        return None
    path = Path(great_expectations.__file__).parent / "render" / "view" / "static" / "images" / "logo-long.png"
    return path if path.is_file() else None


def self_contained_page(page: str | Path) -> str:
    """The Data Docs validation page at `page` as one offline file (module docstring)."""
    page = Path(page)
    text = page.read_text(encoding="utf-8")
    logo = gx_logo()
    text = _GX_LOGO.sub(logo.as_uri() if logo else "", text)
    return htmlpage.self_contained(text, page.parent, extra_css=STYLE, relative_links="drop")
