"""The compiled MBO book: `MboBook`'s behaviour (chunks, held-back record, snapshots spanning chunks
and files, one row per restated instrument at a snapshot's end) with the per-record loop in numba
(`mbo_kernel.process`). Equal to the reference book at every row and column (tests/test_book.py);
several times faster (benchmarks/bench_book.py).
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from spymaster_core import schemas as S
from spymaster_core.bronze import mbo_kernel as K
from spymaster_core.bronze.mbo_book import F_LAST, F_SNAPSHOT, MboBook, Mbp10Rows
from spymaster_core.io import dbn

_INIT_INSTRUMENTS, _INIT_LEVELS, _INIT_ORDERS = 8, 64, 1 << 16


class CompiledMboBook(MboBook):
    """`MboBook` with its state in flat arrays and its loop compiled; same `feed` / `end_file`.

    State: dense instrument index per instrument_id (`dense`), price levels `[2 * instruments,
    levels]` (grown by doubling when a book is full), order slots (doubled when used up) behind an
    (instrument, order_id) dict, and per instrument whether its previous record was in a snapshot.
    """

    def __init__(
        self,
        symbols: dict[int, str] | None = None,
        source: str = "mbo_book",
        capacity: tuple[int, int, int] = (_INIT_INSTRUMENTS, _INIT_LEVELS, _INIT_ORDERS),
    ) -> None:
        """`capacity`: the starting (instruments, price levels per book, order slots); each doubles
        when full, so it only matters for speed (tests start at 1 to exercise every growth path)."""
        super().__init__(symbols, source)
        n_inst, n_levels, n_orders = capacity
        self.dense: dict[int, int] = {}
        self.in_snap = np.zeros(n_inst, dtype=np.bool_)
        self.snap_idx = np.full(n_inst, -1, dtype=np.int64)
        self.lv_px = np.zeros((2 * n_inst, n_levels), dtype=np.int64)
        self.lv_sz = np.zeros_like(self.lv_px)
        self.lv_ct = np.zeros_like(self.lv_px)
        self.lv_n = np.zeros(2 * n_inst, dtype=np.int64)
        self.orders = K.new_order_index()
        self.o_px = np.zeros(n_orders, dtype=np.int64)
        self.o_sz = np.zeros(n_orders, dtype=np.int64)
        self.o_side = np.zeros(n_orders, dtype=np.int64)
        self.free = np.arange(n_orders - 1, -1, -1, dtype=np.int64)
        self.n_free = n_orders
        # instrument -> its last snapshot record (a copy) from an earlier chunk
        self.pending: dict[int, np.ndarray] = {}
        self.kernel_s = 0.0  # wall seconds inside the compiled loop (what benchmarks/bench_book.py reports)

    # -- state growth -------------------------------------------------------------------------
    def _dense_of(self, iids: np.ndarray) -> np.ndarray:
        if len(iids) and iids.min() == iids.max():  # one instrument (a front-month file): no sort
            uniq, inv = iids[:1], np.zeros(len(iids), dtype=np.int64)
        else:
            uniq, inv = np.unique(iids, return_inverse=True)
        for iid in uniq.tolist():
            if iid not in self.dense:
                self.dense[iid] = len(self.dense)
        need = len(self.dense)
        if need > len(self.in_snap):
            self._grow_instruments(max(need, 2 * len(self.in_snap)))
        return np.array([self.dense[i] for i in uniq.tolist()], dtype=np.int64)[inv.reshape(-1)]

    def _grow_instruments(self, n: int) -> None:
        extra = n - len(self.in_snap)
        self.in_snap = np.concatenate([self.in_snap, np.zeros(extra, dtype=np.bool_)])
        self.snap_idx = np.concatenate([self.snap_idx, np.full(extra, -1, dtype=np.int64)])
        pad = np.zeros((2 * extra, self.lv_px.shape[1]), dtype=np.int64)
        self.lv_px, self.lv_sz, self.lv_ct = (
            np.concatenate([x, pad]) for x in (self.lv_px, self.lv_sz, self.lv_ct)
        )
        self.lv_n = np.concatenate([self.lv_n, np.zeros(2 * extra, dtype=np.int64)])

    def _grow_levels(self) -> None:
        pad = np.zeros_like(self.lv_px)
        self.lv_px, self.lv_sz, self.lv_ct = (
            np.concatenate([x, pad], axis=1) for x in (self.lv_px, self.lv_sz, self.lv_ct)
        )

    def _grow_orders(self) -> None:
        n = len(self.o_px)
        self.o_px, self.o_sz, self.o_side = (np.concatenate([x, np.zeros(n, dtype=np.int64)])
                                             for x in (self.o_px, self.o_sz, self.o_side))  # fmt: skip
        free = np.zeros(2 * n, dtype=np.int64)
        free[: self.n_free] = self.free[: self.n_free]
        free[self.n_free : self.n_free + n] = np.arange(n, 2 * n, dtype=np.int64)
        self.free, self.n_free = free, self.n_free + n

    # -- the loop -----------------------------------------------------------------------------
    def _process(self, a: np.ndarray, lookahead: int | None) -> pa.Table:
        n = len(a)
        rows = Mbp10Rows(0)
        # level-major ([side, level, row]): each output column is one contiguous row of these
        # sized for a fraction of the records (a busy MBO stream emits a row for few of them); grown
        # by doubling when the kernel fills them
        cap = min(n, 1 << 16) + 8
        out_px = np.full((2, S.BOOK_DEPTH, cap), dbn.UNDEF_PRICE, dtype=np.int64)
        out_sz = np.zeros((2, S.BOOK_DEPTH, cap), dtype=np.uint32)
        out_ct = np.zeros_like(out_sz)
        out_row = np.zeros(cap, dtype=np.int64)
        out_snap = np.zeros(cap, dtype=np.bool_)
        cols = (  # strided views of the records, no copies
            a["action"].view(np.uint8),
            a["side"].view(np.uint8),
            a["flags"],
            a["order_id"].view(np.int64),
            a["price"],
            a["size"],
            self._dense_of(a["instrument_id"]) if n else np.zeros(0, dtype=np.int64),
        )
        look = -1 if lookahead is None else int(lookahead)
        i, k, held = 0, 0, []
        while True:
            t0 = time.perf_counter()
            status, i, self.n_free, k = K.process(
                i, *cols, F_LAST, F_SNAPSHOT, look, self.in_snap, self.snap_idx, self.orders, self.o_px,
                self.o_sz, self.o_side, self.free, self.n_free, self.lv_px, self.lv_sz, self.lv_ct, self.lv_n,
                out_px, out_sz, out_ct, out_row, out_snap, k,
            )  # fmt: skip
            self.kernel_s += time.perf_counter() - t0
            if status == K.DONE:
                break
            if status == K.GROW_LEVELS:
                self._grow_levels()
            elif status == K.GROW_ORDERS:
                self._grow_orders()
            elif status == K.GROW_ROWS:
                out_px, out_sz, out_ct, out_row, out_snap = _grown(
                    2 * len(out_row), out_px, out_sz, out_ct, out_row, out_snap
                )
            else:  # SNAPSHOT_END at record i: one row per restated instrument, by sequence
                restated = self._take_snapshot_records(a)
                need = k + len(restated)
                if need > len(out_row):
                    out_px, out_sz, out_ct, out_row, out_snap = _grown(
                        max(need, 2 * len(out_row)), out_px, out_sz, out_ct, out_row, out_snap
                    )
                for inst, rec in sorted(restated.items(), key=lambda kv: int(kv[1]["sequence"][0])):
                    held.append(rec)
                    K.write_levels(
                        inst, k, self.lv_px, self.lv_sz, self.lv_ct, self.lv_n, out_px, out_sz, out_ct
                    )
                    out_row[k], out_snap[k] = -len(held), True
                    k += 1
                i += 1
        self.pending.update(self._chunk_snapshot_records(a))  # a snapshot goes on in the next chunk
        rows.level_major = True
        rows.px = {"bid": out_px[0], "ask": out_px[1]}
        rows.sz = {"bid": out_sz[0], "ask": out_sz[1]}
        rows.ct = {"bid": out_ct[0], "ask": out_ct[1]}
        rows.rows, rows.snap, rows.held, rows.k = out_row, out_snap, held, k
        return rows.table(a, self.symbols, self.source)

    def _take_snapshot_records(self, a: np.ndarray) -> dict[int, np.ndarray]:
        """Every instrument's last record of the snapshot that just ended (this chunk's or an earlier
        chunk's), and reset that state."""
        out = {**self.pending, **self._chunk_snapshot_records(a)}
        self.pending.clear()
        return out

    def _chunk_snapshot_records(self, a: np.ndarray) -> dict[int, np.ndarray]:
        """Each instrument's last snapshot record in chunk `a` (copies, `snap_idx` reset to -1)."""
        out = {}
        for inst in np.flatnonzero(self.snap_idx >= 0).tolist():
            out[inst] = a[self.snap_idx[inst] : self.snap_idx[inst] + 1].copy()
            self.snap_idx[inst] = -1
        return out

    def _end_snapshots(self) -> None:
        self.in_snap[:] = False


def _grown(n: int, out_px: np.ndarray, out_sz: np.ndarray, out_ct: np.ndarray, out_row: np.ndarray,
           out_snap: np.ndarray) -> tuple[np.ndarray, ...]:  # fmt: skip
    """The output arrays extended to `n` rows (new prices undefined, the rest zero)."""

    def wider(x: np.ndarray, fill: int) -> np.ndarray:
        return np.concatenate([x, np.full((*x.shape[:-1], n - x.shape[-1]), fill, dtype=x.dtype)], axis=-1)

    return (
        wider(out_px, dbn.UNDEF_PRICE),
        wider(out_sz, 0),
        wider(out_ct, 0),
        wider(out_row, 0),
        wider(out_snap, 0),
    )
