"""The dashboard: a static site and a live server with a JSON API over the run history.

* :mod:`.data`: the one data-access layer (store and/or report -> JSON-ready dicts);
* :mod:`.build`: ``fwmon dashboard build -o DIR``, self-contained HTML that works from
  ``file://``;
* :mod:`.server`: ``fwmon dashboard serve``, the same pages plus ``/api/v1/*`` with ETags;
* :mod:`.svg`, :mod:`.render`, :mod:`.pages`, :mod:`.fmt`: charts, HTML, pages, numbers;
* :mod:`.cli`: the two commands.

Standard library only (no JS framework, no external requests).
"""

from __future__ import annotations

from .build import BuildResult, build_site
from .data import Dashboard, Options
from .sources import open_source

__all__ = ["BuildResult", "Dashboard", "Options", "build_site", "open_source"]
