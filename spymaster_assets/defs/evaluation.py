"""The simulator against real ES as an asset (issue 20): `realism_report` measures the simulated
dates of the lake beside the real files (`spymaster_assets.realism_run`, the same code as
`spymaster realism`) and writes gold/evaluation/realism.parquet; the UI shows the in-band count
and the table."""

import dagster as dg

from spymaster_assets.resources import LakeResource
from spymaster_assets.versioning import code_version, current_config, version_metadata

SECTIONS = ("session", "levels", "labels")


@dg.asset(
    group_name="evaluation",
    code_version=code_version(*SECTIONS),
    deps=[dg.AssetKey("bronze_futures_trades"), dg.AssetKey("bronze_futures_mbp10")],
)
def realism_report(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Every statistic of `research.realism` on the lake's simulated dates (those with the
    simulator's ground truth in landing/truth/) against the real files; metadata: statistics in
    band out of those measured, the misses, and the whole table. Raises ValueError when the lake
    holds no simulated date, FileNotFoundError when the real bars are missing."""
    import polars as pl

    from spymaster_assets import realism_run

    table, lines = realism_run.run(lake.data_dir, lake.path, current_config(), echo=context.log.info)
    judged = table.filter(pl.col("in_band").is_not_null())
    misses = judged.filter(~pl.col("in_band"))
    context.log.info(lines[-1])
    return dg.MaterializeResult(
        metadata={
            "in_band": int(judged["in_band"].sum()),
            "of": judged.height,
            "sim_inputs": lines[1].removeprefix("SIM:  "),
            "misses": dg.MetadataValue.json(
                {r["statistic"]: {"real": r["real"], "sim": r["sim"]} for r in misses.iter_rows(named=True)}
            ),
            "table": dg.MetadataValue.md("\n".join(["```", *lines, "```"])),
            **version_metadata(*SECTIONS),
        }
    )


assets = [realism_report]
