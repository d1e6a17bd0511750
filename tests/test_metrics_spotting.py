"""Spotting metrics: hand-worked cases, the MEGC2020 rule, properties, and a naive reference implementation."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mebench.metrics import spotting, spotting_at

spotting_module = importlib.import_module("mebench.metrics.spotting")  # the package attribute is the function


def frame(rows, columns=("video_id", "onset", "offset")):
    return pd.DataFrame(list(rows), columns=list(columns))


def counts(result, part="overall"):
    r = result[part]
    return r["tp"], r["fp"], r["fn"]


# ------------------------------------------------------------------------------------------ naive reference


def _iou(a_on, a_off, b_on, b_off):
    inter = max(0, min(a_off, b_off) - max(a_on, b_on) + 1)
    union = (a_off - a_on + 1) + (b_off - b_on + 1) - inter
    return inter / union


def _types(df, fps):
    if "expression_type" in df.columns:
        return [str(t).lower() for t in df["expression_type"]]
    return ["micro" if (off - on) / fps < 0.5 else "macro" for on, off in zip(df["onset"], df["offset"])]


def naive_greedy(gt, pred, k, fps=30.0):
    """Literal O(P x G) transcription of the documented greedy rule."""
    gtype, ptype = _types(gt, fps), _types(pred, fps)
    G = list(zip(gt["video_id"], gt["onset"], gt["offset"], gtype))
    scores = pred["score"].tolist() if "score" in pred.columns else [0.0] * len(pred)
    P = list(zip(pred["video_id"], pred["onset"], pred["offset"], ptype, scores))
    order = sorted(range(len(P)), key=lambda i: (-P[i][4], P[i][1], i))
    taken = set()
    tp = {"micro": 0, "macro": 0}
    for i in order:
        v, on, off, t, _ = P[i]
        best = None
        for j, (gv, gon, goff, gt_type) in enumerate(G):
            if j in taken or gv != v or gt_type != t:
                continue
            iou = _iou(on, off, gon, goff)
            if iou >= k:
                key = (-iou, gon, j)
                if best is None or key < best[0]:
                    best = (key, j)
        if best is not None:
            taken.add(best[1])
            tp[t] += 1
    out = {}
    for part in ("micro", "macro"):
        n_pred = sum(1 for p in P if p[3] == part)
        n_gt = sum(1 for g in G if g[3] == part)
        out[part] = (tp[part], n_pred - tp[part], n_gt - tp[part])
    out["overall"] = tuple(out["micro"][i] + out["macro"][i] for i in range(3))
    return out


def naive_megc2020(gt, pred, k, fps=30.0):
    """The MEGC baseline's cal_TP / spotting_evaluation arithmetic, per video and part, summed."""
    gtype, ptype = _types(gt, fps), _types(pred, fps)
    out = {}
    for part in ("micro", "macro"):
        TP = FP = FN = 0
        videos = set(gt["video_id"]) | set(pred["video_id"])
        for v in videos:
            label = [(on, off) for vid, on, off, t in zip(gt["video_id"], gt["onset"], gt["offset"], gtype)
                     if vid == v and t == part]
            pred_inter = [(on, off) for vid, on, off, t in zip(pred["video_id"], pred["onset"], pred["offset"], ptype)
                          if vid == v and t == part]
            result = [sum(1 for p in pred_inter if _iou(p[0], p[1], g[0], g[1]) >= k) for g in label]
            tp = sum(1 for r in result if r != 0)
            n = len(pred_inter) - (sum(result) - tp)
            TP, FP, FN = TP + tp, FP + (n - tp), FN + (len(label) - tp)
        out[part] = (TP, FP, FN)
    out["overall"] = tuple(out["micro"][i] + out["macro"][i] for i in range(3))
    return out


# ---------------------------------------------------------------------------------------------- hand-worked


