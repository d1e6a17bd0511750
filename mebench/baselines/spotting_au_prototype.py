"""AU-prototype spotting (seed 002: He, Wang, Ma, Li, 'Micro-Expression Spotting Method Based on AU Prototype',
ECAI 2023), re-implemented as the ``au-prototype`` baseline.

Pipeline (the equations as implemented; the pure functions below are each testable on their own):

1. Flow (eq. 8, 16-17; ``mebench.baselines.flow``): dlib landmarks on a reference frame, eye region gamma =
   (0.2, 0.6, 0.2, 0.6) normalised to 280 x 240 and mouth region 260 x 160 (``mebench.baselines.face``), Farneback
   flow from the reference frame to the other frame on the two regions only. Default ``flow_scale`` = 0.35: the
   flow is computed at 0.35 of the normalised size (98 x 84 and 91 x 56 pixels; a 640 x 480 face gives its regions
   about 0.5 of it) and expressed in normalised-size units; ``flow_scale=1.0`` is the paper's exact arithmetic at
   about 6x the cost (see ``flow``). Why 0.35 (version 1.1.0; 1.0.0 used 0.5): on the benchmark video the
   per-frame matching curves correlate with the paper-size ones as well as at 0.5 (r >= 0.977 for every
   prototype, 0.973 at 0.5) at about half the flow CPU, and the spotting F1 of the small shadow corpora rose
   (seed 0: 0.532 -> 0.571, seed 1: 0.615 -> 0.644), so 0.5 bought no accuracy.
2. Prototypes (eq. 18, ``build_prototypes``), learned on the TRAIN fold's ground truth only: for every training
   interval g, F_apex^g = flow from its onset frame (the clip's first frame) to its apex frame (apex missing ->
   the middle frame); M_j = mean of F_apex^g over S_AUj (training intervals whose annotation has AU j), on the eye
   region for AUs of H_eye and the mouth region for H_mth. Default AUs: the paper's eight (1, 2, 4, 7 | 12, 14, 15,
   17), each kept when the fold has at least ``min_samples`` intervals with it. Where no AU qualifies (a dataset
   without AU codes) one prototype per region is the mean over all training intervals ('eye:all', 'mouth:all').
3. Matching (eq. 21-23, ``matching_index`` / ``match_curves``): p_i^j = sum over the region's pixels of the
   Hadamard product F_i o M_j, both flow components summed, i.e. the Frobenius inner product <F_i, M_j> (the same
   as the paper's AU12 example, omega = h_l . lc + h_r . rc); one curve L_j per prototype, W = [L_1; ...; L_V].
   With ``flow_scale`` < 1 the sum is over the computed pixels times 1 / flow_scale^2 (``flow``).
4. Low-pass + clip at 0 (section 3.2, ``lowpass_clip``): zero-phase Butterworth (order 2, ``lowpass_hz`` = 5 Hz;
   the paper names no filter), then negative values set to 0.
5. Peaks (eq. 24, ``peak_mask`` / ``peak_intervals``), m = round(1 s x fps) frames: point i belongs to a peak of
   curve j when L_j[i] - min(L_j[i-m..i-1]) > theta_j AND L_j[i] - min(L_j[i+1..i+m]) > theta_j (only the
   neighbours inside the window count; a point without neighbours on one side is no peak). Each run of
   consecutive peak points is one peak, its apex the run's maximum; a peak whose apex lies within m frames of a
   higher peak's apex is suppressed (peak radius = 1 s). Bounds: ``bounds="run"`` keeps the run itself (the
   literal reading); the default ``"valley"`` widens it to where the curve falls back, on each side, to within
   ``edge`` (10 %) of the way from that side's minimum (over the m frames) to the apex value - the run alone holds
   only the frames where the rise already exceeds theta, which for a typical expression is about its middle half
   and would miss IoU >= 0.5 by construction. In every window but a video's last, a peak whose right search area
   is cut by the window's end and whose curve has not come back down there (to within max(edge, 10 %) of its rise)
   is left to a later window, which sees the expression whole (eq. 24 says nothing about window edges).
6. Fusion (eq. 25-26, ``overlap_index`` / ``fuse``): mu = max(min(end_n, end_m) - max(start_n, start_m), 0) /
   min(end_m - start_m, end_n - start_n) (the formula as printed, frame differences; a one-frame interval counts
   mu = 1 inside the other, 0 outside); mu > delta = 0.33 -> [min(starts), max(ends)]; repeated until no pair
   fuses (intervals of all AUs of one window).
7. Windows (eq. 19-20, ``next_start``): N = round(7 s x fps) frames, each window's first frame the reference of
   its flows and landmarks; nothing spotted -> S = N/2, else S = end_last + 1 (the next window starts right after
   the last spotted interval). The last window is cut at the video's end. A window whose first frame has no face
   dlib can find reuses the previous window's landmarks (before the first face: the first frame with a face among 8
   spread over the window; none: the window is skipped); a video without any face is an InputError.
8. Type: (offset - onset) / fps < 0.5 s -> micro, else macro (section 3.2, "expressions that last less than 0.5 s
   are considered micro-expressions"; the protocols' own duration rule).

Thresholds theta_j (the paper names them but does not say how they are set) are learned on the train fold:
theta_j = rho x median over g in S_AUj of the leave-one-out apex response <F_apex^g, M_j^(-g)> (the prototype
without g), i.e. a peak must rise by ``rho`` (0.5) times what a typical held-out training expression with AU j
gives (``quantile`` replaces the median by another quantile). An AU whose median held-out response is not positive
(its samples do not agree) is dropped. ``theta={'AU4': ...}`` fixes them instead.

Each interval's score is its peak margin in units of theta (min of the two eq. 24 differences at the apex /
theta_j; fused intervals keep the largest).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mebench.baselines.face import DlibLandmarker, Landmarker
from mebench.baselines.flow import (FaceTracker, FarnebackParams, FrameSource, RoiConfig, frame_source, pair_flows,
                                    thread_pool, window_features, window_rois)
from mebench.errors import InputError

__all__ = [
    "EYE_AUS", "MOUTH_AUS", "PAPER_AUS", "AUPrototypeSpotter", "ApexFlowExtractor", "Peak", "Prototypes",
    "SpotExtractor", "au_region", "build_prototypes", "expression_type", "fuse", "heldout_responses",
    "lowpass_clip", "match_curves", "matching_index", "next_start", "overlap_index", "parse_aus", "peak_intervals",
    "peak_mask", "spot_curves", "thresholds",
]

PAPER_AUS = (1, 2, 4, 7, 12, 14, 15, 17)
EYE_AUS = frozenset({1, 2, 4, 5, 6, 7, 9, 41, 42, 43, 44, 45, 46})
MOUTH_AUS = frozenset({10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 23, 24, 25, 26, 27, 28})
REGIONS = ("eye", "mouth")


def au_region(au: int) -> str | None:
    """'eye' (H_eye), 'mouth' (H_mth) or None for an AU outside both regions."""
    if int(au) in EYE_AUS:
        return "eye"
    if int(au) in MOUTH_AUS:
        return "mouth"
    return None


def parse_aus(value: Any) -> frozenset[int]:
    """The AU numbers of a corpus ``aus`` cell (list / array of ints; text such as '4+7' also read)."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(int(t) for t in re.findall(r"\d+", value))
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return frozenset()
    try:
        return frozenset(int(v) for v in value if v is not None and not (isinstance(v, float) and np.isnan(v)))
    except TypeError:
        return frozenset({int(value)})


