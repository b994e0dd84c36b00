"""Rebuild a 10-level price book (MBP-10) from Databento market-by-order (MBO) records.

Semantics follow Databento's MBO docs (https://databento.com/docs/schemas-and-data-formats/mbo):
`A` adds an order, `C` removes `size` from it, `M` moves/resizes it, `R` clears the book;
`T` (aggressor) and `F` (resting fill) never change depth: the size leaves the book in the `C`/`M`
that follows. A row is emitted at every event end (`F_LAST`), at the end of a snapshot
(`F_SNAPSHOT` records that carry no `F_LAST`), and for every `T` record (as Databento's own MBP-10
does), so trades are visible in the book stream with the depth they traded against.

Crossed books are real during the pre-open auction before the Globex open; rows before the open of
their trading date carry `is_preopen=True` and are not altered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import databento as db
import databento_dbn
import numpy as np
import pyarrow as pa

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.bronze.instrument_book import InstrumentBook
from spymaster_core.io import dbn

F_LAST = databento_dbn.F_LAST
F_SNAPSHOT = databento_dbn.F_SNAPSHOT
_UNDEF = dbn.UNDEF_PRICE


def _load(source: str | Path | db.DBNStore) -> tuple[np.ndarray, dict[int, str]]:
    if isinstance(source, db.DBNStore):
        store, name = source, "<DBNStore>"
    else:
        store, name = dbn.open_store(source), str(source)
    if str(store.schema) != "mbo":
        raise ValueError(f"{name}: schema is {store.schema}, mbo_to_mbp10 needs an mbo file")
    return dbn.store_records(store, Path(name)), dbn.instrument_symbols(store)


class MboBook:
    """Incremental MBO -> MBP-10: feed record chunks in order, get the MBP-10 rows each produces.

    The book state (orders, levels per instrument) persists across chunks; the last record of a
    chunk is held back until the next chunk arrives, because the end of a snapshot (records with
    `F_SNAPSHOT` and no `F_LAST`) is only known from the record after it. Memory is bounded by
    the chunk plus the live order book.
    """

    def __init__(self, symbols: dict[int, str] | None = None, source: str = "mbo_book") -> None:
        self.symbols: dict[int, str] = dict(symbols or {})
        self.source = source
        self.books: dict[int, InstrumentBook] = {}
        # instrument_id -> its last record (copy) in the snapshot under way
        self.snapshot_last: dict[int, np.ndarray] = {}
        self.carry: np.ndarray | None = None

    def feed(self, a: np.ndarray, final: bool = False) -> pa.Table:
        """Process MBO records (structured array, DBN layout); return `futures.mbp10.v2` rows.
        Pass `final=True` with the last chunk (or an empty array) to flush the held-back record."""
        if self.carry is not None:
            a = np.concatenate([self.carry, a]) if len(a) else self.carry
        self.carry = None
        lookahead: int | None = None  # flags of the record after the last one processed now
        if not final and len(a):
            self.carry = a[-1:].copy()
            lookahead = int(self.carry["flags"][0])
            a = a[:-1]
        return self._process(a, lookahead)

    def end_file(self) -> pa.Table:
        """Close one file: flush the held-back record, and let the next file's leading snapshot
        restate the book even though the previous file also ended inside a snapshot."""
        if self.carry is None:
            out = S.FUTURES_MBP10.arrow.empty_table()
        else:
            out = self.feed(self.carry[:0], final=True)
        self._end_snapshots()
        return out

    def _end_snapshots(self) -> None:
        """No instrument is inside a snapshot any more (the file ended)."""
        for b in self.books.values():
            b.in_snapshot = False

    def _book(self, instrument_id: int) -> InstrumentBook:
        book = self.books.get(instrument_id)
        if book is None:
            book = self.books[instrument_id] = InstrumentBook()
        return book

    def _process(self, a: np.ndarray, lookahead: int | None) -> pa.Table:
        """Apply records `a` in order; one MBP-10 row per emitting record (see the module docstring).
        `lookahead` is the flags of the record after `a` (None: none follows)."""
        n = len(a)
        rows = Mbp10Rows(n)
        actions = a["action"].astype("U1")
        sides = a["side"].astype("U1")
        flags = a["flags"].astype(np.int64)
        order_ids = a["order_id"].astype(np.uint64)
        pxs = a["price"].astype(np.int64)
        szs = a["size"].astype(np.int64)
        iids = a["instrument_id"].astype(np.int64)
        for i in range(n):
            iid = int(iids[i])
            book = self._book(iid)
            act = actions[i]
            fl = int(flags[i])
            is_snap = bool(fl & F_SNAPSHOT)
            book.begin_record(is_snap)
            book.apply(act, sides[i], int(order_ids[i]), int(pxs[i]), int(szs[i]))
            if not is_snap:
                if act == "T" or fl & F_LAST:
                    rows.emit(i, book, False)
                continue
            self.snapshot_last[iid] = a[i : i + 1].copy()  # may end in a later chunk
            nxt = int(flags[i + 1]) if i + 1 < n else lookahead
            if fl & F_LAST or nxt is None or not (nxt & F_SNAPSHOT):  # end of (a part of) a snapshot
                # One row per instrument the snapshot restated, at its last record: a parent-symbol
                # file's snapshot interleaves instruments and the front month's may not end it.
                order = sorted(self.snapshot_last.items(), key=lambda kv: int(kv[1]["sequence"][0]))
                for sid, rec in order:
                    rows.emit_record(rec, self.books[sid], True)
                self.snapshot_last.clear()
        return rows.table(a, self.symbols, self.source)


class Mbp10Rows:
    """Output buffer of `MboBook._process`: the top `BOOK_DEPTH` levels of each emitting record."""

    def __init__(self, n: int) -> None:
        depth = S.BOOK_DEPTH
        self.px = {s: np.full((n, depth), _UNDEF, dtype=np.int64) for s in ("bid", "ask")}
        self.sz = {s: np.zeros((n, depth), dtype=np.int64) for s in ("bid", "ask")}
        self.ct = {s: np.zeros((n, depth), dtype=np.int64) for s in ("bid", "ask")}
        self.rows = np.zeros(n, dtype=np.int64)
        self.snap = np.zeros(n, dtype=bool)
        self.held: list[np.ndarray] = []  # header records kept from earlier chunks
        self.k = 0
        self.level_major = False  # buffers are [rows, depth]; see `level_columns`

    def emit_record(self, record: np.ndarray, book: InstrumentBook, is_snapshot: bool) -> None:
        """Emit with the header of `record` (a 1-record array, possibly from an earlier chunk)."""
        self.held.append(record)
        self.emit(-len(self.held), book, is_snapshot)

    def emit(self, i: int, book: InstrumentBook, is_snapshot: bool) -> None:
        """Emit a row with record `i`'s header (negative: the `-i`-th held record) and `book`'s levels."""
        k = self.k
        if k == len(self.rows):  # more held rows than records: grow
            self._grow()
        for name, side in (("bid", book.bids), ("ask", book.asks)):
            for j, px in enumerate(side.top(S.BOOK_DEPTH)):
                lvl = side.levels[px]
                self.px[name][k, j], self.sz[name][k, j], self.ct[name][k, j] = px, lvl[0], lvl[1]
        self.rows[k] = i
        self.snap[k] = is_snapshot
        self.k += 1

    def _grow(self) -> None:
        extra = max(8, len(self.rows))
        for d, fill in ((self.px, _UNDEF), (self.sz, 0), (self.ct, 0)):
            for name, arr in d.items():
                d[name] = np.concatenate([arr, np.full((extra, arr.shape[1]), fill, dtype=arr.dtype)])
        self.rows = np.concatenate([self.rows, np.zeros(extra, dtype=np.int64)])
        self.snap = np.concatenate([self.snap, np.zeros(extra, dtype=bool)])

    def level_columns(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Price, size and count of side `name` (`bid`/`ask`) as `[depth, rows]` arrays whose rows
        are contiguous: sliced when the buffers are level-major already (`level_major`, the
        compiled book's layout), else transposed copies of the `[rows, depth]` buffers."""
        k = self.k
        if self.level_major:
            return self.px[name][:, :k], self.sz[name][:, :k], self.ct[name][:, :k]
        return tuple(np.ascontiguousarray(d[name][:k].T) for d in (self.px, self.sz, self.ct))  # type: ignore[return-value]

    def table(self, a: np.ndarray, symbols: dict[int, str], source: str) -> pa.Table:
        """`futures.mbp10.v2` rows: the emitting records' header fields plus the levels."""
        k = self.k
        idx = self.rows[:k]
        if self.held:
            idx = np.where(idx < 0, len(a) - 1 - idx, idx)
            a = np.concatenate([a, *self.held])
        sel = a[idx]
        cols: dict[str, pa.Array] = {
            "ts_event_ns": pa.array(sel["ts_event"].astype(np.int64)),
            "ts_recv_ns": pa.array(sel["ts_recv"].astype(np.int64)),
            "instrument_id": pa.array(sel["instrument_id"].astype(np.uint32)),
            "symbol": dbn.symbol_column(sel["instrument_id"], symbols),
            "action": dbn.chars(sel["action"]),
            "side": dbn.chars(sel["side"]),
            "depth": pa.array(np.zeros(k, dtype=np.uint8)),
            "price": dbn.prices(sel["price"]),
            "size": pa.array(sel["size"].astype(np.int64)),
            "flags": pa.array(sel["flags"].astype(np.uint8)),
            "sequence": pa.array(sel["sequence"].astype(np.uint32)),
            "is_snapshot": pa.array(self.snap[:k]),
            "is_preopen": pa.array(preopen_mask(sel["ts_event"].astype(np.int64))),
            "source": dbn.repeat_string(source, k),
        }
        for name in ("bid", "ask"):
            px, sz, ct = self.level_columns(name)
            for j in range(S.BOOK_DEPTH):
                cols[f"{name}_px_{j:02d}"] = dbn.prices(px[j])
                cols[f"{name}_sz_{j:02d}"] = pa.array(sz[j].astype(np.uint32, copy=False))
                cols[f"{name}_ct_{j:02d}"] = pa.array(ct[j].astype(np.uint32, copy=False))
        return pa.table({f.name: cols[f.name] for f in S.FUTURES_MBP10.arrow}, schema=S.FUTURES_MBP10.arrow)


