"""Spotting baselines: seed 002's AU-prototype method (eq. 18, 21-26, 9-12 geometry, 19-20 windows) and MDMD, on
hand-made arrays, plus one end-to-end run of each on a tiny synthetic long video (fixed landmarks: no dlib)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from mebench.baselines import face
from mebench.baselines.face import Box, FixedLandmarker, crop, eye_box, gamma_box, mouth_box
from mebench.baselines.flow import ArrayFrames, RoiConfig, pair_flows, window_features, window_rois
from mebench.baselines.spotting_au_prototype import (AUPrototypeSpotter, Peak, build_prototypes, expression_type,
                                                     fuse, heldout_responses, lowpass_clip, match_curves,
                                                     matching_index, next_start, overlap_index, peak_intervals,
                                                     peak_mask, spot_curves, thresholds)
from mebench.baselines.spotting_mdmd import (MDMDSpotter, block_values, choose_p, contrast, curve_intervals,
                                             frames_to_intervals, merge_intervals, spot_contrast, spot_video,
                                             top_third_mean, valley_bounds)
from mebench.errors import InputError

# ------------------------------------------------------------------------------------------------ eq. 18


def _field(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def test_prototypes_eq18_average_flows_of_the_intervals_with_each_au():
    # three training intervals, 1x2-pixel regions: eye flows and mouth flows written out
    eye = _field([[[[1, 0], [0, 2]]], [[[3, 0], [0, 4]]], [[[9, 9], [9, 9]]]])
    mouth = _field([[[[0, 1], [1, 0]]], [[[2, 1], [1, 2]]], [[[4, 1], [1, 4]]]])
    aus = [[1], [1, 12], [12, 25]]
    protos = build_prototypes(eye, mouth, aus, aus=(1, 2, 12), min_samples=1)
    assert protos.keys == ("AU1", "AU12")  # AU2: no interval; AU25 not asked for
    assert protos.regions == ("eye", "mouth")
    assert protos.counts == (2, 2)
    np.testing.assert_allclose(protos.field("AU1"), [[[2, 0], [0, 3]]])  # (1+3)/2, (2+4)/2 on the EYE region
    np.testing.assert_allclose(protos.field("AU12"), [[[3, 1], [1, 3]]])  # (2+4)/2 on the MOUTH region

    assert build_prototypes(eye, mouth, aus, aus=(1, 12), min_samples=3).keys == ("eye:all", "mouth:all")
    fallback = build_prototypes(eye, mouth, aus, aus=(1, 12), min_samples=3)
    np.testing.assert_allclose(fallback.field("eye:all"), eye.mean(axis=0))
    assert build_prototypes(eye, mouth, aus, aus=(1, 12), min_samples=3, fallback=False).keys == ()
    with pytest.raises(ValueError):
        build_prototypes(eye, mouth, aus, aus=(8,))  # AU8 lies in neither region


# ------------------------------------------------------------------------------------------------ eq. 21-23


def test_matching_eq21_22_is_the_sum_of_the_hadamard_product():
    flow = _field([[[1, 2], [3, -1]], [[0, 1], [2, 2]]])  # 2x2 pixels, (x, y)
    proto = _field([[[2, 0], [1, 1]], [[5, -1], [0, 0.5]]])
    # D = F o M = [[2, 0], [3, -1]], [[0, -1], [0, 1]] -> sum = 2 + 0 + 3 - 1 + 0 - 1 + 0 + 1 = 4
    assert matching_index(flow, proto) == pytest.approx(4.0)
    assert matching_index(flow, proto, pixel_weight=4.0) == pytest.approx(16.0)
    # the paper's AU12 example (Figure 9): corners moving along the prototype match 1, a shake against it 0 or less
    lc, rc = np.array([-0.6, -0.8]), np.array([0.6, -0.8])
    prototype = _field([[lc, rc]])
    assert matching_index(_field([[lc, rc]]), prototype) == pytest.approx(2.0)
    assert matching_index(_field([[[0, 1], [0, 1]]]), prototype) == pytest.approx(-1.6)  # head moving down

    eye = np.stack([flow, 2 * flow, np.zeros_like(flow)])
    protos = build_prototypes(eye[:2], eye[:2], [[4], [4]], aus=(4,), min_samples=1)
    curves = match_curves(eye, eye, protos)  # eq. 23: V x n
    m = protos.field("AU4")  # = 1.5 flow
    assert curves.shape == (1, 3)
    np.testing.assert_allclose(curves[0], [matching_index(flow, m), matching_index(2 * flow, m), 0.0], rtol=1e-6)


def test_thresholds_from_held_out_training_responses():
    f1 = _field([[[1, 0], [0, 0]]])
    f2 = _field([[[3, 0], [0, 0]]])
    f3 = _field([[[-1, 0], [0, 0]]])
    flows = np.stack([f1, f2, f3])
    protos = build_prototypes(flows, flows, [[1], [1], [1]], aus=(1,), min_samples=1)
    responses = heldout_responses(flows, flows, [[1], [1], [1]], protos)["AU1"]
    # leave-one-out prototypes: without f1 -> 1.0, without f2 -> 0.0, without f3 -> 2.0
    np.testing.assert_allclose(responses, [1 * 1.0, 3 * 0.0, -1 * 2.0])
    assert thresholds({"AU1": responses}, rho=0.5) == {}  # median 0: these samples do not agree
    assert thresholds({"AU1": np.array([2.0, 4.0, 10.0])}, rho=0.5) == {"AU1": 2.0}
    assert thresholds({"AU1": np.array([-1.0, 0.0, 0.5])}) == {}  # median not positive: AU dropped


# ------------------------------------------------------------------------------------------------ low-pass


def test_lowpass_then_clip_at_zero():
    x = np.array([[0.0, -2.0, 3.0, -1.0, 0.5]])
    np.testing.assert_allclose(lowpass_clip(x, fps=30.0, cutoff_hz=None), [[0.0, 0.0, 3.0, 0.0, 0.5]])
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    slow = np.sin(2 * np.pi * 0.5 * t) * 10
    noisy = slow + rng.normal(0, 2, len(t))
    smooth = lowpass_clip(noisy, fps=30.0, cutoff_hz=2.0)
    assert smooth.min() >= 0
    inner = slice(20, -20)
    assert np.abs(smooth[inner] - np.maximum(slow, 0)[inner]).mean() < np.abs(noisy - slow)[inner].mean() / 2


# ------------------------------------------------------------------------------------------------ eq. 24


def _bump(n: int, centre: int, half: int, height: float) -> np.ndarray:
    t = np.arange(n, dtype=float)
    return height * np.clip(1 - np.abs(t - centre) / half, 0, None)


def test_peak_rule_eq24_differences_to_both_side_minima():
    curve = np.array([0, 0, 1, 5, 1, 0, 0, 0], dtype=float)
    # point 3: 5 - min(left 3 points) = 5, 5 - min(right 3) = 5; points 2/4: 1 - 0 = 1 on both sides
    np.testing.assert_array_equal(peak_mask(curve, 4.0, 3), [0, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(peak_mask(curve, 0.9, 3), [0, 0, 1, 1, 1, 0, 0, 0])
    assert not peak_mask(curve, 5.0, 3).any()  # strictly greater than theta
    # a point without neighbours on one side is no peak; only the m neighbours count
    assert not peak_mask(np.array([9.0, 0, 0]), 1.0, 2).any()
    step = np.array([0, 0, 0, 0, 5, 5, 5, 5, 5], dtype=float)
    assert not peak_mask(step, 1.0, 2).any()  # a plateau: no difference to its right
    # only the rise within m counts: a slow ramp (0 -> 4 over 8 frames, then a drop) is a peak for m = 8, not m = 2
    ramp = np.r_[np.linspace(0, 4, 9), [0.0]]
    assert not peak_mask(ramp, 1.5, 2).any()
    np.testing.assert_array_equal(np.flatnonzero(peak_mask(ramp, 1.5, 8)), [4, 5, 6, 7, 8])  # values 2 .. 4


def test_peak_within_radius_suppresses_the_smaller_one():
    m = 10
    big, small = _bump(100, 40, 4, 10.0), _bump(100, 48, 3, 6.0)
    curve = np.maximum(big, small)
    both = peak_mask(curve, 2.0, m)
    assert both[40] and both[48]  # eq. 24 alone marks both apexes
    peaks = peak_intervals(curve, 2.0, m, bounds="run")
    assert [p.apex for p in peaks] == [40]  # 48 is within m = 10 frames of the higher peak
    far = np.maximum(_bump(100, 30, 4, 10.0), _bump(100, 60, 4, 6.0))
    assert [p.apex for p in peak_intervals(far, 2.0, m, bounds="run")] == [30, 60]
    assert [p.apex for p in peak_intervals(far, 7.0, m, bounds="run")] == [30]  # threshold: 6 < 7
    assert [p.apex for p in peak_intervals(curve, 2.0, m, bounds="run", suppress=False)] == [40, 48]


def test_peak_bounds_run_and_valley():
    curve = _bump(60, 30, 10, 10.0)  # rises from frame 20 to 30, back to 0 at 40
    run = peak_intervals(curve, 5.0, 15, bounds="run")
    assert [(p.start, p.end) for p in run] == [(26, 34)]  # where 10 - 0 > 5: the middle of the bump
    valley = peak_intervals(curve, 5.0, 15, bounds="valley", edge=0.1)
    assert [(p.start, p.end) for p in valley] == [(21, 39)]  # back to within 10 % of the rise
    assert valley[0].score == pytest.approx(10.0 / 5.0)
    with pytest.raises(ValueError):
        peak_intervals(curve, 0.0, 15)


def test_peak_still_rising_at_the_window_end_is_left_to_the_next_window():
    curve = _bump(50, 36, 6, 10.0)[:40]  # cut by the window's end half-way down: 10, 8.3, 6.7, 5
    assert peak_intervals(curve, 3.0, 10, cut_at_end=True) == []
    assert len(peak_intervals(curve, 3.0, 10, cut_at_end=False)) == 1  # the video's last window keeps it


# ------------------------------------------------------------------------------------------------ eq. 25-26


def test_overlap_index_eq25_as_printed():
    assert overlap_index((0, 10), (5, 20)) == pytest.approx(5 / 10)
    assert overlap_index((5, 20), (0, 10)) == pytest.approx(5 / 10)
    assert overlap_index((0, 10), (20, 30)) == 0.0
    assert overlap_index((0, 100), (10, 20)) == pytest.approx(1.0)  # contained: over the shorter one
    assert overlap_index((3, 3), (0, 10)) == 1.0 and overlap_index((30, 30), (0, 10)) == 0.0


def test_fusion_eq25_26_threshold_033():
    fused = fuse([(0, 9), (6, 30)], delta=0.33)  # mu = (9 - 6) / 9 = 0.333... > 0.33
    assert [(p.start, p.end) for p in fused] == [(0, 30)]
    kept = fuse([(0, 10), (7, 30)], delta=0.33)  # mu = 3 / 10 = 0.3
    assert [(p.start, p.end) for p in kept] == [(0, 10), (7, 30)]
    # [0, 10] + [5, 20] (mu 0.5) -> [0, 20]; + [12, 40] (mu 8 / 20 = 0.4) -> [0, 40]; [100, 110] apart
    chain = fuse([Peak(0, 10, 5, 1.0, ("AU1",)), Peak(5, 20, 12, 3.0, ("AU4",)), Peak(12, 40, 30, 2.0, ("AU12",)),
                  Peak(100, 110, 105, 1.5, ("AU1",))])
    assert [(p.start, p.end) for p in chain] == [(0, 40), (100, 110)]
    assert chain[0].score == 3.0 and chain[0].apex == 12 and chain[0].keys == ("AU1", "AU12", "AU4")

    curves = np.vstack([_bump(80, 30, 8, 10.0), _bump(80, 33, 8, 6.0), _bump(80, 60, 5, 1.0)])
    theta = {"AU1": 4.0, "AU12": 3.0, "AU4": 2.0}
    spots = spot_curves(curves, ("AU1", "AU12", "AU4"), theta, 10, bounds="run")
    (a,), (b,) = peak_intervals(curves[0], 4.0, 10, "run"), peak_intervals(curves[1], 3.0, 10, "run")
    assert overlap_index(a, b) > 0.33
    assert [(p.start, p.end, p.keys) for p in spots] == [(min(a.start, b.start), max(a.end, b.end),
                                                          ("AU1", "AU12"))]  # AU4 (1.0) stays under its theta


def test_adaptive_window_step_eq19_20():
    assert next_start(0, 210, []) == 105  # nothing spotted: S = N / 2
    assert next_start(100, 210, [Peak(10, 40, 20, 1.0), Peak(60, 80, 70, 1.0)]) == 100 + 80 + 1  # S = end_last + 1


def test_expression_type_by_duration():
    assert expression_type(100, 114, 30.0) == "micro"  # 14 / 30 < 0.5 s
    assert expression_type(100, 115, 30.0) == "macro"


# ------------------------------------------------------------------------------------------------ eq. 9-12


LANDMARKS = np.zeros((68, 2))
LANDMARKS[:, 0], LANDMARKS[:, 1] = 150, 250
LANDMARKS[36], LANDMARKS[45] = (100, 200), (200, 210)
LANDMARKS[48], LANDMARKS[54] = (120, 300), (180, 304)


def test_eye_region_gamma_geometry_eq9_12():
    box = eye_box(LANDMARKS)  # d = 100, eye line at y = 205
    assert box.as_tuple() == pytest.approx((100 - 20, 205 - 60, 200 + 20, 205 + 60))
    assert box.width / box.height == pytest.approx(280 / 240)  # gamma (0.2, 0.6, 0.2, 0.6) has 280 x 240's aspect
    other = eye_box(LANDMARKS, gamma=(0.1, 0.2, 0.3, 0.4))
    assert other.as_tuple() == pytest.approx((90, 185, 230, 245))
    mouth = mouth_box(LANDMARKS)  # d = 60, mouth line at y = 302
    assert mouth.as_tuple() == pytest.approx((120 - 18, 302 - 24, 180 + 18, 302 + 36))
    assert mouth.width / mouth.height == pytest.approx(260 / 160, rel=0.02)
    with pytest.raises(ValueError):
        gamma_box((200, 0), (100, 0), (0.2, 0.6, 0.2, 0.6))


def test_crop_maps_the_box_onto_the_normalised_size():
    xs = np.tile(np.arange(400, dtype=np.float32), (400, 1))
    image = (xs / 2).astype(np.uint8)  # value = x / 2
    box = Box(80, 100, 220, 220)
    out = crop(image, box, (280, 240))
    assert out.shape == (240, 280)
    # a 2x upsampling: output column u looks at x = 80 + (u + 0.5) / 2 - 0.5
    assert abs(int(out[10, 0]) - 40) <= 1 and abs(int(out[10, 279]) - 110) <= 1
    assert np.all(np.diff(out[5].astype(int)) >= 0)


def test_no_face_is_an_input_error():
    try:
        face.landmark_model_path()
    except FileNotFoundError:
        pytest.skip("dlib's 68-point model is not installed")
    with pytest.raises(InputError, match="no face found in video x frame 3"):
        face.detect_landmarks(np.full((120, 160), 128, np.uint8), upsample=(0,), where="video x frame 3")


# ------------------------------------------------------------------------------------------------ MDMD pieces


def test_mdmd_block_value_main_direction_and_top_third():
    a = np.zeros((6, 6, 2), np.float32)
    a[..., 0] = 1.0  # right: quadrant 0 in every pixel
    b = np.zeros_like(a)
    np.testing.assert_allclose(block_values(a, b, (2, 2)), [1.0] * 4)
    np.testing.assert_allclose(block_values(a, a, (2, 2)), [0.0] * 4)  # back at i + k: no difference
    mixed = a.copy()
    mixed[0, :2] = (-5.0, 0.0)  # 2 of the 9 pixels of block 0 point left (a minority direction)
    mixed[1, 0] = (3.0, 0.5)  # one strong pixel in the main direction
    v = block_values(mixed, b, (2, 2))
    # block 0: main direction right, 7 pixels, top round(7/3) = 2 values: 3.04, 1 -> mean 2.02
    assert v[0] == pytest.approx((np.hypot(3.0, 0.5) + 1.0) / 2, rel=1e-5)
    assert top_third_mean([1, 9, 3, 4, 8, 2]) == pytest.approx(8.5)


def test_mdmd_contrast_threshold_and_intervals():
    f = np.zeros(40)
    f[20] = 10.0
    c = contrast(f, 4)  # C(i) = f(i) - (f(i-3) + f(i+3)) / 2
    assert np.isnan(c[:3]).all() and np.isnan(c[-3:]).all()
    assert c[20] == 10.0 and c[17] == -5.0 and c[23] == -5.0
    assert frames_to_intervals([0, 1, 1, 0, 0, 0, 0, 0, 1, 0], 2) == [(0, 4), (6, 9)]
    assert frames_to_intervals([0, 0, 1, 0, 1, 0, 0, 0, 0], 1) == [(1, 5)]  # overlapping -> merged
    spots = spot_contrast(c, 0.5, 4)
    assert [(a, b) for a, b, _ in spots] == [(16, 24)]
    numbers = {"v": np.arange(40)}
    gt = pd.DataFrame({"video_id": ["v"], "onset": [16], "offset": [24], "expression_type": ["micro"]})
    p, f1 = choose_p({"v": c}, numbers, gt, 4, "micro", grid=(0.1, 0.5, 0.99))
    assert f1 == 1.0 and p == 0.99


def test_mdmd_valley_bounds_follow_the_curve_down_to_its_minima():
    x = np.array([5, 3, 1, 2, 4, 9, 8, 6, 7, 7], dtype=float)
    # run (5, 5): left 4 < 9, 2 < 4, 1 < 2, then 3 > 1 stops -> 2; right 8 < 9, 6 < 8, then 7 > 6 stops -> 7
    assert valley_bounds(x, 5, 5, 10) == (2, 7)
    assert valley_bounds(x, 5, 5, 2) == (3, 7)  # at most 2 positions beyond the run on each side
    assert valley_bounds(x, 5, 5, 0) == (5, 5)
    x[3] = np.nan
    assert valley_bounds(x, 5, 5, 10) == (4, 7)  # a missing C stops the widening
    assert valley_bounds(np.array([3.0, 2, 2, 5]), 3, 3, 5) == (2, 3)  # a flat step is no fall: stops at 2


def test_mdmd_merge_intervals_unions_those_sharing_a_frame():
    assert merge_intervals([(3, 8, 0.9), (0, 4, 0.2), (10, 12, 0.5)]) == [(0, 8, 0.9), (10, 12, 0.5)]
    assert merge_intervals([(0, 4, 0.1), (4, 6, 0.3)]) == [(0, 6, 0.3)]  # frame 4 in both
    assert merge_intervals([(0, 4, 0.1), (5, 6, 0.3)]) == [(0, 4, 0.1), (5, 6, 0.3)]  # adjacent: kept apart
    assert merge_intervals([]) == []


# C with NaN ends; its 16 finite values sum to 26: mean 1.625, max 9 (position 6), max - mean = 7.375
CURVE = np.array([np.nan, 0, -1, 0, 2, 5, 9, 5, 2, 0, 1, 0, 0, 0, 0, 3, 0, np.nan])


def test_mdmd_curve_intervals_runs_above_the_threshold_widened_to_the_valleys():
    # p = 0.5: T = 1.625 + 0.5 x 7.375 = 5.3125 -> run (6, 6); widened left to the -1 at 2 (0 at 1 is higher),
    # right to the 0 at 9 (1 at 10 is higher)
    assert curve_intervals(CURVE, 0.5, 4) == [(2, 9, 1.0)]
    # p = 0.2: T = 3.1 -> run (5, 7) (5, 9, 5): the same valleys
    assert curve_intervals(CURVE, 0.2, 4) == [(2, 9, 1.0)]
    # p = 0.1: T = 2.3625 -> also run (15, 15) (3): widened to (14, 16), score 3 / 9; the NaN at 17 stops it
    assert curve_intervals(CURVE, 0.1, 4) == [(2, 9, 1.0), (14, 16, pytest.approx(1 / 3))]
    assert curve_intervals(CURVE, 0.1, 4, min_len=3) == [(2, 9, 1.0)]  # 16 - 14 = 2 < 3: dropped
    assert curve_intervals(CURVE, 0.5, 1) == [(5, 7, 1.0)]  # at most k = 1 beyond the run
    assert curve_intervals(np.full(5, np.nan), 0.5, 2) == [] and curve_intervals(np.ones(5), 0.5, 2) == []
    # the same curve with the MEGC 2020 rule: the frame 6 -> [6 - 4, 6 + 4]
    assert [(a, b) for a, b, _ in spot_contrast(CURVE, 0.5, 4)] == [(2, 10)]


def test_mdmd_choose_p_with_the_curve_rule_types_by_duration():
    numbers = {"v": np.arange(18)}
    # at 10 fps, (2, 9) lasts 0.7 s (macro), (14, 16) 0.2 s (micro)
    macro = pd.DataFrame({"video_id": ["v"], "onset": [2], "offset": [9], "expression_type": ["macro"]})
    micro = pd.DataFrame({"video_id": ["v"], "onset": [14], "offset": [16], "expression_type": ["micro"]})
    grid = (0.1, 0.5, 0.9)
    kwargs = dict(grid=grid, intervals="curve", fps=10.0)
    assert choose_p({"v": CURVE}, numbers, macro, 4, "macro", **kwargs) == (0.9, 1.0)  # every p finds it: the largest
    assert choose_p({"v": CURVE}, numbers, micro, 4, "micro", **kwargs) == (0.1, 1.0)  # only p = 0.1 reaches it
    assert choose_p({"v": CURVE}, numbers, micro, 4, "micro", min_s=0.3, **kwargs) == (0.9, 0.0)  # 0.2 s < 0.3 s
    # the MEGC rule: p = 0.5 or 0.9 spot frame 6 -> (2, 10), IoU 8 / 9 with (2, 9); p = 0.1 also frames 5, 7, 15 ->
    # (1, 11) and (11, 17) merged into (1, 17), IoU 8 / 17
    assert choose_p({"v": CURVE}, numbers, macro, 4, "macro", grid=grid) == (0.9, 1.0)
    assert choose_p({"v": CURVE}, numbers, macro, 4, "macro", grid=(0.1,)) == (0.1, 0.0)
    with pytest.raises(ValueError, match="fps"):
        choose_p({"v": CURVE}, numbers, macro, 4, "macro", intervals="curve")


def test_mdmd_spot_video_pools_both_curves_and_types_by_duration():
    n = 40
    micro = np.zeros(n)
    micro[11] = 8.0  # k = 2: C(i) = f(i) - (f(i-1) + f(i+1)) / 2 -> C = -4, 8, -4 at 10, 11, 12; mean 0
    macro = np.zeros(n)
    macro[29:32] = (3.0, 6.0, 3.0)  # k = 3: C = -1.5, -3, 1.5, 6, 1.5, -3, -1.5 at 27..33; mean 0
    f = {"micro": micro, "macro": macro, "numbers": np.arange(1, n + 1), "k": np.array([2, 3])}
    p = {"micro": 0.5, "macro": 0.5}  # T = 4 and 3: runs (11, 11) and (30, 30)
    # valleys: (10, 12) and (28, 32); at 6 fps they last 2 / 6 = 0.33 s (micro) and 4 / 6 = 0.67 s (macro)
    assert spot_video(f, p, 6.0) == [(10, 12, 1.0, "micro"), (28, 32, 1.0, "macro")]
    assert spot_video(f, p, 12.0, min_s=0) == [(10, 12, 1.0, "micro"), (28, 32, 1.0, "micro")]  # 4 / 12 s < 0.5 s
    assert spot_video(f, p, 12.0) == [(28, 32, 1.0, "micro")]  # 2 frames < 0.2 s x 12 fps = 2.4
    assert spot_video(f, p, 6.0, min_s=0.5) == [(28, 32, 1.0, "macro")]  # 2 frames < 0.5 s x 6 fps
    assert spot_video(f, {"micro": None, "macro": 0.5}, 6.0) == [(28, 32, 1.0, "macro")]  # an unused curve
    # the MEGC rule: [i - k, i + k] around the spotted frame, typed as its curve
    assert spot_video(f, p, 6.0, intervals="megc") == [(9, 13, 1.0, "micro"), (27, 33, 1.0, "macro")]
    # both curves on one expression: merged into one interval, typed by its duration
    both = dict(f, macro=np.roll(macro, -19))  # the macro bump now at 10..12: C valleys (9, 13)
    assert spot_video(both, p, 6.0) == [(9, 13, 1.0, "macro")]  # (10, 12) u (9, 13); 4 / 6 s
    with pytest.raises(ValueError):
        spot_video(f, p, 6.0, intervals="frames")
    with pytest.raises(ValueError):
        MDMDSpotter(intervals="frames")


# ------------------------------------------------------------------------------------------------ end to end


FPS = 10.0
H, W = 96, 128
SYN_LANDMARKS = np.zeros((68, 2))
SYN_LANDMARKS[:, 0], SYN_LANDMARKS[:, 1] = 64, 60
SYN_LANDMARKS[36], SYN_LANDMARKS[45] = (40, 40), (88, 40)
SYN_LANDMARKS[48], SYN_LANDMARKS[54] = (50, 80), (78, 80)
SMALL = RoiConfig(eye_size=(56, 48), mouth_size=(52, 32), flow_scale=1.0)


def _profile(n: int, onset: int, apex: int, offset: int) -> np.ndarray:
    t = np.arange(n, dtype=float)
    out = np.zeros(n)
    rise = (t >= onset) & (t <= apex)
    out[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - onset) / (apex - onset))
    fall = (t > apex) & (t <= offset)
    out[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - apex) / (offset - apex))
    return out


def _video(n: int, events, seed: int) -> np.ndarray:
    """A textured 'face' whose brow zone (above the eye line of SYN_LANDMARKS) moves up at each event."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((H, W)).astype(np.float32), (0, 0), 1.5)
    base = 40 + 180 * (base - base.min()) / (base.max() - base.min())
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    brow = np.exp(-(((xx - 64) / 18) ** 2 + ((yy - 26) / 8) ** 2)).astype(np.float32)
    envelope = sum(_profile(n, *e) for e in events)
    frames = []
    for i in range(n):
        shifted = cv2.remap(base, xx, (yy + 2.5 * float(envelope[i]) * brow).astype(np.float32), cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
        frames.append(np.clip(shifted + rng.normal(0, 1.0, shifted.shape), 0, 255).astype(np.uint8))
    return np.stack(frames)


class _View:
    """The parts of mebench.views.View the spotters use, over in-memory videos."""

    def __init__(self, videos: dict, ids, annotations: pd.DataFrame | None = None) -> None:
        self.videos = videos
        self._samples = pd.DataFrame({"video_id": list(ids), "fps": FPS, "n_frames": [len(videos[v]) for v in ids]})
        self.annotations = annotations
        self.task = "spotting"

    @property
    def samples(self) -> pd.DataFrame:
        return self._samples.copy()

    @property
    def labels(self) -> pd.DataFrame:
        return self.annotations[["video_id", "onset", "offset", "expression_type", "sample_id"]].copy()

    def frames(self, row, start=None, stop=None, gray=False):
        video = self.videos[row["video_id"]]
        return video[(0 if start is None else start):(len(video) if stop is None else stop + 1)]

    def features(self, extractor, row):
        return extractor(self, row)


@pytest.fixture(scope="module")
def spotting_fold():
    train_events = {"v1": [(15, 21, 27), (60, 66, 72)], "v2": [(25, 31, 37), (75, 80, 86)]}
    truth = (55, 61, 67)
    videos = {v: _video(100, ev, seed) for seed, (v, ev) in enumerate(train_events.items())}
    videos["t1"] = _video(100, [truth], 7)
    annotations = pd.DataFrame([{"sample_id": f"{v}#{j}", "video_id": v, "onset": a, "apex": b, "offset": c,
                                 "aus": [1], "fps": FPS, "expression_type": "macro"}
                                for v, ev in train_events.items() for j, (a, b, c) in enumerate(ev)])
    return _View(videos, ["v1", "v2"], annotations), _View(videos, ["t1"]), truth


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def test_flow_features_see_the_moving_brow(spotting_fold):
    train, _, _ = spotting_fold
    video = train.videos["v1"]
    eye, mouth = pair_flows(video[15], video[21], SYN_LANDMARKS, SMALL)  # onset -> apex
    assert eye.shape == (48, 56, 2) and mouth.shape == (32, 52, 2)
    assert eye[..., 1].mean() < -0.1  # the brow zone moves up (y down)
    assert np.abs(mouth).mean() < np.abs(eye).mean() / 3

    rois = window_rois(video[0], SYN_LANDMARKS, SMALL)
    magnitude = window_features(ArrayFrames(video[:40]), 0, 40, rois,
                                lambda e, m: np.array([np.abs(e).mean(), np.abs(m).mean()]), SMALL)
    assert magnitude.shape == (40, 2) and (magnitude[0] == 0).all()
    assert 15 <= int(np.argmax(magnitude[:, 0])) <= 27


def test_au_prototype_end_to_end_on_a_synthetic_long_video(spotting_fold):
    train, test, truth = spotting_fold
    model = AUPrototypeSpotter(min_samples=2, landmarker=FixedLandmarker(SYN_LANDMARKS), config=SMALL, threads=1)
    model.fit(train)
    assert model.prototypes_.keys == ("AU1",) and model.prototypes_.counts == (4,)
    assert model.theta_["AU1"] > 0
    pred = model.predict(test)
    assert list(pred.columns) == ["video_id", "onset", "offset", "score", "expression_type"]
    assert len(pred) == 1 and pred.loc[0, "video_id"] == "t1"
    interval = (int(pred.loc[0, "onset"]), int(pred.loc[0, "offset"]))
    assert _iou(interval, (truth[0], truth[2])) >= 0.5
    assert pred.loc[0, "expression_type"] == expression_type(*interval, FPS)


def test_windows_without_a_face(spotting_fold):
    _, test, truth = spotting_fold
    calls = []

    def flaky(image, where=None):  # no face in the video's first frame, nor later whenever asked twice in a row
        calls.append(where)
        if where.endswith("frame 0") or len(calls) % 3 == 0:
            raise InputError(f"no face found in {where}")
        return SYN_LANDMARKS.copy()

    flaky.name = "flaky"
    model = AUPrototypeSpotter(min_samples=2, landmarker=FixedLandmarker(SYN_LANDMARKS), config=SMALL, threads=1)
    model.fit(spotting_fold[0])
    model.landmarker = flaky
    pred = model.predict(test)
    assert calls[0] == "video t1 frame 0" and calls[1] != calls[0]  # another frame of the first window was tried
    assert _iou((int(pred.loc[0, "onset"]), int(pred.loc[0, "offset"])), (truth[0], truth[2])) >= 0.5

    def never(image, where=None):
        raise InputError(f"no face found in {where}")

    never.name = "never"
    model.landmarker = never
    with pytest.raises(InputError, match="no face found in video t1 frame 0 .and in no other window of video t1"):
        model.predict(test)


def test_features_go_through_the_feature_cache(spotting_fold, tmp_path):
    from mebench.cache import FeatureCache, canonical_json

    train, test, _ = spotting_fold
    cache = FeatureCache(tmp_path)

    class Cached(_View):
        def features(self, extractor, row):
            return cache.get_or_compute(extractor, self, row)

    cached_train = Cached(train.videos, ["v1", "v2"], train.annotations)
    cached_test = Cached(test.videos, ["t1"])
    first = AUPrototypeSpotter(min_samples=2, landmarker=FixedLandmarker(SYN_LANDMARKS), config=SMALL, threads=1)
    first.fit(cached_train)
    pred = first.predict(cached_test)
    assert cache.misses == 4 + 1 and cache.hits == 0  # four apex flows, one test video's spots
    second = AUPrototypeSpotter(min_samples=2, landmarker=FixedLandmarker(SYN_LANDMARKS), config=SMALL, threads=1)
    second.fit(cached_train)
    pd.testing.assert_frame_equal(second.predict(cached_test), pred)
    assert cache.hits == 5
    other = AUPrototypeSpotter(min_samples=2, rho=0.4, landmarker=FixedLandmarker(SYN_LANDMARKS), config=SMALL)
    other.fit(cached_train)
    other.predict(cached_test)  # another threshold: new spots, same apex flows
    assert cache.hits == 9 and cache.misses == 6
    mdmd = MDMDSpotter(landmarker=FixedLandmarker(SYN_LANDMARKS), config=SMALL)
    for extractor in mdmd.extractors():
        assert canonical_json(extractor.params)  # JSON-able cache parameters


@pytest.mark.parametrize("intervals", ["curve", "megc"])
def test_mdmd_end_to_end_with_p_chosen_on_the_train_fold(spotting_fold, intervals):
    train, test, truth = spotting_fold
    model = MDMDSpotter(k_macro_s=0.6, landmarker=FixedLandmarker(SYN_LANDMARKS), config=SMALL, threads=1,
                        intervals=intervals)
    model.fit(train)
    assert model.train_f1_["macro"] > 0.5 and model.p_["micro"] is None  # no micro expression in training
    assert model.get_params()["intervals"] == intervals
    pred = model.predict(test)
    assert set(pred["expression_type"]) == {"macro"}
    best = max(_iou((int(a), int(b)), (truth[0], truth[2])) for a, b in zip(pred["onset"], pred["offset"]))
    assert best >= 0.5
    if intervals == "curve":  # the expression's own extent: 55..67 (12 frames), not 2k + 1 = 13 frames around a peak
        assert len(pred) == 1 and best >= 0.8