def test_iou_is_counted_in_inclusive_frames():
    # [10, 19] vs [15, 24]: intersection 15..19 = 5 frames, union 10..24 = 15 frames, IoU 1/3.
    gt = frame([("v", 10, 19, "macro")], columns=("video_id", "onset", "offset", "expression_type"))
    pred = frame([("v", 15, 24, "macro")], columns=("video_id", "onset", "offset", "expression_type"))
    assert counts(spotting(gt, pred, iou=1 / 3)) == (1, 0, 0)
    assert counts(spotting(gt, pred, iou=0.34)) == (0, 1, 1)


@pytest.mark.parametrize(
    "pred_interval,k",
    [((0, 4), 0.5), ((6, 9), 0.4), ((7, 9), 0.3)],  # 5/10, 4/10, 3/10 frames of a 10-frame GT
)
def test_iou_exactly_k_counts(pred_interval, k):
    gt = frame([("v", 0, 9)])
    pred = frame([("v", *pred_interval)])
    assert counts(spotting(gt, pred, iou=k, fps=30.0)) == (1, 0, 0)
    shrunk = frame([("v", pred_interval[0] + 1, pred_interval[1])])  # one frame less: IoU just below k
    assert counts(spotting(gt, shrunk, iou=k, fps=30.0)) == (0, 1, 1)


def test_duplicate_detection_is_a_false_positive():
    gt = frame([("v", 100, 139)])
    pred = frame([("v", 100, 139), ("v", 101, 139)])
    assert counts(spotting(gt, pred, fps=30.0)) == (1, 1, 0)
    r = spotting(gt, pred, fps=30.0)["overall"]
    assert r["precision"] == 0.5 and r["recall"] == 1.0 and r["f1"] == pytest.approx(2 / 3)


def test_one_prediction_over_two_gts_is_one_tp():
    gt = frame([("v", 0, 4), ("v", 5, 9)])
    pred = frame([("v", 0, 9)])  # IoU exactly 0.5 with both
    result = spotting(gt, pred, iou=0.5, fps=30.0)
    assert counts(result) == (1, 0, 1)


def test_video_without_predictions_and_prediction_without_gt():
    gt = frame([("v1", 0, 9), ("v2", 0, 9), ("v2", 50, 59)])
    pred = frame([("v1", 0, 9), ("v3", 0, 9)])  # nothing on v2; v3 has no GT at all
    assert counts(spotting(gt, pred, fps=30.0)) == (1, 1, 2)


def test_score_order_decides_which_prediction_gets_the_gt():
    gt = frame([("v", 10, 19)])
    # The exact match has the LOWER score: the worse (IoU 0.6) but higher-scored prediction takes the GT.
    pred = frame([("v", 10, 19, 0.2), ("v", 10, 15, 0.9)], columns=("video_id", "onset", "offset", "score"))
    assert counts(spotting(gt, pred, iou=0.5, fps=30.0)) == (1, 1, 0)
    # If the better-scored one cannot reach k, the other still gets it.
    assert counts(spotting(gt, pred, iou=0.7, fps=30.0)) == (1, 1, 0)


def test_without_score_earlier_onset_goes_first():
    # GT A = [0, 9], B = [0, 19]. P_early [0, 12]: IoU 10/13 with A, 13/20 with B. P_late [1, 9]: IoU 9/10 with A,
    # 9/20 with B (< 0.5). P_early goes first (earlier onset), takes A (its best), and P_late finds nothing.
    gt = frame([("v", 0, 9), ("v", 0, 19)])
    pred = frame([("v", 1, 9), ("v", 0, 12)])
    assert counts(spotting(gt, pred, iou=0.5, fps=1000.0)) == (1, 1, 1)
    # A higher score for P_late reverses the order: P_late takes A, P_early falls back to B.
    scored = pred.assign(score=[0.9, 0.1])
    assert counts(spotting(gt, scored, iou=0.5, fps=1000.0)) == (2, 0, 0)
    # Equal scores: back to earlier onset first.
    assert counts(spotting(gt, pred.assign(score=0.5), iou=0.5, fps=1000.0)) == (1, 1, 1)


