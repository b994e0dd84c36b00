"""Dagster's Celery executor for real (deploy/celery/): the instance on the local PostgreSQL, the
broker the local RabbitMQ, two Celery workers started with `dagster-celery worker start`, and a
backfill of four simulated dates through `daily_partition_job` (one run per date, all four at once).
One worker is SIGKILLed while it runs a step: RabbitMQ puts the unacknowledged task back and the
other worker runs the step (deploy/celery/run_config.yaml: acks_late, reject_on_worker_lost).

Checked: every run succeeds and every asset of every date is materialized; steps ran in both
workers; the killed step ran again on the survivor; the Gold steps (pool `duckdb_writer`, limit 1)
never overlapped across the four runs; every materialized partition's files hash to the data version
its materialization recorded (nothing half-written). Skips when the broker or PostgreSQL is not
reachable, as the Postgres test does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from spymaster_assets import celery_backfill as cb
from tests import pg

REPO = Path(__file__).resolve().parents[1]
RUN_CONFIG = REPO / "deploy" / "celery" / "run_config.yaml"
BROKER = os.environ.get("CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
DATES = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]

pytestmark = pytest.mark.slow


def _broker_or_skip() -> None:
    from kombu import Connection

    try:
        with Connection(BROKER, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no broker here"
        pytest.skip(f"no Celery broker reachable at {BROKER} ({type(exc).__name__}: {exc})")


def test_celery_backfill_of_four_dates_survives_a_killed_worker(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import dagster as dg
    from dagster._core.events import DagsterEventType

    from spymaster_core.io import lake as lake_io
    from spymaster_core.sim import simulate_session

    _broker_or_skip()
    with pg.fresh_databases("spymaster_celery") as (db,):
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(REPO / "deploy" / "celery" / "dagster.yaml", home / "dagster.yaml")
        lake = tmp_path / "lake"
        for i, d in enumerate(DATES):
            simulate_session(d, 11 + i, lake / "landing", scale="small")
        env = cb.instance_env(home, lake, tmp_path, pg.dagster_env(db), "celery", BROKER)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        cb.prepare_instance(env)  # schema and pool limit before four runs start at once
        logs = {n: tmp_path / f"{n}.log" for n in ("w1", "w2")}
        workers = {n: cb.start_worker(n, RUN_CONFIG, env, logs[n]) for n in logs}
        runs: dict[str, subprocess.Popen] = {}
        try:
            for n, p in workers.items():
                cb.wait_ready(p, logs[n])
            for d in DATES:
                runs[d] = cb.launch_run("daily_partition_job", d, RUN_CONFIG, env, tmp_path / f"run-{d}.log")
            instance = dg.DagsterInstance.get()

            def step_starts_in(worker: str) -> list[tuple[str, str]]:
                """(run_id, step_key) of every step a worker has started (the Celery task's engine event)."""
                out = []
                for r in instance.get_runs():
                    for rec in instance.get_records_for_run(
                        r.run_id, of_type=DagsterEventType.ENGINE_EVENT
                    ).records:
                        ev = rec.event_log_entry.dagster_event
                        md = ev.engine_event_data.metadata if ev and ev.engine_event_data else {}
                        host = md.get("Celery worker")
                        if host is not None and str(host.value).startswith(f"{worker}@"):
                            out.append((r.run_id, ev.step_key))
                return out

            def finished(run_id: str, step_key: str) -> bool:
                recs = instance.get_records_for_run(run_id, of_type={DagsterEventType.STEP_SUCCESS,
                                                    DagsterEventType.STEP_FAILURE}).records  # fmt: skip
                return any(r.event_log_entry.step_key == step_key for r in recs)

            # Kill w1 while it runs a step, once each worker has finished a step of its own.
            victim = None
            t0 = time.monotonic()
            while victim is None and time.monotonic() - t0 < 600:
                if all(p.poll() is not None for p in runs.values()):
                    break
                w1 = step_starts_in("w1")
                busy = [s for s in w1 if not finished(*s)]
                if busy and len(busy) < len(w1) and any(finished(*s) for s in step_starts_in("w2")):
                    victim = busy[-1]
                    cb.kill_group(workers["w1"])
                    break
                time.sleep(0.3)
            assert victim is not None, "w1 never ran a step while w2 had one: nothing to kill mid-step"
            for d, p in runs.items():
                try:
                    p.wait(timeout=1500)
                except subprocess.TimeoutExpired:
                    p.kill()
                    raise AssertionError(f"run for {d} did not finish:\n{(tmp_path / f'run-{d}.log').read_text()[-3000:]}") from None  # fmt: skip
                assert p.returncode == 0, (tmp_path / f"run-{d}.log").read_text()[-4000:]
        finally:
            for p in [*runs.values(), *workers.values()]:
                if p.poll() is None:
                    cb.kill_group(p) if p in workers.values() else p.kill()

        from spymaster_assets.definitions import defs
        from spymaster_assets.duckdb_writer import DUCKDB_POOL
        from spymaster_assets.schedules import daily_job

        job = defs.resolve_job_def("daily_partition_job")
        # One successful run per date.
        all_runs = instance.get_runs()
        by_date = defaultdict(list)
        for r in all_runs:
            by_date[r.tags.get("dagster/partition")].append(r)
        assert sorted(by_date) == DATES and all(len(v) == 1 for v in by_date.values()), dict(by_date)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in all_runs)
        # The killed step ran again on w2 and succeeded.
        assert victim in step_starts_in("w2"), f"{victim} was not re-run on the surviving worker"
        assert finished(*victim)
        # Every asset of every date materialized; its files hash to the recorded data version.
        keys = daily_job.selection.resolve(defs.resolve_asset_graph())
        checked = 0
        for key in keys:
            for d in DATES:
                recs = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=key, asset_partitions=[d]), limit=1
                )
                assert recs.records, f"{key.to_user_string()} not materialized for {d}"
                mat = recs.records[0].asset_materialization
                path = mat.metadata.get("path")
                if path is not None:
                    files = lake_io.glob(str(path.value), "*.parquet")
                    assert files, (key, d, path.value)
                    assert lake_io.files_version(files)[:32] == mat.tags.get("dagster/data_version"), (key, d)
                    checked += 1
        assert checked >= 4 * 8, checked
        # The Gold steps (pool duckdb_writer, limit 1 in deploy/celery/dagster.yaml) never overlapped.
        gold_ops = {
            n.name for n in job.graph.node_dict.values() if getattr(n.definition, "pool", None) == DUCKDB_POOL
        }
        assert gold_ops
        spans = [
            (start, end, r.run_id, key)
            for r in all_runs
            for key, start, end in cb.step_spans(instance, r.run_id)
            if key in gold_ops
        ]
        spans.sort()
        assert len(spans) == 4 * len(gold_ops), spans
        for (_a0, a1, ra, sa), (b0, _b1, rb, sb) in zip(spans, spans[1:], strict=False):
            assert b0 >= a1, f"Gold steps overlapped: {sa} ({ra[:8]}) and {sb} ({rb[:8]})"
        print(f"celery: 4 runs, steps in w1 {len(step_starts_in('w1'))} and w2 {len(step_starts_in('w2'))}, "
              f"killed w1 in {victim[1]}, {len(spans)} Gold steps one at a time, {checked} partitions hashed")  # fmt: skip
