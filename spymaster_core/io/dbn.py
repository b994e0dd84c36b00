"""DBN normalisation: any Databento GLBX.MDP3 file (DBN v1, v2, v3; zstd or plain) into typed
Arrow tables with the schemas of `spymaster_core.schemas`.

Reads with `databento.DBNStore` (which upgrades v1/v2 records to the current layout) and converts
the structured numpy records column by column: prices int64 1e-9 -> float64 points with
`UNDEF_PRICE` -> null, timestamps stay int64 ns UTC (`ts_event_ns`, `ts_recv_ns`).
Reference: https://databento.com/docs/standards-and-conventions/common-fields-enums-types
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import databento as db
import databento_dbn
import numpy as np
import pyarrow as pa

from spymaster_core import schemas as S
from spymaster_core.io import zstd_frames
from spymaster_core.io.dbn_kernels import Mbp10Columns

log = logging.getLogger(__name__)

UNDEF_PRICE = databento_dbn.UNDEF_PRICE
UNDEF_TIMESTAMP = databento_dbn.UNDEF_TIMESTAMP

BBO_SCHEMAS = ("mbp-1", "tbbo", "bbo-1s", "bbo-1m")
OHLCV_SCHEMAS = ("ohlcv-1s", "ohlcv-1m", "ohlcv-1h", "ohlcv-1d", "ohlcv-eod")
# The schemas a mixed-schema (live) file is split into, in this order.
MIXED_SCHEMAS = ("trades", "mbp-10", "mbp-1", "mbo", "definition", "statistics", "ohlcv-1m", "status")


class DBNReadError(ValueError):
    """A DBN file that cannot be read: names the file and the problem."""


@dataclass
class DecodedFile:
    """The tables one DBN file decodes to, keyed by table kind.

    Kinds: `trades`, `mbp10`, `mbo`, `bbo`, `definitions`, `statistics`, `status`, `ohlcv`.
    `skipped` lists (schema, reason) pairs for record types not normalised.
    """

    path: Path
    dataset: str | None
    schema: str | None
    version: int
    tables: dict[str, pa.Table] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def open_store(path: str | Path) -> db.DBNStore:
    """Open a DBN file; raise `DBNReadError` naming the file if it is empty, not DBN, or a zstd file
    cut short (`zstd_frames.check_frames_complete`: an interrupted download decodes to fewer records
    with no error from zstd or databento)."""
    p = Path(path)
    if not p.exists():
        raise DBNReadError(f"{p}: file does not exist")
    if p.stat().st_size == 0:
        raise DBNReadError(f"{p}: file is empty (0 bytes), expected DBN metadata")
    with open(p, "rb") as fh:
        compressed = fh.read(4) == zstd_frames.ZSTD_MAGIC
    if compressed:
        try:  # zstd readers return a cut frame's decoded part with no error: check the frames first
            zstd_frames.check_frames_complete(p)
        except zstd_frames.TruncatedZstdError as exc:
            raise DBNReadError(str(exc)) from exc
    try:
        return db.DBNStore.from_file(p)
    except Exception as exc:  # databento raises ValueError/BentoError/zstd errors for bad input
        raise DBNReadError(f"{p}: not a readable DBN file ({type(exc).__name__}: {exc})") from exc


def store_records(store: db.DBNStore, path: Path, schema: str | None = None) -> np.ndarray:
    """All records of an open store (of `schema` for a mixed-schema file) as a structured array in
    the DBN layout. Raises `DBNReadError` naming `path` when records cannot be decoded or the file
    ends inside a record (databento drops the partial record with only a warning)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            arr = store.to_ndarray(schema=schema) if schema else store.to_ndarray()
    except Exception as exc:
        raise DBNReadError(
            f"{path}: records cannot be decoded ({type(exc).__name__}: {exc}); truncated or corrupt?"
        ) from exc
    for w in caught:
        if "truncated" in str(w.message) or "incomplete record" in str(w.message):
            # databento drops the partial record with a warning; a partial file must not pass as whole.
            raise DBNReadError(f"{path}: {w.message}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return np.asarray(arr)


def check_dataset(path: str | Path, expected: str = S.DATASET) -> None:
    """Raise ValueError naming the file when its metadata dataset is not `expected`."""
    store = open_store(path)
    if store.metadata.dataset != expected:
        raise ValueError(
            f"{path}: dataset is {store.metadata.dataset!r}, expected {expected!r} (CME Globex MDP 3.0)"
        )


def instrument_symbols(store: db.DBNStore) -> dict[int, str]:
    """instrument_id -> raw symbol from the file's symbology mappings (empty if none).

    For `stype_in=raw_symbol` and `parent` files the mapping keys are raw symbols and the
    interval `symbol` is the instrument_id; for `instrument_id` input the reverse.
    """
    out: dict[int, str] = {}
    for key, intervals in (store.metadata.mappings or {}).items():
        for iv in intervals:
            sym = str(iv["symbol"])
            if sym.isdigit():
                out[int(sym)] = key
            elif str(key).isdigit():
                out[int(key)] = sym
    return out


def prices(raw: np.ndarray) -> pa.Array:
    """int64 fixed-point (1e-9) prices -> float64 points, UNDEF_PRICE -> null."""
    raw = raw.astype(np.int64, copy=False)
    mask = raw == UNDEF_PRICE
    # Division (not * 1e-9) is correctly rounded: a price on the 0.25 grid comes out exact.
    return pa.array(raw / 1e9, type=pa.float64(), mask=mask if mask.any() else None)


def _ts_ns(raw: np.ndarray) -> pa.Array:
    raw = raw.astype(np.uint64, copy=False)
    mask = raw == np.uint64(UNDEF_TIMESTAMP)
    return pa.array(raw.astype(np.int64), type=pa.int64(), mask=mask if mask.any() else None)


_BYTE_STRINGS = pa.array([chr(i) if i else "" for i in range(256)], type=pa.string())


def chars(raw: np.ndarray) -> pa.Array:
    """One-byte DBN char fields (action, side, ...) -> Arrow strings, by table lookup (O(n), no Python loop)."""
    return _BYTE_STRINGS.take(pa.array(np.ascontiguousarray(raw).view(np.uint8)))


def repeat_string(value: str, n: int) -> pa.Array:
    """An Arrow string column of `n` copies of `value` (one string, n indices)."""
    return pa.array([value], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int32)))


