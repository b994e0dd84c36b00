"""Gold per-date marts under backfills: the partition window reaches dbt as vars, a re-run
replaces only its window, and five single-date runs started at once (a multi-run backfill) all
succeed against the one DuckDB file (no lock errors)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.io import lake
from spymaster_core.research import features

DATES = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def silver_rows(sim_day) -> dict[str, pl.DataFrame]:
    """One simulated date's Silver touches, features and labels (features from the engines)."""
    d = sim_day
    ft = features.touch_features(
        features.mbp10_batches(d.mbp10_files),
        d.trades,
        d.touches,
        d.levels,
        d.date,
        DEFAULT_CONFIG,
        d.options,
    )
    return {"touches": d.touches, "features": ft, "labels": d.labels}


def _write_silver(root: Path, rows: dict[str, pl.DataFrame], dates: list[str], drop: int = 0) -> None:
    """The simulated date's Silver rows written under each of `dates` (touch ids made unique per
    date); `drop` removes that many touches from every table."""
    keep = rows["touches"]["touch_id"].sort().to_list()[drop:]
    for date in dates:
        for table, df in rows.items():
            df = df.filter(pl.col("touch_id").is_in(keep)).with_columns(
                touch_id=pl.lit(date + "/") + pl.col("touch_id")
            )
            if "date" in df.columns:
                df = df.with_columns(date=pl.lit(date))
            lake.write_partition(root, table, date, df)


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "SPYMASTER_LAKE": str(tmp_path / "lake"),
        "SPYMASTER_DUCKDB": str(tmp_path / "gold.duckdb"),
        "SPYMASTER_DATA": str(tmp_path),
    }


@pytest.mark.slow
def test_range_run_passes_window_and_rebuilds_only_it(
    silver_rows, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in _env(tmp_path).items():
        monkeypatch.setenv(k, v)
    root = tmp_path / "lake"
    n = silver_rows["touches"].height
    assert n >= 5
    _write_silver(root, silver_rows, DATES)

    # The 5-date backfill as one run: one dbt process, the window as vars.
    instance = dg.DagsterInstance.ephemeral()
    from spymaster_assets.definitions import defs
    from spymaster_assets.defs.gold import GOLD_DAILY_MODELS

    res = dg.materialize(
        list(defs.assets),
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets(*GOLD_DAILY_MODELS),
        tags={
            "dagster/asset_partition_range_start": DATES[0],
            "dagster/asset_partition_range_end": DATES[-1],
        },
    )
    assert res.success
    cmds = [e.user_message for e in instance.all_logs(res.run_id) if "Running dbt command" in e.user_message]
    assert len(cmds) == 1 and f'"start_date": "{DATES[0]}", "end_date": "{DATES[-1]}"' in cmds[0], cmds
    assert lake.written_dates(root, "gold_training") == DATES
    for d in DATES:
        assert lake.read_partition(root, "gold_training", d).height == n
        assert lake.read_partition(root, "gold_daily_touches", d)["n_touches"].to_list() == [n]

    # Silver of every date changes (two touches dropped), but only 2026-11-04 is rebuilt.
    _write_silver(root, silver_rows, DATES, drop=2)
    res = dg.materialize(
        list(defs.assets),
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets(*GOLD_DAILY_MODELS),
        partition_key="2026-11-04",
    )
    assert res.success
    heights = {d: lake.read_partition(root, "gold_training", d).height for d in DATES}
    assert heights == {d: n - 2 if d == "2026-11-04" else n for d in DATES}
    con = duckdb.connect(str(tmp_path / "gold.duckdb"), read_only=True)
    per_date = dict(con.execute("select date, count(*) from gold_training group by date").fetchall())
    con.close()
    assert per_date == heights


@pytest.mark.slow
def test_five_single_date_runs_at_once_share_the_duckdb_file(silver_rows, tmp_path: Path) -> None:
    """What a multi-run backfill (or the multiprocess executor) does: five processes, one
    partition each, started together. Each waits for the DuckDB writer lock; none fails."""
    env = {**os.environ, **_env(tmp_path)}
    root = tmp_path / "lake"
    _write_silver(root, silver_rows, DATES)
    script = textwrap.dedent(
        """
        import sys
        import dagster as dg
        from spymaster_assets.defs.gold import GOLD_DAILY_MODELS
        from spymaster_assets.definitions import defs
        res = dg.materialize(list(defs.assets), instance=dg.DagsterInstance.ephemeral(),
            resources=defs.resources, selection=dg.AssetSelection.assets(*GOLD_DAILY_MODELS),
            partition_key=sys.argv[1], raise_on_error=False)
        sys.exit(0 if res.success else 1)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, d],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for d in DATES
    ]
    outs = [(p.communicate(timeout=600)[0].decode(errors="replace"), p.returncode) for p in procs]
    for (out, rc), d in zip(outs, DATES, strict=True):
        assert rc == 0, f"{d}:\n{out[-3000:]}"
        assert "Could not set lock" not in out and "Conflicting lock" not in out
    n = silver_rows["touches"].height
    assert lake.written_dates(root, "gold_training") == DATES
    con = duckdb.connect(str(tmp_path / "gold.duckdb"), read_only=True)
    assert con.execute("select count(*), count(distinct date) from gold_training").fetchone() == (5 * n, 5)
    con.close()
    waited = sum("waiting for the DuckDB writer lock" in out for out, _ in outs)
    assert waited >= 1  # they did overlap: at least one run had to wait its turn
