"""The single-writer rule for the Gold DuckDB file.

DuckDB allows one writing process per database file; a second one fails with a lock error. Every
Gold build (a dbt process, then the Parquet export) runs inside `duckdb_writer(path)`, an exclusive
`flock` on `<path>.lock`, so runs of many partitions started at once (a multi-run backfill, the
multiprocess executor) wait their turn instead of failing. The Gold steps are also in the Dagster
concurrency pool `DUCKDB_POOL` (limit 1 in deploy/*.yaml): the instance then starts one Gold step
at a time across every run and machine (an flock does not hold across Kubernetes pods); the
others wait for the slot before they start.
"""

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

DUCKDB_POOL = "duckdb_writer"


@contextmanager
def duckdb_writer(path: Path, log: Callable[[str], None] | None = None) -> Iterator[float]:
    """Hold the exclusive writer lock of the DuckDB file `path`; yields the seconds spent waiting.
    Blocks until the lock is free (the lock is released when the holder's process exits, even on a
    crash). Raises OSError if the lock file cannot be created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(path.with_name(path.name + ".lock"), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if log:
                log(f"waiting for the DuckDB writer lock on {path}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - t0
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
