"""`lbptop-svm`: LBP-TOP on 5 x 5 blocks + a linear SVM, the 2-D baseline of seed 004 (4DME, section 5.1.1).

What seed 004 says (section 5.1.1, "Preprocessing" and "Approach 1 LBP-TOP"), and what mebench does:

- Registration: "we align all the faces to one pre-defined template face by using 68 facial landmarks ... Then the
  face region are cropped to the size of 150 x 150 pixels according to the eye-coordinates." Here: dlib's 68
  landmarks on the clip's ONSET frame (``mebench.baselines.face.detect_landmarks``); one similarity transform
  (rotation, scale, translation; least squares, ``similarity``) maps three anchors computed from them - the two eye
  centres (means of landmarks 36-41 and 42-47) and the mouth centre (mean of 48-67) - onto a fixed template in a
  150 x 150 crop (``TEMPLATE``: eyes at (0.32, 0.33) and (0.68, 0.33) of the crop, mouth centre at (0.5, 0.71);
  the paper does not publish its template face), and every frame of the clip is warped with that one transform
  (bilinear, borders replicated). The paper's template is a 68-point face; ours has three points derived from the
  68, which fixes the eye coordinates as the paper's crop does.
- Temporal normalisation: the paper states none for LBP-TOP. It interpolates clips to a fixed length of 10 frames
  with TIM (temporal interpolation model, its ref. [33]) only for its Res3D baselines. Here the clip from ONSET to
  OFFSET is resampled to ``n_frames`` (default 10, the paper's TIM length) by LINEAR interpolation between the two
  nearest frames (``temporal_normalise``), not TIM; every clip then has the same length, so the XT/YT codes see
  the same temporal scale whatever the clip's duration (CASME II: 200 fps, 30-100 frames from onset to offset).
- LBP-TOP (Zhao and Pietikainen, the paper's ref. [81]): "all facial images are first divided into 5 x 5 blocks,
  then LBP-TOP features are computed for each block and concatenated from the three orthogonal planes (XY, XT and
  YT) ... the radii in axes (X, Y, T) are set to (1, 1, 2). The number of neighboring points in the XY, XT and YT
  planes are set to 8. The features of all blocks are concatenated as one vector". Here exactly that (``lbp_top``):
  codes by ``skimage.feature.local_binary_pattern`` on every XY, XT and YT slice; XT and YT use the elliptical
  neighbourhood (R_X, R_T) = (1, 2) and (R_Y, R_T) = (1, 2) of LBP-TOP, obtained EXACTLY from skimage's circular
  operator by stretching the short-radius axis with linear interpolation (``plane_codes``); codes are counted at
  the voxels whose whole neighbourhood lies inside the volume (borders excluded), in each spatial block, one
  histogram per (block, plane), each normalised to sum 1 (the paper does not say; the usual LBP-TOP histogram).
- Patterns: the paper does not say. ``method`` picks skimage's coding: the model's default is ``nri_uniform``, the
  uniform patterns (u2, 59 bins for P = 8) of Zhao and Pietikainen's LBP-TOP, which keep the direction of an edge
  or a motion (what the XT/YT planes are for): 25 blocks x 3 planes x 59 = 4425 features; ``uniform``
  (rotation-invariant riu2, P + 2 = 10 bins, 750 features) is ``lbp_top``'s own default and available with
  ``--param method=uniform``.
- Classifier: "a one-vs-rest Linear SVM which is trained as a classifier for each emotion or AU category. The
  classification penalty factor C is set to 1000." Here: scikit-learn's ``LinearSVC(C=1000)`` (one-vs-rest, squared
  hinge, liblinear), after standardising every feature with the mean and deviation of the TRAINING fold only
  (the paper does not say; C = 1000 on raw histograms of values ~1e-3 would be a different regulariser per
  dataset). Multi-label protocols (4DME emotions, AU detection) get one binary LinearSVC per class column, as the
  paper; a class that is all 0 (or all 1) in the training fold is predicted constant.

No face found on the onset frame (nor on the middle frame of the clip): the clip's central square is used instead,
with a warning naming the clip, so that one bad clip does not stop a run.

Features go through the feature cache (``LbpTopExtractor``, name ``lbptop``): the harness fills the cache for every
selected row before the folds (``extractors``), a second run reads them back.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import cv2
import numpy as np
import pandas as pd

from mebench.baselines.face import DlibLandmarker, Landmarker
from mebench.errors import InputError

__all__ = [
    "METHODS", "TEMPLATE", "LbpTopExtractor", "LbpTopSvm", "LinearSvmHead", "AlignedClip", "align_matrix",
    "clip_frame_paths", "clip_numbers", "lbp_top", "lbp_top_codes", "lbp_top_length", "load_aligned", "n_bins",
    "plane_codes", "similarity", "temporal_normalise", "warp_frames",
]

METHODS = ("default", "ror", "uniform", "nri_uniform")

# Template anchors as fractions of the crop side (x, y): subject's right eye centre (image left), left eye centre,
# mouth centre. Inter-ocular distance 0.36 of the side (54 px at 150): forehead above the brows and the chin fit.
TEMPLATE = np.array([[0.32, 0.33], [0.68, 0.33], [0.50, 0.71]], dtype=np.float64)
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))
MOUTH = tuple(range(48, 68))


# ------------------------------------------------------------------------------------------------------- LBP-TOP


def n_bins(P: int, method: str) -> int:
    """Histogram length of one plane for `P` neighbours under skimage's `method`."""
    P = int(P)
    if method in ("default", "ror"):
        return 2 ** P
    if method == "uniform":
        return P + 2
    if method == "nri_uniform":
        return P * (P - 1) + 3
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def lbp_top_length(blocks: Sequence[int] = (5, 5), neighbours: Sequence[int] = (8, 8, 8),
                   method: str = "uniform") -> int:
    """Length of the ``lbp_top`` vector: blocks x (bins of XY + bins of XT + bins of YT)."""
    return int(blocks[0]) * int(blocks[1]) * sum(n_bins(p, method) for p in neighbours)


