"""A 3-date backfill through the real Dagster services, as a user runs it from the UI, and a bar-tier
asset backfill of two real dates (runs over the whole range, by the assets' single-run backfill policy).

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
# The bar tier's asset backfill: two real dates of FirstRate 1-minute bars (../shared/real).
REAL_BARS = REPO.parent / "shared" / "real" / "bars-1m" / "firstrate_ES_1min_2023-03-08_2023-03-23.csv"
BAR_DATES = ["2023-03-09", "2023-03-10"]
BAR_ASSETS = ["bronze_futures_ohlcv_1m", "silver_bar_levels", "silver_bar_touches", "silver_bar_labels"]

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

    from spymaster_core.bronze.bars_1m import write_csv_slices
    from spymaster_core.io.csv_bars import read_bars_csv

    root = tmp_path / "lake"
    for i, date in enumerate(DATES):
        simulate_session(date, 11 + i, root / "landing", scale="small")
    imp = read_bars_csv(REAL_BARS)
    imp.by_date = {d: imp.by_date[d] for d in BAR_DATES}
    write_csv_slices(imp, root / "landing")
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

        # The bar tier as an asset backfill: its single-run backfill policy makes the two dates one run.
        res = gql_client.execute(
            gql(LAUNCH_BACKFILL),
            variable_values={
                "backfillParams": {
                    "assetSelection": [{"path": [k]} for k in BAR_ASSETS],
                    "partitionNames": BAR_DATES,
                }
            },
        )["launchPartitionBackfill"]
        assert res["__typename"] == "LaunchBackfillSuccess", res
        bar_backfill = res["backfillId"]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                out = gql_client.execute(gql(BACKFILL_RUNS), variable_values={"backfillId": bar_backfill})
            except TransportQueryError:
                time.sleep(3.0)
                continue
            bar_runs = out["runsOrError"]["results"]
            done = out["partitionBackfillOrError"].get("status") in (
                "COMPLETED",
                "COMPLETED_SUCCESS",
                "FAILED",
            )
            if bar_runs and all(r["status"] in TERMINAL for r in bar_runs) and done:
                break
            time.sleep(3.0)
        else:
            pytest.fail(f"bar backfill not finished in 600s\n{daemon_log.read_text()[-3000:]}")
        # Each run covers a whole range (never a run per date). The SMA warm-up mapping makes Dagster
        # run Bronze first in its own run and extend Silver to the 3 trading dates after (their SMAs
        # read these bars): Bronze 03-09..03-10, Silver 03-09..03-15.
        assert {r["status"] for r in bar_runs} == {"SUCCESS"} and len(bar_runs) < len(BAR_ASSETS), bar_runs
        ranges = set()
        for r in bar_runs:
            tags = {t["key"]: t["value"] for t in r["tags"]}
            ranges.add(
                (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"])
            )
        assert ranges == {(BAR_DATES[0], BAR_DATES[-1]), (BAR_DATES[0], "2023-03-15")}, ranges
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
        from dagster import AssetKey

        for name in BAR_ASSETS:
            assert set(BAR_DATES) <= set(instance.get_materialized_partitions(AssetKey(name))), name
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
    # The bar tier wrote its two real dates, with touches and one label per touch.
    for table in ("futures_ohlcv_1m", "bar_levels", "bar_touches", "bar_labels"):
        assert lake.written_dates(root, table) == BAR_DATES, table
    for d in BAR_DATES:
        assert lake.read_partition(root, "futures_ohlcv_1m", d).height == imp.by_date[d].height
        n = lake.read_partition(root, "bar_touches", d).height
        assert n > 0 and lake.read_partition(root, "bar_labels", d).height == n
