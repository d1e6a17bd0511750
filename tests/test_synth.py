"""`mebench synth` (DESIGN.md section 9): the 2D shadow datasets at --scale tiny.

Determinism (same seed -> same bytes), every loader reading its folder with all media resolved and the manifest's
counts, dlib finding the face on rendered frames, and optical flow at the apex sitting where the AU acts.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from mebench import cli
from mebench.corpus import CORPUS_FILE, Source, build_corpus
from mebench.errors import InputError
from mebench.synth import WRITERS, SynthSkipped, faces, synthesize

DATASETS_2D = ["casme2", "samm", "samm-lv", "casme-sq"]
SEED = 7


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def shadow(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "shadow"
    synthesize(out, "tiny", SEED, DATASETS_2D)
    return out


@pytest.fixture(scope="module")
def corpora(shadow, tmp_path_factory) -> dict[str, tuple[Path, object]]:
    built = {}
    for name in DATASETS_2D:
        out = tmp_path_factory.mktemp("corpus") / name
        built[name] = (out, build_corpus([Source(name, shadow / name)], out))
    return built


def samples(corpus: Path):
    return pq.read_table(corpus / "samples.parquet").to_pandas()


def frame_path(row, number: int) -> Path:
    folder = Path(row.frames_dir)
    if row.dataset == "casme2" or row.dataset == "casme-sq":
        return folder / f"img{number}.jpg"
    if row.dataset == "samm":
        return folder / f"{row.subject_raw}_{number:05d}.jpg"
    four, five = folder / f"{row.video_id}_{number:04d}.jpg", folder / f"{row.video_id}_{number:05d}.jpg"
    return four if four.is_file() else five  # samm-lv: 4 or 5 digits, depending on the video


# --- determinism and layout ------------------------------------------------------------------------------------------


def test_same_seed_same_bytes(shadow, tmp_path):
    again = tmp_path / "again"
    synthesize(again, "tiny", SEED, DATASETS_2D)
    first, second = tree_digest(shadow), tree_digest(again)
    assert len(first) > 1000
    assert first == second


def test_manifest(shadow):
    manifest = json.loads((shadow / "manifest.json").read_text())
    assert manifest["shadow"] is True and manifest["seed"] == SEED and manifest["scale"] == "tiny"
    for name in DATASETS_2D:
        assert manifest[name]["samples"] > 0 and manifest[name]["subjects"] >= 2
    assert sorted(p.name for p in shadow.iterdir() if p.is_dir()) == sorted(DATASETS_2D)


@pytest.mark.parametrize("name", DATASETS_2D)
def test_build_resolves_every_row_and_matches_the_manifest(name, shadow, corpora):
    out, result = corpora[name]
    manifest = json.loads((shadow / "manifest.json").read_text())
    counts = result.counts[name]
    assert (counts["samples"], counts["subjects"]) == (manifest[name]["samples"], manifest[name]["subjects"])
    kinds = {note["kind"] for note in result.notes}
    assert "missing-media" not in kinds and "frame-beyond-video" not in kinds, result.notes
    assert json.loads((out / CORPUS_FILE).read_text())["shadow"] is True
    rows = samples(out)
    assert rows["frames_dir"].notna().all()
    for row in rows.itertuples():
        for field in ("onset", "apex", "offset"):
            value = getattr(row, field)
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                assert frame_path(row, int(value)).is_file(), (row.sample_id, field, value)
    if name == "casme-sq":
        assert rows["video_path"].notna().all()
        capture = cv2.VideoCapture(rows["video_path"].iloc[0])
        ok, frame = capture.read()
        assert ok and frame.shape[2] == 3
    if name in ("samm-lv", "casme-sq"):
        videos = pq.read_table(out / "videos.parquet").to_pandas()
        assert (videos["n_frames"] > 0).all()


def test_native_quirks(corpora):
    casme_sq = samples(corpora["casme-sq"][0])
    assert set(casme_sq["expression_type"]) <= {"micro", "macro"}
    assert (casme_sq["type_source"] == "annotation").all()
    samm_lv = samples(corpora["samm-lv"][0])
    assert samm_lv["sample_id"].str.contains("#2").any()  # one Filename used twice (micro inside macro)
    assert set(samm_lv["expression_type"]) == {"micro", "macro"}
    samm = samples(corpora["samm"][0])
    assert samm["subject_raw"].str.fullmatch(r"\d{3}").all()
    assert samm["objective_class"].notna().all()
    casme2 = samples(corpora["casme2"][0])
    assert casme2["subject_raw"].str.fullmatch(r"\d{2}").all()
    assert set(casme2["emotion"]) <= {"others", "disgust", "happiness", "repression", "surprise", "sadness", "fear"}


# --- faces and motion ------------------------------------------------------------------------------------------------


def _fixed(corpora, name: str, au: int):
    rows = samples(corpora[name][0])
    return next(r for r in rows.itertuples() if list(r.aus) == [au])


@pytest.mark.parametrize("name", ["casme2", "samm"])
def test_dlib_finds_one_face_with_68_landmarks(name, corpora):
    row = _fixed(corpora, name, 12)
    image = cv2.imread(str(frame_path(row, int(row.apex))), cv2.IMREAD_UNCHANGED)
    found = faces.detect_landmarks(image)
    assert len(found) == 1 and found[0].shape == (68, 2)


def _flow_ratio(row, region_of) -> float:
    onset = cv2.imread(str(frame_path(row, int(row.onset))), cv2.IMREAD_GRAYSCALE)
    apex = cv2.imread(str(frame_path(row, int(row.apex))), cv2.IMREAD_GRAYSCALE)
    (landmarks,) = faces.detect_landmarks(onset)  # regions from dlib, not from the generator's own landmarks
    flow = cv2.calcOpticalFlowFarneback(onset, apex, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    magnitude = np.linalg.norm(flow, axis=2)
    iod = np.linalg.norm(landmarks[42:48].mean(0) - landmarks[36:42].mean(0))
    yy, xx = np.mgrid[0:magnitude.shape[0], 0:magnitude.shape[1]]
    face = ((xx >= landmarks[:, 0].min()) & (xx <= landmarks[:, 0].max())
            & (yy >= landmarks[17:27, 1].min() - 0.3 * iod) & (yy <= landmarks[:, 1].max()))
    region = region_of(landmarks, iod, xx, yy)
    assert region.sum() > 50
    return float(magnitude[region].mean() / magnitude[face & ~region].mean())


def _brows(landmarks, iod, xx, yy):
    points, r = landmarks[17:27], 0.3 * iod
    return ((xx >= points[:, 0].min() - r) & (xx <= points[:, 0].max() + r)
            & (yy >= points[:, 1].min() - r) & (yy <= points[:, 1].max() + r))


def _lip_corners(landmarks, iod, xx, yy):
    region = np.zeros(xx.shape, dtype=bool)
    for x, y in (landmarks[48], landmarks[54]):
        region |= (xx - x) ** 2 + (yy - y) ** 2 <= (0.35 * iod) ** 2
    return region


@pytest.mark.parametrize("name", ["casme2", "samm"])
def test_flow_at_apex_is_in_the_au_region(name, corpora):
    assert _flow_ratio(_fixed(corpora, name, 4), _brows) > 2.0  # AU4 brow lowerer
    assert _flow_ratio(_fixed(corpora, name, 12), _lip_corners) > 2.0  # AU12 lip corner puller


# --- interface -------------------------------------------------------------------------------------------------------


def test_missing_writer_is_skipped_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setitem(WRITERS, "casme2", "mebench.synth.not_written_yet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manifest = synthesize(tmp_path / "out", "tiny", 1, ["casme2"])
    assert "casme2" not in manifest and manifest["shadow"] is True
    assert any(issubclass(w.category, SynthSkipped) and "not_written_yet" in str(w.message) for w in caught)


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="unknown scale"):
        synthesize(tmp_path / "a", "huge", 1)
    with pytest.raises(InputError, match="unknown dataset"):
        synthesize(tmp_path / "a", "tiny", 1, ["smic"])
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("x")
    with pytest.raises(InputError, match="refusing"):
        synthesize(tmp_path / "precious", "tiny", 1, ["casme2"])
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "x"


def test_cli(tmp_path, capsys):
    assert cli.main(["synth", "--out", str(tmp_path / "s"), "--scale", "tiny", "--seed", "2", "--dataset", "casme2",
                     "--quiet"]) == 0
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["casme2"]["samples"] > 0
    assert "casme2" in capsys.readouterr().out
    assert cli.main(["synth", "--out", str(tmp_path / "t"), "--seed", "-1"]) == 2
    assert "seed" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
