"""MDMD spotting: Main Directional Maximal Difference (Wang et al., Neurocomputing 2017), the MEGC 2020 spotting
baseline (He, Wang, Li, Yap, 'Spotting macro- and micro-expression intervals in long video sequences', FG 2020),
re-implemented as the ``mdmd`` baseline on the eye and mouth regions of ``mebench.baselines.flow``.

Per frame i of a video and a half-interval k (frames):

1. Flow (Farneback, on the two regions only, landmarks once per 7 s chunk, regions cut with the boxes of the chunk's
   first frame): A = Flow(F_{i-k}, F_i) and B = Flow(F_{i-k}, F_{i+k}).
2. Each region is divided into a ``grid`` of blocks (6 x 6, as the original's 6 x 6 face blocks). In a block, the
   flow direction of A at every pixel falls in one of four quadrants (atan2 of the flow; the original's
   atan(u./v) could only ever give two of them); the main direction is the quadrant with the most pixels. For those
   pixels the difference d = |A| - |B| (the magnitude gained at i and lost again by i+k), sorted, and the block's
   value is the mean of its largest third.
3. f(i) = mean of the largest third of the block values (all blocks of both regions).
4. Contrast (MEGC baseline code): C(i) = f(i) - (f(i - k + 1) + f(i + k - 1)) / 2.
5. Threshold (per video): T = mean(C) + p x (max(C) - mean(C)), p in (0, 1); the frames with C(i) > T are spotted.
6. Intervals from the spotted frames, by one of two rules (``intervals``):

   - ``"curve"`` (default, ``curve_intervals``): each run of consecutive spotted frames is one candidate. It is
     widened on each side for as long as the contrast keeps falling (to the nearest local minimum of C, at most k
     frames beyond the run; a missing C stops it), i.e. to where the contrast has fallen back from the peak.
     Overlapping candidates are merged, and those shorter than ``min_s`` (0.2 s; offset - onset) are dropped.
     This is done on the curve of each k (micro and macro, each with its own p); the intervals of both curves are
     pooled, overlapping ones merged into one, and each interval is typed by its duration: (offset - onset) / fps
     < ``micro_max_s`` (0.5 s) -> micro, else macro (the protocols' duration rule, as the ``au-prototype``
     baseline). Score: the largest C inside the run / the largest C of the video (the larger of merged ones).
   - ``"megc"`` (the literal MEGC 2020 post-processing, ``frames_to_intervals``): each spotted frame i gives the
     interval [i - k, i + k], overlapping intervals are merged, and every interval of the curve of k_micro is typed
     micro, of k_macro macro. Score as above.

   Why the default differs from MEGC 2020: an interval [i - k, i + k] is 2k + 1 frames long whatever the expression
   (25 frames at 30 fps for every micro-expression, which spans fewer than 16 frames: IoU < 0.5 for one of fewer
   than 13 frames even when centred on it), and merging the intervals of neighbouring spotted frames makes it
   longer still (a macro-expression's length is not 2k + 1 either); so at IoU >= 0.5 the literal rule
   finds almost nothing (shadow CAS(ME)^2, ``casme-sq-spotting``: overall F1 0.056, micro 0). The contrast itself
   rises and falls with the expression, so its run above T, widened to where C stops falling, follows the
   expression's own extent (same corpus and folds: overall F1 0.50, micro 0.37, macro 0.60; the rule was designed on
   that corpus, and on a second one, ``mebench synth --seed 1``, it gives 0.43 where the MEGC rule gives 0.086).
   ``min_s`` removes the spikes of a few frames that blinks and single-frame glitches leave in C (0.2 s is a
   design choice measured on the shadow corpus only; ``min_s=0`` keeps every interval: overall F1 0.41 there).
   Typing by duration instead of by curve matters because both curves respond to every expression: the curve of
   k_micro sees macro-expressions too (as intervals that the duration rule types macro). p is still chosen per
   curve, as in MEGC 2020; k is not chosen (the features are computed, and cached, for the two k only).

k = 0.4 s for micro-expressions and 1.3 s for macro-expressions (the baseline's 12 / 39 frames at 30 fps, 80 / 260
at 200 fps).

Cost: four flows per frame (two per k), so the flow is computed at ``flow_scale`` = 0.25 of the normalised regions
(70 x 60 and 65 x 40 pixels; ``mebench.baselines.flow``): the block statistics average magnitudes over blocks of
about 11 x 10 pixels, which that resolution still resolves.

p (one per curve) is chosen on the TRAIN fold only: the value of 0.01..0.99 that maximises the F1 (IoU >= 0.5,
``mebench.metrics.spotting``) of its type over the training videos (ties: the larger p), scored on that curve's own
intervals (``"curve"``: typed by duration; ``"megc"``: all typed as the curve). Where no p finds a single training
expression of a type (F1 = 0 throughout), that curve is not used at all: any interval would be a false positive.
The features f are a pure function of a video (no labels), so they are cached per video (``MDMDFeatures``; the
harness extracts them before the folds, ``extractors``) and reused by every fold; choosing p is then cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from mebench.baselines.face import DlibLandmarker, Landmarker
from mebench.baselines.flow import (FaceTracker, FarnebackParams, FrameSource, RoiConfig, farneback, frame_source,
                                    map_positions, thread_pool, window_rois)
from mebench.errors import InputError

__all__ = [
    "INTERVAL_RULES", "K_MACRO_S", "K_MICRO_S", "MDMDFeatures", "MDMDSpotter", "MICRO_MAX_S", "MIN_S",
    "block_values", "choose_p", "contrast", "curve_intervals", "frames_to_intervals", "mdmd_value",
    "mdmd_video_features", "merge_intervals", "spot_contrast", "spot_video", "top_third_mean", "valley_bounds",
]

K_MICRO_S = 0.4
K_MACRO_S = 1.3
MIN_S = 0.2  # "curve" rule: shorter intervals are dropped
MICRO_MAX_S = 0.5  # "curve" rule: shorter intervals are micro
TYPES = ("micro", "macro")
INTERVAL_RULES = ("curve", "megc")
P_GRID = tuple(round(0.01 * i, 2) for i in range(1, 100))


# ---------------------------------------------------------------------------------------------- per-frame value


def _third(count: np.ndarray | int) -> np.ndarray:
    """MATLAB's round(n / 3) (halves away from zero), at least 1."""
    return np.maximum(1, np.floor(np.asarray(count) / 3.0 + 0.5).astype(np.int64))