# -------------------------------------------------------------------------------------------- prototypes (eq. 18)


@dataclass
class Prototypes:
    """AU prototypes M_j (eq. 18): ``keys`` ('AU4', 'AU12', or 'eye:all' / 'mouth:all'), the region of each,
    the number of training intervals averaged, and the fields (h, w, 2) float32 of each region stacked in key
    order. ``pixel_weight`` multiplies every pixel sum (1 / flow_scale^2, see ``flow``)."""

    keys: tuple[str, ...]
    regions: tuple[str, ...]
    counts: tuple[int, ...]
    eye: np.ndarray
    mouth: np.ndarray
    pixel_weight: float = 1.0

    def __post_init__(self) -> None:
        self.eye = np.asarray(self.eye, dtype=np.float32)
        self.mouth = np.asarray(self.mouth, dtype=np.float32)
        self._eye_flat = self.eye.reshape(len(self.eye), int(np.prod(self.eye.shape[1:])))
        self._mouth_flat = self.mouth.reshape(len(self.mouth), int(np.prod(self.mouth.shape[1:])))
        self._eye_rows = np.array([i for i, r in enumerate(self.regions) if r == "eye"], dtype=np.int64)
        self._mouth_rows = np.array([i for i, r in enumerate(self.regions) if r == "mouth"], dtype=np.int64)
        if len(self._eye_rows) != len(self.eye) or len(self._mouth_rows) != len(self.mouth):
            raise ValueError("one field per key, stacked by region in key order")

    def __len__(self) -> int:
        return len(self.keys)

    def field(self, key: str) -> np.ndarray:
        i = self.keys.index(key)
        region = self.regions[i]
        rows = self._eye_rows if region == "eye" else self._mouth_rows
        stack = self.eye if region == "eye" else self.mouth
        return stack[int(np.flatnonzero(rows == i)[0])]

    def match(self, eye_flow: np.ndarray, mouth_flow: np.ndarray) -> np.ndarray:
        """p^j for every prototype (eq. 21-22) of one frame's pair of flow fields: (V,) float64."""
        out = np.zeros(len(self.keys), dtype=np.float64)
        if len(self._eye_rows):
            out[self._eye_rows] = self._eye_flat @ np.asarray(eye_flow, dtype=np.float32).reshape(-1)
        if len(self._mouth_rows):
            out[self._mouth_rows] = self._mouth_flat @ np.asarray(mouth_flow, dtype=np.float32).reshape(-1)
        return out * self.pixel_weight

    __call__ = match  # a flow.Reducer

    def digest(self) -> str:
        """sha256 of keys, counts and fields (the feature-cache parameter that stands for the prototypes)."""
        h = hashlib.sha256()
        h.update(repr((self.keys, self.regions, self.counts, self.pixel_weight)).encode())
        h.update(np.ascontiguousarray(self.eye).tobytes())
        h.update(np.ascontiguousarray(self.mouth).tobytes())
        return h.hexdigest()


