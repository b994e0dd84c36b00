"""Dead run workers on one machine: STARTED runs whose worker process is gone are marked failed.

Dagster's run monitoring fails runs stuck starting or canceling, and runs whose worker the launcher
reports dead; the default (local) run launcher cannot report that (`supports_check_run_worker_health`
is False), so a SIGKILLed or OOM-killed local run stays STARTED and keeps its slot in the run queue
forever. The run worker records its pid in its first engine event ("Started process for run (pid: N)"
from the code server, or the executor's "Executing steps ... (pid: N)"); this sensor checks that pid
on this host and, when the process is gone (or the pid now belongs to a process that is not a Python
run worker), reports the run failed with the reason, which frees the queue slot.

It acts only when the instance uses the `DefaultRunLauncher` (workers on this machine); with the
Celery or Kubernetes launchers Dagster's own run monitoring checks worker health.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

MIN_INTERVAL_S = 30


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the run's worker process: the `pid` of the run's first engine event that has one
    (None when the worker has not reported yet)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=50).records
    for rec in records:
        event = rec.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        meta = data.metadata if data is not None else {}
        if "pid" in meta:
            return int(str(meta["pid"].value))
    return None


def process_is_run_worker(pid: int, proc: Path = Path("/proc")) -> bool:
    """True if `pid` is a live process on this host whose command line is a Python program (a pid the
    kernel reused for something else does not count). Linux /proc; a zombie counts as gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        cmdline = (proc / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    name = cmdline.lower()
    return state != "Z" and (b"python" in name or b"dagster" in name)


def dead_started_runs(instance: dg.DagsterInstance) -> list[tuple[dg.DagsterRun, int]]:
    """(run, worker pid) for every STARTED run whose recorded worker process is gone from this host."""
    out = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        pid = worker_pid(instance, run.run_id)
        if pid is not None and not process_is_run_worker(pid):
            out.append((run, pid))
    return out


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Report each run of `dead_started_runs` failed (freeing its queue slot); returns their run ids.
    Does nothing unless the instance launches runs on this machine (`DefaultRunLauncher`)."""
    if not isinstance(instance.run_launcher, dg.DefaultRunLauncher):
        return []
    failed = []
    for run, pid in dead_started_runs(instance):
        instance.report_run_failed(
            run, message=f"Run worker process (pid {pid}) is gone (killed or crashed); run marked failed."
        )
        failed.append(run.run_id)
    return failed


@dg.sensor(minimum_interval_seconds=MIN_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING)
def dead_run_worker_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Every 30 s: fail STARTED local runs whose worker process died (module docstring). On by
    default, so a killed run frees the queue without a user noticing it first."""
    failed = fail_dead_runs(context.instance)
    if failed:
        context.log.warning(f"marked failed, their run worker is gone: {failed}")
    return dg.SkipReason(f"{len(failed)} dead run(s) marked failed" if failed else "no dead run workers")
