"""Person-level bootstrap: determinism, coverage of the point estimate, group resampling, paired test."""

from __future__ import annotations

import numpy as np
import pytest

from mebench.metrics import accuracy, bootstrap_ci, multilabel_scores, paired_bootstrap, uf1


def _data(seed=0, n_persons=20, per_person=8, p_correct=0.7):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"p{i:02d}" for i in range(n_persons)], per_person)
    y_true = rng.choice(["neg", "pos", "sur"], size=groups.size)
    y_pred = np.where(rng.random(groups.size) < p_correct, y_true, rng.choice(["neg", "pos", "sur"], size=groups.size))
    return y_true, y_pred, groups


def test_deterministic_for_a_seed():
    y_true, y_pred, groups = _data()
    a = bootstrap_ci(uf1, y_true, y_pred, groups, n_boot=200, seed=3)
    b = bootstrap_ci(uf1, y_true, y_pred, groups, n_boot=200, seed=3)
    c = bootstrap_ci(uf1, y_true, y_pred, groups, n_boot=200, seed=4)
    assert a == b
    assert a != c
    # Row order does not matter (persons are sorted before drawing).
    perm = np.random.default_rng(1).permutation(groups.size)
    d = bootstrap_ci(uf1, y_true[perm], y_pred[perm], groups[perm], n_boot=200, seed=3)
    assert d == pytest.approx(a)


def test_ci_contains_point_estimate():
    y_true, y_pred, groups = _data()
    low, high = bootstrap_ci(uf1, y_true, y_pred, groups, n_boot=500, seed=0)
    assert low < uf1(y_true, y_pred) < high
    assert 0.0 <= low < high <= 1.0
    low90, high90 = bootstrap_ci(uf1, y_true, y_pred, groups, n_boot=500, alpha=0.1, seed=0)
    assert low <= low90 and high90 <= high


def test_resamples_whole_persons():
    # Persons of different sizes: the number of rows in a replicate varies; equal sizes: it never does.
    groups = np.array(["a"] * 1 + ["b"] * 5 + ["c"] * 10)
    y = np.zeros(groups.size)
    low, high = bootstrap_ci(lambda t, p: float(len(t)), y, y, groups, n_boot=300, seed=0)
    assert 3.0 <= low < high <= 30.0  # 3 persons drawn: from 1+1+1 rows to 10+10+10 rows
    equal = np.repeat(["a", "b", "c"], 4)
    z = np.zeros(equal.size)
    assert bootstrap_ci(lambda t, p: float(len(t)), z, z, equal, n_boot=50) == (12.0, 12.0)


def test_works_with_indicator_matrices():
    rng = np.random.default_rng(2)
    y_true = (rng.random((60, 4)) < 0.4).astype(int)
    y_pred = np.where(rng.random((60, 4)) < 0.8, y_true, 1 - y_true)
    groups = np.repeat(np.arange(12), 5)
    labels = ["AU1", "AU2", "AU4", "AU12"]
    metric = lambda t, p: multilabel_scores(t, p, labels)["f1"]  # noqa: E731
    low, high = bootstrap_ci(metric, y_true, y_pred, groups, n_boot=200)
    assert low <= metric(y_true, y_pred) <= high


def test_paired_identical_predictions():
    y_true, y_pred, groups = _data()
    out = paired_bootstrap(uf1, y_true, y_pred, y_pred.copy(), groups, n_boot=200, seed=0)
    assert out == {"delta": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0}


def test_paired_detects_a_clear_difference_and_is_deterministic():
    y_true, good, groups = _data(p_correct=0.9)
    _, bad, _ = _data(seed=5, p_correct=0.0)  # unrelated labels for the same rows
    out = paired_bootstrap(accuracy, y_true, good, bad, groups, n_boot=300, seed=1)
    assert out["delta"] == pytest.approx(accuracy(y_true, good) - accuracy(y_true, bad))
    assert out["delta"] > 0 and out["low"] > 0 and out["low"] <= out["delta"] <= out["high"]
    assert out["p_value"] == pytest.approx(1 / 301)  # no replicate as far from delta as delta is from 0
    assert paired_bootstrap(accuracy, y_true, good, bad, groups, n_boot=300, seed=1) == out
    swapped = paired_bootstrap(accuracy, y_true, bad, good, groups, n_boot=300, seed=1)
    assert swapped["delta"] == pytest.approx(-out["delta"])
    assert swapped["low"] == pytest.approx(-out["high"]) and swapped["high"] == pytest.approx(-out["low"])


def test_validation():
    y_true, y_pred, groups = _data()
    with pytest.raises(ValueError, match="groups"):
        bootstrap_ci(uf1, y_true, y_pred, groups[:-1])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(uf1, y_true, y_pred, groups, n_boot=0)
    with pytest.raises(ValueError, match="alpha"):
        bootstrap_ci(uf1, y_true, y_pred, groups, alpha=1.5)
    with pytest.raises(ValueError, match="rows"):
        paired_bootstrap(uf1, y_true, y_pred, y_pred[:-1], groups)
