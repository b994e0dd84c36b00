"""Encode records as genuine DBN files (metadata header + fixed-width records, zstd).

Record layouts come from `databento_dbn` (`TradeMsg._dtypes` ...), so what we write is what
`databento.DBNStore` reads back. Prices are int64 1e-9 units, timestamps ns UTC.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import zstandard

from spymaster_core import schemas as S

PUBLISHER_GLBX = 1  # GLBX.MDP3 publisher id
DATASET = S.DATASET

TRADE_DTYPE = np.dtype(dbn.TradeMsg._dtypes)
MBP1_DTYPE = np.dtype(dbn.MBP1Msg._dtypes)
MBP10_DTYPE = np.dtype(dbn.MBP10Msg._dtypes)
MBO_DTYPE = np.dtype(dbn.MBOMsg._dtypes)
OHLCV_DTYPE = np.dtype(dbn.OHLCVMsg._dtypes)

RTYPE = {
    "mbo": dbn.RType.MBO.value,
    "trades": dbn.RType.MBP_0.value,
    "mbp-1": dbn.RType.MBP_1.value,
    "mbp-10": dbn.RType.MBP_10.value,
    "ohlcv-1m": dbn.RType.OHLCV_1M.value,
}
SCHEMA = {
    "trades": dbn.Schema.TRADES,
    "mbp-1": dbn.Schema.MBP_1,
    "mbp-10": dbn.Schema.MBP_10,
    "mbo": dbn.Schema.MBO,
    "definition": dbn.Schema.DEFINITION,
    "statistics": dbn.Schema.STATISTICS,
    "ohlcv-1m": dbn.Schema.OHLCV_1M,
}


@dataclass
class _Interval:
    start_date: dt.date
    end_date: dt.date
    symbol: str


@dataclass
class _Mapping:
    raw_symbol: str
    intervals: list[_Interval]


def empty_records(schema: str, n: int) -> np.ndarray:
    """A zeroed structured array of n records with `length`, `rtype` and `publisher_id` set."""
    dtype = {
        "trades": TRADE_DTYPE,
        "mbp-1": MBP1_DTYPE,
        "mbp-10": MBP10_DTYPE,
        "mbo": MBO_DTYPE,
        "ohlcv-1m": OHLCV_DTYPE,
    }[schema]
    a = np.zeros(n, dtype=dtype)
    a["length"] = dtype.itemsize // 4
    a["rtype"] = RTYPE[schema]
    a["publisher_id"] = PUBLISHER_GLBX
    return a


def metadata(schema: str, start_ns: int, end_ns: int, symbols: dict[str, int], date: dt.date) -> bytes:
    """DBN v3 metadata for raw_symbol -> instrument_id symbology valid on `date`."""
    mappings = [
        _Mapping(sym, [_Interval(date, date + dt.timedelta(days=1), str(iid))])
        for sym, iid in symbols.items()
    ]
    md = dbn.Metadata(
        dataset=DATASET,
        start=int(start_ns),
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=SCHEMA[schema],
        symbols=sorted(symbols),
        end=int(end_ns),
        mappings=mappings,
    )
    return bytes(md)


def write_dbn(path: Path, header: bytes, body: bytes | np.ndarray) -> Path:
    """Write header+body (bytes, or a contiguous record array, written without a copy) as one zstd
    frame to `path` atomically (temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    view = (
        memoryview(np.ascontiguousarray(body)).cast("B") if isinstance(body, np.ndarray) else memoryview(body)
    )
    # A content checksum per frame, as Databento writes: a flipped byte fails to decode instead of
    # decoding to altered records. Streamed in 64 MiB pieces: a real-scale day's MBP-10 is ~5 GB.
    cctx = zstandard.ZstdCompressor(level=3, write_checksum=True)
    with open(tmp, "wb") as fh, cctx.stream_writer(fh, size=len(header) + view.nbytes, closefd=False) as w:
        w.write(header)
        for i in range(0, view.nbytes, 1 << 26):
            w.write(view[i : i + (1 << 26)])
    os.replace(tmp, path)
    return path


def write_records(
    path: Path, schema: str, records: np.ndarray, symbols: dict[str, int], date: dt.date
) -> Path:
    """Write structured records (sorted by ts_recv) as a DBN file of one schema."""
    start = int(records["ts_event"].min()) if len(records) else 0
    end = int(records["ts_event"].max()) + 1 if len(records) else 1
    return write_dbn(path, metadata(schema, start, end, symbols, date), records)


def write_messages(
    path: Path, schema: str, msgs: list, symbols: dict[str, int], date: dt.date, start_ns: int
) -> Path:
    """Write record objects (InstrumentDefMsg, StatMsg ...) of one schema as a DBN file."""
    body = b"".join(bytes(m) for m in msgs)
    return write_dbn(path, metadata(schema, start_ns, start_ns + 1, symbols, date), body)


def write_definitions(
    path: Path, defs: list[dbn.InstrumentDefMsg], symbols: dict[str, int], date: dt.date, start_ns: int
) -> Path:
    """Write instrument definition records as a DBN file."""
    body = b"".join(bytes(d) for d in defs)
    return write_dbn(path, metadata("definition", start_ns, start_ns + 1, symbols, date), body)
