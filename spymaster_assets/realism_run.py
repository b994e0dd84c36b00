"""`spymaster realism` and the `realism_report` asset: the simulator against real ES, side by side
(`spymaster_core.research.realism`), written to gold/evaluation/realism.parquet.

Two ways to get the simulated side:
- from the lake: the given dates' Bronze trades and MBP-10 (by default every date the simulator
  landed there, known by its ground truth in landing/truth/; sessions without a complete RTH are
  skipped by the statistics themselves);
- `--simulate N`: N consecutive trading dates up to 2026-11-20 simulated at the `small` scale (the
  price path, levels and resting orders do not depend on the scale) plus the last one at the
  `realistic` scale, whose prints and book give the tape and book statistics (trade rates do).
  Files are kept under <data_dir>/realism/ and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from ml import sim_study
from spymaster_assets.demo import real_dir, samples_dir
from spymaster_core.config import Config
from spymaster_core.io import lake
from spymaster_core.research import realism, realism_sides


def simulated_side(
    n: int, seed: int, workdir: Path, cfg: Config, echo: Callable[[str], None]
) -> realism_sides.Side:
    """Simulate (or reuse) n dates under workdir/landing (module docstring) and measure them."""
    from spymaster_core.bronze import builders as bronze
    from spymaster_core.sim import simulate_session

    dates = sim_study.study_dates(n)  # the last n trading dates up to 2026-11-20
    land = workdir / "landing"
    mbo: list[Path] = []
    for i, d in enumerate(dates):
        scale = "realistic" if i == len(dates) - 1 else "small"
        if bronze.landing_files(land, "trades", d):
            found = sorted((land / "GLBX.MDP3" / "mbo" / d).glob("*.mbo.dbn.zst"))
            mbo += found
            continue
        r = simulate_session(d, seed, land, scale=scale, with_mbo=i == 0)
        mbo += [r.files["mbo"]] if "mbo" in r.files else []
        echo(f"[realism] simulated {d} ({scale}) {i + 1}/{len(dates)}")
    frames = realism_sides.frames_from_landing(land, dates, workdir / "bronze_mbp10", {dates[-1]})
    side = realism_sides.sim_side(frames, cfg, mbo, tape_dates={dates[-1]})
    side.what += f" (seed {seed}; tape and book from {dates[-1]} at the realistic scale)"
    return side


def simulated_lake_dates(root: lake.LakePath) -> list[str]:
    """Dates the simulator wrote into the lake's landing (those with ground truth under
    landing/truth/, `sim.session.write_truth`) that have Bronze trades: real files landed in the
    same lake are left out."""
    files = lake.glob(lake.join(root, "landing", "truth"), "*/*.planted.parquet")
    truth = {str(f).rsplit("/", 2)[-2] for f in files}
    return [d for d in lake.written_dates(root, "futures_trades") if d in truth]


def lake_side(root: lake.LakePath, dates: list[str] | None, cfg: Config) -> realism_sides.Side:
    """The simulated side from dates in the lake (default: `simulated_lake_dates`). Raises
    ValueError naming the lake when there are none."""
    chosen = dates if dates is not None else simulated_lake_dates(root)
    if not chosen:
        raise ValueError(
            f"no simulated dates in the lake at {root} (landing/truth/ is empty): pass --dates, or "
            "--simulate N to simulate dates for the comparison"
        )
    side = realism_sides.sim_side(realism_sides.frames_from_lake(root, chosen), cfg)
    side.what += " from the lake"
    return side


def run(
    data_dir: Path,
    root: lake.LakePath,
    cfg: Config,
    dates: list[str] | None = None,
    simulate: int = 0,
    seed: int = 1,
    echo: Callable[[str], None] = print,
) -> tuple[pl.DataFrame, list[str]]:
    """Measure both sides, write the table to the lake (`realism`, temp file then rename) and return
    (table, printed lines). Raises FileNotFoundError when the real bars are missing and ValueError
    when no simulated date has trades."""
    real = realism_sides.real_side(real_dir(), samples_dir(), cfg)
    if simulate:
        sim = simulated_side(simulate, seed, data_dir / "realism", cfg, echo)
    else:
        sim = lake_side(root, dates, cfg)
    table = realism_sides.comparison(real, sim)
    out = table.with_columns(real_inputs=pl.lit(real.what), sim_inputs=pl.lit(sim.what))
    lake.write_file(lake.file_path(root, "realism"), out)
    return table, realism.render(table, real.what, sim.what)
