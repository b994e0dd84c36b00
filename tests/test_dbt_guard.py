"""dbt dies with the run that started it: a SIGKILLed run worker used to leave `dbt build` running
as an orphan, outside the DuckDB writer pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

GUARD = Path(sys.executable).with_name("spymaster-dbt")

PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.argv[1], "60"], env={**os.environ, "SPYMASTER_DBT_TARGET": "/bin/sleep"})
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_dbt_under_the_guard_dies_with_its_parent() -> None:
    assert GUARD.exists(), f"{GUARD} missing: the package's console scripts are not installed"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(GUARD)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(0.5)  # the guard has exec'd /bin/sleep
    with open(f"/proc/{child}/cmdline", "rb") as fh:
        assert fh.read().split(b"\0")[0] == b"/bin/sleep"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            os.waitpid(child, os.WNOHANG)  # not ours to reap; ignore
        except ChildProcessError:
            pass
    status = Path(f"/proc/{child}/status").read_text() if Path(f"/proc/{child}").exists() else "gone"
    assert status == "gone" or "State:\tZ" in status, status


def test_the_code_location_runs_dbt_through_the_guard() -> None:
    from spymaster_assets.definitions import defs

    assert defs.resources["dbt"].dbt_executable == str(GUARD)
