"""HTML building blocks: escaping, the page layout with inline CSS and JS, badges, tables.

Standard library only. **Every** value that comes from a report, a store or a configuration
goes through :func:`e` (``html.escape`` with quotes) before it reaches a page: test names,
messages and paths may hold ``<script>``. Helpers here take plain text and escape it
themselves unless their parameter is named ``html``.

Colours meet WCAG AA (4.5:1 and more for text) on their backgrounds, and a status is never
shown by colour alone: every badge carries an icon and a word.

Auto-refresh (``data-refresh`` seconds on ``<body>``, 0 = off): a static page reloads itself;
a page from the live server polls ``/api/v1/summary`` with ``If-None-Match`` and reloads only
when the ETag differs from the one the page was rendered with. The pause button's state is
kept in ``localStorage`` so it survives the reloads.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Final

#: Status -> (icon, word, CSS class).
STATUS: Final = {
    "pass": ("✔", "pass", "ok"),
    "passed": ("✔", "passed", "ok"),
    "fail": ("✖", "fail", "bad"),
    "failed": ("✖", "failed", "bad"),
    "blocked": ("✖", "blocked", "bad"),
    "error": ("⚠", "error", "warn"),
    "inconclusive": ("?", "inconclusive", "warn"),
    "skipped": ("\N{EN DASH}", "skipped", "off"),
    "not-run": ("○", "not run", "off"),
    "unknown": ("?", "unknown", "off"),
    "firing": ("🔔", "firing", "bad"),
    "pending": ("…", "pending", "warn"),
    "silenced": ("⊘", "silenced", "off"),
    "acknowledged": ("☑", "acknowledged", "ok"),
    "escalated": ("⇧", "escalated", "bad"),
    "undelivered": ("✉", "undelivered", "warn"),
    "critical": ("‼", "critical", "bad"),
    "high": ("!", "high", "bad"),
    "medium": ("▲", "medium", "warn"),
    "low": ("▽", "low", "off"),
    "info": ("i", "info", "off"),
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

CSS: Final = """
:root{--fg:#1f2328;--muted:#57606a;--bg:#fff;--line:#d0d7de;--link:#0550ae;
--ok-fg:#116329;--ok-bg:#dafbe1;--bad-fg:#a40e26;--bad-bg:#ffebe9;
--warn-fg:#6f4400;--warn-bg:#fff8c5;--off-fg:#424a53;--off-bg:#eaeef2}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
a{color:var(--link)}
header.top{border-bottom:1px solid var(--line);padding:.6rem 1rem;display:flex;flex-wrap:wrap;
gap:.5rem 1rem;align-items:center;justify-content:space-between}
header.top h1{font-size:1.15rem;margin:0}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem .9rem}
nav a[aria-current=page]{font-weight:700;color:var(--fg)}
.refresh{font-size:.85rem;color:var(--muted);display:flex;gap:.5rem;align-items:center}
button{font:inherit;padding:.2rem .7rem;border:1px solid var(--line);border-radius:6px;
background:#f6f8fa;color:var(--fg);cursor:pointer;min-height:32px}
main{max-width:1180px;margin:0 auto;padding:1rem}
h2{font-size:1.1rem;margin:1.6rem 0 .6rem}
h3,h4{font-size:1rem;margin:1rem 0 .4rem;overflow-wrap:anywhere}
h4{font-size:.95rem;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem}
.card{border:1px solid var(--line);border-radius:8px;padding:.6rem .75rem}
.card .name{color:var(--muted);font-size:.85rem}
.pipeline .name{text-transform:capitalize}
.card .big{font-size:1.5rem;font-weight:650;white-space:nowrap}
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.85rem;
font-weight:600;white-space:nowrap}
.ok{color:var(--ok-fg);background:var(--ok-bg)}
.bad{color:var(--bad-fg);background:var(--bad-bg)}
.warn{color:var(--warn-fg);background:var(--warn-bg)}
.off{color:var(--off-fg);background:var(--off-bg)}
.health{display:flex;flex-wrap:wrap;gap:.5rem 1.2rem;align-items:center;border:1px solid
var(--line);border-radius:8px;padding:.75rem 1rem}
.health .badge{font-size:1.05rem}
.muted{color:var(--muted)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);
vertical-align:top}
th{font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.wrap{overflow-wrap:anywhere;word-break:break-word;min-width:12rem}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
td code{white-space:nowrap}
table.nodeids td:first-child{min-width:14rem}
table.nodeids td:first-child code{white-space:normal}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,520px),1fr));
gap:1rem}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:.5rem}
figcaption{font-weight:600;overflow-wrap:anywhere}
figcaption .muted{font-weight:400;font-size:.85rem}
svg.chart{width:100%;height:auto;display:block;font-size:11px}
svg.chart text{fill:var(--fg)}
svg.chart .grid{stroke:#eaeef2}
svg.chart .base{stroke:var(--muted)}
svg.chart .line{fill:none;stroke:#0969da;stroke-width:1.5}
svg.chart .pt{fill:#0969da;stroke:#fff;stroke-width:1}
svg.chart .trend{fill:none;stroke:#8250df;stroke-width:2;stroke-dasharray:6 3}
svg.chart .band{fill:#8250df;fill-opacity:.14;stroke:none}
svg.chart .cp line{stroke:#bc4c00;stroke-width:1.5;stroke-dasharray:3 3}
svg.chart .cp path{fill:#bc4c00}
svg.chart .label{fill:var(--muted)}
.legend{font-size:.8rem;color:var(--muted);display:flex;flex-wrap:wrap;gap:.2rem 1rem}
.tabs{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0 1rem}
.tabs a{border:1px solid var(--line);border-radius:6px;padding:.2rem .7rem;text-decoration:none}
.tabs a[aria-current=page]{background:var(--fg);color:#fff}
details{margin:.4rem 0}
summary{cursor:pointer}
footer{max-width:1180px;margin:1rem auto;padding:0 1rem 2rem;color:var(--muted);font-size:.8rem}
@media (max-width:600px){main{padding:.6rem}.card .big{font-size:1.25rem}
th,td{padding:.3rem .35rem}.scroll table{min-width:600px}}
"""

JS: Final = """
(function(){
var b=document.body,every=+b.getAttribute('data-refresh'),
btn=document.getElementById('refresh-toggle'),state=document.getElementById('refresh-state'),key='fwmon-refresh-paused',mem=false;
if(!every||!btn)return;
function paused(){try{return localStorage.getItem(key)==='1'}catch(e){return mem}}
function show(){var p=paused();btn.textContent=p?'Resume':'Pause';
btn.setAttribute('aria-pressed',p?'true':'false');
state.textContent=p?'Auto-refresh paused':'Auto-refresh every '+every+' s'}
btn.hidden=false;
btn.addEventListener('click',function(){var p=!paused();try{localStorage.setItem(key,p?'1':'0')}
catch(e){mem=p}show()});
show();
var api=b.getAttribute('data-api'),etag=b.getAttribute('data-etag'),busy=false;
function tick(){
if(paused()||busy)return;
if(!api){location.reload();return}
busy=true;
fetch(api,{cache:'no-store',headers:etag?{'If-None-Match':etag}:{}}).then(function(r){
busy=false;var t=r.headers.get('ETag');
if(r.status===200&&t&&t!==etag){location.reload()}
}).catch(function(){busy=false})}
setInterval(tick,every*1000);
})();
"""


#: CSP hash of :data:`JS`: the only script a page may run (injected markup runs nothing).
JS_HASH: Final = base64.b64encode(hashlib.sha256(JS.encode("utf-8")).digest()).decode("ascii")

#: Content-Security-Policy of every page (meta tag and, from the server, header).
CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{JS_HASH}'; img-src data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)


_SPECIAL = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: Characters HTML has no place for (controls, lone surrogates): shown as backslash escapes.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def e(value: object) -> str:
    """Return ``html.escape`` of ``str(value)``, quotes included (``None`` becomes "").

    Control characters and lone surrogates are shown as visible backslash escapes.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not _SPECIAL.search(text):
        return text
    text = _CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )
    return escape(text, quote=True)


def run_file(run_id: str) -> str:
    """File name of a run's page: the id itself when it is safe, else a slug plus a hash."""
    if _SAFE_NAME.match(run_id) and ".." not in run_id:
        return f"{run_id}.html"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", run_id).strip("-")[:60] or "run"
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:12]
    return f"{slug}-{digest}.html"


@lru_cache(maxsize=512)
def badge(status: str | None, text: str | None = None) -> str:
    """Return a status badge: icon and word (and colour), never colour alone."""
    icon, word, css = STATUS.get(status or "unknown", ("?", status or "unknown", "off"))
    return (
        f'<span class="badge {css}" data-status="{e(status or "unknown")}">'
        f'<span aria-hidden="true">{icon}</span> {e(text or word)}</span>'
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    css: str = "",
    empty: str = "nothing to show",
) -> str:
    """Return a table in a horizontal scroller. Headers are text; cells are already HTML."""
    head = "".join(
        f'<th scope="col"{" class=num" if i in numeric else ""}>{e(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=num' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return f'<p class="muted">{e(empty)}</p>'
    klass = f' class="{e(css)}"' if css else ""
    return (
        f'<div class="scroll"><table{klass}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


@dataclass(frozen=True, slots=True)
class Context:
    """Where a page is rendered for."""

    #: Prefix from the page to the site root ("" or "../").
    base: str = ""
    #: Seconds between refreshes (0 = off).
    refresh: int = 30
    #: URL the live page polls (None: a static page reloads itself).
    api: str | None = None
    #: ETag of that URL's answer when the page was rendered.
    etag: str | None = None
    #: Footer text (where the data came from, when it was rendered).
    footer: str = ""
    #: Run ids that have a page (None: every run has one).
    run_pages: frozenset[str] | None = None

    def run_href(self, run_id: str) -> str | None:
        """Link to a run's page, or None when it has none."""
        if self.run_pages is not None and run_id not in self.run_pages:
            return None
        return f"{self.base}runs/{run_file(run_id)}"


NAV: Final = (
    ("overview", "index.html", "Overview"),
    ("trends", "trends.html", "Trends"),
    ("runs", "runs.html", "Runs"),
    ("improvements", "improvements.html", "Improvements"),
    ("flaky", "flaky.html", "Flaky tests"),
)


def layout(ctx: Context, *, title: str, site: str, active: str, html: str) -> str:
    """Return a whole page: head with inline CSS, header with navigation and refresh control."""
    links = "".join(
        f'<li><a href="{e(ctx.base + href)}"'
        f"{' aria-current=page' if key == active else ''}>{e(label)}</a></li>"
        for key, href, label in NAV
    )
    attrs = f' data-refresh="{int(ctx.refresh)}"'
    if ctx.api:
        attrs += f' data-api="{e(ctx.api)}" data-etag="{e(ctx.etag or "")}"'
    refresh = ""
    if ctx.refresh:
        refresh = (
            '<div class="refresh"><span id="refresh-state" role="status">'
            f"Refreshes every {int(ctx.refresh)} s</span>"
            '<button type="button" id="refresh-toggle" aria-pressed="false" hidden>'
            "Pause</button></div>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">'
        f"<title>{e(title)} · {e(site)}</title><style>{CSS}</style></head>"
        f'<body{attrs}><header class="top"><h1>{e(site)}</h1>'
        f'<nav aria-label="Pages"><ul>{links}</ul></nav>{refresh}</header>'
        f'<main id="main">{html}</main><footer>{e(ctx.footer)}</footer>'
        f"<script>{JS}</script></body></html>"
    )


__all__ = [
    "CSP",
    "CSS",
    "JS",
    "NAV",
    "STATUS",
    "Context",
    "badge",
    "e",
    "layout",
    "run_file",
    "table",
]
