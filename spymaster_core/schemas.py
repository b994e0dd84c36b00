"""Arrow schemas of the lake tables, each with a name and version (DESIGN §4).

Column names follow Databento's (`ts_event`, `instrument_id`, `bid_px_00` ...) with our `_ns`
suffix on nanosecond timestamps. Prices are float64 ES points (DBN int64 1e-9 units divided out);
sizes are contracts. Adding a required column bumps the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

DATASET: Final = "GLBX.MDP3"  # the Databento dataset we read: CME Globex MDP 3.0
BOOK_DEPTH: Final = 10  # price levels per side in MBP-10


@dataclass(frozen=True)
class TableSchema:
    """A named, versioned Arrow schema, e.g. `futures.mbp10.v1`."""

    name: str
    version: int
    arrow: pa.Schema

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"


def _ts() -> list[pa.Field]:
    return [pa.field("ts_event_ns", pa.int64(), nullable=False), pa.field("ts_recv_ns", pa.int64())]


_TRADE_FIELDS = [
    *_ts(),
    pa.field("instrument_id", pa.uint32()),
    pa.field("symbol", pa.string()),
    pa.field("price", pa.float64()),
    pa.field("size", pa.int64()),
    # Databento's trade `side` is the aggressor: 'B' buyer lifted the ask, 'A' seller hit the bid.
    pa.field("side", pa.string()),
    pa.field("aggressor", pa.int8()),  # +1 buy, -1 sell, 0 unknown
    pa.field("flags", pa.uint8()),
    pa.field("sequence", pa.uint32()),
    pa.field("source", pa.string()),
]

FUTURES_TRADES = TableSchema("futures.trades", 1, pa.schema(_TRADE_FIELDS))

_BOOK_FIELDS: list[pa.Field] = []
for _i in range(BOOK_DEPTH):
    _BOOK_FIELDS += [
        pa.field(f"bid_px_{_i:02d}", pa.float64()),
        pa.field(f"ask_px_{_i:02d}", pa.float64()),
        # Sizes (contracts) and order counts keep DBN's uint32.
        pa.field(f"bid_sz_{_i:02d}", pa.uint32(), nullable=False),
        pa.field(f"ask_sz_{_i:02d}", pa.uint32(), nullable=False),
        pa.field(f"bid_ct_{_i:02d}", pa.uint32(), nullable=False),
        pa.field(f"ask_ct_{_i:02d}", pa.uint32(), nullable=False),
    ]

# v2: columns that are never null are declared `not null` (a stated invariant, and Parquet then
# writes no definition levels for them: 25% faster Bronze writes). Prices stay nullable (UNDEF).
FUTURES_MBP10 = TableSchema(
    "futures.mbp10",
    2,
    pa.schema(
        [
            *_ts(),
            pa.field("instrument_id", pa.uint32(), nullable=False),
            pa.field("symbol", pa.string()),
            pa.field("action", pa.string(), nullable=False),
            pa.field("side", pa.string(), nullable=False),
            pa.field("depth", pa.uint8(), nullable=False),
            pa.field("price", pa.float64()),
            pa.field("size", pa.int64(), nullable=False),
            pa.field("flags", pa.uint8(), nullable=False),
            pa.field("sequence", pa.uint32(), nullable=False),
            *_BOOK_FIELDS,
            pa.field("is_snapshot", pa.bool_(), nullable=False),
            # True before the Globex open of the trading date (pre-open auction): crossed books are real there.
            pa.field("is_preopen", pa.bool_(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
        ]
    ),
)

FUTURES_MBO = TableSchema(
    "futures.mbo",
    1,
    pa.schema(
        [
            *_ts(),
            pa.field("instrument_id", pa.uint32()),
            pa.field("symbol", pa.string()),
            pa.field("order_id", pa.uint64()),
            pa.field("action", pa.string()),
            pa.field("side", pa.string()),
            pa.field("price", pa.float64()),
            pa.field("size", pa.int64()),
            pa.field("flags", pa.uint8()),
            pa.field("channel_id", pa.uint8()),
            pa.field("sequence", pa.uint32()),
        ]
    ),
)

BBO = TableSchema(
    "bbo",
    1,
    pa.schema(
        [
            *_ts(),
            pa.field("instrument_id", pa.uint32()),
            pa.field("symbol", pa.string()),
            pa.field("bid_px", pa.float64()),
            pa.field("ask_px", pa.float64()),
            pa.field("bid_sz", pa.int64()),
            pa.field("ask_sz", pa.int64()),
            pa.field("schema", pa.string()),  # the DBN schema it came from: mbp-1, tbbo, bbo-1s, bbo-1m
        ]
    ),
)

OPTIONS_TRADES = TableSchema("options.trades", 1, pa.schema(_TRADE_FIELDS))
OPTIONS_BBO = TableSchema("options.bbo", 1, BBO.arrow)

DEFINITIONS = TableSchema(
    "definitions",
    2,
    pa.schema(
        [
            *_ts(),
            pa.field("instrument_id", pa.uint32()),
            pa.field("raw_symbol", pa.string()),
            pa.field("instrument_class", pa.string()),  # F future, C call, P put, S spread, ...
            pa.field("asset", pa.string()),
            pa.field("security_type", pa.string()),
            pa.field("underlying", pa.string()),
            pa.field("underlying_id", pa.uint32()),
            pa.field("strike_price", pa.float64()),
            pa.field("expiration_ns", pa.int64()),
            pa.field("min_price_increment", pa.float64()),
            # Databento: contract_multiplier is CME's deliverables count (null on ES: the i32 max
            # sentinel); unit_of_measure_qty is the contract size, 50 index points for ES and its options.
            pa.field("contract_multiplier", pa.int64()),
            pa.field("unit_of_measure_qty", pa.float64()),
        ]
    ),
)
OPTIONS_DEFINITIONS = TableSchema("options.definitions", 2, DEFINITIONS.arrow)

STATISTICS = TableSchema(
    "statistics",
    1,
    pa.schema(
        [
            *_ts(),
            pa.field("ts_ref_ns", pa.int64()),
            pa.field("instrument_id", pa.uint32()),
            pa.field("symbol", pa.string()),
            pa.field("stat_type", pa.uint16()),  # 9 = open interest
            pa.field("price", pa.float64()),
            pa.field("quantity", pa.int64()),
        ]
    ),
)

STATUS = TableSchema(
    "status",
    1,
    pa.schema(
        [
            *_ts(),
            pa.field("instrument_id", pa.uint32()),
            pa.field("symbol", pa.string()),
            pa.field("action", pa.uint16()),
            pa.field("reason", pa.uint16()),
            pa.field("trading_event", pa.uint16()),
            pa.field("is_trading", pa.string()),
        ]
    ),
)

OHLCV = TableSchema(
    "ohlcv",
    1,
    pa.schema(
        [
            *_ts(),
            pa.field("instrument_id", pa.uint32()),
            pa.field("symbol", pa.string()),
            pa.field("open", pa.float64()),
            pa.field("high", pa.float64()),
            pa.field("low", pa.float64()),
            pa.field("close", pa.float64()),
            pa.field("volume", pa.int64()),
            pa.field("schema", pa.string()),
        ]
    ),
)

FUTURES_OHLCV_1M = TableSchema(
    "futures.ohlcv_1m",
    1,
    pa.schema(
        [
            pa.field("bar_start_ns", pa.int64(), nullable=False),  # bar open, ns UTC
            pa.field("open", pa.float64(), nullable=False),  # points
            pa.field("high", pa.float64(), nullable=False),
            pa.field("low", pa.float64(), nullable=False),
            pa.field("close", pa.float64(), nullable=False),
            pa.field("volume", pa.int64()),  # contracts; null when the source has no volume
            pa.field("symbol", pa.string()),  # raw contract (ESM4) or the vendor's series name
            pa.field("source", pa.string()),  # `dbn:ohlcv-1m` or `csv:<file name>`
        ]
    ),
)
"""Bronze 1-minute bars of the front month (DESIGN §3, §6 bar resolution), one partition per
trading date, sorted by bar_start_ns with no duplicate bar starts."""

BARS_2M = TableSchema(
    "silver.bars_2m",
    1,
    pa.schema(
        [
            pa.field("bar_start_ns", pa.int64(), nullable=False),
            pa.field("open", pa.float64()),
            pa.field("high", pa.float64()),
            pa.field("low", pa.float64()),
            pa.field("close", pa.float64()),
            pa.field("volume", pa.int64()),
            pa.field("n_trades", pa.int64()),
        ]
    ),
)

LEVELS = TableSchema(
    "silver.levels",
    1,
    pa.schema(
        [
            pa.field("level_id", pa.string(), nullable=False),
            pa.field("kind", pa.string()),  # PM_HIGH, PM_LOW, OR_HIGH, OR_LOW, SMA_200, SMA_400 ...
            pa.field("price", pa.float64()),  # static levels; SMA rows give the value at valid_from
            pa.field("valid_from_ns", pa.int64()),  # first time the level is known (no look-ahead)
            pa.field("is_dynamic", pa.bool_()),
        ]
    ),
)

# v2: `resolution` says what the touch was found on: `trade` (tick path) or `1m` (bar tier).
TOUCHES = TableSchema(
    "silver.touches",
    2,
    pa.schema(
        [
            pa.field("touch_id", pa.string(), nullable=False),
            pa.field("date", pa.string()),
            pa.field("ts_ns", pa.int64()),
            pa.field("level_id", pa.string()),
            pa.field("level_kind", pa.string()),
            pa.field("level_price", pa.float64()),
            pa.field("direction", pa.string()),  # SUPPORT (approached from above) or RESISTANCE
            pa.field("touch_price", pa.float64()),
            pa.field("prior_touches", pa.int64()),  # earlier touches of the same level this date
            pa.field("resolution", pa.string()),  # `trade` or `1m` (DESIGN §6)
        ]
    ),
)

DEFAULT_THRESHOLDS_PT: Final = (10.0, 25.0, 75.0)  # labels.thresholds_pt's default


def number_token(x: float) -> str:
    """A config number as it appears in column names: 10 -> `10`, 12.5 -> `12p5` (no dot, so the
    name stays a plain identifier in SQL and Parquet)."""
    return f"{float(x):g}".replace(".", "p")


def token_number(token: str) -> float:
    """Inverse of `number_token`: `12p5` -> 12.5. Raises ValueError for anything else."""
    return float(token.replace("p", "."))


def outcome_column(threshold_pt: float) -> str:
    """The per-threshold outcome column: `outcome_10` for 10 pt, `outcome_12p5` for 12.5 pt."""
    return f"outcome_{number_token(threshold_pt)}"


def outcome_threshold(column: str) -> float:
    """Inverse of `outcome_column`: `outcome_12p5` -> 12.5. Raises ValueError for another name."""
    if not column.startswith("outcome_"):
        raise ValueError(f"{column!r} is not a per-threshold outcome column")
    return token_number(column.removeprefix("outcome_"))


def labels_schema(thresholds_pt: tuple[float, ...] = DEFAULT_THRESHOLDS_PT) -> TableSchema:
    """`silver.labels.v1` for the configured thresholds: one `outcome_<thr>` column per threshold
    (BREAK, BOUNCE or CHOP), in the configured order, between `outcome` and `time_to_threshold_s`."""
    return TableSchema(
        "silver.labels",
        1,
        pa.schema(
            [
                pa.field("touch_id", pa.string(), nullable=False),
                pa.field("outcome", pa.string()),  # BREAK, BOUNCE, CHOP (first threshold)
                *(pa.field(outcome_column(t), pa.string()) for t in thresholds_pt),
                pa.field("time_to_threshold_s", pa.float64()),  # first threshold, null for CHOP
                pa.field("strength_pt", pa.float64()),  # highest threshold hit (0 if none)
                # Excursions from the level price within the look-forward, in points, both >= 0:
                pa.field("max_through_pt", pa.float64()),  # furthest beyond the level (break side)
                pa.field("max_away_pt", pa.float64()),  # furthest back from the level (bounce side)
                pa.field("lookforward_complete", pa.bool_()),
            ]
        ),
    )


LABELS = labels_schema()


def features_schema(numeric_columns: list[str], string_columns: list[str]) -> TableSchema:
    """`silver.features.v1`: `touch_id`, `ts_ns` (the touch, ns UTC), the numeric engine features
    (float64, null where undefined) and the categorical ones (string), one row per touch. The
    columns come from `spymaster_core.engines.feature_row` (they depend on the kinematics horizons)."""
    return TableSchema(
        "silver.features",
        1,
        pa.schema(
            [pa.field("touch_id", pa.string(), nullable=False), pa.field("ts_ns", pa.int64(), nullable=False)]
            + [pa.field(c, pa.float64()) for c in numeric_columns]
            + [pa.field(c, pa.string()) for c in string_columns]
        ),
    )


SIGNALS = TableSchema(
    "gold.streaming.signals",
    1,
    pa.schema(
        [
            pa.field("run_id", pa.string(), nullable=False),  # one `spymaster live` run (replays repeat)
            pa.field("ts_ns", pa.int64(), nullable=False),  # the payload's event time, ns UTC
            pa.field("instrument", pa.string()),  # front month, e.g. ESZ6
            pa.field("spot", pa.float64()),  # points
            pa.field("bid", pa.float64()),
            pa.field("ask", pa.float64()),
            # One row per level in the payload (a payload with no level: one row, these null).
            pa.field("level_id", pa.string()),
            pa.field("kind", pa.string()),
            pa.field("price", pa.float64()),
            pa.field("direction", pa.string()),
            pa.field("distance_pt", pa.float64()),
            pa.field("break_score_smooth", pa.float64()),  # 0-100
            pa.field("signal", pa.string()),
            pa.field("p_break", pa.float64()),  # the champion model's P(BREAK), null without one
            pa.field("level_json", pa.string()),  # the whole level block of the payload (DESIGN §9)
        ]
    ),
)
"""The live service's payloads as written by `spymaster_live.writer` to gold/streaming/signals."""
