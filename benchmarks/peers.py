"""The straightforward peers of the benchmarks: what someone would write first, with no vectorisation, no reuse and
no caching. ``benchmarks/run.py`` times each on the same input as mebench (or on a stated part of it) and reports
the ratio. Each peer computes the same numbers as mebench (the benchmark checks that where the two are comparable),
so a ratio compares two ways of doing the same work.

- ``spotting_features``: for EVERY frame of a long video, dlib detect + 68 landmarks on the window's first frame,
  both frames read from disk again, the two regions cut out at the paper's full sizes (280 x 240, 260 x 160),
  Farneback flow on each, matched against the prototypes: nothing reused from one frame to the next; serial.
- ``spotting_counts``: a per-pair Python greedy matcher (mebench's rule, ``mebench.metrics.spotting``).
- ``recognition``: UF1, UAR and accuracy by a per-row Python loop over the labels.
- ``naive_build``: ``build_corpus`` with the media index done naively: every frame file of every row's media
  folder stat'ed one by one (a long video once per annotated interval, i.e. per row), globs re-run for every row.
- ``emg_envelope``: seed 001 eq. 1-4 with a per-sample direct-form II transposed IIR in pure Python (the same
  filters, padding and initial conditions as ``scipy.signal.sosfiltfilt``).
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np
import pandas as pd

# ------------------------------------------------------------------------------------------- spotting features


def spotting_features(items: Sequence[tuple[int, str]], prototypes: Any, window: int,
                      limit: int | None = None) -> np.ndarray:
    """Per-frame matching indices (frames x prototypes) of the first `limit` frames (all by default) in fixed
    windows of `window` frames, the straightforward way (module docstring). `prototypes` are at the full region
    sizes (flow_scale 1.0)."""
    from mebench.baselines.face import EYE_SIZE, MOUTH_SIZE, crop, detect_landmarks, roi_boxes
    from mebench.baselines.flow import FarnebackParams

    params = FarnebackParams().args(1.0)
    n = len(items) if limit is None else min(int(limit), len(items))
    out = np.zeros((n, len(prototypes)), dtype=np.float64)
    for i in range(n):
        start = (i // window) * window
        first = cv2.imread(items[start][1], cv2.IMREAD_GRAYSCALE)
        image = cv2.imread(items[i][1], cv2.IMREAD_GRAYSCALE)
        landmarks = detect_landmarks(first, where=f"frame {items[start][0]}")
        eye_box, mouth_box = roi_boxes(landmarks)
        eye = cv2.calcOpticalFlowFarneback(crop(first, eye_box, EYE_SIZE), crop(image, eye_box, EYE_SIZE), None,
                                           *params)
        mouth = cv2.calcOpticalFlowFarneback(crop(first, mouth_box, MOUTH_SIZE), crop(image, mouth_box, MOUTH_SIZE),
                                             None, *params)
        out[i] = prototypes.match(eye, mouth)
    return out


# -------------------------------------------------------------------------------------------- spotting metrics


def spotting_counts(gt: pd.DataFrame, pred: pd.DataFrame, k: float = 0.5) -> dict[str, int]:
    """TP / FP / FN (overall) of mebench's greedy one-to-one rule, pair by pair in Python: predictions by
    descending score (ties: earlier onset, then row order) each take the unmatched GT of the same video and type
    with the highest IoU >= k (ties: earlier GT onset, then GT row order). Every row must have expression_type."""
    groups: dict[tuple[Any, str], list[tuple[int, int, int]]] = {}
    for row, (video, onset, offset, kind) in enumerate(zip(gt["video_id"], gt["onset"], gt["offset"],
                                                          gt["expression_type"])):
        groups.setdefault((video, str(kind).lower()), []).append((int(onset), int(offset), row))
    preds = list(zip(pred["score"].tolist(), pred["onset"].tolist(), range(len(pred)), pred["video_id"].tolist(),
                     pred["offset"].tolist(), [str(t).lower() for t in pred["expression_type"]]))
    preds.sort(key=lambda p: (-p[0], p[1], p[2]))
    taken: set[int] = set()
    tp = 0
    for _, onset, _, video, offset, kind in preds:
        best, best_key = None, None
        for g_on, g_off, g_row in groups.get((video, kind), ()):
            if g_row in taken:
                continue
            inter = min(offset, g_off) - max(onset, g_on) + 1
            if inter <= 0:
                continue
            union = (offset - onset + 1) + (g_off - g_on + 1) - inter
            iou = inter / union
            if iou < k:
                continue
            key = (-iou, g_on, g_row)
            if best_key is None or key < best_key:
                best, best_key = g_row, key
        if best is not None:
            taken.add(best)
            tp += 1
    return {"tp": tp, "fp": len(pred) - tp, "fn": len(gt) - tp}


# ----------------------------------------------------------------------------------------------- recognition


def recognition(y_true: Sequence[Any], y_pred: Sequence[Any]) -> tuple[float, float, float]:
    """(UF1, UAR, accuracy) by one Python loop over the rows (classes: the values seen; a class with no samples
    and no predictions cannot occur that way; UAR over classes with samples)."""
    tp: dict[Any, int] = {}
    support: dict[Any, int] = {}
    predicted: dict[Any, int] = {}
    correct = 0
    n = 0
    for t, p in zip(y_true, y_pred):
        n += 1
        support[t] = support.get(t, 0) + 1
        predicted[p] = predicted.get(p, 0) + 1
        if t == p:
            correct += 1
            tp[t] = tp.get(t, 0) + 1
    classes = set(support) | set(predicted)
    f1 = [2 * tp.get(c, 0) / (support.get(c, 0) + predicted.get(c, 0)) for c in classes]
    recall = [tp.get(c, 0) / support[c] for c in classes if support.get(c, 0)]
    return sum(f1) / len(f1), sum(recall) / len(recall), correct / n


# ---------------------------------------------------------------------------------------------- corpus build


def _stat_every_file(folder: str | os.PathLike[str]) -> int:
    """Count the image frames of a folder by stat'ing every file (the naive media index)."""
    count = 0
    for path in Path(folder).iterdir():
        if path.is_file() and path.suffix.lower() in (".jpg", ".png", ".bmp"):
            path.stat()
            count += 1
    return count


