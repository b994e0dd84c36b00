"""The bar tier (DESIGN §6 "Bar resolution"): 1-minute bars -> Bronze, levels, touches and labels.

The deep, cheap tier: years of Databento `ohlcv-1m` or vendor minute bars. Every asset has a
single-run backfill policy: a backfill of 1,000 dates is one run that walks its dates in order (each
date read, built and written on its own, so memory is bounded by a date and its SMA warm-up), not
1,000 runs that each pay the code location's start-up. A run over one date (the UI's per-partition
materialize) works the same way. Metadata gives per-date rows; checks cover every date of the run
and name the dates that fail.

The levels depend on the previous three dates' Bronze bars (SMA warm-up), so an asset backfill of
some dates also rebuilds the levels, touches and labels of the three trading dates after them (their
SMAs read the rebuilt bars). Silver writes nothing for a date without Bronze bars (listed in the
run's metadata as `dates_without_bars`): no empty partitions for dates the user never imported.
"""

import warnings
from collections.abc import Callable

import dagster as dg
import numpy as np
import polars as pl

from spymaster_assets.io import read_or_empty
from spymaster_assets.partitions import sma_warmup_mapping, trading_day_partitions
from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import code_version, current_config, version_metadata
from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.bronze import bars_1m
from spymaster_core.io import lake as lake_io
from spymaster_core.research import bar_features, bar_labels, bar_study, bar_touches

GROUP = "bar_tier"
SINGLE_RUN = dg.BackfillPolicy.single_run()
LEVELS_SECTIONS = ("levels", "session")
TOUCHES_SECTIONS = ("bands", "session")
LABELS_SECTIONS = ("labels",)
FEATURES_SECTIONS = ("session",)
MAX_DATES_IN_METADATA = 31
"""Per-date metadata (rows, gaps, failing dates) lists at most this many dates. A range run records
one materialization per date, each carrying the run's metadata: uncapped, a 1,000-date run stored
1,000 copies of a 1,000-entry dict per asset (O(n^2) event-log bytes: 380 ms a session at 1,000
sessions against 236 ms at 200). Every date's rows are in the lake."""


def _capped(by_date: dict | list) -> dict | list:
    """`by_date` cut to its first MAX_DATES_IN_METADATA dates, saying how many more there were."""
    if len(by_date) <= MAX_DATES_IN_METADATA:
        return by_date
    more = f"... {len(by_date) - MAX_DATES_IN_METADATA} more dates"
    if isinstance(by_date, list):
        return [*by_date[:MAX_DATES_IN_METADATA], more]
    keys = list(by_date)[:MAX_DATES_IN_METADATA]
    return {**{k: by_date[k] for k in keys}, "...": more}


def _bars(lake: LakeResource, date: str) -> pl.DataFrame:
    return read_or_empty(lake, "futures_ohlcv_1m", date, S.FUTURES_OHLCV_1M)


def _keep_warmup(lake: LakeResource, cache: dict[str, pl.DataFrame], date: str, n: int) -> None:
    """Hold in `cache` the Bronze bars of `date` and of its `n` previous trading dates that have any,
    dropping older dates: memory is a date and its warm-up, never the history."""
    wanted = [d.isoformat() for d in calendar.previous_trading_dates(date, n)]
    for d in [d for d in cache if d not in wanted]:
        del cache[d]
    for d in [*wanted, date]:
        if d not in cache:
            b = _bars(lake, d)
            if not b.is_empty():
                cache[d] = b


def _each_date(context: dg.AssetExecutionContext, what: str, build: Callable[[str], int]) -> dict[str, int]:
    """Run `build(date)` (returns rows written) over the run's dates in order, logging progress every
    50 dates; returns {date: rows}."""
    dates = list(context.partition_keys)
    rows: dict[str, int] = {}
    for i, d in enumerate(dates, start=1):
        rows[d] = build(d)
        if i % 50 == 0 or i == len(dates):
            context.log.info(f"{what}: {i}/{len(dates)} dates ({d})")
    return rows


def _result(
    rows: dict[str, int], sections: tuple[str, ...], md: dict | None = None, checks: list | None = None
) -> dg.MaterializeResult:
    # A run over a range records one materialization per date, all with this metadata: the totals are
    # the run's (`rows_in_run`), the per-date figures are in `rows_by_date` (capped: `_capped`).
    per_date = list(rows.values())
    meta: dict = {
        "rows_in_run": sum(per_date),
        "dates_in_run": len(rows),
        "rows_per_date_min": min(per_date, default=0),
        "rows_per_date_max": max(per_date, default=0),
        "rows_by_date": dg.MetadataValue.json(_capped(rows)),
        **version_metadata(*sections),
    }
    for k, v in (md or {}).items():
        meta[k] = dg.MetadataValue.json(_capped(v)) if isinstance(v, (list, dict)) else v
    return dg.MaterializeResult(metadata=meta, check_results=checks or [])


