"""The simulator against real ES (issue 20): the statistics are measured the same way on both
sides, the real side reads the real files in ../shared, and a simulated sample lies in the bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.io import dbn
from spymaster_core.research import realism, realism_sides

REAL = Path(__file__).resolve().parents[2] / "shared" / "real"


def test_bands() -> None:
    assert realism.band_of("ret_std_bp").holds(4.0, 5.2) and not realism.band_of("ret_std_bp").holds(4.0, 5.4)
    assert realism.band_of("ALL_break_10pt_%").holds(10.5, 15.4) and not realism.band_of("x_%").holds(
        10.5, 15.6
    )
    assert realism.band_of("acf_lag1").holds(-0.01, 0.035) and not realism.band_of("acf_lag2").holds(
        0.0, 0.06
    )
    assert realism.band_of("vol_profile_corr").holds(1.0, 0.7) and not realism.band_of(
        "vol_profile_corr"
    ).holds(1.0, 0.6)


def test_compare_counts_only_what_both_sides_measured() -> None:
    table = realism.compare(
        {"path": {"ret_std_bp": 4.5, "acf_lag1": 0.0}, "book": {"order_size_mean": 2.9}},
        {"path": {"ret_std_bp": 9.0, "acf_lag1": 0.01}, "tape": {"trades_per_min": 60.0}},
    )
    assert table["statistic"].to_list() == ["ret_std_bp", "acf_lag1", "trades_per_min", "order_size_mean"]
    assert table["in_band"].to_list() == [False, True, None, None]
    assert realism.render(table, "r", "s")[-1] == "REALISM in_band=1 of=2"


def test_the_truncated_real_mbp1_file_gives_its_complete_records() -> None:
    """The published-truncated ESM4 mbp-1 file: its complete records decode (ingestion still refuses
    it), and its trade records are the trades file's first prints, one for one."""
    path = REAL / "databento/esm4_2024-06-10_1030ET.mbp-1.truncated.dbn.zst"
    with pytest.raises(dbn.DBNReadError, match="truncated"):
        dbn.decode_file(path)
    dec, n = dbn.decode_complete_prefix(path)
    assert n == dec.tables["bbo"].num_rows > 13_000
    t = pl.from_arrow(dec.tables["trades"])
    full = pl.from_arrow(dbn.decode_file(REAL / realism_sides.REAL_TRADES).tables["trades"])
    cols = ["ts_event_ns", "price", "size", "side"]
    assert t.height > 700 and t.select(cols).equals(full.head(t.height).select(cols))


def test_tape_statistics_on_the_real_esm4_prints() -> None:
    t = pl.from_arrow(dbn.decode_file(REAL / realism_sides.REAL_TRADES).tables["trades"])
    st = realism.tape_stats(t, realism_sides.tape_window("2024-06-10"))
    assert st["trades_per_min"] == t.height / 5 == 700.0
    assert st["one_lot_trades_%"] == pytest.approx(100 * (t["size"] == 1).mean())
    assert st["trade_size_mean"] == pytest.approx(t["size"].mean())
    ts = np.unique(t["ts_event_ns"].to_numpy())
    assert st["inter_trade_ms_median"] == pytest.approx(np.median(np.diff(ts)) / 1e6)


def test_real_side_reads_every_group(samples: Path) -> None:
    """What real ES says, checked against facts a futures trader knows: RTH 1-minute returns of a
    few bp with fat tails and no autocorrelation to speak of; a one-tick spread nearly always; one-lot
    prints and orders the most common."""
    side = realism_sides.real_side(REAL, samples, DEFAULT_CONFIG)
    path, levels, tape, book = (side.stats[g] for g in realism.GROUPS)
    assert 3.0 < path["ret_std_bp"] < 7.0 and path["ret_excess_kurtosis"] > 3.0
    assert all(abs(path[f"acf_lag{k}"]) < 0.05 for k in range(1, 6))
    assert path["vol_open_vs_midday"] > 1.2 and len(side.profile) == 13
    assert 10 < levels["touches_per_session_ALL"] < 30
    assert levels["ALL_chop_10pt_%"] + levels["ALL_bounce_10pt_%"] + levels[
        "ALL_break_10pt_%"
    ] == pytest.approx(100.0)
    assert tape["trades_per_min"] == 700.0 and tape["one_lot_trades_%"] > 40
    assert book["spread_one_tick_%"] > 95 and book["one_lot_orders_%"] > 50


