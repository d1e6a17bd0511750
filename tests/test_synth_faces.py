"""mebench.synth.faces / render / avi: the base landmarks, identities, rendering and the Motion-JPEG writer."""

from __future__ import annotations

import cv2
import numpy as np

from mebench.synth import aufields, faces, render, rng
from mebench.synth.avi import MjpegAviWriter


def test_base_landmarks_are_what_dlib_finds_on_the_astronaut():
    found = faces.detect_landmarks(faces.astronaut_bgr())
    assert len(found) == 1
    assert np.abs(found[0] - faces.BASE_LANDMARKS).max() <= 2


def test_identities_differ_and_are_deterministic():
    a = faces.make_identity(rng(1, "identity", "x", "01"))
    b = faces.make_identity(rng(1, "identity", "x", "01"))
    c = faces.make_identity(rng(1, "identity", "x", "02"))
    assert np.array_equal(a.shape, b.shape) and a.gains == b.gains
    assert not np.array_equal(a.shape, c.shape)


def test_render_moves_the_au_landmarks_and_only_there():
    face = faces.Face(faces.make_identity(rng(0, "t")), (192, 216), 46)
    neutral = face.render({})
    smile = face.render({(12, None): 1.0})
    assert neutral.shape == (216, 192, 3)
    d = face.field({(12, None): 1.0})
    expected = aufields.displacement([12], 1.0, face.landmarks)
    for index in (48, 54):
        x, y = np.round(face.landmarks[index]).astype(int)
        assert np.allclose(d[y, x], expected[index], atol=0.6)
    x, y = np.round(face.landmarks[19]).astype(int)  # a brow point: untouched by AU12
    assert np.abs(d[y, x]).max() < 0.2
    assert np.abs(smile.astype(int) - neutral).max() > 20
    grey = faces.Face(faces.make_identity(rng(0, "t")), (192, 216), 46, gray=True)
    assert grey.render({}).ndim == 2


def test_avi_is_readable(tmp_path):
    job = render.Job(face=(0, "t", "01", 160, 176, 38, False), folder=str(tmp_path / "frames"),
                     pattern="img{n}.jpg", first=1, n_frames=12, events=[([(12, None, 1.0)], 2, 5, 9)], fps=30.0,
                     video=str(tmp_path / "v.avi"), seed_keys=("t",))
    assert render.run_jobs([job]) == 12
    capture = cv2.VideoCapture(str(tmp_path / "v.avi"))
    assert capture.get(cv2.CAP_PROP_FPS) == 30.0
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 12 and len(list((tmp_path / "frames").glob("img*.jpg"))) == 12
    with MjpegAviWriter(tmp_path / "empty.avi", 16, 16, 25) as avi:
        assert avi.index == []