def top_third_mean(values: Sequence[float]) -> float:
    """Mean of the largest round(n/3) (at least 1) values."""
    v = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    if len(v) == 0:
        return float("nan")
    return float(v[: int(_third(len(v)))].mean())


def block_values(flow_a: np.ndarray, flow_b: np.ndarray, grid: tuple[int, int] = (6, 6)) -> np.ndarray:
    """Step 2 for one region: (rows x cols,) block values from flows A (reference -> current) and B (reference ->
    current + k), both (h, w, 2). Blocks are floor(h / rows) x floor(w / cols) pixels (the rest is ignored)."""
    a = np.asarray(flow_a, dtype=np.float32)
    b = np.asarray(flow_b, dtype=np.float32)
    rows, cols = int(grid[0]), int(grid[1])
    bh, bw = a.shape[0] // rows, a.shape[1] // cols
    if bh < 1 or bw < 1:
        raise ValueError(f"region {a.shape[:2]} too small for a {rows}x{cols} grid")

    def blocks(f: np.ndarray) -> np.ndarray:
        f = f[: rows * bh, : cols * bw]
        return f.reshape(rows, bh, cols, bw, 2).transpose(0, 2, 1, 3, 4).reshape(rows * cols, bh * bw, 2)

    ab, bb = blocks(a), blocks(b)
    angle = np.arctan2(ab[..., 1], ab[..., 0])  # (-pi, pi]
    quadrant = np.floor(np.mod(angle, 2 * np.pi) / (np.pi / 2)).astype(np.int64).clip(0, 3)
    counts = np.stack([(quadrant == q).sum(axis=1) for q in range(4)], axis=1)  # (B, 4)
    main = counts.argmax(axis=1)
    in_main = quadrant == main[:, None]
    diff = np.hypot(ab[..., 0], ab[..., 1]) - np.hypot(bb[..., 0], bb[..., 1])
    ranked = np.sort(np.where(in_main, diff, -np.inf), axis=1)[:, ::-1]
    take = _third(counts[np.arange(len(main)), main])
    sums = np.cumsum(np.where(np.isfinite(ranked), ranked, 0.0), axis=1, dtype=np.float64)
    return sums[np.arange(len(main)), take - 1] / take


