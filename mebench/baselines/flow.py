"""Optical flow over long videos for the spotting baselines: Farneback flow on the eye and mouth regions only.

Seed 002 (sections 2.1, 2.4.1): in a window of N frames, the first frame I_1 is the reference: dlib landmarks are
found on it ONCE, the eye and mouth regions are cut out of every frame of the window with the boxes of that first
frame (``mebench.baselines.face``), normalised to 280 x 240 and 260 x 160, and the dense flow
F_i = Flow(I_1, I_{i+1}) (Farneback, ``cv2.calcOpticalFlowFarneback``) is computed on the two regions; each frame's
pair of flow fields is then reduced at once to the per-frame feature a method needs (the AU-prototype matching
indices, eq. 21-22; MDMD's main-directional magnitudes), so that no window of flow fields is ever held in memory.

What makes it fast (DESIGN section 12: >= 150 frames/s on a 640x480 video on 2 cores):

- landmarks once per window, never per frame; flow only on the two regions, never on the whole frame;
- frames are decoded once (a window's frames stay decoded for the next, overlapping window) and decoded, cut out
  and matched in a thread pool (OpenCV and BLAS release the GIL), one frame per task;
- ``flow_scale``: the flow is computed on the regions resized to ``flow_scale`` x the normalised size and expressed
  in the units of the normalised size (values / flow_scale; sums over pixels x 1 / flow_scale^2), with the
  Farneback window scaled alike. ``1.0`` is the paper's computation at 280 x 240 / 260 x 160. In a 640 x 480
  video the eye region spans about 140 x 120 source pixels, so the 280 x 240 normalisation is a 2x upsampling and
  ``0.5`` computes the flow at about the source resolution: the same information at a quarter of the cost. The
  baselines' default is 0.5; pass 1.0 for the paper's exact arithmetic.

Frames come from a ``FrameSource``: numbered image files (``view.frame_paths``), or an in-memory array (tests).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from mebench.baselines.face import EYE_GAMMA, EYE_SIZE, MOUTH_GAMMA, MOUTH_SIZE, Box, Landmarker, crop, roi_boxes
from mebench.errors import InputError

__all__ = [
    "ArrayFrames", "FaceTracker", "FarnebackParams", "FrameSource", "PathFrames", "Reducer", "RoiConfig",
    "WindowRois", "default_threads", "farneback", "frame_source", "locate", "map_positions", "opencv_threads",
    "pair_flows", "thread_pool", "window_features", "window_rois",
]

Reducer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(eye flow (h, w, 2), mouth flow (h, w, 2)) -> the frame's 1-D feature vector (flows in normalised-ROI units)."""


# ------------------------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class FarnebackParams:
    """cv2.calcOpticalFlowFarneback settings at the normalised region size (OpenCV's documented example values;
    the paper does not give them). ``winsize`` is scaled with ``flow_scale`` (odd, >= 5)."""

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2

    def args(self, scale: float = 1.0) -> tuple:
        win = max(5, int(round(self.winsize * scale)))
        win += (win + 1) % 2  # odd
        return (self.pyr_scale, int(self.levels), win, int(self.iterations), int(self.poly_n),
                float(self.poly_sigma), 0)


@dataclass(frozen=True)
class RoiConfig:
    """Where the flow is computed: region gammas, normalised sizes (width, height), flow_scale, Farneback."""

    eye_gamma: tuple[float, float, float, float] = EYE_GAMMA
    mouth_gamma: tuple[float, float, float, float] = MOUTH_GAMMA
    eye_size: tuple[int, int] = EYE_SIZE
    mouth_size: tuple[int, int] = MOUTH_SIZE
    flow_scale: float = 0.5
    farneback: FarnebackParams = field(default_factory=FarnebackParams)

    def __post_init__(self) -> None:
        if not 0.05 <= float(self.flow_scale) <= 1.0:
            raise ValueError(f"flow_scale must be in [0.05, 1], got {self.flow_scale}")

    @property
    def eye_compute(self) -> tuple[int, int]:
        return _scaled(self.eye_size, self.flow_scale)

    @property
    def mouth_compute(self) -> tuple[int, int]:
        return _scaled(self.mouth_size, self.flow_scale)

    @property
    def pixel_weight(self) -> float:
        """Weight of one computed pixel in a sum over the normalised region (1 / flow_scale^2)."""
        return 1.0 / (float(self.flow_scale) ** 2)

    def params(self) -> dict[str, Any]:
        """JSON-able form (feature-cache parameters)."""
        out = asdict(self)
        out["eye_gamma"] = list(self.eye_gamma)
        out["mouth_gamma"] = list(self.mouth_gamma)
        out["eye_size"] = list(self.eye_size)
        out["mouth_size"] = list(self.mouth_size)
        return out


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return (max(8, int(round(size[0] * scale))), max(8, int(round(size[1] * scale))))


# -------------------------------------------------------------------------------------------------- threading


def default_threads() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_CV_LOCK = threading.Lock()