@pytest.mark.slow
def test_a_simulated_sample_lies_in_the_bands(tmp_path: Path) -> None:
    """40 simulated dates (the last at the realistic scale for the tape and book), measured against
    the real files: every price-path, tape and book statistic and every pooled level statistic is
    in its band; per level kind (100-200 touches a side, so a share is known to about 4 points) the
    touch rates are in band and the outcome shares mostly differ from the real ones by sampling
    noise (|z| <= 2 for 75% of them, none beyond 3.5: the simulator's low-side levels bounce less
    than real ES's, about 2.5 standard errors). The table is written to the lake."""
    from spymaster_assets import realism_run

    root = tmp_path / "lake"
    table, lines = realism_run.run(tmp_path, root, DEFAULT_CONFIG, simulate=40, seed=1, echo=print)
    print("\n".join(lines))
    judged = table.filter(pl.col("in_band").is_not_null())
    assert (
        judged.height >= 55
        and lines[-1] == f"REALISM in_band={int(judged['in_band'].sum())} of={judged.height}"
    )
    per_kind = judged.filter(
        (pl.col("group") == "levels")
        & ~pl.col("statistic").str.contains("ALL")
        & ~pl.col("statistic").str.starts_with("time")
    )
    pooled = judged.filter(~pl.col("statistic").is_in(per_kind["statistic"]))
    assert pooled.filter(~pl.col("in_band")).is_empty(), pooled.filter(~pl.col("in_band"))
    rates = per_kind.filter(pl.col("statistic").str.starts_with("touches_per_session"))
    assert rates.height >= 5 and rates["in_band"].sum() >= rates.height - 1, rates
    shares = per_kind.filter(pl.col("z").is_not_null())
    assert (
        shares.height >= 15 and (shares["z"].abs() <= 2).mean() >= 0.75 and shares["z"].abs().max() <= 3.5
    ), shares
    written = pl.read_parquet(root / "gold/evaluation/realism.parquet")
    assert written.select(table.columns).equals(table)


def test_lake_mode_reads_only_the_simulated_dates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`spymaster realism` on a lake: a real date landed beside the simulated ones stays out of the
    simulated side (the simulator's ground truth marks its dates); with no simulated date the
    command says what to do, and nothing is written."""
    from typer.testing import CliRunner

    from spymaster_cli.main import app
    from spymaster_core.bronze import builders as bronze
    from spymaster_core.io import lake
    from spymaster_core.sim import simulate_session

    monkeypatch.delenv("SPYMASTER_LAKE", raising=False)
    root = tmp_path / "lake"
    runner = CliRunner()
    res = runner.invoke(app, ["realism", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "no simulated dates in the lake" in res.output
    assert not (root / "gold").exists()
    for d in ("2026-11-16", "2026-11-17"):
        simulate_session(d, 2, root / "landing", scale="small")
        lake.write_partition(root, "futures_trades", d, bronze.futures_trades(root / "landing", d).table)
    real = pl.from_arrow(dbn.decode_file(REAL / realism_sides.REAL_TRADES).tables["trades"])
    lake.write_partition(root, "futures_trades", "2024-06-10", real)  # a real date in the same lake
    res = runner.invoke(app, ["realism", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "2 simulated dates 2026-11-16..2026-11-17 from the lake" in res.output
    assert res.output.strip().splitlines()[-1].startswith("REALISM in_band=")
    assert pl.read_parquet(root / "gold/evaluation/realism.parquet")["sim_inputs"][0].startswith(
        "2 simulated"
    )
    # The Dagster asset runs the same code on the same lake: the same count, in its metadata.
    import dagster as dg

    monkeypatch.setenv("SPYMASTER_LAKE", str(root))
    monkeypatch.setenv("SPYMASTER_DATA", str(tmp_path))
    from spymaster_assets.definitions import defs

    run = dg.materialize(
        list(defs.assets), resources=defs.resources, selection=dg.AssetSelection.assets("realism_report"),
        instance=dg.DagsterInstance.ephemeral(),
    )  # fmt: skip
    md = run.get_asset_materialization_events()[0].materialization.metadata
    last = res.output.strip().splitlines()[-1]
    assert last == f"REALISM in_band={md['in_band'].value} of={md['of'].value}"
