"""Bar-tier benchmark: years of simulated 1-minute sessions through Bronze -> Silver -> Gold -> model.

Writes N simulated sessions as Databento `ohlcv-1m` DBN files (`spymaster_core.sim.bars`; 1,000 by
default, `--quick` 50), then in one process measures:
  - seconds: the whole pipeline: one Dagster run over the date range (the bar-tier assets'
    single-run backfill policy: Bronze 1-minute bars, levels, touches, labels, features of every
    session), the Gold outcome mart (dbt `gold_bar_outcomes`), and the model: the four heads and
    both baselines walk-forward by date with bootstrap intervals (`ml.bar_models.study`, at most
    `model.max_refits` refits per head); each part is printed;
  - study_s: the outcome table read back from the lake (`bar_study.study_from_lake`, what
    `spymaster bars study` prints);
  - one_run_per_date_seconds: the baseline, the same assets materialized as one run per date (what a
    backfill without the policy does): K dates are timed as separate runs and the per-run mean is
    multiplied by N (printed as an extrapolation, with K), plus the same Gold and model seconds;
  - peak_rss_mb: this process's peak resident set (the runs execute in-process), which a range run
    keeps bounded by a date and its 3-date SMA warm-up, not by the history.
Target: N = 1,000 in at most 5 minutes on 2 cores.
The instance is a fresh SQLite one in the work dir unless `--dagster-home` names another (its
storage decides much of the figure: each asset-partition stores a planned and a materialization
event). Last line: `BENCH bars sessions=<n> seconds=<s> one_run_per_date_seconds=<s> peak_rss_mb=<n>`.
Usage: python benchmarks/bench_bars.py [--quick] [--sessions N] [--workdir DIR] [--dagster-home DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

END_DATE = "2026-11-20"
PER_DATE_SAMPLE = 5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50 sessions, under 60 s")
    ap.add_argument("--sessions", type=int, default=None, help="number of sessions (default 1000)")
    ap.add_argument("--workdir", type=Path, default=None, help="data dir (default: a temp dir, removed)")
    ap.add_argument(
        "--dagster-home",
        type=Path,
        default=None,
        help="an existing DAGSTER_HOME (e.g. one with deploy/dagster.postgres.yaml) instead of SQLite",
    )
    args = ap.parse_args()
    n = args.sessions or (50 if args.quick else 1000)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="spymaster-bench-bars-"))
    for var in ("SPYMASTER_LAKE", "DAGSTER_HOME", "SPYMASTER_DUCKDB", "SPYMASTER_DATA", "SPYMASTER_CONFIG"):
        os.environ.pop(var, None)
    if args.dagster_home:
        os.environ["DAGSTER_HOME"] = str(args.dagster_home.resolve())
    from spymaster_assets.instance import prepare_location

    prepare_location(work.resolve())
    import dagster as dg

    from ml import bar_models
    from spymaster_assets.bars_import import RANGE_END_TAG, RANGE_START_TAG
    from spymaster_assets.dbt_project import GOLD_BAR_MODELS
    from spymaster_assets.defs.bar_tier import GROUP
    from spymaster_assets.instance import materialize
    from spymaster_core import calendar
    from spymaster_core.config import load_config
    from spymaster_core.research import bar_study
    from spymaster_core.sim import bars as sim_bars

    lake_root = Path(os.environ["SPYMASTER_LAKE"])
    dates = [d.isoformat() for d in calendar.previous_trading_dates(END_DATE, n)]
    t = time.perf_counter()
    price = 4000.0
    for d in dates:  # chained: each session opens at the previous one's last close
        recs = sim_bars.session_bars(d, 7, price)
        price = sim_bars.last_close(recs)
        sim_bars.write_bars(recs, d, lake_root / "landing")
    print(f"wrote {n} sessions of ohlcv-1m ({dates[0]} .. {dates[-1]}) in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    run = materialize(
        dg.AssetSelection.groups(GROUP), tags={RANGE_START_TAG: dates[0], RANGE_END_TAG: dates[-1]}
    )
    silver_s = time.perf_counter() - t
    assert run.success
    print(
        f"Bronze+Silver, one run over {n} dates: {silver_s:.1f}s ({1000 * silver_s / n:.0f} ms per session)"
    )
    t = time.perf_counter()
    assert materialize(dg.AssetSelection.assets(*GOLD_BAR_MODELS)).success
    gold_s = time.perf_counter() - t
    print(f"Gold outcome mart (dbt): {gold_s:.1f}s")
    cfg = load_config()
    t = time.perf_counter()
    gold = bar_models.bar_gold_from_lake(lake_root, cfg)
    res = bar_models.study(gold, cfg)
    model_s = time.perf_counter() - t
    for line in bar_models.render(res, "heads"):
        print(line)
    print(f"model: {gold.height:,} touches, four heads walk-forward with intervals: {model_s:.1f}s")
    seconds = silver_s + gold_s + model_s

    t = time.perf_counter()
    st = bar_study.study_from_lake(lake_root, cfg)
    study_s = time.perf_counter() - t
    for line in bar_study.render(st, cfg, "simulated bar sessions"):
        print(line)
    print(f"outcome table from the lake: {study_s:.1f}s")

    sample = dates[-PER_DATE_SAMPLE:]
    t = time.perf_counter()
    for d in sample:
        assert materialize(dg.AssetSelection.groups(GROUP), partition_key=d).success
    per_run = (time.perf_counter() - t) / len(sample)
    per_date_total = per_run * n + gold_s + model_s  # the same Gold and model after the per-date runs
    print(
        f"one run per date: {per_run:.2f}s per run (mean of {len(sample)} runs) x {n} dates + Gold + model"
        f" = {per_date_total:.0f}s (extrapolated)"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB; lake at {lake_root}")
    print(
        f"BENCH bars sessions={n} seconds={seconds:.1f} one_run_per_date_seconds={per_date_total:.0f} "
        f"peak_rss_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