def new_book(
    symbols: dict[int, str] | None = None, source: str = "mbo_book", compiled: bool = True
) -> MboBook:
    """A book to `feed`: the compiled one (`mbo_book_compiled.CompiledMboBook`, the default) or this
    module's reference book (`compiled=False`; pure Python, what the compiled one is tested against)."""
    if not compiled:
        return MboBook(symbols, source)
    from spymaster_core.bronze.mbo_book_compiled import CompiledMboBook  # it subclasses MboBook

    return CompiledMboBook(symbols, source)


def mbo_to_mbp10(
    path_or_store: str | Path | db.DBNStore | list[Path], source: str = "mbo_book", compiled: bool = True
) -> pa.Table:
    """Replay MBO records through a per-instrument order book and return `futures.mbp10.v2` rows.

    Input: a path to an MBO DBN file, an open `DBNStore` with schema mbo, or a list of paths replayed
    in that order through one book (as `iter_mbo_to_mbp10` and Bronze do). A snapshot restates the
    whole book: the book is cleared when one starts.
    Output columns: see `spymaster_core.schemas.FUTURES_MBP10`; prices in points, sizes in contracts;
    `is_snapshot` marks the row closing a snapshot; `is_preopen` marks rows before the Globex open.
    `compiled` picks the book (see `new_book`); both give the same rows.
    Raises `DBNReadError` for unreadable files and ValueError for a non-MBO file.
    """
    if isinstance(path_or_store, list):
        return pa.concat_tables(
            [
                S.FUTURES_MBP10.arrow.empty_table(),
                *iter_mbo_to_mbp10(path_or_store, source=source, compiled=compiled),
            ]
        )
    a, symbols = _load(path_or_store)
    return new_book(symbols, source, compiled).feed(a, final=True)


