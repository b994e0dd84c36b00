"""DatabentoResource and the download plan: only what Bronze keeps is asked for, priced before it
is fetched, resumable; the same Bronze lands as with the legacy plan; the key never leaks.

The fake Historical service (`tests/fake_databento.py`) serves a simulated day plus what a real
day also carries (next contract, a spread, other expiries, 0DTE on the next contract, overnight
option prints), with costs that scale with the instruments and hours asked for."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from spymaster_assets import databento_plan as plan
from spymaster_assets import databento_resource as dr
from spymaster_core import calendar
from spymaster_core.bronze import builders as bronze
from spymaster_core.bronze import selection
from spymaster_core.io import dbn
from tests.fake_databento import FakeHistorical, Universe

KEY = "db-SECRETSECRETSECRET"
DATE = "2026-11-16"  # far from a roll: ES.v.0 only
ROLL_DATE = "2026-12-14"  # between the ESZ6 roll date (Dec 10) and its expiry (Dec 18): ES.v.0 and ES.v.1


@pytest.fixture(scope="module")
def universes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Universe]:
    return {d: Universe.build(d, tmp_path_factory.mktemp(f"sim-{d}")) for d in (DATE, ROLL_DATE)}


@pytest.fixture
def vendor(monkeypatch: pytest.MonkeyPatch, universes: dict[str, Universe]):
    """`databento.Historical` replaced by the fake over DATE's universe (`vendor["date"]` switches)."""
    import databento

    state: dict = {"date": DATE, "clients": []}

    def make(key: str) -> FakeHistorical:
        assert key == KEY
        c = FakeHistorical(universes[state["date"]], key)
        state["clients"].append(c)
        return c

    monkeypatch.setattr(databento, "Historical", make)
    return state


def _calls(state: dict, kind: str) -> list[dict]:
    return [e for c in state["clients"] for e in c.log if e["kind"] == kind]


def _land_legacy(u: Universe, date: str, landing: Path) -> FakeHistorical:
    """What the legacy plan landed: every request of `plan.legacy_plan` fetched from the fake."""
    client = FakeHistorical(u)
    for r in plan.legacy_plan(date):
        dest = landing / "GLBX.MDP3" / str(r.schema) / date / r.filename(date)
        dest.parent.mkdir(parents=True, exist_ok=True)
        client.timeseries.get_range(**r.query(), path=dest)
    return client


def _bronze(landing: Path, date: str, tmp: Path) -> dict[str, pl.DataFrame]:
    """Every Bronze table of the date built from `landing`."""
    trades = bronze.futures_trades(landing, date).table
    front = str(trades["symbol"][0])
    out = tmp / "mbp10"
    out.mkdir(parents=True)
    bronze.futures_mbp10(landing, date, front, out)
    defs = bronze.options_definitions(landing, date, front).table
    return {
        "futures_trades": pl.from_arrow(trades),
        "futures_mbp10": pl.read_parquet(out / "*.parquet"),
        "options_definitions": pl.from_arrow(defs),
        "options_trades": pl.from_arrow(bronze.options_trades(landing, date, defs).table),
        "options_bbo": pl.from_arrow(bronze.options_bbo(landing, date, defs).table),
        "options_statistics": pl.from_arrow(bronze.options_statistics(landing, date, defs).table),
    }


