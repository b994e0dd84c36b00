"""The order book of one instrument, updated by MBO actions (delta application)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spymaster_core.bronze.book_side import BookSide


@dataclass
class RestingOrder:
    """An order resting in the book: side `B`/`A`, price (int64 1e-9), size (contracts)."""

    side: str
    price: int
    size: int


@dataclass
class InstrumentBook:
    """Orders and price levels of one instrument, and its own snapshot state.

    Each instrument owns `in_snapshot` (whether its previous record was part of a snapshot), so an
    `ES.FUT` parent file whose snapshot interleaves many instruments clears each instrument's book
    exactly once, at that instrument's first snapshot record (Databento MBO docs:
    https://databento.com/docs/schemas-and-data-formats/mbo).
    """

    bids: BookSide = field(default_factory=lambda: BookSide(True))
    asks: BookSide = field(default_factory=lambda: BookSide(False))
    orders: dict[int, RestingOrder] = field(default_factory=dict)
    in_snapshot: bool = False

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.orders.clear()

    def begin_record(self, is_snapshot: bool) -> None:
        """Called before each record of this instrument: a snapshot restates the whole book, so the
        book is cleared when one starts."""
        if is_snapshot and not self.in_snapshot:
            self.clear()
        self.in_snapshot = is_snapshot

    def _side(self, side: str) -> BookSide:
        return self.bids if side == "B" else self.asks

    def add(self, order_id: int, side: str, px: int, size: int) -> None:
        """`A`: a new order. An `order_id` already resting is replaced, not counted twice."""
        if side not in ("B", "A"):
            return
        if order_id in self.orders:
            self._drop(order_id)
        self._side(side).add(px, size)
        self.orders[order_id] = RestingOrder(side, px, size)

    def cancel(self, order_id: int, size: int) -> None:
        """`C`: take `size` contracts off an order (all of it removes the order); unknown ids ignored."""
        o = self.orders.get(order_id)
        if o is None:
            return
        take = min(size, o.size)
        o.size -= take
        self._side(o.side).remove(o.price, take, whole_order=o.size <= 0)
        if o.size <= 0:
            del self.orders[order_id]

    def modify(self, order_id: int, side: str, px: int, size: int) -> None:
        """`M`: new price and/or size for an order (an unknown order is an add)."""
        if order_id in self.orders:
            self._drop(order_id)
        self.add(order_id, side, px, size)

    def _drop(self, order_id: int) -> None:
        o = self.orders.pop(order_id)
        self._side(o.side).remove(o.price, o.size, whole_order=True)

    def apply(self, action: str, side: str, order_id: int, px: int, size: int) -> None:
        """Apply one MBO action. `T` (trade) and `F` (fill) never change depth (the size leaves in
        the following `C`/`M`); `N` does nothing; `R` clears the book."""
        if action == "A":
            self.add(order_id, side, px, size)
        elif action == "C":
            self.cancel(order_id, size)
        elif action == "M":
            self.modify(order_id, side, px, size)
        elif action == "R":
            self.clear()
