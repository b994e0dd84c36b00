"""What to ask Databento for, per trading date (DESIGN §3; issue 21): only what Bronze keeps.

Following Databento's own guidance (continuous symbology for the front month, "Get symbols for
0DTE options": definitions by parent, then data by raw symbol):

- futures trades and MBP-10 for the front month, `ES.v.0` (the most-traded ES contract) resolved
  to its raw symbol; around a roll (`calendar.in_roll_window`) also `ES.v.1`, since on those days
  either can be the most traded, which is Bronze's front month;
- option definitions by the ES option parents (`selection.OPTION_PARENTS`; cheap), then trades,
  BBO (`bbo-1s` by default, `mbp-1` on request) and statistics only for the 0DTE options on those
  futures (`selection.zero_dte`), by raw symbol;
- option trades and BBO only for the options window (`selection.options_window_ns`: 09:00 ET to
  the close); futures, definitions and statistics for the whole partition window (levels need the
  pre-market; open interest is published before the open).

`legacy_plan` is the plan used until issue 21 (every ES future and spread by `ES.FUT`, every option
of every root by parent, `mbp-1`, whole window); the download reports its cost beside the new one.
References: https://databento.com/docs/standards-and-conventions/symbology,
https://databento.com/docs/examples/options/zero-dte-options
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from databento_dbn import Schema, SType

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.bronze import selection

DATASET = S.DATASET
OPTION_BBO_SCHEMAS = ("bbo-1s", "mbp-1")
FRONT = "ES.v.0"  # continuous: the ES contract ranked first by volume
NEXT = "ES.v.1"


@dataclass(frozen=True)
class DownloadRequest:
    """One Historical `timeseries.get_range` call: schema, symbols in `stype_in` symbology, the
    [start_ns, end_ns) window (ns UTC), and `root`, the file-name part (`es-fut` or `es-opt`)."""

    schema: Schema
    symbols: tuple[str, ...]
    stype_in: SType
    start_ns: int
    end_ns: int
    root: str

    def query(self) -> dict[str, Any]:
        """Keyword arguments shared by `metadata.get_cost` and `timeseries.get_range`."""
        return {
            "dataset": DATASET,
            "start": self.start_ns,
            "end": self.end_ns,
            "symbols": list(self.symbols),
            "schema": str(self.schema),
            "stype_in": str(self.stype_in),
        }

    def filename(self, date: str) -> str:
        return f"glbx-mdp3-{date}.{self.root}.{self.schema}.dbn.zst"

    @property
    def hours(self) -> float:
        return (self.end_ns - self.start_ns) / 3.6e12


def _window(date: str) -> tuple[int, int]:
    """The partition window as a request's [start, end): Bronze keeps (previous close, close], so
    a request ends one nanosecond after the close."""
    start, close_ns = calendar.partition_window_ns(date)
    return start, close_ns + 1


def legacy_plan(date: str) -> list[DownloadRequest]:
    """The plan before issue 21, kept for the cost comparison: trades and MBP-10 of every ES future
    and spread (`ES.FUT`), definitions, trades, mbp-1 and statistics of every option under the ES
    option parents, all for the whole partition window."""
    start, end = _window(date)
    fut = [
        DownloadRequest(s, ("ES.FUT",), SType.PARENT, start, end, "es-fut")
        for s in (Schema.TRADES, Schema.MBP_10)
    ]
    opt = [
        DownloadRequest(s, selection.OPTION_PARENTS, SType.PARENT, start, end, "es-opt")
        for s in (Schema.DEFINITION, Schema.TRADES, Schema.MBP_1, Schema.STATISTICS)
    ]
    return fut + opt


def continuous_symbols(date: str) -> tuple[str, ...]:
    """`ES.v.0`, and `ES.v.1` too around a roll (`calendar.in_roll_window`)."""
    return (FRONT, NEXT) if calendar.in_roll_window(date) else (FRONT,)


def _resolve_span(date: str) -> dict[str, str]:
    """`symbology.resolve`'s date range for one trading date: [date, date + 1 day)."""
    d0 = dt.date.fromisoformat(date)
    return {"start_date": d0.isoformat(), "end_date": (d0 + dt.timedelta(days=1)).isoformat()}


