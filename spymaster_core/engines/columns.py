"""Append-only column store with time-based eviction: the engines' window buffers.

Batch replay and the live core both keep their event history in `Columns`: arrays appended in
time order, trimmed to a horizon behind the newest event (always keeping the last row before the
cut, so "the state as of t" exists for every t in the horizon). Views are contiguous numpy
slices; appends are amortised O(1) (the buffer doubles, evicted rows are dropped on growth).
"""

from __future__ import annotations

import numpy as np


class Columns:
    """Named numpy columns sharing a row count; column `ts` (int64 ns) orders the rows.

    `spec`: name -> (dtype, trailing shape), e.g. {"ts": (np.int64, ()), "bid_px": (np.float64, (10,))}.
    """

    def __init__(self, spec: dict[str, tuple[type, tuple[int, ...]]], capacity: int = 1024) -> None:
        if "ts" not in spec:
            raise ValueError("Columns needs a 'ts' column")
        self.spec = spec
        self.start = 0
        self.stop = 0
        self.dropped = 0  # rows evicted so far: view row i is row dropped + i of all ever appended
        self.data = {k: np.empty((capacity, *shape), dtype) for k, (dtype, shape) in spec.items()}

    def __len__(self) -> int:
        return self.stop - self.start

    def append(self, cols: dict[str, np.ndarray]) -> None:
        """Append rows (every column, equal lengths, ts non-decreasing and >= the last ts)."""
        m = len(cols["ts"])
        if m == 0:
            return
        cap = len(self.data["ts"])
        if self.stop + m > cap:
            n = self.stop - self.start
            new_cap = max(2 * (n + m), 1024)
            for k, (dtype, shape) in self.spec.items():
                buf = np.empty((new_cap, *shape), dtype)
                buf[:n] = self.data[k][self.start : self.stop]
                self.data[k] = buf
            self.start, self.stop = 0, n
        for k in self.spec:
            self.data[k][self.stop : self.stop + m] = cols[k]
        self.stop += m

    def evict_before(self, cutoff_ns: int) -> None:
        """Drop rows older than cutoff_ns, keeping the last row before it."""
        ts = self.view("ts")
        keep_from = int(np.searchsorted(ts, cutoff_ns, side="left")) - 1
        if keep_from > 0:
            self.start += keep_from
            self.dropped += keep_from

    def view(self, name: str) -> np.ndarray:
        """The live rows of column `name` (a view: valid until the next append)."""
        return self.data[name][self.start : self.stop]

    def last_before(self, t_ns: int) -> int:
        """Index (into views) of the last row with ts < t_ns; -1 when none."""
        return int(self.view("ts").searchsorted(t_ns, side="left")) - 1

    def row(self, i: int, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        """Row i (an index into views) of the named columns (views of that row's values)."""
        j = self.start + i
        return tuple(self.data[k][j] for k in names)
