"""`spymaster-dbt`: dbt that dies with the process that started it.

dagster-dbt runs `dbt build` as a subprocess of the run (or step) worker. When that worker is
SIGKILLed (a stuck run killed by hand, an OOM kill), dbt would go on as an orphan, writing the
DuckDB file outside the `duckdb_writer` pool. This wrapper asks Linux to SIGKILL it when its parent
dies (`prctl(PR_SET_PDEATHSIG)`, kept across `exec`) and then execs the real dbt beside the Python
interpreter (or `SPYMASTER_DBT_TARGET`, used by the test). Elsewhere it just execs dbt.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def main() -> None:
    target = os.environ.get("SPYMASTER_DBT_TARGET") or str(Path(sys.executable).parent / "dbt")
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)
    os.execv(target, [target, *sys.argv[1:]])


if __name__ == "__main__":
    main()
