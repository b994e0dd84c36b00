"""Streaming Bronze for large inputs: MBP-10 (and trades) DBN files -> one sorted Parquet file,
chunk by chunk, in memory bounded by the chunk size rather than the day.

Each chunk is filtered to the trading date's session and the front-month instrument, typed with
the `futures.mbp10.v1` schema (pre-open auction marked), checked (sort order, crossed book outside
the pre-open) and appended as row groups to a Parquet file. When chunks arrive out of
(ts_event, sequence) order the file is re-sorted out of core by DuckDB under a memory limit.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spymaster_core import calendar, dbn
from spymaster_core import schemas as S

ROW_GROUP_ROWS = 1_000_000
WRITER_THREADS = 2
DEFAULT_CHUNK = 500_000  # ~1.3 GB peak RSS on a 5 M-record day; 250_000 gives ~0.8 GB at -7% speed
SORT_MEMORY_LIMIT = "1GB"
# Dictionary-encode the repetitive columns (book prices and sizes, flags, strings) but not the
# unique-per-row ones, and keep min/max statistics where scans prune row groups: 35% faster writes.
_UNIQUE_PER_ROW = ("ts_event_ns", "ts_recv_ns", "sequence")
PARQUET_OPTIONS = {
    "use_dictionary": [f.name for f in S.FUTURES_MBP10.arrow if f.name not in _UNIQUE_PER_ROW],
    "write_statistics": ["ts_event_ns", "sequence", "price"],
}


@dataclass
class StreamStats:
    """What a streaming Bronze write saw: rows in/out, files, and the first problem of each kind."""

    rows_in: int = 0
    rows_out: int = 0
    files: list[str] = field(default_factory=list)
    instruments: dict[str, int] = field(default_factory=dict)
    resorted: bool = False
    out_of_order: str | None = None  # "file: sequence N at ts_event_ns T after ..." (first one)
    crossed_rows: int = 0
    first_crossed: str | None = None


def _utc(ts_ns: int | None) -> str:
    return (
        "?"
        if ts_ns is None
        else dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    )


def _session(date: str) -> tuple[int, int, int]:
    open_ns, close_ns = calendar.session_bounds_ns(date)
    d = dt.date.fromisoformat(date)
    prev = calendar.trading_dates(d - dt.timedelta(days=10), d)
    prev_close = calendar.session_bounds_ns(prev[-2])[1] if len(prev) >= 2 else open_ns - 1
    return prev_close, open_ns, close_ns


def stream_futures_mbp10(
    files: list[Path],
    out_dir: Path,
    date: str,
    front: str | None,
    chunk_records: int = DEFAULT_CHUNK,
    compression: str = "zstd",
) -> StreamStats:
    """Write the front month's MBP-10 of `date` from `files` into `out_dir` as Parquet files
    `part-00000.parquet`, `part-00001.parquet`, ... that, read in name order, are sorted by
    (ts_event_ns, sequence): one file per chunk, so two threads can encode two chunks at once
    (Parquet encoding releases the GIL) while the main thread decodes the next.
    `front` None keeps the instrument with the most records in the first chunk.
    Raises DBNReadError naming the file for unreadable input; ValueError when a file is not
    GLBX.MDP3 mbp-10 or has no record in the date's session."""
    prev_close, open_ns, close_ns = _session(date)
    stats = StreamStats()
    staging = out_dir / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(max_workers=WRITER_THREADS)
    pending: list[Future] = []
    n_parts = 0
    last_key = (-1, -1)
    try:
        for f in files:
            stats.files.append(f.name)
            dbn.check_dataset(f)
            rows_in_file = kept_in_file = 0
            span = [None, None]
            for schema, a, symbols in dbn.iter_chunks(f, chunk_records):
                if schema != "mbp-10":
                    raise ValueError(f"{f}: schema is {schema}, expected mbp-10")
                stats.rows_in += len(a)
                rows_in_file += len(a)
                if len(a):
                    t_lo, t_hi = int(a["ts_event"].min()), int(a["ts_event"].max())
                    span = [
                        t_lo if span[0] is None else min(span[0], t_lo),
                        t_hi if span[1] is None else max(span[1], t_hi),
                    ]
                if front is None:
                    ids, counts = np.unique(a["instrument_id"], return_counts=True)
                    front = symbols.get(int(ids[np.argmax(counts)]), str(ids[np.argmax(counts)]))
                front_ids = [i for i, s in symbols.items() if s == front]
                if not front_ids and str(front).isdigit():
                    front_ids = [int(front)]
                ts = a["ts_event"].astype(np.int64)
                keep = (ts > prev_close) & (ts <= close_ns) & np.isin(a["instrument_id"], front_ids)
                if not keep.all():
                    a, ts = a[keep], ts[keep]
                kept_in_file += len(a)
                if len(a) == 0:
                    continue
                seq = a["sequence"].astype(np.int64)
                order_ok = bool(np.all((ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (seq[1:] >= seq[:-1]))))
                first_key = (int(ts[0]), int(seq[0]))
                if not order_ok or first_key < last_key:
                    stats.resorted = True
                    if stats.out_of_order is None:
                        bad = np.flatnonzero(ts[1:] < ts[:-1])
                        i = int(bad[0]) + 1 if len(bad) else 0
                        stats.out_of_order = f"{f.name}: sequence {int(seq[i])} at ts_event_ns {int(ts[i])} is earlier than the record before it"
                last_key = max(last_key, (int(ts[-1]), int(seq[-1])))
                table = dbn.mbp10_table(a, symbols, "dbn_file")
                preopen = ts <= open_ns
                table = table.set_column(
                    table.schema.get_field_index("is_preopen"), "is_preopen", pa.array(preopen)
                )
                bid, ask = a["bid_px_00"], a["ask_px_00"]
                crossed = (~preopen) & (bid != dbn.UNDEF_PRICE) & (ask != dbn.UNDEF_PRICE) & (bid >= ask)
                n_crossed = int(crossed.sum())
                if n_crossed:
                    i = int(np.flatnonzero(crossed)[0])
                    stats.crossed_rows += n_crossed
                    stats.first_crossed = stats.first_crossed or (
                        f"{f.name}: sequence {int(seq[i])} at ts_event_ns {int(ts[i])}: bid {bid[i] * 1e-9} >= ask {ask[i] * 1e-9}"
                    )
                while len(pending) >= WRITER_THREADS:  # at most this many chunks in flight: bounded memory
                    pending.pop(0).result()
                part = staging / f"part-{n_parts:05d}.parquet"
                pending.append(
                    pool.submit(
                        pq.write_table,
                        table,
                        part,
                        compression=compression,
                        row_group_size=ROW_GROUP_ROWS,
                        **PARQUET_OPTIONS,
                    )
                )
                n_parts += 1
                stats.rows_out += len(a)
                stats.instruments[front] = stats.instruments.get(front, 0) + len(a)
            if rows_in_file and not kept_in_file:
                raise ValueError(
                    f"{f}: none of its {rows_in_file:,} records (ts_event {_utc(span[0])} to {_utc(span[1])}) "
                    f"fall in the {date} session or are {front}; the file does not belong to partition {date}"
                )
        for fut in pending:
            fut.result()
        pending = []
        if stats.resorted:
            con = duckdb.connect()
            con.execute(f"SET memory_limit='{SORT_MEMORY_LIMIT}'")
            con.execute(f"SET temp_directory='{out_dir / '.duckdb_tmp'}'")
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{staging}/part-*.parquet') ORDER BY ts_event_ns, sequence) "
                f"TO '{out_dir / 'part-00000.parquet'}' (FORMAT parquet, COMPRESSION {compression}, "
                f"ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
            )
            con.close()
        else:
            for part in sorted(staging.glob("part-*.parquet")):
                os.replace(part, out_dir / part.name)
        if n_parts == 0:
            pq.write_table(S.FUTURES_MBP10.arrow.empty_table(), out_dir / "part-00000.parquet")
    finally:
        for fut in pending:
            fut.exception()  # let in-flight writes finish before the staging files are removed
        pool.shutdown(wait=True)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(out_dir / ".duckdb_tmp", ignore_errors=True)
    return stats
