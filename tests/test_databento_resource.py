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
    """Stands in for databento.Historical: quotes a cost and writes a real sample DBN file."""

    calls: list[tuple[str, dict]] = []

    def __init__(self, key: str, sample: Path, cost: float) -> None:
        assert key == KEY
        outer = self

        class Metadata:
            def get_cost(self, **kw):
                outer.calls.append(("get_cost", kw))
                return cost

        class Timeseries:
            def get_range(self, **kw):
                outer.calls.append(("get_range", kw))
                shutil.copy(sample, kw["path"])

        self.metadata, self.timeseries = Metadata(), Timeseries()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, samples: Path):
    import databento

    sample = samples / "databento-python/tests/data/GLBX.MDP3/test_data.trades.dbn.zst"
    _FakeHistorical.calls = []
    state = {"cost": 1.5}
    monkeypatch.setattr(databento, "Historical", lambda key: _FakeHistorical(key, sample, state["cost"]))
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
    files = dr.DatabentoResource(api_key=KEY).download("2026-11-16", tmp_path)
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