def symbol_column(ids: np.ndarray, symbols: dict[int, str]) -> pa.Array:
    """Arrow string column of raw symbols for `instrument_id`s (null where `symbols` has none)."""
    if len(ids) == 0:
        return pa.array([], type=pa.string())
    if ids.min() == ids.max():
        name = symbols.get(int(ids[0]))
        return pa.nulls(len(ids), pa.string()) if name is None else repeat_string(name, len(ids))
    uniq, inv = np.unique(ids, return_inverse=True)
    names = pa.array([symbols.get(int(u)) for u in uniq], type=pa.string())
    return names.take(pa.array(inv.astype(np.int64)))


def _aggressor(side: np.ndarray) -> pa.Array:
    s = side.astype("U1")
    return pa.array(np.where(s == "B", 1, np.where(s == "A", -1, 0)).astype(np.int8))


_BLOCK_RECORDS = 8192  # ~3 MB of MBP-10 records: stays in cache while every field is copied out


def _common(a: np.ndarray, symbols: dict[int, str]) -> dict[str, pa.Array]:
    return {
        "ts_event_ns": _ts_ns(a["ts_event"]),
        "ts_recv_ns": _ts_ns(a["ts_recv"]),
        "instrument_id": pa.array(a["instrument_id"].astype(np.uint32)),
        "symbol": symbol_column(a["instrument_id"], symbols),
    }


def _table(schema: S.TableSchema, cols: dict[str, pa.Array]) -> pa.Table:
    return pa.table({f.name: cols[f.name] for f in schema.arrow}, schema=schema.arrow)