def resolve_futures(client: Any, date: str) -> dict[str, str]:
    """{continuous symbol: raw symbol} on `date`, with Databento's free `symbology.resolve`
    (continuous -> instrument_id, then instrument_id -> raw_symbol, the supported pairs).
    Raises ValueError naming the symbol when one does not resolve to exactly one contract."""
    span = _resolve_span(date)
    cont = continuous_symbols(date)
    by_id = client.symbology.resolve(
        dataset=DATASET, symbols=list(cont), stype_in="continuous", stype_out="instrument_id", **span
    )["result"]
    ids = {c: sorted({str(m["s"]) for m in by_id.get(c, [])}) for c in cont}
    for c, found in ids.items():
        if len(found) != 1:
            raise ValueError(f"{date}: Databento resolves {c} to {found or 'nothing'}; expected one contract")
    raw = client.symbology.resolve(
        dataset=DATASET,
        symbols=[v[0] for v in ids.values()],
        stype_in="instrument_id",
        stype_out="raw_symbol",
        **span,
    )["result"]
    out = {}
    for c, (iid,) in ids.items():
        names = sorted({str(m["s"]) for m in raw.get(iid, [])})
        if len(names) != 1:
            raise ValueError(
                f"{date}: instrument {iid} ({c}) resolves to {names or 'nothing'}; expected one raw symbol"
            )
        out[c] = names[0]
    return out


def parent_instruments(client: Any, date: str, parents: tuple[str, ...]) -> int:
    """How many instruments the parent symbols name on `date` (free `symbology.resolve`, parent ->
    instrument_id)."""
    res = client.symbology.resolve(
        dataset=DATASET,
        symbols=list(parents),
        stype_in="parent",
        stype_out="instrument_id",
        **_resolve_span(date),
    )["result"]
    return len({str(m["s"]) for ms in res.values() for m in ms})


def futures_requests(date: str, raw_symbols: tuple[str, ...]) -> list[DownloadRequest]:
    """Trades and MBP-10 of the given ES contracts (raw symbols) for the whole partition window."""
    start, end = _window(date)
    return [
        DownloadRequest(s, raw_symbols, SType.RAW_SYMBOL, start, end, "es-fut")
        for s in (Schema.TRADES, Schema.MBP_10)
    ]


def definitions_request(date: str) -> DownloadRequest:
    """Definitions of every option under the ES option parents, for the whole partition window
    (they are few and cheap; the 0DTE ones are picked from them)."""
    start, end = _window(date)
    return DownloadRequest(Schema.DEFINITION, selection.OPTION_PARENTS, SType.PARENT, start, end, "es-opt")


def zero_dte_symbols(definitions: pl.DataFrame, fronts: tuple[str, ...], date: str) -> tuple[str, ...]:
    """Raw symbols of the 0DTE options (`selection.zero_dte`) on any of `fronts`, sorted.
    `definitions`: the `definitions` table of the landed definition file."""
    if definitions.is_empty():
        return ()
    picked = pl.concat([selection.zero_dte(definitions, f, date) for f in fronts])
    return tuple(sorted(set(picked["raw_symbol"].to_list())))


def option_requests(
    date: str, raw_symbols: tuple[str, ...], bbo_schema: str = "bbo-1s"
) -> list[DownloadRequest]:
    """Trades and BBO (`bbo_schema`: bbo-1s or mbp-1) of the given 0DTE options for the options
    window, statistics for the whole partition window. Raises ValueError for another BBO schema."""
    if bbo_schema not in OPTION_BBO_SCHEMAS:
        raise ValueError(f"option_bbo_schema={bbo_schema!r}: expected one of {OPTION_BBO_SCHEMAS}")
    if not raw_symbols:
        return []
    # Databento selects by ts_recv >= start; ts_recv >= ts_event, so every record Bronze keeps
    # (ts_event from the window's start) is in the request.
    lo = selection.options_window_ns(date)[0]
    start, end = _window(date)
    return [
        DownloadRequest(Schema.TRADES, raw_symbols, SType.RAW_SYMBOL, lo, end, "es-opt"),
        DownloadRequest(Schema(bbo_schema), raw_symbols, SType.RAW_SYMBOL, lo, end, "es-opt"),
        DownloadRequest(Schema.STATISTICS, raw_symbols, SType.RAW_SYMBOL, start, end, "es-opt"),
    ]
