"""Single-label recognition metrics: UF1, UAR, accuracy, per-class F1/recall and the confusion matrix.

Why this module exists rather than calling scikit-learn directly: the micro-expression literature (seed 003, Ruan et
al., eq. 9-11) defines UF1 and UAR over the predictions POOLED across all folds of a protocol, and mebench has to say
what happens to a class that a pooled set never contains. scikit-learn silently scores such a class 0 (or warns);
here a class with no samples and no predictions is *left out* of the average and listed, so a reader sees it.
The numbers are otherwise identical to scikit-learn's (the tests check that on many random cases).

Definitions (seed 003):

- eq. 9   Acc = sum_i TP_i / N  (the fraction of samples whose prediction equals the truth);
- eq. 10  UF1 = 1/C sum_c 2 TP_c / (2 TP_c + FP_c + FN_c)  (unweighted mean of per-class F1);
- eq. 11  UAR = 1/C sum_c TP_c / n_c  (unweighted mean of per-class recall, n_c = samples of class c).

Which classes are averaged:

- UF1: every class in ``labels`` except those with no samples AND no predictions (2TP+FP+FN = 0: F1 is 0/0, it
  measures nothing). A class with predictions but no samples scores F1 = 0 and IS counted (its predictions are
  wrong). This equals ``sklearn.metrics.f1_score(average="macro", labels=<present classes>)``.
- UAR: every class in ``labels`` with at least one sample (recall is undefined without samples). With
  ``labels=None`` this equals ``sklearn.metrics.balanced_accuracy_score``.
- Accuracy: all samples, whatever ``labels`` says.

``labels=None`` means the sorted union of the values in ``y_true`` and ``y_pred``. With explicit ``labels`` the
averages run over those classes only; samples whose truth or prediction lies outside ``labels`` still count (a true
``c`` predicted as an unlisted value is an FN of ``c``), as in scikit-learn.

The callers pool the folds: these functions just take the pooled arrays. Everything is vectorised (pandas
factorize, a hash table, instead of sorting Python objects, then ``np.bincount``): 10^6 string labels take well under
0.5 s.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "accuracy",
    "confusion",
    "per_class_f1",
    "per_class_recall",
    "recognition_scores",
    "uar",
    "uf1",
]


def _native(value: Any) -> Any:
    """numpy scalars -> Python scalars, so labels can be JSON keys and compare equal to what the user passed."""
    return value.item() if isinstance(value, np.generic) else value


def _as_1d(name: str, y: Any) -> Any:
    if isinstance(y, (pd.Series, pd.Index)):
        return y  # factorized as is: pandas' own string/categorical storage is faster than an object array
    arr = np.asarray(y, dtype=object) if isinstance(y, (list, tuple)) else np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _factorize(y: Any) -> tuple[np.ndarray, Any]:
    """``pd.factorize(y)``: integer codes in order of first appearance and the unique values.

    pandas turns a fixed-width numpy string array (dtype ``<U``/``S``, what ``np.array(["a", "b"])`` makes) into 10^6
    Python objects before hashing them, which is most of the cost of scoring 10^6 such labels. Here such an array
    is hashed in place instead: its bytes, read as uint64 words, folded into one uint64 per row, factorized (a fast
    integer hash table), and the result checked against the strings themselves (``uniques[codes] == y``); on a hash
    collision (never seen; checked every time) it falls back to pandas. Codes and uniques are those of
    ``pd.factorize`` (both number the values in order of first appearance; uniques as numpy scalars, which
    ``_native`` turns into ``str`` / ``bytes`` as it does pandas' values)."""
    if isinstance(y, np.ndarray) and y.dtype.kind in "US" and y.ndim == 1 and y.shape[0] > 1024 \
            and y.dtype.itemsize > 0:
        n, width = y.shape[0], y.dtype.itemsize
        words = -(-width // 8)
        raw = np.ascontiguousarray(y).view(np.uint8).reshape(n, width)
        if width % 8:
            padded = np.zeros((n, words * 8), dtype=np.uint8)
            padded[:, :width] = raw
            raw = padded
        w = raw.view(np.uint64)
        h = w[:, 0].copy()
        for j in range(1, words):
            h *= _HASH_MULTIPLIER
            h ^= w[:, j]
        codes, hashed = pd.factorize(h)
        first = np.empty(len(hashed), dtype=np.int64)
        first[codes[::-1]] = np.arange(n - 1, -1, -1, dtype=np.int64)
        uniques = y[first]
        if np.array_equal(uniques[codes], y):
            return codes.astype(np.intp, copy=False), uniques
    return pd.factorize(y)


class _Encoded:
    """y_true / y_pred as integer codes into one label list (the requested labels first, then any extra values).

    Computing this once and deriving every metric from three bincounts is what keeps 10^6 rows fast.
    """

    __slots__ = ("labels", "n_labels", "all_labels", "t", "p")

    def __init__(self, y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None) -> None:
        yt = _as_1d("y_true", y_true)
        yp = _as_1d("y_pred", y_pred)
        if yt.shape[0] != yp.shape[0]:
            raise ValueError(f"y_true and y_pred have different lengths ({yt.shape[0]} and {yp.shape[0]})")
        if yt.shape[0] == 0:
            raise ValueError("y_true and y_pred are empty: there is nothing to score")
        ct, ut = _factorize(yt)
        cp, up = _factorize(yp)
        for name, codes in (("y_true", ct), ("y_pred", cp)):
            if (codes < 0).any():
                first = int(np.flatnonzero(codes < 0)[0])
                raise ValueError(f"{name} has a missing value (None/NaN) at position {first}")
        ut_list = [_native(v) for v in ut]
        up_list = [_native(v) for v in up]
        if labels is None:
            seen = list(dict.fromkeys(ut_list + up_list))
            try:
                requested = sorted(seen)
            except TypeError as exc:
                raise ValueError(
                    f"labels mix types that cannot be ordered ({sorted({type(v).__name__ for v in seen})}); "
                    "pass labels= explicitly"
                ) from exc
        else:
            requested = [_native(v) for v in labels]
            if len(requested) == 0:
                raise ValueError("labels is empty")
            if len(set(requested)) != len(requested):
                raise ValueError(f"labels has duplicates: {requested}")
        extra = [v for v in dict.fromkeys(ut_list + up_list) if v not in set(requested)]
        all_labels = requested + extra
        index = pd.Index(all_labels, dtype=object)
        map_t = index.get_indexer(pd.Index(ut_list, dtype=object))
        map_p = index.get_indexer(pd.Index(up_list, dtype=object))
        self.labels = requested
        self.n_labels = len(requested)
        self.all_labels = all_labels
        self.t = map_t[ct]
        self.p = map_p[cp]

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, support, predicted) per label of ``all_labels``."""
        n = len(self.all_labels)
        hit = self.t == self.p
        tp = np.bincount(self.t[hit], minlength=n)
        support = np.bincount(self.t, minlength=n)
        predicted = np.bincount(self.p, minlength=n)
        return tp, support, predicted


def _f1_recall(enc: _Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per requested label: F1 (NaN where 2TP+FP+FN = 0), recall (NaN where no samples), support."""
    tp, support, predicted = enc.counts()
    k = enc.n_labels
    tp, support, predicted = tp[:k].astype(float), support[:k], predicted[:k]
    denom = support + predicted  # 2TP + FP + FN = (TP + FN) + (TP + FP)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(denom > 0, 2.0 * tp / denom, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
    return f1, recall, support


def _nanmean_or_nan(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def uf1(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> float:
    """Unweighted F1 (seed 003 eq. 10): mean over classes of 2TP/(2TP+FP+FN).

    A class with no samples and no predictions is left out of the mean (see ``recognition_scores`` for the list).
    """
    f1, _, _ = _f1_recall(_Encoded(y_true, y_pred, labels))
    return _nanmean_or_nan(f1)


def uar(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> float:
    """Unweighted average recall (seed 003 eq. 11): mean over classes with samples of TP_c / n_c."""
    _, recall, _ = _f1_recall(_Encoded(y_true, y_pred, labels))
    return _nanmean_or_nan(recall)


def accuracy(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> float:
    """Fraction of correct predictions over ALL samples (seed 003 eq. 9). ``labels`` is accepted for symmetry and
    only validated: accuracy never depends on it."""
    enc = _Encoded(y_true, y_pred, labels)
    return float(np.mean(enc.t == enc.p))


def per_class_f1(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> dict[Hashable, float]:
    """{label: F1} in label order; NaN for a class with no samples and no predictions (F1 undefined)."""
    enc = _Encoded(y_true, y_pred, labels)
    f1, _, _ = _f1_recall(enc)
    return {lab: float(v) for lab, v in zip(enc.labels, f1)}


def per_class_recall(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> dict[Hashable, float]:
    """{label: recall} in label order; NaN for a class with no samples (recall undefined)."""
    enc = _Encoded(y_true, y_pred, labels)
    _, recall, _ = _f1_recall(enc)
    return {lab: float(v) for lab, v in zip(enc.labels, recall)}


def confusion(
    y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None
) -> tuple[list[Hashable], np.ndarray]:
    """(labels, matrix): matrix[i, j] = number of samples of true class labels[i] predicted as labels[j].

    Rows are truth, columns prediction (scikit-learn's convention). Samples whose truth or prediction is outside
    ``labels`` do not appear in the matrix (as ``sklearn.metrics.confusion_matrix(labels=...)``).
    """
    enc = _Encoded(y_true, y_pred, labels)
    k = enc.n_labels
    keep = (enc.t < k) & (enc.p < k)
    flat = np.bincount(enc.t[keep] * k + enc.p[keep], minlength=k * k)
    return list(enc.labels), flat.reshape(k, k).astype(np.int64)


def recognition_scores(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> dict[str, Any]:
    """Everything a recognition results record needs, computed from one encoding of the pooled predictions.

    Returns ``{"uf1", "uar", "accuracy", "per_class": {label: {"f1", "recall", "support"}},
    "confusion": {"labels": [...], "matrix": [[...]]}, "left_out": [...]}`` with plain Python values (JSON-ready):
    undefined per-class values are ``None`` rather than NaN (NaN is not valid JSON). ``left_out`` lists the classes
    with no samples and no predictions, which UF1 and UAR did not average over. A class with predictions but no
    samples is not left out of UF1 (it scores 0) but has recall ``None`` and is not in UAR's mean.
    """
    enc = _Encoded(y_true, y_pred, labels)
    f1, recall, support = _f1_recall(enc)
    k = enc.n_labels
    keep = (enc.t < k) & (enc.p < k)
    matrix = np.bincount(enc.t[keep] * k + enc.p[keep], minlength=k * k).reshape(k, k)
    per_class = {
        lab: {
            "f1": None if np.isnan(f) else float(f),
            "recall": None if np.isnan(r) else float(r),
            "support": int(s),
        }
        for lab, f, r, s in zip(enc.labels, f1, recall, support)
    }
    uf1_value = _nanmean_or_nan(f1)
    uar_value = _nanmean_or_nan(recall)
    return {
        "uf1": None if np.isnan(uf1_value) else uf1_value,
        "uar": None if np.isnan(uar_value) else uar_value,
        "accuracy": float(np.mean(enc.t == enc.p)),
        "per_class": per_class,
        "confusion": {"labels": list(enc.labels), "matrix": matrix.astype(int).tolist()},
        "left_out": [lab for lab, f in zip(enc.labels, f1) if np.isnan(f)],
    }
