"""Dagster instance storage and MLflow tracking on PostgreSQL (deploy/dagster.postgres.yaml).

Uses the server at 127.0.0.1:5432 (user postgres, trust auth, or PG* variables); skips cleanly
when none is reachable. Each run creates two fresh databases and drops them afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg
from tests.pg import HOST, PASSWORD, USER

psycopg2 = pytest.importorskip("psycopg2")

REPO = Path(__file__).resolve().parents[1]
DATE = "2026-11-16"
PROBE = r"""
import sys
import dagster as dg
from ml import registry
from spymaster_assets.definitions import defs
from pathlib import Path

instance = dg.DagsterInstance.get()
graph = defs.resolve_asset_graph()
keys = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in ("bronze", "silver")]
res = dg.materialize([*defs.assets, *defs.asset_checks], partition_key=sys.argv[1], instance=instance,
                     resources=defs.resources, selection=dg.AssetSelection.assets(*keys))
run_id, _ = registry.log_run(Path(sys.argv[2]), {"partition": sys.argv[1]}, {"direction_model_auc": 0.5}, {})
print(type(instance.run_storage).__name__, res.run_id, run_id)
"""


@pytest.mark.slow
def test_partition_with_dagster_and_mlflow_on_postgres(tmp_path: Path) -> None:
    from spymaster_core.sim import simulate_session

    with pg.fresh_databases("spymaster_dagster", "spymaster_mlflow") as (dagster_db, mlflow_db):
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(REPO / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
        simulate_session(DATE, 5, tmp_path / "lake" / "landing", scale="small")
        auth = f"{USER}:{PASSWORD}@" if PASSWORD else f"{USER}@"
        env = {**os.environ, "DAGSTER_HOME": str(home), "SPYMASTER_LAKE": str(tmp_path / "lake"),
               "SPYMASTER_DATA": str(tmp_path), **pg.dagster_env(dagster_db),
               "MLFLOW_TRACKING_URI": f"postgresql+psycopg2://{auth}{HOST}:5432/{mlflow_db}"}  # fmt: skip
        env.pop("SPYMASTER_CONFIG", None)
        out = subprocess.run(
            [sys.executable, "-c", PROBE, DATE, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        storage, dagster_run, mlflow_run = out.stdout.strip().splitlines()[-1].split()
        assert storage == "PostgresRunStorage"
        # The run and its materializations are rows in Postgres; the MLflow run too.
        with (
            psycopg2.connect(host=HOST, user=USER, password=PASSWORD, dbname=dagster_db) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT status FROM runs WHERE run_id = %s", (dagster_run,))
            assert cur.fetchone() == ("SUCCESS",)
            cur.execute(
                "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
                (dagster_run,),
            )
            assert cur.fetchone()[0] >= 9  # Bronze + Silver assets of the partition
        with (
            psycopg2.connect(host=HOST, user=USER, password=PASSWORD, dbname=mlflow_db) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT status FROM runs WHERE run_uuid = %s", (mlflow_run,))
            assert cur.fetchone() == ("FINISHED",)
        assert not (tmp_path / "mlflow" / "mlflow.db").exists()  # nothing went to the sqlite default
