"""Shadow 4DME (mebench.synth.fourdme + mebench.synth.mesh): meshes deformed by the AU fields, pyrender depth,
a corpus build that resolves every modality, emotions that follow the 4DME AU mapping, and byte-identical reruns."""

from __future__ import annotations

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")  # before anything imports pyrender / PyOpenGL

import hashlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest

trimesh = pytest.importorskip("trimesh")

from mebench.corpus import Source, build_corpus, read_samples  # noqa: E402
from mebench.labels import harmonize  # noqa: E402
from mebench.loaders import get_loader  # noqa: E402
from mebench.synth import aufields  # noqa: E402
from mebench.synth import fourdme  # noqa: E402
from mebench.synth import mesh as facemesh  # noqa: E402

SEED = 7


def _pyrender():
    try:
        import pyrender

        renderer = pyrender.OffscreenRenderer(64, 48)
        renderer.delete()
        return pyrender
    except Exception as exc:  # no EGL on this machine
        pytest.skip(f"pyrender cannot render offscreen here ({type(exc).__name__}: {exc})")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    _pyrender()
    root = tmp_path_factory.mktemp("synth4d") / "4dme"
    counts = fourdme.write(root, "tiny", SEED)
    return root, counts


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _moving_clip() -> fourdme.Clip:
    """A tiny clip with animated AUs: one with a single AU when there is one, else the first with no static AU."""
    clips = [c for c in fourdme.ground_truth("tiny", SEED)
             if all(not static and au in aufields.AU_REGION for au, static, _, _ in c.aus)]
    assert clips, "no animated clip at the tiny scale"
    return min(clips, key=lambda c: len(c.aus))


def test_counts_and_layout(tiny):
    root, counts = tiny
    clips = fourdme.ground_truth("tiny", SEED)
    assert counts == {"samples": len(clips), "subjects": len({c.subject for c in clips})}
    assert 2 <= counts["subjects"] <= 3 and 4 <= counts["samples"] <= 8
    assert (root / fourdme.LABEL_FILE).is_file()
    for clip in clips:
        frames = fourdme.frames_to_write(clip, every_frame=False)
        assert {clip.onset, clip.apex, clip.offset} <= set(frames)
        meshes = sorted(p.name for p in (root / "4D" / clip.subject / clip.clip).iterdir())
        greys = sorted(p.name for p in (root / "gray_micro" / clip.clip).iterdir())
        kinect = [f"frame_{k:04d}" for k in fourdme.kinect_frames(frames)]
        assert meshes == [f"frame_{n:04d}.ply" for n in frames]
        assert greys == [f"frame_{n:04d}.jpg" for n in frames]
        assert sorted(p.name for p in (root / "kinect_color" / clip.subject / clip.clip).iterdir()) == [
            f"{k}.jpg" for k in kinect]
        assert sorted(p.name for p in (root / "kinect_depth" / clip.subject / clip.clip).iterdir()) == [
            f"{k}.png" for k in kinect]
        duration = (clip.offset - clip.onset + 1) / fourdme.FPS
        assert (duration < 0.5) == (clip.kind == "micro")


