"""Celery benchmark: runs per hour of a backfill through `daily_partition_job` with 1, 2 and 4 Celery
worker processes, against the default multiprocess executor measured in the same run (the ratio).

N simulated dates (`small` scale; 20 by default) are written once; every configuration gets a fresh
lake on them, a fresh Dagster instance on the local PostgreSQL (deploy/celery/dagster.yaml: the
`duckdb_writer` pool at 1) and a fresh DuckDB file. A backfill is one `dagster job execute` per
date, at most `--concurrent-runs` at once (the run queue's role); wall seconds run from the first
launch to the last run's end. Celery: that many workers (`-n wK`, one pool process each) on the
local RabbitMQ (deploy/celery/run_config.yaml). Baseline: SPYMASTER_EXECUTOR=multiprocess.
Printed per configuration: wall seconds, runs/hour, the mean run's wall seconds and the mean of its
steps' own seconds (STEP_START to STEP_SUCCESS, summed): their difference is the per-run overhead
(process start, code load, queueing, the broker round trips). On 2 cores expect little gain from
more workers: the steps are CPU-bound.
Last line: `BENCH celery dates=<n> runs_per_hour_w1=<x> runs_per_hour_w2=<x> runs_per_hour_w4=<x>
runs_per_hour_multiprocess=<x> ratio_w2_vs_multiprocess=<x>`.
Usage: python benchmarks/bench_celery.py [--dates N] [--workers 1,2,4] [--concurrent-runs K] [--workdir DIR]
Needs RabbitMQ (CELERY_BROKER_URL, default pyamqp://guest:guest@127.0.0.1:5672//) and PostgreSQL
(PGHOST/PGUSER/PGPASSWORD, default 127.0.0.1 postgres trust); exits 2 naming what is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_CONFIG = REPO / "deploy" / "celery" / "run_config.yaml"
BROKER = os.environ.get("CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
PG = {
    k: os.environ.get(f"PG{k.upper()}", v)
    for k, v in {"host": "127.0.0.1", "user": "postgres", "password": ""}.items()
}
JOB = "daily_partition_job"


def _pg_admin():  # noqa: ANN202 - a psycopg2 connection
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", connect_timeout=2, **PG)
    conn.autocommit = True
    return conn


def _step_seconds(home: Path, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Per run: its wall seconds (run start to end) and its steps' summed own seconds."""
    import dagster as dg

    from spymaster_assets.celery_backfill import step_spans

    old = dict(os.environ)
    os.environ.update(env)
    try:
        inst = dg.DagsterInstance.get()
        walls, steps = [], []
        for r in inst.get_runs():
            rec = inst.get_run_record_by_id(r.run_id)
            if rec and rec.start_time and rec.end_time:
                walls.append(rec.end_time - rec.start_time)
            steps.append(sum(end - start for _, start, end in step_spans(inst, r.run_id)))
        inst.dispose()
        return walls, steps
    finally:
        os.environ.clear()
        os.environ.update(old)


def _backfill(label: str, dates: list[str], landing: Path, work: Path, workers: int, concurrent: int) -> dict:
    from spymaster_assets import celery_backfill as cb

    base = work / label
    shutil.rmtree(base, ignore_errors=True)
    (base / "lake").mkdir(parents=True)
    (base / "lake" / "landing").symlink_to(landing)
    home = base / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "celery" / "dagster.yaml", home / "dagster.yaml")
    db = f"spymaster_bench_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
    pg_env = {
        "DAGSTER_PG_USER": PG["user"],
        "DAGSTER_PG_PASSWORD": PG["password"],
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_DB": db,
    }
    env = cb.instance_env(home, base / "lake", base, pg_env, "celery" if workers else "multiprocess", BROKER)
    procs = []
    try:
        cb.prepare_instance(env)
        for k in range(workers):
            log = base / f"w{k + 1}.log"
            procs.append(p := cb.start_worker(f"w{k + 1}", RUN_CONFIG, env, log))
            cb.wait_ready(p, log)
        pending, running, failed = list(dates), {}, []
        t0 = time.monotonic()
        while pending or running:
            while pending and len(running) < concurrent:
                d = pending.pop(0)
                running[d] = cb.launch_run(
                    JOB, d, RUN_CONFIG if workers else None, env, base / f"run-{d}.log"
                )
            for d, p in list(running.items()):
                if p.poll() is not None:
                    del running[d]
                    if p.returncode != 0:
                        failed.append(d)
            time.sleep(0.2)
        wall = time.monotonic() - t0
        if failed:
            tail = (base / f"run-{failed[0]}.log").read_text()[-3000:]
            raise RuntimeError(f"{label}: runs failed for {failed}:\n{tail}")
        walls, steps = _step_seconds(home, env)
    finally:
        for p in procs:
            cb.kill_group(p)
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()
    out = {
        "label": label,
        "wall_s": wall,
        "runs_per_hour": len(dates) / wall * 3600,
        "mean_run_s": sum(walls) / len(walls),
        "mean_step_s": sum(steps) / len(steps),
    }
    print(f"{label:>14}: {len(dates)} runs in {wall:7.1f} s = {out['runs_per_hour']:6.1f} runs/hour; "
          f"mean run {out['mean_run_s']:6.1f} s, of which steps {out['mean_step_s']:6.1f} s "
          f"(overhead {out['mean_run_s'] - out['mean_step_s']:5.1f} s per run)", flush=True)  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dates", type=int, default=20)
    ap.add_argument("--workers", default="1,2,4", help="Celery worker counts, comma-separated")
    ap.add_argument("--concurrent-runs", type=int, default=4)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    try:
        from kombu import Connection

        with Connection(BROKER, connect_timeout=2) as c:
            c.ensure_connection(max_retries=1)
        _pg_admin().close()
    except Exception as exc:  # noqa: BLE001 - report what is missing and stop
        print(
            f"bench_celery: needs RabbitMQ at {BROKER} and PostgreSQL at {PG['host']}: {exc}", file=sys.stderr
        )
        sys.exit(2)
    from ml.sim_study import study_dates
    from spymaster_core.sim import simulate_session

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_celery_"))
    dates = study_dates(args.dates)
    landing = work / "landing"
    t0 = time.monotonic()
    for i, d in enumerate(dates):
        simulate_session(d, 100 + i, landing, scale="small")
    print(
        f"simulated {len(dates)} dates ({dates[0]}..{dates[-1]}, small scale) in {time.monotonic() - t0:.0f} s"
    )
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    res = {"multiprocess": _backfill("multiprocess", dates, landing, work, 0, args.concurrent_runs)}
    for k in counts:
        res[f"w{k}"] = _backfill(f"celery_w{k}", dates, landing, work, k, args.concurrent_runs)
    base = res["multiprocess"]["runs_per_hour"]
    parts = " ".join(f"runs_per_hour_w{k}={res[f'w{k}']['runs_per_hour']:.1f}" for k in counts)
    ratio = f" ratio_w2_vs_multiprocess={res['w2']['runs_per_hour'] / base:.2f}" if "w2" in res else ""
    print(f"BENCH celery dates={len(dates)} {parts} runs_per_hour_multiprocess={base:.1f}{ratio}")


if __name__ == "__main__":
    main()
