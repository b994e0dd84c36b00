"""Streaming Bronze MBP-10 for large inputs (mbp-10 DBN files, or MBO rebuilt by our book), chunk
by chunk, in memory bounded by the chunk size rather than the day.

Each chunk is filtered to the trading date's session and the front-month instrument, typed with
the `futures.mbp10.v2` schema (pre-open auction marked), checked (sort order, crossed book outside
the pre-open) and written as its own Parquet part. When chunks arrive out of (ts_event, sequence)
order the parts are re-sorted out of core by DuckDB under a memory limit.
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.bronze import mbo_book as book
from spymaster_core.bronze.errors import NotInPartitionError
from spymaster_core.io import dbn
from spymaster_core.io.dbn_kernels import Mbp10Columns

ROW_GROUP_ROWS = 1_000_000
WRITER_THREADS = 2
DEFAULT_CHUNK = (
    250_000  # ~0.9 GB peak RSS on a 5 M-record day; 100_000: ~0.55 GB, same speed, smaller row groups
)
SORT_MEMORY_LIMIT = "1GB"
# Plain encoding (no dictionaries): measured on a 5 M-record day, dictionaries made writes 30-40%
# slower and zstd files no smaller. Min/max statistics only where scans prune row groups.
PARQUET_OPTIONS = {
    "use_dictionary": False,
    "write_statistics": ["ts_event_ns", "sequence"],
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
    prev_close, close_ns = calendar.partition_window_ns(date)
    return prev_close, calendar.session_bounds_ns(date)[0], close_ns


class _PartsWriter:
    """Parquet parts `part-00000.parquet`, ... written by a small thread pool into a staging folder,
    moved into `out_dir` (or re-sorted into one part) by `finish`. At most WRITER_THREADS chunks are
    in flight, so memory stays bounded. `take_buffers` hands out WRITER_THREADS + 1 reusable
    MBP-10 column buffer sets in turn, each only once the write that read it has finished."""

    def __init__(self, out_dir: Path, compression: str, buffer_capacity: int = 0) -> None:
        self.out_dir, self.compression = out_dir, compression
        self.staging = out_dir / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)
        self.pool = ThreadPoolExecutor(max_workers=WRITER_THREADS)
        self.pending: list[Future] = []
        self.n_parts = 0
        self.buffer_capacity = buffer_capacity
        self.slots: list[Mbp10Columns | None] = [None] * (WRITER_THREADS + 1)
        self.slot_writes: list[Future | None] = [None] * (WRITER_THREADS + 1)
        self.next_slot = 0

    def take_buffers(self) -> tuple[int, Mbp10Columns]:
        """(slot, buffers) free for the next chunk; pass `slot` to `write` with its table."""
        slot, self.next_slot = self.next_slot, (self.next_slot + 1) % len(self.slots)
        if (fut := self.slot_writes[slot]) is not None:
            fut.result()
        if self.slots[slot] is None:
            self.slots[slot] = Mbp10Columns(self.buffer_capacity)
        return slot, self.slots[slot]

    def write(self, table: pa.Table, slot: int | None = None) -> None:
        while len(self.pending) >= WRITER_THREADS:
            self.pending.pop(0).result()
        part = self.staging / f"part-{self.n_parts:05d}.parquet"
        fut = self.pool.submit(
            pq.write_table,
            table,
            part,
            compression=self.compression,
            row_group_size=ROW_GROUP_ROWS,
            **PARQUET_OPTIONS,
        )
        self.pending.append(fut)
        if slot is not None:
            self.slot_writes[slot] = fut
        self.n_parts += 1

    def finish(self, resort: bool) -> None:
        for fut in self.pending:
            fut.result()
        self.pending = []
        if resort:
            con = duckdb.connect()
            con.execute(f"SET memory_limit='{SORT_MEMORY_LIMIT}'")
            con.execute(f"SET temp_directory='{self.out_dir / '.duckdb_tmp'}'")
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{self.staging}/part-*.parquet') ORDER BY ts_event_ns, "
                f"sequence) TO '{self.out_dir / 'part-00000.parquet'}' (FORMAT parquet, COMPRESSION "
                f"{self.compression}, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
            )
            con.close()
        else:
            for part in sorted(self.staging.glob("part-*.parquet")):
                os.replace(part, self.out_dir / part.name)
        if self.n_parts == 0:
            pq.write_table(S.FUTURES_MBP10.arrow.empty_table(), self.out_dir / "part-00000.parquet")

    def close(self) -> None:
        for fut in self.pending:
            fut.exception()  # let in-flight writes finish before the staging files are removed
        self.pool.shutdown(wait=True)
        for tmp in (self.staging, self.out_dir / ".duckdb_tmp"):
            if tmp.exists():
                shutil.rmtree(tmp)


class _Inspector:
    """Order and crossed-book checks across the chunks of one partition."""

    def __init__(self, stats: StreamStats) -> None:
        self.stats = stats
        self.last_key = (-1, -1)

    def check(
        self,
        fname: str,
        ts: np.ndarray,
        seq: np.ndarray,
        preopen: np.ndarray,
        bid: np.ndarray,
        ask: np.ndarray,
    ) -> None:
        """ts, seq int64; bid, ask float points (NaN where undefined)."""
        st = self.stats
        order_ok = bool(np.all((ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (seq[1:] >= seq[:-1]))))
        if not order_ok or (int(ts[0]), int(seq[0])) < self.last_key:
            st.resorted = True
            if st.out_of_order is None:
                bad = np.flatnonzero(ts[1:] < ts[:-1])
                i = int(bad[0]) + 1 if len(bad) else 0
                st.out_of_order = (
                    f"{fname}: sequence {int(seq[i])} at ts_event_ns {int(ts[i])} is earlier "
                    "than the record before it"
                )
        self.last_key = max(self.last_key, (int(ts[-1]), int(seq[-1])))
        with np.errstate(invalid="ignore"):
            crossed = ~preopen & (bid >= ask)
        n_crossed = int(crossed.sum())
        if n_crossed:
            i = int(np.flatnonzero(crossed)[0])
            st.crossed_rows += n_crossed
            st.first_crossed = st.first_crossed or (
                f"{fname}: sequence {int(seq[i])} at ts_event_ns {int(ts[i])}: bid {bid[i]} >= ask {ask[i]}"
            )


def _no_rows_error(f: Path, n: int, span: list, date: str, front: str | None) -> ValueError:
    return NotInPartitionError(f, f"{n:,} records of {front}", _utc(span[0]), _utc(span[1]), date)


def _widen(span: list, lo: int, hi: int) -> None:
    span[0] = lo if span[0] is None else min(span[0], lo)
    span[1] = hi if span[1] is None else max(span[1], hi)


def stream_futures_mbp10(
    files: list[Path],
    out_dir: Path,
    date: str,
    front: str | None,
    chunk_records: int = DEFAULT_CHUNK,
    compression: str = "zstd",
) -> StreamStats:
    """Write the front month's MBP-10 of `date` from mbp-10 `files` into `out_dir` as Parquet parts
    `part-00000.parquet`, ... that, read in name order, are sorted by (ts_event_ns, sequence): one
    part per chunk, so two threads encode two chunks at once (Parquet encoding releases the GIL)
    while the main thread decodes the next. `front` None keeps the instrument with the most records
    in the first chunk. Raises DBNReadError naming the file for unreadable input; ValueError when a
    file is not GLBX.MDP3 mbp-10 or has no record in the date's session."""
    prev_close, open_ns, close_ns = _session(date)
    stats = StreamStats()
    parts, inspector = _PartsWriter(out_dir, compression, chunk_records), _Inspector(stats)
    try:
        for f in files:
            stats.files.append(f.name)
            dbn.check_dataset(f)
            rows_in_file = kept_in_file = 0
            span: list = [None, None]
            for schema, a, symbols in dbn.iter_chunks(f, chunk_records):
                if schema != "mbp-10":
                    raise ValueError(f"{f}: schema is {schema}, expected mbp-10")
                stats.rows_in += len(a)
                rows_in_file += len(a)
                if len(a):
                    _widen(span, int(a["ts_event"].min()), int(a["ts_event"].max()))
                if front is None:
                    ids, counts = np.unique(a["instrument_id"], return_counts=True)
                    front = symbols.get(int(ids[np.argmax(counts)]), str(ids[np.argmax(counts)]))
                front_ids = [i for i, s in symbols.items() if s == front]
                if not front_ids and str(front).isdigit():
                    front_ids = [int(front)]
                ts = a["ts_event"].astype(np.int64)
                keep = (ts > prev_close) & (ts <= close_ns) & np.isin(a["instrument_id"], front_ids)
                if not keep.all():
                    a = a[keep]
                kept_in_file += len(a)
                if len(a) == 0:
                    continue
                slot, buffers = parts.take_buffers()
                table = dbn.mbp10_table(a, symbols, "dbn_file", open_ns, buffers)
                inspector.check(
                    f.name,
                    buffers.view("ts_event"),
                    buffers.view("sequence"),
                    buffers.view("is_preopen"),
                    buffers.view("px")[0],
                    buffers.view("px")[S.BOOK_DEPTH],
                )
                parts.write(table, slot)
                stats.rows_out += len(a)
                stats.instruments[front] = stats.instruments.get(front, 0) + len(a)
            if rows_in_file and not kept_in_file:
                raise _no_rows_error(f, rows_in_file, span, date, front)
        parts.finish(stats.resorted)
    finally:
        parts.close()
    return stats