def build_prototypes(eye_flows: np.ndarray, mouth_flows: np.ndarray, au_sets: Sequence[Iterable[int]],
                     aus: Sequence[int] | str = PAPER_AUS, min_samples: int = 1, pixel_weight: float = 1.0,
                     fallback: bool = True) -> Prototypes:
    """Eq. 18: M_j = sum_{g in S_AUj} F_apex^g / |S_AUj| on the AU's region, for each AU of `aus` with at least
    `min_samples` intervals ('auto': every AU of H_eye and H_mth). `eye_flows` (G, h, w, 2) and `mouth_flows`
    (G, h2, w2, 2) are the training intervals' onset->apex flows, `au_sets` their AUs. With `fallback`, when no AU
    qualifies, one prototype per region averages all G intervals."""
    eye_flows = np.asarray(eye_flows, dtype=np.float32)
    mouth_flows = np.asarray(mouth_flows, dtype=np.float32)
    sets = [parse_aus(a) for a in au_sets]
    if not (len(eye_flows) == len(mouth_flows) == len(sets)):
        raise ValueError("one eye flow, one mouth flow and one AU set per training interval")
    wanted = sorted(EYE_AUS | MOUTH_AUS) if isinstance(aus, str) and aus == "auto" else \
        (list(PAPER_AUS) if isinstance(aus, str) and aus == "paper" else [int(a) for a in aus])
    keys, regions, counts, eye, mouth = [], [], [], [], []
    for au in wanted:
        region = au_region(au)
        if region is None:
            raise ValueError(f"AU{au} is in neither the eye region nor the mouth region")
        members = np.array([au in s for s in sets], dtype=bool)
        n = int(members.sum())
        if n < max(1, int(min_samples)):
            continue
        stack = eye_flows if region == "eye" else mouth_flows
        (eye if region == "eye" else mouth).append(stack[members].mean(axis=0, dtype=np.float64).astype(np.float32))
        keys.append(f"AU{au}")
        regions.append(region)
        counts.append(n)
    if not keys and fallback and len(sets):
        for region, stack, out in (("eye", eye_flows, eye), ("mouth", mouth_flows, mouth)):
            out.append(stack.mean(axis=0, dtype=np.float64).astype(np.float32))
            keys.append(f"{region}:all")
            regions.append(region)
            counts.append(len(sets))
    eye_shape = eye_flows.shape[1:] if eye_flows.ndim == 4 else (0, 0, 2)
    mouth_shape = mouth_flows.shape[1:] if mouth_flows.ndim == 4 else (0, 0, 2)
    return Prototypes(tuple(keys), tuple(regions), tuple(counts),
                      np.stack(eye) if eye else np.zeros((0, *eye_shape), np.float32),
                      np.stack(mouth) if mouth else np.zeros((0, *mouth_shape), np.float32), float(pixel_weight))


def matching_index(flow: np.ndarray, prototype: np.ndarray, pixel_weight: float = 1.0) -> float:
    """Eq. 21-22 for one frame and one prototype: D = F o M (Hadamard), p = sum of D over pixels and both
    components."""
    flow = np.asarray(flow, dtype=np.float64)
    prototype = np.asarray(prototype, dtype=np.float64)
    if flow.shape != prototype.shape:
        raise ValueError(f"flow {flow.shape} and prototype {prototype.shape} differ in shape")
    return float((flow * prototype).sum() * pixel_weight)


def match_curves(eye_flows: np.ndarray, mouth_flows: np.ndarray, prototypes: Prototypes) -> np.ndarray:
    """Eq. 23: W (V, n), row j the matching curve L_j over n frames' flows ((n, h, w, 2) per region)."""
    n = len(eye_flows)
    return np.stack([prototypes.match(eye_flows[i], mouth_flows[i]) for i in range(n)], axis=1) if n else \
        np.zeros((len(prototypes), 0))


