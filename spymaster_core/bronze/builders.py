"""Bronze builders: a trading date's landing files -> normalised, filtered, sorted tables.

Landing layout: `landing/GLBX.MDP3/<schema>/<YYYY-MM-DD>/*.dbn[.zst]` and
`landing/CSV/trades/<YYYY-MM-DD>/*.csv`. Filters (DESIGN §3): the front month is the outright ES
future with the most traded volume in the session (spreads excluded); options kept are those whose
definition's underlying is that contract and whose expiration falls on the session date (0DTE).
Each builder returns (table, metadata) where metadata lists inputs, filters and what was missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from databento_dbn import Schema

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.bronze import mbp10_stream as bronze_stream
from spymaster_core.bronze import selection
from spymaster_core.bronze.errors import DuplicateLandingError, NotInPartitionError
from spymaster_core.bronze.selection import ES_OUTRIGHT, front_month, zero_dte
from spymaster_core.io import csv_trades, dbn, lake


@dataclass
class BronzeResult:
    """A Bronze table with the metadata a person reads in the Dagster UI."""

    table: pa.Table
    schema: S.TableSchema
    inputs: list[str] = field(default_factory=list)
    rows: int | None = None  # set when the data was written to disk instead of held in `table`
    missing: list[str] = field(default_factory=list)
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def front_month(self) -> str | None:
        """The front-month symbol the builder chose (`notes["front_month"]`), None when unknown."""
        fm = self.notes.get("front_month")
        return fm if isinstance(fm, str) else None

    def metadata(self) -> dict[str, object]:
        """Metadata for the UI: `rows` is the written row count when the data went to disk (the
        streamed MBP-10 path leaves `table` empty), else the in-memory table's."""
        return {
            "rows": self.table.num_rows if self.rows is None else self.rows,
            "schema": self.schema.id,
            "input_files": self.inputs,
            "missing": self.missing,
            **self.notes,
        }


def landing_files(landing: Path, schema: Schema, date: str) -> list[Path]:
    """DBN files landed for a schema and date, sorted. Raises ValueError naming a file whose dataset is
    not GLBX.MDP3, and `DBNReadError` for an unreadable one."""
    d = landing / S.DATASET / str(Schema(schema)) / date
    files = sorted(dbn.iter_dbn_files(d)) if d.exists() else []
    for f in files:
        dbn.check_dataset(f, S.DATASET)
    refuse_duplicate_files(files)
    return files


def refuse_duplicate_files(files: list[Path]) -> None:
    """Raise DuplicateLandingError naming both files when two landed files of one schema and date are
    byte-identical (the same download landed twice under two names would double every row). Only
    files of equal size are hashed."""
    by_size: dict[int, list[Path]] = {}
    for f in files:
        by_size.setdefault(f.stat().st_size, []).append(f)
    for same in (g for g in by_size.values() if len(g) > 1):
        seen: dict[str, Path] = {}
        for f in same:
            digest = lake.file_sha256(f)
            if digest in seen:
                raise DuplicateLandingError(
                    f"{f} and {seen[digest]} are byte-identical (sha256 {digest[:16]}...): the same data landed "
                    "twice would count every record twice; remove one of them"
                )
            seen[digest] = f


def refuse_overlapping_records(named: list[tuple[Path, pa.Table]]) -> None:
    """Raise DuplicateLandingError naming both files when two landed files of one schema and date hold
    the same record (same instrument_id, ts_event and sequence: CME's channel sequence makes the key
    unique per event), e.g. a re-download of an overlapping time window. `named`: (file, its rows as
    `futures.trades.v1`). Files that only sit side by side in time pass."""
    if len(named) < 2:
        return
    keys = pl.concat(
        [
            pl.from_arrow(t.select(["instrument_id", "ts_event_ns", "sequence"])).with_columns(
                file=pl.lit(i, pl.Int32)
            )
            for i, (_, t) in enumerate(named)
        ]
    )
    shared = (
        keys.group_by("instrument_id", "ts_event_ns", "sequence")
        .agg(pl.col("file").unique().sort())
        .filter(pl.col("file").list.len() > 1)
    )
    if shared.height:
        first = shared.sort("ts_event_ns").row(0, named=True)
        a, b = (named[i][0] for i in first["file"][:2])
        when = pl.Series([first["ts_event_ns"]]).cast(pl.Datetime("ns", "UTC"))[0]
        raise DuplicateLandingError(
            f"{a} and {b} overlap: {shared.height:,} records are in both (first at ts_event {when} UTC, "
            f"instrument_id {first['instrument_id']}, sequence {first['sequence']}); every one would be "
            "counted twice: land non-overlapping files (or one file) for the date"
        )