def trades_table(a: np.ndarray, symbols: dict[int, str], source: str) -> pa.Table:
    """Trade records (trades schema, or `T` actions of mbp-1/tbbo) -> `futures.trades.v1` columns."""
    n = len(a)
    cols = _common(a, symbols) | {
        "price": prices(a["price"]),
        "size": pa.array(a["size"].astype(np.int64)),
        "side": chars(a["side"]),
        "aggressor": _aggressor(a["side"]),
        "flags": pa.array(a["flags"].astype(np.uint8)),
        "sequence": pa.array(a["sequence"].astype(np.uint32)),
        "source": repeat_string(source, n),
    }
    return _table(S.FUTURES_TRADES, cols)


def mbp10_table(
    a: np.ndarray,
    symbols: dict[int, str],
    source: str,
    preopen_until_ns: int | None = None,
    buffers: Mbp10Columns | None = None,
) -> pa.Table:
    """MBP-10 records (structured DBN array) -> `futures.mbp10` table, decoded in one compiled pass.

    `is_preopen` is ts_event <= `preopen_until_ns` (all False when None; the Bronze layer passes the
    session's open). `buffers` (reused across chunks by streaming callers) must not be refilled
    while the returned table is in use: the table's numeric columns are views of them.
    Raises ValueError when `a` does not have the 368-byte MBP-10 layout."""
    n = len(a)
    c = (buffers or Mbp10Columns(n)).fill(a, preopen_until_ns)
    v = c.view
    counts = c.null_counts
    cols: dict[str, pa.Array] = {
        "ts_event_ns": pa.array(v("ts_event")),
        "ts_recv_ns": pa.array(v("ts_recv"), mask=v("ts_recv_null") if counts[-1] else None),
        "instrument_id": pa.array(v("instrument_id")),
        "symbol": symbol_column(v("instrument_id"), symbols),
        "action": chars(v("action")),
        "side": chars(v("side")),
        "depth": pa.array(v("depth")),
        "price": pa.array(v("price"), mask=v("price_null") if counts[0] else None),
        "size": pa.array(v("size")),
        "flags": pa.array(v("flags")),
        "sequence": pa.array(v("sequence")),
        "is_snapshot": pa.array(v("is_snapshot")),
        "is_preopen": pa.array(v("is_preopen")),
        "source": repeat_string(source, n),
    }
    px, px_null, sizes = v("px"), v("px_null"), v("sizes")
    for i in range(S.BOOK_DEPTH):
        for side, row in (("bid", i), ("ask", S.BOOK_DEPTH + i)):
            cols[f"{side}_px_{i:02d}"] = pa.array(px[row], mask=px_null[row] if counts[1 + row] else None)
        for k, name in enumerate(("bid_sz", "ask_sz", "bid_ct", "ask_ct")):
            cols[f"{name}_{i:02d}"] = pa.array(sizes[4 * i + k])
    return _table(S.FUTURES_MBP10, cols)


def mbo_table(a: np.ndarray, symbols: dict[int, str]) -> pa.Table:
    """MBO records -> `futures.mbo.v1`."""
    cols = _common(a, symbols) | {
        "order_id": pa.array(a["order_id"].astype(np.uint64)),
        "action": chars(a["action"]),
        "side": chars(a["side"]),
        "price": prices(a["price"]),
        "size": pa.array(a["size"].astype(np.int64)),
        "flags": pa.array(a["flags"].astype(np.uint8)),
        "channel_id": pa.array(a["channel_id"].astype(np.uint8)),
        "sequence": pa.array(a["sequence"].astype(np.uint32)),
    }
    return _table(S.FUTURES_MBO, cols)