def _radius(value: Any, what: str) -> int:
    r = float(value)
    if r < 1 or not r.is_integer():
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(r)


def _stretch(slices: np.ndarray, axis: int, k: int) -> np.ndarray:
    """Linear up-sampling of `slices` along `axis` by the integer factor k, times k (so integers stay integers):
    sample j*k + m (0 <= m < k) is (k - m) * a[j] + m * a[j + 1]."""
    if k == 1:
        return slices
    a = np.moveaxis(slices, axis, -1).astype(np.int64)
    n = a.shape[-1]
    m = np.arange(k, dtype=np.int64)
    body = (k - m) * a[..., :-1, None] + m * a[..., 1:, None]  # (..., n-1, k)
    body = body.reshape(*a.shape[:-1], (n - 1) * k)
    out = np.concatenate([body, k * a[..., -1:]], axis=-1)
    return np.moveaxis(out, -1, axis)


def plane_codes(slices: np.ndarray, row_radius: int, col_radius: int, P: int, method: str) -> np.ndarray:
    """LBP codes of every pixel of a stack of 2-D slices (N, A, B) with an elliptical neighbourhood: `P` points
    at (row - row_radius * sin(2 pi i / P), col + col_radius * cos(2 pi i / P)), bilinear interpolation, i.e.
    skimage's operator with a different radius per axis. Returns (N, A, B) int64 codes; values are meaningful
    where the neighbourhood lies inside its slice (row_radius <= row < A - row_radius, same for columns).

    How: with R = lcm(row_radius, col_radius), each slice is stretched by k_r = R / row_radius along its rows and
    k_c = R / col_radius along its columns with linear interpolation, then skimage's circular operator of radius R
    runs once on all stretched slices stacked (a seam only reaches pixels within the radius of a slice's edge, which
    are not meaningful anyway), and the codes are read back at the original pixels. Linear up-sampling by an integer
    factor keeps the bilinear interpolant unchanged, so the samples are exactly those of the elliptical operator."""
    from skimage.feature import local_binary_pattern

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    stack = np.asarray(slices)
    if stack.ndim != 3:
        raise ValueError(f"slices must be (N, A, B), got shape {stack.shape}")
    rr, rc = _radius(row_radius, "row radius"), _radius(col_radius, "column radius")
    R = math.lcm(rr, rc)
    kr, kc = R // rr, R // rc
    n, a, b = stack.shape
    if n == 0 or a == 0 or b == 0:
        return np.zeros(stack.shape, dtype=np.int64)
    work = _stretch(_stretch(stack, 1, kr), 2, kc) if (kr > 1 or kc > 1) else stack
    if not np.issubdtype(work.dtype, np.integer):
        raise ValueError(f"LBP needs an integer image (uint8 frames), got {work.dtype}")
    a2, b2 = work.shape[1], work.shape[2]
    flat = np.ascontiguousarray(work.reshape(n * a2, b2))
    if flat.dtype != np.uint8:
        flat = flat.astype(np.int32)  # stretched values are k_r k_c times the grey levels: exact integers
    codes = local_binary_pattern(flat, int(P), float(R), method)
    codes = codes.reshape(n, a2, b2)[:, ::kr, ::kc]
    return codes.astype(np.int64)