def stream_mbp10_from_mbo(
    files: list[Path],
    out_dir: Path,
    date: str,
    front: str | None,
    chunk_records: int = DEFAULT_CHUNK,
    compression: str = "zstd",
) -> StreamStats:
    """Like `stream_futures_mbp10` for MBO `files`: the book (`spymaster_core.bronze.mbo_book.MboBook`) runs
    over them in order and each chunk's MBP-10 rows are filtered, checked and written as a part.
    `rows_in` counts MBP-10 rows the book produced."""
    prev_close, _, close_ns = _session(date)
    stats = StreamStats(files=[f.name for f in files])
    parts, inspector = _PartsWriter(out_dir, compression), _Inspector(stats)
    span: list = [None, None]
    for f in files:
        dbn.check_dataset(f)
    try:
        for table in book.iter_mbo_to_mbp10(files, chunk_records):
            if table.num_rows == 0:
                continue
            stats.rows_in += table.num_rows
            ts_all = table.column("ts_event_ns").to_numpy()
            _widen(span, int(ts_all.min()), int(ts_all.max()))
            if front is None:
                vc = pc.value_counts(table.column("symbol"))
                front = str(vc.field("values")[int(np.argmax(vc.field("counts").to_numpy()))])
            mask = pc.and_(
                pc.and_(
                    pc.greater(table.column("ts_event_ns"), prev_close),
                    pc.less_equal(table.column("ts_event_ns"), close_ns),
                ),
                pc.equal(table.column("symbol"), front),
            )
            table = table.filter(mask)
            if table.num_rows == 0:
                continue
            inspector.check(
                stats.files[-1] if len(files) == 1 else "mbo",
                table.column("ts_event_ns").to_numpy(),
                table.column("sequence").to_numpy().astype(np.int64),
                table.column("is_preopen").to_numpy(zero_copy_only=False),
                table.column("bid_px_00").to_numpy(zero_copy_only=False).astype(float),
                table.column("ask_px_00").to_numpy(zero_copy_only=False).astype(float),
            )
            parts.write(table)
            stats.rows_out += table.num_rows
            stats.instruments[front] = stats.instruments.get(front, 0) + table.num_rows
        if stats.rows_in and not stats.rows_out:
            raise _no_rows_error(files[0], stats.rows_in, span, date, front)
        parts.finish(stats.resorted)
    finally:
        parts.close()
    return stats