def test_best_iou_gt_is_taken():
    gt = frame([("v", 0, 9), ("v", 3, 12)])
    pred = frame([("v", 3, 11, 1.0), ("v", 0, 8, 0.5)], columns=("video_id", "onset", "offset", "score"))
    # pred (3, 11): IoU 7/12 with GT (0, 9), 9/10 with GT (3, 12) -> takes (3, 12); pred (0, 8) then gets (0, 9).
    assert counts(spotting(gt, pred, iou=0.5, fps=30.0)) == (2, 0, 0)


def test_micro_macro_by_expression_type():
    cols = ("video_id", "onset", "offset", "expression_type")
    gt = frame([("v", 0, 9, "micro"), ("v", 100, 199, "macro"), ("v", 300, 309, "micro")], columns=cols)
    pred = frame([("v", 0, 9, "Micro"), ("v", 100, 199, "micro"), ("v", 300, 309, "MACRO")], columns=cols)
    r = spotting(gt, pred)  # no fps needed: every row is typed
    # micro part: GT {0-9, 300-309} vs preds typed micro {0-9, 100-199}: TP 1, FP 1, FN 1
    # macro part: GT {100-199} vs preds typed macro {300-309}: TP 0, FP 1, FN 1
    assert counts(r, "micro") == (1, 1, 1)
    assert counts(r, "macro") == (0, 1, 1)
    assert counts(r, "overall") == (1, 2, 2)
    assert r["overall"]["precision"] == pytest.approx(1 / 3)


def test_micro_macro_by_duration_at_fps():
    gt = frame([("a", 0, 14, "micro"), ("b", 0, 15, "macro")],
               columns=("video_id", "onset", "offset", "expression_type"))
    pred = frame([("a", 0, 14), ("b", 0, 15)])  # untyped: 14/30 s = 0.467 s -> micro; 15/30 s = 0.5 s -> macro
    r = spotting(gt, pred, fps=30.0)
    assert counts(r, "micro") == (1, 0, 0) and counts(r, "macro") == (1, 0, 0)
    # Per-video fps: at 60 fps video b's prediction (0.25 s) becomes micro and misses the macro GT.
    r = spotting(gt, pred, fps={"a": 30.0, "b": 60.0})
    assert counts(r, "micro") == (1, 1, 0) and counts(r, "macro") == (0, 0, 1)
    # A missing expression_type value is typed by duration too.
    pred_typed = pred.assign(expression_type=["micro", None])
    assert counts(spotting(gt, pred_typed, fps=30.0), "macro") == (1, 0, 0)


def test_fps_required_only_for_duration_typing():
    gt = frame([("a", 0, 14, "micro")], columns=("video_id", "onset", "offset", "expression_type"))
    pred = frame([("a", 0, 14)])
    with pytest.raises(ValueError, match="fps"):
        spotting(gt, pred)
    with pytest.raises(ValueError, match="no entry for video_id 'a'"):
        spotting(gt, pred, fps={"b": 30.0})
    typed = pred.assign(expression_type="micro")
    assert counts(spotting(gt, typed)) == (1, 0, 0)


def test_megc2020_differs_from_greedy():
    # Two GTs covered by one long prediction (IoU exactly 0.5 with each) plus a duplicate of a third GT.
    gt = frame([("v", 0, 4), ("v", 5, 9), ("v", 100, 109)])
    pred = frame([("v", 0, 9), ("v", 100, 109), ("v", 100, 108)])
    greedy = spotting(gt, pred, iou=0.5, fps=1000.0)
    megc = spotting(gt, pred, iou=0.5, matcher="megc2020", fps=1000.0)
    assert counts(greedy) == (2, 1, 1)  # long pred finds one GT, duplicate is an FP, one GT missed
    # megc2020: hits = [1, 1, 2] -> TP 3; FP = n_pred - sum(hits) = 3 - 4 = -1 (the rule's known over-count)
    assert counts(megc) == (3, -1, 0)
    assert counts(megc) == naive_megc2020(gt, pred, 0.5, fps=1000.0)["overall"]
    # duplicates alone: forgiven by megc2020, an FP for greedy
    gt1, pred1 = frame([("v", 0, 9)]), frame([("v", 0, 9), ("v", 0, 8)])
    assert counts(spotting(gt1, pred1, matcher="megc2020", fps=30.0)) == (1, 0, 0)
    assert counts(spotting(gt1, pred1, fps=30.0)) == (1, 1, 0)