def _in_session(table: pa.Table, date: str) -> pa.Table:
    if table.num_rows == 0:
        return table
    df = pl.from_arrow(table)
    prev_close, hi = calendar.partition_window_ns(date)
    df = df.filter((pl.col("ts_event_ns") > prev_close) & (pl.col("ts_event_ns") <= hi))
    return df.to_arrow().cast(table.schema)


def _refuse_if_outside(f: Path, trades: pa.Table, date: str) -> None:
    """Raise NotInPartitionError naming `f` when none of its (non-empty) `trades` fall in `date`'s
    partition window."""
    if _in_session(trades, date).num_rows == 0:
        lo, hi = ts_span_utc(trades)
        raise NotInPartitionError(f, f"{trades.num_rows:,} trades", lo, hi, date)


def ts_span_utc(t: pa.Table) -> tuple[str, str]:
    """First/last ts_event of a table as UTC strings (for error messages)."""
    ts = pl.from_arrow(t.select(["ts_event_ns"]))["ts_event_ns"].cast(pl.Datetime("ns", "UTC"))
    return str(ts.min()), str(ts.max())


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("ts_event_ns", "ascending"), ("sequence", "ascending")])


def landed_definitions(landing: Path, date: str) -> pa.Table:
    """All instrument definitions landed for a date (futures and options), one table."""
    parts = [
        dbn.decode_file(f).tables["definitions"] for f in landing_files(landing, Schema.DEFINITION, date)
    ]
    return pa.concat_tables(parts) if parts else S.DEFINITIONS.arrow.empty_table()


FUTURES_TRADE_SCHEMAS = (Schema.TRADES, Schema.TBBO, Schema.MBP_1, Schema.MBO)
"""Landed schemas Bronze takes futures prints from, in order of preference (`futures_trades`)."""


def futures_trades(landing: Path, date: str) -> BronzeResult:
    """ES front-month trades of a date: from `trades` files; else from mbp-1/tbbo `T` records; else
    from MBO `T` records; plus any trades CSVs landed for the date."""
    res = BronzeResult(S.FUTURES_TRADES.arrow.empty_table(), S.FUTURES_TRADES)
    parts: list[pa.Table] = []
    for schema in FUTURES_TRADE_SCHEMAS:
        files = landing_files(landing, schema, date)
        got: list[tuple[Path, pa.Table]] = []
        for f in files:
            if schema == "trades":
                t = _outright_trades_streamed(f, date)
            else:
                dec = dbn.decode_file(f)
                t = dec.tables.get("trades")
                if t is None and "mbo" in dec.tables:
                    t = _mbo_trades(dec.tables["mbo"])
            if t is not None and t.num_rows:
                _refuse_if_outside(f, t, date)
                got.append((f, t))
                res.inputs.append(f"{f.name} sha256={lake.file_sha256(f)}")
        refuse_overlapping_records(got)
        if got:
            parts = [t for _, t in got]
            res.notes["trades_from_schema"] = str(schema)
            break
    csv_dir = landing / "CSV" / "trades" / date
    csv_files = sorted(csv_dir.glob("*.csv")) if csv_dir.exists() else []
    refuse_duplicate_files(csv_files)
    for f in csv_files:
        sym = f.name.split("_")[0] if ES_OUTRIGHT.match(f.name.split("_")[0]) else "ES"
        t = csv_trades.read_trades_csv(f, symbol=sym)
        if t.num_rows:
            _refuse_if_outside(f, t, date)  # the same policy as a DBN file
        parts.append(t)
        res.inputs.append(f"{f.name} sha256={lake.file_sha256(f)}")
        res.notes["trades_from_schema"] = "csv"
    if not parts:
        res.missing.append("futures trades: no trades/tbbo/mbp-1/mbo DBN or trades CSV landed")
        return res
    allt = _in_session(pa.concat_tables(parts), date)
    fm = front_month(allt)
    if fm is None and allt.num_rows and set(allt.column("symbol").to_pylist()) == {"ES"}:
        fm = "ES"  # a CSV without a contract code
    res.notes["front_month"] = fm
    if fm is None:
        res.missing.append("futures trades: no ES outright contract among the trades")
        return res
    df = pl.from_arrow(allt).filter(pl.col("symbol") == fm)
    res.table = _sorted(df.to_arrow().cast(S.FUTURES_TRADES.arrow))
    return res


