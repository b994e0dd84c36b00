"""PNG artifacts: a head's reliability curve, feature importance (gain, and grouped permutation), the backtest's equity curves
(matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import polars as pl

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ml.heads import HeadResult, reliability_curve  # noqa: E402


def reliability_png(res: HeadResult, path: Path) -> Path:
    """Observed rate vs mean predicted probability per decile bin, model and both baselines."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    for name, p in (
        ("model (isotonic)", res.p_model),
        ("level-kind rate", res.p_base_rate),
        ("logistic", res.p_logistic),
    ):
        if len(p):
            mp, obs, _n = reliability_curve(res.y_true, p)
            ax.plot(mp, obs, marker="o", label=name)
    ax.set(xlabel="predicted probability", ylabel="observed rate", title=f"{res.head}: held-out reliability",
           xlim=(0, 1), ylim=(0, 1))  # fmt: skip
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def importance_png(res: HeadResult, path: Path, top: int = 20) -> Path:
    """The top features by XGBoost gain of the final model."""
    items = sorted(res.importance.items(), key=lambda kv: kv[1])[-top:]
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.3 * len(items) + 1)))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#4477aa")
    ax.set(xlabel="gain", title=f"{res.head}: feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def grouped_importance_png(importance: dict[str, dict[str, dict[str, float]]], path: Path) -> Path:
    """Held-out AUC drop per physics group (`ml.diagnostics.grouped_permutation_importance`), one
    panel per head, with +/- one sd over the permutation repeats; a drop at or below zero means the
    model does not use that group on held-out dates."""
    heads_ = [h for h, v in importance.items() if v]
    fig, axes = plt.subplots(1, len(heads_), figsize=(3.2 * len(heads_), 3.4), sharey=True, squeeze=False)
    for ax, h in zip(axes[0], heads_, strict=True):
        groups = list(importance[h])
        drops = [importance[h][g]["auc_drop"] for g in groups]
        sds = [importance[h][g]["sd"] for g in groups]
        ax.barh(groups, drops, xerr=sds, color=["#4477aa" if d > 0 else "#bbbbbb" for d in drops])
        ax.axvline(0, color="grey", lw=0.8)
        ax.set(title=h, xlabel="held-out AUC drop")
    fig.suptitle("grouped permutation importance (held-out dates)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def equity_png(trades: pl.DataFrame, path: Path, title: str) -> Path:
    """Cumulative P&L (USD per contract, after costs) of each policy by trade exit, on one axis.
    trades: `research.backtest.TRADE_SCHEMA` rows of several policies."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (policy,), g in trades.sort("exit_ns").group_by("policy", maintain_order=True):
        t = g["exit_ns"].cast(pl.Datetime("ns", "UTC")).to_list()
        ax.plot(t, g["pnl_usd"].cum_sum().to_list(), label=f"{policy} ({g.height} trades)", lw=1.2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="trade exit", ylabel="cumulative P&L, USD per contract", title=title)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