def bbo_table(a: np.ndarray, symbols: dict[int, str], schema: str) -> pa.Table:
    """mbp-1 / tbbo / bbo-1s / bbo-1m records -> `bbo.v1` (top of book after each record).

    bbo-1s / bbo-1m: `ts_event_ns` is the record's `ts_recv`, the end of its interval, when the sampled
    book is known; the DBN `ts_event` of these schemas is the time of the last trade, earlier than
    the quote (and undefined before the session's first trade). Source: Databento's BBO schema
    reference, https://databento.com/docs/schemas-and-data-formats/bbo."""
    n = len(a)
    common = _common(a, symbols)
    if schema.startswith("bbo-"):
        common["ts_event_ns"] = common["ts_recv_ns"]
    cols = common | {
        "bid_px": prices(a["bid_px_00"]),
        "ask_px": prices(a["ask_px_00"]),
        "bid_sz": pa.array(a["bid_sz_00"].astype(np.int64)),
        "ask_sz": pa.array(a["ask_sz_00"].astype(np.int64)),
        "schema": repeat_string(schema, n),
    }
    return _table(S.BBO, cols)


def definitions_table(a: np.ndarray) -> pa.Table:
    """Instrument definitions -> `definitions.v2` (strike in points, expiration in ns UTC,
    `unit_of_measure_qty` the contract size, e.g. 50 for ES; `contract_multiplier` null when
    Databento leaves it undefined, its i32 max sentinel, as on every real ES record)."""

    def text(name: str) -> pa.Array:
        vals = a[name]
        if vals.dtype.kind == "S":
            vals = np.char.decode(vals, "utf-8", errors="replace")
        return pa.array(vals.astype(str), type=pa.string())

    mult = a["contract_multiplier"]
    cols = {
        "ts_event_ns": _ts_ns(a["ts_event"]),
        "ts_recv_ns": _ts_ns(a["ts_recv"]),
        "instrument_id": pa.array(a["instrument_id"].astype(np.uint32)),
        "raw_symbol": text("raw_symbol"),
        "instrument_class": text("instrument_class"),
        "asset": text("asset"),
        "security_type": text("security_type"),
        "underlying": text("underlying"),
        "underlying_id": pa.array(a["underlying_id"].astype(np.uint32)),
        "strike_price": prices(a["strike_price"]),
        "expiration_ns": _ts_ns(a["expiration"]),
        "min_price_increment": prices(a["min_price_increment"]),
        "contract_multiplier": pa.array(mult.astype(np.int64), mask=mult == np.iinfo(np.int32).max),
        "unit_of_measure_qty": prices(a["unit_of_measure_qty"]),
    }
    return _table(S.DEFINITIONS, cols)


def statistics_table(a: np.ndarray, symbols: dict[int, str]) -> pa.Table:
    """Statistics records -> `statistics.v1` (stat_type 9 is open interest in `quantity`)."""
    qty = a["quantity"].astype(np.int64)
    undef_qty = qty == np.int64(databento_dbn.UNDEF_STAT_QUANTITY)
    cols = _common(a, symbols) | {
        "ts_ref_ns": _ts_ns(a["ts_ref"]),
        "stat_type": pa.array(a["stat_type"].astype(np.uint16)),
        "price": prices(a["price"]),
        "quantity": pa.array(qty, mask=undef_qty),
    }
    return _table(S.STATISTICS, cols)


def status_table(a: np.ndarray, symbols: dict[int, str]) -> pa.Table:
    """Trading-status records -> `status.v1`."""
    cols = _common(a, symbols) | {
        "action": pa.array(a["action"].astype(np.uint16)),
        "reason": pa.array(a["reason"].astype(np.uint16)),
        "trading_event": pa.array(a["trading_event"].astype(np.uint16)),
        "is_trading": chars(a["is_trading"]),
    }
    return _table(S.STATUS, cols)


def ohlcv_table(a: np.ndarray, symbols: dict[int, str], schema: str) -> pa.Table:
    """OHLCV bars -> `ohlcv.v1` (ts_event_ns is the bar open; ts_recv_ns null)."""
    n = len(a)
    cols = {
        "ts_event_ns": _ts_ns(a["ts_event"]),
        "ts_recv_ns": pa.nulls(n, pa.int64()),
        "instrument_id": pa.array(a["instrument_id"].astype(np.uint32)),
        "symbol": symbol_column(a["instrument_id"], symbols),
        "open": prices(a["open"]),
        "high": prices(a["high"]),
        "low": prices(a["low"]),
        "close": prices(a["close"]),
        "volume": pa.array(a["volume"].astype(np.int64)),
        "schema": repeat_string(schema, n),
    }
    return _table(S.OHLCV, cols)


