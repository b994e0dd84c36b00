"""Market simulator: writes a trading session as genuine Databento DBN files.

`simulate_session(date, seed, out_dir)` writes, under `out_dir/GLBX.MDP3/<schema>/<date>/`,
ES front-month trades and MBP-10 (and, on request, MBO) from 04:00 to 16:00 ET from an order-level
queue book, and the 0DTE option chain's definitions, BBO (mbp-1), trades and open interest. Deterministic for a (date, seed). The planted regime is documented in
`spymaster_core.sim.path`.
"""

from spymaster_core.sim.session import SimResult, front_month_symbol, simulate_session

__all__ = ["SimResult", "front_month_symbol", "simulate_session"]
