"""`au-oracle`: a linear classifier on the multi-hot ground-truth AUs, trained per fold (DESIGN.md section 8).

How far are the emotion labels a function of the AUs? The features are the AUs coded with certainty (corpus column
``aus``) as a 0/1 vector over the AUs 1..99 present in the TRAINING fold (an AU seen only in the test fold is
ignored: it has no weight); the classifier is scikit-learn's LogisticRegression (default) or LinearSVC with
``class_weight='balanced'`` (the classes are very unbalanced: 'others' is 40 % of CASME II), fitted on the training
fold only, seeded by the fold seed. Nothing else of the sample is used.

Its score is an upper bound for any recogniser whose information about the face goes through the AUs: a UF1 near 1
says the labels are (almost) a function of the coded AUs - true by construction for a scheme-labelled protocol such
as merged-loso-4dme, and the point of the leakage paper for the native labels, whose annotators saw the AUs.
`mebench run` prints that reading under the table (``describe_result``).

Parameters (``--param``): ``classifier`` ('logreg' | 'linearsvc'), ``C`` (default 1.0), ``max_iter`` (default 5000).
Multi-label protocols: one classifier per class (a class constant in the training fold is predicted constant).
"""

from __future__ import annotations

from typing import Any

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from mebench.errors import InputError

__all__ = ["AuOracle"]

CLASSIFIERS = ("logreg", "linearsvc")


def _aus(value: Any) -> set[int]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return set()
    return {int(a) for a in list(value) if 1 <= int(a) <= 99}


class _Constant:
    def __init__(self, value: Any) -> None:
        self.value = value

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.array([self.value] * len(x), dtype=object)


class AuOracle:
    """Linear classifier on multi-hot ground-truth AUs (see the module docstring)."""

    name = "au-oracle"
    version = "1"
    tasks = ("recognition", "multilabel")

    def __init__(self, classifier: str = "logreg", C: float = 1.0, max_iter: int = 5000, seed: int = 0) -> None:
        if classifier not in CLASSIFIERS:
            raise InputError(f"au-oracle: classifier must be one of {', '.join(CLASSIFIERS)}, got {classifier!r}")
        self.classifier = classifier
        self.C = float(C)
        self.max_iter = int(max_iter)
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"classifier": self.classifier, "C": self.C, "max_iter": self.max_iter, "class_weight": "balanced",
                "features": "multi-hot ground-truth AUs 1..99 present in the training fold"}

    def _estimator(self) -> Any:
        if self.classifier == "linearsvc":
            return LinearSVC(C=self.C, class_weight="balanced", max_iter=self.max_iter, random_state=self.seed)
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter,
                                  random_state=self.seed)

    def features(self, samples: pd.DataFrame) -> np.ndarray:
        index = {a: j for j, a in enumerate(self.vocabulary_)}
        x = np.zeros((len(samples), len(index)), dtype=np.float64)
        for i, value in enumerate(samples["aus"].tolist()):
            for a in _aus(value):
                j = index.get(a)
                if j is not None:
                    x[i, j] = 1.0
        return x

    def _fit_one(self, x: np.ndarray, y: np.ndarray) -> Any:
        values = pd.unique(y)
        if len(values) < 2:
            return _Constant(values[0] if len(values) else None)
        estimator = self._estimator()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(x, y)
        return estimator

    def fit(self, train: Any) -> "AuOracle":
        samples = train.samples
        self.vocabulary_ = sorted({a for value in samples["aus"].tolist() for a in _aus(value)})
        self.task_ = train.protocol.task
        x = self.features(samples)
        labels = train.labels
        if isinstance(labels, pd.DataFrame):
            self.classes_ = list(labels.columns)
            self.models_ = [self._fit_one(x, labels[c].to_numpy(dtype=np.int64)) for c in self.classes_]
        else:
            self.models_ = [self._fit_one(x, labels.astype(str).to_numpy(dtype=object))]
        return self

    def predict(self, test: Any) -> Any:
        x = self.features(test.samples)
        if self.task_ in ("multilabel", "au-detection"):
            return np.column_stack([np.asarray(m.predict(x)).astype(np.int64) for m in self.models_]) \
                if len(x) else np.zeros((0, len(self.models_)), dtype=np.int64)
        return [str(v) for v in self.models_[0].predict(x)]

    @staticmethod
    def describe_result(record: dict[str, Any]) -> str | None:
        """The reading of the score printed by `mebench run`."""
        metrics = record.get("metrics", {})
        pid = record.get("protocol", {}).get("id", "?")
        view = record.get("details", {}).get("harness", {}).get("test_view", {})
        if "uf1" in metrics and metrics["uf1"] is not None:
            score = f"UF1 {metrics['uf1']:.2f} (UAR {metrics['uar']:.2f})"
        elif "f1" in metrics and metrics["f1"] is not None:
            score = f"F1 {metrics['f1']:.2f}"
        else:
            return None
        if view.get("label_from_visible_columns"):
            what = "labels computed from the AUs by the protocol's scheme are (by construction) this predictable"
        else:
            what = "native emotions are this predictable"
        return (f"au-oracle {score} on {pid}: {what} from the ground-truth AUs alone (an upper bound for a "
                "recogniser that gets the AUs right; 1.00 would mean the label is a function of the AUs)")
