"""EMG interval scores (seed 001 Table 7): a hand-computed table, both overlap modes, NaN handling, validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mebench.metrics import emg_interval

GT = pd.DataFrame(
    {
        "sample_id": ["s1", "s2", "s3", "s4"],
        "onset_s": [1.0, 2.0, 0.5, 3.0],
        "offset_s": [1.4, 2.3, 1.0, 3.2],
    }
)
PRED = pd.DataFrame(
    {
        "sample_id": ["s1", "s2", "s3", "s4"],
        "onset_s": [1.1, 2.0, np.nan, 2.9],
        "offset_s": [1.5, 2.2, np.nan, 3.5],
    }
)
# Worked by hand (s3 not detected):
#   s1 gt [1.0, 1.4] pred [1.1, 1.5]: inter 0.3, union 0.5 -> IoU 0.6;    min 0.3/0.4 = 0.75; d_on +0.1, d_off +0.1
#   s2 gt [2.0, 2.3] pred [2.0, 2.2]: inter 0.2, union 0.3 -> IoU 2/3;    min 0.2/0.2 = 1;    d_on  0.0, d_off -0.1
#   s4 gt [3.0, 3.2] pred [2.9, 3.5]: inter 0.2, union 0.6 -> IoU 1/3;    min 0.2/0.2 = 1;    d_on -0.1, d_off +0.3
# n 4, n_nan 1; mean IoU (0.6 + 2/3 + 1/3)/3 = 0.5333; P(IoU > 0.5) = 2 of ALL 4 samples = 0.5
# |d_on| = [0.1, 0, 0.1]:  MAE 0.0667, RMSE sqrt(0.02/3) = 0.08165, SE = std([.1, 0, .1], ddof=1)/sqrt(3) = 0.03333
# |d_off| = [0.1, 0.1, 0.3]: MAE 0.1667, RMSE sqrt(0.11/3) = 0.19149, SE = std([.1, .1, .3], ddof=1)/sqrt(3) = 0.06667


def test_hand_computed_iou():
    r = emg_interval(GT, PRED)
    assert r["n"] == 4 and r["n_nan"] == 1
    assert r["mean_iou"] == pytest.approx(1.6 / 3)
    assert r["p_iou_gt_0.5"] == pytest.approx(0.5)
    assert r["onset_mae"] == pytest.approx(0.2 / 3)
    assert r["onset_rmse"] == pytest.approx(math.sqrt(0.02 / 3))
    assert r["onset_se"] == pytest.approx(0.1 / 3)
    assert r["offset_mae"] == pytest.approx(0.5 / 3)
    assert r["offset_rmse"] == pytest.approx(math.sqrt(0.11 / 3))
    assert r["offset_se"] == pytest.approx(0.2 / 3)
    assert r["overlap"] == "iou"


def test_hand_computed_min_overlap():
    r = emg_interval(GT, PRED, overlap="min")
    assert r["mean_iou"] == pytest.approx((0.75 + 1 + 1) / 3)
    assert r["p_iou_gt_0.5"] == pytest.approx(3 / 4)  # denominator: all samples, the undetected one included
    assert r["onset_mae"] == pytest.approx(0.2 / 3)  # timing errors do not depend on the overlap mode
    assert r["overlap"] == "min"


def test_se_is_the_standard_error_of_the_mean_absolute_error():
    from scipy import stats

    r = emg_interval(GT, PRED)
    assert r["onset_se"] == pytest.approx(stats.sem([0.1, 0.0, 0.1]))
    assert r["offset_se"] == pytest.approx(stats.sem([0.1, 0.1, 0.3]))


def test_missing_prediction_row_counts_as_not_detected():
    r_nan = emg_interval(GT, PRED)
    r_missing = emg_interval(GT, PRED[PRED["sample_id"] != "s3"].iloc[::-1])  # also: row order does not matter
    assert r_missing == r_nan


def test_nothing_detected():
    pred = PRED.assign(onset_s=np.nan, offset_s=np.nan)
    r = emg_interval(GT, pred)
    assert r["n_nan"] == 4 and r["p_iou_gt_0.5"] == 0.0
    assert r["mean_iou"] is None and r["onset_mae"] is None and r["onset_se"] is None and r["offset_rmse"] is None


def test_perfect_detection():
    r = emg_interval(GT, GT)
    assert r["n_nan"] == 0 and r["mean_iou"] == pytest.approx(1.0) and r["p_iou_gt_0.5"] == 1.0
    assert r["onset_mae"] == 0.0 and r["offset_rmse"] == 0.0 and r["onset_se"] == 0.0


def test_disjoint_intervals_have_zero_overlap():
    gt = pd.DataFrame({"sample_id": ["a"], "onset_s": [0.0], "offset_s": [1.0]})
    pred = pd.DataFrame({"sample_id": ["a"], "onset_s": [2.0], "offset_s": [3.0]})
    for mode in ("iou", "min"):
        r = emg_interval(gt, pred, overlap=mode)
        assert r["mean_iou"] == 0.0 and r["p_iou_gt_0.5"] == 0.0
        assert r["onset_se"] is None  # one detection: no standard error


def test_validation():
    with pytest.raises(ValueError, match="only one of onset_s/offset_s"):
        emg_interval(GT, PRED.assign(offset_s=[1.5, 2.2, 1.0, 3.5]))
    with pytest.raises(ValueError, match=r"pred: onset_s > offset_s in row 0 \(sample_id 's1'\)"):
        emg_interval(GT, PRED.assign(onset_s=[2.0, 2.0, np.nan, 2.9]))
    with pytest.raises(ValueError, match="not in gt"):
        emg_interval(GT, pd.concat([PRED, pd.DataFrame({"sample_id": ["zz"], "onset_s": [0.0], "offset_s": [1.0]})]))
    with pytest.raises(ValueError, match="more than once"):
        emg_interval(GT, pd.concat([PRED, PRED.iloc[:1]]))
    with pytest.raises(ValueError, match="missing column"):
        emg_interval(GT, PRED.drop(columns="offset_s"))
    with pytest.raises(ValueError, match="gt: onset_s/offset_s missing"):
        emg_interval(GT.assign(onset_s=[np.nan, 2.0, 0.5, 3.0]), PRED)
    with pytest.raises(ValueError, match="overlap"):
        emg_interval(GT, PRED, overlap="dice")
