"""Silver assets: 2-minute bars, levels, touches, labels and features per trading date."""

from collections.abc import Iterator

import dagster as dg
import numpy as np
import polars as pl

from spymaster_assets.defs.bronze import OPTIONS_ASSETS, bronze_futures_mbp10, bronze_futures_trades
from spymaster_assets.io import read_or_empty, write_and_describe
from spymaster_assets.partitions import sma_warmup_mapping, trading_day_partitions
from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import code_version, current_config
from spymaster_core import schemas as S
from spymaster_core.engines import feature_row
from spymaster_core.io import lake as lake_io
from spymaster_core.research import bars, date_levels, features, labels, touches

# The config sections each Silver asset reads: its code version hashes them (DESIGN §5).
BARS_SECTIONS = ("levels",)
# Gamma-wall levels run the fuel engine (windows.W_g_s, bands.tick_size_pt, instrument multiplier).
LEVELS_SECTIONS = ("levels", "session", "fuel", "instrument", "windows", "bands")
TOUCHES_SECTIONS = ("bands", "session")
LABELS_SECTIONS = ("labels",)
FEATURES_SECTIONS = ("windows", "bands", "session", "barrier", "instrument", "tape", "fuel", "score", "live")


def _trades(lake: LakeResource, date: str) -> pl.DataFrame:
    return read_or_empty(lake, "futures_trades", date, S.FUTURES_TRADES)