def mdmd_value(eye_a: np.ndarray, eye_b: np.ndarray, mouth_a: np.ndarray, mouth_b: np.ndarray,
               grid: tuple[int, int] = (6, 6)) -> float:
    """Steps 2-3: f(i) from the flows of both regions."""
    values = np.concatenate([block_values(eye_a, eye_b, grid), block_values(mouth_a, mouth_b, grid)])
    return top_third_mean(values)


# ------------------------------------------------------------------------------------------------ video features


def mdmd_video_features(source: FrameSource, fps: float, landmarker: Landmarker, config: RoiConfig,
                        k_micro_s: float = K_MICRO_S, k_macro_s: float = K_MACRO_S, chunk_s: float = 7.0,
                        grid: tuple[int, int] = (6, 6), threads: int | None = None,
                        where: str = "video") -> dict[str, np.ndarray]:
    """f(i) for k_micro and k_macro over a whole video: {'micro': (n,), 'macro': (n,), 'numbers': (n,),
    'k': [k_micro, k_macro]}; NaN where i - k or i + k falls outside the video."""
    n = len(source)
    ks = {"micro": max(1, int(round(k_micro_s * fps))), "macro": max(1, int(round(k_macro_s * fps)))}
    out = {t: np.full(n, np.nan) for t in TYPES}
    chunk = max(1, int(round(chunk_s * fps)))
    kmax = max(ks.values())
    s = float(config.flow_scale)
    faces = FaceTracker(source, landmarker, where)
    with thread_pool(threads) as pool:
        for cs in range(0, n, chunk):
            ce = min(cs + chunk, n)
            jobs = [(t, i) for t in TYPES for i in range(cs, ce) if i - ks[t] >= 0 and i + ks[t] < n]
            if not jobs:
                continue
            landmarks = faces.at(cs, ce)
            if landmarks is None:
                continue
            rois = window_rois(source.get(cs), landmarks, config)
            lo, hi = max(0, cs - kmax), min(n, ce + kmax)
            source.keep(lo, hi)
            source.prefetch(range(lo, hi), pool)
            cuts = dict(zip(range(lo, hi), map_positions(pool, lambda p: rois.cut(source.get(p), config),
                                                          range(lo, hi))))

            def one(job: tuple[str, int]) -> float:
                t, i = job
                k = ks[t]
                (e0, m0), (e1, m1), (e2, m2) = cuts[i - k], cuts[i], cuts[i + k]
                fb = config.farneback
                ea, eb = farneback(e0, e1, fb, s), farneback(e0, e2, fb, s)
                ma, mb = farneback(m0, m1, fb, s), farneback(m0, m2, fb, s)
                return mdmd_value(ea / s, eb / s, ma / s, mb / s, grid)

            for (t, i), value in zip(jobs, map_positions(pool, one, jobs)):
                out[t][i] = value
    faces.finish()
    source.keep(0, 0)
    return {"micro": out["micro"], "macro": out["macro"], "numbers": np.asarray(source.numbers, dtype=np.int64),
            "k": np.array([ks["micro"], ks["macro"]], dtype=np.int64)}