def test_mesh_sequence_moves_in_the_au_region(tiny):
    root, _ = tiny
    clip = _moving_clip()
    folder = root / "4D" / clip.subject / clip.clip
    loaded = {int(p.stem.split("_")[1]): trimesh.load(p) for p in sorted(folder.glob("*.ply"))}
    counts = {len(m.vertices) for m in loaded.values()}
    faces = {len(m.faces) for m in loaded.values()}
    assert len(counts) == 1 and len(faces) == 1 and counts.pop() > 300  # stable topology over the sequence
    onset, apex = loaded[clip.onset], loaded[clip.apex]
    assert onset.visual.kind == "vertex" and np.asarray(onset.visual.vertex_colors).std() > 5  # photo colours
    moved = np.linalg.norm(apex.vertices - onset.vertices, axis=1)
    assert moved.max() > 0.3  # millimetres

    # which vertices lie in the major AU's region: near its landmarks on the subject's neutral mesh
    face = fourdme.subject_face(SEED, clip.subject, fourdme.SCALES["tiny"].grid_step)
    assert face.n_vertices == len(onset.vertices)
    region = sorted({i for au, *_ in clip.aus for i in aufields.REGION_LANDMARKS[aufields.AU_REGION[au]]})
    d = np.linalg.norm(face.vertices[:, None, :2] - face.landmarks[None, region, :2], axis=2).min(axis=1)
    near = d < 0.35 * facemesh.IOD_MM
    assert near.any() and (~near).any()
    assert moved[near].mean() > 2.0 * moved[~near].mean(), (clip.au_cell, moved[near].mean(), moved[~near].mean())
    # the apex is the frame that differs most from the onset
    assert max(loaded, key=lambda n: np.abs(loaded[n].vertices - onset.vertices).sum()) == clip.apex


def test_pyrender_depth_of_a_mesh_file(tiny):
    pyrender = _pyrender()
    root, _ = tiny
    clip = _moving_clip()
    mesh = trimesh.load(root / "4D" / clip.subject / clip.clip / f"frame_{clip.apex:04d}.ply")
    scene = pyrender.Scene()
    scene.add(pyrender.Mesh.from_trimesh(mesh))
    pose = np.eye(4)
    pose[:3, 3] = [0.0, 0.0, 600.0]  # frontal camera 600 mm in front of the face (mesh units are mm, z to camera)
    scene.add(pyrender.PerspectiveCamera(yfov=np.radians(30.0), znear=100.0, zfar=2000.0), pose=pose)
    renderer = pyrender.OffscreenRenderer(160, 120)
    try:
        depth = renderer.render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY)
    finally:
        renderer.delete()
    face = depth > 0
    assert 0.05 < face.mean() < 0.9  # non-empty, not everything
    assert np.isfinite(depth[face]).all()
    assert face[60, 80] and 450 < depth[60, 80] < 600  # the face is in the middle, in front of the camera
    ys, xs = np.nonzero(face)
    assert abs(xs.mean() - 80) < 12 and abs(ys.mean() - 60) < 12


