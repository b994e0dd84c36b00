"""Sequence baseline (extra `seq`, needs torch): a PatchTST-style transformer on the 2-minute bars
before each touch, judged walk-forward by date like the XGBoost heads.

Input per touch: the last SEQ_BARS 2-minute bars of its date that closed at or before the touch
(`bar_start_ns + 2 min <= ts_ns`, no look-ahead), channels open/high/low/close minus the last
close (points, in the level frame: positive = the side price approaches from, so one model
reads supports and resistances alike) and log1p(volume); missing bars (early in the session) are
zeros with a mask channel of 0.
Model (Nie et al. 2023, "A Time Series is Worth 64 Words", ICLR, arXiv:2211.14730): each
channel is cut into overlapping patches (PATCH_LEN, stride PATCH_STRIDE), patches are embedded
linearly with a learned position embedding and encoded by a shared transformer encoder
(channel independence); the flattened encodings of all channels feed one logit.
Training: full-batch Adam, BCE with logits, fixed seed, EPOCHS epochs, on the training dates only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
from torch import nn

from ml import heads
from spymaster_core import calendar
from spymaster_core.config import ModelConfig

SEQ_BARS = 30
BAR_NS = 120 * 1_000_000_000
PATCH_LEN = 6
PATCH_STRIDE = 3
CHANNELS = ("open", "high", "low", "close", "log_volume", "mask")
EPOCHS = 60


def sequences(rows: pl.DataFrame, bars: pl.DataFrame) -> np.ndarray:
    """(n, SEQ_BARS, len(CHANNELS)) float32 for `rows` (columns `date`, `ts_ns`, `direction`)
    from `silver.bars_2m` rows of any dates (`bar_start_ns`, open/high/low/close points, volume
    contracts); only bars of the touch's own session (from its Globex open) are used. See the
    module docstring. Raises ValueError when a bars column is missing."""
    need = {"bar_start_ns", "open", "high", "low", "close", "volume"}
    if missing := need - set(bars.columns):
        raise ValueError(f"bars_2m frame lacks column(s) {sorted(missing)}")
    out = np.zeros((rows.height, SEQ_BARS, len(CHANNELS)), np.float32)
    b = bars.sort("bar_start_ns")
    start = b["bar_start_ns"].to_numpy()
    ohlc = np.column_stack([b[c].to_numpy().astype(np.float64) for c in ("open", "high", "low", "close")])
    logv = np.log1p(b["volume"].to_numpy().astype(np.float64))
    for i, (d, ts, direction) in enumerate(rows.select("date", "ts_ns", "direction").iter_rows()):
        first = int(np.searchsorted(start, calendar.session_bounds_ns(str(d))[0], side="left"))
        hi = int(np.searchsorted(start + BAR_NS, ts, side="right"))  # bars closed at or before the touch
        lo = max(first, hi - SEQ_BARS)
        if hi <= lo:
            continue
        k = hi - lo
        sign = 1.0 if direction == "SUPPORT" else -1.0
        out[i, SEQ_BARS - k :, :4] = sign * (ohlc[lo:hi] - ohlc[hi - 1, 3])
        out[i, SEQ_BARS - k :, 4] = logv[lo:hi]
        out[i, SEQ_BARS - k :, 5] = 1.0
    return out


class PatchTST(nn.Module):
    """Channel-independent patch transformer for binary classification (see module docstring).
    Input (batch, SEQ_BARS, channels) -> logits (batch,)."""

    def __init__(self, n_channels: int, d_model: int = 32, n_layers: int = 2, n_heads: int = 4) -> None:
        super().__init__()
        self.n_patches = (SEQ_BARS - PATCH_LEN) // PATCH_STRIDE + 1
        self.embed = nn.Linear(PATCH_LEN, d_model)
        self.position = nn.Parameter(torch.zeros(1, self.n_patches, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers)
        self.head = nn.Linear(n_channels * self.n_patches * d_model, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _t, c = x.shape
        patches = x.permute(0, 2, 1).unfold(2, PATCH_LEN, PATCH_STRIDE)  # (b, c, n_patches, len)
        z = self.embed(patches.reshape(b * c, self.n_patches, PATCH_LEN)) + self.position
        z = self.encoder(z).reshape(b, -1)
        return self.head(z).squeeze(-1)


def fit_predict(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, seed: int) -> np.ndarray:
    """Train a fresh PatchTST on (x_tr, y_tr) and return P(y=1) for x_te (float64)."""
    torch.manual_seed(seed)
    scale = np.abs(x_tr[..., :5]).reshape(-1, 5).max(axis=0) + 1e-9  # per channel, training set only

    def norm(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([a[..., :5] / scale, a[..., 5:]], axis=-1).astype(np.float32))

    model = PatchTST(x_tr.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = norm(x_tr), torch.from_numpy(y_tr.astype(np.float32))
    model.train()
    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(norm(x_te))).numpy().astype(np.float64)


@dataclass
class SeqResult:
    """Pooled held-out predictions of the sequence baseline for one head, and their metrics."""

    head: str
    test_dates: list[str]
    touch_ids: list[str]
    y_true: np.ndarray
    p_seq: np.ndarray
    metrics: dict[str, float | None]


def walk_forward_seq(
    gold: pl.DataFrame, bars: pl.DataFrame, cfg: ModelConfig, head: str = "direction"
) -> SeqResult:
    """The sequence baseline for `head`, walk-forward by date with the heads' rules (train on
    earlier dates minus `purge_dates`, at least `min_train_dates`, `heads.trainable` labels)."""
    rows, y_all = heads.head_target(gold, head)
    rows = rows.with_columns(_y=pl.Series(y_all)).sort("ts_ns")
    x_all = sequences(rows, bars)
    dates = np.array(rows["date"].cast(pl.Utf8).to_list())
    y_vec = rows["_y"].to_numpy()
    ids = np.array(rows["touch_id"].to_list())
    ys, ps, tds, tids = [], [], [], []
    ordered = sorted(set(dates.tolist()))
    for i, d in enumerate(ordered):
        train_dates = ordered[: max(0, i - cfg.purge_dates)]
        tr, te = np.isin(dates, train_dates), dates == d
        if len(train_dates) < cfg.min_train_dates or not heads.trainable(y_vec[tr], cfg) or not te.any():
            continue
        ps.append(fit_predict(x_all[tr], y_vec[tr], x_all[te], cfg.seed))
        ys.append(y_vec[te])
        tds.append(d)
        tids.extend(ids[te].tolist())
    y = np.concatenate(ys) if ys else np.zeros(0, int)
    p = np.concatenate(ps) if ps else np.zeros(0)
    return SeqResult(head, tds, tids, y, p, heads.metrics_of(y, p))
