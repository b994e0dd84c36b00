"""The contract size comes from the instrument definitions (issue 22: "ES multiplier from the
definitions, not hard-coded"): real Databento ES definitions say 50, the simulator writes the same
field, a mixed ES/NQ set is refused, and the tick-tier backtest prices P&L with it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from spymaster_core.bronze.contract_terms import multiplier_usd_per_pt
from spymaster_core.io import dbn

NT = "nautilus_trader/tests/test_data/databento"


def _defs(path: Path) -> pl.DataFrame:
    return pl.from_arrow(dbn.decode_file(path).tables["definitions"])


def test_real_es_definitions_give_50_usd_per_point(samples: Path) -> None:
    """Databento's real ES option and future definitions carry the contract size in
    unit_of_measure_qty (50); contract_multiplier is CME's undefined sentinel and reads as null."""
    opts = _defs(samples / NT / "definition-glbx-es-opt.dbn.zst")
    assert set(opts["raw_symbol"]) == {"ESM4 C4250", "ESM4 C3550"}
    assert opts["contract_multiplier"].null_count() == opts.height  # i32 max on the wire
    assert multiplier_usd_per_pt(opts, "es-opt") == 50.0
    fut = _defs(samples / "databento-python/tests/data/GLBX.MDP3/test_data.definition.dbn.zst")
    assert fut["raw_symbol"].to_list() == ["ESH1"] and multiplier_usd_per_pt(fut, "esh1") == 50.0


def test_mixed_contract_sizes_are_refused_with_the_source_named(samples: Path) -> None:
    both = _defs(samples / NT / "options_catalog/databento/futures_definition.dbn.zst")
    assert set(both["raw_symbol"]) == {"ESM4", "NQM4"}  # NQ is $20 per point
    with pytest.raises(ValueError, match=r"futures_definition.*\[20.0, 50.0\]"):
        multiplier_usd_per_pt(both, "futures_definition.dbn.zst")


def test_no_definitions_means_none_so_the_caller_uses_the_config() -> None:
    assert multiplier_usd_per_pt(pl.DataFrame(), "empty") is None
    assert (
        multiplier_usd_per_pt(
            pl.DataFrame({"unit_of_measure_qty": [None]}, schema={"unit_of_measure_qty": pl.Float64}), "nulls"
        )
        is None
    )


def test_simulated_definitions_carry_the_real_field(sim_day) -> None:  # noqa: ANN001
    defs = sim_day.options["definitions"]
    assert defs.height > 0 and defs["contract_multiplier"].null_count() == defs.height
    assert multiplier_usd_per_pt(defs, "sim") == 50.0
