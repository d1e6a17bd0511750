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
5. Threshold (per video): T = mean(C) + p x (max(C) - mean(C)), p in (0, 1); frames with C(i) > T are spotted,
   each spotted frame i gives the interval [i - k, i + k], overlapping intervals are merged (the MEGC 2020
   post-processing of the single-frame predictions).

Cost: four flows per frame (two per k), so the flow is computed at ``flow_scale`` = 0.25 of the normalised regions
(70 x 60 and 65 x 40 pixels; ``mebench.baselines.flow``): the block statistics average magnitudes over blocks of
about 11 x 10 pixels, which that resolution still resolves.

k = 0.4 s for micro-expressions and 1.3 s for macro-expressions (the baseline's 12 / 39 frames at 30 fps, 80 / 260
at 200 fps); each type is spotted with its own k and its own p and typed accordingly.

p (one per type) is chosen on the TRAIN fold only: the value of 0.01..0.99 that maximises the type's F1 (IoU >= 0.5,
``mebench.metrics.spotting``) over the training videos (ties: the larger p). Where no p finds a single training
expression of a type (F1 = 0 throughout), that type is not spotted at all: any interval would be a false positive.
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
    "K_MACRO_S", "K_MICRO_S", "MDMDFeatures", "MDMDSpotter", "block_values", "choose_p", "contrast",
    "frames_to_intervals", "mdmd_value", "mdmd_video_features", "spot_contrast", "top_third_mean",
]

K_MICRO_S = 0.4
K_MACRO_S = 1.3
TYPES = ("micro", "macro")
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


def spot_contrast(c: Sequence[float], p: float, k: int) -> list[tuple[int, int, float]]:
    """Step 5 on one video: (start, end, score) in positions; score = max C inside / max C of the video."""
    x = np.asarray(c, dtype=np.float64)
    if len(x) == 0 or not np.isfinite(x).any():
        return []
    mean, top = float(np.nanmean(x)), float(np.nanmax(x))
    if top <= mean:
        return []
    t = mean + float(p) * (top - mean)
    mask = np.nan_to_num(x, nan=-np.inf) > t
    out = []
    for a, b in frames_to_intervals(mask, k, len(x)):
        inside = x[a:b + 1][mask[a:b + 1]]
        out.append((a, b, float(inside.max() / top) if top > 0 else 0.0))
    return out


def _table(video_id: Any, numbers: np.ndarray, spots: list[tuple[int, int, float]], kind: str) -> pd.DataFrame:
    return pd.DataFrame({"video_id": [video_id] * len(spots),
                         "onset": np.array([numbers[a] for a, _, _ in spots], dtype=np.int64),
                         "offset": np.array([numbers[b] for _, b, _ in spots], dtype=np.int64),
                         "score": np.array([s for _, _, s in spots], dtype=np.float64),
                         "expression_type": [kind] * len(spots)})


def choose_p(contrasts: Mapping[Any, np.ndarray], numbers: Mapping[Any, np.ndarray], gt: pd.DataFrame,
             k: int | Mapping[Any, int], kind: str, iou: float = 0.5,
             grid: Sequence[float] = P_GRID) -> tuple[float, float]:
    """(p, F1): the p of `grid` with the best F1 of type `kind` on these (training) videos; ties -> the larger p
    (fewer detections)."""
    from mebench.metrics.spotting import spotting

    truth = gt[gt["expression_type"].astype(str).str.lower() == kind][["video_id", "onset", "offset"]].copy()
    truth["expression_type"] = kind
    best = (float(grid[-1]), -1.0)
    for p in grid:
        parts = [_table(v, numbers[v], spot_contrast(c, p, k[v] if isinstance(k, Mapping) else k), kind)
                 for v, c in contrasts.items()]
        pred = pd.concat(parts, ignore_index=True) if parts else _table(None, np.zeros(0), [], kind)
        f1 = float(spotting(truth, pred, iou=iou)[kind]["f1"]) if len(truth) or len(pred) else 0.0
        if f1 > best[1] or (f1 == best[1] and p > best[0]):
            best = (float(p), f1)
    return best


class MDMDSpotter:
    """The ``mdmd`` baseline (module docstring). ``fit(train)`` computes (or reads from the cache) every training
    video's features and chooses p per type on them; ``predict(test)`` spots every test video."""

    name = "mdmd"
    version = "1.0.0"
    task = "spotting"
    tasks = ("spotting",)

    def __init__(self, seed: int = 0, k_micro_s: float = K_MICRO_S, k_macro_s: float = K_MACRO_S,
                 p_micro: float | None = None, p_macro: float | None = None, iou: float = 0.5,
                 flow_scale: float = 0.25, grid: Sequence[int] = (6, 6), chunk_s: float = 7.0,
                 threads: int | None = None, landmarker: Landmarker | None = None, config: RoiConfig | None = None,
                 types: Sequence[str] = TYPES) -> None:
        self.seed = int(seed)
        self.k_micro_s = float(k_micro_s)
        self.k_macro_s = float(k_macro_s)
        self.p_fixed = {"micro": p_micro, "macro": p_macro}
        self.iou = float(iou)
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

    def _features(self, view: Any) -> dict[Any, dict[str, np.ndarray]]:
        extractor = self.extractor
        samples = view.samples
        out = {}
        for i in range(len(samples)):
            row = samples.iloc[i]
            out[row["video_id"]] = view.features(extractor, row) if hasattr(view, "features") \
                else extractor(view, row)
        return out

    def fit(self, train: Any) -> "MDMDSpotter":
        features = self._features(train)
        gt = train.labels
        self.p_, self.train_f1_ = {}, {}
        for kind in self.types:
            if self.p_fixed.get(kind) is not None:
                self.p_[kind] = float(self.p_fixed[kind])
                continue
            j = TYPES.index(kind)
            contrasts = {v: contrast(f[kind], int(f["k"][j])) for v, f in features.items()}
            numbers = {v: f["numbers"] for v, f in features.items()}
            ks = {v: int(f["k"][j]) for v, f in features.items()}
            p, f1 = choose_p(contrasts, numbers, gt, ks, kind, self.iou)
            self.p_[kind] = p if f1 > 0 else None  # no p finds a training expression of this type: spot none
            self.train_f1_[kind] = f1
        return self

    def predict(self, test: Any) -> pd.DataFrame:
        if not self.p_:
            raise RuntimeError("fit first")
        features = self._features(test)
        parts = []
        for video, f in features.items():
            for kind in self.types:
                if self.p_.get(kind) is None:
                    continue
                k = int(f["k"][TYPES.index(kind)])
                spots = spot_contrast(contrast(f[kind], k), self.p_[kind], k)
                parts.append(_table(video, f["numbers"], spots, kind))
        if not parts:
            return _table(None, np.zeros(0, np.int64), [], "micro")
        return pd.concat(parts, ignore_index=True)
