"""Synthetic inputs of the benchmarks (``benchmarks/run.py``): every one deterministic from a seed, made with numpy and
``mebench.synth`` only (no dataset, no download).

- ``long_video``: a 640 x 480 colour long video (JPEG frames ``img<n>.jpg``, 30 fps) of one synthetic face with
  expressions, blinks, head drift and sensor noise, rendered by the CAS(ME)^2 shadow writer's renderer
  (``mebench.synth.render``), so dlib finds the face as in a real recording;
- ``intervals``: GT and predicted spotting intervals over many videos (predictions scattered around the GTs, plus
  false alarms);
- ``labels``: recognition labels (the harness's input type: object arrays of str);
- ``dataset_roots``: the four real annotation files (``../shared/annotations``) in dataset roots with N empty frame
  files laid out as the releases do (CASME II ``CASME2_RAW_selected/subNN/<clip>/imgN.jpg`` for its 255 rows, SAMM
  ``SAMM/<subject>/<clip>/<subject>_NNNNN.jpg`` for its 159 rows, CAS(ME)^2 ``rawpic/sNN/NN_<code><name>/imgN.jpg``
  long videos for the rest; CASMEMG annotation only);
- ``emg``: an 8-channel 1 kHz recording (noise bursts on a drifting baseline);
- ``casme2_shadow``: a ``mebench synth --dataset casme2`` shadow and its corpus, made once and kept (reused by
  later runs: the full scale takes a minute or two);
- ``CpuExtractor`` / ``extract_batch``: a CPU-bound feature extractor and the runner-like task that fills the
  feature cache with it (the Dask benchmark).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
ANNOTATIONS = REPO.parent / "shared" / "annotations"
ANNOTATION_FILES = {
    "casme2": "casme2/CASME2-coding-20140508.xlsx",
    "samm": "samm/SAMM_Micro_FACS_Codes_v2.xlsx",
    "casme-sq": "casme-sq/code_final.xlsx",
    "casmemg": "casmemg/380_sort.xlsx",
}


# ------------------------------------------------------------------------------------------------- long video


@dataclass
class LongVideo:
    """A rendered long video: numbered frame files, its events (frame indices) and their AUs."""

    folder: Path
    items: list[tuple[int, str]]  # (frame number, path), numbers from 1
    fps: float
    size: tuple[int, int]
    events: list[tuple[int, int, int]]  # (onset, apex, offset) positions (0-based)
    event_aus: list[frozenset[int]]


# expression patterns: AUs with amplitudes (eye-region and mouth-region AUs, as the AU-prototype baseline uses)
_PATTERNS = (
    [(4, None, 1.0)],
    [(12, None, 1.0)],
    [(1, None, 0.9), (2, None, 0.9)],
    [(4, None, 0.8), (7, None, 0.8)],
    [(14, None, 1.0)],
    [(15, None, 0.9), (17, None, 0.9)],
)


def long_video(folder: Path, n_frames: int, fps: float = 30.0, seed: int = 0, size: tuple[int, int] = (640, 480),
               iod: float = 80.0) -> LongVideo:
    """Render (or reuse, when `folder` already holds them) `n_frames` JPEG frames of one face at `size`.

    ``iod`` = 80 px puts the outer eye corners ~104 px apart: the eye region of seed 002 (1.4 x that) spans about
    145 x 125 source pixels, as a CASME II / CAS(ME)^2-sized face in a 640 x 480 frame."""
    from mebench.synth import render, rng

    gen = rng(seed, "bench", "video", n_frames)
    events, event_aus, jobs_events = [], [], []
    t = int(1.0 * fps)
    k = 0
    while True:
        micro = k % 3 == 1
        total = int(round((0.35 if micro else 1.2) * fps))
        rise = max(1, int(round(total * 0.4)))
        if t + total + int(fps) >= n_frames:
            break
        pattern = _PATTERNS[k % len(_PATTERNS)]
        scale = 0.6 if micro else 1.0
        aus = [(au, side, amp * scale) for au, side, amp in pattern]
        events.append((t, t + rise, t + total))
        event_aus.append(frozenset(au for au, _, _ in pattern))
        jobs_events.append((aus, t, t + rise, t + total))
        t += total + int(gen.uniform(2.0, 4.0) * fps)
        k += 1
    blinks = []
    for start in range(int(2.5 * fps), n_frames - 10, int(5.3 * fps)):
        blinks.append((start, start + 3, start + 7))
    folder = Path(folder)
    items = [(i + 1, str(folder / f"img{i + 1}.jpg")) for i in range(n_frames)]
    marker = folder / ".complete"
    if not marker.is_file():
        if folder.exists():
            shutil.rmtree(folder)
        job = render.Job(face=(seed, "bench", "s01", size[0], size[1], float(iod), False), folder=str(folder),
                         pattern="img{n}.jpg", first=1, n_frames=n_frames, events=jobs_events, blinks=blinks,
                         drift_px=1.2, fps=fps, noise_sigma=1.8, seed_keys=("bench", n_frames))
        render.run_jobs([job], workers=1)
        marker.write_text("ok\n")
    return LongVideo(folder, items, fps, size, events, event_aus)


def fit_spotter(video: LongVideo, flow_scale: float | None = None, threads: int | None = None, **kwargs: Any):
    """An ``AUPrototypeSpotter`` fitted on the video's own expressions (onset -> apex flows on dlib landmarks), as
    ``fit`` does on a training fold; prototypes need at least one interval per AU (``min_samples=1``); flow_scale
    None: the spotter's default."""
    from mebench.baselines.face import detect_landmarks
    from mebench.baselines.flow import PathFrames, RoiConfig, pair_flows
    from mebench.baselines.spotting_au_prototype import AUPrototypeSpotter

    source = PathFrames(video.items)
    config = RoiConfig(flow_scale=AUPrototypeSpotter().config.flow_scale if flow_scale is None else flow_scale)
    eye, mouth = [], []
    for onset, apex, _ in video.events:
        first = source.get(onset)
        landmarks = detect_landmarks(first)
        fe, fm = pair_flows(first, source.get(apex), landmarks, config)
        eye.append(fe)
        mouth.append(fm)
    spotter = AUPrototypeSpotter(aus="paper", min_samples=1, threads=threads, config=config, **kwargs)
    spotter.fit_flows(np.stack(eye), np.stack(mouth), video.event_aus)
    return spotter


