"""Shadow CASMEMG (mebench.synth.casmemg + the EMG model mebench.synth.emg): the channel map of seed 001 Table 8,
bursts where the timing sheet says, MVC% of MEs below MaEs, a build that reads every recording and resolves every
medium (EMG and face video), face videos on the video clock with the expressions at the sheet's apexes, identical
bytes for an identical seed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pyarrow.parquet as pq
import pytest

from mebench.corpus import Source, build_corpus
from mebench.loaders.casmemg import read_emg
from mebench.synth import aufields, casmemg, emg

SEED = 11


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("casmemg-tiny")
    plan = casmemg.plan("tiny", SEED)
    counts = casmemg.write_plan(root, plan)
    return root, counts, plan


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("casmemg-small")
    plan = casmemg.plan("small", SEED)
    counts = casmemg.write_plan(root, plan, videos=False)  # EMG checks only: the face videos are tiny's
    return root, counts, plan


def _recording(root: Path, rec: casmemg.Recording):
    data = read_emg(root / rec.path)  # the loader's reading: 199 head rows and marker -1 rows dropped
    return data.channels.astype(np.float64), data.time


def _mvc(root: Path, sub: int) -> np.ndarray:
    channels = read_emg(root / f"{sub:02d}" / casmemg.MVC_FILE).channels
    return emg.envelope(channels).max(axis=0)


def test_channel_map_is_seed001_table8():
    assert emg.CHANNEL_AUS == {1: (1, 2), 2: (4,), 3: (5, 6, 7, 4, 41, 42, 43, 44, 45), 4: (9, 10), 5: (11, 12),
                               6: (15, 16, 17, 18, 22, 23, 24, 28), 7: (14, 25)}
    assert emg.MUSCLES[5] == "zygomaticus major"
    assert emg.au_channels(12) == ((5, 1.0),)
    assert emg.au_channels(4) == ((2, 1.0), (3, emg.SHARED_WEIGHT))  # listed under c2 and c3: home c2
    assert emg.au_channels(20) == ()


def test_au12_burst_is_largest_on_the_zygomaticus_channel(tiny):
    root, _, plan = tiny
    (au12_channel,) = [c for c, aus in emg.CHANNEL_AUS.items() if 12 in aus]  # Table 8: c5, zygomaticus major
    assert au12_channel == 5
    checked = 0
    for rec in plan.recordings:
        channels, time = _recording(root, rec)
        rectified = np.abs(emg.bandpassed(channels))
        for e in rec.expressions:
            if 12 not in e.aus:
                continue
            burst = (time >= e.emg_onset) & (time <= e.emg_offset)
            rms = np.sqrt((rectified[burst] ** 2).mean(axis=0))
            assert int(np.argmax(rms)) + 1 == au12_channel, (e, rms)
            assert rms[au12_channel - 1] > 1.4 * np.delete(rms, au12_channel - 1).max()
            assert e.channel == au12_channel
            checked += 1
    assert checked >= 2  # tiny has an AU12 micro and an AU12 macro


def test_bursts_are_where_the_sheet_says(tiny):
    root, _, plan = tiny
    for rec in plan.recordings:
        channels, time = _recording(root, rec)
        env = emg.envelope(channels)
        for e in rec.expressions:
            burst = (time >= e.emg_onset) & (time <= e.emg_offset)
            peaks = env[burst].max(axis=0)
            assert int(np.argmax(peaks[:7])) + 1 == e.channel  # seed 001 eq. 5: the channel that carried it
            window = (time >= e.emg_onset - 0.5) & (time <= e.emg_offset + 0.5)
            at = time[window][np.argmax(env[window, e.channel - 1])]
            assert e.emg_onset <= at <= e.emg_offset
            assert abs(at - e.emg_apex) < 0.35 * e.duration + 0.05
            before = (time >= e.emg_onset - 0.5) & (time <= e.emg_onset - 0.15)
            assert env[before, e.channel - 1].mean() < 0.35 * peaks[e.channel - 1]


def test_micro_mvc_percent_is_below_macro(small):
    root, _, plan = small
    mvc = {sub: _mvc(root, sub) for sub in plan.subjects}
    measured: dict[str, list[float]] = {"micro": [], "macro": []}
    ratio = []
    for rec in plan.recordings:
        channels, time = _recording(root, rec)
        env = emg.envelope(channels)
        for e in rec.expressions:
            burst = (time >= e.emg_onset) & (time <= e.emg_offset)
            value = 100.0 * env[burst, e.channel - 1].max() / mvc[rec.sub][e.channel - 1]
            measured[e.type].append(value)
            ratio.append(value / e.mvc_percent)
    micro, macro = np.mean(measured["micro"]), np.mean(measured["macro"])
    assert len(measured["micro"]) >= 20 and len(measured["macro"]) >= 15
    assert micro < macro
    assert 3.0 < micro < 16.0 and macro > 12.0  # seed 001 Table 3: 8.11 and 23.09
    assert 0.85 < np.median(ratio) < 1.15  # what the paper's pipeline measures is what was drawn


def test_build_reads_every_row_and_recording(tiny, tmp_path):
    root, counts, plan = tiny
    result = build_corpus([Source("casmemg", root)], tmp_path / "corpus")
    assert result.counts["casmemg"]["samples"] == counts["samples"] == len(plan.rows)
    assert result.counts["casmemg"]["subjects"] == counts["subjects"] == len(plan.subjects)
    assert counts == {"samples": 6, "subjects": 3}
    kinds = [n["kind"] for n in result.notes]
    assert "missing-media" not in kinds, [n for n in result.notes if n["kind"] == "missing-media"]
    assert not {"coding-mismatch", "coding-missing", "coding-unmatched", "formula"} & set(kinds)
    samples = pq.read_table(tmp_path / "corpus" / "samples.parquet").to_pandas()
    assert samples["emg_path"].notna().all()
    assert samples["video_path"].notna().all()
    assert (samples["type_source"] == "annotation").all()
    assert not any(len(e) for e in samples["errata"])
    by_row = {int(r.source_row): r for r in samples.itertuples()}
    for e in plan.rows:
        row = by_row[e.row]
        assert row.expression_type == e.type
        assert row.emg_channel == e.channel
        assert row.emotion == e.emotion.lower().replace("other", "others")
        assert sorted(row.aus) == sorted(e.aus)
        assert row.emg_onset_s == pytest.approx(e.emg_onset, abs=1e-9)
        assert row.emg_offset_s == pytest.approx(e.emg_offset, abs=1e-9)
        if "emg_apex" in e.empty:
            assert np.isnan(row.emg_apex_s)
        else:
            assert row.emg_apex_s == pytest.approx(e.emg_apex, abs=1e-9)
        assert row.onset_s - row.emg_onset_s == pytest.approx(rec_lead(plan, e), abs=0.011)
        assert Path(row.video_path) == root / f"{e.sub:02d}" / f"{e.video}.avi"  # the loader's default template
    table = pq.read_table(tmp_path / "corpus" / "emg.parquet")
    assert table.num_rows == len(plan.recordings)
    assert table.schema.metadata[b"sampling_rate_hz"] == b"1000.0"
    assert sorted(table.column("video_id").to_pylist()) == sorted(f"{r.sub:02d}/{r.video}" for r in plan.recordings)
    meta = json.loads((tmp_path / "corpus" / "corpus.json").read_text())
    assert "emg.parquet" in meta["tables"]


def _video(root: Path, rec: casmemg.Recording) -> tuple[list[np.ndarray], float]:
    """All frames of a recording's face video (grey) and the fps its header says."""
    capture = cv2.VideoCapture(str(root / rec.video_path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    capture.release()
    return frames, fps


def _box(landmarks: np.ndarray, margin: float, xx: np.ndarray, yy: np.ndarray, points) -> np.ndarray:
    pts = landmarks[list(points)]
    return ((xx >= pts[:, 0].min() - margin) & (xx <= pts[:, 0].max() + margin)
            & (yy >= pts[:, 1].min() - margin) & (yy <= pts[:, 1].max() + margin))


def _motion(before: np.ndarray, after: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Optical-flow magnitude between two frames, the head drift (one translation of the whole face) removed."""
    flow = cv2.calcOpticalFlowFarneback(before, after, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    flow -= np.median(flow[face], axis=0)
    return np.linalg.norm(flow, axis=2)


def test_face_video_shows_the_expressions_on_the_video_clock(tiny):
    """Frame k of <sub>/<video>.avi is at k / 30 s of the video clock (380_sort.xlsx's video_* columns): at an
    expression's video apex the face has moved, in the region of its leading AU, against the neutral face 0.3 s
    before its video onset - far more than between two neutral frames or once the expression is over (the tiny
    expressions measure 3-50x; micro ~0.1-0.4 px, macro ~0.4-1 px of mean flow in the region)."""
    root, _, plan = tiny
    checked = 0
    for rec in plan.recordings:
        frames, fps = _video(root, rec)
        assert fps == pytest.approx(30.0)
        assert len(frames) == rec.n_frames
        end = rec.lead + rec.n_samples / emg.FS  # the end of the EMG recording on the video clock
        assert (len(frames) - 1) / fps <= end < len(frames) / fps  # frame 0 at t 0: the whole span, uncropped
        face = casmemg.video_face(plan, rec.sub)
        landmarks, iod = face.landmarks, face.iod
        assert frames[0].shape == (face.size[1], face.size[0])
        yy, xx = np.mgrid[0:face.size[1], 0:face.size[0]]
        whole = _box(landmarks, 0.0, xx, yy, range(68))
        for e in rec.expressions:
            def at(t: float) -> np.ndarray:
                return frames[int(round(t * fps))]

            au = casmemg._lead_au(e.aus)
            region = _box(landmarks, 0.3 * iod, xx, yy, aufields.REGION_LANDMARKS[aufields.AU_REGION[au]])
            apex = _motion(at(e.video_onset - 0.3), at(e.video_apex), whole)[region].mean()
            still = _motion(at(e.video_onset - 0.6), at(e.video_onset - 0.3), whole)[region].mean()
            after = _motion(at(e.video_onset - 0.3), at(e.video_offset + 0.3), whole)[region].mean()
            factor, least = (5.0, 0.2) if e.type == "macro" else (2.0, 0.06)  # weakest: the left-only micro AU9
            assert apex > factor * still and apex > factor * after, (e, apex, still, after)
            assert apex > least, (e, apex)  # pixels (IOD 38 px)
            checked += 1
    assert checked == len(plan.rows) == 6


def rec_lead(plan: casmemg.Plan, e: casmemg.Expression) -> float:
    return next(r.lead for r in plan.recordings if (r.sub, r.video) == (e.sub, e.video))


def test_native_layout_and_quirks(tiny):
    root, _, plan = tiny
    assert (root / casmemg.TIMING_FILE).is_file() and (root / casmemg.CODING_FILE).is_file()
    for rec in plan.recordings:
        assert (root / rec.path).is_file()
        assert (root / f"{rec.sub:02d}" / f"{rec.video}.avi").is_file()
    for sub in plan.subjects:
        assert (root / f"{sub:02d}" / "MVC.mat").is_file()
    formulas = openpyxl.load_workbook(root / casmemg.TIMING_FILE)["Sheet1"]
    values = openpyxl.load_workbook(root / casmemg.TIMING_FILE, data_only=True)["Sheet1"]
    assert [c.value for c in formulas[1]] == list(casmemg.HEADER)
    cells = [c.coordinate for row in formulas.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith("=") and c.value.endswith("*60")]
    assert cells  # '=0.0294*60' with a cached value, as in the real file
    for ref in cells:
        minutes = float(formulas[ref].value[1:-3])
        assert values[ref].value == minutes * 60
    empty = [(c.column_letter, c.row) for row in values.iter_rows(min_row=2) for c in row if c.value is None]
    assert sorted(col for col, _ in empty) == ["D", "H"]  # one video_apex, one emg_apex
    lead = [values.cell(row, 3).value - values.cell(row, 7).value for row in range(2, values.max_row + 1)]
    assert all(1.39 < d < 20.42 for d in lead)  # the video clock leads the EMG clock by 1.4-20.4 s
    # marker -1 rows are rows without a sample: once removed, the clock is regular and starts at 0.2 s
    dropped = 0
    for rec in plan.recordings:
        data = read_emg(root / rec.path)
        dropped += data.dropped_marker_rows
        assert data.time[0] == pytest.approx(0.2)
        assert np.allclose(np.diff(data.time), 0.001)
        assert len(data.channels) == rec.n_samples - emg.HEAD_ROWS
    assert dropped > 0
    mvc = read_emg(root / "01" / "MVC.mat")
    assert len(mvc.channels) == round(emg.mvc_protocol().duration * emg.FS) - emg.HEAD_ROWS


def test_identical_seed_gives_identical_bytes(tiny, tmp_path):
    root, counts, _ = tiny
    again = tmp_path / "again"
    again.mkdir()
    assert casmemg.write(again, "tiny", SEED) == counts
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (root / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    other.mkdir()
    casmemg.write(other, "tiny", SEED + 1)
    assert (other / "01" / "MVC.mat").read_bytes() != (root / "01" / "MVC.mat").read_bytes()
    assert (other / "01" / "21.avi").read_bytes() != (root / "01" / "21.avi").read_bytes()
