"""Which instruments a trading date keeps (DESIGN §3): the front-month ES future and its 0DTE options.

One definition each, used by Bronze (`bronze.builders`), the live Databento feed
(`spymaster_live.databento_feed`) and the Dagster assets.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pyarrow as pa

from spymaster_core import calendar

ES_OUTRIGHT = re.compile(r"^ES[FGHJKMNQUVXZ]\d{1,2}$")  # quarterly outrights: ESZ6, ESH27; no spreads
# ES options trade under several parent roots (Databento parent symbology, `<root>.OPT`): the
# quarterly and serial ES, the Friday weeklies EW and EW1-4, and the Monday-Thursday weeklies
# E1A-E5D (week 1-5, day A-D); a date's 0DTE chain sits under one of them. Source: CME Group's
# "E-mini S&P 500 options" contract specs; Databento's "Get options chain for a futures product".
OPTION_PARENTS = (
    "ES.OPT",
    "EW.OPT",
    *[f"EW{w}.OPT" for w in range(1, 5)],
    *[f"E{w}{d}.OPT" for w in range(1, 6) for d in "ABCD"],
)
# Option trades and BBO are kept from this America/New_York time to the close: the RTH open minus a
# 30-minute warm-up, so every quoted 0DTE instrument has a quote by 09:30. The download plan asks
# for no earlier option data, and Bronze keeps no earlier rows (one rule for both).
OPTIONS_WINDOW_START_ET = "09:00"


def front_month(rows: pa.Table | pl.DataFrame, volume: str = "size") -> str | None:
    """The ES outright with the most traded volume (contracts, summed over column `volume`: `size` of
    trades, `volume` of OHLCV bars) in the rows, ties to the first symbol; None without outrights."""
    df = rows if isinstance(rows, pl.DataFrame) else pl.from_arrow(rows)
    df = df.filter(pl.col("symbol").str.contains(ES_OUTRIGHT.pattern)) if df.height else df
    if df.is_empty():
        return None
    vol = df.group_by("symbol").agg(pl.col(volume).sum()).sort([volume, "symbol"], descending=[True, False])
    return str(vol["symbol"][0])


def front_month_from_definitions(definitions: pa.Table, date: str) -> str | None:
    """Fallback when a date has no futures trades: the ES outright (class F, spreads excluded) with the
    earliest expiration after the date's 09:30 ET open, e.g. ESH6 on 2025-12-19 (ESZ5 expires 09:30 ET)."""
    if definitions.num_rows == 0:
        return None
    rth_open = calendar.et_ns(date, "09:30")
    df = pl.from_arrow(definitions).filter(
        (pl.col("instrument_class") == "F")
        & pl.col("raw_symbol").str.contains(ES_OUTRIGHT.pattern)
        & (pl.col("expiration_ns") > rth_open)
    )
    return None if df.is_empty() else str(df.sort("expiration_ns")["raw_symbol"][0])


def options_window_ns(date: str) -> tuple[int, int]:
    """(start, end] ns UTC of the option trades and BBO a date keeps: from `OPTIONS_WINDOW_START_ET`
    on the date to the partition's close (`calendar.partition_window_ns`)."""
    return calendar.et_ns(date, OPTIONS_WINDOW_START_ET), calendar.partition_window_ns(date)[1]


def zero_dte_expr(front: str, date: str) -> pl.Expr:
    """Polars predicate over definition rows (`instrument_class`, `underlying`, `expiration_ns`): an
    option (class C/P) on `front` expiring on `date` in America/New_York (so the 09:30 ET AM-settled
    quarterlies count on their expiry date). Never the symbol prefix: ES options come under many roots."""
    exp_date = (
        pl.col("expiration_ns")
        .cast(pl.Datetime("ns", "UTC"))
        .dt.convert_time_zone("America/New_York")
        .dt.date()
    )
    return (
        pl.col("instrument_class").is_in(["C", "P"])
        & (pl.col("underlying") == front)
        & (exp_date == dt.date.fromisoformat(date))
    )


def zero_dte(definitions: pl.DataFrame, front: str, date: str) -> pl.DataFrame:
    """The rows of `definitions` (`options.definitions` columns) that are 0DTE options on `front`."""
    return definitions.filter(zero_dte_expr(front, date))
