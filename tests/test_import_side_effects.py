"""Importing the code location runs nothing: no dbt parse (even with a stale manifest), no thread
pool, no config read. Preparation is explicit (`spymaster_assets.dbt_project.prepare`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import subprocess, threading, os
real_run = subprocess.run
def refuse(*a, **k):
    cmd = " ".join(map(str, a[0] if a else k.get("args", [])))
    if "dbt" in cmd:  # libraries may probe the platform (`file -b python`); dbt must not run
        raise SystemExit(f"dbt ran at import: {cmd}")
    return real_run(*a, **k)
subprocess.run = refuse
os.environ["SPYMASTER_CONFIG"] = "/nonexistent/config.json"  # read at import would raise
before = threading.active_count()
import spymaster_core.io.dbn, spymaster_assets.versioning, spymaster_assets.defs.gold
assert threading.active_count() == before, [t.name for t in threading.enumerate()]
print("imported")
"""


def test_importing_the_code_location_has_no_side_effects() -> None:
    from spymaster_assets.dbt_project import DBT_DIR, prepare

    model = DBT_DIR / "models" / "gold" / "daily" / "gold_training.sql"
    st = model.stat()
    future = time.time() + 5
    os.utime(model, (future, future))  # the manifest is now stale: an import-time parse would run
    try:
        out = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=False
        )
        assert out.returncode == 0 and "imported" in out.stdout, out.stderr[-2000:]
    finally:
        os.utime(model, (st.st_atime, st.st_mtime))
        prepare()