def normalise_records(
    schema: str, a: np.ndarray, symbols: dict[int, str], source: str
) -> dict[str, pa.Table]:
    """Records of one schema (a structured array in databento's DBN layout, from a file or from
    the Live client's records) -> Spymaster tables by kind ("trades", "mbp10", "bbo", ...).
    `symbols`: instrument_id -> raw symbol. Raises KeyError for a schema Spymaster does not
    normalise."""
    if schema == "trades":
        return {"trades": trades_table(a, symbols, source)}
    if schema == "mbp-10":
        return {"mbp10": mbp10_table(a, symbols, source)}
    if schema == "mbo":
        return {"mbo": mbo_table(a, symbols)}
    if schema in BBO_SCHEMAS:
        out = {"bbo": bbo_table(a, symbols, schema)}
        if schema in ("mbp-1", "tbbo"):
            is_trade = a["action"].astype("U1") == "T"
            out["trades"] = trades_table(a[is_trade], symbols, source)
        return out
    if schema == "definition":
        return {"definitions": definitions_table(a)}
    if schema == "statistics":
        return {"statistics": statistics_table(a, symbols)}
    if schema == "status":
        return {"status": status_table(a, symbols)}
    if schema in OHLCV_SCHEMAS:
        return {"ohlcv": ohlcv_table(a, symbols, schema)}
    raise KeyError(schema)


def decode_file(path: str | Path, source: str = "dbn_file") -> DecodedFile:
    """Decode one DBN file into normalised tables.

    Mixed-schema files (live captures, metadata schema None) are split by record type.
    Unsupported schemas are skipped with a logged reason in `DecodedFile.skipped`.
    Raises `DBNReadError` for a missing, empty, truncated or corrupt file.
    """
    p = Path(path)
    store = open_store(p)
    meta = store.metadata
    schema = str(store.schema) if store.schema is not None else None
    out = DecodedFile(path=p, dataset=meta.dataset, schema=schema, version=int(meta.version))
    symbols = instrument_symbols(store)
    wanted = [schema] if schema is not None else list(MIXED_SCHEMAS)
    for sch in wanted:
        try:
            a = store_records(store, p, sch if schema is None else None)
        except DBNReadError:
            if schema is not None:
                raise
            continue  # a mixed file without records of this schema
        if schema is None and len(a) == 0:
            continue
        try:
            tables = normalise_records(sch, a, symbols, source)
        except KeyError:
            reason = f"schema {sch!r} is not normalised by Spymaster"
            log.warning("%s: skipped: %s", p, reason)
            out.skipped.append((sch, reason))
            continue
        for kind, table in tables.items():
            out.tables[kind] = pa.concat_tables([out.tables[kind], table]) if kind in out.tables else table
    if schema is None:
        # Record types of a mixed file we never normalise (symbol mappings, system, error records).
        out.skipped.append(("mixed", "symbol-mapping/system/error records carry no market data"))
    return out


def iter_dbn_files(root: str | Path) -> Iterator[Path]:
    """Every `*.dbn` / `*.dbn.zst` file below root, sorted."""
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and (p.name.endswith(".dbn") or p.name.endswith(".dbn.zst")):
            yield p


# Record layouts that are the same in DBN v1, v2 and v3 (only definition, statistics, error,
# system and symbol-mapping records changed between versions).
_FIXED_LAYOUT = {
    "mbp-10": databento_dbn.MBP10Msg,
    "mbp-1": databento_dbn.MBP1Msg,
    "tbbo": databento_dbn.MBP1Msg,
    "trades": databento_dbn.TradeMsg,
    "mbo": databento_dbn.MBOMsg,
}
# The record class (current DBN version) of each schema we decode from raw bytes.
RECORD_CLASS: dict[databento_dbn.Schema, type] = {
    databento_dbn.Schema.MBP_10: databento_dbn.MBP10Msg,
    databento_dbn.Schema.MBP_1: databento_dbn.MBP1Msg,
    databento_dbn.Schema.TBBO: databento_dbn.MBP1Msg,
    databento_dbn.Schema.TRADES: databento_dbn.TradeMsg,
    databento_dbn.Schema.MBO: databento_dbn.MBOMsg,
    databento_dbn.Schema.DEFINITION: databento_dbn.InstrumentDefMsg,
    databento_dbn.Schema.STATISTICS: databento_dbn.StatMsg,
    databento_dbn.Schema.BBO_1S: databento_dbn.BBOMsg,
    databento_dbn.Schema.BBO_1M: databento_dbn.BBOMsg,
}


