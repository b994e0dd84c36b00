"""A fake Databento Historical service over a simulated GLBX.MDP3 day with what a real day also has.

`Universe.build` simulates a day (genuine DBN, `spymaster_core.sim`) and adds what the real feed
carries and Bronze throws away: the next ES contract and a calendar spread (under `ES.FUT`), 0DTE
options on the next contract, options expiring on the next trading date under another root, and
overnight quotes and trades of the 0DTE options before the options window. `FakeHistorical` answers
`symbology.resolve`, `metadata.get_cost` and `timeseries.get_range` from it as Databento does:
parent, continuous and raw-symbol input, records selected by `ts_recv` in [start, end), files with
the request's metadata, `bbo-1s` sampled from the mbp-1 quotes (ts_recv = the second's end, ts_event
= the last trade). Costs scale with the instruments and hours asked for (`RATE_USD` per
instrument-hour by schema); every request is logged with its instrument count and hours.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import databento_dbn as d
import numpy as np

from spymaster_core import calendar
from spymaster_core.io import dbn
from spymaster_core.sim import options as sim_options
from spymaster_core.sim import session as sim_session
from spymaster_core.sim import writer

RATE_USD = {
    "trades": 0.002,
    "mbp-10": 0.02,
    "mbp-1": 0.005,
    "bbo-1s": 0.001,
    "definition": 0.0001,
    "statistics": 0.0001,
}
NS_H = 3_600_000_000_000


@dataclass
class _Iv:
    start_date: dt.date
    end_date: dt.date
    symbol: str


@dataclass
class _Map:
    raw_symbol: str
    intervals: list[_Iv]


@dataclass
class Instrument:
    iid: int
    raw_symbol: str
    parent: str
    continuous: str | None = None


@dataclass
class Universe:
    """Every instrument and record of the fake's day, records by schema as DBN structured arrays."""

    date: str
    instruments: dict[int, Instrument] = field(default_factory=dict)
    records: dict[str, np.ndarray] = field(default_factory=dict)
    front: str = ""
    nxt: str = ""

    @classmethod
    def build(cls, date: str, workdir: Path, seed: int = 3) -> Universe:
        d0 = dt.date.fromisoformat(date)
        sim = sim_session.simulate_session(d0, seed, workdir, scale="small")
        u = cls(date)
        raw: dict[str, list[np.ndarray]] = {}
        for f in sim.files.values():
            store = dbn.open_store(f)
            schema = str(store.schema)
            raw.setdefault(schema, []).append(dbn.store_records(store, f))
        recs = {k: np.concatenate(v) for k, v in raw.items()}
        defs = recs["definition"]
        front = sim.front_month
        front_id = int(recs["mbp-10"]["instrument_id"][0])
        nxt = _next_contract(front)
        u.front, u.nxt = front, nxt
        next_id, spread_id = front_id + 1, front_id + 2
        u.instruments[front_id] = Instrument(front_id, front, "ES.FUT", "ES.v.0")
        u.instruments[next_id] = Instrument(next_id, nxt, "ES.FUT", "ES.v.1")
        u.instruments[spread_id] = Instrument(spread_id, f"{front}-{nxt}", "ES.FUT")
        root = sim_options.daily_root(d0)
        for row in defs:
            u.instruments[int(row["instrument_id"])] = Instrument(
                int(row["instrument_id"]), _s(row["raw_symbol"]), f"{root}.OPT"
            )
        # The next contract: every 10th front trade at size 1, every 20th book update; a spread
        # with every 50th trade. Less volume than the front, so Bronze keeps the front.
        fut_trades = recs["trades"][recs["trades"]["instrument_id"] == front_id]
        nt = _reid(fut_trades[::10], next_id)
        nt["size"] = 1
        sp = _reid(fut_trades[::50], spread_id)
        sp["size"] = 1
        nb = _reid(recs["mbp-10"][::20], next_id)
        # Options the plan must not ask for: 0DTE on the next contract (same root), and options on
        # the front expiring on the next trading date (that date's root).
        opt_ids = np.array(sorted(int(i) for i in defs["instrument_id"]))
        center = float(np.median(defs["strike_price"])) / 1e9
        ts_def = int(defs["ts_recv"][0])
        expiry = calendar.et_ns(d0, "16:00")
        nd = calendar.trading_dates(d0 + dt.timedelta(days=1), d0 + dt.timedelta(days=10))[0]
        extra_defs, extra_rows = [], {"mbp-1": [], "trades": [], "statistics": []}
        for first, und, und_id, exp, rt, mc in (
            (8_000_000, nxt, next_id, expiry, root, nxt[2:]),
            (9_000_000, front, front_id, calendar.et_ns(nd, "16:00"), sim_options.daily_root(nd), front[2:]),
        ):
            ds, info = sim_options.chain_definitions(d0, center, und, und_id, exp, ts_def, first, mc)
            if rt != root:  # another date's root: rename the raw symbols and asset
                ds = [_rerooted(m, root, rt) for m in ds]
            for m in ds:
                u.instruments[m.instrument_id] = Instrument(m.instrument_id, m.raw_symbol, f"{rt}.OPT")
            extra_defs += ds
            ids = np.array(sorted(info))
            mapping = dict(zip(opt_ids, ids[: len(opt_ids)], strict=False))
            for schema in extra_rows:
                src = recs[schema] if schema != "statistics" else recs["statistics"]
                src = src[np.isin(src["instrument_id"], list(mapping))][::3]
                out = src.copy()
                out["instrument_id"] = [mapping[int(i)] for i in src["instrument_id"]]
                extra_rows[schema].append(out)
        # Overnight 0DTE option quotes and trades (05:00 ET), before the options window.
        shift = calendar.et_ns(d0, "09:30") - calendar.et_ns(d0, "05:00")
        overnight = {}
        for schema in ("mbp-1", "trades"):
            src = recs[schema][np.isin(recs[schema]["instrument_id"], opt_ids)][:300].copy()
            src["ts_event"] -= shift
            src["ts_recv"] -= shift
            overnight[schema] = src
        defs_all = np.concatenate(
            [defs, np.frombuffer(b"".join(bytes(m) for m in extra_defs), dtype=defs.dtype)]
        )
        u.records = {
            "definition": defs_all,
            "trades": _sorted(
                np.concatenate([recs["trades"], nt, sp, overnight["trades"], *extra_rows["trades"]])
            ),
            "mbp-10": _sorted(np.concatenate([recs["mbp-10"], nb])),
            "mbp-1": _sorted(np.concatenate([recs["mbp-1"], overnight["mbp-1"], *extra_rows["mbp-1"]])),
            "statistics": np.concatenate([recs["statistics"], *extra_rows["statistics"]]),
        }
        u.records["bbo-1s"] = _bbo_1s(u.records["mbp-1"], u.records["trades"])
        return u

    def ids_for(self, symbols: list[str], stype_in: str) -> list[int]:
        """Instrument ids a request's symbols select (ValueError for an unknown stype)."""
        want = set(symbols)
        if stype_in == "parent":
            return sorted(i for i, x in self.instruments.items() if x.parent in want)
        if stype_in == "raw_symbol":
            return sorted(i for i, x in self.instruments.items() if x.raw_symbol in want)
        if stype_in == "continuous":
            return sorted(i for i, x in self.instruments.items() if x.continuous in want)
        if stype_in == "instrument_id":
            return sorted(int(s) for s in want if int(s) in self.instruments)
        raise ValueError(stype_in)