def _options(lake: LakeResource, date: str) -> dict[str, pl.DataFrame | None]:
    """The date's 0DTE option Bronze frames (None where a table has no partition)."""
    tables = ("definitions", "bbo", "trades", "statistics")
    return {k: lake_io.read_partition(lake.path, f"options_{k}", date) for k in tables}


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="silver",
    code_version=code_version(*BARS_SECTIONS),
    deps=[bronze_futures_trades],
)
def silver_bars_2m(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """2-minute OHLCV bars of the front-month future (`silver.bars_2m.v1`)."""
    date = context.partition_key
    b = bars.time_bars(_trades(lake, date), current_config().levels.bar_minutes)
    return write_and_describe(lake, "bars_2m", date, b, BARS_SECTIONS)


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="silver",
    code_version=code_version(*LEVELS_SECTIONS),
    deps=[
        bronze_futures_trades,
        dg.AssetDep(silver_bars_2m, partition_mapping=sma_warmup_mapping),
        *OPTIONS_ASSETS,
    ],
)
def silver_levels(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """PM/OR high/low and SMA-200/400 levels (`silver.levels.v1`), plus the optional kinds switched
    on in `levels` config (prior day, VWAP, round numbers, gamma walls); SMAs warm up on the previous
    SMA_WARMUP_DAYS dates' bars that exist in the lake. Missing kinds are listed in metadata."""
    date = context.partition_key
    cfg = current_config()
    options = _options(lake, date) if cfg.levels.enable_gamma_walls else None
    res = date_levels.levels_for_date(_trades(lake, date), date, cfg, lake.path, options)
    lv = res.levels
    md = {
        "missing": res.missing,
        "warmup_dates": res.warmup_dates,
        "warmup_dates_missing": res.warmup_dates_missing,
        "kinds": sorted(lv["kind"].unique().to_list()),
    }
    return write_and_describe(lake, "levels", date, lv, LEVELS_SECTIONS, md)


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="silver",
    code_version=code_version(*TOUCHES_SECTIONS),
    deps=[silver_levels, bronze_futures_trades],
)
def silver_touches(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Level touches within RTH 09:30-13:30 ET (`silver.touches.v2`)."""
    date = context.partition_key
    tc = touches.detect_touches(
        _trades(lake, date), read_or_empty(lake, "levels", date, S.LEVELS), date, current_config()
    )
    by_kind = {k: n for k, n in tc.group_by("level_kind").len().iter_rows()} if tc.height else {}
    return write_and_describe(lake, "touches", date, tc, TOUCHES_SECTIONS, {"touches_by_kind": by_kind})


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="silver",
    code_version=code_version(*LABELS_SECTIONS),
    deps=[silver_touches, bronze_futures_trades],
    check_specs=[dg.AssetCheckSpec("one_label_per_touch", asset="silver_labels")],
)
def silver_labels(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Competing-risk BREAK/BOUNCE/CHOP labels per touch (`silver.labels.v1`)."""
    date = context.partition_key
    tc = read_or_empty(lake, "touches", date, S.TOUCHES)
    lb = labels.label_touches(_trades(lake, date), tc, current_config())
    counts = {k: n for k, n in lb.group_by("outcome").len().iter_rows()} if lb.height else {}
    check = dg.AssetCheckResult(
        check_name="one_label_per_touch",
        passed=lb.height == tc.height and lb["touch_id"].n_unique() == lb.height,
    )
    return write_and_describe(lake, "labels", date, lb, LABELS_SECTIONS, {"outcomes": counts}, [check])


def _mbp10_batches(files: list[lake_io.LakePath]) -> Iterator[dict[str, np.ndarray]]:
    """Bronze MBP-10 parts as engine arrays, part by part (streamed from the lake)."""
    for f in files:
        with lake_io.open_read(f) as fh:
            yield from features.mbp10_batches([fh])


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="silver",
    code_version=code_version(*FEATURES_SECTIONS),
    deps=[
        silver_touches,
        silver_levels,
        bronze_futures_trades,
        bronze_futures_mbp10,
        *OPTIONS_ASSETS,
    ],
    check_specs=[
        dg.AssetCheckSpec("features_finite", asset="silver_features"),
        dg.AssetCheckSpec("features_in_range", asset="silver_features"),
    ],
)
def silver_features(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Per-touch outputs of every engine (barrier, tape, fuel, kinematics, OFI, composite score,
    signal, runway), flattened, from one replay of the date through `EngineState` (the live core's
    code). Without 0DTE options the fuel columns are null and `fuel_missing_reason` says why."""
    date = context.partition_key
    mbp_files = lake_io.partition_files(lake.path, "futures_mbp10", date)
    options = _options(lake, date)
    cfg = current_config()
    ft = features.touch_features(
        _mbp10_batches(mbp_files),
        _trades(lake, date),
        read_or_empty(lake, "touches", date, S.TOUCHES),
        read_or_empty(lake, "levels", date, S.LEVELS),
        date,
        cfg,
        options,
    )
    numeric = ft.select(feature_row.feature_columns(cfg.windows.kinematics_horizons_s))
    # Nulls are allowed (undefined: no fuel, no wall, no runway); NaN and inf are not.
    finite = bool(np.isfinite(numeric.fill_null(0.0).to_numpy()).all())
    bad = [
        c
        for c, (lo, hi) in feature_row.RANGES.items()
        if ft.height and not ft[c].drop_nulls().is_between(lo, hi).all()
    ]
    checks = [
        dg.AssetCheckResult(check_name="features_finite", passed=finite),
        dg.AssetCheckResult(check_name="features_in_range", passed=not bad, metadata={"out_of_range": bad}),
    ]
    md: dict[str, object] = {
        "missing": [],
        "mbp10_parts": len(mbp_files),
        "fuel_missing": sorted(set(ft["fuel_missing_reason"].drop_nulls().to_list())) if ft.height else [],
        "barrier_states": {k: n for k, n in ft.group_by("barrier_state").len().iter_rows()}
        if ft.height
        else {},
    }
    if not mbp_files:
        md["missing"] = ["futures_mbp10: no Bronze MBP-10 partition (barrier and OFI see an empty book)"]
    return write_and_describe(lake, "features", date, ft, FEATURES_SECTIONS, md, checks)


assets = [silver_bars_2m, silver_levels, silver_touches, silver_labels, silver_features]
