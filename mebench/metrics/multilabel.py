"""Multi-label scores for 4DME-style tasks (multi-label emotion, AU detection): per-label F1 and accuracy.

Why: seed 004 (4DME, Li et al.) treats emotion recognition and AU detection as several independent binary problems
("Our task is to detect whether one emotion or one AU is active or not") and reports, per label, accuracy and F1,
plus their "average" column. This module reproduces exactly that, nothing cleverer.

Per label l, with TP/TN/FP/FN counted over all samples of that column (1 = active):

- eq. 1  Accuracy_l  = (TP + TN) / (TP + TN + FP + FN)
- eq. 2  Precision_l = TP / (TP + FP)
- eq. 3  Recall_l    = TP / (TP + FN)
- eq. 4  F1_l        = 2 Precision_l Recall_l / (Precision_l + Recall_l)   (= 2TP / (2TP + FP + FN))

The reported averages are UNWEIGHTED ARITHMETIC MEANS OVER LABELS of the per-label values:
``f1 = mean_l F1_l`` (scikit-learn's ``average="macro"`` on the indicator matrix, NOT micro-F1, NOT the F1 of the
averaged precision/recall, NOT sample-averaged F1) and ``accuracy = mean_l Accuracy_l`` (= 1 - Hamming loss; NOT the
exact-match/subset accuracy). Checked against seed 004 Table 5: the LBP-TOP row's eight AU F1s
(0.4657 ... 0.4526) average to its 0.4938 and its accuracies (71.53 ... 79.40) to its 72.18.

Undefined F1 (a label with no positives in truth and prediction: TP = FP = FN = 0) is scored 0, as scikit-learn's
``f1_score`` does by default, so a label that never occurs cannot raise the average; such labels are listed under
``undefined_f1`` so a reader sees it happened.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

__all__ = ["multilabel_scores"]


def _indicator(name: str, y: Any, n_labels: int) -> np.ndarray:
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D 0/1 indicator matrix (samples x labels), got shape {arr.shape}")
    if arr.shape[1] != n_labels:
        raise ValueError(f"{name} has {arr.shape[1]} columns but {n_labels} labels were given")
    if arr.dtype == bool:
        return arr
    try:
        numeric = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold only 0/1 values") from exc
    bad = ~((numeric == 0) | (numeric == 1))
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold only 0/1 values; row {row}, column {col} is {arr[row, col]!r}")
    return numeric == 1


def multilabel_scores(y_true: Any, y_pred: Any, labels: Sequence[Hashable]) -> dict[str, Any]:
    """Per-label F1 and accuracy (4DME eq. 1-4) and their unweighted means over labels.

    ``y_true``/``y_pred``: (n_samples, n_labels) 0/1 (or bool) arrays or DataFrames, columns in ``labels`` order.
    Returns ``{"f1", "accuracy", "per_label": {label: {"f1", "accuracy"}}, "undefined_f1": [...]}``.
    """
    labels = list(labels)
    if not labels:
        raise ValueError("labels is empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels has duplicates: {labels}")
    t = _indicator("y_true", y_true, len(labels))
    p = _indicator("y_pred", y_pred, len(labels))
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"y_true and y_pred have different numbers of rows ({t.shape[0]} and {p.shape[0]})")
    n = t.shape[0]
    if n == 0:
        raise ValueError("y_true and y_pred are empty: there is nothing to score")
    tp = np.sum(t & p, axis=0)
    fp = np.sum(~t & p, axis=0)
    fn = np.sum(t & ~p, axis=0)
    tn = n - tp - fp - fn
    denom = 2 * tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    acc = (tp + tn) / n
    return {
        "f1": float(f1.mean()),
        "accuracy": float(acc.mean()),
        "per_label": {lab: {"f1": float(f), "accuracy": float(a)} for lab, f, a in zip(labels, f1, acc)},
        "undefined_f1": [lab for lab, d in zip(labels, denom) if d == 0],
    }