def _outright_trades_streamed(f: Path, date: str) -> pa.Table | None:
    """Trades of ES outrights from a `trades` file, read in chunks: option and spread prints (which
    may share the file) are dropped chunk by chunk, so memory holds only the futures' trades.
    Returns all outright trades (in session or not: the caller checks the file belongs to the date)."""
    parts = []
    for _, a, symbols in dbn.iter_chunks(f, 1_000_000):
        ids = [i for i, sym in symbols.items() if ES_OUTRIGHT.match(sym)]
        keep = np.isin(a["instrument_id"], ids) if symbols else np.ones(len(a), dtype=bool)
        if keep.any():
            parts.append(dbn.trades_table(a[keep], symbols, "dbn_file"))
    return pa.concat_tables(parts) if parts else None


def _mbo_trades(mbo: pa.Table) -> pa.Table:
    df = pl.from_arrow(mbo).filter(pl.col("action") == "T")
    df = df.with_columns(
        aggressor=pl.when(pl.col("side") == "B")
        .then(1)
        .when(pl.col("side") == "A")
        .then(-1)
        .otherwise(0)
        .cast(pl.Int8),
        source=pl.lit("mbo"),
    )
    return df.select([f.name for f in S.FUTURES_TRADES.arrow]).to_arrow().cast(S.FUTURES_TRADES.arrow)


def futures_mbp10(landing: Path, date: str, front: str | None, out_dir: Path) -> BronzeResult:
    """Write the ES front-month MBP-10 of a date into `out_dir` (Parquet parts, `futures.mbp10.v2`).

    From mbp-10 files by the streaming writer (bounded memory), else rebuilt from MBO by our book.
    `is_preopen` marks the pre-open auction. The result's `table` is empty (the data is on disk);
    `rows` and notes (crossed rows and the first crossed record, input order) describe it.
    """
    res = BronzeResult(S.FUTURES_MBP10.arrow.empty_table(), S.FUTURES_MBP10)
    files = landing_files(landing, Schema.MBP_10, date)
    res.inputs += [f"{f.name} sha256={lake.file_sha256(f)}" for f in files]
    if files:
        _record_stream(res, bronze_stream.stream_futures_mbp10(files, out_dir, date, front), front, "mbp-10")
        return res
    mbo_files = landing_files(landing, Schema.MBO, date)
    res.inputs += [f"{f.name} sha256={lake.file_sha256(f)}" for f in mbo_files]
    if not mbo_files:
        res.missing.append("futures MBP-10: no mbp-10 or mbo DBN landed")
        pq.write_table(S.FUTURES_MBP10.arrow.empty_table(), out_dir / "part-00000.parquet")
        res.rows = 0
        return res
    # Files of one date are replayed in name order through one book (a snapshot file, then the day).
    st = bronze_stream.stream_mbp10_from_mbo(mbo_files, out_dir, date, front)
    _record_stream(res, st, front, "mbo (rebuilt by spymaster_core.bronze.mbo_book)")
    return res


def _record_stream(res: BronzeResult, st: bronze_stream.StreamStats, front: str | None, source: str) -> None:
    res.rows = st.rows_out
    res.notes.update(
        mbp10_from=source,
        front_month=front or next(iter(st.instruments), None),
        rows_in=st.rows_in,
        crossed_rows_outside_preopen=st.crossed_rows,
        first_crossed_record=st.first_crossed,
        input_out_of_order=st.out_of_order,
        resorted=st.resorted,
    )