def heldout_responses(eye_flows: np.ndarray, mouth_flows: np.ndarray, au_sets: Sequence[Iterable[int]],
                      prototypes: Prototypes) -> dict[str, np.ndarray]:
    """For each prototype key: the leave-one-out apex responses <F^g, M^(-g)> (x pixel_weight) of its members
    g, with M^(-g) = (n M - F^g) / (n - 1). A key with one member gets its in-sample response |F^g|^2."""
    sets = [parse_aus(a) for a in au_sets]
    out: dict[str, np.ndarray] = {}
    for key, region in zip(prototypes.keys, prototypes.regions):
        stack = np.asarray(eye_flows if region == "eye" else mouth_flows, dtype=np.float32)
        if key.endswith(":all"):
            members = np.ones(len(sets), dtype=bool)
        else:
            au = int(key[2:])
            members = np.array([au in s for s in sets], dtype=bool)
        flat = stack[members].reshape(int(members.sum()), int(np.prod(stack.shape[1:])))
        n = len(flat)
        m = prototypes.field(key).reshape(-1)
        dots = flat @ m
        norms = np.einsum("ij,ij->i", flat, flat, dtype=np.float64)
        loo = (n * dots - norms) / (n - 1) if n > 1 else norms
        out[key] = np.asarray(loo, dtype=np.float64) * prototypes.pixel_weight
    return out


def thresholds(responses: Mapping[str, np.ndarray], rho: float = 0.5, quantile: float = 0.5) -> dict[str, float]:
    """theta_j = rho x the `quantile` (0.5: median) of the held-out responses; keys whose median is not positive
    (the training intervals with that AU do not agree) are left out."""
    out = {}
    for key, values in responses.items():
        values = np.asarray(values, dtype=np.float64)
        if len(values) and np.median(values) > 0:
            level = float(np.quantile(values, float(quantile)))
            if level > 0:
                out[key] = float(rho * level)
    return out


# ------------------------------------------------------------------------------------------- curves (sec. 3.2)


def lowpass_clip(curves: np.ndarray, fps: float, cutoff_hz: float | None = 5.0, order: int = 2) -> np.ndarray:
    """Low-pass (zero-phase Butterworth of `order` at `cutoff_hz`, along the last axis) then clip at 0. No filter
    when `cutoff_hz` is None or at/above the Nyquist frequency, or the curve is too short to filter."""
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(curves, dtype=np.float64)
    n = x.shape[-1]
    if cutoff_hz is not None and 0 < cutoff_hz < fps / 2.0 and n > 3:
        sos = butter(int(order), float(cutoff_hz) / (fps / 2.0), btype="low", output="sos")
        padlen = min(3 * (2 * len(sos) + 1), n - 1)
        x = sosfiltfilt(sos, x, axis=-1, padtype="constant", padlen=padlen)
    return np.maximum(x, 0.0)


# ----------------------------------------------------------------------------------------------- peaks (eq. 24)


@dataclass
class Peak:
    """A spotted interval in window positions (inclusive), its apex, score and the prototypes behind it."""

    start: int
    end: int
    apex: int
    score: float
    keys: tuple[str, ...] = ()

    def as_tuple(self) -> tuple[int, int]:
        return (self.start, self.end)