@dataclass
class MDMDFeatures:
    """Extractor (``mebench.cache``): a long video's f(i) for both k (``mdmd_video_features``)."""

    config: RoiConfig = field(default_factory=RoiConfig)
    k_micro_s: float = K_MICRO_S
    k_macro_s: float = K_MACRO_S
    chunk_s: float = 7.0
    grid: tuple[int, int] = (6, 6)
    landmarker: Any = None
    threads: int | None = None
    name: str = "mdmd-features"
    version: str = "1"

    @property
    def params(self) -> dict[str, Any]:
        return {"roi": self.config.params(), "k_micro_s": self.k_micro_s, "k_macro_s": self.k_macro_s,
                "chunk_s": self.chunk_s, "grid": list(self.grid),
                "landmarker": getattr(self._landmarker(), "name", "custom")}

    def _landmarker(self) -> Landmarker:
        if self.landmarker is None:
            self.landmarker = DlibLandmarker()
        return self.landmarker

    def __call__(self, view: Any, row: Any) -> dict[str, np.ndarray]:
        fps = float(row["fps"]) if row.get("fps") is not None else 0.0
        if not fps > 0:
            raise InputError(f"{row.get('video_id')}: the video has no fps")
        source = frame_source(view, row)
        return mdmd_video_features(source, fps, self._landmarker(), self.config, self.k_micro_s, self.k_macro_s,
                                   self.chunk_s, self.grid, self.threads, where=f"video {row.get('video_id')}")


# ------------------------------------------------------------------------------------------------ spotting


def contrast(f: Sequence[float], k: int) -> np.ndarray:
    """Step 4: C(i) = f(i) - (f(i - k + 1) + f(i + k - 1)) / 2 (NaN where a term is missing; k = 1 -> C = 0)."""
    x = np.asarray(f, dtype=np.float64)
    m = max(0, int(k) - 1)
    n = len(x)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    if m == 0:
        return x - x
    if n > 2 * m:
        out[m:n - m] = x[m:n - m] - (x[: n - 2 * m] + x[2 * m:]) / 2.0
    return out


def frames_to_intervals(mask: Sequence[bool], k: int, n: int | None = None) -> list[tuple[int, int]]:
    """Step 5: each spotted frame i -> [i - k, i + k] (clipped to the video), overlapping intervals merged."""
    mask = np.asarray(mask, dtype=bool)
    n = len(mask) if n is None else int(n)
    out: list[list[int]] = []
    for i in np.flatnonzero(mask):
        a, b = max(0, int(i) - k), min(n - 1, int(i) + k)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _threshold(x: np.ndarray, p: float) -> tuple[float, float] | None:
    """(T, max C) of step 5, or None when nothing can be spotted (no finite C, or a flat curve)."""
    if len(x) == 0 or not np.isfinite(x).any():
        return None
    mean, top = float(np.nanmean(x)), float(np.nanmax(x))
    if top <= mean:
        return None
    return mean + float(p) * (top - mean), top


def spot_contrast(c: Sequence[float], p: float, k: int) -> list[tuple[int, int, float]]:
    """Step 5-6 with the MEGC 2020 rule on one video: (start, end, score) in positions; score = max C of the spotted
    frames inside / max C of the video."""
    x = np.asarray(c, dtype=np.float64)
    level = _threshold(x, p)
    if level is None:
        return []
    t, top = level
    mask = np.nan_to_num(x, nan=-np.inf) > t
    out = []
    for a, b in frames_to_intervals(mask, k, len(x)):
        inside = x[a:b + 1][mask[a:b + 1]]
        out.append((a, b, float(inside.max() / top) if top > 0 else 0.0))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) position of every run of True."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def valley_bounds(curve: Sequence[float], start: int, end: int, limit: int) -> tuple[int, int]:
    """[start, end] widened on each side while the curve keeps falling (strictly) away from it: to the nearest local
    minimum, at most `limit` positions beyond the run; a NaN (or the video's end) stops the widening."""
    x = np.asarray(curve, dtype=np.float64)
    limit = max(0, int(limit))
    lo, hi = int(start), int(end)
    while lo > 0 and start - lo < limit and np.isfinite(x[lo - 1]) and x[lo - 1] < x[lo]:
        lo -= 1
    while hi < len(x) - 1 and hi - end < limit and np.isfinite(x[hi + 1]) and x[hi + 1] < x[hi]:
        hi += 1
    return lo, hi


