"""The demo (main job): simulate sessions, land them with the real sample files, materialize every
asset for every partition through Dagster, and print a summary.

Everything lands under the data dir (`SPYMASTER_DATA`, default ./data): lake/, dagster_home/,
mlflow/, spymaster.duckdb. Real samples are read from ../shared/data (or `SPYMASTER_SAMPLES`).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from spymaster_assets.dbt_project import GOLD_DAILY_MODELS, GOLD_EVAL_MODELS, GOLD_SUMMARY_MODELS
from spymaster_assets.instance import materialize, prepare_location

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIM_DATES = [
    "2026-11-10",
    "2026-11-11",
    "2026-11-12",
    "2026-11-13",
    "2026-11-16",
    "2026-11-17",
    "2026-11-18",
    "2026-11-19",
]
DAILY_GROUPS = ("bronze", "silver")


def samples_dir() -> Path:
    """`SPYMASTER_SAMPLES` or ../shared/data beside the repository."""
    return Path(os.environ.get("SPYMASTER_SAMPLES", str(REPO.parent / "shared" / "data"))).resolve()


def real_dir() -> Path:
    """`SPYMASTER_REAL` or ../shared/real beside the repository (real ES bars, Databento ESM4 files)."""
    return Path(os.environ.get("SPYMASTER_REAL", str(REPO.parent / "shared" / "real"))).resolve()


def run_demo(
    data_dir: Path, sim_dates: list[str], seed: int = 7, with_samples: bool = True, echo=print
) -> dict:
    """Run the whole platform end to end; return the summary dict that was printed."""
    t_start = time.time()
    data_dir = data_dir.resolve()  # dbt runs in dbt/: every path it sees must be absolute
    prepare_location(data_dir)
    lake_root = Path(os.environ["SPYMASTER_LAKE"])
    dates = _simulate(sim_dates, seed, lake_root / "landing", echo)
    if with_samples:
        dates |= _land_samples(lake_root / "landing", echo)
    ordered = sorted(d for d in dates if d >= "2018-01-01")
    _materialize_daily(ordered, echo)
    _materialize_gold_daily(lake_root, ordered, echo)
    model_md = _materialize_models(echo)
    summary = _summary(lake_root, ordered, model_md)
    summary["oracle"] = oracle_lines(lake_root, sim_dates, model_md)
    summary["realism"] = realism_lines(lake_root)
    summary["bar_tier"] = _bar_tier(data_dir, lake_root, [d for d in ordered if d in sim_dates], echo)
    summary["wall_s"] = time.time() - t_start
    _print_summary(summary, data_dir, lake_root, echo)
    return summary


def real_bars_dir() -> Path:
    """`SPYMASTER_REAL_BARS` or ../shared/real/bars-1m beside the repository (real ES 1-minute bars)."""
    return Path(
        os.environ.get("SPYMASTER_REAL_BARS", str(REPO.parent / "shared" / "real" / "bars-1m"))
    ).resolve()


def _bar_tier(data_dir: Path, lake_root: Path, sim_dates: list[str], echo) -> list[str]:  # noqa: ANN001
    """Import the real 1-minute bars (when present) through the bar tier and return the lines that set
    the real outcome table beside the same study on the simulated dates' trades, built into bars."""
    from spymaster_assets.bars_import import import_bars
    from spymaster_assets.versioning import current_config
    from spymaster_core.io import lake
    from spymaster_core.research import bar_study, bars

    cfg = current_config()
    lines: list[str] = []
    files = sorted(real_bars_dir().glob("*.csv")) if real_bars_dir().is_dir() else []
    if files:
        res = import_bars(files, data_dir, "America/New_York", echo=echo)
        dates = res.dates
        lines += bar_study.render(
            bar_study.study_from_lake(lake_root, cfg, dates), cfg, "REAL ES (1-minute bars)"
        )
        from ml import bar_models

        echo("[bars] real-data heads: walk-forward by date with bootstrap intervals (~15 s)")
        res_m = bar_models.study(bar_models.bar_gold_from_lake(lake_root, cfg, dates), cfg)
        run_id, version, _ = bar_models.log_study(
            data_dir, res_m, {"sessions": len(dates), "source": "real 1-minute bars"}
        )
        lines += bar_models.render(res_m, "REAL ES heads")
        lines.append(
            f"  MLflow run (experiment break_bounce_bars): {run_id}; direction model registered as"
            f" version {version} (not promoted: `spymaster bars study --models --promote` makes it the champion)"
        )
        from ml import backtest

        real_bt = backtest.run(backtest.inputs_from_lake(lake_root, cfg, dates), cfg)
        lines += backtest.render(real_bt, cfg, "REAL ES level trades after costs (USD per contract)")
    else:
        lines.append(f"no real bars at {real_bars_dir()}: the real-data table is skipped")
    sim: dict = {}
    for d in sim_dates:
        t = lake.read_partition(lake_root, "futures_trades", d)
        if t is not None and t.height:
            sim[d] = bars.one_minute_bars(t, str(t["symbol"][0]), "sim")
    lines += bar_study.render(
        bar_study.study_bars(sim, cfg), cfg, "SIMULATED (same rules, bars from its trades)"
    )
    from ml import backtest

    sim_bt = backtest.run(backtest.inputs_from_bars(sim, cfg), cfg)
    lines += backtest.render(sim_bt, cfg, "SIMULATED level trades after costs (bars from its trades)")
    tick_in = backtest.tick_inputs_from_lake(lake_root, cfg, sim_dates)
    if tick_in.touches.height:
        tick_bt = backtest.run(tick_in, cfg)
        lines += backtest.render(
            tick_bt, cfg, "SIMULATED tick days: level trades after costs (next print, the book's spread)"
        )
    return lines