@contextmanager
def opencv_threads(n: int) -> Iterator[None]:
    """OpenCV's own thread count set to `n` for the block (restored after): with our own pool of threads, OpenCV's
    internal parallelism only oversubscribes the cores."""
    with _CV_LOCK:
        before = cv2.getNumThreads()
        cv2.setNumThreads(int(n))
    try:
        yield
    finally:
        with _CV_LOCK:
            cv2.setNumThreads(before)


@contextmanager
def thread_pool(threads: int | None) -> Iterator[ThreadPoolExecutor | None]:
    """A pool of `threads` workers (None: every available CPU), or None for 1 (serial, no pool overhead)."""
    n = default_threads() if threads is None else max(1, int(threads))
    if n == 1:
        yield None
        return
    with opencv_threads(1), ThreadPoolExecutor(max_workers=n, thread_name_prefix="mebench-flow") as pool:
        yield pool


def _map(pool: ThreadPoolExecutor | None, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    if pool is None or len(items) < 2:
        return [fn(i) for i in items]
    return list(pool.map(fn, items))


# ------------------------------------------------------------------------------------------------------- frames


class FrameSource:
    """The frames of one long video by position 0..n-1, each with its frame number (the dataset's numbering).

    ``get(pos)`` returns a grey uint8 (H, W) image. Decoded frames are kept for ``keep(lo, hi)``: a window's
    frames are decoded once and reused by the next, overlapping window; ``keep`` drops the others."""

    numbers: np.ndarray

    def __len__(self) -> int:
        return len(self.numbers)

    def get(self, pos: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def keep(self, lo: int, hi: int) -> None:
        """Hint: only positions in [lo, hi) will be asked for from now on."""

    def prefetch(self, positions: Sequence[int], pool: ThreadPoolExecutor | None) -> None:
        """Decode these positions (in the pool) so that later ``get`` calls are hits."""


class ArrayFrames(FrameSource):
    """Frames already in memory: a (T, H, W) uint8 grey (or (T, H, W, 3) RGB) array."""

    def __init__(self, frames: np.ndarray, numbers: Sequence[int] | None = None) -> None:
        array = np.asarray(frames)
        if array.ndim == 4:
            array = np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in array])
        if array.ndim != 3:
            raise ValueError(f"frames must be (T, H, W) or (T, H, W, 3), got {array.shape}")
        self.frames = np.ascontiguousarray(array.astype(np.uint8, copy=False))
        self.numbers = np.asarray(numbers if numbers is not None else np.arange(len(array)), dtype=np.int64)
        if len(self.numbers) != len(self.frames):
            raise ValueError("one frame number per frame")

    def get(self, pos: int) -> np.ndarray:
        return self.frames[int(pos)]


