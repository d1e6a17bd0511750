"""`dual-branch`: seed 003's eyes/mouth dual-branch recognizer (Ruan, Lo, Shuai, Cheng, ACM MM 2022), plain torch.

What the paper does (section and equation numbers of seed 003) and what this re-implementation does:

- Input (3.1.1, Fig. 2, 4.3): three grey "frames" stacked as channels: the apex frame (CASME II; on SAMM a frame
  amplified x6 by Learning-Based Motion Magnification), the *On-A* frame (optical flow onset -> apex) and the
  *Off-A* frame (optical flow offset -> apex). Here: ``input="paper"`` gives exactly those three channels, the flow
  frames as flow magnitudes (Farneback, ``cv2.calcOpticalFlowFarneback``); ``input="flow"`` keeps the signed flow
  (apex, u/v onset->apex, u/v offset->apex: 5 channels). LBMM is a learned network we do not ship:
  ``amplify=alpha`` replaces the apex frame by the linear (Eulerian, first-order) magnification
  ``onset + alpha * (apex - onset)``, a stand-in; the default (None) uses the apex frame, the paper's CASME II choice.
- Facial separation (3.1.2): the paper cuts the aligned face in an upper (eyes) and a lower (mouth) half. Here the
  regions are located with dlib's 68 landmarks found on the onset frame (``detect_landmarks``): eyes = brows + eyes,
  mouth = nostril base to below the lower lip (``regions="landmarks"``, default); ``regions="halves"`` is the paper's
  upper/lower half of the landmark face box. Both regions are resized to one fixed size (paper: 112 x 224 each).
- Network (3.3, Table 1): a shared base (ResNet-18 stem + layer1 + layer2) and one branch per region (layer3 +
  layer4, own weights), BasicBlocks; the Shuffle Attention module (SA-Net) with per-group, unshared weights inside
  every block (3.3: "we make our model learn different weights for different groups"). ``config="paper"``: widths
  (64, 128, 256, 512), regions 112 x 224, AWM hidden 1024, batch 128, 100 epochs; ``config="small"`` (CPU demo):
  widths (16, 32, 64, 128), regions 48 x 96, batch 32, 30 epochs.
- Area Weighted Module (3.4, eq. 1-3): X_weight = sigmoid(W2 ReLU(W1 [X_eyes|X_mouth] + b1) + b2), X_F = [X_eyes |
  X_mouth] * X_weight, split back into X_eyes_w and X_mouth_w.
- Classification (3.6, eq. 6-7): one two-layer head per region; class-weighted cross-entropy summed over both heads,
  w_c = max_k n_k / n_c (eq. 6); prediction = argmax of softmax(eyes) + softmax(mouth).
- AU alignment (3.5, eq. 4-5): Weighted Supervised Contrastive loss with pair weights w_ij = |AU_i & AU_j| /
  |AU_i | AU_j| from the TRAIN samples' ground-truth AUs (never read at test time), temperature tau (0.07, SupCon's;
  the paper does not give it), on L2-normalised features of a projection head over X_F (``wscl_on="fused"``: X_F
  itself, as eq. 5 writes). Total loss (eq. 8): (1 - lambda) L_cls + lambda L_wscl, lambda = 0.3.
- Region Replacing (3.2, footnote 2): with probability 0.5 a training sample's mouth region is replaced by the mouth
  region of another TRAINING sample of the same class (drawn from the whole training set); its AU set for WSCL is
  "mixed" (3.5): upper-face AUs (and AUs of neither face half) of the eyes' owner + lower-face AUs of the mouth's.
- Training (4.3): AdamW, lr 3e-3, cosine annealing with warm restarts (T_0 = 10, T_mult = 2, stepped per batch in
  fractional epochs), random horizontal flip and random erasing besides Region Replacing. A fixed epoch count: no
  epoch or model selection on anything but the training fold.

Deterministic for a seed on CPU: seeded torch and numpy generators, ``torch.use_deterministic_algorithms(True)`` and
a fixed number of torch threads while fitting/predicting (both restored afterwards).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np

from mebench.baselines import face as _face
from mebench.baselines.face import landmark_model_path
from mebench.errors import InputError

__all__ = [
    "CONFIGS", "DualBranch", "DualBranchConfig", "DualBranchNet", "RegionExtractor", "LOWER_FACE_AUS",
    "UPPER_FACE_AUS", "au_pair_weights", "class_weights", "detect_landmarks", "landmark_model_path", "mix_aus",
    "region_boxes", "region_replace", "wscl_loss", "weighted_ce",
]

# --------------------------------------------------------------------------------------------------- landmarks

# iBUG / dlib 68-point groups (image coordinates; see mebench.synth.aufields for the numbering)
BROWS = tuple(range(17, 27))
EYES = tuple(range(36, 48))
NOSTRILS = tuple(range(31, 36))
OUTER_LIP = tuple(range(48, 60))
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))


def _gray_u8(image: np.ndarray) -> np.ndarray:
    """uint8 grey (H, W) of a grey or RGB image: the mean of the colour channels, clipped to 0..255."""
    array = np.asarray(image)
    if array.ndim == 3:
        array = array[..., :3].mean(axis=2)
    return np.ascontiguousarray(np.clip(array, 0, 255).astype(np.uint8))


def detect_landmarks(image: np.ndarray, upsample: Sequence[int] = (0, 1)) -> tuple[np.ndarray, str]:
    """dlib's 68 facial landmarks of the largest face in `image`.

    `image`: uint8 grey (H, W) or RGB (H, W, 3). A thin wrapper over ``mebench.baselines.face.detect_landmarks``
    (the HOG frontal face detector at each upsampling level of `upsample` in turn, dlib models loaded once per
    process by face.py) that adds this recognizer's fallback: when no level finds a face (a tightly cropped face, a
    synthetic or tiny image), the shape predictor is run on the whole image as the face box, which suits
    face-cropped datasets (CASME2_Cropped). Returns ``(points, how)``: points a float32 (68, 2) array of (x, y)
    pixels, how ``"detector"`` or ``"whole-image"``. Thread-safe (face.py's dlib lock)."""
    gray = _gray_u8(image)
    try:
        points = _face.detect_landmarks(gray, upsample)
        how = "detector"
    except InputError:  # no face at any level: the predictor on the whole image
        import dlib

        _, predictor = _face._dlib_models()
        h, w = gray.shape
        with _face._DLIB_LOCK:
            shape = predictor(gray, dlib.rectangle(0, 0, int(w) - 1, int(h) - 1))
        points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)
        how = "whole-image"
    return np.asarray(points, dtype=np.float32), how