def options_definitions(landing: Path, date: str, front: str | None) -> BronzeResult:
    """0DTE option definitions on the front month: instrument_class C/P, underlying == front month,
    expiration on the session date (America/New_York)."""
    res = BronzeResult(S.OPTIONS_DEFINITIONS.arrow.empty_table(), S.OPTIONS_DEFINITIONS)
    parts = []
    for f in landing_files(landing, Schema.DEFINITION, date):
        parts.append(dbn.decode_file(f).tables["definitions"])
        res.inputs.append(f"{f.name} sha256={lake.file_sha256(f)}")
    if not parts:
        res.missing.append("option definitions: no definition DBN landed")
        return res
    df = pl.from_arrow(pa.concat_tables(parts)).filter(pl.col("instrument_class").is_in(["C", "P"]))
    n_opts = df.height
    if front is None:
        res.notes.update(front_month=None, options_in_files=n_opts, kept_0dte=0)
        res.missing.append("option definitions: no front-month future known for the date")
        return res
    df = zero_dte(df, front, date)
    df = df.sort("ts_event_ns").unique("instrument_id", keep="last", maintain_order=True)
    res.notes.update(front_month=front, options_in_files=n_opts, kept_0dte=df.height)
    res.table = df.sort("instrument_id").to_arrow().cast(S.OPTIONS_DEFINITIONS.arrow)
    return res


def _option_records(
    landing: Path, date: str, definitions: pa.Table, schemas: tuple[str, ...], kind: str, res: BronzeResult
) -> pa.Table | None:
    """Records of table kind `kind` from the date's `schemas` files whose instrument is one of the
    kept definitions; None when there are none (or no definitions). Inputs used go to `res`."""
    ids = set(definitions.column("instrument_id").to_pylist())
    if not ids:
        return None
    parts = []
    for schema in schemas:
        for f in landing_files(landing, schema, date):
            t = dbn.decode_file(f).tables.get(kind)
            if t is None or t.num_rows == 0:
                continue
            df = pl.from_arrow(t).filter(pl.col("instrument_id").is_in(list(ids)))
            if df.height:
                parts.append(df.to_arrow().cast(t.schema))
                res.inputs.append(f"{f.name} sha256={lake.file_sha256(f)}")
    return pa.concat_tables(parts) if parts else None


def _in_options_window(table: pa.Table, date: str) -> pa.Table:
    lo, hi = selection.options_window_ns(date)
    df = pl.from_arrow(table).filter((pl.col("ts_event_ns") >= lo) & (pl.col("ts_event_ns") <= hi))
    return df.to_arrow().cast(table.schema)


def options_bbo(landing: Path, date: str, definitions: pa.Table) -> BronzeResult:
    """BBO of the kept 0DTE options from mbp-1, tbbo, bbo-1s or bbo-1m files, in the options window
    (`selection.options_window_ns`: 09:00 ET to the close)."""
    res = BronzeResult(S.OPTIONS_BBO.arrow.empty_table(), S.OPTIONS_BBO)
    t = _option_records(landing, date, definitions, dbn.BBO_SCHEMAS, "bbo", res)
    if t is None:
        res.missing.append("option BBO: none for the kept 0DTE instruments")
        return res
    res.table = _in_options_window(t, date).sort_by([("ts_event_ns", "ascending")])
    return res


def options_trades(landing: Path, date: str, definitions: pa.Table) -> BronzeResult:
    """Trades of the kept 0DTE options (from `trades` files) in the options window (09:00 ET to the
    close, `selection.options_window_ns`)."""
    res = BronzeResult(S.OPTIONS_TRADES.arrow.empty_table(), S.OPTIONS_TRADES)
    t = _option_records(landing, date, definitions, (Schema.TRADES,), "trades", res)
    if t is None:
        res.missing.append("option trades: none for the kept 0DTE instruments")
        return res
    res.table = _sorted(_in_options_window(t, date))
    return res


def options_statistics(landing: Path, date: str, definitions: pa.Table) -> BronzeResult:
    """Statistics of the kept 0DTE options (`statistics.v1`); stat_type 9 rows carry open interest
    in `quantity` (contracts)."""
    res = BronzeResult(S.STATISTICS.arrow.empty_table(), S.STATISTICS)
    t = _option_records(landing, date, definitions, (Schema.STATISTICS,), "statistics", res)
    if t is None:
        res.missing.append("option statistics: none for the kept 0DTE instruments (no open interest)")
        return res
    res.table = t.sort_by([("ts_event_ns", "ascending")])
    res.notes["open_interest_rows"] = int(pl.from_arrow(t).filter(pl.col("stat_type") == 9).height)
    return res