def test_spotting_at_returns_each_k():
    gt = frame([("v", 0, 9)])
    pred = frame([("v", 6, 9)])  # IoU 0.4
    out = spotting_at(gt, pred, fps=30.0)
    assert list(out) == [0.5, 0.4, 0.3]
    assert [counts(out[k]) for k in out] == [(0, 1, 1), (1, 0, 0), (1, 0, 0)]
    assert out[0.4] == spotting(gt, pred, iou=0.4, fps=30.0)


def test_empty_inputs():
    gt = frame([])
    pred = frame([])
    r = spotting(gt, pred)
    assert r["overall"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert counts(spotting(frame([("v", 0, 9)]), pred, fps=30.0)) == (0, 0, 1)


def test_validation_names_the_first_bad_row():
    gt = frame([("v", 0, 9)])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['offset'\]"):
        spotting(gt, pd.DataFrame({"video_id": ["v"], "onset": [0]}))
    bad = frame([("v", 0, 9), ("v", 20, 10), ("v", 30, 5)])
    with pytest.raises(ValueError, match=r"pred: onset > offset in row 1 .*onset=20"):
        spotting(gt, bad, fps=30.0)
    with pytest.raises(ValueError, match=r"gt: onset > offset in row 0"):
        spotting(frame([("v", 9, 0)]), gt, fps=30.0)
    with pytest.raises(ValueError, match="whole frame"):
        spotting(gt, frame([("v", 0.5, 9)]), fps=30.0)
    with pytest.raises(ValueError, match="missing or not a number"):
        spotting(gt, frame([("v", None, 9)]), fps=30.0)
    with pytest.raises(ValueError, match="neither 'micro' nor 'macro'"):
        spotting(gt.assign(expression_type="tiny"), gt, fps=30.0)
    with pytest.raises(ValueError, match="score"):
        spotting(gt, gt.assign(score=[np.nan]), fps=30.0)
    with pytest.raises(ValueError, match="matcher"):
        spotting(gt, gt, matcher="hungarian", fps=30.0)
    with pytest.raises(ValueError, match="threshold"):
        spotting(gt, gt, iou=0.0, fps=30.0)


# ------------------------------------------------------------------------------------------------ properties


@st.composite
def intervals(draw, n_max, with_score=False, typed=False):
    n = draw(st.integers(0, n_max))
    rows = []
    for _ in range(n):
        video = draw(st.sampled_from(["v1", "v2", "v3"]))
        onset = draw(st.integers(0, 80))
        length = draw(st.integers(0, 30))
        row = [video, onset, onset + length]
        if with_score:
            row.append(draw(st.sampled_from([0.1, 0.5, 0.5, 0.9])))
        if typed:
            row.append(draw(st.sampled_from(["micro", "macro"])))
        rows.append(row)
    cols = ["video_id", "onset", "offset"] + (["score"] if with_score else []) + (["expression_type"] if typed else [])
    return pd.DataFrame(rows, columns=cols).astype({"onset": "int64", "offset": "int64"})


@st.composite
def cases(draw):
    typed = draw(st.booleans())
    gt = draw(intervals(12, typed=typed))
    pred = draw(intervals(16, with_score=draw(st.booleans()), typed=typed and draw(st.booleans())))
    k = draw(st.sampled_from([0.3, 0.4, 0.5, 0.7, 1.0]))
    return gt, pred, k


@settings(max_examples=200, deadline=None)
@given(cases())
def test_matches_naive_reference(case):
    gt, pred, k = case
    got = spotting(gt, pred, iou=k, fps=30.0)
    want = naive_greedy(gt, pred, k)
    for part in ("overall", "micro", "macro"):
        assert counts(got, part) == want[part]
    got_m = spotting(gt, pred, iou=k, matcher="megc2020", fps=30.0)
    want_m = naive_megc2020(gt, pred, k)
    for part in ("overall", "micro", "macro"):
        assert counts(got_m, part) == want_m[part]


@settings(max_examples=100, deadline=None)
@given(cases())
def test_counts_add_up(case):
    gt, pred, k = case
    r = spotting(gt, pred, iou=k, fps=30.0)
    assert r["overall"]["tp"] + r["overall"]["fn"] == len(gt)
    assert r["overall"]["tp"] + r["overall"]["fp"] == len(pred)
    assert r["micro"]["tp"] + r["macro"]["tp"] == r["overall"]["tp"]


@settings(max_examples=100, deadline=None)
@given(cases())
def test_perfect_predictions_score_one(case):
    gt, _, k = case
    if len(gt) == 0:
        return
    r = spotting(gt, gt.copy(), iou=k, fps=30.0)
    assert r["overall"]["f1"] == 1.0
    assert r["overall"]["fp"] == 0 and r["overall"]["fn"] == 0


@settings(max_examples=100, deadline=None)
@given(cases(), st.sampled_from(["v1", "v9"]), st.sampled_from(["micro", "macro", None]))
def test_far_prediction_never_raises_f1(case, video, kind):
    gt, pred, k = case
    before = spotting(gt, pred, iou=k, fps=30.0)
    far = {"video_id": video, "onset": 10_000, "offset": 10_000 + (5 if kind != "macro" else 50)}
    if "score" in pred.columns:
        far["score"] = 1.0  # even ranked first it cannot take a GT
    if "expression_type" in pred.columns:
        far["expression_type"] = kind or "micro"
    after = spotting(gt, pd.concat([pred, pd.DataFrame([far])], ignore_index=True), iou=k, fps=30.0)
    for part in ("overall", "micro", "macro"):
        assert after[part]["f1"] <= before[part]["f1"]
        assert after[part]["tp"] == before[part]["tp"]


def test_vectorised_rounds_match_naive_on_dense_data(monkeypatch):
    # Force the vectorised rounds (normally only used above a few thousand pairs), no sequential fallback.
    monkeypatch.setattr(spotting_module, "_SEQUENTIAL_BELOW", 1)
    monkeypatch.setattr(spotting_module, "_MAX_ROUNDS", 10_000)
    rng = np.random.default_rng(11)
    for trial in range(6):
        n_gt, n_pred = 60, 240
        gv = rng.integers(0, 3, n_gt)
        gon = rng.integers(0, 400, n_gt)
        gt = pd.DataFrame({"video_id": gv, "onset": gon, "offset": gon + rng.integers(0, 40, n_gt)})
        src = rng.integers(0, n_gt, n_pred)
        pon = gt["onset"].to_numpy()[src] + rng.integers(-6, 7, n_pred)
        poff = np.maximum(pon, gt["offset"].to_numpy()[src] + rng.integers(-6, 7, n_pred))
        pred = pd.DataFrame({"video_id": gv[src], "onset": pon, "offset": poff})
        if trial % 2:
            pred["score"] = rng.integers(0, 4, n_pred) / 4  # many ties
        for k in (0.3, 0.5):
            got = spotting(gt, pred, iou=k, fps=30.0)
            want = naive_greedy(gt, pred, k)
            for part in ("overall", "micro", "macro"):
                assert counts(got, part) == want[part]
    # and the sequential fallback after a single round
    monkeypatch.setattr(spotting_module, "_MAX_ROUNDS", 1)
    got = spotting(gt, pred, iou=0.3, fps=30.0)
    assert counts(got) == naive_greedy(gt, pred, 0.3)["overall"]
