"""Uncertainty for pooled metrics: bootstrap confidence intervals and a paired bootstrap test, resampling PERSONS.

Why persons: the samples of one person are not independent (same face, same session, same coder), and every
mebench protocol is subject-independent, so the unit of replication is the person, not the sample. Resampling
samples would give intervals that are too narrow. Each bootstrap replicate draws as many persons as there are,
with replacement, takes ALL rows of each drawn person (a person drawn twice contributes its rows twice) and
recomputes the POOLED metric on those rows, exactly as the metric is computed on the real data.

Both functions take any ``metric(y_true, y_pred) -> float`` (e.g. ``mebench.metrics.uf1``); ``y_true``/``y_pred``
are indexed by row with numpy fancy indexing, so 1-D label arrays and 2-D indicator matrices both work.

Determinism: all randomness comes from ``numpy.random.default_rng(seed)``; persons are put in sorted order first,
so the result depends on the seed and the data, not on the row order. Replicates whose metric is NaN (e.g. a
resample without any usable class) are dropped before taking quantiles.

``bootstrap_ci`` returns the percentile interval (quantiles alpha/2 and 1 - alpha/2 of the replicate values,
numpy's default linear interpolation).

``paired_bootstrap`` draws the SAME persons for both submissions in each replicate and records
``d* = metric(y, a) - metric(y, b)``. It reports ``delta`` (on the full data), the percentile interval of ``d*``
and a two-sided p-value for H0 "no difference" by the shift method (the bootstrap distribution of ``d* - delta``
stands in for the null distribution of the observed difference):
``p = (1 + #{|d* - delta| >= |delta|}) / (1 + n_valid)``, never 0; identical predictions give delta 0, interval
(0, 0) and p = 1.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

__all__ = ["bootstrap_ci", "paired_bootstrap"]

Metric = Callable[[Any, Any], float]


class _PersonResampler:
    """Row indices of each person, and a generator of resampled row sets (one per replicate)."""

    def __init__(self, groups: Any, n_rows: int) -> None:
        g = np.asarray(groups.to_numpy() if hasattr(groups, "to_numpy") else groups)
        if g.ndim != 1 or g.shape[0] != n_rows:
            raise ValueError(f"groups must be one-dimensional with one entry per row ({n_rows}), got shape {g.shape}")
        if n_rows == 0:
            raise ValueError("nothing to resample: no rows")
        codes, uniques = pd.factorize(g, sort=True)
        if (codes < 0).any():
            raise ValueError(f"groups has a missing value at position {int(np.flatnonzero(codes < 0)[0])}")
        self.n_groups = len(uniques)
        self.order = np.argsort(codes, kind="stable")
        self.sizes = np.bincount(codes, minlength=self.n_groups)
        self.starts = np.cumsum(self.sizes) - self.sizes

    def rows(self, drawn: np.ndarray) -> np.ndarray:
        sizes = self.sizes[drawn]
        total = int(sizes.sum())
        offsets = np.cumsum(sizes) - sizes
        within = np.arange(total) - np.repeat(offsets, sizes)
        return self.order[np.repeat(self.starts[drawn], sizes) + within]

    def draws(self, n_boot: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.integers(0, self.n_groups, size=(n_boot, self.n_groups))


def _arrays(*ys: Any) -> list[np.ndarray]:
    out = [np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y) for y in ys]
    n = out[0].shape[0]
    for y in out[1:]:
        if y.shape[0] != n:
            raise ValueError(f"inputs have different numbers of rows ({n} and {y.shape[0]})")
    return out


def _check(n_boot: int, alpha: float) -> None:
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    if not (0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(kept, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def bootstrap_ci(
    metric: Metric,
    y_true: Any,
    y_pred: Any,
    groups: Any,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """(low, high): the (1 - alpha) percentile bootstrap interval of the pooled ``metric``, resampling groups."""
    _check(n_boot, alpha)
    y_true, y_pred = _arrays(y_true, y_pred)
    sampler = _PersonResampler(groups, y_true.shape[0])
    values = np.empty(int(n_boot))
    for b, drawn in enumerate(sampler.draws(int(n_boot), seed)):
        rows = sampler.rows(drawn)
        values[b] = metric(y_true[rows], y_pred[rows])
    return _interval(values, alpha)


def paired_bootstrap(
    metric: Metric,
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    groups: Any,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, float]:
    """Paired comparison of two submissions on the same rows: ``{"delta", "low", "high", "p_value"}``.

    ``delta = metric(y_true, pred_a) - metric(y_true, pred_b)``; (low, high) the (1 - alpha) percentile interval of
    the replicate differences on the same resampled persons; ``p_value`` two-sided (see the module docstring).
    """
    _check(n_boot, alpha)
    y_true, pred_a, pred_b = _arrays(y_true, pred_a, pred_b)
    sampler = _PersonResampler(groups, y_true.shape[0])
    delta = float(metric(y_true, pred_a)) - float(metric(y_true, pred_b))
    diffs = np.empty(int(n_boot))
    for b, drawn in enumerate(sampler.draws(int(n_boot), seed)):
        rows = sampler.rows(drawn)
        yt = y_true[rows]
        diffs[b] = float(metric(yt, pred_a[rows])) - float(metric(yt, pred_b[rows]))
    low, high = _interval(diffs, alpha)
    kept = diffs[~np.isnan(diffs)]
    p_value = float((1 + np.sum(np.abs(kept - delta) >= abs(delta))) / (1 + kept.size)) if kept.size else float("nan")
    return {"delta": delta, "low": low, "high": high, "p_value": p_value}
