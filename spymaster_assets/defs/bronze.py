"""Bronze assets: landing files -> typed, filtered, sorted Parquet per trading date."""

import dagster as dg
import polars as pl

from spymaster_assets.io import describe_partition, write_and_describe
from spymaster_assets.partitions import trading_day_partitions
from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import code_version
from spymaster_core import schemas as S
from spymaster_core.bronze import builders as bronze
from spymaster_core.bronze import selection
from spymaster_core.io import lake as lake_io


def _sorted_check(df: pl.DataFrame, name: str = "timestamps_sorted") -> dg.AssetCheckResult:
    ok = df.is_empty() or bool(df["ts_event_ns"].is_sorted())
    return dg.AssetCheckResult(check_name=name, passed=ok, metadata={"rows": df.height})


def _non_empty(rows: int) -> dg.AssetCheckResult:
    """WARN (not ERROR): real dates may lack an input; metadata says which."""
    return dg.AssetCheckResult(
        check_name="non_empty", passed=rows > 0, severity=dg.AssetCheckSeverity.WARN, metadata={"rows": rows}
    )


def _front(lake: LakeResource, date: str) -> str | None:
    """Front month: the contract of the date's Bronze trades (most volume), else from the definitions."""
    t = lake_io.read_partition(lake.path, "futures_trades", date)
    if t is not None and not t.is_empty():
        return str(t["symbol"][0])
    return selection.front_month_from_definitions(
        bronze.landed_definitions(lake.local_landing(date), date), date
    )


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="bronze",
    code_version=code_version(),
    check_specs=[
        dg.AssetCheckSpec("non_empty", asset="bronze_futures_trades"),
        dg.AssetCheckSpec("timestamps_sorted", asset="bronze_futures_trades"),
        dg.AssetCheckSpec("single_front_month", asset="bronze_futures_trades"),
    ],
)
def bronze_futures_trades(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """ES front-month trades (`futures.trades.v1`) from trades/tbbo/mbp-1/mbo DBN files or trades CSVs."""
    date = context.partition_key
    res = bronze.futures_trades(lake.local_landing(date), date)
    df = pl.from_arrow(res.table)
    checks = [
        _non_empty(df.height),
        _sorted_check(df),
        dg.AssetCheckResult(check_name="single_front_month", passed=df["symbol"].n_unique() <= 1),
    ]
    return write_and_describe(lake, "futures_trades", date, res.table, (), res.metadata(), checks)


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="bronze",
    code_version=code_version(),
    deps=[bronze_futures_trades],
    check_specs=[
        dg.AssetCheckSpec("timestamps_sorted", asset="bronze_futures_mbp10"),
        dg.AssetCheckSpec("input_timestamps_in_order", asset="bronze_futures_mbp10"),
        dg.AssetCheckSpec("no_crossed_book_outside_preopen", asset="bronze_futures_mbp10"),
        dg.AssetCheckSpec("non_empty", asset="bronze_futures_mbp10"),
    ],
)
def bronze_futures_mbp10(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """ES front-month MBP-10 (`futures.mbp10.v2`), streamed from mbp-10 files or rebuilt from MBO."""
    date = context.partition_key
    with lake_io.PartitionWriter(lake.path, "futures_mbp10", date) as w:
        res = bronze.futures_mbp10(lake.local_landing(date), date, _front(lake, date), w.path)
        parts = sorted(w.path.glob("part-*.parquet"))
        ts = pl.scan_parquet(parts).select("ts_event_ns").collect()["ts_event_ns"]
        path = w.commit()
    crossed = int(res.notes.get("crossed_rows_outside_preopen", 0))
    disorder = res.notes.get("input_out_of_order")
    checks = [
        dg.AssetCheckResult(check_name="timestamps_sorted", passed=bool(ts.is_sorted())),
        dg.AssetCheckResult(
            check_name="input_timestamps_in_order",
            passed=disorder is None,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"first_out_of_order": disorder or "", "resorted": bool(res.notes.get("resorted"))},
        ),
        dg.AssetCheckResult(
            check_name="no_crossed_book_outside_preopen",
            passed=crossed == 0,
            metadata={
                "crossed_rows": crossed,
                "first_crossed_record": res.notes.get("first_crossed_record") or "",
            },
        ),
        dg.AssetCheckResult(check_name="non_empty", passed=len(ts) > 0, severity=dg.AssetCheckSeverity.WARN),
    ]
    return describe_partition(path, len(ts), (), res.metadata(), checks)