def _simulate_one(date: str, seed: int, land: Path) -> tuple[object, float]:
    """One date into landing (a worker process's job): (SimResult, seconds)."""
    from spymaster_core.sim import simulate_session

    t0 = time.time()
    return simulate_session(date, seed, land, scale="demo"), time.time() - t0


def _simulate(sim_dates: list[str], seed: int, land: Path, echo) -> set[str]:  # noqa: ANN001
    """Simulate the dates into landing, one worker process per core (each date writes its own
    files; 'spawn', so no Dagster thread is forked); one progress line per date as it finishes.
    A failed date raises its error here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = max(1, min(len(sim_dates), os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = {pool.submit(_simulate_one, d, seed, land): d for d in sim_dates}
        for job in as_completed(jobs):
            r, seconds = job.result()
            echo(
                f"[simulate] {jobs[job]} front={r.front_month} mbp10={r.counts['futures_mbp10']:,} "
                f"trades={r.counts['futures_trades']:,} options={r.counts['option_definitions']} "
                f"planted={len(r.planted)} ({seconds:.1f}s)"
            )
    return set(sim_dates)


def _land_samples(land: Path, echo) -> set[str]:  # noqa: ANN001
    """Land the real sample DBN files (and the ESM8 trades CSV); return the dates they landed on."""
    from spymaster_core.bronze.builders import FUTURES_TRADE_SCHEMAS
    from spymaster_core.io import dbn, landing

    if not samples_dir().exists():
        echo(f"[land] no sample folder at {samples_dir()}; running on simulated dates only")
        return set()
    rep = landing.land_files(list(dbn.iter_dbn_files(samples_dir())), land)
    landed = {dest.parent.name for _, dest in rep.landed}
    # Only dates with futures prints build anything: a date holding only definitions, statistics,
    # status or OHLCV files gives no bars, levels or touches, and its run is pure Dagster overhead
    # (~2 s each; 10 of the 15 sample dates). They stay landed for a backfill from the UI.
    with_prints = [str(s) for s in (*FUTURES_TRADE_SCHEMAS, "mbp-10")]
    dates = {d for d in landed if any((land / "GLBX.MDP3" / s / d).is_dir() for s in with_prints)}
    csv = samples_dir() / "rTrawl" / "data" / "ESM8_trades_2018-05-07.from_RData.csv"
    if csv.exists():
        dates.add(landing.land_csv(csv, land).parent.name)
    echo(
        f"[land] real samples: {len(rep.landed)} files landed, {len(rep.skipped)} skipped "
        f"(duplicates across DBN versions, mixed-schema live capture); {len(dates)} dates hold futures "
        f"prints and are built, {len(landed - dates)} hold only definitions/statistics/status/OHLCV "
        "(landed, not built: backfill them from the Dagster UI)"
    )
    return dates


def _materialize_daily(ordered: list[str], echo) -> None:  # noqa: ANN001
    """Bronze and Silver, one run per date."""
    import dagster as dg

    from spymaster_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    daily = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in DAILY_GROUPS]
    for i, d in enumerate(ordered, 1):
        t0 = time.time()
        res = materialize(dg.AssetSelection.assets(*daily), partition_key=d)
        echo(
            f"[materialize {i}/{len(ordered)}] {d}: {len(res.get_asset_materialization_events())} assets "
            f"({time.time() - t0:.1f}s)"
        )


def _materialize_gold_daily(lake_root: Path, ordered: list[str], echo) -> None:  # noqa: ANN001
    """Gold per-date marts as backfill runs: one run (one dbt process, the range as vars) per
    stretch of dates; stretches split where the dates are far apart (a single run over 2018-2026
    makes Dagster plan and record ~2,200 empty partitions, which took minutes). Only dates with
    Silver touches get Gold rows, so only those are built (the real samples' other dates hold a
    few minutes of data each and no touch): 11 runs became 2."""
    import dagster as dg

    from spymaster_core.io import lake

    t0 = time.time()
    with_touches = [
        d for d in ordered if (t := lake.read_partition(lake_root, "touches", d)) is not None and t.height
    ]
    ranges = partition_ranges(with_touches, max_gap=5)
    for first, last in ranges:
        materialize(
            dg.AssetSelection.assets(*GOLD_DAILY_MODELS),
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        )
    echo(
        f"[materialize] gold_training + gold_daily_touches (dbt, {len(ranges)} range runs, {time.time() - t0:.1f}s)"
    )


def _materialize_models(echo) -> dict:  # noqa: ANN001
    """Summary marts, the model, the champion gate and the evaluation mart; the model's metadata."""
    import dagster as dg

    t0 = time.time()
    res = materialize(
        dg.AssetSelection.assets(
            *GOLD_SUMMARY_MODELS,
            "break_bounce_model",
            "model_predictions",
            "champion_model",
            *GOLD_EVAL_MODELS,
            "realism_report",
        ),
        raise_on_error=False,  # a candidate that fails the blocking gate is reported, not a crash
    )
    echo(
        f"[materialize] gold_level_kind_stats + break_bounce_model + champion gate + gold_model_eval + realism_report "
        f"({time.time() - t0:.1f}s)"
    )
    for ev in res.get_asset_materialization_events():
        if ev.asset_key == dg.AssetKey("break_bounce_model"):
            return {k: v.value for k, v in ev.materialization.metadata.items()}
    return {}


