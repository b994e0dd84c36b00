"""Shared fixtures: the real Databento samples in ../shared/data (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("SPYMASTER_SAMPLES", str(REPO.parent / "shared" / "data"))).resolve()
MBO_DAY = SAMPLES / "nautilus_trader/tests/test_data/databento/esh4-glbx-mdp3-20231225.mbo.dbn.zst"
ESM8_CSV = SAMPLES / "rTrawl/data/ESM8_trades_2018-05-07.from_RData.csv"


def pytest_configure(config: pytest.Config) -> None:
    """Prepare the dbt manifest before test modules import the Dagster code location (importing it
    parses nothing; see spymaster_assets/dbt_project.py)."""
    from spymaster_assets.dbt_project import prepare

    prepare()


@pytest.fixture(autouse=True)
def _environ_restored():  # noqa: ANN202 - a generator fixture
    """Every test leaves os.environ as it found it. Commands run in-process (CliRunner) point
    SPYMASTER_LAKE / DAGSTER_HOME at their data dir (`instance.prepare_location`); a leaked value
    sent a later test's `spymaster live` subprocess to another test's lake (CI, December 2026)."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.exists():
        pytest.fail(f"real sample folder {SAMPLES} is missing (expected ../shared/data beside the repo)")
    return SAMPLES


@pytest.fixture(scope="session")
def sim_day(tmp_path_factory: pytest.TempPathFactory):
    """One simulated demo-scale date (seed 1) through Bronze, levels, touches and labels."""
    from spymaster_core.config import DEFAULT_CONFIG
    from spymaster_core.sim.day import build_sim_day

    return build_sim_day("2026-11-16", 1, tmp_path_factory.mktemp("sim_day"), DEFAULT_CONFIG)