def _volume(volume: Any) -> np.ndarray:
    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise ValueError(f"volume must be (T, H, W) grey frames, got shape {vol.shape}")
    if vol.dtype != np.uint8:
        if not np.issubdtype(vol.dtype, np.integer) or vol.min(initial=0) < 0 or vol.max(initial=0) > 255:
            raise ValueError(f"volume must be uint8 (0..255), got {vol.dtype}")
        vol = vol.astype(np.uint8)
    return vol


def lbp_top_codes(volume: Any, radii: Sequence[int] = (1, 1, 2), neighbours: Sequence[int] = (8, 8, 8),
                  method: str = "uniform") -> dict[str, np.ndarray]:
    """The LBP codes of every voxel of a (T, H, W) uint8 volume on its three orthogonal planes: ``xy`` (each frame;
    radii (R_X, R_Y), P_XY), ``xt`` (each row y: the (T, W) slice; radii (R_X, R_T), P_XT) and ``yt`` (each column
    x: the (T, H) slice; radii (R_Y, R_T), P_YT), each (T, H, W) int64, plus ``interior``: the slices (t, y, x) of
    the voxels whose three neighbourhoods lie inside the volume (R_T <= t < T - R_T, and so on)."""
    vol = _volume(volume)
    if len(radii) != 3 or len(neighbours) != 3:
        raise ValueError("radii and neighbours are (X, Y, T) and (XY, XT, YT) triples")
    rx, ry, rt = (_radius(r, name) for r, name in zip(radii, ("R_X", "R_Y", "R_T")))
    pxy, pxt, pyt = (int(p) for p in neighbours)
    T, H, W = vol.shape
    if T <= 2 * rt or H <= 2 * ry or W <= 2 * rx:
        raise ValueError(f"volume {vol.shape} too small for radii (X, Y, T) = {(rx, ry, rt)}: it needs more than "
                         f"{2 * rt} frames and more than {2 * ry} x {2 * rx} pixels")
    xy = plane_codes(vol, ry, rx, pxy, method)  # slices over t: rows y, columns x
    xt = plane_codes(vol.transpose(1, 0, 2), rt, rx, pxt, method).transpose(1, 0, 2)  # over y: rows t, columns x
    yt = plane_codes(vol.transpose(2, 0, 1), rt, ry, pyt, method).transpose(1, 2, 0)  # over x: rows t, columns y
    interior = (slice(rt, T - rt), slice(ry, H - ry), slice(rx, W - rx))
    return {"xy": xy, "xt": xt, "yt": yt, "interior": interior}  # type: ignore[dict-item]


def _edges(n: int, parts: int) -> np.ndarray:
    return np.round(np.linspace(0, n, int(parts) + 1)).astype(np.int64)


