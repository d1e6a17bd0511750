"""`flow-svm`: onset -> apex optical flow (Farneback), histograms of flow orientation per face region, linear SVM.

The classic hand-crafted flow baseline of micro-expression recognition (HOOF / MDMO family) in its plainest form
(DESIGN.md section 8):

- Alignment: as ``lbptop-svm`` (``mebench.baselines.lbptop.load_aligned``): dlib's 68 landmarks on the ONSET frame
  (``mebench.baselines.face``), one similarity transform (eye centres + mouth centre onto a template), the onset and
  APEX frames warped into the same ``size`` x ``size`` crop (default 150). A missing apex (CASME II's '/') is the
  middle of onset..offset.
- Flow: dense Farneback flow onset -> apex on the aligned crop (``cv2.calcOpticalFlowFarneback`` with
  ``mebench.baselines.flow.FarnebackParams``: OpenCV's example values 0.5, 3 levels, window 15, 3 iterations,
  poly_n 5, sigma 1.2). Head motion is removed by subtracting the median flow of the crop (``remove_global``):
  an expression moves a minority of the face.
- Histograms (``flow_histograms``): the direction of each pixel's flow, as an angle with y pointing UP (0 = image
  right, 90 degrees = up, 180 = left, 270 = down), falls into ``bins`` (default 8) orientation bins, linearly
  shared between the two nearest bin centres; each pixel adds its flow magnitude; each region's histogram is the
  SUM divided by the region's pixel count (mean magnitude per direction, in crop pixels: not normalised to 1, so
  that a region that does not move scores near 0 and one that moves a lot scores high).
- Regions (``regions``): ``grid`` (default): ``grid`` = 5 x 5 blocks of the aligned crop, as LBP-TOP; or
  ``landmarks``: seven boxes around the aligned landmarks - both brows (17-21, 22-26; up to 0.35 IOD above for the
  forehead), both eyes (36-41, 42-47; 0.15 IOD around, lower lids and cheek raise included), the nose (27-35), the
  mouth (48-67; 0.25 IOD around) and the chin (5-11, from the lower lip down).
- Classifier: as ``lbptop-svm`` (``LinearSvmHead``): z-scores fitted on the training fold, ``LinearSVC(C=1000)``
  one-vs-rest; one binary LinearSVC per class for multi-label / AU protocols.

Features go through the feature cache (``FlowExtractor``, name ``flow-hist``); the harness fills the cache before the
folds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Sequence

import cv2
import numpy as np

from mebench.baselines.face import Landmarker
from mebench.baselines.flow import FarnebackParams
from mebench.baselines.lbptop import TEMPLATE, _landmarker_name, _SvmModel, load_aligned

__all__ = ["FlowExtractor", "FlowSvm", "REGIONS", "flow_histograms", "grid_regions", "landmark_regions",
           "onset_apex_flow", "orientation_histograms"]

REGIONS = ("grid", "landmarks")
LANDMARK_ROIS = ("right_brow", "left_brow", "right_eye", "left_eye", "nose", "mouth", "chin")


# --------------------------------------------------------------------------------------------------- histograms


def orientation_histograms(flow: np.ndarray, labels: np.ndarray, n_regions: int, bins: int = 8) -> np.ndarray:
    """Magnitude-weighted orientation histograms of a flow field (h, w, 2) (u right, v down) per region.

    `labels` (h, w) int gives each pixel's region (0..n_regions-1; negative = in none). Angle = atan2(-v, u) in
    [0, 2 pi) (y up), bin i centred on 2 pi i / bins, each pixel's magnitude split linearly between its two nearest
    bins. Returns (n_regions, bins): the sums divided by each region's pixel count."""
    flow = np.asarray(flow, dtype=np.float64)
    u, v = flow[..., 0].ravel(), flow[..., 1].ravel()
    lab = np.asarray(labels).ravel().astype(np.int64)
    keep = lab >= 0
    u, v, lab = u[keep], v[keep], lab[keep]
    mag = np.hypot(u, v)
    pos = (np.arctan2(-v, u) % (2 * np.pi)) / (2 * np.pi / bins)
    lo = np.floor(pos).astype(np.int64)
    w = pos - lo
    lo %= bins
    hi = (lo + 1) % bins
    size = n_regions * bins
    hist = np.bincount(lab * bins + lo, weights=mag * (1 - w), minlength=size)
    hist += np.bincount(lab * bins + hi, weights=mag * w, minlength=size)
    counts = np.bincount(lab, minlength=n_regions).astype(np.float64)
    return hist.reshape(n_regions, bins) / np.maximum(counts, 1.0)[:, None]


