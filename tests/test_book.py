"""Book from MBO on the real ESH4 2023-12-25 day (DBN v1)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from spymaster_core.bronze.mbo_book import mbo_to_mbp10
from tests.conftest import MBO_DAY


@pytest.fixture(scope="module")
def book(samples) -> pl.DataFrame:
    return pl.from_arrow(mbo_to_mbp10(MBO_DAY))


def test_row_count_and_actions(book: pl.DataFrame) -> None:
    # 8,725 snapshot adds close in one row; then one row per F_LAST event plus one per T record.
    counts = dict(book.group_by("action").len().iter_rows())
    assert counts["T"] == 2973
    assert book.height == 49_996
    assert book.filter(pl.col("is_snapshot")).height == 1


def test_never_crossed_once_open(book: pl.DataFrame) -> None:
    open_book = book.filter(
        ~pl.col("is_preopen") & pl.col("bid_px_00").is_not_null() & pl.col("ask_px_00").is_not_null()
    )
    assert open_book.height > 40_000
    assert open_book.filter(pl.col("bid_px_00") >= pl.col("ask_px_00")).height == 0


def test_preopen_crossings_are_flagged_not_fixed(book: pl.DataFrame) -> None:
    crossed = book.filter(pl.col("bid_px_00") >= pl.col("ask_px_00"))
    assert crossed.height > 100
    assert crossed["is_preopen"].all()
    ts = crossed["ts_event_ns"]
    assert ts.min() >= 1703543940_000_000_000  # 2023-12-25 22:39 UTC
    assert ts.max() <= 1703545200_000_000_000  # 23:00 UTC, the Globex open


def test_trades_never_change_depth(book: pl.DataFrame) -> None:
    cols = [f"{s}_{k}_{i:02d}" for s in ("bid", "ask") for k in ("px", "sz") for i in range(10)]
    m = book.select(cols).fill_null(-1.0).to_numpy()
    is_t = (book["action"] == "T").to_numpy()
    idx = np.flatnonzero(is_t)
    idx = idx[idx > 0]
    assert (m[idx] == m[idx - 1]).all()


def test_top_of_book_after_open_matches_trades(book: pl.DataFrame) -> None:
    trades = book.filter((pl.col("action") == "T") & ~pl.col("is_preopen") & (pl.col("side") == "B"))
    # A buy aggressor trades at or above the best bid and at or below the best ask it hit.
    assert (trades["price"] >= trades["bid_px_00"]).all()
    assert (trades["price"] <= trades["ask_px_00"] + 0.25 * 4).mean() > 0.95


def test_streaming_book_equals_one_shot(book: pl.DataFrame) -> None:
    """Chunked replay (chunk boundaries inside the 8,725-record snapshot and everywhere else) gives
    the same MBP-10 rows as the one-shot rebuild."""
    import pyarrow as pa

    from spymaster_core.bronze.mbo_book import iter_mbo_to_mbp10

    streamed = pl.from_arrow(pa.concat_tables(list(iter_mbo_to_mbp10([MBO_DAY], chunk_records=997))))
    assert streamed.equals(book)


def test_list_of_files_replays_in_order_through_one_book(samples, book: pl.DataFrame) -> None:
    """The 2023-12-24 snapshot file, then the 2023-12-25 day (which starts with its own snapshot):
    one extra snapshot row, then exactly the day's rows (the second snapshot restates the book)."""
    snap = MBO_DAY.with_name("esh4-glbx-mdp3-20231224.mbo.dbn.zst")
    both = pl.from_arrow(mbo_to_mbp10([snap, MBO_DAY]))
    assert both.height == book.height + 1
    assert both.slice(1).equals(book)
