"""Recognition and multi-label metrics: hand-worked numbers, the left-out class rule, agreement with scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    recall_score,
)

from mebench.metrics import (
    accuracy,
    confusion,
    multilabel_scores,
    per_class_f1,
    per_class_recall,
    recognition_scores,
    uar,
    uf1,
)

# ----------------------------------------------------------------------------------------------- hand-worked


def test_hand_worked_example():
    #            0    1    2    3    4    5
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "c", "c"]
    # a: TP 2 (0, 1), FP 0, FN 1 (2 -> b)           F1 = 4/5 = 0.8,   recall 2/3
    # b: TP 1 (3),    FP 1 (2), FN 1 (4 -> c)       F1 = 2/4 = 0.5,   recall 1/2
    # c: TP 1 (5),    FP 1 (4), FN 0                F1 = 2/3,         recall 1
    assert uf1(y_true, y_pred) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)  # 0.655555...
    assert uar(y_true, y_pred) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)  # 0.722222...
    assert accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert per_class_f1(y_true, y_pred) == pytest.approx({"a": 0.8, "b": 0.5, "c": 2 / 3})
    assert per_class_recall(y_true, y_pred) == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 1.0})
    labels, matrix = confusion(y_true, y_pred)
    assert labels == ["a", "b", "c"]
    assert matrix.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]

    scores = recognition_scores(y_true, y_pred)
    assert scores["uf1"] == pytest.approx(0.6555555555555556)
    assert scores["uar"] == pytest.approx(0.7222222222222222)
    assert scores["accuracy"] == pytest.approx(0.6666666666666666)
    assert scores["per_class"]["b"] == {"f1": 0.5, "recall": 0.5, "support": 2}
    assert scores["confusion"] == {"labels": ["a", "b", "c"], "matrix": [[2, 1, 0], [0, 1, 1], [0, 0, 1]]}
    assert scores["left_out"] == []


def test_left_out_class_is_neither_zero_nor_one():
    y_true = ["happiness", "happiness", "surprise", "surprise"]
    y_pred = ["happiness", "surprise", "surprise", "surprise"]
    labels = ["happiness", "surprise", "fear"]  # fear: no samples and no predictions
    # happiness F1 = 2/3 (TP1 FP0 FN1), surprise F1 = 4/5 (TP2 FP1 FN0); fear left out, not 0 and not 1.
    assert uf1(y_true, y_pred, labels=labels) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert uar(y_true, y_pred, labels=labels) == pytest.approx((1 / 2 + 1) / 2)
    scores = recognition_scores(y_true, y_pred, labels=labels)
    assert scores["left_out"] == ["fear"]
    assert scores["per_class"]["fear"] == {"f1": None, "recall": None, "support": 0}
    assert np.isnan(per_class_f1(y_true, y_pred, labels=labels)["fear"])
    assert scores["confusion"]["matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_class_predicted_but_absent_counts_zero_in_uf1_and_is_not_in_uar():
    y_true = ["a", "a", "b"]
    y_pred = ["a", "c", "b"]  # c has no samples but one (wrong) prediction
    # a: 2/3, b: 1, c: 0 (TP0 FP1) -> UF1 = 5/9; UAR over a, b only = (1/2 + 1)/2
    assert uf1(y_true, y_pred) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert uar(y_true, y_pred) == pytest.approx(0.75)
    scores = recognition_scores(y_true, y_pred)
    assert scores["left_out"] == []
    assert scores["per_class"]["c"] == {"f1": 0.0, "recall": None, "support": 0}


def test_int_labels_and_values_outside_labels():
    y_true = [0, 0, 1, 2]
    y_pred = [0, 2, 1, 1]
    # labels restricted to [0, 1]: 2 is outside but still costs an FN of 0 and an FP of 1.
    assert uf1(y_true, y_pred, labels=[0, 1]) == pytest.approx(
        f1_score(y_true, y_pred, labels=[0, 1], average="macro")
    )
    assert accuracy(y_true, y_pred, labels=[0, 1]) == pytest.approx(0.5)
    labels, matrix = confusion(y_true, y_pred, labels=[0, 1])
    assert labels == [0, 1] and matrix.tolist() == confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    keys = list(recognition_scores(np.array(y_true), np.array(y_pred))["per_class"])
    assert keys == [0, 1, 2] and all(type(k) is int for k in keys)


def test_input_validation():
    with pytest.raises(ValueError, match="different lengths"):
        uf1([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        uf1([], [])
    with pytest.raises(ValueError, match="missing value"):
        uf1(["a", None], ["a", "b"])
    with pytest.raises(ValueError, match="duplicates"):
        uf1(["a"], ["a"], labels=["a", "a"])


def test_pandas_string_series():
    y_true = pd.Series(["x", "y", "y", "z"], dtype="string")
    y_pred = pd.Series(["x", "y", "z", "z"], dtype="string")
    assert uf1(y_true, y_pred) == pytest.approx(f1_score(list(y_true), list(y_pred), average="macro"))


# ------------------------------------------------------------------------------------------------ vs sklearn

label_pool = st.sampled_from([["a", "b", "c", "d", "e"], [0, 1, 2, 3, 4, 5, 6]])


@st.composite
def label_pairs(draw):
    pool = draw(label_pool)
    n = draw(st.integers(1, 60))
    k = draw(st.integers(1, len(pool)))
    y_true = draw(st.lists(st.sampled_from(pool[:k]), min_size=n, max_size=n))
    y_pred = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return pool, y_true, y_pred


@settings(max_examples=150, deadline=None)
@given(label_pairs())
def test_matches_sklearn(case):
    pool, y_true, y_pred = case
    present = sorted(set(y_true) | set(y_pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert uf1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, labels=present, average="macro"))
        assert uar(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))
        assert uar(y_true, y_pred) == pytest.approx(
            recall_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro")
        )
        assert accuracy(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))
        labels, matrix = confusion(y_true, y_pred)
        assert labels == present
        assert matrix.tolist() == confusion_matrix(y_true, y_pred, labels=present).tolist()
        # With the whole pool as labels, absent classes are left out, so the result is unchanged.
        scores = recognition_scores(y_true, y_pred, labels=pool)
        assert scores["uf1"] == pytest.approx(uf1(y_true, y_pred))
        assert scores["left_out"] == [c for c in pool if c not in present]
        sk_f1 = f1_score(y_true, y_pred, labels=present, average=None)
        assert [scores["per_class"][c]["f1"] for c in present] == pytest.approx(list(sk_f1))


def test_matches_sklearn_seeded_large():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n_classes = int(rng.integers(2, 9))
        y_true = rng.integers(0, n_classes, 500)
        y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, n_classes, 500))
        present = sorted(set(y_true) | set(y_pred))
        assert uf1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, labels=present, average="macro"))
        assert uar(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))
        assert accuracy(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))


# ------------------------------------------------------------------------------------------------ multi-label


def test_multilabel_hand_example():
    labels = ["AU1", "AU4", "AU12"]
    y_true = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
    y_pred = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 0]])
    # AU1:  TP1 FP0 FN1 TN2 -> F1 2/3, acc 3/4
    # AU4:  TP2 FP0 FN0 TN2 -> F1 1,   acc 1
    # AU12: TP0 FP1 FN1 TN2 -> F1 0,   acc 2/4
    out = multilabel_scores(y_true, y_pred, labels)
    assert out["per_label"]["AU1"] == pytest.approx({"f1": 2 / 3, "accuracy": 0.75})
    assert out["per_label"]["AU4"] == pytest.approx({"f1": 1.0, "accuracy": 1.0})
    assert out["per_label"]["AU12"] == pytest.approx({"f1": 0.0, "accuracy": 0.5})
    assert out["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert out["accuracy"] == pytest.approx((0.75 + 1 + 0.5) / 3)
    assert out["undefined_f1"] == []


def test_multilabel_undefined_f1_is_zero_and_said():
    out = multilabel_scores([[1, 0], [0, 0]], [[1, 0], [0, 0]], ["pos", "never"])
    assert out["per_label"]["never"] == {"f1": 0.0, "accuracy": 1.0}
    assert out["undefined_f1"] == ["never"]


def test_multilabel_against_sklearn():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n, k = int(rng.integers(1, 80)), int(rng.integers(1, 9))
        y_true = (rng.random((n, k)) < rng.random(k)).astype(int)
        y_pred = np.where(rng.random((n, k)) < 0.7, y_true, 1 - y_true)
        labels = [f"L{i}" for i in range(k)]
        out = multilabel_scores(pd.DataFrame(y_true, columns=labels), y_pred, labels)
        per_f1 = [f1_score(y_true[:, j], y_pred[:, j], zero_division=0) for j in range(k)]
        per_acc = [accuracy_score(y_true[:, j], y_pred[:, j]) for j in range(k)]
        assert [out["per_label"][lab]["f1"] for lab in labels] == pytest.approx(per_f1)
        assert [out["per_label"][lab]["accuracy"] for lab in labels] == pytest.approx(per_acc)
        assert out["f1"] == pytest.approx(np.mean(per_f1))
        if k >= 2:  # a single column is "binary" to scikit-learn, not a multi-label indicator matrix
            assert out["f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
        assert out["accuracy"] == pytest.approx(np.mean(per_acc))


def test_fixed_width_string_arrays_are_encoded_as_pandas_does():
    """Long numpy str/bytes arrays take a hashing fast path (mebench.metrics.recognition._factorize): same codes and
    uniques as pd.factorize, same scores as the same labels in a list."""
    from mebench.metrics.recognition import _factorize

    rng = np.random.default_rng(3)
    alphabets = (["", "a", "ab", "abc", "happiness", "x" * 17, "\u00e9", "a\u3042", "repression"],
                 [b"", b"a", b"ab", b"abcdefghij", b"x" * 9])
    for alphabet in alphabets:
        for n in (1025, 5000):
            y = np.array([alphabet[i] for i in rng.integers(0, len(alphabet), n)])
            codes, uniques = _factorize(y)
            expected_codes, expected_uniques = pd.factorize(y)
            assert np.array_equal(codes, expected_codes)
            assert [u.item() for u in uniques] == list(expected_uniques)
            y_pred = y[rng.permutation(n)]
            assert recognition_scores(y, y_pred) == recognition_scores(list(y), list(y_pred))


def test_multilabel_validation():
    with pytest.raises(ValueError, match="0/1"):
        multilabel_scores([[2, 0]], [[1, 0]], ["a", "b"])
    with pytest.raises(ValueError, match="columns"):
        multilabel_scores([[1, 0]], [[1, 0]], ["a"])
    with pytest.raises(ValueError, match="rows"):
        multilabel_scores([[1, 0]], [[1, 0], [0, 0]], ["a", "b"])