def grid_regions(shape: tuple[int, int], grid: Sequence[int] = (5, 5)) -> np.ndarray:
    """(h, w) region ids of a rows x cols grid, row-major (np.linspace edges)."""
    h, w = int(shape[0]), int(shape[1])
    gy, gx = int(grid[0]), int(grid[1])
    ye = np.round(np.linspace(0, h, gy + 1)).astype(np.int64)
    xe = np.round(np.linspace(0, w, gx + 1)).astype(np.int64)
    rows = np.searchsorted(ye, np.arange(h), side="right") - 1
    cols = np.searchsorted(xe, np.arange(w), side="right") - 1
    return rows[:, None] * gx + cols[None, :]


def landmark_regions(landmarks: np.ndarray, size: int) -> list[tuple[int, int, int, int]]:
    """The seven ``LANDMARK_ROIS`` boxes (x0, y0, x1, y1), integer pixels clipped to the size x size crop, from
    landmarks in crop coordinates. Without landmarks (NaN: no face found), boxes placed on the template's anchors."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
        return _template_boxes(size)
    iod = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))) or 0.36 * size

    def box(points: np.ndarray, left: float, up: float, right: float, down: float) -> tuple[int, int, int, int]:
        x0, y0 = points.min(0)
        x1, y1 = points.max(0)
        out = (x0 - left * iod, y0 - up * iod, x1 + right * iod, y1 + down * iod)
        x0, y0, x1, y1 = (int(round(min(max(c, 0.0), float(size)))) for c in out)
        return (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))

    return [
        box(lm[17:22], 0.1, 0.35, 0.05, 0.1),
        box(lm[22:27], 0.05, 0.35, 0.1, 0.1),
        box(lm[36:42], 0.15, 0.15, 0.15, 0.25),
        box(lm[42:48], 0.15, 0.15, 0.15, 0.25),
        box(lm[27:36], 0.1, 0.0, 0.1, 0.05),
        box(lm[48:68], 0.25, 0.15, 0.25, 0.2),
        box(np.vstack([lm[5:12], lm[57:58]]), 0.0, 0.0, 0.0, 0.0),
    ]


def _template_boxes(size: int) -> list[tuple[int, int, int, int]]:
    """``LANDMARK_ROIS`` boxes placed on the template anchors (a clip without a detected face)."""
    (rx, ry), (lx, ly), (mx, my) = TEMPLATE * float(size)
    d = lx - rx
    cx = (rx + lx) / 2
    boxes = [(rx - 0.45 * d, ry - 0.75 * d, rx + 0.4 * d, ry - 0.15 * d),
             (lx - 0.4 * d, ly - 0.75 * d, lx + 0.45 * d, ly - 0.15 * d),
             (rx - 0.35 * d, ry - 0.2 * d, rx + 0.35 * d, ry + 0.3 * d),
             (lx - 0.35 * d, ly - 0.2 * d, lx + 0.35 * d, ly + 0.3 * d),
             (cx - 0.3 * d, ry, cx + 0.3 * d, my - 0.25 * d),
             (mx - 0.6 * d, my - 0.3 * d, mx + 0.6 * d, my + 0.3 * d),
             (mx - 0.5 * d, my + 0.2 * d, mx + 0.5 * d, my + 0.75 * d)]
    out = []
    for box in boxes:
        x0, y0, x1, y1 = (int(round(min(max(c, 0.0), float(size)))) for c in box)
        out.append((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)))
    return out


def flow_histograms(flow: np.ndarray, *, regions: str = "grid", grid: Sequence[int] = (5, 5), bins: int = 8,
                    landmarks: np.ndarray | None = None, remove_global: bool = True) -> np.ndarray:
    """The flow-svm feature vector of one flow field (h, w, 2): per region (``grid`` blocks row-major, or the
    ``landmarks`` boxes of ``LANDMARK_ROIS``), ``orientation_histograms`` concatenated; `remove_global` first
    subtracts the field's median flow (head motion)."""
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (h, w, 2), got shape {flow.shape}")
    if remove_global:
        flow = flow - np.median(flow.reshape(-1, 2), axis=0)
    h, w = flow.shape[:2]
    if regions == "grid":
        labels = grid_regions((h, w), grid)
        return orientation_histograms(flow, labels, int(grid[0]) * int(grid[1]), bins).ravel()
    if regions == "landmarks":
        if h != w:
            raise ValueError("landmark regions need the square aligned crop")
        parts = []
        for x0, y0, x1, y1 in landmark_regions(landmarks if landmarks is not None else np.full((68, 2), np.nan), h):
            sub = flow[y0:y1, x0:x1]
            parts.append(orientation_histograms(sub, np.zeros(sub.shape[:2], dtype=np.int64), 1, bins))
        return np.concatenate(parts, axis=0).ravel()
    raise ValueError(f"regions must be one of {', '.join(REGIONS)}, got {regions!r}")