class PathFrames(FrameSource):
    """Numbered image files, decoded grey on demand (thread-safe), the current window's frames kept decoded."""

    def __init__(self, items: Sequence[tuple[int, Any]]) -> None:
        self.numbers = np.asarray([int(n) for n, _ in items], dtype=np.int64)
        self.paths = [str(p) for _, p in items]
        self._decoded: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def _read(self, pos: int) -> np.ndarray:
        image = cv2.imread(self.paths[pos], cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise InputError("not a readable image", file=self.paths[pos])
        return image

    def get(self, pos: int) -> np.ndarray:
        pos = int(pos)
        found = self._decoded.get(pos)
        if found is not None:
            return found
        image = self._read(pos)
        with self._lock:
            self._decoded[pos] = image
        return image

    def keep(self, lo: int, hi: int) -> None:
        with self._lock:
            for pos in [p for p in self._decoded if p < lo or p >= hi]:
                del self._decoded[pos]

    def prefetch(self, positions: Sequence[int], pool: ThreadPoolExecutor | None) -> None:
        missing = [int(p) for p in positions if int(p) not in self._decoded]
        _map(pool, self.get, missing)


def frame_source(view: Any, row: Any) -> FrameSource:
    """The frames of a spotting view's row (a long video): its numbered image files (``view.frame_paths``), else
    every frame read at once through ``view.frames(row, gray=True)`` numbered from the row's ``first_frame``
    (default 0)."""
    if hasattr(view, "frame_paths"):
        items = view.frame_paths(row)
        if not items:
            raise InputError(f"{_row_name(row)}: the video has no frames")
        return PathFrames(items)
    frames = view.frames(row, gray=True)
    first = int(row.get("first_frame", 0) or 0) if hasattr(row, "get") else 0
    return ArrayFrames(frames, np.arange(first, first + len(frames)))


def _row_name(row: Any) -> str:
    if hasattr(row, "get"):
        for key in ("video_id", "sample_id"):
            value = row.get(key)
            if value is not None:
                return str(value)
    return "video"


# --------------------------------------------------------------------------------------------------------- flow


def farneback(reference: np.ndarray, image: np.ndarray, params: FarnebackParams = FarnebackParams(),
              scale: float = 1.0) -> np.ndarray:
    """Dense Farneback flow (h, w, 2) float32 from `reference` to `image` (grey uint8, same size)."""
    return cv2.calcOpticalFlowFarneback(reference, image, None, *params.args(scale))


@dataclass
class WindowRois:
    """The boxes of one window (from its first frame's landmarks) and the first frame's cut-out regions."""

    landmarks: np.ndarray
    eye_box: Box
    mouth_box: Box
    eye_ref: np.ndarray
    mouth_ref: np.ndarray

    def cut(self, image: np.ndarray, config: RoiConfig) -> tuple[np.ndarray, np.ndarray]:
        return crop(image, self.eye_box, config.eye_compute), crop(image, self.mouth_box, config.mouth_compute)

    def flows(self, image: np.ndarray, config: RoiConfig) -> tuple[np.ndarray, np.ndarray]:
        """(eye flow, mouth flow) from the window's first frame to `image`, in normalised-region pixel units."""
        eye, mouth = self.cut(image, config)
        s = float(config.flow_scale)
        fe = farneback(self.eye_ref, eye, config.farneback, s)
        fm = farneback(self.mouth_ref, mouth, config.farneback, s)
        if s != 1.0:
            fe *= np.float32(1.0 / s)
            fm *= np.float32(1.0 / s)
        return fe, fm


def window_rois(first: np.ndarray, landmarks: np.ndarray, config: RoiConfig) -> WindowRois:
    """Boxes (seed 002 eq. 9-12) from the landmarks of a window's first frame, and that frame's regions."""
    eye_box, mouth_box = roi_boxes(landmarks, config.eye_gamma, config.mouth_gamma)
    return WindowRois(np.asarray(landmarks, dtype=np.float64), eye_box, mouth_box,
                      crop(first, eye_box, config.eye_compute), crop(first, mouth_box, config.mouth_compute))


def pair_flows(first: np.ndarray, other: np.ndarray, landmarks: np.ndarray,
               config: RoiConfig = RoiConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Seed 002 eq. 16-17: (eye, mouth) flow from `first` to `other` on the regions of `first`'s landmarks."""
    return window_rois(first, landmarks, config).flows(other, config)


def window_features(source: FrameSource, start: int, stop: int, rois: WindowRois, reducer: Reducer,
                    config: RoiConfig, pool: ThreadPoolExecutor | None = None) -> np.ndarray:
    """The per-frame features of positions start..stop-1 of a window whose first frame is `start`: row 0 is the
    reducer of zero flow (the first frame against itself, no flow computed), row i that of F_i = Flow(I_1,
    I_{i+1}); (stop - start, n_features) float64."""
    zero_e = np.zeros((config.eye_compute[1], config.eye_compute[0], 2), np.float32)
    zero_m = np.zeros((config.mouth_compute[1], config.mouth_compute[0], 2), np.float32)
    first = np.asarray(reducer(zero_e, zero_m), dtype=np.float64)

    def one(pos: int) -> np.ndarray:
        fe, fm = rois.flows(source.get(pos), config)
        return np.asarray(reducer(fe, fm), dtype=np.float64)

    source.prefetch(range(start, stop), pool)
    rows = _map(pool, one, list(range(start + 1, stop)))
    return np.vstack([first[None, :]] + [r[None, :] for r in rows]) if rows else first[None, :]


def map_positions(pool: ThreadPoolExecutor | None, fn: Callable[[int], Any], positions: Iterable[int]) -> list[Any]:
    """`fn` over positions in the pool (in order)."""
    return _map(pool, fn, list(positions))


def locate(source: FrameSource, landmarker: Landmarker, pos: int, where: str) -> np.ndarray:
    """Landmarks of the frame at `pos` (InputError naming `where` and the frame when no face is found)."""
    return landmarker(source.get(pos), f"{where} frame {int(source.numbers[pos])}")


class FaceTracker:
    """Landmarks for the first frame of each window of one video, robust to frames where dlib finds no face.

    ``at(start, stop)``: the landmarks of frame `start`; where it has no detectable face (a blink, a turned head),
    the previous window's landmarks; before any face was found, those of the first frame with a face among up to 8
    frames spread over the window; None when the window has none (the caller skips it). ``finish()`` raises the
    InputError of the first failure when no window of the video had a face."""

    def __init__(self, source: FrameSource, landmarker: Landmarker, where: str) -> None:
        self.source, self.landmarker, self.where = source, landmarker, where
        self.last: np.ndarray | None = None
        self.error: InputError | None = None
        self.found = 0

    def at(self, start: int, stop: int) -> np.ndarray | None:
        tries = [start] if self.last is not None else \
            list(dict.fromkeys(np.linspace(start, max(start, stop - 1), 8).round().astype(int).tolist()))
        for pos in tries:
            try:
                self.last = locate(self.source, self.landmarker, int(pos), self.where)
                self.found += 1
                return self.last
            except InputError as error:
                self.error = self.error or error
        return self.last

    def finish(self) -> None:
        if not self.found and self.error is not None:
            raise InputError(f"{self.error.message} (and in no other window of {self.where})")