def oracle_lines(lake_root: Path, sim_dates: list[str], model_md: dict) -> list[str]:
    """The heads' held-out predictions on the simulated dates beside the oracle (the simulator's
    planted truth as the score, `ml.sim_study.oracle_figures`), with the same-date and within-date
    permutation checks (`ml.diagnostics.checks`) and the grouped permutation importance the model
    run logged: `ml.sim_study.render`'s table."""
    import polars as pl

    from ml import diagnostics, heads, sim_study
    from spymaster_core.io import lake
    from spymaster_core.sim.session import read_truth

    run_id = model_md.get("mlflow_run_id")
    path = lake.predictions_path(lake_root, str(run_id)) if run_id else None
    if path is None or not lake.exists(path):
        return ["no held-out predictions: the oracle comparison is skipped"]
    preds = lake.read_parquet(path).filter(pl.col("date").is_in(sim_dates))
    planted: dict[str, str | None] = {}
    for d in sim_dates:
        tc = lake.read_partition(lake_root, "touches", d)
        if tc is not None and tc.height:
            ps = sim_study.planted_score(tc, read_truth(Path(str(lake_root)) / "landing", d))
            planted.update(zip(ps["touch_id"], ps["planted_outcome"], strict=True))
    results: dict[str, dict[str, object]] = {}
    for h in heads.HEADS:
        rows = preds.filter(pl.col("head") == h)
        wide = rows.pivot(on="predictor", index=["touch_id", "date", "y_true"], values="p").sort("touch_id")
        if wide.is_empty() or "model" not in wide.columns:
            continue
        y, p = wide["y_true"].to_numpy().astype(int), wide["model"].to_numpy()
        r: dict[str, object] = dict(diagnostics.checks(y, p, wide["date"].to_list()))
        r["model_auc"] = r.pop("auc")
        for who in ("base_rate", "logistic"):
            r[f"{who}_auc"] = (
                heads.metrics_of(y, wide[who].to_numpy())["auc"] if who in wide.columns else None
            )
        r |= sim_study.oracle_figures(h, y, p, wide["touch_id"].to_list(), wide["date"].to_list(), planted)
        r |= {k.removeprefix(f"{h}_"): v for k, v in model_md.items() if k.startswith(f"{h}_importance_")}
        results[h] = r
    if not results:
        return ["no held-out predictions on simulated dates: the oracle comparison is skipped"]
    return sim_study.render(results)