def onset_apex_flow(onset: np.ndarray, apex: np.ndarray, params: FarnebackParams = FarnebackParams()) -> np.ndarray:
    """Dense Farneback flow (h, w, 2) float32 from the onset to the apex frame (grey uint8, same size)."""
    return cv2.calcOpticalFlowFarneback(np.ascontiguousarray(onset), np.ascontiguousarray(apex), None, *params.args())


# ------------------------------------------------------------------------------------------------------ extractor


@dataclass(frozen=True)
class FlowExtractor:
    """The feature extractor (``mebench.cache.Extractor``): one row -> its onset -> apex flow histograms.

    Returns the float32 vector (cached as ``.npy``). Reads only timing and media columns."""

    size: int = 150
    regions: str = "grid"
    grid: tuple[int, int] = (5, 5)
    bins: int = 8
    remove_global: bool = True
    farneback: FarnebackParams = field(default_factory=FarnebackParams)
    landmarker: Any = field(default=None, compare=False)
    name: str = "flow-hist"
    version: str = "1"
    # the media it reads (mebench.cache: only these are hashed into the cache key; 4DME rows also carry mesh and
    # Kinect folders the extractor never opens)
    media_columns: ClassVar[tuple[str, ...]] = ("frames_dir", "grey_path")

    def __post_init__(self) -> None:
        if self.regions not in REGIONS:
            raise ValueError(f"regions must be one of {', '.join(REGIONS)}, got {self.regions!r}")

    @property
    def params(self) -> dict[str, Any]:
        return {"size": int(self.size), "regions": self.regions, "grid": list(self.grid), "bins": int(self.bins),
                "remove_global": bool(self.remove_global), "farneback": asdict(self.farneback),
                "segment": "onset-apex", "weights": "magnitude, mean per region pixel",
                "align": "similarity: eye centres + mouth centre -> template", "template": TEMPLATE.tolist(),
                "landmarks": _landmarker_name(self.landmarker)}

    @property
    def length(self) -> int:
        n = int(self.grid[0]) * int(self.grid[1]) if self.regions == "grid" else len(LANDMARK_ROIS)
        return n * int(self.bins)

    def __call__(self, view: Any, row: Any) -> np.ndarray:
        clip = load_aligned(view, row, size=int(self.size), segment="onset-apex", landmarker=self.landmarker)
        flow = onset_apex_flow(clip.frames[0], clip.frames[-1], self.farneback)
        vector = flow_histograms(flow, regions=self.regions, grid=self.grid, bins=int(self.bins),
                                 landmarks=clip.landmarks, remove_global=self.remove_global)
        return vector.astype(np.float32)


class FlowSvm(_SvmModel):
    """``flow-svm``: onset -> apex Farneback flow on the aligned face, magnitude-weighted orientation histograms per
    region, standardisation + LinearSVC(C=1000) one-vs-rest (see the module docstring)."""

    name = "flow-svm"
    version = "1.0.0"
    tasks = ("recognition", "multilabel", "au-detection")

    def __init__(self, seed: int = 0, C: float = 1000.0, regions: str = "grid", grid: Sequence[int] = (5, 5),
                 bins: int = 8, size: int = 150, remove_global: bool = True, standardise: bool = True,
                 class_weight: str | None = None, max_iter: int = 10000, landmarker: Landmarker | None = None) -> None:
        super().__init__(C, standardise, class_weight, max_iter, seed)
        self._extractor = FlowExtractor(size=int(size), regions=str(regions), grid=tuple(int(g) for g in grid),
                                        bins=int(bins), remove_global=bool(remove_global), landmarker=landmarker)

    @property
    def extractor(self) -> FlowExtractor:
        return self._extractor

    def get_params(self) -> dict[str, Any]:
        e = self._extractor
        return {**e.params, "features": e.length, **self._head_params()}
