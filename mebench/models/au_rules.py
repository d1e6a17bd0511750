"""`au-rules`: the emotion of a sample computed from its ground-truth AUs by a label scheme (DESIGN.md section 8).

This is the 'labels are a function of AUs' demonstration. On a protocol whose label comes from an AU scheme
(``merged-loso-4dme``: scheme ``4dme``, joined with '+' like the protocol's classes) it reproduces the label exactly,
so it scores UF1 = 1: any model that reads the ground-truth AUs can. It uses nothing from the training fold but the
class frequencies (for the tie-breaks below), so it is also a check that the harness hides nothing it should not.

On a protocol whose label is a native emotion column (``casme2-loso-5class``, ``megc2019-cd-3class``...) it still
predicts, with a configurable scheme (``--param scheme=basic6``; default: the protocol's own scheme when it has one
with AU input, else ``4dme``), and maps the scheme's labels to the protocol's classes:

1. a label that is a class is kept ('surprise' -> 'surprise');
2. else the protocol's own native -> class map (``label.map``; e.g. megc2019: 'repression' -> 'negative');
3. else the synonyms below ('positive' <-> 'happiness'; 'negative' -> disgust, anger, contempt, sadness, fear,
   repression; a basic emotion -> 'negative'), among the protocol's classes;
4. several candidate classes (several labels, or 'negative' on a 5-class CASME II) -> the one most frequent in the
   TRAINING fold (ties: class order); for '+'-joined classes the joined labels are tried first;
5. no label (no AU) or no candidate -> ``fallback`` (default 'others' when it is a class, else the training fold's
   most frequent class).

Multi-label protocols get the set of mapped classes (empty -> the fallback). A scheme that reads the native emotion
(``megc3``, ``objective``) is refused: the test view hides those columns.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from mebench.errors import InputError

__all__ = ["AuRules", "SYNONYMS"]

NEGATIVE = ("negative", "disgust", "anger", "contempt", "sadness", "fear", "repression")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "positive": ("happiness",),
    "happiness": ("positive",),
    "negative": NEGATIVE,
    "repression": ("negative",),
    "disgust": ("negative",),
    "anger": ("negative",),
    "contempt": ("negative",),
    "sadness": ("negative",),
    "fear": ("negative",),
    "surprise": (),
    "others": (),
}


def _aus(value: Any) -> list[int]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [int(a) for a in list(value)]


class AuRules:
    """Emotion from the ground-truth AUs by a label scheme (see the module docstring)."""

    name = "au-rules"
    version = "1"
    tasks = ("recognition", "multilabel")

    def __init__(self, scheme: str | None = None, fallback: str | None = None, seed: int = 0) -> None:
        self.scheme = scheme
        self.fallback = fallback
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "fallback": self.fallback}

    def _scheme_name(self, facts: Any) -> str:
        if self.scheme:
            return self.scheme
        if facts.scheme:
            from mebench.labels import load_scheme

            if load_scheme(facts.scheme).input == "aus":
                return facts.scheme
        return "4dme"

    def fit(self, train: Any) -> "AuRules":
        from mebench.labels import load_scheme

        facts = train.protocol
        self.scheme_used_ = self._scheme_name(facts)
        scheme = load_scheme(self.scheme_used_)
        if scheme.input != "aus":
            raise InputError(f"au-rules: scheme {self.scheme_used_!r} reads {scheme.input!r}, not the AUs; the test "
                             "view hides that column (use a scheme with AU input: 4dme, basic6)")
        self.classes_ = list(facts.classes)
        self.join_ = facts.join
        self.map_ = dict(facts.label_map)
        labels = train.labels
        if isinstance(labels, pd.DataFrame):
            counts = {c: int(labels[c].sum()) for c in self.classes_ if c in labels.columns}
        else:
            counts = dict(Counter(str(v) for v in labels.tolist()))
        order = {c: i for i, c in enumerate(self.classes_)}
        self.rank_ = sorted(self.classes_, key=lambda c: (-counts.get(c, 0), order[c]))
        if self.fallback is not None and self.fallback not in self.classes_:
            raise InputError(f"au-rules: fallback {self.fallback!r} is not one of the classes {self.classes_}")
        self.fallback_ = self.fallback or ("others" if "others" in self.classes_ else self.rank_[0])
        self.multilabel_ = facts.task == "multilabel"
        self.memo_: dict[tuple[int, ...], Any] = {}
        return self

    def candidates(self, label: str) -> list[str]:
        """The protocol classes a scheme label can stand for (steps 1-3)."""
        classes = set(self.classes_)
        if label in classes:
            return [label]
        mapped = self.map_.get(label)
        if mapped in classes:
            return [mapped]
        return [c for c in SYNONYMS.get(label, ()) if c in classes] or \
            [self.map_[s] for s in SYNONYMS.get(label, ()) if self.map_.get(s) in classes]

    def _best(self, candidates: set[str]) -> str | None:
        for c in self.rank_:
            if c in candidates:
                return c
        return None

    def predict_one(self, aus: Any) -> Any:
        from mebench.labels import harmonize

        key = tuple(sorted(set(_aus(aus))))
        if key in self.memo_:
            return self.memo_[key]
        labels, _ = harmonize(list(key), self.scheme_used_)
        if self.multilabel_:
            chosen = {self._best(set(self.candidates(label))) for label in labels} - {None}
            out: Any = tuple(sorted(chosen)) or (self.fallback_,)
        else:
            out = None
            if labels and self.join_ is not None:
                joined = self.join_.join(sorted(labels))
                if joined in self.classes_:
                    out = joined
            if out is None and labels:
                out = self._best({c for label in labels for c in self.candidates(label)})
            if out is None:
                out = self.fallback_
        self.memo_[key] = out
        return out

    def predict(self, test: Any) -> list[Any]:
        return [self.predict_one(aus) for aus in test.samples["aus"].tolist()]