# ------------------------------------------------------------------------------------------------ spotting metrics


def intervals(n_gt: int, n_pred: int, n_videos: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(gt, pred) for ``mebench.metrics.spotting``: `n_gt` GT intervals spread over `n_videos` videos (~100 per
    video of ~2 h at 30 fps, 5-60 frames long, typed micro below 15 frames), and `n_pred` predictions: 70 % near a
    GT (onset/offset jittered by up to +-6 frames; several per GT, so duplicates occur), 30 % false alarms anywhere;
    scores uniform, types by duration."""
    gen = np.random.default_rng(seed)
    per_video = max(1, n_gt // n_videos)
    videos = np.repeat(np.arange(n_videos), per_video)[:n_gt]
    n_gt = len(videos)
    span = 216_000
    onsets = np.concatenate([np.sort(gen.choice(span, per_video, replace=False)) for _ in range(n_videos)])[:n_gt]
    lengths = gen.integers(5, 60, n_gt)
    names = np.array([f"video{v:05d}" for v in range(n_videos)], dtype=object)
    gt = pd.DataFrame({"video_id": names[videos], "onset": onsets, "offset": onsets + lengths,
                       "expression_type": np.where(lengths < 15, "micro", "macro").astype(object)})
    near = int(n_pred * 0.7)
    src = gen.integers(0, n_gt, near)
    jitter = gen.integers(-6, 7, (near, 2))
    p_on = np.maximum(onsets[src] + jitter[:, 0], 0)
    p_off = np.maximum(onsets[src] + lengths[src] + jitter[:, 1], p_on)
    far = n_pred - near
    f_vid = gen.integers(0, n_videos, far)
    f_on = gen.integers(0, span, far)
    f_off = f_on + gen.integers(3, 90, far)
    pred_videos = np.concatenate([videos[src], f_vid])
    on = np.concatenate([p_on, f_on])
    off = np.concatenate([p_off, f_off])
    order = gen.permutation(n_pred)
    pred = pd.DataFrame({"video_id": names[pred_videos[order]], "onset": on[order], "offset": off[order],
                         "score": gen.random(n_pred),
                         "expression_type": np.where(off[order] - on[order] < 15, "micro", "macro").astype(object)})
    return gt, pred


# ----------------------------------------------------------------------------------------------- recognition


CLASSES = ("happiness", "disgust", "surprise", "repression", "others")


def labels(n: int, seed: int = 0, accuracy: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred): `n` labels of 5 classes as object arrays of str (what ``mebench.results`` passes:
    ``rows["label"].astype(object).to_numpy()``), predictions right with probability ~`accuracy`."""
    gen = np.random.default_rng(seed)
    classes = np.array(CLASSES, dtype=object)
    truth = gen.choice(len(classes), n, p=[0.15, 0.25, 0.1, 0.1, 0.4])
    wrong = gen.random(n) > accuracy
    pred = np.where(wrong, gen.integers(0, len(classes), n), truth)
    return (pd.Series(classes[truth]).astype(object).to_numpy(),
            pd.Series(classes[pred]).astype(object).to_numpy())


# ---------------------------------------------------------------------------------------------- corpus build


def _touch_many(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.close(os.open(folder / name, os.O_CREAT | os.O_WRONLY, 0o644))


def dataset_roots(base: Path, total_frames: int = 250_000) -> tuple[dict[str, Path], int]:
    """Dataset roots under `base` for the four annotation files, with `total_frames` empty frame files in the
    releases' layouts (made once: reused when ``base/.complete`` says the same size). Returns ({loader: root},
    number of frame files)."""
    from mebench.loaders import get_loader

    base = Path(base)
    marker = base / ".complete"
    roots = {name: base / name for name in ANNOTATION_FILES}
    if marker.is_file() and marker.read_text().strip() == str(total_frames):
        return roots, total_frames
    if base.exists():
        shutil.rmtree(base)
    for name, relative in ANNOTATION_FILES.items():
        roots[name].mkdir(parents=True)
        shutil.copy2(ANNOTATIONS / relative, roots[name] / Path(relative).name)

    plans: list[tuple[Path, list[str]]] = []
    # CASME II: one folder per row, the frames from (onset - 20) to (offset + 20) as the raw selection has them
    loader = get_loader("casme2", {})
    for row in loader.load(roots["casme2"]).samples:
        first = max(1, int(row["onset"] or 1) - 20)
        last = int(row["offset"] or row["onset"] or first) + 20
        folder = roots["casme2"] / "CASME2_RAW_selected" / f"sub{row['subject_raw']}" / row["clip"]
        plans.append((folder, [f"img{n}.jpg" for n in range(first, last + 1)]))
    # SAMM: one folder per row, onset - 20 .. offset + 20
    loader = get_loader("samm", {})
    for row in loader.load(roots["samm"]).samples:
        onset = int(row["onset"] or 1)
        offset = int(row["offset"] or onset)
        first, last = max(1, onset - 20), max(onset, offset) + 20
        folder = roots["samm"] / "SAMM" / row["subject_raw"] / row["clip"]
        plans.append((folder, [f"{row['subject_raw']}_{n:05d}.jpg" for n in range(first, min(last, first + 400) + 1)]))
    used = sum(len(names) for _, names in plans)
    # CAS(ME)^2: one long video per (participant, video), the rest of the frames spread over them by length
    from mebench.synth.casme_sq import VIDEOS

    loader = get_loader("casme-sq", {})
    raws, _, _ = loader.read_records(roots["casme-sq"] / "code_final.xlsx")
    videos: dict[tuple[str, str, str], int] = {}
    for raw in raws:
        subject = str(raw.fields.get("subject_raw"))
        keys = raw.media_keys
        key = (subject, str(keys.get("subject_number")), str(keys.get("video_code")))
        end = max(int(v) for v in (raw.fields.get(f) for f in ("onset", "apex", "offset"))
                  if v not in (None, "") and str(v).strip().lstrip("-").isdigit()) if raw.fields else 0
        videos[key] = max(videos.get(key, 0), end + 60)
    left = max(0, total_frames - used)
    weights = np.array(list(videos.values()), dtype=np.float64)
    counts = np.floor(weights / weights.sum() * left).astype(int)
    counts[: left - int(counts.sum())] += 1
    for (subject, number, code), count in zip(videos, counts):
        name = VIDEOS.get(code, (None, "video"))[1]
        folder = roots["casme-sq"] / "rawpic" / subject / f"{number}_{code}{name}"
        plans.append((folder, [f"img{n}.jpg" for n in range(1, int(count) + 1)]))
    for folder, names in plans:
        _touch_many(folder, names)
    made = sum(len(names) for _, names in plans)
    marker.write_text(f"{made}\n")
    return roots, made


# ------------------------------------------------------------------------------------------------------- EMG


def emg(seconds: float, channels: int = 8, fs: float = 1000.0, seed: int = 0) -> np.ndarray:
    """(n, channels) float64 raw EMG: white noise with muscle bursts (20-450 Hz content) on a slow baseline."""
    gen = np.random.default_rng(seed)
    n = int(round(seconds * fs))
    t = np.arange(n) / fs
    x = gen.normal(0.0, 5.0, (n, channels))
    x += 40.0 * np.sin(2 * np.pi * 0.2 * t)[:, None]
    for _ in range(max(1, int(seconds / 3))):
        start = int(gen.integers(0, max(1, n - 800)))
        x[start:start + 800, int(gen.integers(0, channels))] += gen.normal(0.0, 60.0, min(800, n - start))
    return x


# ------------------------------------------------------------------------------------------- CASME II shadow


def casme2_shadow(base: Path, scale: str, seed: int = 0) -> Path:
    """A ``mebench synth --dataset casme2`` shadow at `scale` and its corpus under `base`, made once: a later call
    with the same base, scale and seed reuses them (``base/casme2-<scale>-<seed>/corpus``). Returns the corpus
    folder."""
    from mebench.corpus import Source, build_corpus
    from mebench.synth import synthesize

    folder = Path(base) / f"casme2-{scale}-{seed}"
    corpus = folder / "corpus"
    marker = folder / ".complete"
    if marker.is_file() and (corpus / "corpus.json").is_file():
        return corpus
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    synthesize(folder / "synth", scale, seed, datasets=["casme2"])
    build_corpus([Source("casme2", folder / "synth" / "casme2")], corpus)
    marker.write_text("ok\n")
    return corpus


# ------------------------------------------------------------------------------------------- dask workload


@dataclass
class CpuExtractor:
    """A CPU-bound feature extractor (about `work` ms per row on this machine, numpy ufuncs only, so one thread:
    no BLAS or OpenCV pool to blur a 1- vs 2-worker comparison); reads no media (``media_columns = ()``)."""

    work: int = 40
    name: str = "bench-cpu"
    version: str = "1"
    media_columns: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        return {"work": self.work}

    def __call__(self, view: Any, row: Any) -> np.ndarray:
        seed = int.from_bytes(str(row["sample_id"]).encode()[-4:].rjust(4, b"\0"), "little")
        x = np.random.default_rng(seed).random(20_000)
        acc = np.zeros(8)
        for _ in range(max(1, 4 * int(self.work))):  # ~0.25 ms each
            y = np.sin(x) * np.exp(-x) + np.sqrt(x + 1.0)
            acc += y[:8]
            x = y - np.floor(y)
        return acc


@dataclass
class ExtractBatch:
    """One task of the extraction stage: rows (sample ids) to extract through the feature cache at `cache`."""

    extractor: CpuExtractor
    rows: list[str]
    cache: str


def extract_batch(task: ExtractBatch) -> tuple[int, int]:
    """Fill the cache for a batch of rows, as ``mebench.runner`` does; (computed, read back)."""
    from mebench.cache import FeatureCache

    cache = FeatureCache(task.cache)
    try:
        for sample_id in task.rows:
            cache.get_or_compute(task.extractor, None, {"sample_id": sample_id, "dataset": "bench"})
    finally:
        cache.close()
    return cache.misses, cache.hits
