"""Run history: a store of every run, trends, SLO figures, KPIs and improvement opportunities.

Entry points other parts of fwmon use (documented in each module):

* :func:`open_store` / :class:`Store` (:mod:`.store`): the SQLite or PostgreSQL store;
* :mod:`.metrics`: the metric namespace and what a report gives it;
* :func:`.trends.analyse`, :func:`.slo.compute`, :func:`.kpis.evaluate`,
  :func:`.improve.opportunities`: plain dataclass results with ``to_dict()``.

The plugin appends a run with ``open_store(url, root).add_run(report)`` at the end of
``pytest --fwmon``; the ``fwmon history|trends|slo|kpis|improve|export`` commands live in
:mod:`.cli`.
"""

from __future__ import annotations

from .connect import open_store
from .store import SCHEMA_VERSION, RunInfo, Store

__all__ = ["SCHEMA_VERSION", "RunInfo", "Store", "open_store"]
