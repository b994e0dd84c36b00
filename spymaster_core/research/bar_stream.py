"""Bar-resolution features from a stream of futures trades (issue 19, "live with a bars model").

A champion trained on the bar tier scores from the 1-minute bars the live core builds from the trades
it sees. `BarStream` keeps the date's front-month trades; at a minute start m it builds the bars that
closed at or before m (`bars.one_minute_bars` over the trades before m), the date's bar levels
(`bar_study.date_levels`, SMA warm-up from the prior sessions given), the bar touches so far
(`bar_touches.detect_bar_touches`) and, for every level known at m, the row `bar_touch_features`
would give a touch of that level at the bar starting at m. These are the batch functions, called on
the data a live feed has at m, so when a level is touched in the bar starting at m the row equals the
batch row of that touch (the parity test in tests/test_bar_live.py): the prior touches are those
before m, the direction is the side of the last close (a level armed from above has every close
above it until the bar that touches it), and the level price is its value known at m.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.calendar import MINUTE_NS
from spymaster_core.config import Config
from spymaster_core.io import lake
from spymaster_core.research import bar_features, bar_study, bar_touches, bars
from spymaster_core.research.touches import touch_row

SOURCE = "live trades"


class BarStream:
    """One date's bar-resolution state, fed trade by trade (see module docstring).

    prior_sessions: {trading date: `futures.ohlcv_1m.v1` frame} of the dates before `date` the batch
    path reads (SMA warm-up, previous close, volume profile); missing dates leave those features
    null, as in batch."""

    def __init__(
        self, date: str, cfg: Config, prior_sessions: dict[str, pl.DataFrame], symbol: str = ""
    ) -> None:
        self.date, self.cfg, self.symbol = date, cfg, symbol
        self.prior = dict(prior_sessions)
        self._ts: list[int] = []
        self._px: list[float] = []
        self._sz: list[float] = []
        self._minute_ns = -1
        self._rows: dict[str, dict] = {}

    def on_trade(self, ts_event_ns: int, price: float, size: float) -> None:
        """Keep one front-month trade (prices in points, size in contracts; in time order)."""
        self._ts.append(ts_event_ns)
        self._px.append(price)
        self._sz.append(size)

    def bars_before(self, minute_ns: int) -> pl.DataFrame:
        """`futures.ohlcv_1m.v1` bars of the trades before `minute_ns` (bars that closed by then)."""
        n = int(np.searchsorted(np.asarray(self._ts, dtype=np.int64), minute_ns, side="left"))
        trades = pl.DataFrame(
            {"ts_event_ns": self._ts[:n], "price": self._px[:n], "size": self._sz[:n]},
            schema={"ts_event_ns": pl.Int64, "price": pl.Float64, "size": pl.Float64},
        )
        return bars.one_minute_bars(trades, self.symbol, SOURCE)

    def rows_at(self, ts_ns: int) -> dict[str, dict]:
        """{level_id: feature row} for the levels known at the minute containing `ts_ns`: the
        `bar_features.NUMERIC` columns plus `touch_id`, `date`, `level_kind`, `direction`,
        `level_price` and `engines_missing_reason`. Computed once per minute; {} before the first bar."""
        minute = ts_ns // MINUTE_NS * MINUTE_NS
        if minute != self._minute_ns:
            self._minute_ns = minute
            self._rows = self._compute(minute)
        return self._rows

    def _compute(self, minute_ns: int) -> dict[str, dict]:
        b = self.bars_before(minute_ns)
        if b.is_empty():
            return {}
        lv, _missing = bar_study.date_levels({**self.prior, self.date: b}, self.date, self.cfg)
        lv = lv.filter(pl.col("valid_from_ns") <= minute_ns)
        if lv.is_empty():
            return {}
        touched = bar_touches.detect_bar_touches(b, lv, self.date, self.cfg)
        prior_counts = dict(touched.group_by("level_id").len().iter_rows()) if touched.height else {}
        last_close = float(b["close"][-1])
        current = (
            lv.sort("valid_from_ns")
            .group_by("level_id", maintain_order=True)
            .agg(pl.col("kind").last(), pl.col("price").last())
        )
        rows = [
            touch_row(
                self.date,
                lid,
                kind,
                minute_ns,
                px,
                1 if last_close >= px else -1,
                px,
                prior_counts.get(lid, 0),
                bar_touches.RESOLUTION,
            )
            for lid, kind, px in current.iter_rows()
        ]
        hypothetical = pl.DataFrame(rows, schema=dict(pl.from_arrow(S.TOUCHES.arrow.empty_table()).schema))
        prior = [self.prior[d] for d in bar_features.prior_dates(self.date) if d in self.prior]
        feats = bar_features.bar_touch_features(b, hypothetical, lv, self.date, self.cfg, prior)
        meta = hypothetical.select("touch_id", "level_id", "direction", "level_price")
        return {r["level_id"]: r for r in feats.join(meta, on="touch_id").iter_rows(named=True)}


def prior_sessions_from_lake(root: lake.LakePath, date: str, cfg: Config) -> dict[str, pl.DataFrame]:
    """{date: 1-minute bars} of the trading dates before `date` that the bar path reads (the larger of
    the SMA warm-up and `bar_features.PRIOR_SESSIONS`): the lake's `futures_ohlcv_1m` partition, else
    bars built from its Bronze `futures_trades`; dates with neither are left out."""
    out: dict[str, pl.DataFrame] = {}
    n = max(cfg.levels.SMA_WARMUP_DAYS, bar_features.PRIOR_SESSIONS)
    for day in calendar.previous_trading_dates(date, n):
        d = day.isoformat()
        b = lake.read_partition(root, "futures_ohlcv_1m", d)
        if b is None:
            t = lake.read_partition(root, "futures_trades", d)
            if t is not None and t.height:
                b = bars.one_minute_bars(t, str(t["symbol"][0]), "bronze trades")
        if b is not None and b.height:
            out[d] = b
    return out
