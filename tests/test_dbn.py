"""Every real DBN sample decodes into typed tables; bad files give one clear error."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from spymaster_core import schemas as S
from spymaster_core.io import dbn

KIND_SCHEMA = {
    "trades": S.FUTURES_TRADES,
    "mbp10": S.FUTURES_MBP10,
    "mbo": S.FUTURES_MBO,
    "bbo": S.BBO,
    "definitions": S.DEFINITIONS,
    "statistics": S.STATISTICS,
    "status": S.STATUS,
    "ohlcv": S.OHLCV,
}


def test_every_sample_file_decodes(samples: Path) -> None:
    files = list(dbn.iter_dbn_files(samples))
    assert len(files) >= 70
    versions = set()
    for f in files:
        dec = dbn.decode_file(f)
        versions.add(dec.version)
        assert dec.tables, f"{f} decoded to nothing"
        assert sum(t.num_rows for t in dec.tables.values()) > 0, f
        for kind, table in dec.tables.items():
            assert table.schema.equals(KIND_SCHEMA[kind].arrow), (f, kind)
    assert versions == {1, 2, 3}


def test_prices_are_points_and_timestamps_ns(samples: Path) -> None:
    f = samples / "databento-python/tests/data/GLBX.MDP3/test_data.mbp-10.dbn.zst"
    t = dbn.decode_file(f).tables["mbp10"]
    bid = t.column("bid_px_00").to_pylist()
    assert all(3_600 < p < 3_800 for p in bid)  # ESH1 near 3,700 points in Dec 2020
    ts = t.column("ts_event_ns").to_pylist()
    assert all(1_609_000_000 * 10**9 < x < 1_609_300_000 * 10**9 for x in ts)


@pytest.mark.parametrize("schema", ["bbo-1s", "bbo-1m"])
def test_sampled_bbo_is_stamped_at_the_interval_end(samples: Path, schema: str) -> None:
    """Databento's bbo-1s/1m records carry the last trade's time in `ts_event` (before the quote's
    interval); Bronze's `ts_event_ns` is the interval end (`ts_recv`), on whole seconds/minutes."""
    f = samples / f"dbn/tests/data/test_data.{schema}.v3.dbn.zst"
    raw = dbn.store_records(dbn.open_store(f), f)
    assert (raw["ts_event"] < raw["ts_recv"]).all()  # the sample's last trades precede the interval end
    t = dbn.decode_file(f).tables["bbo"].to_pydict()
    step = 10**9 if schema == "bbo-1s" else 60 * 10**9
    assert t["ts_event_ns"] == t["ts_recv_ns"] == [int(x) for x in raw["ts_recv"]]
    assert all(x % step == 0 for x in t["ts_event_ns"]) and t["bid_px"][0] == 3702.25


def test_trade_aggressor_from_side(samples: Path) -> None:
    f = (
        samples
        / "nautilus_trader/tests/test_data/databento/historical_bars_catalog/databento/futures_trades_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"
    )
    t = dbn.decode_file(f).tables["trades"].to_pydict()
    assert len(t["price"]) == 120 and sum(t["size"]) == 253
    for side, agg in zip(t["side"], t["aggressor"], strict=True):
        assert agg == {"B": 1, "A": -1, "N": 0}[side]
    assert set(t["symbol"]) == {"ESU4"}


def test_mixed_live_file_is_split_by_record_type(samples: Path) -> None:
    dec = dbn.decode_file(samples / "databento-python/tests/data/LIVE/test_data.live.dbn.zst")
    assert dec.schema is None
    assert dec.tables["mbo"].num_rows == 5 and dec.tables["statistics"].num_rows == 9
    assert dec.skipped