@dg.asset(
    partitions_def=trading_day_partitions,
    group_name="bronze",
    code_version=code_version(),
    deps=[bronze_futures_trades],
    check_specs=[
        dg.AssetCheckSpec("non_empty", asset="bronze_options_definitions"),
        dg.AssetCheckSpec("expirations_on_partition_date", asset="bronze_options_definitions"),
    ],
)
def bronze_options_definitions(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """0DTE ES option definitions whose underlying is the front month (`options.definitions.v1`)."""
    date = context.partition_key
    res = bronze.options_definitions(lake.local_landing(date), date, _front(lake, date))
    df = pl.from_arrow(res.table)
    exp_dates = (
        df["expiration_ns"].cast(pl.Datetime("ns", "UTC")).dt.convert_time_zone("America/New_York").dt.date()
    )
    ok = bool((exp_dates.cast(pl.String) == date).all()) if df.height else True
    checks = [
        dg.AssetCheckResult(check_name="expirations_on_partition_date", passed=ok),
        _non_empty(df.height),
    ]
    return write_and_describe(lake, "options_definitions", date, res.table, (), res.metadata(), checks)


def _definitions(lake: LakeResource, date: str):
    d = lake_io.read_partition(lake.path, "options_definitions", date)
    return S.OPTIONS_DEFINITIONS.arrow.empty_table() if d is None else d.to_arrow()


def _options_asset(name: str, table: str, build, doc: str) -> dg.AssetsDefinition:
    """A Bronze options asset that keeps the records of the date's 0DTE instruments (from
    `bronze_options_definitions`) found by `build(landing, date, definitions)`."""

    @dg.asset(
        name=name,
        partitions_def=trading_day_partitions,
        group_name="bronze",
        code_version=code_version(),
        deps=[bronze_options_definitions],
        check_specs=[dg.AssetCheckSpec("non_empty", asset=name)],
        description=doc,
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        date = context.partition_key
        res = build(lake.local_landing(date), date, _definitions(lake, date))
        return write_and_describe(
            lake, table, date, res.table, (), res.metadata(), [_non_empty(res.table.num_rows)]
        )

    return _asset


bronze_options_bbo = _options_asset(
    "bronze_options_bbo",
    "options_bbo",
    bronze.options_bbo,
    "BBO of the 0DTE options (`options.bbo.v1`) from mbp-1/tbbo/bbo-1s/bbo-1m files.",
)
bronze_options_trades = _options_asset(
    "bronze_options_trades",
    "options_trades",
    bronze.options_trades,
    "Trades of the 0DTE options (`options.trades.v1`).",
)
bronze_options_statistics = _options_asset(
    "bronze_options_statistics",
    "options_statistics",
    bronze.options_statistics,
    "Statistics of the 0DTE options (`statistics.v1`; stat_type 9 = open interest).",
)


# The 0DTE option tables, the fuel engine's inputs (Silver levels and features depend on all four).
OPTIONS_ASSETS = [
    bronze_options_definitions,
    bronze_options_bbo,
    bronze_options_trades,
    bronze_options_statistics,
]

assets = [
    bronze_futures_trades,
    bronze_futures_mbp10,
    bronze_options_definitions,
    bronze_options_bbo,
    bronze_options_trades,
    bronze_options_statistics,
]