@contextmanager
def _naive_media() -> Iterator[None]:
    """Inside: loaders resolve globs anew for every row and stat every frame file of every row's media folder."""
    import mebench.loaders.base as base

    original_find, original_count, original_load = base.DatasetLoader.find_media, base.count_files, \
        base.DatasetLoader.load

    def find_media(self: Any, root: Path, relative: str, kind: str) -> list[Path]:
        if not base.GLOB_CHARS.search(relative):
            candidate = root / relative
            return [candidate] if (candidate.is_dir() if kind == "dir" else candidate.is_file()) else []
        wanted = Path.is_dir if kind == "dir" else Path.is_file
        return [p for p in sorted(root.glob(relative)) if wanted(p)]

    def load(self: Any, path: Path) -> Any:
        result = original_load(self, path)
        indexed = 0
        for row in result.samples:  # the media index: every frame of every row's folder
            if row.get("frames_dir"):
                indexed += _stat_every_file(row["frames_dir"])
        self.frames_indexed = indexed
        return result

    base.DatasetLoader.find_media = find_media  # type: ignore[method-assign]
    base.count_files = lambda folder, suffixes=(".jpg", ".png", ".bmp"): _stat_every_file(folder)
    base.DatasetLoader.load = load  # type: ignore[method-assign]
    try:
        yield
    finally:
        base.DatasetLoader.find_media = original_find  # type: ignore[method-assign]
        base.count_files = original_count
        base.DatasetLoader.load = original_load  # type: ignore[method-assign]


def naive_build(sources: Sequence[Any], out: Path) -> Any:
    """``mebench.corpus.build_corpus`` with the naive media index (module docstring)."""
    from mebench.corpus import build_corpus

    with _naive_media():
        return build_corpus(list(sources), out)


# ------------------------------------------------------------------------------------------------------- EMG


def _sosfilt(sos: np.ndarray, x: list[float], zi: np.ndarray, x0: float) -> list[float]:
    """scipy's sosfilt, direct-form II transposed, sample by sample, with initial state zi * x0."""
    out = list(x)
    for s in range(len(sos)):
        b0, b1, b2, _, a1, a2 = (float(v) for v in sos[s])
        z0, z1 = float(zi[s, 0]) * x0, float(zi[s, 1]) * x0
        for i, value in enumerate(out):
            y = b0 * value + z0
            z0 = b1 * value - a1 * y + z1
            z1 = b2 * value - a2 * y
            out[i] = y
    return out  # every section's state starts from the same input sample x0 (as scipy's sosfiltfilt)


def _filtfilt(sos: np.ndarray, x: list[float], edge: int) -> list[float]:
    """scipy.signal.sosfiltfilt (padtype 'odd', padlen `edge`) in pure Python."""
    from scipy import signal

    zi = signal.sosfilt_zi(sos)
    n = len(x)
    head = [2 * x[0] - x[i] for i in range(edge, 0, -1)]
    tail = [2 * x[-1] - x[n - 2 - i] for i in range(edge)]
    ext = head + list(x) + tail
    forward = _sosfilt(sos, ext, zi, ext[0])
    backward = _sosfilt(sos, forward[::-1], zi, forward[-1])
    backward.reverse()
    return backward[edge:edge + n]


def emg_envelope(signal_: np.ndarray, fs: float = 1000.0) -> np.ndarray:
    """Seed 001 eq. 1-4 per channel in pure Python: DC removal, 20-450 Hz band-pass (zero-phase), rectification,
    6 Hz low-pass (zero-phase). Same result as ``mebench.baselines.emg.preprocess`` to rounding."""
    from mebench.baselines.emg import filters
    from mebench.baselines.zero_phase import padlen

    band, low = filters(fs)
    e1, e2 = padlen(band), padlen(low)
    x = np.asarray(signal_, dtype=np.float64)
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        column = x[:, c].tolist()
        mean = math.fsum(column) / len(column)
        centred = [v - mean for v in column]
        banded = _filtfilt(band, centred, e1)
        rectified = [abs(v) for v in banded]
        out[:, c] = _filtfilt(low, rectified, e2)
    return out