def test_unsupported_schema_is_skipped_not_crashed(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(schema, *a, **k):
        raise KeyError(schema)

    monkeypatch.setattr(dbn, "normalise_records", refuse)
    dec = dbn.decode_file(samples / "databento-python/tests/data/GLBX.MDP3/test_data.status.dbn.zst")
    assert dec.tables == {} and dec.skipped[0][0] == "status"


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "empty.dbn.zst"
    f.write_bytes(b"")
    with pytest.raises(dbn.DBNReadError, match=r"empty\.dbn\.zst: file is empty"):
        dbn.decode_file(f)


def test_truncated_file_is_a_clear_error(samples: Path, tmp_path: Path) -> None:
    src = samples / "databento-python/tests/data/GLBX.MDP3/test_data.mbp-10.dbn.zst"
    raw = __import__("zstandard").ZstdDecompressor().decompress(src.read_bytes(), max_output_size=10**7)
    f = tmp_path / "truncated.mbp-10.dbn"
    f.write_bytes(raw[: len(raw) - 100])  # cut inside the last record
    with pytest.raises(dbn.DBNReadError, match="truncated.mbp-10.dbn"):
        dbn.decode_file(f)


def test_not_dbn_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "junk.dbn"
    f.write_bytes(b"this is not DBN at all")
    with pytest.raises(dbn.DBNReadError, match="junk.dbn"):
        dbn.decode_file(f)


def test_symbols_from_metadata(samples: Path) -> None:
    store = dbn.open_store(
        samples / "nautilus_trader/tests/test_data/databento/esh4-glbx-mdp3-20231225.mbo.dbn.zst"
    )
    assert dbn.instrument_symbols(store) == {17077: "ESH4"}
    assert isinstance(dbn.prices(__import__("numpy").array([dbn.UNDEF_PRICE])), pa.Array)


def test_mbp10_kernel_matches_named_fields(samples: Path) -> None:
    """The compiled one-pass MBP-10 decoder equals plain per-field access, for v1 and v3 files,
    including UNDEF prices (null), the pre-open flag and a non-zero start in reused buffers."""
    import numpy as np

    from spymaster_core.io.dbn_kernels import Mbp10Columns

    buffers = Mbp10Columns(5000)
    for rel in (
        "dbn/tests/data/test_data.mbp-10.v1.dbn.zst",
        "databento-python/tests/data/GLBX.MDP3/test_data.mbp-10.dbn.zst",
    ):
        a = dbn.store_records(dbn.open_store(samples / rel), samples / rel)
        until = int(a["ts_event"][len(a) // 2])
        t = dbn.mbp10_table(a, {}, "x", preopen_until_ns=until, buffers=buffers)
        assert t.schema == dbn.S.FUTURES_MBP10.arrow
        for j in range(10):
            for side in ("bid", "ask"):
                raw = a[f"{side}_px_{j:02d}"]
                want = [None if v == dbn.UNDEF_PRICE else v / 1e9 for v in raw.tolist()]
                assert t.column(f"{side}_px_{j:02d}").to_pylist() == want
            for name in ("bid_sz", "ask_sz", "bid_ct", "ask_ct"):
                assert t.column(f"{name}_{j:02d}").to_pylist() == a[f"{name}_{j:02d}"].tolist()
        assert t.column("ts_event_ns").to_pylist() == a["ts_event"].astype(np.int64).tolist()
        assert t.column("sequence").to_pylist() == a["sequence"].tolist()
        assert t.column("action").to_pylist() == [c.decode() for c in a["action"].tolist()]
        assert t.column("is_preopen").to_pylist() == (a["ts_event"] <= until).tolist()
        assert t.column("is_snapshot").to_pylist() == ((a["flags"] & 32) != 0).tolist()
    # Empty levels (UNDEF_PRICE) come out null, never NaN or 9.2e9; the samples have none, so plant them.
    b = a.copy()
    b["ask_px_09"][0] = dbn.UNDEF_PRICE
    b["price"][1] = dbn.UNDEF_PRICE
    t = dbn.mbp10_table(b, {}, "x", buffers=buffers)
    assert t.column("ask_px_09").to_pylist()[:2] == [None, b["ask_px_09"][1] / 1e9]
    assert t.column("price").to_pylist()[:2] == [b["price"][0] / 1e9, None]
    assert t.column("bid_px_09").null_count == 0 and not any(t.column("is_preopen").to_pylist())


def test_streamed_chunks_equal_databento(samples: Path) -> None:
    """The fast fixed-layout reader gives byte-identical records to DBNStore.to_ndarray for every
    trades/mbp-1/tbbo/mbp-10/mbo sample (DBN v1-v3, zstd and plain), across chunk boundaries."""
    import numpy as np

    checked = 0
    for f in dbn.iter_dbn_files(samples):
        store = dbn.open_store(f)
        if store.schema is None or str(store.schema) not in dbn._FIXED_LAYOUT:
            continue
        ref = np.asarray(store.to_ndarray())
        parts = [a.copy() for _, a, _ in dbn.iter_chunks(f, 3)]
        got = np.concatenate(parts) if parts else np.zeros(0, ref.dtype)
        assert got.dtype == ref.dtype and got.tobytes() == ref.tobytes(), f
        checked += 1
    assert checked >= 30


def test_streamed_chunk_stays_valid_while_the_next_is_used_and_early_stop_is_safe(samples: Path) -> None:
    """The read-ahead thread fills the next-but-one buffer, never the one the caller still holds,
    and breaking off mid-file waits for the read in flight before the decompressor closes (this
    crashed the interpreter before the wait moved inside the reader's scope)."""
    import gc

    f = samples / "nautilus_trader/tests/test_data/databento/esh4-glbx-mdp3-20231225.mbo.dbn.zst"
    ref = [a.copy() for _, a, _ in dbn.iter_chunks(f, 1000)]
    assert len(ref) > 5
    it = dbn.iter_chunks(f, 1000)
    prev = next(it)[1]
    for k in range(1, 5):
        cur = next(it)[1]
        assert prev.tobytes() == ref[k - 1].tobytes() and cur.tobytes() == ref[k].tobytes()
        prev = cur
    it.close()  # stop early, with a read in flight
    for _ in range(20):
        for _chunk in dbn.iter_chunks(f, 500):
            break
    gc.collect()


def test_streamed_truncated_file_is_a_clear_error(samples: Path, tmp_path: Path) -> None:
    src = samples / "databento-python/tests/data/GLBX.MDP3/test_data.mbp-10.dbn.zst"
    raw = __import__("zstandard").ZstdDecompressor().decompress(src.read_bytes(), max_output_size=10**7)
    f = tmp_path / "cut.mbp-10.dbn"
    f.write_bytes(raw[:-100])
    with pytest.raises(
        dbn.DBNReadError, match=r"cut\.mbp-10\.dbn: DBN file is truncated: 268 trailing bytes"
    ):
        list(dbn.iter_chunks(f, 1000))


def test_record_layouts_match_databento() -> None:
    """Our schema -> record layout map equals databento's own (`databento.common.constants`, an
    internal used here only as the oracle): a databento upgrade that changes a layout fails here."""
    import numpy as np
    from databento.common.constants import SCHEMA_STRUCT_MAP
    from databento_dbn import Schema

    for schema in dbn.RECORD_CLASS:
        assert dbn.record_dtype(schema) == np.dtype(SCHEMA_STRUCT_MAP[Schema(schema)]._dtypes), schema
    assert dbn.record_dtype("mbp-10").itemsize == 368  # DBN v3 MBP-10 record size