def test_kinect_depth_and_grey_frames(tiny):
    root, _ = tiny
    clip = _moving_clip()
    k = clip.apex // 2
    depth = cv2.imread(str(root / "kinect_depth" / clip.subject / clip.clip / f"frame_{k:04d}.png"),
                       cv2.IMREAD_UNCHANGED)
    width, height = fourdme.SCALES["tiny"].size
    assert depth.dtype == np.uint16 and depth.shape == (height, width)
    assert depth[height // 2, width // 2] > 0  # the face in the middle
    valid = depth[depth > 0]
    assert 0.02 < (depth > 0).mean() < 0.8 and 450 < valid.min() and valid.max() < 700  # millimetres
    color = cv2.imread(str(root / "kinect_color" / clip.subject / clip.clip / f"frame_{k:04d}.jpg"))
    assert color.shape == (height, width, 3)
    grey = cv2.imread(str(root / "gray_micro" / clip.clip / f"frame_{clip.apex:04d}.jpg"), cv2.IMREAD_UNCHANGED)
    assert grey.ndim == 2 and grey.shape == (height, width) and grey.std() > 10


def test_build_resolves_every_modality(tiny, tmp_path):
    root, counts = tiny
    result = build_corpus([Source("4dme", root)], tmp_path / "corpus")
    assert not [n for n in result.notes if n["kind"] == "missing-media"]
    assert {n["kind"] for n in result.notes} <= {"skipped-row"}  # the totals line
    assert result.counts["4dme"]["samples"] == counts["samples"]
    assert result.counts["4dme"]["subjects"] == counts["subjects"]
    samples = read_samples(tmp_path / "corpus")
    for column in ("mesh_dir", "grey_path", "rgb_path", "depth_path"):
        assert samples[column].notna().all(), column
        assert all(any(Path(p).iterdir()) for p in samples[column])
    truth = {c.clip: c for c in fourdme.ground_truth("tiny", SEED)}
    for row in samples.itertuples():
        clip = truth[row.clip]
        assert (row.onset, row.apex, row.offset) == (clip.onset, clip.apex, clip.offset)
        assert row.expression_type == clip.kind and row.type_source == "annotation"
        assert list(row.emotions) == list(row.emo_4dme)  # emotions follow the AUs by the 4DME mapping
        assert (Path(row.mesh_dir) / f"frame_{row.apex:04d}.ply").is_file()


def test_label_book_formulas_and_emotion_table(tiny):
    root, _ = tiny
    book = openpyxl.load_workbook(root / fourdme.LABEL_FILE, data_only=True)
    sheet = book[fourdme.SHEET]
    header = [c.value for c in sheet[1]]
    assert header[:8] == ["sub_ID'", "fold_name", "Onset", "Apex", "Offset", "Length", "AUs", "Emotion"]
    for row in sheet.iter_rows(min_row=2, max_row=sheet.max_row - 1, values_only=True):
        assert row[5] == row[4] - row[2] + 1  # the Length formula's cached value
    formulas = openpyxl.load_workbook(root / fourdme.LABEL_FILE)[fourdme.SHEET]
    assert str(formulas.cell(row=2, column=6).value).startswith("=")
    # every pattern of every emotion class gives that class under the `4dme` label scheme
    for cls, patterns in fourdme.PATTERNS.items():
        for pattern in patterns:
            labels, rule = harmonize([au for au, _ in pattern], "4dme")
            assert labels == fourdme.EMOTIONS_OF[cls], (cls, pattern, labels, rule)


def test_full_scale_ground_truth_follows_table_3(tmp_path):
    clips = fourdme.ground_truth("full", 0)
    assert len(clips) == 390 and len({c.subject for c in clips}) == 41
    kinds = Counter(c.kind for c in clips)
    assert kinds == {"micro": 267, "macro": 123}
    assert Counter(c.emotion_class for c in clips if c.kind == "micro") == Counter(fourdme.TABLE3["micro"])
    assert len({c.clip for c in clips}) == 390
    # the release's swapped rows 144/145 are fixed by the errata table, nothing else is touched
    path = tmp_path / fourdme.LABEL_FILE
    fourdme.write_labels(path, clips)
    result = get_loader("4dme").load(path)
    fixed = [r for r in result.samples if r["errata"]]
    assert [r["source_row"] for r in fixed] == [144, 145]
    assert all(r["onset"] <= r["apex"] <= r["offset"] for r in result.samples)
    assert Counter(r["expression_type"] for r in result.samples) == kinds


def test_identical_seed_identical_bytes(tiny, tmp_path):
    root, counts = tiny
    again = tmp_path / "again"
    assert fourdme.write(again, "tiny", SEED) == counts
    assert _digest(again) == _digest(root)
    other = fourdme.ground_truth("tiny", SEED + 1)
    assert [(c.clip, c.onset) for c in other] != [(c.clip, c.onset) for c in fourdme.ground_truth("tiny", SEED)]


def test_ply_bytes_round_trip():
    vertices = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.5]])
    faces = np.array([[0, 1, 2]])
    colors = np.array([[10, 20, 30, 255]] * 3, dtype=np.uint8)
    data = facemesh.ply_bytes(vertices, faces, colors)
    assert b"comment" not in data.split(b"end_header")[0]
    mesh = trimesh.load(trimesh.util.wrap_as_stream(data), file_type="ply")
    assert np.allclose(mesh.vertices, vertices) and mesh.faces.tolist() == [[0, 1, 2]]
    assert np.asarray(mesh.visual.vertex_colors)[0].tolist() == [10, 20, 30, 255]
