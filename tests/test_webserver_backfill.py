"""A 3-date backfill through the real Dagster services, as a user runs it from the UI.

Starts `dagster-webserver` and `dagster-daemon` on free ports against a temporary DAGSTER_HOME that
holds deploy/dagster.yaml (2 runs at once, pool `duckdb_writer` limit 1), submits a backfill of
`daily_partition_job` over three simulated dates through the webserver's GraphQL API (gql, the
client Dagster's own Python client is built on), waits for its runs, then checks:
- every run succeeded and two partitions ran at the same time (parallel runs);
- no two Gold (dbt) steps ran at the same time (the DuckDB single-writer pool);
- every daily asset has a materialization for each date;
- the lake and the Gold DuckDB hold exactly those dates, with one Gold row per Silver touch.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests
from dagster_graphql import DagsterGraphQLClient
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.requests import RequestsHTTPTransport

from spymaster_assets.duckdb_writer import DUCKDB_POOL
from spymaster_core.io import lake
from spymaster_core.sim import simulate_session
from spymaster_live.bus import free_port

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATES = ["2026-11-16", "2026-11-17", "2026-11-18"]
JOB = "daily_partition_job"

WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name partitionSets { name pipelineName } } }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
  }
}
"""
BACKFILL_RUNS = """
query BackfillRuns($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status }
    ... on PythonError { message }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $backfillId}]}) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = open(log, "w")  # noqa: SIM115 - closed with the process group in the fixture
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait_for_location(gql_client: Client, web: subprocess.Popen, log: Path, timeout_s: float) -> dict:
    """The loaded code location entry (name, repositories) once the webserver has loaded it."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        assert web.poll() is None, f"dagster-webserver exited:\n{log.read_text()[-3000:]}"
        try:
            res = gql_client.execute(gql(WORKSPACE_QUERY))
        except (TransportConnectionFailed, TransportQueryError, requests.ConnectionError, OSError) as exc:
            last = exc
            time.sleep(1.0)
            continue
        entries = res["workspaceOrError"].get("locationEntries", [])
        for e in entries:
            loc = e["locationOrLoadError"]
            if loc and loc["__typename"] == "PythonError":
                pytest.fail(f"code location failed to load: {loc['message']}")
            if e["loadStatus"] == "LOADED" and loc and loc["__typename"] == "RepositoryLocation":
                return loc
        last = entries
        time.sleep(1.0)
    pytest.fail(f"code location not loaded within {timeout_s}s (last: {last}):\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_three_date_backfill_through_webserver_and_daemon(tmp_path: Path) -> None:
    from dagster import DagsterEventType, DagsterInstance, RunsFilter

    root = tmp_path / "lake"
    for i, date in enumerate(DATES):
        simulate_session(date, 11 + i, root / "landing", scale="small")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SPYMASTER_LAKE": str(root),
        "SPYMASTER_DATA": str(tmp_path),
        "SPYMASTER_DUCKDB": str(tmp_path / "gold.duckdb"),
        # Partitions run in parallel as separate run processes (the queue allows 2). Inside a run the
        # steps run in the run worker: a multiprocess step pays ~10 s of imports on these small dates.
        "SPYMASTER_EXECUTOR": "in_process",
    }
    env.pop("SPYMASTER_CONFIG", None)
    # Create the instance's storage first, as an operator does on a new DAGSTER_HOME: the webserver
    # and the daemon starting together on an empty SQLite store can both stamp its schema version
    # ("alembic_version has more than one head").
    subprocess.run(
        [str(BIN / "dagster"), "instance", "migrate"], env=env, cwd=REPO, check=True, capture_output=True
    )
    port = free_port()
    web_log, daemon_log = tmp_path / "webserver.log", tmp_path / "daemon.log"
    web = _start(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        env,
        web_log,
    )
    daemon = _start([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, daemon_log)
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        gql_client = Client(
            transport=RequestsHTTPTransport(url=url, timeout=60), fetch_schema_from_transport=False
        )
        loc = _wait_for_location(gql_client, web, web_log, timeout_s=240)
        repo = loc["repositories"][0]
        part_set = next(p["name"] for p in repo["partitionSets"] if p["pipelineName"] == JOB)

        res = gql_client.execute(
            gql(LAUNCH_BACKFILL),
            variable_values={
                "backfillParams": {
                    "selector": {
                        "partitionSetName": part_set,
                        "repositorySelector": {
                            "repositoryLocationName": loc["name"],
                            "repositoryName": repo["name"],
                        },
                    },
                    "partitionNames": DATES,
                }
            },
        )["launchPartitionBackfill"]
        assert res["__typename"] == "LaunchBackfillSuccess", res
        backfill_id = res["backfillId"]

        deadline = time.monotonic() + 900
        runs: list[dict] = []
        while time.monotonic() < deadline:
            assert daemon.poll() is None, f"dagster-daemon exited:\n{daemon_log.read_text()[-3000:]}"
            try:
                out = gql_client.execute(gql(BACKFILL_RUNS), variable_values={"backfillId": backfill_id})
            except TransportQueryError as exc:  # e.g. SQLite busy while run workers write: ask again
                runs = [{"error": str(exc)}]
                time.sleep(3.0)
                continue
            runs = out["runsOrError"]["results"]
            if len(runs) == len(DATES) and all(r["status"] in TERMINAL for r in runs):
                break
            time.sleep(3.0)
        else:
            pytest.fail(f"backfill not finished in 900s: {runs}\n{daemon_log.read_text()[-3000:]}")

        # Dagster's Python GraphQL client agrees on every run's status.
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        statuses = {r["runId"]: client.get_run_status(r["runId"]).value for r in runs}
        assert set(statuses.values()) == {"SUCCESS"}, (statuses, daemon_log.read_text()[-3000:])
        partitions = sorted(
            next(t["value"] for t in r["tags"] if t["key"] == "dagster/partition") for r in runs
        )
        assert partitions == DATES
    finally:
        _stop(daemon)
        _stop(web)

    os.environ["DAGSTER_HOME"] = str(home)
    try:
        instance = DagsterInstance.get()
        records = instance.get_run_records(filters=RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert len(records) == len(DATES)
        # Parallel partitions: the queue ran two at once, never more.
        spans = [(r.start_time, r.end_time) for r in records]
        assert all(s is not None and e is not None for s, e in spans)
        most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
        assert most == 2, spans

        # Single writer: no two Gold steps (pool duckdb_writer, limit 1) overlapped.
        gold: list[tuple[float, float]] = []
        for r in records:
            starts, ends = {}, {}
            for ev in instance.all_logs(
                r.dagster_run.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
            ):
                if "gold_daily_marts" not in (ev.step_key or ""):
                    continue
                (starts if ev.dagster_event_type == DagsterEventType.STEP_START else ends)[ev.step_key] = (
                    ev.timestamp
                )
            gold += [(starts[k], ends[k]) for k in starts]
        assert len(gold) == len(DATES)
        gold.sort()
        assert all(prev_end <= start for (_, prev_end), (start, _) in itertools.pairwise(gold)), gold
        # ...because each Gold step claimed the pool's single slot (created from default_limit 1 on the
        # first claim; a step outside the pool never creates it) and released it.
        info = instance.event_log_storage.get_concurrency_info(DUCKDB_POOL)
        assert info.slot_count == 1 and not info.claimed_slots, info

        # Every asset of the job materialized for every date.
        from spymaster_assets.definitions import defs

        job = defs.resolve_job_def(JOB)
        keys = sorted(job.asset_layer.executable_asset_keys)
        assert len(keys) >= 10
        for key in keys:
            assert sorted(instance.get_materialized_partitions(key)) == DATES, key
    finally:
        os.environ.pop("DAGSTER_HOME", None)

    # The lake and DuckDB hold exactly the backfilled dates; Gold has one row per Silver touch.
    for table in ("futures_trades", "futures_mbp10", "touches", "features", "labels", "gold_training"):
        assert lake.written_dates(root, table) == DATES, table
    touches = {d: lake.read_partition(root, "touches", d).height for d in DATES}
    assert sum(touches.values()) > 0
    con = duckdb.connect(str(tmp_path / "gold.duckdb"), read_only=True)
    try:
        per_date = dict(con.execute("select date, count(*) from gold_training group by date").fetchall())
    finally:
        con.close()
    assert {str(d): n for d, n in per_date.items() if n} == {d: n for d, n in touches.items() if n}
    for d in DATES:
        assert lake.read_partition(root, "gold_training", d).height == touches[d]
