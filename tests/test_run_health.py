"""A SIGKILLed local Dagster run is marked failed and frees the run queue (issue 18, item 11)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from spymaster_assets import run_health

WORKER = """
import time
import dagster as dg

@dg.op
def slow_step() -> None:
    time.sleep(300)

@dg.job
def slow_job() -> None:
    slow_step()

slow_job.execute_in_process(instance=dg.DagsterInstance.get())
"""

IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def _wait_for_worker(instance: dg.DagsterInstance, timeout_s: float = 90) -> tuple[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs and (pid := run_health.worker_pid(instance, runs[0].run_id)) is not None:
            return runs[0].run_id, pid
        time.sleep(0.5)
    raise AssertionError("the run worker never reported STARTED with its pid")


def test_killed_run_is_marked_failed_and_frees_the_queue(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path)
    try:
        instance = dg.DagsterInstance.from_config(str(home))
        run_id, pid = _wait_for_worker(instance)
        assert pid == proc.pid
        assert run_health.fail_dead_runs(instance) == []  # alive: left alone
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Dagster alone never notices: the run stays STARTED and holds a queue slot.
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.get_runs_count(filters=dg.RunsFilter(statuses=IN_PROGRESS)) == 1
        result = run_health.dead_run_worker_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and "1 dead run" in (result.skip_message or "")
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.FAILURE
        assert instance.get_runs_count(filters=dg.RunsFilter(statuses=IN_PROGRESS)) == 0
        failure = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert f"pid {pid}" in failure[0].event_log_entry.dagster_event.message
        assert run_health.fail_dead_runs(instance) == []  # once only
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_reused_pid_of_another_program_counts_as_dead(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert not run_health.process_is_run_worker(sleeper.pid)  # alive, but not a Python worker
        assert run_health.process_is_run_worker(os.getpid())
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not run_health.process_is_run_worker(sleeper.pid)