class FakeHistorical:
    """Stands in for `databento.Historical(key)` over a `Universe`. `log` holds one dict per call:
    kind (`resolve`, `get_cost`, `get_range`), schema, instruments, hours."""

    def __init__(self, universe: Universe, key: str = "db-TEST") -> None:
        self.u, self.key, self.log = universe, key, []
        self.symbology, self.metadata, self.timeseries = _Symbology(self), _Metadata(self), _Timeseries(self)

    def _note(self, kind: str, kw: dict) -> list[int]:
        ids = self.u.ids_for(list(kw["symbols"]), kw["stype_in"])
        self.log.append({"kind": kind, "schema": kw["schema"], "symbols": list(kw["symbols"]),
                         "instruments": len(ids), "hours": (kw["end"] - kw["start"]) / NS_H})  # fmt: skip
        return ids


class _Symbology:
    def __init__(self, outer: FakeHistorical) -> None:
        self.o = outer

    def resolve(
        self, dataset: str, symbols: list[str], stype_in: str, stype_out: str, start_date: str, end_date: str
    ) -> dict:
        assert dataset == "GLBX.MDP3"
        self.o.log.append({"kind": "resolve", "stype_in": stype_in, "stype_out": stype_out})
        if (stype_in, stype_out) not in {
            ("continuous", "instrument_id"),
            ("parent", "instrument_id"),
            ("instrument_id", "raw_symbol"),
        }:
            raise ValueError(f"unsupported symbology pair {stype_in} -> {stype_out}")
        out: dict[str, list[dict]] = {}
        for s in symbols:
            ids = self.o.u.ids_for([s], stype_in)
            vals = (
                [self.o.u.instruments[i].raw_symbol for i in ids]
                if stype_out == "raw_symbol"
                else [str(i) for i in ids]
            )
            out[s] = [{"d0": start_date, "d1": end_date, "s": v} for v in vals]
        return {"result": out, "symbols": symbols, "stype_in": stype_in, "stype_out": stype_out}


