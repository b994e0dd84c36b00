"""Which executor runs a job's steps, chosen by `SPYMASTER_EXECUTOR` (DESIGN §10).

- `multiprocess` (default): each step in its own process on this machine, at most
  `SPYMASTER_MAX_CONCURRENT_STEPS` at once (default: the number of CPUs).
- `in_process`: every step in the run worker's process (debugging).
- `k8s`: each step in its own Kubernetes Job (`dagster_k8s.k8s_job_executor`; pip install dagster-k8s).
- `celery`: steps as Celery tasks on a broker (`dagster_celery.celery_executor`; pip install
  dagster-celery).

Partitions run in parallel as separate runs (the run queue's `max_concurrent_runs`, see
deploy/dagster.yaml). Whatever the executor, Gold's dbt steps share the concurrency pool
`duckdb_writer` (limit 1), so one Gold step writes the DuckDB file at a time.
"""

import os

import dagster as dg

EXECUTORS = ("multiprocess", "in_process", "k8s", "celery")


def executor_from_env() -> dg.ExecutorDefinition:
    """The executor named by `SPYMASTER_EXECUTOR` (see module docstring).

    Raises ValueError for an unknown name or a bad `SPYMASTER_MAX_CONCURRENT_STEPS`, and ImportError
    (naming the package to install) when the k8s or celery integration is not installed.
    """
    name = (os.environ.get("SPYMASTER_EXECUTOR") or "multiprocess").strip().lower()
    if name == "multiprocess":
        raw = os.environ.get("SPYMASTER_MAX_CONCURRENT_STEPS") or "0"
        try:
            max_steps = int(raw)
        except ValueError:
            raise ValueError(
                f"SPYMASTER_MAX_CONCURRENT_STEPS={raw!r}: expected an integer (0 = CPU count)"
            ) from None
        if max_steps < 0:
            raise ValueError(f"SPYMASTER_MAX_CONCURRENT_STEPS={raw!r}: must be >= 0 (0 = CPU count)")
        return dg.multiprocess_executor.configured({"max_concurrent": max_steps}, name="multiprocess")
    if name == "in_process":
        return dg.in_process_executor
    if name == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as exc:
            raise ImportError(
                "SPYMASTER_EXECUTOR=k8s needs the dagster-k8s package (pip install dagster-k8s)"
            ) from exc
        return k8s_job_executor
    if name == "celery":
        try:
            from dagster_celery import celery_executor
        except ImportError as exc:
            raise ImportError(
                "SPYMASTER_EXECUTOR=celery needs the dagster-celery package (pip install dagster-celery)"
            ) from exc
        return celery_executor
    raise ValueError(f"SPYMASTER_EXECUTOR={name!r}: choose one of {', '.join(EXECUTORS)}")