# `backfill_policy` is a beta parameter of @asset: its BetaWarning is silenced for these definitions
# only (not process-wide).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=dg.BetaWarning, message=r".*backfill_policy.*")

    @dg.asset(
        partitions_def=trading_day_partitions,
        group_name=GROUP,
        code_version=code_version(),
        backfill_policy=SINGLE_RUN,
        check_specs=[
            dg.AssetCheckSpec("ohlc_consistent", asset="bronze_futures_ohlcv_1m"),
            dg.AssetCheckSpec("no_duplicate_bar_starts", asset="bronze_futures_ohlcv_1m"),
            dg.AssetCheckSpec("non_empty", asset="bronze_futures_ohlcv_1m"),
        ],
    )
    def bronze_futures_ohlcv_1m(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> dg.MaterializeResult:
        """Front-month 1-minute bars per trading date (`futures.ohlcv_1m.v1`) from Databento `ohlcv-1m`
        files or CSV bars imported with `spymaster bars import`; bars in the date's Globex session."""
        bad_ohlc: list[str] = []
        dup: list[str] = []
        empty: list[str] = []
        gaps: dict[str, object] = {}
        sources: dict[str, object] = {}

        def build(date: str) -> int:
            res = bars_1m.futures_ohlcv_1m(lake.local_landing(date), date)
            df = pl.from_arrow(res.table)
            if not bars_1m.ohlc_consistent(res.table):
                bad_ohlc.append(date)
            if df["bar_start_ns"].is_duplicated().any():
                dup.append(date)
            if df.is_empty():
                empty.append(date)
            gaps[date] = res.notes.get("gaps_minutes", 0)
            sources[date] = sorted(set(df["source"].to_list())) if df.height else res.missing
            lake_io.write_partition(lake.path, "futures_ohlcv_1m", date, res.table)
            return df.height

        rows = _each_date(context, "bronze 1-minute bars", build)
        checks = [
            dg.AssetCheckResult(
                check_name="ohlc_consistent",
                passed=not bad_ohlc,
                metadata={"dates": _capped(bad_ohlc), "n_dates": len(bad_ohlc)},
            ),
            dg.AssetCheckResult(
                check_name="no_duplicate_bar_starts",
                passed=not dup,
                metadata={"dates": _capped(dup), "n_dates": len(dup)},
            ),
            dg.AssetCheckResult(
                check_name="non_empty",
                passed=not empty,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"dates": _capped(empty), "n_dates": len(empty)},
            ),
        ]
        gapped = {d: g for d, g in gaps.items() if g}
        md = {"schema": S.FUTURES_OHLCV_1M.id, "gap_minutes_by_date": gapped, "sources_by_date": sources}
        return _result(rows, (), md, checks)

    @dg.asset(
        partitions_def=trading_day_partitions,
        group_name=GROUP,
        code_version=code_version(*LEVELS_SECTIONS),
        backfill_policy=SINGLE_RUN,
        deps=[dg.AssetDep(bronze_futures_ohlcv_1m, partition_mapping=sma_warmup_mapping)],
    )
    def silver_bar_levels(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        """PM/OR high/low and SMA-200/400 at bar resolution (`silver.levels.v1`), SMAs warmed up on the
        previous SMA_WARMUP_DAYS trading dates' 1-minute bars in the lake (the trade path's rule)."""
        cfg = current_config()
        cache: dict[str, pl.DataFrame] = {}
        missing: dict[str, list[str]] = {}
        no_bars: list[str] = []

        def build(date: str) -> int:
            _keep_warmup(lake, cache, date, cfg.levels.SMA_WARMUP_DAYS)
            if date not in cache:
                no_bars.append(date)
                return 0
            lv, miss = bar_study.date_levels(cache, date, cfg)
            if miss:
                missing[date] = miss
            lake_io.write_partition(lake.path, "bar_levels", date, lv)
            return lv.height

        rows = _each_date(context, "bar levels", build)
        return _result(rows, LEVELS_SECTIONS, {"missing_by_date": missing, "dates_without_bars": no_bars})

    @dg.asset(
        partitions_def=trading_day_partitions,
        group_name=GROUP,
        code_version=code_version(*TOUCHES_SECTIONS),
        backfill_policy=SINGLE_RUN,
        deps=[silver_bar_levels, bronze_futures_ohlcv_1m],
    )
    def silver_bar_touches(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        """Level touches at bar resolution (`silver.touches.v2`, `resolution` = `1m`)."""
        cfg = current_config()

        def build(date: str) -> int:
            lv = lake_io.read_partition(lake.path, "bar_levels", date)
            if lv is None:  # no bars that date (see silver_bar_levels): nothing to write
                return 0
            tc = bar_touches.detect_bar_touches(_bars(lake, date), lv, date, cfg)
            lake_io.write_partition(lake.path, "bar_touches", date, tc)
            return tc.height

        return _result(_each_date(context, "bar touches", build), TOUCHES_SECTIONS)

    @dg.asset(
        partitions_def=trading_day_partitions,
        group_name=GROUP,
        code_version=code_version(*LABELS_SECTIONS),
        backfill_policy=SINGLE_RUN,
        deps=[silver_bar_touches, bronze_futures_ohlcv_1m],
        check_specs=[dg.AssetCheckSpec("one_label_per_touch", asset="silver_bar_labels")],
    )
    def silver_bar_labels(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        """BREAK/BOUNCE/CHOP/AMBIGUOUS labels at bar resolution in points and ATR units
        (`silver.labels_1m.v1`)."""
        cfg = current_config()
        bad: list[str] = []
        outcomes: dict[str, int] = {}

        def build(date: str) -> int:
            tc = lake_io.read_partition(lake.path, "bar_touches", date)
            if tc is None:  # no bars that date: nothing to write
                return 0
            lb = bar_labels.label_bar_touches(_bars(lake, date), tc, cfg)
            if lb.height != tc.height or lb["touch_id"].n_unique() != lb.height:
                bad.append(date)
            for k, n in lb.group_by("outcome").len().iter_rows():
                outcomes[str(k)] = outcomes.get(str(k), 0) + n
            lake_io.write_partition(lake.path, "bar_labels", date, lb)
            return lb.height

        rows = _each_date(context, "bar labels", build)
        check = dg.AssetCheckResult(
            check_name="one_label_per_touch",
            passed=not bad,
            metadata={"dates": _capped(bad), "n_dates": len(bad)},
        )
        return _result(rows, LABELS_SECTIONS, {"outcomes": outcomes}, [check])

    @dg.asset(
        partitions_def=trading_day_partitions,
        group_name=GROUP,
        code_version=code_version(*FEATURES_SECTIONS),
        backfill_policy=SINGLE_RUN,
        deps=[
            silver_bar_touches,
            silver_bar_levels,
            dg.AssetDep(bronze_futures_ohlcv_1m, partition_mapping=sma_warmup_mapping),
        ],
        check_specs=[dg.AssetCheckSpec("features_finite", asset="silver_bar_features")],
    )
    def silver_bar_features(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        """Causal bar features per touch (`research.bar_features`: distance, velocity, volatility, volume
        against prior sessions, time, level age, overnight position, gap, nearest level); barrier, tape
        and fuel are absent with the reason `bars only`."""
        cfg = current_config()
        cache: dict[str, pl.DataFrame] = {}
        bad: list[str] = []

        def build(date: str) -> int:
            tc = lake_io.read_partition(lake.path, "bar_touches", date)
            lv = lake_io.read_partition(lake.path, "bar_levels", date)
            if tc is None or lv is None:  # no bars that date: nothing to write
                return 0
            _keep_warmup(lake, cache, date, bar_features.PRIOR_SESSIONS)
            prior = [cache[d] for d in sorted(cache) if d < date]
            bars = cache[date] if date in cache else _bars(lake, date)
            ft = bar_features.bar_touch_features(bars, tc, lv, date, cfg, prior)
            vals = ft.select(bar_features.NUMERIC).fill_null(0.0).to_numpy()
            if not np.isfinite(vals).all():
                bad.append(date)
            lake_io.write_partition(lake.path, "bar_features", date, ft)
            return ft.height

        rows = _each_date(context, "bar features", build)
        check = dg.AssetCheckResult(
            check_name="features_finite",
            passed=not bad,
            metadata={"dates": _capped(bad), "n_dates": len(bad)},
        )
        return _result(rows, FEATURES_SECTIONS, {"engines_missing_reason": "bars only"}, [check])


assets = [
    bronze_futures_ohlcv_1m,
    silver_bar_levels,
    silver_bar_touches,
    silver_bar_labels,
    silver_bar_features,
]
bar_tier_job = dg.define_asset_job("bar_tier_job", selection=dg.AssetSelection.groups(GROUP))
