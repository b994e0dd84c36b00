"""The bar tier through Dagster (issue 19): `spymaster bars import` of the real 1-minute CSVs builds
Bronze, levels, touches and labels per date in runs over whole date stretches; the lake's tables give
the same study as the in-memory path; a bad file writes nothing; Databento ohlcv-1m files build too."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.io import lake
from spymaster_core.io.csv_bars import read_bars_csv
from spymaster_core.research import bar_study
from tests.conftest import SAMPLES

REAL_BARS = Path(__file__).resolve().parents[2] / "shared" / "real" / "bars-1m"


def _lake_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
def test_bars_import_builds_the_bar_tier_like_the_in_memory_study(tmp_path: Path, monkeypatch) -> None:
    from spymaster_cli.main import app

    for var in ("SPYMASTER_LAKE", "DAGSTER_HOME", "SPYMASTER_DUCKDB", "SPYMASTER_DATA", "SPYMASTER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    files = sorted(REAL_BARS.glob("*.csv"))
    assert len(files) == 4
    runner = CliRunner()
    res = runner.invoke(app, ["bars", "import", *map(str, files), "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "imported bars: 55 sessions" in res.output and "ALL" in res.output
    root = tmp_path / "lake"
    by_date: dict[str, pl.DataFrame] = {}
    for f in files:
        by_date.update(read_bars_csv(f).by_date)
    # Bronze holds every bar of every date, nothing more.
    assert lake.written_dates(root, "futures_ohlcv_1m") == sorted(by_date)
    for d, b in by_date.items():
        got = lake.read_partition(root, "futures_ohlcv_1m", d)
        assert got.drop("source").equals(b.drop("source")), d
    # The Dagster-built tables give exactly the in-memory study.
    mem = bar_study.study_bars(by_date, DEFAULT_CONFIG)
    built = bar_study.study_from_lake(root, DEFAULT_CONFIG)
    assert built.sessions == mem.sessions and len(built.sessions) == 55
    cols = ["touch_id", "direction", "level_price", "outcome", "outcome_25", "atr_outcome"]
    assert built.touches.select(cols).sort("touch_id").equals(mem.touches.select(cols).sort("touch_id"))
    # The Gold outcome mart (dbt) counts every complete touch with an ATR once, by kind and regime.
    mart = pl.read_parquet(lake.file_path(root, "gold_bar_outcomes"))
    every = lake.read_table(root, "bar_touches").join(lake.read_table(root, "bar_labels"), on="touch_id")
    counted = every.filter(pl.col("atr_pt").is_not_null() & pl.col("lookforward_complete"))
    assert counted.height > 900 and mart["n_touches"].sum() == counted.height
    assert set(mart["vol_regime"]) == {"low", "mid", "high"} and set(mart["year"]) == {2020, 2023, 2025}
    or_low_breaks = counted.filter((pl.col("level_kind") == "OR_LOW") & (pl.col("outcome") == "BREAK")).height
    assert mart.filter(pl.col("level_kind") == "OR_LOW")["n_break"].sum() == or_low_breaks
    # The features the Dagster run wrote equal the in-memory ones (the models read them from the lake).
    from ml import bar_models

    lake_gold = bar_models.bar_gold_from_lake(root, DEFAULT_CONFIG).sort("touch_id")
    mem_gold = bar_models.bar_gold(by_date, DEFAULT_CONFIG).sort("touch_id")
    assert lake_gold.height > 800 and lake_gold.select(mem_gold.columns).equals(mem_gold)
    # The backtest asset's trades equal the in-memory backtest of the same bars; the dbt mart
    # gold_backtest gives the same per-policy figures as the asset's trades.
    from ml import backtest
    from spymaster_core.research import backtest as bt

    trades = pl.read_parquet(lake.file_path(root, "backtest_trades"))
    mem = backtest.run(backtest.inputs_from_bars(by_date, DEFAULT_CONFIG), DEFAULT_CONFIG)
    key = ["policy", "touch_id"]
    assert trades.height > 1500 and trades.sort(key).equals(mem.trades.sort(key))
    gb = pl.read_parquet(lake.file_path(root, "gold_backtest"))
    assert set(gb["tier"]) == {"bars"}
    per_policy = gb.filter((pl.col("level_kind") == "ALL") & (pl.col("year") == "ALL")).sort("policy")
    table = bt.policy_table(mem.trades, mem.test_dates, DEFAULT_CONFIG).sort("policy")
    assert per_policy["policy"].to_list() == table["policy"].to_list() == sorted(backtest.POLICIES)
    assert per_policy["trades"].to_list() == table["trades"].to_list()
    assert per_policy["expectancy_usd"].to_list() == pytest.approx(table["expectancy_usd"].to_list())
    assert per_policy["total_usd"].to_list() == pytest.approx(table["total_usd"].to_list())
    by_kind = gb.filter((pl.col("level_kind") != "ALL") & (pl.col("policy") == "always_fade"))
    assert by_kind["trades"].sum() == dict(table.select("policy", "trades").iter_rows())["always_fade"]
    # A bad file stops the import before anything is written: the lake is byte-identical.
    before = _lake_digest(root)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        files[1].read_text().replace("2023-03-08 00:02:00,4025.25", "2023-03-08 00:02:00,4099.25", 1)
    )
    res = runner.invoke(app, ["bars", "import", str(files[1]), str(bad), "--data-dir", str(tmp_path)])
    assert res.exit_code == 1 and "line 3: field high" in res.output and "nothing was written" in res.output
    assert _lake_digest(root) == before
    # `bars study` reads the lake.
    res = runner.invoke(app, ["bars", "study", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0 and "bar tier: 55 sessions" in res.output
    # `bars backtest` prints the same policy table and lists a date's trades.
    day = mem.test_dates[-1]
    res = runner.invoke(app, ["bars", "backtest", "--data-dir", str(tmp_path), "--trades-of", day])
    assert res.exit_code == 0, res.output
    fade = table.filter(pl.col("policy") == "always_fade").row(0, named=True)
    assert f"{fade['expectancy_usd']:+10.2f}" in res.output and "both exits in one bar = stop" in res.output
    listed = [
        ln for ln in res.output.splitlines() if " USD" in ln and ln.strip().split()[0] in backtest.POLICIES
    ]
    assert len(listed) == mem.trades.filter(pl.col("date") == day).height > 0


def test_databento_ohlcv_1m_files_build_bronze_bars(tmp_path: Path) -> None:
    """Real `ohlcv-1m` DBN files (a parent request with spreads, DBN v1 and newer): the front month by
    volume, bars in the session, sorted."""
    from spymaster_core.bronze import bars_1m
    from spymaster_core.io import landing

    cases = {
        "databento-python/tests/data/GLBX.MDP3/test_data.ohlcv-1m.dbn.zst": ("2020-12-28", "ESH1"),
        "nautilus_trader/tests/test_data/databento/historical_bars_catalog/databento/"
        "futures_ohlcv-1m_2024-07-01T23-40_2024-07-02T00-10.dbn.zst": ("2024-07-02", "ESU4"),
    }
    for rel, (date, front) in cases.items():
        land = tmp_path / date
        rep = landing.land_files([SAMPLES / rel], land)
        assert [dest.parent.name for _, dest in rep.landed] == [date]
        res = bars_1m.futures_ohlcv_1m(land, date)
        df = pl.from_arrow(res.table)
        assert res.notes["front_month"] == front and set(df["symbol"]) == {front}
        assert df.height > 0 and df["bar_start_ns"].is_sorted() and bars_1m.ohlc_consistent(res.table)
        assert (df["bar_start_ns"] % 60_000_000_000 == 0).all() and set(df["source"]) == {"dbn:ohlcv-1m"}


def test_ingest_of_a_databento_ohlcv_1m_file_builds_the_bar_tier(tmp_path: Path, monkeypatch) -> None:
    from spymaster_cli.main import app

    for var in ("SPYMASTER_LAKE", "DAGSTER_HOME", "SPYMASTER_DUCKDB", "SPYMASTER_DATA", "SPYMASTER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    f = (
        SAMPLES / "nautilus_trader/tests/test_data/databento/historical_bars_catalog/databento/"
        "futures_ohlcv-1m_2024-07-01T23-40_2024-07-02T00-10.dbn.zst"
    )
    res = CliRunner().invoke(app, ["ingest", str(f), "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "built the bar tier for 2024-07-02..2024-07-02" in res.output
    root = tmp_path / "lake"
    bars = lake.read_partition(root, "futures_ohlcv_1m", "2024-07-02")
    assert bars.height == 30 and set(bars["symbol"]) == {"ESU4"}
    assert lake.written_dates(root, "bar_levels") == ["2024-07-02"]  # 30 overnight bars: no levels yet
    assert lake.written_dates(root, "futures_trades") == []  # no tick data landed: no tick Bronze