def _iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[list(RIGHT_EYE)].mean(0) - points[list(LEFT_EYE)].mean(0)))


def _to_aspect(box: tuple[float, float, float, float], aspect: float) -> tuple[float, float, float, float]:
    """Grow the short side of box (x0, y0, x1, y1) around its centre so that width / height == aspect."""
    x0, y0, x1, y1 = box
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def face_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """A square face box from the 68 landmarks: their bounding box, 15 % more above the brows (forehead: AU1/2
    wrinkles), 8 % at the sides and 5 % below the chin."""
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    w, h = x1 - x0, y1 - y0
    box = (x0 - 0.08 * w, y0 - 0.15 * h, x1 + 0.08 * w, y1 + 0.05 * h)
    return _to_aspect(box, 1.0)


def region_boxes(points: np.ndarray, aspect: float = 2.0, mode: str = "landmarks",
                 face: tuple[float, float, float, float] | None = None) -> dict[str, tuple[float, float, float, float]]:
    """The eyes and mouth boxes (x0, y0, x1, y1) in the coordinates of `points`, each grown to width/height = aspect.

    ``mode="landmarks"``: eyes = brows (17-26) + eyes (36-47), 0.3 IOD above the brows (forehead) and 0.35 IOD below
    the lower lids (cheek raise, AU6), 0.1 IOD at the sides; mouth = outer lip (48-59) and nostril base (31-35),
    0.35 IOD at the sides and below (chin, AU17). ``mode="halves"`` (seed 003 section 3.1.2): upper and lower half
    of `face` (default ``face_box(points)``)."""
    points = np.asarray(points, dtype=np.float64)
    if mode == "halves":
        x0, y0, x1, y1 = face if face is not None else face_box(points)
        mid = (y0 + y1) / 2
        return {"eyes": _to_aspect((x0, y0, x1, mid), aspect), "mouth": _to_aspect((x0, mid, x1, y1), aspect)}
    if mode != "landmarks":
        raise ValueError(f"regions must be 'landmarks' or 'halves', not {mode!r}")
    d = max(_iod(points), 1.0)
    upper = points[list(BROWS) + list(EYES)]
    brows, eyes = points[list(BROWS)], points[list(EYES)]
    eyes_box = (upper[:, 0].min() - 0.1 * d, brows[:, 1].min() - 0.3 * d,
                upper[:, 0].max() + 0.1 * d, eyes[:, 1].max() + 0.35 * d)
    lips, nose = points[list(OUTER_LIP)], points[list(NOSTRILS)]
    mouth_box = (lips[:, 0].min() - 0.35 * d, nose[:, 1].min() - 0.05 * d,
                 lips[:, 0].max() + 0.35 * d, lips[:, 1].max() + 0.35 * d)
    return {"eyes": _to_aspect(eyes_box, aspect), "mouth": _to_aspect(mouth_box, aspect)}


def _box_affine(box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """2x3 affine matrix mapping box (x0, y0, x1, y1) onto an image of size (height, width)."""
    x0, y0, x1, y1 = box
    h, w = size
    sx, sy = w / max(x1 - x0, 1e-6), h / max(y1 - y0, 1e-6)
    return np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy]], dtype=np.float64)


