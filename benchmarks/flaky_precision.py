"""Precision and recall of ``fwmon flaky list`` on the classification fixture, 5 seeds.

Serial runs without reruns, 20 runs a seed (about 100 pytest runs: minutes).
Run from the repository root: ``python benchmarks/flaky_precision.py``.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.test_flaky_classify import BASE, CONFTEST, INTERMITTENT, TESTS  # noqa: E402
from tests.test_gate_cli import git  # noqa: E402

PY = sys.executable
tp = fp = fn = 0
for seed in ["1", "2", "3", "4", "5"]:
    root = Path(tempfile.mkdtemp(prefix=f"fx{seed}-"))
    (root / "conftest.py").write_text(CONFTEST)
    (root / "test_fx.py").write_text(TESTS)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fx")
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), FLAKY_SEED=seed, FWMON_HISTORY_URL=str(root / "h.db")
    )
    for run in range(20):
        env["FLAKY_RUN"] = str(run)
        subprocess.run([PY, "-m", "pytest", *BASE, "-q"], cwd=root, env=env, capture_output=True)
    out = subprocess.run(
        [PY, "-m", "pytest_fwmon.cli", "flaky", "list", "--json", "--store", str(root / "h.db")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    listed = {r["nodeid"] for r in json.loads(out)}
    tp += len(listed & INTERMITTENT)
    fp += len(listed - INTERMITTENT)
    fn += len(INTERMITTENT - listed)
    print(seed, sorted(listed), flush=True)
precision = tp / (tp + fp) if tp + fp else 1.0
print(f"precision {precision:.3f} recall {tp / (tp + fn):.3f} (tp={tp} fp={fp} fn={fn})")