def realism_lines(lake_root: Path) -> list[str]:
    """The path and level rows of the `realism_report` table (the demo's simulated dates against the
    real 1-minute bars); the tape and book rows need the realistic scale (`spymaster realism
    --simulate 40`), the demo's thin scale leaves their rates out of band by design."""
    import polars as pl

    from spymaster_core.io import lake
    from spymaster_core.research import realism

    path = lake.file_path(lake_root, "realism")
    if not lake.exists(path):
        return ["no realism table (realism_report did not materialize)"]
    t = lake.read_parquet(path)
    bars = t.filter(pl.col("group").is_in(["path", "levels"]))
    lines = realism.render(
        bars.drop("real_inputs", "sim_inputs"), str(t["real_inputs"][0]), str(t["sim_inputs"][0])
    )
    lines[-1] += (
        " (path and level statistics; a per-kind share over few sessions carries sampling noise: see z)"
    )
    return lines


SUMMARY_TABLES = (
    "futures_trades",
    "futures_mbp10",
    "options_definitions",
    "options_bbo",
    "options_trades",
    "options_statistics",
    "bars_2m",
    "levels",
    "touches",
    "labels",
)


def _summary(lake_root: Path, ordered: list[str], model_md: dict) -> dict:
    """Rows per tier and date, Gold rows, outcomes per level kind and the model's metadata."""
    import polars as pl

    from spymaster_core.io import lake

    rows = []
    for d in ordered:
        row: dict[str, object] = {"date": d}
        for t in SUMMARY_TABLES:
            p = lake.read_partition(lake_root, t, d)
            row[t] = 0 if p is None else p.height
        rows.append(row)
    gold = lake.read_table(lake_root, "gold_training")
    by_kind = (
        gold.group_by("level_kind", "outcome").len().pivot(on="outcome", index="level_kind", values="len")
    )
    return {
        "rows": pl.DataFrame(rows),
        "gold_rows": gold.height,
        "labels_by_kind": by_kind.select(
            "level_kind", *[c for c in ("BREAK", "BOUNCE", "CHOP") if c in by_kind.columns]
        )
        .sort("level_kind")
        .fill_null(0),
        "model": model_md,
    }


