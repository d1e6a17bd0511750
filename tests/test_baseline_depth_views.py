"""depth-views (seed 004 section 5.2): views, orthographic depth renders, depth normalisation, dynamic images,
pooled features, the per-label classifiers with late fusion, and one harness run on a tiny shadow 4DME corpus."""

from __future__ import annotations

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")  # before anything imports pyrender / PyOpenGL

import numpy as np
import pandas as pd
import pytest

trimesh = pytest.importorskip("trimesh")
pyrender = pytest.importorskip("pyrender")

from mebench.baselines import depth_views as dv  # noqa: E402
from mebench.errors import InputError  # noqa: E402


def _can_render() -> bool:
    try:
        mesh = trimesh.creation.box()
        dv.render_depth(mesh.vertices, mesh.faces, dv.view_window(mesh.vertices), 16)
        return True
    except Exception:  # noqa: BLE001
        return False


needs_gl = pytest.mark.skipif(not _can_render(), reason="no offscreen GL (PYOPENGL_PLATFORM=egl with Mesa's EGL)")


def face_like(nose: float = 20.0, bump: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A face-sized ellipsoid (mm; x right, y up, z towards the camera), mirror-symmetric in x, with a nose at the
    centre; `bump` mm raises the +x cheek (the subject's left)."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    v = np.asarray(sphere.vertices) * [70.0, 90.0, 45.0]
    front = v[:, 2] > 0
    v[front, 2] += nose * np.exp(-(v[front, 0] ** 2 + (v[front, 1] + 5.0) ** 2) / (2 * 10.0 ** 2))
    if bump:
        v[front, 2] += bump * np.exp(-((v[front, 0] - 35.0) ** 2 + (v[front, 1] + 20.0) ** 2) / (2 * 8.0 ** 2))
    return v, np.asarray(sphere.faces)


# ------------------------------------------------------------------------------------------------------ geometry


def test_view_yaws_and_rotation_convention():
    assert dv.view_yaws(30) == {"left": -30.0, "front": 0.0, "right": 30.0}
    assert list(dv.view_yaws()) == list(dv.VIEWS)
    # the left view turns the subject's left side (+x) towards the camera (+z)
    cheek = np.array([[40.0, 0.0, 0.0]])
    assert dv.rotate_y(cheek, dv.view_yaws()["left"])[0, 2] > 0
    assert dv.rotate_y(cheek, dv.view_yaws()["right"])[0, 2] < 0
    pivot = np.array([1.0, 2.0, 3.0])
    assert np.allclose(dv.rotate_y(pivot[None], 77.0, pivot), pivot)
    assert np.allclose(dv.rotate_y(dv.rotate_y(cheek, 25.0), -25.0), cheek)


def test_kabsch_removes_rigid_motion_despite_local_deformation():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(400, 3)) * [60, 80, 30]
    r = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    r *= np.sign(np.linalg.det(r))
    moved = src @ r.T + [3.0, -2.0, 5.0]
    moved[:30] += [0.0, 0.0, 6.0]  # a local "expression" on 7 % of the points
    rot, t = dv.kabsch(moved, src)
    back = moved @ rot.T + t
    assert np.abs(back[30:] - src[30:]).max() < 1e-6  # the trimmed refit ignores the moving part
    with pytest.raises(ValueError):
        dv.kabsch(src, src[:10])


def test_icp_aligns_meshes_without_vertex_correspondence():
    vertices, faces = face_like()
    part = vertices[vertices[:, 2] > 10]  # another scan of the face: fewer vertices, no row correspondence
    moved = dv.rotate_y(part, 3.0) + [3.0, 2.0, -2.0]
    back = dv.align_vertices(vertices, moved, faces)  # point-to-plane with the reference's normals
    assert np.abs(back - part).mean() < 1e-3 < np.abs(moved - part).mean()
    assert np.array_equal(dv.align_vertices(vertices, moved, faces, mode="none"), moved)


@needs_gl
def test_orthographic_depth_is_metric_and_upright():
    # a flat square at z = 0, camera 100 mm in front: every face pixel is 100 mm away (orthographic, exact)
    square = np.array([[-50, -50, 0], [50, -50, 0], [50, 50, 0], [-50, 50, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    window = dv.ViewWindow(cx=0.0, cy=0.0, half=60.0, camera_z=100.0, znear=10.0, zfar=300.0)
    depth = dv.render_depth(square, faces, window, 32)
    hit = depth > 0
    assert 0.5 < hit.mean() < 0.8  # (100/120)^2 of the window
    assert np.allclose(depth[hit], 100.0, atol=1e-3)
    # a tilted plane z = 0.2 y: the top of the image (row 0) is y up, nearer the camera
    tilted = square.copy()
    tilted[:, 2] = 0.2 * tilted[:, 1]
    depth = dv.render_depth(tilted, faces, window, 32)
    rows = [depth[i][depth[i] > 0].mean() for i in (8, 23)]
    assert rows[0] < rows[1]
    assert np.allclose(dv._ortho_distance(np.array([0.0]), 10.0, 300.0), 0.0)  # background stays 0


@needs_gl
def test_three_views_differ_and_front_is_symmetric_on_a_symmetric_mesh():
    vertices, faces = face_like()
    images = dv.view_images([vertices, vertices], faces, yaw=30.0, size=64)
    assert set(images) == set(dv.VIEWS)
    h = {name: images[name]["heights"][0] for name in dv.VIEWS}
    masks = {name: images[name]["depth"][0] > 0 for name in dv.VIEWS}
    front, left, right = h["front"], h["left"], h["right"]
    # front view of an x-symmetric mesh is left-right symmetric (up to rasterisation at the rim)
    both = masks["front"] & np.fliplr(masks["front"])
    assert (masks["front"] ^ np.fliplr(masks["front"])).mean() < 0.02
    assert np.abs(front - np.fliplr(front))[both].mean() < 0.02
    # and its nearest point (height 1) is the nose, on the vertical mid-line
    col = np.argwhere(front >= front.max() - 1e-9)[:, 1].mean()
    assert abs(col - 31.5) < 2.0
    # the three views differ; left and right are mirror images of each other
    for a, b in (("front", "left"), ("front", "right"), ("left", "right")):
        assert np.abs(h[a] - h[b]).mean() > 0.05, (a, b)
    assert np.abs(left - np.fliplr(right)).mean() < 0.02
    # the rotated views are not symmetric: the nose moves off the mid-line
    assert np.abs(left - np.fliplr(left)).mean() > 0.05
    # identical onset and apex: no change anywhere
    for name in dv.VIEWS:
        assert np.abs(images[name]["dynamic"]).max() < 1e-6


@needs_gl
def test_one_renderer_per_process_shared_by_threads_and_survives_other_renderers():
    from concurrent.futures import ThreadPoolExecutor

    from mebench.synth.mesh import FaceRenderer

    vertices, faces = face_like()
    window = dv.view_window(vertices)
    serial = dv.render_depth(vertices, faces, window, 40)
    renderer = dv._RENDERERS[(40, 40)]
    with ThreadPoolExecutor(3) as pool:  # the lock serialises them; the context is released after each render
        results = list(pool.map(lambda _: dv.render_depth(vertices, faces, window, 40), range(6)))
    assert all(np.array_equal(r, serial) for r in results)
    assert dv._RENDERERS[(40, 40)] is renderer  # reused, not rebuilt
    # deleting another pyrender renderer terminates the EGL display all of them share: ours is rebuilt once
    FaceRenderer(16, 16).close()
    assert np.array_equal(dv.render_depth(vertices, faces, window, 40), serial)


# ------------------------------------------------------------------------------------------------------ images


def test_normalise_depth_maps_the_face_to_its_own_range():
    depth = np.zeros((10, 10))
    depth[2:8, 2:8] = np.linspace(100.0, 160.0, 36).reshape(6, 6)  # 100 mm = the nearest point (the nose)
    height, (near, far) = dv.normalise_depth(depth, percentiles=(0.0, 100.0))
    assert (near, far) == (100.0, 160.0)
    assert height[2, 2] == pytest.approx(1.0) and height[7, 7] == pytest.approx(0.0)
    assert np.all(height[depth == 0] == 0.0)
    assert height[depth > 0].min() >= 0.0 and height[depth > 0].max() <= 1.0
    # default robust range: 1st / 99th percentile of the face pixels
    _, (near, far) = dv.normalise_depth(depth)
    assert near == pytest.approx(np.percentile(depth[depth > 0], 1))
    assert far == pytest.approx(np.percentile(depth[depth > 0], 99))
    # a later frame uses the onset's range: 6 mm nearer = +0.1 of a 60 mm range
    apex = np.where(depth > 0, depth - 6.0, 0.0)
    moved, used = dv.normalise_depth(apex, reference=(100.0, 160.0))
    assert used == (100.0, 160.0)
    assert np.allclose((moved - height)[depth > 0], 0.1)
    # scale invariance: a face twice as deep (and far) gives the same normalised image
    twice, _ = dv.normalise_depth(depth * 2.0, percentiles=(0.0, 100.0))
    assert np.allclose(twice, height)
    assert np.all(dv.normalise_depth(np.zeros((4, 4)))[0] == 0)


def test_dynamic_image_is_rank_pooling_and_difference_for_two_frames():
    rng = np.random.default_rng(1)
    a, b, c = (rng.random((6, 7)) for _ in range(3))
    assert np.allclose(dv.dynamic_image([a, b]), b - a)
    assert np.allclose(dv.dynamic_image([a, b, c]), c - a)  # alpha (-2, 0, 2) scaled to sum |alpha| = 2
    mask = np.ones((6, 7), dtype=bool)
    mask[0] = False
    out = dv.dynamic_image([a, b], [mask, np.ones_like(mask)])
    assert np.all(out[0] == 0) and np.allclose(out[1:], (b - a)[1:])
    assert np.all(dv.dynamic_image([a]) == 0)


def test_pool_features_length_and_values():
    image = np.zeros((64, 64))
    image[:8, :8] = -2.0  # the top-left cell of an 8 x 8 grid
    feats = dv.pool_features(image, 8)
    assert feats.shape == (128,) and feats.dtype == np.float32
    assert feats[0] == -2.0 and feats[64] == 2.0  # signed mean, then mean magnitude
    assert np.all(feats[1:64] == 0) and np.all(feats[65:] == 0)
    assert dv.pool_features(np.ones((30, 50)), 4).shape == (32,)


@needs_gl
def test_extractor_features_see_the_expression_not_the_head_motion():
    onset, faces = face_like()
    apex, _ = face_like(bump=4.0)  # the subject's left cheek raised 4 mm
    head = dv.rotate_y(apex, 3.0) + [2.0, -1.0, 1.5]  # and a small head movement
    extractor = dv.DepthViewsExtractor(size=48, grid=4)
    assert extractor.length == 32
    feats = extractor.features_of(dv.view_images([onset, head], faces, extractor.yaw, extractor.size))
    assert feats.shape == (3, 32) and feats.dtype == np.float32
    # the bump is seen (positive change) in every view; without alignment the head motion swamps it
    for i, name in enumerate(dv.VIEWS):
        assert feats[i, :16].max() > 0.003, name
    raw = dv.view_images([onset, head], faces, 30.0, 48, align="none")
    aligned = dv.view_images([onset, head], faces, 30.0, 48)
    outside = dv.view_images([onset, apex], faces, 30.0, 48)
    for name in dv.VIEWS:
        assert np.abs(aligned[name]["dynamic"] - outside[name]["dynamic"]).mean() < 0.1 * np.abs(
            raw[name]["dynamic"] - outside[name]["dynamic"]).mean()
    # image orientation: the bump (x = +35 mm, y = -20 mm) shows in the front view's right half, below the middle
    weight = np.abs(aligned["front"]["dynamic"])
    rows, cols = np.indices(weight.shape)
    assert (weight * cols).sum() / weight.sum() > 30  # of 48 columns, centre 23.5
    assert (weight * rows).sum() / weight.sum() > 24
    assert extractor.params["yaw"] == 30.0 and extractor.params["projection"] == "orthographic"


def test_select_frames():
    row = pd.Series({"onset": 10, "apex": 15, "offset": 22})
    assert dv.select_frames(row, [10, 12, 13, 15, 18, 22]) == [10, 15]
    assert dv.select_frames(row, [9, 12, 14, 16, 22]) == [9, 14]  # nearest present frames
    assert dv.select_frames(row, [10, 12, 13, 15, 18, 22], "all") == [10, 12, 13, 15]
    assert dv.select_frames(row, list(range(10, 23)), "all", max_frames=3) == [10, 12, 15]
    assert dv.select_frames(pd.Series({"onset": 10, "apex": None, "offset": 20}), [10, 15, 20]) == [10, 15]


# ------------------------------------------------------------------------------------------------------ the model


def _tiny(n: int = 60, f: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, f))
    y = np.column_stack([x[:, 1, 0] > 0.3, x[:, 0, 2] + x[:, 2, 2] > 0, np.zeros(n, dtype=bool)]).astype(int)
    return x.astype(np.float32), y


@pytest.mark.parametrize("fusion,classifier", [("score", "logreg"), ("concat", "logreg"), ("score", "linearsvc")])
def test_fit_predict_multilabel_on_tiny_arrays(fusion, classifier):
    x, y = _tiny()
    model = dv.DepthViews(fusion=fusion, classifier=classifier, seed=0)
    labels = pd.DataFrame(y, columns=["a", "b", "never"])
    model.fit_features(x[:45], labels.iloc[:45], "multilabel")
    assert model.classes_ == ["a", "b", "never"]
    assert len(model.models_) == (3 if fusion == "score" else 1)
    pred = model.predict_features(x[45:])
    assert pred.shape == (15, 3) and set(np.unique(pred)) <= {0, 1}
    assert np.all(pred[:, 2] == 0)  # a label constant in training is predicted constant
    assert (pred[:, :2] == y[45:, :2]).mean() > 0.75
    assert model.predict_features(x[:0]).shape == (0, 3)


def test_views_subset_and_recognition_and_parameters():
    x, y = _tiny(seed=3)
    front = dv.DepthViews(views="front").fit_features(x[:45], y[:, :1][:45], "au-detection", ["AU1"])
    assert front.views == ("front",) and len(front.models_) == 1
    assert (front.predict_features(x[45:])[:, 0] == y[45:, 0]).mean() > 0.75
    names = np.where(y[:, 0] == 1, "up", np.where(y[:, 1] == 1, "mid", "down"))
    rec = dv.DepthViews(views=["left", "front", "right"]).fit_features(x[:45], names[:45], "recognition")
    out = rec.predict_features(x[45:])
    assert len(out) == 15 and set(out) <= {"up", "mid", "down"}
    assert dv.DepthViews(views="right+left").views == ("left", "right")
    for bad in (dict(views="top"), dict(fusion="max"), dict(classifier="tree"), dict(C=0), dict(frames="x")):
        with pytest.raises(InputError):
            dv.DepthViews(**bad)
    params = dv.DepthViews().get_params()
    assert params["class_weight"] == "balanced" and params["views"] == list(dv.VIEWS)


# ------------------------------------------------------------------------------------------------------ the harness


@needs_gl
def test_harness_run_on_tiny_shadow_4dme(tmp_path, monkeypatch):
    from mebench.corpus import Source, build_corpus
    from mebench.runner import run_protocol
    from mebench.synth import fourdme, synthesize

    # the 'tiny' shadow 4DME has 3 subjects and the protocol is subject-independent 5-fold: give it 5 (2 micro
    # clips each, small frames) for this run
    monkeypatch.setitem(fourdme.SCALES, "tiny", fourdme.ScaleSpec(
        5, {"micro": {"P": 2, "N": 2, "S": 2, "R": 2, "OT": 1, "PS": 1}, "macro": {}}, (64, 48), 0.09, False))
    synthesize(tmp_path / "synth", "tiny", 0, datasets=["4dme"])
    build_corpus([Source("4dme", tmp_path / "synth" / "4dme")], tmp_path / "corpus")
    result = run_protocol("4dme-5fold-emotion", tmp_path / "corpus", dv.DepthViews, params={"size": 32, "grid": 4},
                          cache=tmp_path / "cache", progress=False)
    record = result.record
    assert record["submission"]["model"]["name"] == "depth-views"
    assert set(record["metrics"]["per_label"]) == {"negative", "others", "positive", "repression", "surprise"}
    assert 0.0 <= record["metrics"]["f1"] <= 1.0
    assert result.features["depth-views"]["computed"] == 10
    assert len(result.predictions) == 10
    assert "depth-views" in (result.summary or "")
