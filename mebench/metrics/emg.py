"""EMG expression-interval detection scores (one interval per sample, in seconds), as seed 001 Table 7.

Why: seed 001 (Li et al., CASMEMG, section 6.3) evaluates an EMG peak/trough detector that returns, for each
annotated expression, one onset/offset inside a clip of GT +- 0.5 s, or nothing. Its Table 7 reports, on the 380
samples: N_nan (samples where no interval was detected), Mean_IoU, P(IoU > 0.5), and for the onset and offset the
"Mean, Standard Error (SE) and Root Mean Square Error" of the difference between prediction and ground truth.
This module computes exactly those, with every denominator stated, because the paper's wording leaves them to be
inferred:

- ``n``: number of GT samples. A GT sample with no row in ``pred``, or a row whose onset_s and offset_s are both
  NaN, is "not detected" and counted in ``n_nan`` (a row with only one of the two NaN is an error).
- ``mean_iou``: mean overlap over the DETECTED samples only ("The average overlap rate for all [detected]
  intervals"); ``None`` when nothing was detected.
- ``p_iou_gt_0.5``: (number of detected samples with overlap STRICTLY greater than 0.5) / ``n`` -- the denominator
  is ALL samples, undetected ones counting as failures. The paper says "95.3% of the intervals had an overlap rate
  greater than 0.5 (among 380 EMG segments)", and only the all-samples denominator reproduces 0.953 with integers:
  362/380 = 0.9526, while with 372 detected neither 354/372 = 0.9516 nor 355/372 = 0.9543 rounds to it.
- ``onset_mae`` / ``offset_mae``: mean of |pred - gt| in seconds over detected samples (Table 7's "Mean" is of the
  absolute difference: a signed mean would not be 0.206 s with an RMSE of 0.230 s and an SE of 0.005 s).
- ``onset_se`` / ``offset_se``: STANDARD ERROR OF THE MEAN of |delta|: ``std(|delta|, ddof=1) / sqrt(n_detected)``
  (``scipy.stats.sem``). Checked against Table 7: sqrt(RMSE^2 - Mean^2) / sqrt(372) gives 0.0053 s for the onset
  (0.230, 0.206; table 0.005) and 0.0121 s for the offset (0.309, 0.203; table 0.012), so SE is the standard error
  of the mean absolute error, not the standard deviation of the errors (which would be ~0.10 and ~0.23 s).
  ``None`` with fewer than two detections.
- ``onset_rmse`` / ``offset_rmse``: sqrt(mean(delta^2)) over detected samples.

``overlap`` chooses the overlap measure (the keys stay the same; ``"overlap"`` in the result says which was used):

- ``"iou"`` (default, what the paper's text and Table 7 call IoU): |A n B| / |A u B| with |A u B| = |A| + |B| -
  |A n B| on the real line (seconds, continuous: no +1 as with frames).
- ``"min"``: |A n B| / min(|A|, |B|), intersection over the SHORTER interval, the overlap rate computed by the
  CASMEMG release code (as DESIGN section 6 reports; mebench cannot check that code here). It is >= IoU and equals 1
  whenever one interval contains the other, so it is more lenient; it exists only to compare with numbers produced
  by that code. Its probability uses the same all-samples denominator and its mean the same detected-only one.

Zero-length intervals: an overlap whose denominator is 0 is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["emg_interval"]

OVERLAPS = ("iou", "min")
_COLUMNS = ("sample_id", "onset_s", "offset_s")


def _check(name: str, df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; it has {list(df.columns)}")
    ids = df["sample_id"]
    if ids.hasnans:
        raise ValueError(f"{name}: sample_id is missing in row {int(np.flatnonzero(ids.isna().to_numpy())[0])}")
    dup = ids.duplicated().to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{name}: sample_id {ids.iloc[pos]!r} appears more than once (row {pos})")


def _seconds(name: str, df: pd.DataFrame, col: str) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    not_number = np.isnan(values) & df[col].notna().to_numpy()
    if not_number.any():
        pos = int(np.flatnonzero(not_number)[0])
        raise ValueError(f"{name}: {col} is not a number in row {pos} (sample_id {df['sample_id'].iloc[pos]!r})")
    if np.isinf(values).any():
        pos = int(np.flatnonzero(np.isinf(values))[0])
        raise ValueError(f"{name}: {col} is infinite in row {pos} (sample_id {df['sample_id'].iloc[pos]!r})")
    return values


def _sem(values: np.ndarray) -> float | None:
    if values.size < 2:
        return None
    return float(np.std(values, ddof=1) / np.sqrt(values.size))


def emg_interval(gt: pd.DataFrame, pred: pd.DataFrame, overlap: str = "iou") -> dict[str, Any]:
    """Seed 001 Table 7 scores for one detected interval per sample (seconds); see the module docstring.

    ``gt``: sample_id, onset_s, offset_s (every value present, onset_s <= offset_s).
    ``pred``: sample_id, onset_s, offset_s; both times NaN = not detected; sample_ids must all be in ``gt``.
    Returns ``{"n", "n_nan", "mean_iou", "p_iou_gt_0.5", "onset_mae", "onset_se", "onset_rmse", "offset_mae",
    "offset_se", "offset_rmse", "overlap"}``; undefined values are ``None`` (JSON-ready).
    """
    if overlap not in OVERLAPS:
        raise ValueError(f"overlap must be one of {OVERLAPS}, got {overlap!r}")
    _check("gt", gt)
    _check("pred", pred)
    g_on, g_off = _seconds("gt", gt, "onset_s"), _seconds("gt", gt, "offset_s")
    bad = np.isnan(g_on) | np.isnan(g_off)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"gt: onset_s/offset_s missing in row {pos} (sample_id {gt['sample_id'].iloc[pos]!r})")
    bad = g_on > g_off
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"gt: onset_s > offset_s in row {pos} (sample_id {gt['sample_id'].iloc[pos]!r})")
    p_on, p_off = _seconds("pred", pred, "onset_s"), _seconds("pred", pred, "offset_s")
    half = np.isnan(p_on) != np.isnan(p_off)
    if half.any():
        pos = int(np.flatnonzero(half)[0])
        raise ValueError(
            f"pred: only one of onset_s/offset_s is missing in row {pos} (sample_id {pred['sample_id'].iloc[pos]!r}); "
            "leave both empty for 'not detected'"
        )
    bad = p_on > p_off
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"pred: onset_s > offset_s in row {pos} (sample_id {pred['sample_id'].iloc[pos]!r})")

    where = pd.Index(gt["sample_id"]).get_indexer(pd.Index(pred["sample_id"]))
    unknown = where < 0
    if unknown.any():
        pos = int(np.flatnonzero(unknown)[0])
        raise ValueError(f"pred: sample_id {pred['sample_id'].iloc[pos]!r} (row {pos}) is not in gt")

    n = len(gt)
    # Align predictions on gt rows; samples without a prediction row stay NaN (= not detected).
    a_on = np.full(n, np.nan)
    a_off = np.full(n, np.nan)
    a_on[where] = p_on
    a_off[where] = p_off
    det = ~np.isnan(a_on)
    n_det = int(det.sum())

    d_on_g, d_off_g = g_on[det], g_off[det]
    d_on_p, d_off_p = a_on[det], a_off[det]
    inter = np.maximum(0.0, np.minimum(d_off_g, d_off_p) - np.maximum(d_on_g, d_on_p))
    len_g, len_p = d_off_g - d_on_g, d_off_p - d_on_p
    denom = (len_g + len_p - inter) if overlap == "iou" else np.minimum(len_g, len_p)
    with np.errstate(divide="ignore", invalid="ignore"):
        ov = np.where(denom > 0, inter / np.where(denom > 0, denom, 1.0), 0.0)

    d_onset = d_on_p - d_on_g
    d_offset = d_off_p - d_off_g

    def _mae(d: np.ndarray) -> float | None:
        return float(np.mean(np.abs(d))) if d.size else None

    def _rmse(d: np.ndarray) -> float | None:
        return float(np.sqrt(np.mean(d * d))) if d.size else None

    return {
        "n": n,
        "n_nan": n - n_det,
        "mean_iou": float(ov.mean()) if n_det else None,
        "p_iou_gt_0.5": float(np.sum(ov > 0.5) / n) if n else None,
        "onset_mae": _mae(d_onset),
        "onset_se": _sem(np.abs(d_onset)),
        "onset_rmse": _rmse(d_onset),
        "offset_mae": _mae(d_offset),
        "offset_se": _sem(np.abs(d_offset)),
        "offset_rmse": _rmse(d_offset),
        "overlap": overlap,
    }
