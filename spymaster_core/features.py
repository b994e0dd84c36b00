"""Silver features per touch from the engines (this release: kinematics and tape).

One row per touch, computed only from trades strictly before the touch time.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from spymaster_core.config import Config
from spymaster_core.engines.kinematics import kinematics
from spymaster_core.engines.tape import tape_metrics

FEATURE_COLUMNS = [
    "distance_pt",
    "velocity_1s_pt_s",
    "velocity_5s_pt_s",
    "velocity_30s_pt_s",
    "acceleration_pt_s2",
    "tape_buy_volume",
    "tape_sell_volume",
    "tape_imbalance",
    "tape_imbalance_through",
    "tape_n_trades",
]


def touch_features(trades: pl.DataFrame, touches: pl.DataFrame, cfg: Config) -> pl.DataFrame:
    """Feature rows keyed by `touch_id` (float64 columns FEATURE_COLUMNS).

    trades: `ts_event_ns`, `price`, `size`, `aggressor` of the date.
    """
    schema = {"touch_id": pl.String, **{c: pl.Float64 for c in FEATURE_COLUMNS}}
    if touches.is_empty():
        return pl.DataFrame(schema=schema)
    tr = trades.sort("ts_event_ns")
    ts = tr["ts_event_ns"].to_numpy()
    px = tr["price"].to_numpy()
    sz = tr["size"].to_numpy().astype(np.float64)
    ag = tr["aggressor"].to_numpy()
    hz = cfg.windows.kinematics_horizons_s
    rows = []
    for r in touches.iter_rows(named=True):
        k = kinematics(ts, px, r["ts_ns"], r["level_price"], r["direction"], hz)
        t = tape_metrics(
            ts,
            px,
            sz,
            ag,
            r["ts_ns"],
            r["level_price"],
            r["direction"],
            cfg.windows.W_t_s,
            cfg.bands.tape_band_pt,
        )
        rows.append(
            {
                "touch_id": r["touch_id"],
                "distance_pt": k.distance_pt,
                **{f"velocity_{int(h)}s_pt_s": v for h, v in k.velocity_pt_s.items()},
                "acceleration_pt_s2": k.acceleration_pt_s2,
                "tape_buy_volume": t.buy_volume,
                "tape_sell_volume": t.sell_volume,
                "tape_imbalance": t.imbalance,
                "tape_imbalance_through": t.imbalance_through,
                "tape_n_trades": float(t.n_trades),
            }
        )
    return pl.DataFrame(rows, schema=schema)
