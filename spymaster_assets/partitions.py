"""Daily partitions on the CME_Equity trading calendar (weekdays minus exchange holidays)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from spymaster_core import calendar

PARTITIONS_START = "2010-01-04"  # the calendar's first trading date (spymaster_core.calendar)
_EXCLUSIONS_END = "2028-12-31"

trading_day_partitions = dg.TimeWindowPartitionsDefinition(
    start=PARTITIONS_START,
    fmt="%Y-%m-%d",
    cron_schedule="0 0 * * 1-5",
    timezone="America/New_York",
    exclusions=[
        dt.datetime(d.year, d.month, d.day)
        for d in calendar.non_trading_weekdays(PARTITIONS_START, _EXCLUSIONS_END)
    ],
)

# silver_levels reads earlier dates' 2-minute bars to warm up SMA-200/400.
sma_warmup_mapping = dg.TimeWindowPartitionMapping(start_offset=-3, end_offset=0)