def lbp_top(volume: Any, blocks: Sequence[int] = (5, 5), radii: Sequence[int] = (1, 1, 2),
            neighbours: Sequence[int] = (8, 8, 8), method: str = "uniform", normalise: bool = True) -> np.ndarray:
    """LBP-TOP of a (T, H, W) uint8 volume (seed 004 section 5.1.1; Zhao and Pietikainen's LBP-TOP).

    The frame is divided into ``blocks`` = (rows, columns) spatial blocks (np.linspace edges, sizes differ by at
    most one pixel); for each block, row-major, the histograms of the XY, XT and YT codes (``lbp_top_codes``) of
    its interior voxels are concatenated; each (block, plane) histogram sums to 1 with ``normalise``. `radii` are
    (R_X, R_Y, R_T), `neighbours` (P_XY, P_XT, P_YT), `method` one of skimage's ``default``, ``ror``, ``uniform``
    (riu2: P + 2 bins), ``nri_uniform`` (u2: P (P - 1) + 3 bins). Length ``lbp_top_length(blocks, neighbours,
    method)``; float64."""
    codes = lbp_top_codes(volume, radii, neighbours, method)
    by, bx = (int(b) for b in blocks)
    if by < 1 or bx < 1:
        raise ValueError(f"blocks must be positive, got {tuple(blocks)}")
    T, H, W = codes["xy"].shape
    st, sy, sx = codes["interior"]
    ye, xe = _edges(H, by), _edges(W, bx)
    rows = np.searchsorted(ye, np.arange(H), side="right") - 1
    cols = np.searchsorted(xe, np.arange(W), side="right") - 1
    block = (rows[:, None] * bx + cols[None, :])[sy, sx]  # (H', W') block id of each interior pixel
    present = np.bincount(block.ravel(), minlength=by * bx)
    if (present == 0).any():
        raise ValueError(f"a {H} x {W} frame cannot hold {by} x {bx} blocks with interior pixels")
    nb = by * bx
    parts = []
    for plane, P in zip(("xy", "xt", "yt"), neighbours):
        bins = n_bins(int(P), method)
        c = codes[plane][st, sy, sx]
        idx = (block[None, :, :] * bins + c).ravel()
        hist = np.bincount(idx, minlength=nb * bins).reshape(nb, bins).astype(np.float64)
        if normalise:
            hist /= np.maximum(hist.sum(axis=1, keepdims=True), 1.0)
        parts.append(hist)
    return np.concatenate(parts, axis=1).ravel()


# ------------------------------------------------------------------------------------------ alignment and frames


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation; no reflection) mapping points
    `src` (n, 2) onto `dst` (n, 2), as a 2 x 3 matrix (Umeyama's closed form)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    var = (s0 ** 2).sum() / len(src)
    if var <= 1e-12:
        raise ValueError("degenerate landmarks: all anchor points coincide")
    cov = d0.T @ s0 / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1.0
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d)) / var
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = md - scale * rot @ ms
    return matrix


def align_matrix(landmarks: np.ndarray, size: int = 150) -> np.ndarray:
    """The 2 x 3 map from image pixels to the `size` x `size` aligned crop: eye centres and mouth centre of the 68
    landmarks onto ``TEMPLATE`` x size (pixel centres at integer coordinates)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"landmarks must be a finite (68, 2) array, got shape {lm.shape}")
    anchors = np.stack([lm[list(RIGHT_EYE)].mean(0), lm[list(LEFT_EYE)].mean(0), lm[list(MOUTH)].mean(0)])
    return similarity(anchors, TEMPLATE * float(size) - 0.5)


def _centre_matrix(shape: tuple[int, int], size: int) -> np.ndarray:
    """Fallback when no face is found: the image's central square onto the crop."""
    h, w = shape
    side = float(min(h, w))
    s = float(size) / side
    x0, y0 = (w - side) / 2.0, (h - side) / 2.0
    return np.array([[s, 0.0, -x0 * s + 0.5 * s - 0.5], [0.0, s, -y0 * s + 0.5 * s - 0.5]])


