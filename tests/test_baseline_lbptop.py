"""lbptop-svm (seed 004 section 5.1.1): LBP-TOP settings, codes against skimage, histograms, alignment, temporal
normalisation, the SVM head, fit/predict on hand-made clips, and one harness run on a tiny synthetic CASME II."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from skimage.feature import local_binary_pattern

from mebench.baselines import lbptop as lt
from mebench.baselines.face import FixedLandmarker
from mebench.views import MediaContext, ProtocolFacts, View

# ------------------------------------------------------------------------------------------- paper settings


def test_paper_settings_are_the_defaults():
    model = lt.LbpTopSvm()
    e = model.extractor
    assert e.blocks == (5, 5)  # "divided into 5 x 5 blocks"
    assert e.radii == (1, 1, 2)  # "radii in axes (X, Y, T) are set to (1, 1, 2)"
    assert e.neighbours == (8, 8, 8)  # "number of neighboring points in the XY, XT and YT planes are set to 8"
    assert e.size == 150  # "cropped to the size of 150 x 150 pixels"
    assert model.C == 1000.0  # "The classification penalty factor C is set to 1000"
    assert model.name == "lbptop-svm"
    assert set(model.tasks) == {"recognition", "multilabel", "au-detection"}
    params = model.get_params()
    assert params["C"] == 1000.0 and params["blocks"] == [5, 5] and params["radii"] == [1, 1, 2]
    assert params["features"] == 25 * 3 * 59 == 4425  # u2 patterns of P = 8: 59 bins
    assert [x.name for x in model.extractors()] == ["lbptop"]
    assert e.media_columns == ("frames_dir", "grey_path")  # the only media hashed into its cache keys
    assert lt.LbpTopSvm(method="uniform").extractor.length == 25 * 3 * 10


@pytest.mark.parametrize("method, bins", [("uniform", 10), ("nri_uniform", 59), ("default", 256), ("ror", 256)])
def test_histogram_length_is_blocks_planes_bins(method, bins):
    assert lt.n_bins(8, method) == bins
    vol = np.random.default_rng(1).integers(0, 256, (7, 20, 20)).astype(np.uint8)
    v = lt.lbp_top(vol, method=method)
    assert v.shape == (25 * 3 * bins,) == (lt.lbp_top_length((5, 5), (8, 8, 8), method),)
    hists = v.reshape(25, 3, bins)
    assert np.allclose(hists.sum(axis=2), 1.0)  # each (block, plane) histogram normalised to 1
    assert lt.lbp_top_length((2, 3), (8, 4, 6), "uniform") == 6 * (10 + 6 + 8)
    with pytest.raises(ValueError):
        lt.n_bins(8, "var")


@pytest.mark.parametrize("method, expected", [("uniform", 8), ("nri_uniform", 57), ("default", 255), ("ror", 255)])
def test_constant_volume_gives_single_bin_histograms(method, expected):
    # every neighbour equals the centre -> all bits 1: riu2 code P, u2 code P (P - 1) + 1, default/ror 2^P - 1
    vol = np.full((6, 15, 15), 137, dtype=np.uint8)
    hists = lt.lbp_top(vol, method=method).reshape(25, 3, lt.n_bins(8, method))
    one_hot = np.zeros(lt.n_bins(8, method))
    one_hot[expected] = 1.0
    assert np.array_equal(hists, np.broadcast_to(one_hot, hists.shape))
    ref = local_binary_pattern(np.full((9, 9), 137, np.uint8), 8, 1, method)
    assert np.unique(ref[2:-2, 2:-2]).tolist() == [expected]  # the same code as skimage's


def _stripes(T: int = 9, H: int = 20, W: int = 24, speed: int = 0) -> np.ndarray:
    x = np.arange(W)
    frames = [np.tile(((np.sin(2 * np.pi * (x - speed * t) / 6) + 1) * 100 + 20).astype(np.uint8), (H, 1))
              for t in range(T)]
    return np.stack(frames)


def test_xt_yt_planes_see_motion_xy_does_not():
    static, moving = _stripes(speed=0), _stripes(speed=1)  # vertical stripes, still / moving right 1 px/frame
    hs = lt.lbp_top(static, blocks=(1, 1)).reshape(3, 10)
    hm = lt.lbp_top(moving, blocks=(1, 1)).reshape(3, 10)
    # XY: the frames show the same stripes
    assert np.abs(hs[0] - hm[0]).sum() < 0.1
    # YT (rows t, columns y): constant when still -> one bin; moving, the stripes pass each column in time
    assert hs[2].max() == 1.0 and hm[2].max() < 0.9
    # XT (rows t, columns x): a still pattern is constant along t; a moving one is slanted
    assert np.abs(hs[1] - hm[1]).sum() > 0.2
    # and the planes differ from one another on the moving pattern
    assert np.abs(hm[0] - hm[1]).sum() > 0.2 and np.abs(hm[0] - hm[2]).sum() > 0.2


def test_hand_made_volume_against_skimage_on_each_plane():
    # a 5 x 4 x 4 volume written out by hand
    vol = np.array([
        [[10, 20, 30, 40], [50, 60, 70, 80], [15, 25, 35, 45], [55, 65, 75, 85]],
        [[12, 18, 33, 41], [52, 61, 68, 79], [14, 27, 36, 44], [57, 66, 73, 86]],
        [[90, 10, 90, 10], [10, 90, 10, 90], [90, 10, 90, 10], [10, 90, 10, 90]],
        [[11, 19, 31, 39], [49, 59, 71, 81], [16, 24, 34, 46], [54, 64, 76, 84]],
        [[13, 22, 29, 42], [51, 62, 69, 78], [17, 26, 37, 43], [56, 67, 74, 83]],
    ], dtype=np.uint8)
    for method in ("default", "nri_uniform", "uniform"):
        codes = lt.lbp_top_codes(vol, radii=(1, 1, 1), neighbours=(8, 8, 8), method=method)
        # XT plane of row y = 1: the (T, W) image vol[:, 1, :]; interior t 1..3, x 1..2
        ref = local_binary_pattern(vol[:, 1, :], 8, 1, method)
        assert np.array_equal(codes["xt"][1:4, 1, 1:3], ref[1:4, 1:3])
        ref = local_binary_pattern(vol[:, :, 2], 8, 1, method)  # YT plane of column x = 2
        assert np.array_equal(codes["yt"][1:4, 1:3, 2], ref[1:4, 1:3])
        ref = local_binary_pattern(vol[2], 8, 1, method)  # XY plane of frame 2
        assert np.array_equal(codes["xy"][2, 1:3, 1:3], ref[1:3, 1:3])
    # two codes worked out by hand on the 90/10 checkerboard of frame 2: at (y, x) = (1, 1) the centre is 90, the
    # four axis neighbours are 10 and the diagonal samples mix 10s and 90s (e.g. 56.9 up-right): all below -> 0;
    # at (1, 2) the centre is 10 and no neighbour is below it -> all 8 bits set
    codes = lt.lbp_top_codes(vol, radii=(1, 1, 1), method="default")
    assert codes["xy"][2, 1, 1] == 0
    assert codes["xy"][2, 1, 2] == 255  # centre 10: every neighbour >= 10


def _elliptical_lbp(image: np.ndarray, row_radius: int, col_radius: int, P: int = 8) -> np.ndarray:
    """Direct elliptical LBP ('default' codes): bilinear samples at (r - Rr sin, c + Rc cos), as skimage orders
    and rounds them (5 decimals of the circle of radius lcm(Rr, Rc))."""
    img = image.astype(np.float64)
    A, B = img.shape
    R = np.lcm(row_radius, col_radius)
    ang = 2 * np.pi * np.arange(P) / P
    dr = np.round(-R * np.sin(ang), 5) / (R / row_radius)
    dc = np.round(R * np.cos(ang), 5) / (R / col_radius)
    out = np.zeros((A, B), dtype=np.int64)
    for r in range(row_radius, A - row_radius):
        for c in range(col_radius, B - col_radius):
            code = 0
            for i in range(P):
                y, x = r + dr[i], c + dc[i]
                y0, x0, y1, x1 = int(np.floor(y)), int(np.floor(x)), int(np.ceil(y)), int(np.ceil(x))
                fy, fx = y - y0, x - x0
                top = (1 - fx) * img[y0, x0] + fx * img[y0, x1]
                bottom = (1 - fx) * img[y1, x0] + fx * img[y1, x1]
                if (1 - fy) * top + fy * bottom - img[r, c] >= 0:
                    code |= 1 << i
            out[r, c] = code
    return out


def test_elliptical_xt_yt_neighbourhoods_are_exact():
    vol = np.random.default_rng(7).integers(0, 256, (9, 8, 10)).astype(np.uint8)
    codes = lt.lbp_top_codes(vol, radii=(1, 1, 2), method="default")  # (R_X, R_Y, R_T) = (1, 1, 2)
    for y in (2, 5):
        ref = _elliptical_lbp(vol[:, y, :], 2, 1)  # XT slice: rows t (radius 2), columns x (radius 1)
        assert np.array_equal(codes["xt"][2:-2, y, 1:-1], ref[2:-2, 1:-1])
    for x in (1, 6):
        ref = _elliptical_lbp(vol[:, :, x], 2, 1)  # YT slice: rows t (radius 2), columns y (radius 1)
        assert np.array_equal(codes["yt"][2:-2, 1:-1, x], ref[2:-2, 1:-1])
    # XY keeps skimage's circular operator of radius 1
    assert np.array_equal(codes["xy"][4, 1:-1, 1:-1], local_binary_pattern(vol[4], 8, 1)[1:-1, 1:-1])
    # radii with a non-trivial lcm: (2, 3) -> circle of radius 6 on a 3x / 2x stretched slice
    img = np.random.default_rng(8).integers(0, 256, (1, 12, 13)).astype(np.uint8)
    got = lt.plane_codes(img, 2, 3, 8, "default")[0]
    assert np.array_equal(got[2:-2, 3:-3], _elliptical_lbp(img[0], 2, 3)[2:-2, 3:-3])


def test_blocks_histograms_follow_the_image_layout():
    vol = np.full((6, 20, 20), 100, dtype=np.uint8)
    vol[:, :8, :8] = np.random.default_rng(3).integers(0, 256, (6, 8, 8))  # texture only in the top-left corner
    h = lt.lbp_top(vol, blocks=(2, 2)).reshape(4, 3, 10)
    flat = np.zeros(10)
    flat[8] = 1.0
    assert not np.allclose(h[0], flat)  # block 0 (top-left) textured
    assert np.allclose(h[3], flat)  # block 3 (bottom-right) flat: single bin


def test_bad_volumes_are_refused():
    with pytest.raises(ValueError, match="too small"):
        lt.lbp_top(np.zeros((4, 20, 20), np.uint8))  # R_T = 2 needs more than 4 frames
    with pytest.raises(ValueError, match="uint8"):
        lt.lbp_top(np.zeros((6, 20, 20), np.float32))
    with pytest.raises(ValueError, match="blocks"):
        lt.lbp_top(np.zeros((6, 6, 6), np.uint8), blocks=(5, 5))
    with pytest.raises(ValueError, match="positive integer"):
        lt.lbp_top(np.zeros((6, 20, 20), np.uint8), radii=(1, 1.5, 2))


# ------------------------------------------------------------------------- alignment and temporal normalisation


def test_temporal_normalise_is_linear_interpolation():
    frames = np.stack([np.full((2, 3), v, np.uint8) for v in (0, 10, 20, 30, 40)])  # 5 frames
    out = lt.temporal_normalise(frames, 9)
    assert out.shape == (9, 2, 3)
    assert out[:, 0, 0].tolist() == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    out = lt.temporal_normalise(frames, 3)
    assert out[:, 0, 0].tolist() == [0, 20, 40]  # first and last kept
    assert lt.temporal_normalise(frames[:1], 4).shape == (4, 2, 3)


def test_similarity_alignment_maps_anchors_onto_the_template():
    angle, scale, shift = np.deg2rad(12.0), 1.7, np.array([40.0, -15.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    template = lt.TEMPLATE * 150 - 0.5
    src = (template - shift) @ np.linalg.inv(rot).T  # anchors of a rotated, scaled, shifted face
    m = lt.similarity(src, template)
    assert np.allclose(src @ m[:, :2].T + m[:, 2], template)
    lm = np.zeros((68, 2))
    lm[36:42], lm[42:48], lm[48:68] = src[0], src[1], src[2]
    m = lt.align_matrix(lm, 150)
    assert np.allclose(lm[[36, 42, 48]] @ m[:, :2].T + m[:, 2], template)


# --------------------------------------------------------------------------------------------------- SVM head


def test_svm_head_reduced_equals_full_and_handles_constant_columns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 200))
    y = np.array(["a", "b", "c"] * 10, dtype=object)
    x[y == "a", :5] += 2.0
    x[y == "b", 5:10] += 2.0
    test = rng.normal(size=(12, 200))
    full = lt.LinearSvmHead(reduce=False).fit(x, y)
    fast = lt.LinearSvmHead().fit(x, y)
    assert fast.basis_.shape == (200, 30) and full.basis_ is None
    d_full = full.models_[0].decision_function(full._scale(test))
    d_fast = fast.models_[0].decision_function(fast._scale(test))
    assert np.allclose(d_full, d_fast, atol=1e-8)
    assert fast.predict(test) == full.predict(test)
    assert fast.models_[0].C == 1000.0
    # multi-label: one binary SVM per column; constant columns predicted constant
    labels = pd.DataFrame({"AU1": (y == "a").astype(int), "AU2": 0, "AU4": 1})
    head = lt.LinearSvmHead().fit(x, labels)
    pred = head.predict(x)
    assert pred.shape == (30, 3) and pred.dtype == np.int64
    assert pred[:, 0].tolist() == labels["AU1"].tolist()
    assert (pred[:, 1] == 0).all() and (pred[:, 2] == 1).all()
    assert head.predict(np.zeros((0, 200))).shape == (0, 3)
    assert lt.LinearSvmHead().fit(x, ["a"] * 30).predict(test) == ["a"] * 12  # one class in the fold


# ------------------------------------------------------------------------------------ fit/predict on made clips


def _write_clip(folder: Path, direction: int, seed: int, n: int = 8, size: int = 64) -> None:
    """A textured square moving up (direction -1) or down (+1) over a still textured background."""
    rng = np.random.default_rng(seed)
    back = cv2.GaussianBlur(rng.integers(0, 256, (size, size)).astype(np.float32), (0, 0), 1.5)
    patch = cv2.GaussianBlur(rng.integers(0, 256, (20, 20)).astype(np.float32), (0, 0), 1.0)
    folder.mkdir(parents=True)
    for t in range(n):
        frame = back.copy()
        y = 22 + direction * t
        frame[y:y + 20, 22:42] = patch
        cv2.imwrite(str(folder / f"img{t + 1}.png"), np.clip(frame, 0, 255).astype(np.uint8))


LANDMARKS = FixedLandmarker(np.array([[12.0, 16.0]] * 36 + [[18.0, 20.0]] * 6 + [[46.0, 20.0]] * 6
                                     + [[32.0, 48.0]] * 20))


def made_views(tmp_path: Path, task: str = "recognition") -> tuple[View, View, list[str]]:
    rows, truth = [], []
    for i in range(12):
        label = "up" if i % 2 == 0 else "down"
        folder = tmp_path / f"clip{i}"
        _write_clip(folder, -1 if label == "up" else 1, seed=i)
        rows.append({"sample_id": f"s/{i}", "person": f"p{i % 3}", "onset": 1, "apex": 4, "offset": 8,
                     "frames_dir": str(folder), "emotion": label, "aus": [1] if label == "up" else [4]})
        truth.append(label)
    samples = pd.DataFrame(rows)
    classes = ("down", "up") if task == "recognition" else ("AU1", "AU4")
    facts = ProtocolFacts(id="made", version="1", task=task, classes=classes, datasets=("made",),
                          label_column="emotion")
    train_rows = samples.iloc[:8].reset_index(drop=True)
    if task == "recognition":
        labels = train_rows["emotion"]
    else:
        labels = pd.DataFrame({"AU1": (train_rows["emotion"] == "up").astype(int),
                               "AU4": (train_rows["emotion"] == "down").astype(int)})
    hidden = ["emotion"] + (["aus"] if task != "recognition" else [])
    train = View(train_rows, role="train", protocol=facts, labels=labels, media=MediaContext(None))
    test = View(samples.iloc[8:].reset_index(drop=True), role="test", protocol=facts, hidden=hidden,
                media=MediaContext(None))
    return train, test, truth[8:]


def test_lbptop_svm_fits_and_predicts_made_clips(tmp_path):
    train, test, truth = made_views(tmp_path)
    model = lt.LbpTopSvm(size=48, n_frames=6, landmarker=LANDMARKS)
    model.fit(train)
    assert model.predict(test) == truth  # up / down motion: what the XT/YT planes are for
    x = lt._features(test, model.extractor)
    assert x.shape == (4, 4425) and np.isfinite(x).all()


def test_lbptop_svm_multilabel(tmp_path):
    train, test, truth = made_views(tmp_path, task="au-detection")
    model = lt.LbpTopSvm(size=48, n_frames=6, landmarker=LANDMARKS, method="uniform").fit(train)
    pred = model.predict(test)
    assert pred.shape == (4, 2)
    assert pred[:, 0].tolist() == [int(t == "up") for t in truth]


def test_extractor_reads_onset_to_offset_and_falls_back_without_a_face(tmp_path):
    folder = tmp_path / "clip"
    _write_clip(folder, 1, seed=0, n=8)
    row = pd.Series({"sample_id": "s/0", "onset": 2, "apex": "/", "offset": 7, "frames_dir": str(folder)})
    view = View(pd.DataFrame([row]), role="features",
                protocol=ProtocolFacts("p", "1", "recognition", ("a",), ("d",)), media=MediaContext(None))
    clip = lt.load_aligned(view, row, size=40, landmarker=LANDMARKS)
    assert clip.numbers == [2, 3, 4, 5, 6, 7] and clip.timing == (2, 4, 7) and clip.detected
    assert clip.frames.shape == (6, 40, 40)

    def no_face(image, where=None):
        from mebench.errors import InputError

        raise InputError("no face")

    with pytest.warns(UserWarning, match="no face found"):
        clip = lt.load_aligned(view, row, size=40, landmarker=no_face)
    assert not clip.detected and np.isnan(clip.landmarks).all()
    e = lt.LbpTopExtractor(size=40, n_frames=6, landmarker=LANDMARKS)
    assert e(view, row).shape == (e.length,)
    assert e.params["landmarks"].startswith("fixed:") and e.params["n_frames"] == 6


# ---------------------------------------------------------------------------------- through the harness (tiny)


@pytest.fixture(scope="module")
def tiny_casme2(tmp_path_factory) -> Path:
    from mebench.corpus import Source, build_corpus
    from mebench.synth import synthesize

    root = tmp_path_factory.mktemp("lbptop")
    synthesize(root / "synth", "tiny", 0, datasets=["casme2"])
    build_corpus([Source("casme2", root / "synth" / "casme2")], root / "corpus")
    return root / "corpus"


def test_harness_run_on_tiny_shadow_and_cached_rerun(tiny_casme2, tmp_path):
    from mebench.runner import run_protocol

    first = run_protocol("casme2-loso-5class", tiny_casme2, lt.LbpTopSvm, cache=tmp_path / "cache",
                         progress=False)
    n = len(first.predictions)
    assert n > 0 and first.features["lbptop"] == {"computed": n, "cached": 0}
    assert 0.0 <= first.record["metrics"]["uf1"] <= 1.0
    assert first.record["submission"]["model"]["params"]["C"] == 1000.0
    again = run_protocol("casme2-loso-5class", tiny_casme2, lt.LbpTopSvm, cache=tmp_path / "cache",
                         progress=False)
    assert again.features["lbptop"] == {"computed": 0, "cached": n}
    assert again.predictions.equals(first.predictions)