def iter_mbo_to_mbp10(
    files: list[Path], chunk_records: int = 500_000, source: str = "mbo_book", compiled: bool = True
) -> Iterator[pa.Table]:
    """Streaming `mbo_to_mbp10` over files taken in order (one book across them), yielding one
    MBP-10 table per input chunk: memory is bounded by the chunk and the live book."""
    book = new_book(source=source, compiled=compiled)
    for f in files:
        for schema, a, symbols in dbn.iter_chunks(f, chunk_records):
            if schema != "mbo":
                raise ValueError(f"{f}: schema is {schema}, expected mbo")
            book.symbols |= symbols
            yield book.feed(a)
        yield book.end_file()


def preopen_mask(ts_event_ns: np.ndarray) -> np.ndarray:
    """True where an event falls in the pre-open auction of its trading date: before the Globex open,
    or at the open instant itself, where the auction uncross prints (the opening trade arrives
    before the `C`/`M` records that take the matched orders out of the still-crossed book)."""
    if len(ts_event_ns) == 0:
        return np.zeros(0, dtype=bool)
    dates = calendar.trading_date_of(ts_event_ns)
    opens = {d: calendar.session_bounds_ns(d)[0] for d in set(dates.tolist())}
    open_ns = np.array([opens[d] for d in dates], dtype=np.int64)
    return ts_event_ns <= open_ns