def _print_summary(summary: dict, data_dir: Path, lake_root: Path, echo) -> None:  # noqa: ANN001
    import polars as pl

    model_md = summary["model"]
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=160):
        echo(
            "\nRows per tier and date (bronze: futures_trades .. options_statistics; silver: bars_2m .. labels)"
        )
        echo(str(summary["rows"]))
        echo(f"\nGold training rows: {summary['gold_rows']}. Touch outcomes per level kind:")
        echo(str(summary["labels_by_kind"]))
    echo(
        f"\nHeads, walk-forward on held-out dates {model_md.get('test_dates')} (AUC / Brier; the model's AUC on"
        " same-date pairs and its within-date label-permutation z; a step needs model.min_train_rows rows):"
    )
    from ml.diagnostics import MIN_JUDGED_ROWS

    fmt = lambda v: "  n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for h in ("tradeable", "direction", "strength", "fast"):
        cells = [
            f"{who} {fmt(model_md.get(f'{h}_{who}_auc'))} / {fmt(model_md.get(f'{h}_{who}_brier'))}"
            for who in ("model", "base_rate", "logistic")
        ]
        n_test = int(model_md.get(f"{h}_n_test", 0))
        if n_test < MIN_JUDGED_ROWS:
            echo(
                f"  {h:<10} n_test={n_test:>4}   not judged: fewer than {MIN_JUDGED_ROWS} held-out touches "
                "(`spymaster study` judges every head on 60 simulated dates)"
            )
            continue
        checks = (
            f"   same-date {fmt(model_md.get(f'{h}_auc_stratified'))}"
            f"   perm z {fmt(model_md.get(f'{h}_perm_z'))}"
        )
        echo(f"  {h:<10} n_test={n_test:>4}   " + "   ".join(cells) + checks)
    if (
        model_md.get("direction_seq_n_test") is not None
        and model_md["direction_seq_n_test"] >= MIN_JUDGED_ROWS
    ):
        echo(
            f"  direction seq (PatchTST on 2-min bars) n_test={int(model_md['direction_seq_n_test']):>4}   "
            f"{fmt(model_md.get('direction_seq_auc'))} / {fmt(model_md.get('direction_seq_brier'))}"
        )
    champ = model_md.get("beats_baselines")
    echo(
        f"  champion: {'promoted, version ' + str(model_md.get('model_version')) if champ else 'not promoted (direction model did not beat both baselines)'}"
    )
    echo(f"  MLflow run id: {model_md.get('mlflow_run_id')}")
    echo("\nThe heads against what can be known: held-out touches of the simulated dates, the oracle scores")
    echo("the simulator's planted truth (recovery = (AUC_model - 0.5) / (AUC_oracle - 0.5); a pooled AUC far")
    echo("from its same-date AUC, or a permutation z near 0, means the score ranks dates, not touches):")
    for line in summary.get("oracle", []):
        echo("  " + line)
    echo("\nThe simulator against real ES (`spymaster realism`; gold/evaluation/realism.parquet):")
    for line in summary.get("realism", []):
        echo(line)
    echo("\nTouch outcomes at bar resolution (DESIGN §6), real beside simulated:")
    for line in summary.get("bar_tier", []):
        echo(line)
    echo(f"\nDemo finished in {summary['wall_s']:.0f}s. Look at what was built:")
    echo(
        f"  Dagster UI: DAGSTER_HOME={os.environ['DAGSTER_HOME']} SPYMASTER_LAKE={lake_root} "
        f".venv/bin/dagster dev -w workspace.yaml   (or: make dagster)"
    )
    echo(
        f"  MLflow UI:  .venv/bin/mlflow ui --backend-store-uri sqlite:///{data_dir}/mlflow/mlflow.db"
        "   (or: make mlflow)"
    )


def partition_ranges(dates: list[str], max_gap: int) -> list[tuple[str, str]]:
    """Sorted partition keys grouped into (first, last) ranges; a new range starts where more
    than `max_gap` trading-date partitions lie between two consecutive dates."""
    import dagster as dg

    from spymaster_assets.partitions import trading_day_partitions

    out: list[tuple[str, str]] = []
    for d in sorted(dates):
        if out:
            first, last = out[-1]
            between = trading_day_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(last, d))
            if len(between) - 2 <= max_gap:
                out[-1] = (first, d)
                continue
        out.append((d, d))
    return out


def default_dates(n: int) -> list[str]:
    """The n default simulated dates (fixed so the demo is reproducible)."""
    if n <= len(DEFAULT_SIM_DATES):
        return DEFAULT_SIM_DATES[-n:]
    from spymaster_core import calendar

    end = dt.date.fromisoformat(DEFAULT_SIM_DATES[-1])
    return [d.isoformat() for d in calendar.trading_dates(end - dt.timedelta(days=3 * n), end)][-n:]