def merge_intervals(spots: Sequence[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Intervals that share a frame merged into one (the union; the larger score), sorted by start."""
    out: list[list[Any]] = []
    for a, b, score in sorted((int(a), int(b), float(sc)) for a, b, sc in spots):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
            out[-1][2] = max(out[-1][2], score)
        else:
            out.append([a, b, score])
    return [(a, b, sc) for a, b, sc in out]


def curve_intervals(c: Sequence[float], p: float, k: int, min_len: float = 0) -> list[tuple[int, int, float]]:
    """Step 5-6 with the ``"curve"`` rule on one curve: each run of frames with C > T widened to where C stops
    falling (``valley_bounds``, at most k beyond the run), overlapping ones merged, those with end - start <
    `min_len` (positions) dropped. (start, end, score) in positions; score = max C of the run / max C of the
    video."""
    x = np.asarray(c, dtype=np.float64)
    level = _threshold(x, p)
    if level is None:
        return []
    t, top = level
    spots = []
    for a, b in _runs(np.nan_to_num(x, nan=-np.inf) > t):
        lo, hi = valley_bounds(x, a, b, k)
        spots.append((lo, hi, float(x[a:b + 1].max() / top) if top > 0 else 0.0))
    return [s for s in merge_intervals(spots) if s[1] - s[0] >= min_len]


def _kind(duration: float, fps: float, micro_max_s: float) -> str:
    return "micro" if duration / float(fps) < micro_max_s else "macro"


def _curve_spots(f: Mapping[str, np.ndarray], kind: str, p: float, intervals: str, min_s: float,
                 fps: float) -> list[tuple[int, int, float]]:
    k = int(f["k"][TYPES.index(kind)])
    c = contrast(f[kind], k)
    if intervals == "megc":
        return spot_contrast(c, p, k)
    return curve_intervals(c, p, k, float(min_s) * float(fps))


def spot_video(f: Mapping[str, np.ndarray], p: Mapping[str, float | None], fps: float, intervals: str = "curve",
               min_s: float = MIN_S, micro_max_s: float = MICRO_MAX_S) -> list[tuple[int, int, float, str]]:
    """Steps 4-6 on one video's features (``mdmd_video_features``) with a p per curve (None: that curve unused):
    (start, end, score, type) in positions. ``"curve"``: both curves' intervals pooled, overlapping ones merged,
    typed by duration (frame numbers); ``"megc"``: each curve's intervals typed as the curve."""
    if intervals not in INTERVAL_RULES:
        raise ValueError(f"intervals must be one of {INTERVAL_RULES}, not {intervals!r}")
    numbers = np.asarray(f["numbers"])
    out: list[tuple[int, int, float, str]] = []
    pooled: list[tuple[int, int, float]] = []
    for kind in TYPES:
        if p.get(kind) is None:
            continue
        spots = _curve_spots(f, kind, float(p[kind]), intervals, min_s, fps)  # type: ignore[arg-type]
        if intervals == "megc":
            out.extend((a, b, sc, kind) for a, b, sc in spots)
        else:
            pooled.extend(spots)
    if intervals == "curve":
        out = [(a, b, sc, _kind(numbers[b] - numbers[a], fps, micro_max_s)) for a, b, sc in merge_intervals(pooled)]
    return sorted(out, key=lambda s: (s[0], s[1]))


def _table(video_id: Any, numbers: np.ndarray, spots: Sequence[tuple[int, int, float, str]]) -> pd.DataFrame:
    return pd.DataFrame({"video_id": [video_id] * len(spots),
                         "onset": np.array([numbers[s[0]] for s in spots], dtype=np.int64),
                         "offset": np.array([numbers[s[1]] for s in spots], dtype=np.int64),
                         "score": np.array([s[2] for s in spots], dtype=np.float64),
                         "expression_type": [s[3] for s in spots]})


def choose_p(contrasts: Mapping[Any, np.ndarray], numbers: Mapping[Any, np.ndarray], gt: pd.DataFrame,
             k: int | Mapping[Any, int], kind: str, iou: float = 0.5, grid: Sequence[float] = P_GRID,
             intervals: str = "megc", fps: float | Mapping[Any, float] | None = None, min_s: float = MIN_S,
             micro_max_s: float = MICRO_MAX_S) -> tuple[float, float]:
    """(p, F1): the p of `grid` with the best F1 of type `kind` on these (training) videos' contrast curves of that
    type; ties -> the larger p (fewer detections). ``intervals="megc"``: every interval typed `kind`;
    ``"curve"``: ``curve_intervals`` typed by duration (needs `fps`), so the curve's intervals of the other type
    count for nothing here."""
    from mebench.metrics.spotting import spotting

    if intervals not in INTERVAL_RULES:
        raise ValueError(f"intervals must be one of {INTERVAL_RULES}, not {intervals!r}")
    if intervals == "curve" and fps is None:
        raise ValueError("the curve rule types intervals by duration: give fps")
    truth = gt[gt["expression_type"].astype(str).str.lower() == kind][["video_id", "onset", "offset"]].copy()
    truth["expression_type"] = kind
    best = (float(grid[-1]), -1.0)
    for p in grid:
        parts = []
        for v, c in contrasts.items():
            kv = int(k[v] if isinstance(k, Mapping) else k)
            if intervals == "megc":
                spots = [(a, b, sc, kind) for a, b, sc in spot_contrast(c, p, kv)]
            else:
                rate = float(fps[v] if isinstance(fps, Mapping) else fps)  # type: ignore[index,arg-type]
                spots = [(a, b, sc, _kind(numbers[v][b] - numbers[v][a], rate, micro_max_s))
                         for a, b, sc in curve_intervals(c, p, kv, float(min_s) * rate)]
                spots = [s for s in spots if s[3] == kind]
            parts.append(_table(v, numbers[v], spots))
        pred = pd.concat(parts, ignore_index=True) if parts else _table(None, np.zeros(0), [])
        f1 = float(spotting(truth, pred, iou=iou)[kind]["f1"]) if len(truth) or len(pred) else 0.0
        if f1 > best[1] or (f1 == best[1] and p > best[0]):
            best = (float(p), f1)
    return best


class MDMDSpotter:
    """The ``mdmd`` baseline (module docstring). ``fit(train)`` computes (or reads from the cache) every training
    video's features and chooses p per curve on them; ``predict(test)`` spots every test video.
    ``intervals="curve"`` (default) or ``"megc"`` picks the interval rule of step 6."""

    name = "mdmd"
    version = "1.1.0"
    task = "spotting"
    tasks = ("spotting",)

    def __init__(self, seed: int = 0, k_micro_s: float = K_MICRO_S, k_macro_s: float = K_MACRO_S,
                 p_micro: float | None = None, p_macro: float | None = None, iou: float = 0.5,
                 intervals: str = "curve", min_s: float = MIN_S, micro_max_s: float = MICRO_MAX_S,
                 flow_scale: float = 0.25, grid: Sequence[int] = (6, 6), chunk_s: float = 7.0,
                 threads: int | None = None, landmarker: Landmarker | None = None, config: RoiConfig | None = None,
                 types: Sequence[str] = TYPES) -> None:
        self.seed = int(seed)
        self.k_micro_s = float(k_micro_s)
        self.k_macro_s = float(k_macro_s)
        self.p_fixed = {"micro": p_micro, "macro": p_macro}
        self.iou = float(iou)
        if intervals not in INTERVAL_RULES:
            raise ValueError(f"intervals must be one of {INTERVAL_RULES}, not {intervals!r}")
        self.intervals = intervals
        self.min_s = float(min_s)
        self.micro_max_s = float(micro_max_s)
        self.config = config if config is not None else RoiConfig(flow_scale=float(flow_scale),
                                                                  farneback=FarnebackParams())
        self.grid = (int(grid[0]), int(grid[1]))
        self.chunk_s = float(chunk_s)
        self.threads = threads
        self.landmarker = landmarker
        bad = [t for t in types if t not in TYPES]
        if bad:
            raise ValueError(f"types must be among {TYPES}, not {bad}")
        self.types = tuple(types)
        self.p_: dict[str, float | None] = {}
        self.train_f1_: dict[str, float] = {}

    def get_params(self) -> dict[str, Any]:
        return {"seed": self.seed, "k_micro_s": self.k_micro_s, "k_macro_s": self.k_macro_s,
                "p_micro": self.p_fixed["micro"], "p_macro": self.p_fixed["macro"], "iou": self.iou,
                "intervals": self.intervals, "min_s": self.min_s, "micro_max_s": self.micro_max_s,
                "roi": self.config.params(), "grid": list(self.grid), "chunk_s": self.chunk_s,
                "types": list(self.types)}

    @property
    def extractor(self) -> MDMDFeatures:
        if self.landmarker is None:
            self.landmarker = DlibLandmarker()
        return MDMDFeatures(self.config, self.k_micro_s, self.k_macro_s, self.chunk_s, self.grid, self.landmarker,
                            self.threads)

    def extractors(self) -> list[MDMDFeatures]:
        """The per-video features the harness may extract (and cache) before the fold loop."""
        return [self.extractor]

    def _features(self, view: Any) -> dict[Any, tuple[dict[str, np.ndarray], float]]:
        """video_id -> (features, fps)."""
        extractor = self.extractor
        samples = view.samples
        out = {}
        for i in range(len(samples)):
            row = samples.iloc[i]
            value = view.features(extractor, row) if hasattr(view, "features") else extractor(view, row)
            fps = float(row["fps"]) if row.get("fps") is not None else 0.0
            if not fps > 0:
                raise InputError(f"{row.get('video_id')}: the video has no fps")
            out[row["video_id"]] = (value, fps)
        return out

    def fit(self, train: Any) -> "MDMDSpotter":
        features = self._features(train)
        gt = train.labels
        self.p_, self.train_f1_ = {}, {}
        for kind in self.types:
            if self.p_fixed.get(kind) is not None:
                self.p_[kind] = float(self.p_fixed[kind])  # type: ignore[arg-type]
                continue
            j = TYPES.index(kind)
            contrasts = {v: contrast(f[kind], int(f["k"][j])) for v, (f, _) in features.items()}
            numbers = {v: f["numbers"] for v, (f, _) in features.items()}
            ks = {v: int(f["k"][j]) for v, (f, _) in features.items()}
            rates = {v: fps for v, (_, fps) in features.items()}
            p, f1 = choose_p(contrasts, numbers, gt, ks, kind, self.iou, intervals=self.intervals, fps=rates,
                             min_s=self.min_s, micro_max_s=self.micro_max_s)
            self.p_[kind] = p if f1 > 0 else None  # no p finds a training expression of this type: curve unused
            self.train_f1_[kind] = f1
        return self

    def predict(self, test: Any) -> pd.DataFrame:
        if not self.p_:
            raise RuntimeError("fit first")
        features = self._features(test)
        p = {kind: self.p_.get(kind) for kind in self.types}
        parts = [_table(video, f["numbers"], spot_video(f, p, fps, self.intervals, self.min_s, self.micro_max_s))
                 for video, (f, fps) in features.items()]
        if not parts:
            return _table(None, np.zeros(0, np.int64), [])
        return pd.concat(parts, ignore_index=True)
