"""mebench.metrics: pure scoring functions (DESIGN section 6), modelled on scikit-learn's ``metrics``.

Why a package of plain functions: scoring must be reproducible from the arrays alone, with no hidden state, no
fitted objects and explicit averaging, so a results record can be recomputed by anyone. Each module does one job:

- ``recognition``: UF1, UAR, accuracy, per-class F1/recall, confusion (seed 003 eq. 9-11), on pooled predictions;
- ``multilabel``: per-label F1 and accuracy and their unweighted means (seed 004 eq. 1-4);
- ``spotting``: interval spotting at IoU >= k, greedy one-to-one or the MEGC2020 many-to-one rule (seed 002);
- ``emg``: EMG interval detection scores of seed 001 Table 7;
- ``bootstrap``: person-level bootstrap CIs and the paired bootstrap test.
"""

from mebench.metrics.bootstrap import bootstrap_ci, paired_bootstrap
from mebench.metrics.emg import emg_interval
from mebench.metrics.multilabel import multilabel_scores
from mebench.metrics.recognition import (
    accuracy,
    confusion,
    per_class_f1,
    per_class_recall,
    recognition_scores,
    uar,
    uf1,
)
from mebench.metrics.spotting import spotting, spotting_at

__all__ = [
    "accuracy",
    "bootstrap_ci",
    "confusion",
    "emg_interval",
    "multilabel_scores",
    "paired_bootstrap",
    "per_class_f1",
    "per_class_recall",
    "recognition_scores",
    "spotting",
    "spotting_at",
    "uar",
    "uf1",
]