def _warp(image: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """Crop box out of image (channels last or 2-D) and resize it to size (h, w); borders replicated."""
    import cv2

    matrix = _box_affine(box, size)
    h, w = size
    planes = image[..., None] if image.ndim == 2 else image
    out = [cv2.warpAffine(np.ascontiguousarray(planes[..., c]), matrix, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE) for c in range(planes.shape[-1])]
    return np.stack(out, axis=-1) if image.ndim == 3 else out[0]


# ------------------------------------------------------------------------------------------------ input features

RAW_CHANNELS = ("apex", "u_on", "v_on", "u_off", "v_off")


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 3:
        return cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    return image


def _farneback(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.calcOpticalFlowFarneback(prev, nxt, None, pyr_scale=0.5, levels=3, winsize=11, iterations=3,
                                        poly_n=5, poly_sigma=1.1, flags=0)


def region_inputs(onset: np.ndarray, apex: np.ndarray, offset: np.ndarray, *, region_size: tuple[int, int],
                  face_size: int = 192, regions: str = "landmarks", amplify: float | None = None,
                  points: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The per-region raw input of one sample from its onset, apex and offset frames (uint8, grey or RGB).

    Landmarks (dlib 68, on the onset frame unless given) give a face box; the three frames are cropped to it and
    resized to face_size x face_size; the apex (or linearly amplified) frame and the Farneback flows onset -> apex
    (On-A) and offset -> apex (Off-A) are computed there; then the eyes and mouth boxes are cut out of that stack and
    resized to region_size (h, w). Returns float32 arrays ``eyes`` and ``mouth`` of shape (5, h, w): channels
    ``RAW_CHANNELS`` = apex grey in [0, 1], On-A u, v and Off-A u, v in face-crop pixels; plus ``landmarks`` (68, 2)
    in the original image and ``detected`` (1 when dlib's detector found the face, 0 for the whole-image fallback).
    """
    g_on, g_apex, g_off = (_gray(np.asarray(f)) for f in (onset, apex, offset))
    if points is None:
        points, how = detect_landmarks(g_on)
    else:
        how = "given"
    face = face_box(points)
    s = int(face_size)
    crops = [_warp(g, face, (s, s)) for g in (g_on, g_apex, g_off)]
    c_on, c_apex, c_off = crops
    if amplify is not None:
        target = np.clip(c_on.astype(np.float32) + float(amplify) * (c_apex.astype(np.float32) - c_on),
                         0, 255).astype(np.uint8)
    else:
        target = c_apex
    flow_on = _farneback(c_on, target)
    flow_off = _farneback(c_off, target)
    stack = np.concatenate([target[..., None].astype(np.float32) / 255.0, flow_on, flow_off], axis=2)
    matrix = _box_affine(face, (s, s))
    local = points.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    aspect = region_size[1] / region_size[0]
    boxes = region_boxes(local, aspect=aspect, mode=regions, face=(0.0, 0.0, float(s), float(s)))
    out = {}
    for name, box in boxes.items():
        crop = _warp(stack, box, region_size)  # flow values stay in face-crop pixels
        out[name] = np.ascontiguousarray(np.transpose(crop, (2, 0, 1)).astype(np.float32))
    out["landmarks"] = points.astype(np.float32)
    out["detected"] = np.array([1 if how == "detector" else 0], dtype=np.int8)
    return out


def _frame_numbers(row: Any, available: Sequence[int]) -> tuple[int, int, int]:
    """Onset, apex, offset frame numbers of a row, completed from the frames present when one is missing:
    onset -> first frame, offset -> last frame, apex -> middle of onset..offset (nearest present frames)."""

    def value(name: str) -> int | None:
        v = row.get(name) if hasattr(row, "get") else None
        try:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            import pandas as pd

            if v is pd.NA:
                return None
            return int(v)
        except (TypeError, ValueError):
            return None

    nums = np.asarray(sorted(available))
    onset, apex, offset = value("onset"), value("apex"), value("offset")
    onset = int(nums[0]) if onset is None else onset
    offset = int(nums[-1]) if offset is None else offset
    if apex is None:
        apex = (onset + offset) // 2

    def nearest(n: int) -> int:
        return int(nums[np.argmin(np.abs(nums - n))])

    return nearest(onset), nearest(apex), nearest(offset)


@dataclass(frozen=True)
class RegionExtractor:
    """The feature extractor (``mebench.cache.Extractor``): one row -> its eyes/mouth raw inputs (region_inputs).

    Pure function of the row's media (onset/apex/offset frames of ``frames_dir``), so results are cached on disk by
    content and shared between folds. Reads only timing and media columns, never labels or AUs."""

    region_size: tuple[int, int] = (48, 96)
    face_size: int = 192
    regions: str = "landmarks"
    amplify: float | None = None
    name: str = "dual-branch-regions"
    version: str = "1"

    @property
    def params(self) -> dict[str, Any]:
        return {"region_size": list(self.region_size), "face_size": self.face_size, "regions": self.regions,
                "amplify": self.amplify, "flow": "farneback(0.5,3,11,3,5,1.1)"}

    def __call__(self, view: Any, row: Any) -> dict[str, np.ndarray]:
        import cv2

        paths = dict(view.frame_paths(row))
        if not paths:
            raise ValueError(f"{row.get('sample_id', '?')}: no frames in frames_dir")
        numbers = _frame_numbers(row, list(paths))
        frames = []
        for n in numbers:
            image = cv2.imread(str(paths[n]), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise ValueError(f"not a readable image: {paths[n]}")
            frames.append(image)
        return region_inputs(*frames, region_size=tuple(self.region_size), face_size=self.face_size,
                             regions=self.regions, amplify=self.amplify)


def model_channels(raw: np.ndarray, mode: str) -> np.ndarray:
    """Network input channels from raw region arrays (..., 5, h, w) (RAW_CHANNELS).

    ``"paper"``: (apex, |On-A|, |Off-A|), the paper's three frames; ``"flow"``: all five raw channels."""
    if mode == "paper":
        on = np.sqrt(raw[..., 1:2, :, :] ** 2 + raw[..., 2:3, :, :] ** 2)
        off = np.sqrt(raw[..., 3:4, :, :] ** 2 + raw[..., 4:5, :, :] ** 2)
        return np.concatenate([raw[..., 0:1, :, :], on, off], axis=-3).astype(np.float32)
    if mode == "flow":
        return raw.astype(np.float32)
    raise ValueError(f"input must be 'paper' or 'flow', not {mode!r}")


def signed_channels(mode: str) -> tuple[int, ...]:
    """Channels that change sign under a horizontal flip (horizontal flow components)."""
    return (1, 3) if mode == "flow" else ()


# --------------------------------------------------------------------------------------------- losses and weights

UPPER_FACE_AUS = frozenset({1, 2, 4, 5, 6, 7, 41, 42, 43, 44, 45, 46, 61, 62, 63, 64})
LOWER_FACE_AUS = frozenset({9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 23, 24, 25, 26, 27, 28, 38, 39})


def _au_set(value: Any) -> frozenset[int]:
    if value is None:
        return frozenset()
    if isinstance(value, float) and math.isnan(value):
        return frozenset()
    if isinstance(value, (set, frozenset, list, tuple)):
        return frozenset(int(a) for a in value)
    return frozenset(int(a) for a in np.asarray(value).ravel().tolist())


def au_pair_weights(aus: Sequence[Iterable[int]]) -> np.ndarray:
    """Seed 003 eq. 4: w_ij = |AU_i & AU_j| / |AU_i | AU_j| for every pair of samples (N x N, float64).

    Vectorised over a multi-hot matrix. Two samples with no AUs at all have an empty union: w_ij = 0 (no evidence
    of similarity), and so does the diagonal of a sample with no AUs."""
    sets = [_au_set(a) for a in aus]
    vocab = sorted(set().union(*sets)) if sets else []
    index = {a: k for k, a in enumerate(vocab)}
    hot = np.zeros((len(sets), len(vocab)), dtype=np.float64)
    for i, s in enumerate(sets):
        for a in s:
            hot[i, index[a]] = 1.0
    inter = hot @ hot.T
    sizes = hot.sum(1)
    union = sizes[:, None] + sizes[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def mix_aus(eyes_owner: Iterable[int], mouth_owner: Iterable[int]) -> frozenset[int]:
    """The AU set of a region-replaced sample (seed 003 3.5, "we mix up the AU labels"): the upper-face AUs of the
    sample whose eyes region is kept, the lower-face AUs of the sample whose mouth region was taken, and AUs of
    neither half (head/eye position codes...) from the eyes' owner."""
    eyes, mouth = _au_set(eyes_owner), _au_set(mouth_owner)
    return frozenset({a for a in eyes if a not in LOWER_FACE_AUS} | {a for a in mouth if a in LOWER_FACE_AUS})


def class_weights(counts: Sequence[float]) -> np.ndarray:
    """Seed 003 eq. 6: w_c = max(n_1, ..., n_C) / n_c. A class with no training sample gets weight 0 (it never
    appears in the loss)."""
    n = np.asarray(counts, dtype=np.float64)
    top = n.max() if n.size else 0.0
    return np.divide(top, n, out=np.zeros_like(n), where=n > 0)


def region_replace(labels: Sequence[Any], batch: Sequence[int], rng: np.random.Generator,
                   p: float = 0.5) -> np.ndarray:
    """Region Replacing (seed 003 3.2): the donor of each batch sample's mouth region.

    `labels` are the whole training set's labels, `batch` the indices of the batch in it. For each batch index i,
    with probability p a donor is drawn uniformly among the OTHER training samples of the same class; otherwise (or
    when i is alone in its class) the donor is i itself. Returns the donor indices (same length as batch)."""
    labels = np.asarray(labels)
    donors = np.asarray(batch, dtype=np.int64).copy()
    draws = rng.random(len(donors))
    for k, i in enumerate(donors.tolist()):
        if draws[k] >= p:
            continue
        same = np.flatnonzero(labels == labels[i])
        same = same[same != i]
        if len(same):
            donors[k] = int(same[rng.integers(len(same))])
    return donors


def weighted_ce(logits: Any, target: Any, weights: Any) -> Any:
    """Seed 003 eq. 7 for one head, divided by N: mean over samples of w_{y_i} * (-log softmax(logits_i)[y_i])."""
    import torch.nn.functional as F

    logp = F.log_softmax(logits, dim=1)
    return -(weights[target] * logp.gather(1, target[:, None]).squeeze(1)).mean()


def wscl_loss(features: Any, pair_weights: Any, tau: float = 0.07) -> Any:
    """Weighted Supervised Contrastive loss, seed 003 eq. 5, averaged over anchors.

    features (N, D) L2-normalised; pair_weights (N, N) from eq. 4. As SupCon (which eq. 5 extends) the anchor is
    left out of its own softmax denominator and of the normaliser: for anchor i,
    L_i = -1 / sum_{k != i} w_ik * sum_{j != i} w_ij log( exp(z_i.z_j / tau) / sum_{k != i} exp(z_i.z_k / tau) ).
    Anchors with no positive weight are skipped; the loss is the mean of L_i over the others (0 if none)."""
    import torch

    n = features.shape[0]
    logits = features @ features.T / tau
    eye = torch.eye(n, dtype=torch.bool, device=features.device)
    logits = logits.masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    log_prob = log_prob.masked_fill(eye, 0.0)
    w = pair_weights.masked_fill(eye, 0.0)
    norm = w.sum(1)
    valid = norm > 0
    if not bool(valid.any()):
        return features.sum() * 0.0
    per_anchor = -(w * log_prob).sum(1)[valid] / norm[valid]
    return per_anchor.mean()


# ---------------------------------------------------------------------------------------------------- the network


def _torch():
    import torch

    return torch


def _build_network_classes():
    import torch
    from torch import nn
    import torch.nn.functional as F

    class ShuffleAttention(nn.Module):
        """SA-Net's shuffle attention (Zhang & Yang 2021) with per-group parameters (seed 003 section 3.3).

        Channels are split into `groups` groups, each into a channel-attention half (global average pool, scale and
        shift, sigmoid gate) and a spatial-attention half (per-channel normalisation, scale and shift, sigmoid
        gate); the halves are concatenated and the channels shuffled. SA-Net shares the scale/shift parameters
        between groups; here every group has its own."""

        def __init__(self, channels: int, groups: int = 8) -> None:
            super().__init__()
            groups = max(1, min(groups, channels // 2))
            while channels % (2 * groups):
                groups -= 1
            self.groups = groups
            half = channels // (2 * groups)
            self.cweight = nn.Parameter(torch.zeros(groups, half))
            self.cbias = nn.Parameter(torch.ones(groups, half))
            self.sweight = nn.Parameter(torch.zeros(groups, half))
            self.sbias = nn.Parameter(torch.ones(groups, half))
            self.half = half

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, c, h, w = x.shape
            g, half = self.groups, self.half
            x = x.reshape(b, g, 2 * half, h, w)
            x0, x1 = x[:, :, :half], x[:, :, half:]
            cw, cb = self.cweight[None, :, :, None, None], self.cbias[None, :, :, None, None]
            sw, sb = self.sweight[None, :, :, None, None], self.sbias[None, :, :, None, None]
            pooled = x0.mean(dim=(3, 4), keepdim=True)
            x0 = x0 * torch.sigmoid(cw * pooled + cb)
            mean = x1.mean(dim=(3, 4), keepdim=True)
            var = x1.var(dim=(3, 4), keepdim=True, unbiased=False)
            normed = (x1 - mean) / torch.sqrt(var + 1e-5)
            x1 = x1 * torch.sigmoid(sw * normed + sb)
            out = torch.cat([x0, x1], dim=2).reshape(b, c, h, w)
            return out.reshape(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)  # channel shuffle

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes: int, planes: int, stride: int = 1, attention: bool = True,
                     groups: int = 8) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.attention = ShuffleAttention(planes, groups) if attention else nn.Identity()
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.attention(self.bn2(self.conv2(out)))
            return F.relu(out + identity)

    def make_layer(inplanes: int, planes: int, blocks: int, stride: int, attention: bool, groups: int):
        layers = [BasicBlock(inplanes, planes, stride, attention, groups)]
        layers += [BasicBlock(planes, planes, 1, attention, groups) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    class DualBranchNet(nn.Module):
        """Shared base (stem + ResNet-18 layer1-2), eyes and mouth branches (layer3-4 each), AWM, two heads and a
        projection head (seed 003 Fig. 1, Table 1, eq. 1-3).

        ``forward(eyes, mouth)`` with eyes/mouth (B, C, H, W) returns a dict: ``eyes_logits``, ``mouth_logits``
        (B, n_classes), ``fused`` X_F (B, 2D), ``weights`` X_weight (B, 2D), ``projection`` (B, proj_dim or 2D)
        L2-normalised, ``eyes``/``mouth`` the branch features before AWM (B, D)."""

        def __init__(self, in_channels: int, n_classes: int, widths: Sequence[int] = (64, 128, 256, 512),
                     blocks: Sequence[int] = (2, 2, 2, 2), awm_hidden: int = 1024, head_hidden: int | None = None,
                     proj_dim: int | None = 128, attention: bool = True, sa_groups: int = 8,
                     use_awm: bool = True) -> None:
            super().__init__()
            w1, w2, w3, w4 = widths
            self.stem = nn.Sequential(nn.Conv2d(in_channels, w1, 7, 2, 3, bias=False), nn.BatchNorm2d(w1),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
            self.base = nn.Sequential(make_layer(w1, w1, blocks[0], 1, attention, sa_groups),
                                      make_layer(w1, w2, blocks[1], 2, attention, sa_groups))

            def branch() -> nn.Module:
                return nn.Sequential(make_layer(w2, w3, blocks[2], 2, attention, sa_groups),
                                     make_layer(w3, w4, blocks[3], 2, attention, sa_groups),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten())

            self.eyes_branch = branch()
            self.mouth_branch = branch()
            self.dim = w4
            self.use_awm = use_awm
            self.awm = nn.Sequential(nn.Linear(2 * w4, awm_hidden), nn.ReLU(inplace=True),
                                     nn.Linear(awm_hidden, 2 * w4))
            hidden = head_hidden or w4
            self.eyes_head = nn.Sequential(nn.Linear(w4, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_classes))
            self.mouth_head = nn.Sequential(nn.Linear(w4, hidden), nn.ReLU(inplace=True),
                                            nn.Linear(hidden, n_classes))
            self.projection = (nn.Sequential(nn.Linear(2 * w4, 2 * w4), nn.ReLU(inplace=True),
                                             nn.Linear(2 * w4, proj_dim)) if proj_dim else nn.Identity())
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(module, nn.BatchNorm2d):
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)

        def region_features(self, x: torch.Tensor, region: str) -> torch.Tensor:
            branch = self.eyes_branch if region == "eyes" else self.mouth_branch
            return branch(self.base(self.stem(x)))

        def forward(self, eyes: torch.Tensor, mouth: torch.Tensor) -> dict[str, torch.Tensor]:
            x_eyes = self.region_features(eyes, "eyes")
            x_mouth = self.region_features(mouth, "mouth")
            concat = torch.cat([x_eyes, x_mouth], dim=1)
            if self.use_awm:
                weights = torch.sigmoid(self.awm(concat))  # eq. 1
            else:
                weights = torch.ones_like(concat)
            fused = concat * weights  # eq. 2
            eyes_w, mouth_w = fused[:, :self.dim], fused[:, self.dim:]  # eq. 3
            return {"eyes_logits": self.eyes_head(eyes_w), "mouth_logits": self.mouth_head(mouth_w),
                    "fused": fused, "weights": weights, "eyes": x_eyes, "mouth": x_mouth,
                    "projection": F.normalize(self.projection(fused), dim=1)}

    return ShuffleAttention, BasicBlock, DualBranchNet


class _Lazy:
    """Network classes built on first use, so importing this module does not import torch."""

    _classes: tuple[Any, Any, Any] | None = None

    @classmethod
    def get(cls) -> tuple[Any, Any, Any]:
        if cls._classes is None:
            cls._classes = _build_network_classes()
        return cls._classes


def DualBranchNet(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - a factory that reads like the class
    """Build the network (see ``_build_network_classes().DualBranchNet`` for the arguments)."""
    return _Lazy.get()[2](*args, **kwargs)


def ShuffleAttention(*args: Any, **kwargs: Any) -> Any:  # noqa: N802
    return _Lazy.get()[0](*args, **kwargs)


# --------------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class DualBranchConfig:
    """Hyper-parameters. ``CONFIGS["paper"]`` is seed 003 section 4.3 / Table 1; ``CONFIGS["small"]`` the CPU demo."""

    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    blocks: tuple[int, int, int, int] = (2, 2, 2, 2)
    region_size: tuple[int, int] = (112, 224)
    face_size: int = 256
    awm_hidden: int = 1024
    head_hidden: int | None = None
    proj_dim: int | None = 128
    attention: bool = True
    sa_groups: int = 8
    epochs: int = 100
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-2
    t0: int = 10
    t_mult: int = 2
    lam: float = 0.3
    tau: float = 0.07
    rr_p: float = 0.5
    flip_p: float = 0.5
    erase_p: float = 0.5
    input: str = "paper"
    regions: str = "landmarks"
    amplify: float | None = None
    wscl_on: str = "projection"
    use_awm: bool = True


CONFIGS: dict[str, DualBranchConfig] = {
    "paper": DualBranchConfig(),
    "small": DualBranchConfig(widths=(16, 32, 64, 128), region_size=(48, 96), face_size=192, awm_hidden=256,
                              proj_dim=64, epochs=30, batch_size=32),
}


# ---------------------------------------------------------------------------------------------------- augmentation


def _random_erasing(batch: np.ndarray, rng: np.random.Generator, p: float, scale: tuple[float, float] = (0.02, 0.33),
                    ratio: tuple[float, float] = (0.3, 3.3)) -> None:
    """In place, torchvision RandomErasing's recipe (value 0 = the channel mean after standardisation)."""
    n, _, h, w = batch.shape
    area = h * w
    for i in range(n):
        if rng.random() >= p:
            continue
        for _ in range(10):
            target = area * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
            eh, ew = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < eh < h and 0 < ew < w:
                y, x = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
                batch[i, :, y:y + eh, x:x + ew] = 0.0
                break


def _flip(batch: np.ndarray, signed: Sequence[int]) -> np.ndarray:
    out = batch[..., ::-1].copy()
    for c in signed:
        out[:, c] *= -1.0
    return out


@contextlib.contextmanager
def _torch_state(threads: int):
    """Deterministic algorithms on and a fixed number of threads inside; the caller's settings restored after."""
    torch = _torch()
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(max(1, int(threads)))
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield torch
    finally:
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.set_num_threads(old_threads)


def _batches(n: int, size: int, order: np.ndarray) -> list[np.ndarray]:
    """Batches of `order`; a last batch of one sample (BatchNorm cannot train on it) joins the one before."""
    chunks = [order[i:i + size] for i in range(0, n, size)]
    if len(chunks) > 1 and len(chunks[-1]) < 2:
        chunks[-2] = np.concatenate([chunks[-2], chunks[-1]])
        chunks.pop()
    return chunks


# ------------------------------------------------------------------------------------------------------- the model


class DualBranch:
    """Seed 003's dual-branch micro-expression recognizer as a mebench model (``fit(train)`` / ``predict(test)``).

    ``DualBranch(seed=0, config="small", epochs=None, threads=1, **overrides)``: `config` is ``"small"`` (CPU demo)
    or ``"paper"`` (seed 003 4.3) or a DualBranchConfig; `epochs` and any DualBranchConfig field given as keyword
    override it. Deterministic for a seed on CPU. ``fit`` reads the train view's frames (through the feature cache)
    and, for WSCL, its ``aus`` column; ``predict`` reads only the test view's frames."""

    name = "dual-branch"
    version = "1.0.0"
    tasks = ("recognition",)

    def __init__(self, seed: int = 0, epochs: int | None = None, config: str | DualBranchConfig = "small",
                 threads: int = 1, verbose: bool = False, **overrides: Any) -> None:
        if isinstance(config, str) and config not in CONFIGS:
            raise ValueError(f"config must be one of {sorted(CONFIGS)}, not {config!r}")
        base = CONFIGS[config] if isinstance(config, str) else config
        if epochs is not None:
            overrides["epochs"] = int(epochs)
        for key in ("widths", "blocks", "region_size"):
            if key in overrides:
                overrides[key] = tuple(overrides[key])
        self.config = replace(base, **overrides)
        self.config_name = config if isinstance(config, str) else "custom"
        self.seed = int(seed)
        self.threads = int(threads)
        self.verbose = verbose
        self.net: Any = None
        self.classes_: list[str] = []
        self.norm_: dict[str, np.ndarray] = {}
        self.history_: list[dict[str, float]] = []

    # ---- parameters the harness records

    def get_params(self) -> dict[str, Any]:
        params = {k: getattr(self.config, k) for k in self.config.__dataclass_fields__}
        return {"seed": self.seed, "config": self.config_name, "threads": self.threads, **params}

    @property
    def extractor(self) -> RegionExtractor:
        c = self.config
        return RegionExtractor(region_size=tuple(c.region_size), face_size=c.face_size, regions=c.regions,
                               amplify=c.amplify)

    def extractors(self) -> list[RegionExtractor]:
        """What the harness extracts for every selected row before the folds (in parallel, through the cache)."""
        return [self.extractor]

    # ---- features

    def _extract(self, view: Any) -> tuple[np.ndarray, np.ndarray]:
        extractor = self.extractor
        eyes, mouth = [], []
        samples = view.samples  # one access: every access of view.samples copies the frame
        for i in range(len(samples)):
            row = samples.iloc[i]
            value = view.features(extractor, row) if hasattr(view, "features") else extractor(view, row)
            eyes.append(np.asarray(value["eyes"], dtype=np.float32))
            mouth.append(np.asarray(value["mouth"], dtype=np.float32))
        return np.stack(eyes), np.stack(mouth)

    def _prepare(self, raw: np.ndarray, region: str, fit: bool) -> np.ndarray:
        """Network channels, standardised with statistics of the TRAINING inputs (signed channels: scale only, so
        that a horizontal flip can negate them)."""
        x = model_channels(raw, self.config.input)
        if fit:
            signed = set(signed_channels(self.config.input))
            mean = x.mean(axis=(0, 2, 3)).astype(np.float64)
            std = x.std(axis=(0, 2, 3)).astype(np.float64)
            for c in signed:
                mean[c] = 0.0
                std[c] = float(np.sqrt((x[:, c] ** 2).mean()))
            std = np.where(std > 1e-8, std, 1.0)
            self.norm_[region] = np.stack([mean, std]).astype(np.float32)
        mean, std = self.norm_[region]
        return ((x - mean[None, :, None, None]) / std[None, :, None, None]).astype(np.float32)

    # ---- fit / predict

    def fit(self, train: Any) -> "DualBranch":
        labels = [str(v) for v in train.labels.tolist()]
        classes = list(getattr(train, "classes", None) or sorted(set(labels)))
        samples = train.samples
        aus = [_au_set(v) for v in samples["aus"].tolist()] if "aus" in samples.columns else None
        eyes_raw, mouth_raw = self._extract(train)
        return self.fit_arrays(eyes_raw, mouth_raw, labels, aus, classes=classes)

    def fit_arrays(self, eyes_raw: np.ndarray, mouth_raw: np.ndarray, labels: Sequence[str],
                   aus: Sequence[Iterable[int]] | None = None, classes: Sequence[str] | None = None) -> "DualBranch":
        """Train on raw region inputs (N, 5, h, w) (``region_inputs``' arrays), labels and the training AUs."""
        c = self.config
        labels = [str(v) for v in labels]
        self.classes_ = list(classes) if classes is not None else sorted(set(labels))
        index = {k: i for i, k in enumerate(self.classes_)}
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise ValueError(f"training labels outside the classes: {unknown}")
        y = np.array([index[v] for v in labels], dtype=np.int64)
        n = len(y)
        if n < 2:
            raise ValueError("dual-branch needs at least 2 training samples")
        aus_sets = [_au_set(a) for a in aus] if aus is not None else None
        eyes = self._prepare(np.asarray(eyes_raw), "eyes", fit=True)
        mouth = self._prepare(np.asarray(mouth_raw), "mouth", fit=True)
        counts = np.bincount(y, minlength=len(self.classes_))
        cw = class_weights(counts)
        signed = signed_channels(c.input)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 3]))
        self.history_ = []
        with _torch_state(self.threads) as torch:
            torch.manual_seed(self.seed)
            net = DualBranchNet(eyes.shape[1], len(self.classes_), widths=c.widths, blocks=c.blocks,
                                awm_hidden=c.awm_hidden, head_hidden=c.head_hidden,
                                proj_dim=c.proj_dim if c.wscl_on == "projection" else None,
                                attention=c.attention, sa_groups=c.sa_groups, use_awm=c.use_awm)
            optimizer = torch.optim.AdamW(net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=c.t0, T_mult=c.t_mult)
            weights_t = torch.tensor(cw, dtype=torch.float32)
            use_wscl = aus_sets is not None and c.lam > 0
            net.train()
            for epoch in range(c.epochs):
                batches = _batches(n, c.batch_size, rng.permutation(n))
                totals = {"loss": 0.0, "cls": 0.0, "wscl": 0.0}
                for b, idx in enumerate(batches):
                    donors = region_replace(y, idx, rng, c.rr_p) if c.rr_p > 0 else idx
                    xe, xm = eyes[idx], mouth[donors]
                    flip = rng.random(len(idx)) < c.flip_p
                    if flip.any():
                        xe, xm = xe.copy(), xm.copy()
                        xe[flip] = _flip(xe[flip], signed)
                        xm[flip] = _flip(xm[flip], signed)
                    if c.erase_p > 0:
                        xe, xm = xe.copy(), xm.copy()
                        _random_erasing(xe, rng, c.erase_p)
                        _random_erasing(xm, rng, c.erase_p)
                    target = torch.from_numpy(y[idx])
                    out = net(torch.from_numpy(np.ascontiguousarray(xe)), torch.from_numpy(np.ascontiguousarray(xm)))
                    loss_cls = weighted_ce(out["eyes_logits"], target, weights_t) + \
                        weighted_ce(out["mouth_logits"], target, weights_t)  # eq. 7 / N
                    if use_wscl:
                        mixed = [mix_aus(aus_sets[i], aus_sets[d]) if d != i else aus_sets[i]
                                 for i, d in zip(idx.tolist(), donors.tolist())]
                        pw = torch.from_numpy(au_pair_weights(mixed).astype(np.float32))
                        z = out["projection"] if c.wscl_on == "projection" else \
                            torch.nn.functional.normalize(out["fused"], dim=1)
                        loss_wscl = wscl_loss(z, pw, c.tau)
                        loss = (1 - c.lam) * loss_cls + c.lam * loss_wscl  # eq. 8
                    else:
                        loss_wscl = torch.zeros(())
                        loss = loss_cls
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step(epoch + (b + 1) / len(batches))
                    k = len(idx) / n
                    totals["loss"] += float(loss.detach()) * k
                    totals["cls"] += float(loss_cls.detach()) * k
                    totals["wscl"] += float(loss_wscl.detach()) * k
                self.history_.append({"epoch": epoch, **totals})
                if self.verbose:
                    print(f"dual-branch epoch {epoch + 1}/{c.epochs}: loss {totals['loss']:.4f} "
                          f"(cls {totals['cls']:.4f}, wscl {totals['wscl']:.4f})")
            net.eval()
        self.net = net
        return self

    def predict(self, test: Any) -> list[str]:
        eyes_raw, mouth_raw = self._extract(test)
        return self.predict_arrays(eyes_raw, mouth_raw)

    def predict_proba_arrays(self, eyes_raw: np.ndarray, mouth_raw: np.ndarray) -> np.ndarray:
        """softmax(eyes head) + softmax(mouth head), halved: (N, n_classes) class scores."""
        if self.net is None:
            raise RuntimeError("DualBranch.predict before fit")
        eyes = self._prepare(np.asarray(eyes_raw), "eyes", fit=False)
        mouth = self._prepare(np.asarray(mouth_raw), "mouth", fit=False)
        scores = []
        with _torch_state(self.threads) as torch, torch.no_grad():
            self.net.eval()
            for start in range(0, len(eyes), 64):
                out = self.net(torch.from_numpy(eyes[start:start + 64]), torch.from_numpy(mouth[start:start + 64]))
                p = torch.softmax(out["eyes_logits"], 1) + torch.softmax(out["mouth_logits"], 1)
                scores.append((p / 2).numpy())
        return np.concatenate(scores) if scores else np.zeros((0, len(self.classes_)), np.float32)

    def predict_arrays(self, eyes_raw: np.ndarray, mouth_raw: np.ndarray) -> list[str]:
        scores = self.predict_proba_arrays(eyes_raw, mouth_raw)
        return [self.classes_[int(k)] for k in scores.argmax(1)]
