"""Faces for the spotting baselines: dlib's 68 landmarks and the eye / mouth regions of interest (seed 002, 2.2).

Landmarks are dlib's / iBUG's 68 points in image coordinates (x right, y down; see ``mebench.synth.aufields`` for
the numbering): 36 is the outer corner of the eye on the image's left, 45 the outer corner on the image's right,
48 / 54 the mouth corners.

Eye region (seed 002, eq. 9-12), with the outer eye corners p_leye = landmark 36 and p_reye = landmark 45 and
d = x_reye - x_leye::

    x_left   = x_leye - g1 * d                     y_top    = (y_leye + y_reye) / 2 - g2 * d
    x_right  = x_reye + g3 * d                     y_bottom = (y_leye + y_reye) / 2 + g4 * d

with gamma = (g1, g2, g3, g4) = (0.2, 0.6, 0.2, 0.6) (section 3.2), normalised (resized) to 280 x 240 (width x
height). The paper gives the mouth region only "as the eye region" and its size, 260 x 160; mebench uses the same
four equations on the mouth corners (landmarks 48 and 54) with gamma_mouth = (0.3, 0.4, 0.3, 0.6): 1.6 d wide and
1.0 d high (the 260 x 160 aspect, 1.625, within 2 %), from the nostril base to below the lower lip so that the chin
raiser (AU17, seed 002 Figure 8) is inside.

A region is cut out and resized in one ``cv2.warpAffine`` (bilinear, border replicated where the box leaves the
image), the same map for every frame of a window.

The detector (HOG frontal face) and the predictor are loaded once per process (``functools.lru_cache``); the model
file is ``shape_predictor_68_face_landmarks.dat`` of the ``face_recognition_models`` package, found with
``importlib.util.find_spec`` without importing that package (its ``__init__`` needs pkg_resources), or
``$MEBENCH_DLIB_68``. No face -> ``InputError``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from mebench.errors import InputError

__all__ = [
    "EYE_GAMMA", "EYE_SIZE", "MOUTH_GAMMA", "MOUTH_SIZE", "Box", "DlibLandmarker", "FixedLandmarker",
    "Landmarker", "crop", "crop_many", "detect_landmarks", "eye_box", "gamma_box", "landmark_model_path",
    "mouth_box", "roi_boxes",
]

EYE_GAMMA = (0.2, 0.6, 0.2, 0.6)
MOUTH_GAMMA = (0.3, 0.4, 0.3, 0.6)
EYE_SIZE = (280, 240)  # (width, height) of the normalised eye region
MOUTH_SIZE = (260, 160)
EYE_CORNERS = (36, 45)  # outer eye corners: image left, image right
MOUTH_CORNERS = (48, 54)
LANDMARK_MODEL = "shape_predictor_68_face_landmarks.dat"
ENV_MODEL = "MEBENCH_DLIB_68"


@dataclass(frozen=True)
class Box:
    """An axis-aligned region in image pixels (floats): left, top, right, bottom."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def affine(self, size: tuple[int, int]) -> np.ndarray:
        """The 2x3 map from image pixels to a (width, height) = `size` output: the box's corners go to the output's
        corners (pixel centres at integer positions, as cv2.resize with align-corners off)."""
        w, h = int(size[0]), int(size[1])
        sx = w / max(self.width, 1e-6)
        sy = h / max(self.height, 1e-6)
        return np.array([[sx, 0.0, -self.x0 * sx + 0.5 * sx - 0.5],
                         [0.0, sy, -self.y0 * sy + 0.5 * sy - 0.5]], dtype=np.float64)


# ------------------------------------------------------------------------------------------------------ geometry


def _check_landmarks(landmarks: Any) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"landmarks must be a finite (68, 2) array of (x, y) pixels, got shape {lm.shape}")
    return lm


def gamma_box(left: Sequence[float], right: Sequence[float], gamma: Sequence[float]) -> Box:
    """Seed 002 eq. 9-12 for two reference points (left = image-left corner, right = image-right corner)."""
    g1, g2, g3, g4 = (float(g) for g in gamma)
    xl, yl = float(left[0]), float(left[1])
    xr, yr = float(right[0]), float(right[1])
    d = xr - xl
    if d <= 0:
        raise ValueError(f"the right reference point ({xr}) must lie right of the left one ({xl})")
    ym = (yl + yr) / 2.0
    return Box(xl - g1 * d, ym - g2 * d, xr + g3 * d, ym + g4 * d)


def eye_box(landmarks: Any, gamma: Sequence[float] = EYE_GAMMA) -> Box:
    """I^EYE from the outer eye corners (landmarks 36, 45), seed 002 eq. 9-12."""
    lm = _check_landmarks(landmarks)
    return gamma_box(lm[EYE_CORNERS[0]], lm[EYE_CORNERS[1]], gamma)


def mouth_box(landmarks: Any, gamma: Sequence[float] = MOUTH_GAMMA) -> Box:
    """I^MTH: eq. 9-12 on the mouth corners (landmarks 48, 54) with gamma_mouth (module docstring)."""
    lm = _check_landmarks(landmarks)
    return gamma_box(lm[MOUTH_CORNERS[0]], lm[MOUTH_CORNERS[1]], gamma)