def warp_frames(frames: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Every frame of a (T, H, W) uint8 stack warped by the one 2 x 3 `matrix` into size x size (bilinear,
    borders replicated)."""
    out = np.empty((len(frames), int(size), int(size)), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = cv2.warpAffine(np.ascontiguousarray(frame), matrix, (int(size), int(size)), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return out


def temporal_normalise(frames: np.ndarray, n: int) -> np.ndarray:
    """(T, H, W) uint8 -> (n, H, W) uint8 by linear interpolation in time: output frame i is the clip at position
    i (T - 1) / (n - 1), blended from its two nearest frames and rounded. First and last frames are kept."""
    frames = np.asarray(frames)
    n = int(n)
    if n < 1:
        raise ValueError(f"n_frames must be >= 1, got {n}")
    T = len(frames)
    if T == 0:
        raise ValueError("no frames to interpolate")
    if T == 1:
        return np.repeat(frames[:1], n, axis=0)
    if n == 1:
        return frames[:1].copy()
    pos = np.linspace(0.0, T - 1.0, n)
    lo = np.minimum(np.floor(pos).astype(np.int64), T - 2)
    w = (pos - lo)[:, None, None]
    mixed = (1.0 - w) * frames[lo].astype(np.float32) + w * frames[lo + 1].astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _int(value: Any) -> int | None:
    if value is None or value is pd.NA:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else int(round(f))


def clip_frame_paths(view: Any, row: Any) -> list[tuple[int, Path]]:
    """(frame number, file) of a row's per-frame images, sorted: ``frames_dir`` (CASME II, SAMM...), else the
    ``grey_path`` folder (4DME's grey video)."""
    from mebench.views import IMAGE_SUFFIXES, frame_number

    value = row.get("frames_dir") if hasattr(row, "get") else None
    if value is not None and value is not pd.NA and not (isinstance(value, float) and math.isnan(value)) \
            and str(value) != "":
        return view.frame_paths(row)
    grey = view.media.resolve(row.get("grey_path")) if hasattr(row, "get") and "grey_path" in row else None
    if grey is None:
        raise InputError(f"{row.get('sample_id', '?')}: no frames_dir (nor grey_path): the LBP-TOP and flow "
                         "baselines need the clip's frames")
    if not grey.is_dir():
        raise InputError("media folder not found", file=grey)
    files = [(frame_number(p.name), p) for p in grey.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(((n, p) for n, p in files if n is not None), key=lambda item: (item[0], item[1].name))


def clip_numbers(row: Any, available: Sequence[int]) -> tuple[int, int, int]:
    """(onset, apex, offset) frame numbers of a row among the `available` ones: a missing onset is the first frame,
    a missing offset the last, a missing apex (CASME II's '/') the middle of onset..offset; each snapped to the
    nearest available frame; onset <= apex <= offset."""
    nums = np.asarray(sorted(available), dtype=np.int64)
    if not len(nums):
        raise ValueError("no frames")
    onset, apex, offset = (_int(row.get(k)) if hasattr(row, "get") else None for k in ("onset", "apex", "offset"))
    onset = int(nums[0]) if onset is None else onset
    offset = int(nums[-1]) if offset is None else offset
    if offset < onset:
        onset, offset = offset, onset
    apex = (onset + offset) // 2 if apex is None or not onset <= apex <= offset else apex

    def nearest(n: int) -> int:
        return int(nums[np.argmin(np.abs(nums - n))])

    return nearest(onset), nearest(apex), nearest(offset)


def _read_gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError("not a readable image", file=path)
    return image


@dataclass
class AlignedClip:
    """Frames of one clip in the aligned crop: ``frames`` (T, size, size) uint8, the frame ``numbers``, the
    onset-frame ``landmarks`` in crop coordinates (68, 2) (NaN when not detected), ``detected``, and the (onset,
    apex, offset) numbers used."""

    frames: np.ndarray
    numbers: list[int]
    landmarks: np.ndarray
    detected: bool
    timing: tuple[int, int, int]


def load_aligned(view: Any, row: Any, *, size: int = 150, segment: str = "onset-offset",
                 landmarker: Landmarker | None = None) -> AlignedClip:
    """Read a row's frames (``segment``: ``onset-offset`` = every frame from onset to offset; ``onset-apex`` = only
    those two), find the 68 landmarks on the onset frame (``mebench.baselines.face``; the middle frame of the
    segment when the onset has no face; the central square when neither has), and warp them all into the
    size x size aligned crop (``align_matrix``)."""
    paths = dict(clip_frame_paths(view, row))
    if not paths:
        raise InputError(f"{row.get('sample_id', '?')}: no frames in the clip's folder")
    onset, apex, offset = clip_numbers(row, list(paths))
    if segment == "onset-offset":
        numbers = [n for n in sorted(paths) if onset <= n <= offset]
    elif segment == "onset-apex":
        numbers = [onset, apex]
    else:
        raise ValueError(f"segment must be 'onset-offset' or 'onset-apex', got {segment!r}")
    frames = np.stack([_read_gray(paths[n]) for n in numbers])
    landmarker = landmarker or DlibLandmarker()
    where = f"{row.get('sample_id', '?')} frame {{}}"
    points = None
    for pos in dict.fromkeys((0, len(frames) // 2)):
        try:
            points = np.asarray(landmarker(frames[pos], where.format(numbers[pos])), dtype=np.float64)
            break
        except InputError:
            continue
    if points is not None:
        matrix = align_matrix(points, size)
        local = points @ matrix[:, :2].T + matrix[:, 2]
    else:
        warnings.warn(f"{row.get('sample_id', '?')}: no face found by {_landmarker_name(landmarker)} on frames "
                      f"{numbers[0]} and {numbers[len(numbers) // 2]}: the central square of the frame is used",
                      stacklevel=2)
        matrix = _centre_matrix(frames.shape[1:], size)
        local = np.full((68, 2), np.nan)
    return AlignedClip(warp_frames(frames, matrix, size), numbers, local, points is not None, (onset, apex, offset))


def _landmarker_name(landmarker: Landmarker | None) -> str:
    if landmarker is None:
        return f"{DlibLandmarker.name}{DlibLandmarker().upsample}"
    name = getattr(landmarker, "name", None) or type(landmarker).__name__
    upsample = getattr(landmarker, "upsample", None)
    return f"{name}{tuple(upsample)}" if upsample is not None else str(name)


# ------------------------------------------------------------------------------------------------------ extractor


@dataclass(frozen=True)
class LbpTopExtractor:
    """The feature extractor (``mebench.cache.Extractor``): one row -> its LBP-TOP vector.

    Frames onset..offset of the row (``frames_dir``, or 4DME's ``grey_path``) -> aligned size x size crop
    (``load_aligned``) -> ``n_frames`` frames by linear interpolation (``temporal_normalise``) -> ``lbp_top``.
    Returns the float32 vector (cached as ``.npy``). Reads only timing and media columns."""

    blocks: tuple[int, int] = (5, 5)
    radii: tuple[int, int, int] = (1, 1, 2)
    neighbours: tuple[int, int, int] = (8, 8, 8)
    method: str = "nri_uniform"
    size: int = 150
    n_frames: int = 10
    landmarker: Any = field(default=None, compare=False)
    name: str = "lbptop"
    version: str = "1"
    # the media it reads (mebench.cache: only these are hashed into the cache key; 4DME rows also carry mesh and
    # Kinect folders the extractor never opens)
    media_columns: ClassVar[tuple[str, ...]] = ("frames_dir", "grey_path")

    def __post_init__(self) -> None:
        n_bins(self.neighbours[0], self.method)  # checks the method
        if int(self.n_frames) <= 2 * int(self.radii[2]):
            raise ValueError(f"n_frames ({self.n_frames}) must exceed 2 R_T ({2 * int(self.radii[2])})")

    @property
    def params(self) -> dict[str, Any]:
        return {"blocks": list(self.blocks), "radii": list(self.radii), "neighbours": list(self.neighbours),
                "method": self.method, "size": int(self.size), "n_frames": int(self.n_frames),
                "segment": "onset-offset", "temporal": "linear", "normalise": "l1 per block and plane",
                "align": "similarity: eye centres + mouth centre -> template", "template": TEMPLATE.tolist(),
                "landmarks": _landmarker_name(self.landmarker)}

    @property
    def length(self) -> int:
        return lbp_top_length(self.blocks, self.neighbours, self.method)

    def __call__(self, view: Any, row: Any) -> np.ndarray:
        clip = load_aligned(view, row, size=int(self.size), segment="onset-offset", landmarker=self.landmarker)
        volume = temporal_normalise(clip.frames, int(self.n_frames))
        vector = lbp_top(volume, self.blocks, self.radii, self.neighbours, self.method)
        return vector.astype(np.float32)


# ---------------------------------------------------------------------------------------------------- classifier


class _Constant:
    def __init__(self, value: Any) -> None:
        self.value = value

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.array([self.value] * len(x), dtype=object)


class LinearSvmHead:
    """Standardisation fitted on the training features + LinearSVC(C) one-vs-rest (seed 004): one multi-class
    LinearSVC (one-vs-rest) for recognition, one binary LinearSVC per class column for multi-label / AU detection.
    A class column that is constant in the training fold (or a single-class fold) is predicted constant.

    Fewer training rows n than features d (LBP-TOP: 4425 features, a few hundred clips): the SVM is trained on the
    coordinates of the standardised rows in an orthonormal basis Q (d x n, ``numpy.linalg.qr``) of their span, with
    the dual solver. Nothing changes but the time: the weight vector of a linear SVM lies in the span of the
    training rows, so the dual problem (its Gram matrix x_i . x_j + 1, liblinear's bias included) and the decision
    values w . x + b = (Q^T w) . (Q^T x) + b are exactly those of LinearSVC on the d features (equal to ~1e-13;
    ``reduce=False`` fits on the d features), at n instead of d operations per coordinate step."""

    def __init__(self, C: float = 1000.0, standardise: bool = True, class_weight: str | None = None,
                 max_iter: int = 10000, seed: int = 0, reduce: bool = True) -> None:
        self.C = float(C)
        self.standardise = bool(standardise)
        self.class_weight = class_weight
        self.max_iter = int(max_iter)
        self.seed = int(seed)
        self.reduce = bool(reduce)

    def _svm(self) -> Any:
        from sklearn.svm import LinearSVC

        # reduced rows are n x n, for which "auto" would pick the primal solver (which does not converge at
        # C = 1000); the dual solver is what LinearSVC("auto") uses on the d > n original features
        dual: Any = True if self.basis_ is not None else "auto"
        return LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, dual=dual,
                         random_state=self.seed % 2 ** 32)

    def _fit_one(self, x: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.exceptions import ConvergenceWarning

        values = pd.unique(y)
        if len(values) < 2:
            return _Constant(values[0] if len(values) else None)
        svm = self._svm()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svm.fit(x, y)
        return svm

    def _scale(self, x: np.ndarray) -> np.ndarray:
        if self.standardise:
            x = (x - self.mean_) / self.scale_
        return x @ self.basis_ if self.basis_ is not None else x

    def fit(self, x: np.ndarray, labels: pd.Series | pd.DataFrame | Sequence[Any]) -> "LinearSvmHead":
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or not len(x):
            raise ValueError(f"training features must be a non-empty (n, d) matrix, got shape {x.shape}")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        self.basis_ = None
        xs = self._scale(x)
        if self.reduce and len(xs) < xs.shape[1]:
            self.basis_ = np.linalg.qr(xs.T, mode="reduced")[0]  # (d, n) orthonormal basis of the rows' span
            xs = xs @ self.basis_
        if isinstance(labels, pd.DataFrame):
            self.multilabel_ = True
            self.classes_ = [str(c) for c in labels.columns]
            self.models_ = [self._fit_one(xs, labels[c].to_numpy(dtype=np.int64)) for c in labels.columns]
        else:
            y = np.asarray([str(v) for v in list(labels)], dtype=object)
            if len(y) != len(x):
                raise ValueError(f"{len(y)} labels for {len(x)} training rows")
            self.multilabel_ = False
            self.classes_ = sorted(set(y.tolist()))
            self.models_ = [self._fit_one(xs, y)]
        return self

    def predict(self, x: np.ndarray) -> Any:
        x = np.asarray(x, dtype=np.float64)
        if self.multilabel_:
            if not len(x):
                return np.zeros((0, len(self.models_)), dtype=np.int64)
            xs = self._scale(x)
            return np.column_stack([np.asarray(m.predict(xs)).astype(np.int64) for m in self.models_])
        if not len(x):
            return []
        return [str(v) for v in self.models_[0].predict(self._scale(x))]


def _features(view: Any, extractor: Any) -> np.ndarray:
    """Features (n, d) of every row of the view, in order, through the feature cache.

    The rows handed to the cache keep only the columns that identify a feature (``mebench.cache.IDENTITY_FIELDS``
    and ``MEDIA_FIELDS``: the cache key is computed from exactly those, so the entries are the ones the harness
    filled) - all the extractors read - which spares copying ~40 columns per row and fold."""
    from mebench.cache import IDENTITY_FIELDS, MEDIA_FIELDS

    samples = view.samples  # one access: every access copies the frame
    keep = [c for c in samples.columns if c in IDENTITY_FIELDS or c in MEDIA_FIELDS]
    samples = samples[keep]
    rows = []
    for i in range(len(samples)):
        row = samples.iloc[i]
        value = view.features(extractor, row) if hasattr(view, "features") else extractor(view, row)
        rows.append(np.asarray(value, dtype=np.float64).ravel())
    width = rows[0].shape[0] if rows else int(getattr(extractor, "length", 0))
    return np.stack(rows) if rows else np.zeros((0, width))


class _SvmModel:
    """fit/predict of the two SVM baselines: features of the view's rows through the cache + ``LinearSvmHead``."""

    name = "svm"
    version = "1"
    tasks = ("recognition", "multilabel", "au-detection")

    def __init__(self, C: float, standardise: bool, class_weight: str | None, max_iter: int, seed: int) -> None:
        self.C = float(C)
        self.standardise = bool(standardise)
        self.class_weight = class_weight
        self.max_iter = int(max_iter)
        self.seed = int(seed)

    @property
    def extractor(self) -> Any:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def extractors(self) -> list[Any]:
        """What the harness extracts for every selected row before the folds (in parallel, through the cache)."""
        return [self.extractor]

    def _head_params(self) -> dict[str, Any]:
        return {"C": self.C, "classifier": "sklearn LinearSVC one-vs-rest (squared hinge, l2)",
                "standardise": "z-score fitted on the training fold" if self.standardise else None,
                "class_weight": self.class_weight, "max_iter": self.max_iter, "seed": self.seed,
                "multilabel": "one binary LinearSVC per class column"}

    def fit(self, train: Any) -> "_SvmModel":
        x = _features(train, self.extractor)
        self.head_ = LinearSvmHead(self.C, self.standardise, self.class_weight, self.max_iter, self.seed)
        self.head_.fit(x, train.labels)
        return self

    def predict(self, test: Any) -> Any:
        x = _features(test, self.extractor)
        return self.head_.predict(x)


class LbpTopSvm(_SvmModel):
    """``lbptop-svm`` (seed 004 approach 1): LBP-TOP (5 x 5 blocks, radii (1, 1, 2), 8 neighbours per plane) +
    standardisation + LinearSVC(C=1000) one-vs-rest; see the module docstring for every choice."""

    name = "lbptop-svm"
    version = "1.0.0"
    tasks = ("recognition", "multilabel", "au-detection")

    def __init__(self, seed: int = 0, C: float = 1000.0, blocks: Sequence[int] = (5, 5),
                 radii: Sequence[int] = (1, 1, 2), neighbours: Sequence[int] = (8, 8, 8), method: str = "nri_uniform",
                 size: int = 150, n_frames: int = 10, standardise: bool = True, class_weight: str | None = None,
                 max_iter: int = 10000, landmarker: Landmarker | None = None) -> None:
        super().__init__(C, standardise, class_weight, max_iter, seed)
        self._extractor = LbpTopExtractor(blocks=tuple(int(b) for b in blocks), radii=tuple(int(r) for r in radii),
                                          neighbours=tuple(int(p) for p in neighbours), method=str(method),
                                          size=int(size), n_frames=int(n_frames), landmarker=landmarker)

    @property
    def extractor(self) -> LbpTopExtractor:
        return self._extractor

    def get_params(self) -> dict[str, Any]:
        e = self._extractor
        return {**e.params, "features": e.length, **self._head_params()}