def _side_minima(curve: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(min of curve[i-m..i-1], min of curve[i+1..i+m]) for every i; +inf where a side has no point."""
    from numpy.lib.stride_tricks import sliding_window_view

    n = len(curve)
    padded = np.concatenate([np.full(m, np.inf), curve, np.full(m, np.inf)])
    mins = sliding_window_view(padded, m).min(axis=1)  # mins[j] = min(padded[j:j+m])
    return mins[:n], mins[m + 1:m + 1 + n]


def peak_mask(curve: Sequence[float], theta: float, m: int) -> np.ndarray:
    """Eq. 24: the points i with L[i] - min(L[i-m..i-1]) > theta and L[i] - min(L[i+1..i+m]) > theta."""
    x = np.asarray(curve, dtype=np.float64)
    m = max(1, int(m))
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    left, right = _side_minima(x, m)
    return ((x - left) > theta) & ((x - right) > theta)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def peak_intervals(curve: Sequence[float], theta: float, m: int, bounds: str = "valley", edge: float = 0.1,
                   suppress: bool = True, key: str = "", cut_at_end: bool = True) -> list[Peak]:
    """Eq. 24 peaks of one curve as intervals (module docstring, step 5), sorted by start.

    With `cut_at_end` (a window that is not the video's last), a peak whose right search area is cut by the end of
    the curve and whose curve has not fallen back there to within max(edge, 10 %) of its rise above the left-side
    minimum is left out: the expression is still going on at the window's end, and a later window sees it whole."""
    if bounds not in ("valley", "run"):
        raise ValueError(f"bounds must be 'valley' or 'run', not {bounds!r}")
    x = np.asarray(curve, dtype=np.float64)
    m = max(1, int(m))
    n = len(x)
    if not theta > 0:
        raise ValueError(f"theta must be > 0, got {theta}")
    if n == 0:
        return []
    left, right = _side_minima(x, m)
    mask = ((x - left) > theta) & ((x - right) > theta)
    peaks = []
    for s, e in _runs(mask):
        apex = s + int(np.argmax(x[s:e + 1]))
        margin = min(x[apex] - left[apex], x[apex] - right[apex])
        peaks.append(Peak(s, e, apex, float(margin / theta), (key,) if key else ()))
    if suppress and len(peaks) > 1:
        kept: list[Peak] = []
        for p in sorted(peaks, key=lambda p: (-x[p.apex], p.apex)):
            if all(abs(p.apex - k.apex) > m for k in kept):
                kept.append(p)
        peaks = kept
    out = []
    for p in peaks:
        a = p.apex
        lo, hi = max(0, a - m), min(n - 1, a + m)
        base_l = x[lo:a].min() if a > lo else x[a]
        base_r = x[a + 1:hi + 1].min() if hi > a else x[a]
        if cut_at_end and a + m > n - 1 and base_r > base_l + max(edge, 0.1) * (x[a] - base_l):
            continue  # still rising or high at the window's end
        if bounds == "valley":
            level_l = base_l + edge * (x[a] - base_l)
            level_r = base_r + edge * (x[a] - base_r)
            below_l = np.flatnonzero(x[lo:a + 1] <= level_l)
            below_r = np.flatnonzero(x[a:hi + 1] <= level_r)
            onset = lo + int(below_l[-1]) if len(below_l) else lo
            offset = a + int(below_r[0]) if len(below_r) else hi
            p.start, p.end = min(onset, p.start), max(offset, p.end)
        out.append(p)
    return sorted(out, key=lambda p: (p.start, p.end))


# ---------------------------------------------------------------------------------------------- fusion (25-26)


def overlap_index(a: Sequence[int] | Peak, b: Sequence[int] | Peak) -> float:
    """Eq. 25: max(min(end_n, end_m) - max(start_n, start_m), 0) / min(end_m - start_m, end_n - start_n); a
    one-frame interval (zero length) counts 1 inside the other interval and 0 outside."""
    sa, ea = a.as_tuple() if isinstance(a, Peak) else (int(a[0]), int(a[1]))
    sb, eb = b.as_tuple() if isinstance(b, Peak) else (int(b[0]), int(b[1]))
    shorter = min(ea - sa, eb - sb)
    if shorter <= 0:
        return 1.0 if max(sa, sb) <= min(ea, eb) else 0.0
    return max(min(ea, eb) - max(sa, sb), 0) / shorter


def fuse(intervals: Iterable[Peak | Sequence[int]], delta: float = 0.33) -> list[Peak]:
    """Eq. 25-26: while two intervals have mu > delta, replace them by [min(starts), max(ends)] (the fused peak
    keeps the higher score, that peak's apex, and the union of the prototypes); sorted by start."""
    items = [p if isinstance(p, Peak) else Peak(int(p[0]), int(p[1]), int(p[0]), 0.0) for p in intervals]
    items = [replace(p) for p in items]
    items.sort(key=lambda p: (p.start, p.end))
    changed = True
    while changed:
        changed = False
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                a, b = items[i], items[j]
                if overlap_index(a, b) > delta:
                    best = a if a.score >= b.score else b
                    items[i] = Peak(min(a.start, b.start), max(a.end, b.end), best.apex, max(a.score, b.score),
                                    tuple(sorted(set(a.keys) | set(b.keys))))
                    del items[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(items, key=lambda p: (p.start, p.end))


def spot_curves(curves: np.ndarray, keys: Sequence[str], theta: Mapping[str, float], m: int, delta: float = 0.33,
                bounds: str = "valley", edge: float = 0.1, cut_at_end: bool = True) -> list[Peak]:
    """One window: eq. 24 peaks of every (already low-passed) curve with its theta, then eq. 25-26 fusion."""
    peaks: list[Peak] = []
    for j, key in enumerate(keys):
        if key in theta:
            peaks.extend(peak_intervals(curves[j], theta[key], m, bounds=bounds, edge=edge, key=key,
                                        cut_at_end=cut_at_end))
    return fuse(peaks, delta)


def next_start(start: int, window: int, peaks: Sequence[Peak]) -> int:
    """Eq. 19-20: the next window's first position: start + N/2 when nothing was spotted, else start + end_last
    + 1 (peaks in window positions)."""
    if not peaks:
        return int(start) + max(1, int(window) // 2)
    return int(start) + max(p.end for p in peaks) + 1


def expression_type(onset: int, offset: int, fps: float, micro_max_s: float = 0.5) -> str:
    """'micro' when (offset - onset) / fps < micro_max_s, else 'macro' (seed 002 section 3.2)."""
    return "micro" if (int(offset) - int(onset)) / float(fps) < micro_max_s else "macro"


# ------------------------------------------------------------------------------------------------- extractors


def _value(row: Any, key: str) -> Any:
    try:
        value = row[key]
    except (KeyError, IndexError, TypeError):
        return None
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return None
    return value


def interval_frames(row: Any) -> tuple[int, int, int]:
    """(onset, apex, offset) frame numbers of an annotated interval: the protocol's GT columns where present
    (gt_onset / gt_offset), apex outside [onset, offset] or missing -> the middle frame."""
    onset = _value(row, "gt_onset")
    onset = _value(row, "onset") if onset is None else onset
    offset = _value(row, "gt_offset")
    offset = _value(row, "offset") if offset is None else offset
    if onset is None:
        raise InputError(f"{_value(row, 'sample_id') or 'interval'}: no onset frame")
    onset = int(round(float(onset)))
    offset = onset if offset is None else int(round(float(offset)))
    apex = _value(row, "apex")
    apex = None if apex is None else int(round(float(apex)))
    if apex is None or not onset <= apex <= offset:
        apex = (onset + offset) // 2
    return onset, apex, offset


def _one_frame(view: Any, row: Any, number: int) -> np.ndarray:
    frames = view.frames(row, number, number, gray=True)
    if len(frames) == 0:
        raise InputError(f"{_value(row, 'sample_id') or _value(row, 'video_id')}: frame {number} not found")
    return frames[0]


@dataclass
class ApexFlowExtractor:
    """Per annotated interval: eq. 16-17, the (eye, mouth) flow from the onset frame to the apex frame on the
    regions of the onset frame's landmarks -> {'eye': (h, w, 2), 'mouth': (h2, w2, 2)} float16 (cache size)."""

    config: RoiConfig = field(default_factory=RoiConfig)
    landmarker: Any = None
    name: str = "au-prototype-apex-flow"
    version: str = "1"

    @property
    def params(self) -> dict[str, Any]:
        return {"roi": self.config.params(), "landmarker": getattr(self._landmarker(), "name", "custom")}

    def _landmarker(self) -> Landmarker:
        return self.landmarker if self.landmarker is not None else DlibLandmarker()

    def __call__(self, view: Any, row: Any) -> dict[str, np.ndarray]:
        onset, apex, _ = interval_frames(row)
        first = _one_frame(view, row, onset)
        other = first if apex == onset else _one_frame(view, row, apex)
        where = f"{_value(row, 'sample_id') or _value(row, 'video_id') or 'interval'} frame {onset}"
        landmarks = self._landmarker()(first, where)
        eye, mouth = pair_flows(first, other, landmarks, self.config)
        return {"eye": eye.astype(np.float16), "mouth": mouth.astype(np.float16)}


@dataclass
class SpotExtractor:
    """Per test video: the spotted intervals of a fitted spotter (its prototypes and thresholds are parameters,
    so a rerun with the same fit reads them back) -> {'onset', 'offset' (frame numbers), 'score'}."""

    spotter: "AUPrototypeSpotter"
    name: str = "au-prototype-spots"
    version: str = "1"

    @property
    def params(self) -> dict[str, Any]:
        s = self.spotter
        return {"prototypes": s.prototypes_.digest() if s.prototypes_ is not None else None,
                "theta": {k: round(v, 9) for k, v in sorted(s.theta_.items())}, **s.spot_params()}

    def __call__(self, view: Any, row: Any) -> dict[str, np.ndarray]:
        fps = float(_value(row, "fps") or 0)
        if not fps > 0:
            raise InputError(f"{_value(row, 'video_id')}: the video has no fps")
        source = frame_source(view, row)
        peaks = self.spotter.spot_source(source, fps, where=f"video {_value(row, 'video_id')}")
        return {"onset": np.array([source.numbers[p.start] for p in peaks], dtype=np.int64),
                "offset": np.array([source.numbers[p.end] for p in peaks], dtype=np.int64),
                "score": np.array([p.score for p in peaks], dtype=np.float64)}


# ------------------------------------------------------------------------------------------------------ model


class AUPrototypeSpotter:
    """The ``au-prototype`` baseline (seed 002): see the module docstring for every step and its parameters.

    ``fit(train)`` learns prototypes and thresholds from the train fold's annotated intervals (``train.annotations``,
    their frames through the feature cache); ``predict(test)`` slides the adaptive 7 s windows over every test
    video and returns its intervals (video_id, onset, offset, score, expression_type). ``fit_flows`` /
    ``spot_source`` are the same on arrays (no view, no dlib when a landmarker is given)."""

    name = "au-prototype"
    version = "1.1.0"  # 1.1.0: flow_scale 0.5 -> 0.35 (module docstring, step 1)
    task = "spotting"
    tasks = ("spotting",)

    def __init__(self, seed: int = 0, aus: Sequence[int] | str = "paper", min_samples: int = 3, rho: float = 0.5,
                 quantile: float = 0.5, window_s: float = 7.0, peak_radius_s: float = 1.0, delta: float = 0.33,
                 lowpass_hz: float | None = 5.0, bounds: str = "valley", edge: float = 0.1,
                 micro_max_s: float = 0.5, flow_scale: float = 0.35, threads: int | None = None,
                 landmarker: Landmarker | None = None, theta: Mapping[str, float] | None = None,
                 config: RoiConfig | None = None, verbose: bool = False) -> None:
        if isinstance(aus, str) and aus not in ("paper", "auto"):
            aus = tuple(int(t) for t in re.findall(r"\d+", aus))
        self.seed = int(seed)  # deterministic; kept for the record
        self.aus = aus if isinstance(aus, str) else tuple(int(a) for a in aus)
        self.min_samples = int(min_samples)
        self.rho = float(rho)
        self.quantile = float(quantile)
        self.window_s = float(window_s)
        self.peak_radius_s = float(peak_radius_s)
        self.delta = float(delta)
        self.lowpass_hz = None if lowpass_hz in (None, 0, "none") else float(lowpass_hz)
        if bounds not in ("valley", "run"):
            raise ValueError(f"bounds must be 'valley' or 'run', not {bounds!r}")
        self.bounds = bounds
        self.edge = float(edge)
        self.micro_max_s = float(micro_max_s)
        self.config = config if config is not None else RoiConfig(flow_scale=float(flow_scale),
                                                                  farneback=FarnebackParams())
        self.threads = threads
        self.landmarker = landmarker
        self.theta_override = dict(theta) if theta else None
        self.verbose = verbose
        self.prototypes_: Prototypes | None = None
        self.theta_: dict[str, float] = {}
        self.responses_: dict[str, np.ndarray] = {}
        self.skipped_: list[tuple[str, str]] = []

    # ---- parameters

    def get_params(self) -> dict[str, Any]:
        return {"seed": self.seed, "aus": self.aus if isinstance(self.aus, str) else list(self.aus),
                "min_samples": self.min_samples, "rho": self.rho, "quantile": self.quantile, **self.spot_params()}

    def spot_params(self) -> dict[str, Any]:
        return {"window_s": self.window_s, "peak_radius_s": self.peak_radius_s, "delta": self.delta,
                "lowpass_hz": self.lowpass_hz, "bounds": self.bounds, "edge": self.edge,
                "micro_max_s": self.micro_max_s, "roi": self.config.params(),
                "landmarker": getattr(self._landmarker(), "name", "custom")}

    def _landmarker(self) -> Landmarker:
        if self.landmarker is None:
            self.landmarker = DlibLandmarker()
        return self.landmarker

    # ---- fit

    def fit(self, train: Any) -> "AUPrototypeSpotter":
        """Prototypes (eq. 18) and thresholds from the train fold's annotated intervals."""
        annotations = getattr(train, "annotations", None)
        if annotations is None:
            raise InputError("au-prototype needs the train fold's annotated intervals (train.annotations): run it "
                             "on a spotting protocol")
        annotations = annotations.reset_index(drop=True)
        videos = train.samples
        media = {}
        if "video_id" in videos.columns:
            for _, v in videos.iterrows():
                media[v["video_id"]] = v
        au_sets = [parse_aus(a) for a in annotations["aus"].tolist()] if "aus" in annotations.columns \
            else [frozenset()] * len(annotations)
        needed = self._needed(au_sets)
        extractor = ApexFlowExtractor(self.config, self._landmarker())
        eye, mouth, sets = [], [], []
        self.skipped_ = []
        for i in np.flatnonzero(needed):
            row = self._with_media(annotations.iloc[int(i)], media)
            try:
                value = train.features(extractor, row) if hasattr(train, "features") else extractor(train, row)
            except InputError as error:
                self.skipped_.append((str(_value(row, "sample_id")), str(error)))
                continue
            eye.append(np.asarray(value["eye"], dtype=np.float32))
            mouth.append(np.asarray(value["mouth"], dtype=np.float32))
            sets.append(au_sets[int(i)])
        if self.skipped_:
            warnings.warn(f"au-prototype: {len(self.skipped_)} training interval(s) skipped (first: "
                          f"{self.skipped_[0][0]}: {self.skipped_[0][1]})", stacklevel=2)
        if not eye:
            raise InputError("au-prototype: no training interval could be used to learn prototypes")
        return self.fit_flows(np.stack(eye), np.stack(mouth), sets)

    def _needed(self, au_sets: Sequence[frozenset[int]]) -> np.ndarray:
        """Training rows whose flow is needed: those with a qualifying AU (all rows when none qualifies)."""
        wanted = sorted(EYE_AUS | MOUTH_AUS) if self.aus == "auto" else \
            (list(PAPER_AUS) if self.aus == "paper" else list(self.aus))
        qualifying = [a for a in wanted if sum(a in s for s in au_sets) >= max(1, self.min_samples)]
        if not qualifying:
            return np.ones(len(au_sets), dtype=bool)
        return np.array([bool(s & set(qualifying)) for s in au_sets], dtype=bool)

    @staticmethod
    def _with_media(row: pd.Series, media: Mapping[Any, pd.Series]) -> pd.Series:
        video = media.get(row.get("video_id"))
        if video is None:
            return row
        row = row.copy()
        for column in ("frames_dir", "video_path", "fps"):
            if column in video.index and _value(row, column) is None and _value(video, column) is not None:
                row[column] = video[column]
        return row

    def fit_flows(self, eye_flows: np.ndarray, mouth_flows: np.ndarray,
                  au_sets: Sequence[Iterable[int]]) -> "AUPrototypeSpotter":
        """Fit from training onset->apex flows (arrays in normalised-region units at the configured flow_scale)."""
        protos = build_prototypes(eye_flows, mouth_flows, au_sets, self.aus, self.min_samples,
                                  self.config.pixel_weight)
        responses = heldout_responses(eye_flows, mouth_flows, au_sets, protos)
        theta = dict(self.theta_override) if self.theta_override else thresholds(responses, self.rho, self.quantile)
        keep = [k for k in protos.keys if k in theta]
        if not keep:
            raise InputError("au-prototype: no prototype matches its own held-out training intervals (no usable "
                             "threshold); the training fold is too small or its flows are noise")
        self.prototypes_ = _subset(protos, keep)
        self.theta_ = {k: float(theta[k]) for k in keep}
        self.responses_ = {k: responses[k] for k in keep if k in responses}
        return self

    # ---- predict

    def predict(self, test: Any) -> pd.DataFrame:
        """Spotted intervals of every test video: video_id, onset, offset (frame numbers), score,
        expression_type."""
        if self.prototypes_ is None:
            raise RuntimeError("fit first")
        samples = test.samples
        extractor = SpotExtractor(self)
        parts = []
        for i in range(len(samples)):
            row = samples.iloc[i]
            value = test.features(extractor, row) if hasattr(test, "features") else extractor(test, row)
            fps = float(row["fps"])
            parts.append(pd.DataFrame({
                "video_id": [row["video_id"]] * len(value["onset"]),
                "onset": np.asarray(value["onset"], dtype=np.int64),
                "offset": np.asarray(value["offset"], dtype=np.int64),
                "score": np.asarray(value["score"], dtype=np.float64),
                "expression_type": [expression_type(a, b, fps, self.micro_max_s)
                                    for a, b in zip(value["onset"], value["offset"])],
            }))
        if not parts:
            return _empty()
        out = pd.concat(parts, ignore_index=True)
        return out if len(out) else _empty()

    def spot_source(self, source: FrameSource, fps: float, where: str = "video") -> list[Peak]:
        """The adaptive sliding windows (eq. 19-20) over one video; peaks in video positions."""
        assert self.prototypes_ is not None
        protos = self.prototypes_
        keys = protos.keys
        n = len(source)
        window = max(2, int(round(self.window_s * fps)))
        m = max(1, int(round(self.peak_radius_s * fps)))
        landmarker = self._landmarker()
        found: list[Peak] = []
        start = 0
        faces = FaceTracker(source, landmarker, where)
        with thread_pool(self.threads) as pool:
            while n - start >= 2:
                stop = min(start + window, n)
                source.keep(start, stop)
                landmarks = faces.at(start, stop)
                if landmarks is None:  # no face anywhere in this window yet: the next one
                    if stop >= n:
                        break
                    start = next_start(start, window, [])
                    continue
                rois = window_rois(source.get(start), landmarks, self.config)
                curves = window_features(source, start, stop, rois, protos, self.config, pool).T
                curves = lowpass_clip(curves, fps, self.lowpass_hz)
                peaks = spot_curves(curves, keys, self.theta_, m, self.delta, self.bounds, self.edge,
                                    cut_at_end=stop < n)
                for p in peaks:
                    found.append(Peak(p.start + start, p.end + start, p.apex + start, p.score, p.keys))
                if self.verbose:
                    print(f"{where}: window {start}..{stop - 1}: {len(peaks)} interval(s)")
                if stop >= n and not peaks:
                    break
                start = next_start(start, window, peaks)
        faces.finish()
        source.keep(0, 0)
        return found


def _subset(protos: Prototypes, keys: Sequence[str]) -> Prototypes:
    keep = [protos.keys.index(k) for k in keys]
    regions = tuple(protos.regions[i] for i in keep)
    eye = [protos.field(protos.keys[i]) for i in keep if protos.regions[i] == "eye"]
    mouth = [protos.field(protos.keys[i]) for i in keep if protos.regions[i] == "mouth"]
    return Prototypes(tuple(keys), regions, tuple(protos.counts[i] for i in keep),
                      np.stack(eye) if eye else np.zeros((0, *protos.eye.shape[1:]), np.float32),
                      np.stack(mouth) if mouth else np.zeros((0, *protos.mouth.shape[1:]), np.float32),
                      protos.pixel_weight)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"video_id": pd.Series(dtype=object), "onset": pd.Series(dtype=np.int64),
                         "offset": pd.Series(dtype=np.int64), "score": pd.Series(dtype=np.float64),
                         "expression_type": pd.Series(dtype=object)})
