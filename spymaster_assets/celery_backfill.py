"""Celery workers and partition runs as processes on this machine (deploy/celery/): what the Celery
test and `benchmarks/bench_celery.py` start, and what a user types to do the same by hand.

A worker is `dagster-celery worker start -A dagster_celery.app -y deploy/celery/run_config.yaml -n
<name> -- --concurrency=<k>`; a run is `dagster job execute -m spymaster_assets.definitions -j <job>
-c deploy/celery/run_config.yaml --tags '{"dagster/partition": "<date>"}'`. Both read the instance
from DAGSTER_HOME, the broker from CELERY_BROKER_URL and the executor from SPYMASTER_EXECUTOR=celery.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def instance_env(home: Path, lake: Path, data_dir: Path, pg_env: dict[str, str], executor: str,
                 broker: str) -> dict[str, str]:  # fmt: skip
    """The environment of every process of a backfill (workers, runs, `prepare_instance`): this
    process's, plus the instance (DAGSTER_HOME with a Postgres dagster.yaml and `pg_env`'s
    DAGSTER_PG_*), the lake, data dir and DuckDB file, SPYMASTER_EXECUTOR, the broker with the
    `rpc://` result backend, and PATH reaching this interpreter's `celery`. SPYMASTER_CONFIG is
    dropped: the runs use the default config."""
    env = {**os.environ, "DAGSTER_HOME": str(home), "SPYMASTER_LAKE": str(lake), "SPYMASTER_DATA": str(data_dir),
           "SPYMASTER_DUCKDB": str(data_dir / "spymaster.duckdb"), "SPYMASTER_EXECUTOR": executor,
           "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": "rpc://",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **pg_env}  # fmt: skip
    env.pop("SPYMASTER_CONFIG", None)
    return env


def step_spans(instance: Any, run_id: str) -> list[tuple[str, float, float]]:
    """(step_key, start, end) in seconds since the epoch of every step of a run that succeeded,
    from its STEP_START and STEP_SUCCESS events (a step started twice, as a re-delivered Celery
    task is, spans from its last start)."""
    from dagster._core.events import DagsterEventType

    start: dict[str, float] = {}
    out = []
    recs = instance.get_records_for_run(
        run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    ).records
    for rec in recs:
        e = rec.event_log_entry
        if e.dagster_event.event_type == DagsterEventType.STEP_START:
            start[e.step_key] = e.timestamp
        elif e.step_key in start:
            out.append((e.step_key, start[e.step_key], e.timestamp))
    return out


def prepare_instance(env: dict[str, str], pools: dict[str, int] | None = None) -> None:
    """Before the first run on a new instance: create the schema (`dagster instance migrate`) and
    set each pool's limit (`dagster instance concurrency set`; default `duckdb_writer` at 1).

    Both up front on purpose. Two processes starting on an empty store can race to create the
    schema. Runs that first meet a pool at the same moment race to insert its default limit: on
    Postgres the loser fails with a unique-key violation on `concurrency_limits` (seen with four
    runs started at once). Raises CalledProcessError with the command's output when either fails."""
    from spymaster_assets.duckdb_writer import DUCKDB_POOL

    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, capture_output=True)
    for pool, limit in (pools or {DUCKDB_POOL: 1}).items():
        cmd = [str(BIN / "dagster"), "instance", "concurrency", "set", pool, str(limit)]
        subprocess.run(cmd, env=env, check=True, capture_output=True)


def start_worker(
    name: str, run_config: Path, env: dict[str, str], log: Path, concurrency: int = 1
) -> subprocess.Popen:
    """Start a Celery worker named `name` (`<name>@<host>` in the run's engine events) with
    `concurrency` pool processes, its output appended to `log`, in its own process group (see
    `kill_group`). `env` needs PATH to reach this interpreter's `celery` (dagster-celery runs it)."""
    args = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(run_config),
            "-n", name, "--", f"--concurrency={concurrency}"]  # fmt: skip
    with log.open("ab") as fh:
        return subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(proc: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    """Return once the worker's log says it is ready. Raises RuntimeError quoting the log's end when
    the worker exits or is not ready within `timeout_s`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.3)
    raise RuntimeError(f"Celery worker not ready within {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send `sig` (default SIGKILL: a lost machine, no acks, no shutdown) to the process group that
    `start_worker` made, and wait for its leader."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait()


def launch_run(
    job: str, date: str, run_config: Path | None, env: dict[str, str], log: Path
) -> subprocess.Popen:
    """Start one partition run of `job` for `date` (`dagster job execute`, the run's orchestrator in
    that process; its steps go to the executor SPYMASTER_EXECUTOR names, configured by `run_config`
    when given), output appended to `log`."""
    args = [str(BIN / "dagster"), "job", "execute", "-m", "spymaster_assets.definitions", "-j", job,
            "--tags", json.dumps({"dagster/partition": date})]  # fmt: skip
    if run_config is not None:
        args += ["-c", str(run_config)]
    with log.open("ab") as fh:
        return subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT)
