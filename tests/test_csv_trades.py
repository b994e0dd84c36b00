"""Trades CSV import: the real ESM8 2018-05-07 series and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spymaster_core.io.csv_trades import TradesCSVError, read_trades_csv, tick_rule
from tests.conftest import ESM8_CSV


def test_esm8_real_trades(samples: Path) -> None:
    t = read_trades_csv(ESM8_CSV, symbol="ESM8").to_pydict()
    assert len(t["price"]) == 74_907
    assert min(t["price"]) == 2667.75 and max(t["price"]) == 2679.25
    assert t["ts_event_ns"][0] == 1525699800001532000  # 2018-05-07T13:30:00.001532Z
    assert all(a <= b for a, b in zip(t["ts_event_ns"], t["ts_event_ns"][1:], strict=False))
    assert set(t["side"]) == {"N"}  # the vendor gave no side: aggressor comes from the tick rule


def test_tick_rule() -> None:
    assert tick_rule(np.array([10.0, 10.25, 10.25, 10.0, 10.0, 10.5])).tolist() == [0, 1, 1, -1, -1, 1]


def test_bad_timestamp_names_file_line_and_value(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("ts_utc,price\n2018-05-07T13:30:00Z,2670.5\nyesterday-ish,2670.25\n")
    with pytest.raises(
        TradesCSVError, match=r"bad\.csv: line 3: field ts_utc: bad timestamp 'yesterday-ish'"
    ):
        read_trades_csv(f)


def test_missing_column_and_bad_price(tmp_path: Path) -> None:
    f = tmp_path / "nocol.csv"
    f.write_text("time,price\n2018-05-07T13:30:00Z,1\n")
    with pytest.raises(TradesCSVError, match="missing column"):
        read_trades_csv(f)
    g = tmp_path / "badpx.csv"
    g.write_text("ts_utc,price,size,side\n2018-05-07T13:30:00Z,abc,1,B\n")
    with pytest.raises(TradesCSVError, match="line 2: field price"):
        read_trades_csv(g)


def test_sizes_and_sides_when_given(tmp_path: Path) -> None:
    f = tmp_path / "full.csv"
    f.write_text(
        "ts_utc,price,size,side\n2018-05-07T13:30:00Z,2670.5,3,B\n2018-05-07T13:30:01Z,2670.25,2,S\n"
    )
    t = read_trades_csv(f).to_pydict()
    assert t["size"] == [3, 2] and t["aggressor"] == [1, -1] and t["side"] == ["B", "A"]
