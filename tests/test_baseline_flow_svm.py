"""flow-svm: orientation histograms of Farneback flow (direction, magnitude weighting, regions), the extractor, and
fit/predict (recognition and multi-label) on hand-made clips, plus one harness run on a tiny synthetic CASME II."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from mebench.baselines import flow_svm as fs
from mebench.baselines import lbptop as lt
from test_baseline_lbptop import LANDMARKS, made_views


def _texture(size: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (size, size)).astype(np.float32), (0, 0), 2.0)
    image = (image - image.min()) / (image.max() - image.min()) * 255
    return image.astype(np.uint8)


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(image, m, image.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# ------------------------------------------------------------------------------------------------- histograms


def test_orientation_bins_angles_with_y_up_and_magnitude_weights():
    flow = np.zeros((2, 4, 2))
    flow[0, 0] = (2.0, 0.0)  # right, magnitude 2 -> bin 0
    flow[0, 1] = (0.0, -1.0)  # up (image y down) -> 90 degrees -> bin 2
    flow[0, 2] = (-3.0, 0.0)  # left -> bin 4
    flow[0, 3] = (0.0, 1.0)  # down -> bin 6
    flow[1, 0] = (1.0, -1.0)  # up-right, magnitude sqrt 2 -> bin 1
    flow[1, 1] = (np.cos(np.pi / 8), -np.sin(np.pi / 8))  # 22.5 degrees: half in bin 0, half in bin 1
    labels = np.array([[0, 0, 0, 0], [1, 1, -1, -1]])  # region 0 = first row, region 1 = two pixels of the second
    h = fs.orientation_histograms(flow, labels, 2, bins=8)
    assert np.allclose(h[0], np.array([2, 0, 1, 0, 3, 0, 1, 0]) / 4)  # sums / 4 pixels
    assert np.allclose(h[1], np.array([0.5, np.sqrt(2) + 0.5, 0, 0, 0, 0, 0, 0]) / 2)


@pytest.mark.parametrize("dx, dy, expected_bin", [(2.0, 0.0, 0), (0.0, -2.0, 2), (-2.0, 0.0, 4), (0.0, 2.0, 6),
                                                  (1.5, 1.5, 7)])
def test_flow_of_a_translation_points_the_right_way(dx, dy, expected_bin):
    onset = _texture()
    apex = _shift(onset, dx, dy)  # content moves by (dx, dy): right / up / left / down / down-right
    flow = fs.onset_apex_flow(onset, apex)
    inner = flow[16:-16, 16:-16]
    assert np.allclose(np.median(inner.reshape(-1, 2), axis=0), (dx, dy), atol=0.3)
    h = fs.flow_histograms(flow, grid=(1, 1), remove_global=False).reshape(8)
    assert int(np.argmax(h)) == expected_bin
    assert h[expected_bin] > 0.6 * h.sum()
    assert fs.flow_histograms(flow, grid=(1, 1)).sum() < 0.3 * h.sum()  # a global shift is head motion: removed


def test_moving_region_shows_in_its_block_only():
    onset = _texture(seed=3)
    apex = onset.copy()
    apex[8:40, 56:88] = _shift(onset, 0.0, -2.0)[8:40, 56:88]  # top-right quarter moves up 2 px
    flow = fs.onset_apex_flow(onset, apex)
    h = fs.flow_histograms(flow, grid=(2, 2)).reshape(4, 8)
    assert int(np.argmax(h.sum(axis=1))) == 1  # block 1 = top-right
    assert int(np.argmax(h[1])) == 2  # pointing up
    assert h[1].sum() > 3 * max(h[0].sum(), h[2].sum(), h[3].sum())


def test_landmark_regions():
    lm = LANDMARKS.landmarks * 2.5  # some 68 points inside a 150 crop
    boxes = fs.landmark_regions(lm, 150)
    assert len(boxes) == len(fs.LANDMARK_ROIS) == 7
    assert all(0 <= x0 < x1 <= 150 and 0 <= y0 < y1 <= 150 for x0, y0, x1, y1 in boxes)
    without = fs.landmark_regions(np.full((68, 2), np.nan), 150)  # no face: boxes on the template
    assert len(without) == 7 and all(0 <= x0 < x1 <= 150 and 0 <= y0 < y1 <= 150 for x0, y0, x1, y1 in without)
    flow = np.zeros((150, 150, 2))
    flow[..., 1] = -1.0
    v = fs.flow_histograms(flow, regions="landmarks", landmarks=lm, remove_global=False)
    assert v.shape == (56,) and np.allclose(v.reshape(7, 8)[:, 2], 1.0)  # every region: magnitude 1 upwards
    with pytest.raises(ValueError):
        fs.flow_histograms(flow, regions="blobs")


# ------------------------------------------------------------------------------------------ model and extractor


def test_defaults_and_params():
    model = fs.FlowSvm()
    assert model.name == "flow-svm" and model.C == 1000.0
    assert model.extractor.name == "flow-hist" and model.extractor.length == 25 * 8
    assert model.extractor.media_columns == ("frames_dir", "grey_path")
    assert fs.FlowSvm(regions="landmarks").extractor.length == 7 * 8
    params = model.get_params()
    assert params["segment"] == "onset-apex" and params["farneback"]["winsize"] == 15 and params["C"] == 1000.0
    with pytest.raises(ValueError):
        fs.FlowSvm(regions="everywhere")


@pytest.mark.parametrize("regions", ["grid", "landmarks"])
def test_flow_svm_fits_and_predicts_made_clips(tmp_path, regions):
    train, test, truth = made_views(tmp_path)
    model = fs.FlowSvm(size=48, regions=regions, landmarker=LANDMARKS).fit(train)
    assert model.predict(test) == truth
    x = lt._features(test, model.extractor)
    assert x.shape == (4, model.extractor.length)


def test_flow_svm_multilabel(tmp_path):
    train, test, truth = made_views(tmp_path, task="multilabel")
    pred = fs.FlowSvm(size=48, landmarker=LANDMARKS).fit(train).predict(test)
    assert pred.shape == (4, 2) and pred.dtype == np.int64
    assert pred[:, 0].tolist() == [int(t == "up") for t in truth]
    assert pred[:, 1].tolist() == [int(t == "down") for t in truth]


def test_extractor_uses_onset_and_apex(tmp_path):
    from mebench.views import MediaContext, ProtocolFacts, View

    folder = tmp_path / "clip"
    folder.mkdir()
    base = _texture(64, seed=5)
    for n in range(1, 7):
        frame = _shift(base, 0.0, 0.0) if n != 4 else base.copy()
        if n == 4:  # only the apex differs: its lower half moves right
            frame[32:] = _shift(base, 2.0, 0.0)[32:]
        cv2.imwrite(str(folder / f"img{n}.png"), frame)
    row = pd.Series({"sample_id": "s/0", "onset": 1, "apex": 4, "offset": 6, "frames_dir": str(folder)})
    view = View(pd.DataFrame([row]), role="features",
                protocol=ProtocolFacts("p", "1", "recognition", ("a",), ("d",)), media=MediaContext(None))
    from mebench.baselines.face import FixedLandmarker

    anchors = lt.TEMPLATE * 64 - 0.5  # landmarks whose anchors ARE the template: the alignment is the identity
    identity = np.array([anchors[0]] * 42 + [anchors[1]] * 6 + [anchors[2]] * 20)
    assert np.allclose(lt.align_matrix(identity, 64), [[1, 0, 0], [0, 1, 0]])
    e = fs.FlowExtractor(size=64, grid=(2, 1), remove_global=False, landmarker=FixedLandmarker(identity))
    h = e(view, row).reshape(2, 8)
    assert h[1].sum() > 3 * h[0].sum() and int(np.argmax(h[1])) == 0  # lower half, moving right
    row_no_apex = row.copy()
    row_no_apex["apex"] = np.nan  # missing apex: the middle of onset..offset (frame 3, unchanged): no motion
    assert e(view, row_no_apex).sum() < 0.2 * h.sum()


# ---------------------------------------------------------------------------------- through the harness (tiny)


def test_harness_run_on_tiny_shadow(tmp_path):
    from mebench.corpus import Source, build_corpus
    from mebench.runner import run_protocol
    from mebench.synth import synthesize

    synthesize(tmp_path / "synth", "tiny", 0, datasets=["casme2"])
    build_corpus([Source("casme2", tmp_path / "synth" / "casme2")], tmp_path / "corpus")
    run = run_protocol("casme2-loso-5class", tmp_path / "corpus", "mebench.baselines.flow_svm:FlowSvm",
                       cache=tmp_path / "cache", progress=False)
    n = len(run.predictions)
    assert n > 0 and run.features["flow-hist"] == {"computed": n, "cached": 0}
    assert run.record["submission"]["model"]["name"] == "flow-svm"
    assert 0.0 <= run.record["metrics"]["uf1"] <= 1.0
