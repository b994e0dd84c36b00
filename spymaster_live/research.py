"""Offline research views served by the gateway (server-rendered HTML + SVG, no scripts):

- `day_view_html(lake_root, date)`: the date's 2-minute closes (Silver `bars_2m`), its levels
  (`levels`, dynamic ones as steps from their valid_from time), and its touches (`touches`
  joined to `labels`) as markers coloured by outcome (BREAK red, BOUNCE green, CHOP grey).
- `models_view_html(data_dir)`: the MLflow run comparison (`ml.registry.compare_runs`): held-out
  direction AUC of the model, both baselines and the sequence baseline, Brier, touches, and which
  run the `champion` alias points at.
- `backtest_view_html(lake_root, date, tier)`: the level-trade backtest of a tier
  (`bar_backtest_trades` / `tick_backtest_trades` in the lake): every policy's cumulative P&L
  after costs on one axis, the per-policy figures, and the trade list of a chosen date.
All raise FileNotFoundError naming what is missing (the gateway turns it into a 404).
"""

from __future__ import annotations

import html
from pathlib import Path

from spymaster_core.io import lake

POLICY_COLOR = {
    "always_fade": "#30a46c",
    "always_break": "#e5484d",
    "base_rate": "#f5a524",
    "model": "#4cc3ff",
}
OUTCOME_COLOR = {"BREAK": "#e5484d", "BOUNCE": "#30a46c", "CHOP": "#8894a2"}
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/dashboard.css"></head><body>
<header><span class="brand">Spymaster</span><span>{title}</span><span class="spacer"></span>
<a href="/" style="color:#4cc3ff">live dashboard</a></header><main style="display:block">{body}</main></body></html>"""


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=html.escape(title), body=body)


def day_view_html(lake_root: lake.LakePath, date: str) -> str:
    """The research page for one date (see module docstring)."""
    bars = lake.read_partition(lake_root, "bars_2m", date)
    if bars is None or bars.is_empty():
        have = ", ".join(lake.written_dates(lake_root, "bars_2m")[-10:]) or "none"
        raise FileNotFoundError(f"no Silver bars_2m for {date} in the lake (latest dates: {have})")
    levels = lake.read_partition(lake_root, "levels", date)
    touches = lake.read_partition(lake_root, "touches", date)
    labels = lake.read_partition(lake_root, "labels", date)
    if touches is not None and labels is not None and not touches.is_empty():
        touches = touches.join(labels.select("touch_id", "outcome"), on="touch_id", how="left")
    W, H, pad = 1200, 520, 50
    t0, t1 = int(bars["bar_start_ns"].min()), int(bars["bar_start_ns"].max()) + 120 * 10**9
    prices = bars["close"].to_list()
    if levels is not None and not levels.is_empty():
        prices += levels["price"].to_list()
    lo, hi = min(prices) - 1, max(prices) + 1

    def x(ts: int) -> float:
        return pad + (ts - t0) / max(1, t1 - t0) * (W - 2 * pad)

    def y(px: float) -> float:
        return H - pad - (px - lo) / max(1e-9, hi - lo) * (H - 2 * pad)

    parts = [f'<svg id="day" viewBox="0 0 {W} {H}" style="height:{H}px;background:#171c23">']
    pts = " ".join(
        f"{x(int(t) + 120 * 10**9):.1f},{y(c):.1f}"
        for t, c in zip(bars["bar_start_ns"], bars["close"], strict=True)
    )
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#dde3ea" stroke-width="1.2"/>')
    if levels is not None:
        for (lid,), g in (
            levels.sort("valid_from_ns").partition_by("level_id", as_dict=True, maintain_order=True).items()
        ):
            vf, px = g["valid_from_ns"].to_list(), g["price"].to_list()
            seg = " ".join(
                f"{x(max(t0, a)):.1f},{y(p):.1f} {x(b):.1f},{y(p):.1f}"
                for a, b, p in zip(vf, [*vf[1:], t1], px, strict=True)
            )
            parts.append(f'<g class="level" data-level="{html.escape(lid)}"><polyline points="{seg}" fill="none" '
                         f'stroke="#5b8def" stroke-dasharray="4 3"/><text x="{W - pad + 2}" y="{y(px[-1]) + 4:.1f}" '
                         f'fill="#5b8def" font-size="11">{html.escape(lid)}</text></g>')  # fmt: skip
    n_touch = 0
    if touches is not None:
        for r in touches.iter_rows(named=True):
            out = r.get("outcome") or "UNLABELLED"
            c = OUTCOME_COLOR.get(out, "#f5a524")
            parts.append(f'<circle class="touch {out}" data-touch="{html.escape(r["touch_id"])}" cx="{x(r["ts_ns"]):.1f}" '
                         f'cy="{y(r["touch_price"]):.1f}" r="5" fill="{c}"><title>{html.escape(r["level_id"])} '
                         f'{r["direction"]} {out}</title></circle>')  # fmt: skip
            n_touch += 1
    parts.append("</svg>")
    counts = (
        touches.group_by("outcome").len().sort("outcome").iter_rows()
        if touches is not None and "outcome" in touches.columns
        else []
    )
    summary = ", ".join(f"{o or 'unlabelled'} {n}" for o, n in counts) or "none"
    body = (
        f"<section><h2>{html.escape(date)}: 2-minute closes, levels (blue, dashed) and {n_touch} touches "
        f"(<span style='color:#e5484d'>break</span> / <span style='color:#30a46c'>bounce</span> / chop): "
        f"{html.escape(summary)}</h2>{''.join(parts)}</section>"
    )
    return _page(f"Research · {date}", body)


def models_view_html(data_dir: Path) -> str:
    """The model comparison page (see module docstring)."""
    from ml import registry

    runs = registry.compare_runs(data_dir)
    if runs.is_empty():
        raise FileNotFoundError("no MLflow training runs yet (materialize break_bounce_model)")
    cols = [c for c in runs.columns if c not in ("config_hash",)]

    def cell(v: object) -> str:
        if isinstance(v, str) and len(v) == 32:  # an MLflow run id: its first 12 hex digits
            return html.escape(v[:12])
        if isinstance(v, float):
            return f"{v:.3f}"
        return "" if v is None else html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = "".join(
        f'<tr data-run="{r["run_id"]}"{" class=champion" if r["champion"] else ""}>'
        + "".join(
            f"<td>{'champion' if c == 'champion' and r[c] else ('' if c == 'champion' else cell(r[c]))}</td>"
            for c in cols
        )
        + "</tr>"
        for r in runs.iter_rows(named=True)
    )
    body = (
        "<section><h2>Training runs (MLflow), newest first: held-out direction AUC of the model, "
        "the level-kind base rate, the logistic baseline and the sequence baseline</h2>"
        f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>'
    )
    return _page("Research · models", body)


BACKTEST_TIERS = {"bars": "backtest_trades", "tick": "backtest_trades_tick"}


def backtest_view_html(lake_root: lake.LakePath, date: str | None = None, tier: str | None = None) -> str:
    """The backtest page (see module docstring); `date` picks the trade list (default: the last
    date with trades), `tier` the tier (`bars` or `tick`; default the first the lake has)."""
    import polars as pl

    have = [t for t, name in BACKTEST_TIERS.items() if lake.exists(lake.file_path(lake_root, name))]
    if tier is not None and tier not in BACKTEST_TIERS:
        raise FileNotFoundError(f"no backtest tier {tier!r} (tiers: {', '.join(BACKTEST_TIERS)})")
    if not have or (tier is not None and tier not in have):
        raise FileNotFoundError(
            f"no {tier + ' ' if tier else ''}backtest in the lake ({lake.file_path(lake_root, BACKTEST_TIERS[tier or 'bars'])}): "
            "run `spymaster bars import` (bars) or materialize tick_backtest_trades (tick) first"
        )
    tier = tier or have[0]
    path = lake.file_path(lake_root, BACKTEST_TIERS[tier])
    trades = lake.read_parquet(path).sort("exit_ns")
    if trades.is_empty():
        raise FileNotFoundError(f"the backtest at {path} has no trades")
    W, H, pad = 1200, 420, 60
    t0, t1 = int(trades["exit_ns"].min()), int(trades["exit_ns"].max())
    curves = {
        p: g["pnl_usd"].cum_sum().to_list() for (p,), g in trades.group_by("policy", maintain_order=True)
    }
    exits = {p: g["exit_ns"].to_list() for (p,), g in trades.group_by("policy", maintain_order=True)}
    lo = min(0.0, *(min(c) for c in curves.values()))
    hi = max(0.0, *(max(c) for c in curves.values()))

    def x(ts: int) -> float:
        return pad + (ts - t0) / max(1, t1 - t0) * (W - 2 * pad)

    def y(v: float) -> float:
        return H - pad - (v - lo) / max(1e-9, hi - lo) * (H - 2 * pad)

    svg = [f'<svg id="equity" viewBox="0 0 {W} {H}" style="height:{H}px;background:#171c23">',
           f'<line x1="{pad}" x2="{W - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#8894a2" stroke-width="0.8"/>',
           f'<text x="4" y="{y(hi) + 4:.1f}" fill="#8894a2" font-size="11">{hi:,.0f}</text>',
           f'<text x="4" y="{y(lo) + 4:.1f}" fill="#8894a2" font-size="11">{lo:,.0f}</text>']  # fmt: skip
    for p, c in curves.items():
        pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(exits[p], c, strict=True))
        color = POLICY_COLOR.get(p, "#dde3ea")
        svg.append(f'<polyline class="policy" data-policy="{html.escape(p)}" points="{pts}" fill="none" '
                   f'stroke="{color}" stroke-width="1.4"><title>{html.escape(p)}: {c[-1]:+,.0f} USD</title></polyline>')  # fmt: skip
    svg.append("</svg>")
    legend = " · ".join(
        f'<span style="color:{POLICY_COLOR.get(p, "#dde3ea")}">{html.escape(p)} {c[-1]:+,.0f} USD '
        f"({len(c)} trades)</span>"
        for p, c in curves.items()
    )
    dates = sorted(trades["date"].unique().to_list())
    day = date or dates[-1]
    if day not in dates:
        raise FileNotFoundError(f"no backtest trades on {day} (dates {dates[0]}..{dates[-1]})")
    rows = "".join(
        f'<tr data-policy="{html.escape(r["policy"])}"><td>{html.escape(r["policy"])}</td>'
        f"<td>{html.escape(r['level_id'])}</td><td>{r['direction']}</td><td>{r['decision']}</td>"
        f"<td>{r['entry_px']:.2f}</td><td>{r['exit_px']:.2f}</td><td>{r['exit_reason']}</td>"
        f"<td>{r['pnl_pt']:+.2f}</td><td>{r['pnl_usd']:+.2f}</td></tr>"
        for r in trades.filter(pl.col("date") == day).sort("entry_ns", "policy").iter_rows(named=True)
    )
    links = " · ".join(
        f'<a style="color:#4cc3ff" href="/research/backtest?tier={tier}&date={d}">{d}</a>'
        for d in dates[-20:]
    )
    tiers = " · ".join(
        f'<a id="tier-{t}" style="color:#4cc3ff" href="/research/backtest?tier={t}">{t}</a>' if t != tier else
        f"<b>{t}</b>"
        for t in have
    )  # fmt: skip
    body = (
        f"<section><p>Tier: {tiers}</p><h2>Level-trade policies ({tier} tier): cumulative P&L after costs "
        f"(USD per contract), walk-forward test dates {dates[0]}..{dates[-1]}</h2><p>{legend}</p>{''.join(svg)}</section>"
        f'<section><h2>Trades on {html.escape(day)}</h2><table id="trades"><thead><tr><th>policy</th><th>level</th>'
        "<th>direction</th><th>decision</th><th>entry</th><th>exit</th><th>exit reason</th><th>P&L pt</th>"
        f"<th>P&L USD</th></tr></thead><tbody>{rows}</tbody></table><p>Other dates: {links}</p></section>"
    )
    return _page("Research · backtest", body)


def index_html(lake_root: lake.LakePath) -> str:
    """Links to the day view of every date with Silver touches (newest first), to the models and to
    the backtest."""
    dates = sorted(lake.written_dates(lake_root, "touches"), reverse=True)
    links = " · ".join(f'<a style="color:#4cc3ff" href="/research/day?date={d}">{d}</a>' for d in dates)
    body = (
        f"<section><h2>Dates with touches ({len(dates)})</h2><p>{links or 'none yet'}</p>"
        '<h2><a style="color:#4cc3ff" href="/research/models">Model comparison (MLflow)</a></h2>'
        '<h2><a style="color:#4cc3ff" href="/research/backtest">Level-trade backtest after costs</a></h2></section>'
    )
    return _page("Research", body)