def record_dtype(schema: databento_dbn.Schema | str) -> np.dtype:
    """numpy dtype of one record of `schema` in the current DBN version (databento_dbn's record
    layout, as `DBNStore.to_ndarray` uses). Raises KeyError for a schema not in RECORD_CLASS."""
    return np.dtype(RECORD_CLASS[databento_dbn.Schema(schema)]._dtypes)


@functools.cache
def _read_ahead() -> ThreadPoolExecutor:
    """The read-ahead pool, started on first use (not at import): it decompresses the next chunk
    while the caller works on this one (zstd releases the GIL)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="dbn-read-ahead")


def iter_chunks(
    path: str | Path, chunk_records: int = 1_000_000
) -> Iterator[tuple[str, np.ndarray, dict[int, str]]]:
    """Stream a single-schema DBN file as (schema, structured records, symbols) chunks of at most
    `chunk_records`, so memory is bounded by the chunk, not the file.

    `databento.DBNStore` reads the metadata (version, schema, symbology). For the record layouts
    that no DBN version changed (mbp-10, mbp-1, tbbo, trades, mbo) the record bytes are read with
    `readinto` into three reused buffers (one being filled ahead) and viewed with databento_dbn's record dtype: a chunk is
    valid until the next-but-one chunk is read, so copy what must outlive that. Every record's
    `length` and `rtype` are checked. Other schemas go through `DBNStore.to_ndarray`.
    Raises `DBNReadError` naming the file for an unreadable, mixed-schema or truncated file.
    """
    p = Path(path)
    store = open_store(p)
    if store.schema is None:
        raise DBNReadError(f"{p}: mixed-schema file cannot be streamed by schema; use decode_file")
    schema = str(store.schema)
    symbols = instrument_symbols(store)
    if schema in _FIXED_LAYOUT:
        yield from ((schema, a, symbols) for a in _fixed_layout_chunks(p, store, schema, chunk_records))
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for chunk in store.to_ndarray(count=chunk_records):
                yield schema, np.asarray(chunk), symbols
        except Exception as exc:
            raise DBNReadError(f"{p}: records cannot be decoded ({type(exc).__name__}: {exc})") from exc
    for w in caught:
        if "truncated" in str(w.message) or "incomplete record" in str(w.message):
            raise DBNReadError(f"{p}: {w.message}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _skip_metadata(reader: BinaryIO, p: Path) -> None:
    """Read past the DBN metadata: the prelude is `DBN`, a version byte and the metadata's length
    (u32, little-endian), then that many bytes (https://databento.com/docs/standards-and-conventions/
    databento-binary-encoding). Raises DBNReadError naming the file when it ends inside them."""
    prelude = reader.read(8)
    if len(prelude) < 8 or prelude[:3] != b"DBN":
        raise DBNReadError(f"{p}: no DBN prelude at the start of the decompressed stream")
    remaining = int.from_bytes(prelude[4:8], "little")
    while remaining > 0:
        got = reader.read(min(1 << 20, remaining))
        if not got:
            raise DBNReadError(f"{p}: DBN file is truncated inside its metadata header")
        remaining -= len(got)


def _fixed_layout_chunks(
    p: Path, store: db.DBNStore, schema: str, chunk_records: int
) -> Iterator[np.ndarray]:
    """Records of a fixed-layout schema, chunk by chunk. A reader thread decompresses chunk k+1
    into the next of three reused buffers while the caller works on chunk k (zstd releases the
    GIL), so chunk k stays valid while chunk k+1 is in use."""
    import zstandard

    fields = list(_FIXED_LAYOUT[schema]._dtypes)
    if store.metadata.ts_out:
        fields.append(("ts_out", "u8"))
    dtype = np.dtype(fields)
    buffers = [np.empty(dtype.itemsize * chunk_records, np.uint8) for _ in range(3)]

    def fill(reader: BinaryIO, buf: np.ndarray) -> int:
        mv, got = memoryview(buf), 0
        try:
            while got < len(buf):
                k = reader.readinto(mv[got:])
                if not k:
                    break
                got += k
        except zstandard.ZstdError as exc:
            raise DBNReadError(f"{p}: corrupt zstd stream ({exc})") from exc
        return got

    with open(p, "rb") as raw:
        compressed = raw.read(4) == zstd_frames.ZSTD_MAGIC
        raw.seek(0)
        reader = (
            zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) if compressed else raw
        )
        with reader:
            _skip_metadata(reader, p)  # DBNStore already decoded it
            rtype, i = -1, 0  # rtype is set from the first record
            pending: Future | None = _read_ahead().submit(fill, reader, buffers[0])
            try:
                while pending is not None:
                    buf = buffers[i % 3]
                    got = pending.result()
                    pending = None
                    if got == len(buf):
                        pending = _read_ahead().submit(fill, reader, buffers[(i + 1) % 3])
                    if got % dtype.itemsize:
                        raise DBNReadError(
                            f"{p}: DBN file is truncated: {got % dtype.itemsize} trailing bytes of an "
                            f"incomplete {schema} record ({dtype.itemsize} bytes each)"
                        )
                    if got == 0:
                        return
                    a = np.frombuffer(buf, dtype=dtype, count=got // dtype.itemsize)
                    if rtype < 0:
                        rtype = int(a["rtype"][0])
                    bad_mask = (a["length"] != dtype.itemsize // 4) | (a["rtype"] != rtype)
                    if bad_mask.any():
                        bad = int(np.flatnonzero(bad_mask)[0])
                        raise DBNReadError(
                            f"{p}: record {i * chunk_records + bad} is not a {schema} record "
                            f"(length {int(a['length'][bad]) * 4}, rtype {int(a['rtype'][bad])})"
                        )
                    yield a
                    i += 1
            finally:
                if pending is not None:
                    # An early stop (error, or the caller broke off): the read in flight must end
                    # before the decompressor and file close under it; its outcome no longer matters.
                    pending.exception()


def decode_complete_prefix(path: str | Path) -> tuple[DecodedFile, int]:
    """Decode the whole records of a DBN file that ends mid-frame (a file *published* truncated, such
    as the real ESM4 `mbp-1` sample in ../shared/real): decompress what is there, keep the metadata
    and every complete record, decode that with `decode_file`. Returns (decoded tables, records).

    Only for a caller that knows the file is truncated and says so in its output: ingestion refuses
    such files (`decode_file` raises DBNReadError). Raises DBNReadError when not even the metadata
    is there, or for a schema without a fixed record size (a mixed-schema file)."""
    import tempfile

    import zstandard

    p = Path(path)
    with p.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True) as r:
        raw = bytearray()
        while chunk := r.read(1 << 20):
            raw += chunk
    if len(raw) < 8 or raw[:3] != b"DBN":
        raise DBNReadError(f"{p}: no DBN metadata in the decodable part ({len(raw)} bytes)")
    meta_end = 8 + int.from_bytes(raw[4:8], "little")
    with tempfile.TemporaryDirectory() as tmp:
        head = Path(tmp) / "head.dbn"
        head.write_bytes(bytes(raw[:meta_end]))
        schema = open_store(head).schema
        if schema is None:
            raise DBNReadError(f"{p}: a mixed-schema file has no fixed record size to cut at")
        size = record_dtype(schema).itemsize
        n = (len(raw) - meta_end) // size
        whole = Path(tmp) / "prefix.dbn"
        whole.write_bytes(bytes(raw[: meta_end + n * size]))
        return decode_file(whole), n