def test_without_key_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABENTO_API_KEY", raising=False)
    with pytest.raises(
        dg.Failure, match="DATABENTO_API_KEY is not set. Create a key at https://databento.com"
    ):
        dr.DatabentoResource(api_key="").download("2026-11-16", tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("date", [DATE, ROLL_DATE])
def test_the_plan_asks_for_less_and_lands_the_same_bronze(
    vendor: dict, universes: dict[str, Universe], tmp_path: Path, date: str
) -> None:
    """Against the legacy plan on the same vendor: strictly fewer instruments, hours and
    instrument-hours asked for, a lower quoted cost, and every Bronze table equal (option BBO as
    mbp-1, the legacy schema). Around a roll both contracts and the 0DTE options on both are asked for."""
    vendor["date"] = date
    u = universes[date]
    report = dr.DatabentoResource(api_key=KEY, option_bbo_schema="mbp-1").download(date, tmp_path / "new")
    new_calls = _calls(vendor, "get_range")
    old_calls = _land_legacy(u, date, tmp_path / "old").log
    size = {k: (sum(e["instruments"] for e in v), sum(e["hours"] for e in v), sum(e["instruments"] * e["hours"] for e in v))
            for k, v in (("new", new_calls), ("old", old_calls))}  # fmt: skip
    assert all(n < o for n, o in zip(size["new"], size["old"], strict=True)), size
    c = report.comparison
    assert (
        c is not None
        and c.plan_usd < c.legacy_usd / 3
        and c.plan_instrument_hours < c.legacy_instrument_hours
    )
    assert c.legacy_instrument_hours == pytest.approx(size["old"][2])
    assert (c.plan_instruments, c.plan_instrument_hours) == (size["new"][0], pytest.approx(size["new"][2]))
    roll = date == ROLL_DATE
    assert report.futures == ({"ES.v.0": u.front, "ES.v.1": u.nxt} if roll else {"ES.v.0": u.front})
    fut = [e for e in new_calls if e["schema"] == "mbp-10"][0]
    assert sorted(fut["symbols"]) == sorted([u.front, u.nxt] if roll else [u.front])
    opt = [e for e in new_calls if e["schema"] == "trades" and e["symbols"][0] not in (u.front, u.nxt)][0]
    assert opt["hours"] == pytest.approx(8.0)  # 09:00 ET to the Globex close, 17:00 ET
    assert report.options_0dte == opt["instruments"] == (164 if roll else 82)
    new, old = (
        _bronze(tmp_path / "new", date, tmp_path / "bn"),
        _bronze(tmp_path / "old", date, tmp_path / "bo"),
    )
    for name in new:
        assert new[name].height > 0, name
        assert new[name].equals(old[name]), name
    lo = selection.options_window_ns(date)[0]
    assert new["options_trades"]["ts_event_ns"].min() >= lo  # the overnight prints are not kept


def test_bbo_1s_lands_the_last_quote_of_each_second(vendor: dict, tmp_path: Path) -> None:
    """The default option BBO (bbo-1s) in Bronze: per instrument and second, the last mbp-1 quote,
    stamped at the second's end (bbo-1s's `ts_event` is the last trade, not the quote time)."""
    one_s = dr.DatabentoResource(api_key=KEY).download(DATE, tmp_path / "a")
    assert "bbo-1s" in {f.parent.parent.name for f in one_s.files}
    full = dr.DatabentoResource(api_key=KEY, option_bbo_schema="mbp-1").download(DATE, tmp_path / "b")
    assert "mbp-1" in {f.parent.parent.name for f in full.files}
    defs = bronze.options_definitions(tmp_path / "a", DATE, "ESZ6").table
    got = pl.from_arrow(bronze.options_bbo(tmp_path / "a", DATE, defs).table)
    ref = pl.from_arrow(bronze.options_bbo(tmp_path / "b", DATE, defs).table)
    want = (
        ref.with_columns(
            ((pl.col("ts_recv_ns") - 1) // 1_000_000_000 * 1_000_000_000 + 1_000_000_000).alias("sec")
        )
        .group_by("instrument_id", "sec")
        .agg(pl.col("bid_px", "ask_px", "bid_sz", "ask_sz").sort_by("ts_recv_ns").last())
        .sort("sec", "instrument_id")
    )
    cols = ["instrument_id", "ts_event_ns", "bid_px", "ask_px", "bid_sz", "ask_sz"]
    assert got.height == want.height > 1000
    assert (
        got.sort("ts_event_ns", "instrument_id")
        .select(cols)
        .equals(want.rename({"sec": "ts_event_ns"}).select(cols))
    )


def test_a_bad_option_bbo_schema_is_refused_before_any_call(vendor: dict, tmp_path: Path) -> None:
    with pytest.raises(dg.Failure, match="option_bbo_schema='tbbo': expected one of"):
        dr.DatabentoResource(api_key=KEY, option_bbo_schema="tbbo").download(DATE, tmp_path)
    assert vendor["clients"] == []


def test_cost_above_limit_is_refused_before_any_download(vendor: dict, tmp_path: Path) -> None:
    with pytest.raises(dg.Failure, match=r"estimates \d+\.\d\d USD, above max_cost_usd=0.50"):
        dr.DatabentoResource(api_key=KEY, max_cost_usd=0.5).download(DATE, tmp_path)
    assert _calls(vendor, "get_range") == [] and _calls(vendor, "get_cost")
    assert not [f for f in tmp_path.rglob("*") if f.is_file()]


def test_download_resumes_and_never_fetches_a_verified_file_twice(vendor: dict, tmp_path: Path) -> None:
    """A second run prices and fetches nothing; after losing one file (a `.part` left behind) and
    cutting another short, only those two are priced and fetched; the other three are kept.
    Switching the option BBO to mbp-1 fetches that file and removes the bbo-1s one."""
    res = dr.DatabentoResource(api_key=KEY)
    first = res.download(DATE, tmp_path)
    assert (
        len(first.files) == 6
        and sorted(first.fetched) == sorted(first.files)
        and first.comparison is not None
    )
    vendor["clients"].clear()
    again = res.download(DATE, tmp_path)
    assert again.fetched == [] and again.kept == first.files and again.comparison is None
    assert _calls(vendor, "get_cost") == _calls(vendor, "get_range") == []
    lost, corrupt = first.files[1], first.files[4]
    lost.rename(lost.with_name(f".{lost.name}.part"))
    corrupt.write_bytes(corrupt.read_bytes()[:100])  # cut short: an interrupted copy
    vendor["clients"].clear()
    third = res.download(DATE, tmp_path)
    assert sorted(third.fetched) == sorted([lost, corrupt]) and len(third.kept) == 4
    assert len(_calls(vendor, "get_range")) == 2
    assert sorted(str(r.schema) for r, _ in third.costs_usd) == sorted(
        f.parent.parent.name for f in third.fetched
    )
    assert (
        third.total_usd == pytest.approx(sum(c for _, c in third.costs_usd))
        and third.metadata()["fetched"] == 2
    )
    for f in third.files:
        dbn.open_store(f)  # every landed file is complete DBN
    switched = dr.DatabentoResource(api_key=KEY, option_bbo_schema="mbp-1").download(DATE, tmp_path)
    assert [f.parent.parent.name for f in switched.fetched] == ["mbp-1"]
    assert [f.parent.parent.name for f in switched.superseded] == ["bbo-1s"]
    assert not list((tmp_path / "GLBX.MDP3" / "bbo-1s").rglob("*.dbn.zst"))


def test_a_file_that_is_not_what_was_asked_for_is_refused(
    vendor: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The vendor answers the MBP-10 request with trades: the file is refused naming the file and
    the schema, and nothing half-checked is left in landing."""
    orig = FakeHistorical.__init__

    def init(self: FakeHistorical, *a, **kw) -> None:
        orig(self, *a, **kw)
        get = self.timeseries.get_range
        self.timeseries.get_range = lambda path, **q: get(
            path, **(q | {"schema": "trades"} if q["schema"] == "mbp-10" else q)
        )

    monkeypatch.setattr(FakeHistorical, "__init__", init)
    with pytest.raises(
        ValueError,
        match=r"es-fut\.mbp-10\.dbn\.zst: DBN metadata schema is 'trades', the request asked for 'mbp-10'",
    ):
        dr.DatabentoResource(api_key=KEY).download(DATE, tmp_path)
    assert not [f for f in (tmp_path / "GLBX.MDP3" / "mbp-10").rglob("*") if f.is_file()]
    assert not list(tmp_path.rglob(".*.part"))


def test_roll_window_and_zero_dte_symbols(universes: dict[str, Universe]) -> None:
    assert [calendar.in_roll_window(d) for d in ("2026-11-16", "2026-12-02", "2026-12-03", "2026-12-18", "2026-12-21")] == [
        False, False, True, True, False,
    ]  # fmt: skip
    u = universes[DATE]
    defs = pl.from_arrow(dbn.normalise_records("definition", u.records["definition"], {}, "t")["definitions"])
    front_only = plan.zero_dte_symbols(defs, (u.front,), DATE)
    both = plan.zero_dte_symbols(defs, (u.front, u.nxt), DATE)
    assert len(front_only) == 82 and len(both) == 164 and set(front_only) < set(both)
    with pytest.raises(ValueError, match="option_bbo_schema='tbbo'"):
        plan.option_requests(DATE, front_only, "tbbo")


def test_landing_inventory(tmp_path: Path) -> None:
    d = tmp_path / "GLBX.MDP3" / "trades" / "2026-11-16"
    d.mkdir(parents=True)
    (d / "a.dbn.zst").write_bytes(b"x" * 10)
    (d / ".hidden.part").write_bytes(b"x")
    assert dr.landing_inventory(tmp_path) == [
        {"source": "GLBX.MDP3", "schema": "trades", "date": "2026-11-16", "files": 1, "bytes": 10}
    ]


def test_code_location_takes_the_key_as_an_env_var() -> None:
    """The key is a resource field resolved by Dagster (`EnvVar`), not read from os.environ in an asset."""
    from spymaster_assets.definitions import defs

    key = defs.resources["databento"].api_key
    assert isinstance(key, dg.EnvVar) and key.env_var_name == "DATABENTO_API_KEY"


def test_the_landing_asset_shows_costs_and_resumes(vendor: dict, tmp_path: Path) -> None:
    """`databento_landing` in Dagster: the first materialization fetches six files and shows the
    cost of each request and the comparison with the legacy plan; the second keeps them all."""
    from spymaster_assets.defs.landing import databento_landing
    from spymaster_assets.resources import LakeResource

    resources = {
        "lake": LakeResource(root=str(tmp_path / "lake")),
        "databento": dr.DatabentoResource(api_key=KEY),
    }
    mds = []
    for _ in range(2):
        res = dg.materialize([databento_landing], partition_key=DATE, resources=resources)
        mat = res.asset_materializations_for_node("databento_landing")[0]
        mds.append({k: v.value for k, v in mat.metadata.items()})
    assert mds[0]["fetched"] == 6 and mds[0]["kept"] == 0 and mds[0]["futures"] == "ES.v.0=ESZ6"
    assert mds[0]["options_0dte"] == 82 and mds[0]["cost_usd"] > 0
    assert "| mbp-10 | 1 (ESZ6) |" in mds[0]["costs"] and "| bbo-1s | 82 (" in mds[0]["costs"]
    assert (
        "| legacy (ES.FUT" in mds[0]["plan_vs_legacy"] and mds[0]["legacy_plan_usd"] > 3 * mds[0]["cost_usd"]
    )
    assert mds[1]["fetched"] == 0 and mds[1]["kept"] == 6 and mds[1]["cost_usd"] == 0.0
    assert "plan_vs_legacy" not in mds[1]
    assert len(list((tmp_path / "lake" / "landing" / "GLBX.MDP3").rglob("*.dbn.zst"))) == 6