def roi_boxes(landmarks: Any, eye_gamma: Sequence[float] = EYE_GAMMA,
              mouth_gamma: Sequence[float] = MOUTH_GAMMA) -> tuple[Box, Box]:
    """(eye box, mouth box) of one face."""
    return eye_box(landmarks, eye_gamma), mouth_box(landmarks, mouth_gamma)


def crop(image: np.ndarray, box: Box, size: tuple[int, int]) -> np.ndarray:
    """The region `box` of a grey (H, W) image resized to `size` = (width, height): one bilinear warpAffine."""
    return cv2.warpAffine(np.ascontiguousarray(image), box.affine(size), (int(size[0]), int(size[1])),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_many(images: np.ndarray, box: Box, size: tuple[int, int]) -> np.ndarray:
    """`crop` of every image of a (T, H, W) stack: (T, height, width) uint8."""
    out = np.empty((len(images), int(size[1]), int(size[0])), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = crop(image, box, size)
    return out


# ------------------------------------------------------------------------------------------------------- dlib


def landmark_model_path() -> Path:
    """dlib's 68-point model: ``$MEBENCH_DLIB_68``, else the file shipped by ``face_recognition_models`` (found
    with importlib.util.find_spec; the package is never imported). FileNotFoundError with a clear message."""
    env = os.environ.get(ENV_MODEL)
    if env:
        path = Path(env).expanduser()
        if path.is_file():
            return path
        raise FileNotFoundError(f"{ENV_MODEL}={env}: no such file")
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if spec is not None and not locations and spec.origin:
        locations = [str(Path(spec.origin).parent)]
    for location in locations:
        path = Path(location) / "models" / LANDMARK_MODEL
        if path.is_file():
            return path
    raise FileNotFoundError(f"dlib's {LANDMARK_MODEL} not found: install face-recognition-models (it ships the file "
                            f"under face_recognition_models/models/) or set {ENV_MODEL}")


_DLIB_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any]:
    """(HOG frontal face detector, 68-point shape predictor), loaded once per process."""
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmark_model_path()))


def detect_landmarks(image: np.ndarray, upsample: Sequence[int] = (0, 1), where: str | None = None) -> np.ndarray:
    """dlib's 68 landmarks (float64 (68, 2), x/y pixels) of the largest face of a grey or RGB uint8 image.

    Tries the HOG detector at each upsampling level of `upsample` in turn. No face at any level -> InputError
    (`where` names the frame in the message, e.g. 'video s15/15_0101 frame 1')."""
    array = np.asarray(image)
    if array.ndim == 3:
        array = cv2.cvtColor(np.ascontiguousarray(array[..., :3]).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    gray = np.ascontiguousarray(array.astype(np.uint8, copy=False))
    detector, predictor = _dlib_models()
    with _DLIB_LOCK:
        box = None
        for level in upsample:
            found = list(detector(gray, int(level)))
            if found:
                box = max(found, key=lambda r: r.width() * r.height())
                break
        if box is None:
            place = f" in {where}" if where else ""
            raise InputError(f"no face found{place} by dlib's frontal face detector (image {gray.shape[1]}x"
                             f"{gray.shape[0]}, upsampling {list(upsample)}); the spotting baselines need a frontal "
                             "face in the first frame of each window")
        shape = predictor(gray, box)
    return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)


# --------------------------------------------------------------------------------------------------- landmarkers

Landmarker = Callable[[np.ndarray, str | None], np.ndarray]
"""What the spotting code calls for a window's first frame: (grey image, where) -> (68, 2) landmarks. It has a
``name`` attribute (it goes into the feature-cache parameters)."""


class DlibLandmarker:
    """The default landmarker: dlib HOG detector + 68-point predictor (``detect_landmarks``)."""

    name = "dlib-68"

    def __init__(self, upsample: Sequence[int] = (0, 1)) -> None:
        self.upsample = tuple(int(u) for u in upsample)

    def __call__(self, image: np.ndarray, where: str | None = None) -> np.ndarray:
        return detect_landmarks(image, self.upsample, where)

    def __repr__(self) -> str:
        return f"DlibLandmarker(upsample={self.upsample})"


class FixedLandmarker:
    """Always the same landmarks (tests, pre-aligned clips, synthetic data): no detector involved."""

    def __init__(self, landmarks: Any, name: str = "fixed") -> None:
        self.landmarks = _check_landmarks(landmarks).copy()
        self.landmarks.setflags(write=False)
        digest = np.round(self.landmarks, 3).tobytes()
        import hashlib

        self.name = f"{name}:{hashlib.sha256(digest).hexdigest()[:12]}"

    def __call__(self, image: np.ndarray, where: str | None = None) -> np.ndarray:
        return self.landmarks.copy()

    def __repr__(self) -> str:
        return f"FixedLandmarker({self.name})"
