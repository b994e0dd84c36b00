"""Contract terms read from instrument definitions rather than assumed: the USD value of one index
point per contract (ES 50, MES 5), which turns P&L in points into dollars (issue 22).

Databento's GLBX.MDP3 definitions carry the contract size in `unit_of_measure_qty` (CME tag 1147,
UnitOfMeasureQty: 50 with `unit_of_measure` IPNT, index points, on ES futures and on options on
them, one future each); `contract_multiplier` is left undefined on ES. Source: Databento's
instrument definitions schema reference (https://databento.com/docs/schemas-and-data-formats/
instrument-definitions) and the CME ES contract specification ($50 x the S&P 500 index).
"""

from __future__ import annotations

import polars as pl


def multiplier_usd_per_pt(definitions: pl.DataFrame, source: str) -> float | None:
    """The one contract size (USD per index point per contract) of `definitions` (rows of
    `definitions.v2`: the Bronze option definitions of ES, whose options deliver one ES future).

    Returns None when no row carries `unit_of_measure_qty` (e.g. no definitions were downloaded, or a
    v1 file); the caller then falls back to `instrument.es_multiplier_usd_per_pt` and says so.
    Raises ValueError naming `source` and the values when the rows disagree (two contract sizes in
    one set of ES definitions means a mixed download, e.g. ES and MES)."""
    if definitions.is_empty() or "unit_of_measure_qty" not in definitions.columns:
        return None
    sizes = sorted(definitions["unit_of_measure_qty"].drop_nulls().unique().to_list())
    if not sizes:
        return None
    if len(sizes) > 1:
        raise ValueError(
            f"{source}: definitions disagree on the contract size (unit_of_measure_qty {sizes}); "
            "expected one ES contract size"
        )
    return float(sizes[0])
