"""DatabentoResource: cost estimate before download, files land in the layout, key never leaks."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from spymaster_assets import databento_resource as dr
from spymaster_core.io import dbn

KEY = "db-SECRETSECRETSECRET"


class _FakeHistorical:
    """Stands in for databento.Historical: quotes a cost and writes Databento's real sample DBN file
    of the requested schema (or `sample` for every request, when given)."""

    calls: list[tuple[str, dict]] = []

    def __init__(self, key: str, samples: Path, cost: float, sample: Path | None = None) -> None:
        assert key == KEY
        outer = self

        class Metadata:
            def get_cost(self, **kw):
                outer.calls.append(("get_cost", kw))
                return cost

        class Timeseries:
            def get_range(self, **kw):
                outer.calls.append(("get_range", kw))
                shutil.copy(sample or samples / f"test_data.{kw['schema']}.dbn.zst", kw["path"])

        self.metadata, self.timeseries = Metadata(), Timeseries()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, samples: Path):
    import databento

    folder = samples / "databento-python/tests/data/GLBX.MDP3"
    _FakeHistorical.calls = []
    state: dict = {"cost": 1.5, "sample": None}
    monkeypatch.setattr(
        databento, "Historical", lambda key: _FakeHistorical(key, folder, state["cost"], state["sample"])
    )
    return state


def test_without_key_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABENTO_API_KEY", raising=False)
    with pytest.raises(
        dg.Failure, match="DATABENTO_API_KEY is not set. Create a key at https://databento.com"
    ):
        dr.DatabentoResource(api_key="").download("2026-11-16", tmp_path)
    assert not any(tmp_path.iterdir())


def test_download_estimates_then_lands_files(
    fake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    report = dr.DatabentoResource(api_key=KEY).download("2026-11-16", tmp_path)
    files = report.files
    assert report.fetched == files and report.kept == [] and report.total_usd == 6 * 1.5
    kinds = [c[0] for c in _FakeHistorical.calls]
    assert kinds[:6] == ["get_cost"] * 6 and kinds[6:] == ["get_range"] * 6  # every cost asked first
    assert {f.parent.parent.name for f in files} == {"trades", "mbp-10", "definition", "mbp-1", "statistics"}
    assert all(f.parent.name == "2026-11-16" and f.parent.parent.parent.name == "GLBX.MDP3" for f in files)
    assert dbn.decode_file(files[0]).tables["trades"].num_rows == 4
    assert not list(tmp_path.rglob(".*.part"))
    fut = [c[1] for c in _FakeHistorical.calls if c[0] == "get_range" and c[1]["symbols"] == ["ES.FUT"]]
    assert {c["schema"] for c in fut} == {"trades", "mbp-10"} and fut[0]["stype_in"] == "parent"
    assert KEY not in caplog.text


def test_cost_above_limit_is_refused(fake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    fake["cost"] = 100.0
    with pytest.raises(dg.Failure, match=r"estimates 600.00 USD, above max_cost_usd=25.00"):
        dr.DatabentoResource(api_key=KEY).download("2026-11-16", tmp_path)
    assert [c[0] for c in _FakeHistorical.calls if c[0] == "get_range"] == []


def test_download_resumes_and_never_fetches_a_verified_file_twice(fake, tmp_path: Path) -> None:
    """A second run fetches nothing; after losing one file (a `.part` left behind) and corrupting
    another, only those two are asked for, costed and fetched; the other four are kept."""
    res = dr.DatabentoResource(api_key=KEY)
    first = res.download("2026-11-16", tmp_path)
    _FakeHistorical.calls = []
    again = res.download("2026-11-16", tmp_path)
    assert again.fetched == [] and again.kept == first.files and _FakeHistorical.calls == []
    lost, corrupt = first.files[1], first.files[3]
    lost.rename(lost.with_name(f".{lost.name}.part"))
    corrupt.write_bytes(corrupt.read_bytes()[:100])  # cut short: an interrupted copy
    third = res.download("2026-11-16", tmp_path)
    assert third.fetched == [lost, corrupt] and len(third.kept) == 4
    assert [c[0] for c in _FakeHistorical.calls] == ["get_cost", "get_cost", "get_range", "get_range"]
    assert third.total_usd == 2 * 1.5 and third.metadata()["fetched"] == 2
    for f in third.files:
        dbn.open_store(f)  # every landed file is complete DBN


def test_a_file_that_is_not_what_was_asked_for_is_refused(fake, tmp_path: Path, samples: Path) -> None:
    """The vendor sends trades for every request: the MBP-10 file is refused naming the file and
    the schema, and nothing half-checked is left in landing."""
    fake["sample"] = samples / "databento-python/tests/data/GLBX.MDP3/test_data.trades.dbn.zst"
    with pytest.raises(
        ValueError,
        match=r"es-fut\.mbp-10\.dbn\.zst: DBN metadata schema is 'trades', the request asked for 'mbp-10'",
    ):
        dr.DatabentoResource(api_key=KEY).download("2026-11-16", tmp_path)
    assert not [f for f in (tmp_path / "GLBX.MDP3" / "mbp-10").rglob("*") if f.is_file()]
    assert not list(tmp_path.rglob(".*.part"))


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


def test_the_landing_asset_shows_costs_and_resumes(fake, tmp_path: Path) -> None:
    """`databento_landing` in Dagster: the first materialization fetches six files and shows the
    cost of each request; the second keeps them all and costs nothing."""
    from spymaster_assets.defs.landing import databento_landing
    from spymaster_assets.resources import LakeResource

    resources = {
        "lake": LakeResource(root=str(tmp_path / "lake")),
        "databento": dr.DatabentoResource(api_key=KEY),
    }
    mds = []
    for _ in range(2):
        res = dg.materialize([databento_landing], partition_key="2026-11-16", resources=resources)
        mat = res.asset_materializations_for_node("databento_landing")[0]
        mds.append({k: v.value for k, v in mat.metadata.items()})
    assert mds[0]["fetched"] == 6 and mds[0]["kept"] == 0 and mds[0]["cost_usd"] == 9.0
    assert mds[0]["costs"].count("| 1.50 |") == 6 and "| mbp-10 | 1 (ES.FUT) |" in mds[0]["costs"]
    assert mds[1]["fetched"] == 0 and mds[1]["kept"] == 6 and mds[1]["cost_usd"] == 0.0
    assert len(list((tmp_path / "lake" / "landing" / "GLBX.MDP3").rglob("*.dbn.zst"))) == 6
