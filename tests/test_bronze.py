"""Bronze filters on real definition files, the streaming MBP-10 writer's invariants, and bad input."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spymaster_core import calendar
from spymaster_core.bronze import builders as bronze
from spymaster_core.bronze import selection
from spymaster_core.bronze.mbp10_stream import stream_futures_mbp10
from spymaster_core.io import dbn
from spymaster_core.sim import writer

NT = "nautilus_trader/tests/test_data/databento"
DATE = "2026-11-16"


def _land(samples: Path, rel: str, landing: Path, schema: str, date: str) -> Path:
    d = landing / "GLBX.MDP3" / schema / date
    d.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(samples / rel, d))


def test_0dte_weekly_kept_on_its_expiration_with_its_underlying(samples: Path, tmp_path: Path) -> None:
    rel = f"{NT}/options_exercise/databento/options_definition.dbn.zst"  # EW2F6 C7000, underlying ESH6
    for date in ("2026-01-09", "2026-01-08"):
        _land(samples, rel, tmp_path, "definition", date)
    kept = bronze.options_definitions(tmp_path, "2026-01-09", "ESH6")
    assert kept.table.column("raw_symbol").to_pylist() == ["EW2F6 C7000"]
    assert bronze.options_definitions(tmp_path, "2026-01-09", "ESZ5").table.num_rows == 0  # other underlying
    assert bronze.options_definitions(tmp_path, "2026-01-08", "ESH6").table.num_rows == 0  # not 0DTE
    assert kept.notes["options_in_files"] == 1 and kept.notes["kept_0dte"] == 1


def test_quarterly_options_are_0dte_only_on_expiry(samples: Path, tmp_path: Path) -> None:
    rel = (
        f"{NT}/options_catalog/databento/options_definition.dbn.zst"  # ESM4 P5230/P5250, AM expiry 2024-06-21
    )
    for date in ("2024-06-21", "2024-05-09"):
        _land(samples, rel, tmp_path, "definition", date)
    on_expiry = bronze.options_definitions(tmp_path, "2024-06-21", "ESM4").table
    assert sorted(on_expiry.column("raw_symbol").to_pylist()) == ["ESM4 P5230", "ESM4 P5250"]
    assert bronze.options_definitions(tmp_path, "2024-05-09", "ESM4").table.num_rows == 0


def test_parent_symbology_file(samples: Path) -> None:
    f = samples / NT / "definition-glbx-es-opt.dbn.zst"
    symbols = dbn.instrument_symbols(dbn.open_store(f))
    options = [s for s in symbols.values() if not s.startswith("UD:")]
    assert len(options) == 1944 and all(" C" in s or " P" in s for s in options)
    defs = pl.from_arrow(dbn.decode_file(f).tables["definitions"])
    assert set(defs["underlying"]) == {"ESM4"} and set(defs["instrument_class"]) == {"C"}


def test_front_month_on_the_december_2025_roll(samples: Path) -> None:
    defs = dbn.decode_file(
        samples / NT / "futures_settlement/databento/futures_settlement_definition.dbn.zst"
    )
    t = defs.tables["definitions"]
    assert selection.front_month_from_definitions(t, "2025-12-18") == "ESZ5"
    assert selection.front_month_from_definitions(t, "2025-12-19") == "ESH6"  # ESZ5 expires at 09:30 ET
    spreads = dbn.decode_file(samples / NT / "definition-glbx-es-futspread.dbn.zst").tables["definitions"]
    assert selection.front_month_from_definitions(spreads, "2024-03-01") is None


def test_front_month_by_volume_excludes_spreads() -> None:
    t = pa.table({"symbol": ["ESZ5", "ESH6", "ESZ5-ESH6", "ESH6"], "size": [40, 30, 1000, 30]})
    assert selection.front_month(t) == "ESH6"


def _mbp_file(
    path: Path, ts_s: list[float], bid: list[float], ask: list[float], dataset: str = "GLBX.MDP3"
) -> Path:
    """A tiny MBP-10 DBN file for ESZ6 on DATE: one record per (time offset after 10:00 ET, bid, ask)."""
    n = len(ts_s)
    a = writer.empty_records("mbp-10", n)
    t0 = calendar.et_ns(DATE, "10:00")
    a["ts_event"] = [t0 + int(s * 1e9) for s in ts_s]
    a["ts_recv"] = a["ts_event"] + 1000
    a["instrument_id"] = 42
    a["action"], a["side"], a["flags"] = b"A", b"B", 128
    a["sequence"] = np.arange(100, 100 + n)
    for j in range(10):
        a[f"bid_px_{j:02d}"] = [int((b - 0.25 * j) * 1e9) for b in bid]
        a[f"ask_px_{j:02d}"] = [int((x + 0.25 * j) * 1e9) for x in ask]
        a[f"bid_sz_{j:02d}"] = 10
        a[f"ask_sz_{j:02d}"] = 12
    header = bytes(
        writer.dbn.Metadata(
            dataset=dataset,
            start=int(a["ts_event"].min()),
            stype_in=writer.dbn.SType.RAW_SYMBOL,
            stype_out=writer.dbn.SType.INSTRUMENT_ID,
            schema=writer.dbn.Schema.MBP_10,
            symbols=["ESZ6"],
            end=int(a["ts_event"].max()) + 1,
            mappings=[
                writer._Mapping(
                    "ESZ6", [writer._Interval(dt.date(2026, 11, 16), dt.date(2026, 11, 17), "42")]
                )
            ],
        )
    )
    return writer.write_dbn(path, header, a.tobytes())


def test_stream_sorts_out_of_order_input_and_names_the_record(tmp_path: Path) -> None:
    f = _mbp_file(tmp_path / "ooo.mbp-10.dbn.zst", [1, 2, 1.5, 3], [6800.0] * 4, [6800.25] * 4)
    st = stream_futures_mbp10([f], tmp_path / "out", DATE, "ESZ6")
    out = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    assert out.column("sequence").to_pylist() == [100, 102, 101, 103]  # sorted by ts_event
    assert st.resorted and st.out_of_order.startswith("ooo.mbp-10.dbn.zst: sequence 102 at ts_event_ns")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["part-00000.parquet"]  # staging removed


def test_stream_counts_crossed_record_and_names_it(tmp_path: Path) -> None:
    f = _mbp_file(
        tmp_path / "x.mbp-10.dbn.zst", [1, 2, 3], [6800.0, 6800.5, 6800.0], [6800.25, 6800.25, 6800.25]
    )
    st = stream_futures_mbp10([f], tmp_path / "out", DATE, "ESZ6")
    assert st.crossed_rows == 1 and not st.resorted
    assert (
        st.first_crossed.startswith("x.mbp-10.dbn.zst: sequence 101")
        and "bid 6800.5 >= ask 6800.25" in st.first_crossed
    )
    out = pl.read_parquet(tmp_path / "out" / "part-00000.parquet")
    assert out["bid_px_00"].to_list() == [6800.0, 6800.5, 6800.0]  # reported, not "fixed"
    assert not out["is_preopen"].any()


def test_stream_is_idempotent(tmp_path: Path) -> None:
    f = _mbp_file(tmp_path / "a.mbp-10.dbn.zst", [1, 2, 3, 4], [6800.0] * 4, [6800.25] * 4)
    digests = []
    for i in range(2):
        stream_futures_mbp10([f], tmp_path / f"out{i}", DATE, "ESZ6", chunk_records=2)
        parts = sorted((tmp_path / f"out{i}").glob("part-*.parquet"))
        assert len(parts) == 2
        digests.append(hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest())
    assert digests[0] == digests[1]


def test_file_of_another_date_is_a_clear_error(tmp_path: Path) -> None:
    f = _mbp_file(tmp_path / "late.mbp-10.dbn.zst", [1, 2], [6800.0] * 2, [6800.25] * 2)
    with pytest.raises(
        ValueError,
        match=r"late\.mbp-10\.dbn\.zst: none of its 2 records .* does not belong to partition 2026-11-13",
    ):
        stream_futures_mbp10([f], tmp_path / "out", "2026-11-13", "ESZ6")
    assert list((tmp_path / "out").iterdir()) == []


def test_wrong_dataset_is_a_clear_error(tmp_path: Path) -> None:
    f = _mbp_file(tmp_path / "xnas.mbp-10.dbn.zst", [1], [6800.0], [6800.25], dataset="XNAS.ITCH")
    with pytest.raises(
        ValueError, match=r"xnas\.mbp-10\.dbn\.zst: dataset is 'XNAS.ITCH', expected 'GLBX.MDP3'"
    ):
        stream_futures_mbp10([f], tmp_path / "out", DATE, "ESZ6")


def test_mbo_stream_picks_front_and_writes_parts(samples: Path, tmp_path: Path) -> None:
    from spymaster_core.bronze.mbp10_stream import stream_mbp10_from_mbo

    mbo = samples / NT / "esh4-glbx-mdp3-20231225.mbo.dbn.zst"
    st = stream_mbp10_from_mbo([mbo], tmp_path / "out", "2023-12-26", None, chunk_records=20_000)
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    out = pl.read_parquet(parts)
    assert st.instruments == {"ESH4": 49_996} and out.height == 49_996 and len(parts) >= 3
    assert st.crossed_rows == 0 and not st.resorted and out["ts_event_ns"].is_sorted()


def test_the_same_file_landed_twice_is_refused(tmp_path: Path) -> None:
    """A download landed twice under two names used to double Bronze (trades 31,543 -> 63,086 rows):
    now the date is refused with both files named, for DBN and CSV alike."""
    import shutil

    from spymaster_core.bronze.errors import DuplicateLandingError
    from spymaster_core.sim import simulate_session
    from tests.conftest import ESM8_CSV

    land = tmp_path / "landing"
    res = simulate_session("2026-11-16", 4, land, scale="small")
    trades = Path(res.files["trades"])
    copy = trades.with_name("again-" + trades.name)
    shutil.copyfile(trades, copy)
    with pytest.raises(DuplicateLandingError, match="byte-identical") as err:
        bronze.futures_trades(land, "2026-11-16")
    assert copy.name in str(err.value) and str(trades) in str(err.value)
    copy.unlink()
    assert bronze.futures_trades(land, "2026-11-16").table.num_rows == res.counts["futures_trades"]
    csv_dir = tmp_path / "csv_landing" / "CSV" / "trades" / "2018-05-07"
    csv_dir.mkdir(parents=True)
    shutil.copyfile(ESM8_CSV, csv_dir / ESM8_CSV.name)
    shutil.copyfile(ESM8_CSV, csv_dir / ("copy-" + ESM8_CSV.name))
    with pytest.raises(DuplicateLandingError, match="byte-identical"):
        bronze.futures_trades(tmp_path / "csv_landing", "2018-05-07")


def test_overlapping_landed_files_are_refused(tmp_path: Path) -> None:
    """Two downloads whose time windows overlap (not byte-identical) used to count the shared trades
    twice: the date is refused with both files named; files that only abut pass."""
    import zstandard

    from spymaster_core.bronze.errors import DuplicateLandingError
    from spymaster_core.sim import simulate_session
    from spymaster_core.sim.writer import write_dbn

    land = tmp_path / "landing"
    res = simulate_session("2026-11-16", 4, land, scale="small")
    trades = Path(res.files["trades"])
    raw = zstandard.ZstdDecompressor().stream_reader(trades.read_bytes()).read()
    head_len = 8 + int.from_bytes(raw[4:8], "little")
    header, body = raw[:head_len], raw[head_len:]
    size = body[0] * 4  # DBN record header: length in 32-bit words
    n = len(body) // size
    cut_a, cut_b = (n // 2) * size, (n // 3) * size
    trades.unlink()
    a = write_dbn(trades.with_name("part-a.trades.dbn.zst"), header, body[:cut_a])
    b = write_dbn(trades.with_name("part-b.trades.dbn.zst"), header, body[cut_b:])  # overlaps a
    with pytest.raises(DuplicateLandingError, match="overlap") as err:
        bronze.futures_trades(land, "2026-11-16")
    assert a.name in str(err.value) and b.name in str(err.value)
    write_dbn(b, header, body[cut_a:])  # abutting halves: the whole day, each trade once
    assert bronze.futures_trades(land, "2026-11-16").table.num_rows == res.counts["futures_trades"]
