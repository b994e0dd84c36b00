"""One side of a price book: price levels (int64 1e-9 price -> resting size and order count)."""

from __future__ import annotations

import bisect


class BookSide:
    """Bids or asks of one instrument: price (int64, 1e-9 units) -> `[size, order_count]` in
    contracts, prices kept sorted so the best `n` levels are a slice."""

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, list[int]] = {}
        self.prices: list[int] = []  # ascending

    def add(self, px: int, size: int) -> None:
        """One more order of `size` contracts resting at `px`."""
        lvl = self.levels.get(px)
        if lvl is None:
            self.levels[px] = [size, 1]
            bisect.insort(self.prices, px)
        else:
            lvl[0] += size
            lvl[1] += 1

    def remove(self, px: int, size: int, whole_order: bool) -> None:
        """Take `size` contracts off `px`; `whole_order` also takes one order off the count. A level
        left with no size or no order is deleted; an unknown price is ignored."""
        lvl = self.levels.get(px)
        if lvl is None:
            return
        lvl[0] -= size
        if whole_order:
            lvl[1] -= 1
        if lvl[0] <= 0 or lvl[1] <= 0:
            del self.levels[px]
            self.prices.pop(bisect.bisect_left(self.prices, px))

    def top(self, n: int) -> list[int]:
        """The best `n` prices, best first (highest bid, lowest ask)."""
        return self.prices[-1 : -n - 1 : -1] if self.is_bid else self.prices[:n]

    def clear(self) -> None:
        self.levels.clear()
        self.prices.clear()
