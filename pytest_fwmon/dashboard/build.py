"""The static site: ``fwmon dashboard build -o DIR``.

Writes self-contained HTML (inline CSS, inline SVG, one small inline script, no external
request), so the site works from ``file://``, as a CI artifact, or on GitHub Pages::

    DIR/index.html              overview
    DIR/trends.html             trends, 7 days (trends-30d.html, trends-all.html: other windows)
    DIR/runs.html               the newest runs
    DIR/runs/<run>.html         one page per run (the newest ``run_pages`` when it is not 0)
    DIR/improvements.html       ranked improvement opportunities
    DIR/flaky.html              flaky tests and the quarantine (flaky.json: the same data as
                                ``/api/v1/flaky`` of ``fwmon dashboard serve``)
    DIR/.fwmon-site             marker: this folder is a fwmon site

Safety: an existing, non-empty ``DIR`` without the marker is refused (ConfigError, exit 2),
so a typo cannot overwrite a folder of other files. In a folder with the marker, run pages
of runs no longer in the history are removed; nothing else is.

Run pages are rendered while the reports stream from the store (one report in memory at a
time), so the build's memory does not grow with the history; the flaky-tests page is written
after that pass, from the test outcomes gathered in it (no second read of the history).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .. import __version__
from ..core.errors import ConfigError
from ..flaky.view import gather
from . import fmt
from .data import WINDOWS, Dashboard
from .encode import dumps
from .flakypage import flaky
from .pages import TREND_FILES, improvements, overview, runs_list, trends
from .render import Context, run_file
from .runpage import run_page

#: Marker file of a folder written by the builder.
MARKER: Final = ".fwmon-site"


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build wrote."""

    #: The site's folder and its front page.
    out: Path
    index: Path
    #: Pages written, of which run pages.
    pages: int
    run_pages: int
    #: Stale run pages removed.
    removed: int
    #: Wall time of the build in seconds.
    seconds: float


def prepare(out: Path) -> None:
    """Create ``out`` or check that it may be written (see the module docstring)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; choose a folder for the site")
    if out.is_dir() and not (out / MARKER).exists() and any(out.iterdir()):
        raise ConfigError(
            f"{out} is not empty and was not written by fwmon dashboard build; "
            "choose an empty or new folder"
        )
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text(f"fwmon {__version__} static site\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the site to {out}: {exc.strerror or exc}") from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def build_site(dash: Dashboard, out: Path) -> BuildResult:
    """Write the whole site for ``dash`` into ``out``."""
    started = time.perf_counter()
    out = Path(out)
    prepare(out)
    branch = dash.options.branch
    total = dash.source.count_runs(branch)
    limit = dash.options.run_pages
    pages: frozenset[str] | None = None
    if limit and total > limit:
        pages = frozenset(r.run_id for r in dash.source.list_runs(branch, limit=limit))
    footer = f"Built {fmt.date(time.time())} by fwmon {__version__} from {dash.source.location}."
    ctx = Context(base="", refresh=dash.options.refresh, footer=footer, run_pages=pages)
    run_ctx = Context(base="../", refresh=dash.options.refresh, footer=footer, run_pages=pages)
    written = 0
    _write(out / "index.html", overview(dash, ctx))
    for window in WINDOWS:
        _write(out / TREND_FILES[window], trends(dash, ctx, window))
    _write(out / "runs.html", runs_list(dash, ctx))
    _write(out / "improvements.html", improvements(dash, ctx))
    written += 4 + len(WINDOWS)
    names: set[str] = set()
    run_count = 0
    tests: dict[str, list[Any]] = {}
    for info, report in dash.iter_runs():
        gather([(info.ts, report)], tests)
        if pages is not None and info.run_id not in pages:
            continue
        name = run_file(info.run_id)
        names.add(name)
        _write(out / "runs" / name, run_page(dash, run_ctx, report))
        run_count += 1
    flaky_data = dash.flaky(tests)
    _write(out / "flaky.html", flaky(dash, ctx, flaky_data))
    _write(out / "flaky.json", dumps(flaky_data).decode("utf-8"))
    removed = 0
    for stale in (out / "runs").glob("*.html"):
        if stale.name not in names:
            stale.unlink()
            removed += 1
    return BuildResult(
        out=out,
        index=out / "index.html",
        pages=written + run_count,
        run_pages=run_count,
        removed=removed,
        seconds=time.perf_counter() - started,
    )


__all__ = ["MARKER", "BuildResult", "build_site", "prepare"]
