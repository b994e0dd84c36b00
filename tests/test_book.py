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


def _mbo_records(rows: list[tuple[int, int, int, str, str, int, int, int]]):
    """MBO records (ts_event_ns, instrument_id, order_id, action, side, price_pt, size, flags)."""
    from spymaster_core.sim.writer import empty_records

    a = empty_records("mbo", len(rows))
    for i, (ts, iid, oid, act, side, px, sz, fl) in enumerate(rows):
        a[i]["ts_event"] = ts
        a[i]["ts_recv"] = ts + 1000
        a[i]["instrument_id"] = iid
        a[i]["order_id"] = oid
        a[i]["action"] = act.encode()
        a[i]["side"] = side.encode()
        a[i]["price"] = int(px * 1e9)
        a[i]["size"] = sz
        a[i]["flags"] = fl
        a[i]["sequence"] = i
    return a


def _last_level(book: pl.DataFrame, symbol: str, side: str) -> tuple[float, int, int]:
    row = book.filter(pl.col("symbol") == symbol).row(-1, named=True)
    return row[f"{side}_px_00"], row[f"{side}_sz_00"], row[f"{side}_ct_00"]


def test_two_instruments_each_snapshot_restates_only_its_own_book(tmp_path) -> None:
    """A parent (ES.FUT) MBO file carries many instruments. Day file: ESZ6 rests two 7-lots at
    6000.00 bid, ESH7 one 5-lot at 6010.00 ask. The next file opens with a snapshot that interleaves
    the instruments (ESH7 first): each book is restated once, so ESZ6 ends with the one 7-lot the
    snapshot holds, not 14 / 2 orders (the shared snapshot flag of the old book left ESZ6 stale)."""
    import datetime as dt

    import pyarrow as pa
    from databento_dbn import F_LAST, F_SNAPSHOT

    from spymaster_core.bronze.mbo_book import iter_mbo_to_mbp10
    from spymaster_core.sim.writer import write_records

    ts = 1_795_000_000_000_000_000  # 2026-11-18 ~ 21:46 UTC: after the close, before the next open
    symbols = {"ESZ6": 1, "ESH7": 2}
    day = _mbo_records(
        [
            (ts, 1, 101, "A", "B", 6000.0, 7, F_LAST),
            (ts + 1, 1, 102, "A", "B", 6000.0, 7, F_LAST),
            (ts + 2, 2, 201, "A", "A", 6010.0, 5, F_LAST),
        ]
    )
    snap = _mbo_records(
        [
            (ts + 10, 2, 0, "R", "N", 0.0, 0, F_SNAPSHOT),
            (ts + 10, 2, 202, "A", "A", 6010.0, 3, F_SNAPSHOT),
            (ts + 10, 1, 0, "R", "N", 0.0, 0, F_SNAPSHOT),
            (ts + 10, 1, 103, "A", "B", 6000.0, 7, F_SNAPSHOT | F_LAST),
        ]
    )
    # Without the clear records: the snapshot alone must restate each book.
    snap_no_clear = snap[[1, 3]]
    date = dt.date(2026, 11, 18)
    f_day = write_records(tmp_path / "a_day.mbo.dbn.zst", "mbo", day, symbols, date)
    for name, records in (("b_snap", snap), ("b_snap_no_clear", snap_no_clear)):
        f_snap = write_records(tmp_path / f"{name}.mbo.dbn.zst", "mbo", records, symbols, date)
        out = pl.from_arrow(mbo_to_mbp10([f_day, f_snap]))
        chunked = pl.from_arrow(pa.concat_tables(list(iter_mbo_to_mbp10([f_day, f_snap], chunk_records=1))))
        assert chunked.equals(out), name  # a snapshot spanning chunks emits the same rows
        assert out.filter(pl.col("is_snapshot")).height == 2  # one row per restated instrument
        assert _last_level(out, "ESZ6", "bid") == (6000.0, 7, 1), name
        assert _last_level(out, "ESH7", "ask") == (6010.0, 3, 1), name


def test_re_added_order_id_replaces_the_order(tmp_path) -> None:
    """An `A` for an order_id already resting replaces it (vendor replays, snapshot overlap): the
    level holds the order once (7 / 1), not twice (14 / 2)."""
    import datetime as dt

    from databento_dbn import F_LAST

    from spymaster_core.sim.writer import write_records

    ts = 1_795_000_000_000_000_000
    recs = _mbo_records(
        [
            (ts, 1, 101, "A", "B", 6000.0, 7, F_LAST),
            (ts + 1, 1, 101, "A", "B", 6000.0, 7, F_LAST),
            (ts + 2, 1, 102, "A", "B", 5999.75, 4, F_LAST),
            (ts + 3, 1, 102, "A", "B", 5999.50, 4, F_LAST),  # re-added at another price: moves
        ]
    )
    f = write_records(tmp_path / "re_add.mbo.dbn.zst", "mbo", recs, {"ESZ6": 1}, dt.date(2026, 11, 18))
    out = pl.from_arrow(mbo_to_mbp10(f)).row(-1, named=True)
    assert (out["bid_px_00"], out["bid_sz_00"], out["bid_ct_00"]) == (6000.0, 7, 1)
    assert (out["bid_px_01"], out["bid_sz_01"], out["bid_ct_01"]) == (5999.5, 4, 1)