class _Metadata:
    def __init__(self, outer: FakeHistorical) -> None:
        self.o = outer

    def get_cost(self, **kw: Any) -> float:
        ids = self.o._note("get_cost", kw)
        return round(RATE_USD[kw["schema"]] * len(ids) * (kw["end"] - kw["start"]) / NS_H, 6)


class _Timeseries:
    def __init__(self, outer: FakeHistorical) -> None:
        self.o = outer

    def get_range(self, path: Path, **kw: Any) -> None:
        ids = self.o._note("get_range", kw)
        a = self.o.u.records[kw["schema"]]
        a = a[np.isin(a["instrument_id"], ids) & (a["ts_recv"] >= kw["start"]) & (a["ts_recv"] < kw["end"])]
        d0 = dt.date.fromisoformat(self.o.u.date)
        inst = self.o.u.instruments
        if kw["stype_in"] == "continuous":
            maps = [
                _Map(s, [_Iv(d0, d0 + dt.timedelta(days=1), str(i))])
                for s in kw["symbols"]
                for i in self.o.u.ids_for([s], "continuous")
            ]
        else:
            maps = [_Map(inst[i].raw_symbol, [_Iv(d0, d0 + dt.timedelta(days=1), str(i))]) for i in ids]
        md = d.Metadata(dataset="GLBX.MDP3", start=int(kw["start"]), end=int(kw["end"]), schema=d.Schema(kw["schema"]),
                        stype_in=d.SType(kw["stype_in"]), stype_out=d.SType.INSTRUMENT_ID,
                        symbols=list(kw["symbols"]), mappings=maps)  # fmt: skip
        tmp = Path(path).with_name(Path(path).name + ".w")
        writer.write_dbn(tmp, bytes(md), a.tobytes())
        shutil.move(tmp, path)


def _s(v: Any) -> str:
    return v.decode().rstrip("\x00") if isinstance(v, bytes) else str(v)


def _next_contract(sym: str) -> str:
    order = "HMUZ"
    i = order.index(sym[2])
    return f"ES{order[(i + 1) % 4]}{(int(sym[3:]) + (i == 3)) % 10}"


def _reid(a: np.ndarray, iid: int) -> np.ndarray:
    out = a.copy()
    out["instrument_id"] = iid
    return out


def _sorted(a: np.ndarray) -> np.ndarray:
    return a[np.argsort(a["ts_recv"], kind="stable")]


def _rerooted(m: d.InstrumentDefMsg, old: str, new: str) -> d.InstrumentDefMsg:
    """A copy of definition `m` with its raw symbol's root and asset renamed `old` -> `new`."""
    kw = {k: getattr(m, k) for k in ("publisher_id", "instrument_id", "ts_event", "ts_recv", "min_price_increment",
          "display_factor", "security_type", "instrument_class", "security_update_action", "expiration",
          "strike_price", "underlying_id", "underlying", "unit_of_measure_qty", "unit_of_measure", "currency",
          "exchange", "strike_price_currency")}  # fmt: skip
    return d.InstrumentDefMsg(**kw, raw_symbol=m.raw_symbol.replace(old, new, 1), asset=new)


def _bbo_1s(mbp1: np.ndarray, trades: np.ndarray) -> np.ndarray:
    """Databento's bbo-1s from mbp-1: per instrument and 1-second interval with an update, the last
    top of book; ts_recv the interval's end, ts_event the instrument's last trade (UNDEF before)."""
    dtype = dbn.record_dtype("bbo-1s")
    sec = (mbp1["ts_recv"] - 1) // 1_000_000_000 + 1  # interval end, clamped to the second
    key = mbp1["instrument_id"].astype(np.uint64) << np.uint64(34) | sec.astype(np.uint64)
    order = np.lexsort((mbp1["ts_recv"], key))
    k = key[order]
    last = order[np.r_[k[1:] != k[:-1], True]]
    src = mbp1[last]
    out = np.zeros(len(src), dtype=dtype)
    for f in dtype.names:
        if f in src.dtype.names and f not in ("rtype", "length", "ts_recv", "ts_event"):
            out[f] = src[f]
    out["length"] = dtype.itemsize // 4
    out["rtype"] = d.RType.BBO_1S.value
    out["ts_recv"] = sec[last] * 1_000_000_000
    tr = trades[np.argsort(trades["ts_event"], kind="stable")]
    out["ts_event"] = np.iinfo(np.uint64).max
    for iid in np.unique(out["instrument_id"]):
        t = tr["ts_event"][tr["instrument_id"] == iid]
        m = out["instrument_id"] == iid
        if len(t) == 0:
            continue
        j = np.searchsorted(t, out["ts_recv"][m], side="right") - 1
        ev = np.where(j >= 0, t[np.maximum(j, 0)], np.iinfo(np.uint64).max)
        out["ts_event"][m] = ev
    return _sorted(out)
