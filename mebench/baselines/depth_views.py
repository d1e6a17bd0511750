"""`depth-views`: the 4D baseline of 4DME (seed 004, section 5.2), depth images of the mesh sequence rendered from
three views (left, front, right), per-view features, fused (DESIGN.md section 8).

What the paper does (seed 004 section 5.2.1; the network is CCDN, its ref. [21], Behzad et al. 2019):

1. pre-processing: straighten the posture of each 3D face mesh, rotate it with annotated 3D landmarks to three
   "facial profiles" (left, front, right), crop the vertices beyond the face;
2. 3D -> 2D projection of every frame of each profile: depth images (DPI), enhanced depth images (E-DPI) and
   texture images; the set is duplicated with Eulerian Video Magnification (EVM);
3. rank pooling (dynamic images) of each profile's sequence, per image domain, fed to a GoogLeNet per view;
4. "the independent predictions from the output of the deep models for each view then collaborate to yield a more
   robust final prediction": late (score) fusion of the three views;
5. tasks: eight AUs (Table 7) and five emotions (Table 8), each a binary problem, per-label F1 and accuracy
   (eq. 1-4), subject-independent 5-fold (protocols ``4dme-5fold-au8`` and ``4dme-5fold-emotion``).

The paper gives no yaw angle for the left/right profiles (Fig. 8 only shows them), no image size and no fusion
rule beyond "collaborate". What mebench does (the light CPU configuration):

- **meshes**: onset and apex meshes of the clip (``view.mesh(row, n)``; the nearest frame present when the exact
  one is missing), or with ``frames="all"`` every mesh present from onset to apex (at most ``max_frames``, evenly
  spaced). No landmark straightening: the mesh's own frame (x right, y up, z towards the camera, as DI4D exports
  and the shadow corpus writes) is taken as frontal, and the head's rigid motion between onset and the later frames
  is removed by a trimmed Kabsch fit on corresponding vertices (same vertex count; else trimmed point-to-plane
  ICP). That keeps the depth change to the expression, the job the paper's landmark alignment does.
- **views**: the aligned meshes rotated about the vertical axis through the onset mesh's bounding-box centre by
  -``yaw`` (left: the subject's left side, mesh +x, turned towards the camera), 0 (front) and +``yaw`` (right);
  default ``yaw = 30`` degrees (a choice: the paper states none). Each view is rendered with pyrender as an
  ORTHOGRAPHIC depth image (``size`` x ``size`` pixels, face-centred square window fitted to the rotated onset mesh
  with a 5 % margin), ONE ``pyrender.OffscreenRenderer`` per process (and image size), reused for every render and
  guarded by a lock (renderers are not thread-safe; a forked child builds its own; the context is released after
  each render so any thread may take the next one; deleting ANY other pyrender renderer in the process terminates
  the EGL display they share, so a render that fails is retried once on a fresh renderer). pyrender returns the
  depth linearised for a perspective camera; ``_ortho_distance`` undoes that exactly for the orthographic camera.
- **depth normalisation** (``normalise_depth``): per view, the depth is turned into a height towards the camera and
  mapped to the face's own range, 1 at the nearest face point (the nose) and 0 at the farthest, taken as the 1st and
  99th percentiles of the ONSET face pixels; every later frame of the clip uses the onset's range (so their
  difference is a change in units of the face's depth range); background 0.
- **temporal encoding**: approximate rank pooling (Bilen et al. 2016, the dynamic images CCDN uses) over the clip's
  T frames, weights ``alpha_t = 2t - T - 1`` scaled to sum(|alpha|) = 2; for T = 2 (onset, apex; the default) it is
  exactly the apex - onset difference image. Pixels where any frame has no face are 0.
- **per-view features**: the dynamic image pooled on a ``grid`` x ``grid`` grid, per cell the mean of the signed
  change and the mean of its magnitude (2 grid^2 values per view; 128 with the default grid 8). No E-DPI, no
  texture images, no EVM, no GoogLeNet: a CPU-light feature + linear model.
- **classifier and fusion**: one binary classifier per label and per view (StandardScaler fitted on the training
  fold only + LogisticRegression, or LinearSVC, ``class_weight='balanced'``), the views' scores averaged (probability
  for logreg, decision value for linearsvc) and thresholded at 0.5 / 0: the paper's late fusion
  (``fusion="score"``, default). ``fusion="concat"`` concatenates the three views' features into one classifier
  instead. ``views="front"`` (or any subset) gives the single-view rows of Tables 7-8. Recognition protocols (one
  label per clip) get one multinomial classifier per view, probabilities averaged, argmax.

Public API: ``DepthViewsExtractor`` (the ``mebench.cache.Extractor``), ``DepthViews`` (the model), and the pieces
they are made of: ``view_yaws``, ``rotate_y``, ``kabsch``, ``icp``, ``align_vertices``, ``select_frames``,
``view_window``, ``render_depth``, ``normalise_depth``, ``dynamic_image``, ``pool_features``, ``view_images``,
``close_renderers``.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from mebench.errors import InputError

__all__ = ["DepthViews", "DepthViewsExtractor", "VIEWS", "ViewWindow", "align_vertices", "close_renderers",
           "dynamic_image", "icp", "kabsch", "normalise_depth", "pool_features", "render_depth", "rotate_y",
           "select_frames", "view_images", "view_window", "view_yaws"]

VIEWS = ("left", "front", "right")
DEFAULT_YAW = 30.0
MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf")
CLASSIFIERS = ("logreg", "linearsvc")
FUSIONS = ("score", "concat")
FRAME_MODES = ("onset-apex", "all")
ALIGN_MODES = ("kabsch", "none")


# ------------------------------------------------------------------------------------------------------ geometry


def view_yaws(yaw: float = DEFAULT_YAW) -> dict[str, float]:
    """Mesh rotation (degrees, about the vertical axis) of each view: left -yaw, front 0, right +yaw.

    With ``rotate_y``'s convention a NEGATIVE angle turns the mesh's +x side (the subject's left) towards the camera,
    so the 'left' view sees the subject's left cheek (the camera stands yaw degrees to the subject's left)."""
    yaw = float(yaw)
    return {"left": -yaw, "front": 0.0, "right": yaw}


def rotate_y(vertices: np.ndarray, yaw_deg: float, pivot: np.ndarray | None = None) -> np.ndarray:
    """Vertices rotated by `yaw_deg` about the vertical (y) axis through `pivot` (default: the origin).

    x' = x cos + z sin, z' = -x sin + z cos (the convention of ``mebench.synth.mesh.rigid``)."""
    v = np.asarray(vertices, dtype=np.float64)
    a = math.radians(float(yaw_deg))
    r = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    p = np.zeros(3) if pivot is None else np.asarray(pivot, dtype=np.float64)
    return (v - p) @ r.T + p


def kabsch(source: np.ndarray, target: np.ndarray, keep: float = 0.8, rounds: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Rigid (R, t) with ``source @ R.T + t`` closest to `target` (corresponding rows), least squares; after the
    first fit the `keep` fraction of points with the smallest residual are refitted (`rounds` times), so that the
    moving parts of the face (the expression) do not pull the head's rigid motion."""
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3:
        raise ValueError(f"kabsch needs two (n, 3) arrays of corresponding points, got {src.shape} and {dst.shape}")
    use = np.ones(len(src), dtype=bool)
    r, t = np.eye(3), np.zeros(3)
    for round_ in range(max(1, int(rounds) + 1)):
        a, b = src[use], dst[use]
        ca, cb = a.mean(axis=0), b.mean(axis=0)
        h = (a - ca).T @ (b - cb)
        u, _, vt = np.linalg.svd(h)
        d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
        r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
        t = cb - ca @ r.T
        if round_ == rounds or not 0.0 < keep < 1.0 or len(src) < 8:
            break
        residual = np.linalg.norm(src @ r.T + t - dst, axis=1)
        use = residual <= np.quantile(residual, keep)
    return r, t


def _rotation(angles: np.ndarray) -> np.ndarray:
    """Rotation matrix of the small-angle vector (rx, ry, rz) (Rodrigues)."""
    theta = float(np.linalg.norm(angles))
    if theta < 1e-12:
        return np.eye(3)
    k = np.asarray(angles, dtype=np.float64) / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(theta) * kx + (1.0 - math.cos(theta)) * (kx @ kx)


def icp(source: np.ndarray, target: np.ndarray, target_normals: np.ndarray | None = None, iterations: int = 40,
        keep: float = 0.8, tolerance: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Rigid (R, t) moving the point set `source` onto `target` (no correspondences), from the identity (the
    frames of one clip share a coordinate frame and the head moves little). Each step pairs every source point
    with its nearest target point (scipy cKDTree), keeps the `keep` fraction of closest pairs (the moving parts of
    the face and the parts seen in one scan only fall out) and solves the linearised point-to-plane problem when
    `target_normals` are given (it lets the surfaces slide into place), else point-to-point (``kabsch``)."""
    from scipy.spatial import cKDTree

    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    normals = None if target_normals is None else np.asarray(target_normals, dtype=np.float64)
    tree = cKDTree(dst)
    r, t = np.eye(3), np.zeros(3)
    previous = np.inf
    for _ in range(int(iterations)):
        moved = src @ r.T + t
        distance, nearest = tree.query(moved)
        use = distance <= np.quantile(distance, keep) if 0.0 < keep < 1.0 else np.ones(len(src), dtype=bool)
        p, q = moved[use], dst[nearest[use]]
        if normals is None:
            dr, dt = kabsch(p, q, rounds=0)
            error = float(np.mean(distance[use]))
        else:
            n = normals[nearest[use]]
            a = np.column_stack([np.cross(p, n), n])
            b = np.einsum("ij,ij->i", n, q - p)
            x = np.linalg.lstsq(a, b, rcond=None)[0]
            dr, dt = _rotation(x[:3]), x[3:]
            error = float(np.mean(np.abs(b)))
        r, t = dr @ r, t @ dr.T + dt
        if previous - error < tolerance:
            break
        previous = error
    return r, t


def align_vertices(reference: np.ndarray, vertices: np.ndarray, reference_faces: np.ndarray | None = None,
                   mode: str = "kabsch") -> np.ndarray:
    """`vertices` moved rigidly onto `reference` (the onset mesh): trimmed Kabsch when the two meshes have the same
    vertex count (a registered sequence: row i is the same skin point), else trimmed ICP (``icp``; point-to-plane
    with the reference's vertex normals when `reference_faces` are given); ``mode="none"`` returns them
    unchanged."""
    v = np.asarray(vertices, dtype=np.float64)
    if mode == "none":
        return v
    if mode not in ALIGN_MODES:
        raise ValueError(f"align must be one of {', '.join(ALIGN_MODES)}, got {mode!r}")
    ref = np.asarray(reference, dtype=np.float64)
    if v.shape == ref.shape:
        r, t = kabsch(v, ref)
    else:
        normals = None
        if reference_faces is not None:
            import trimesh

            normals = trimesh.Trimesh(vertices=ref, faces=np.asarray(reference_faces), process=False).vertex_normals
        r, t = icp(v, ref, normals)
    return v @ r.T + t


@dataclass(frozen=True)
class ViewWindow:
    """Where an orthographic camera looks: the square window centred at (cx, cy), half-size `half` (mm), camera on
    the +z side at `camera_z` with near/far planes at distances `znear`/`zfar`."""

    cx: float
    cy: float
    half: float
    camera_z: float
    znear: float
    zfar: float


def view_window(vertices: np.ndarray, margin: float = 1.05, depth_pad: float = 50.0) -> ViewWindow:
    """The window fitted to (rotated) `vertices`: square, centred on their x/y bounding box, `margin` x the larger
    half-extent; near/far planes `depth_pad` mm in front of and behind the mesh."""
    v = np.asarray(vertices, dtype=np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    half = float(max(hi[0] - lo[0], hi[1] - lo[1]) / 2.0 * margin)
    camera_z = float(hi[2] + 2.0 * depth_pad)
    return ViewWindow(cx=float((lo[0] + hi[0]) / 2.0), cy=float((lo[1] + hi[1]) / 2.0), half=max(half, 1e-6),
                      camera_z=camera_z, znear=float(depth_pad), zfar=float(camera_z - lo[2] + 2.0 * depth_pad))


# ------------------------------------------------------------------------------------------------------ rendering

_LOCK = threading.RLock()
_RENDERERS: dict[tuple[int, int], Any] = {}
_OWNER = {"pid": None}


def _pyrender():
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")  # before anything imports PyOpenGL
    import pyrender

    return pyrender


def _offscreen(width: int, height: int) -> Any:
    """The process' OffscreenRenderer of this size (created on first use; call with _LOCK held)."""
    pid = os.getpid()
    if _OWNER["pid"] != pid:  # a forked child: the parent's GL contexts are not ours to use (nor to delete)
        _RENDERERS.clear()
        _OWNER["pid"] = pid
    key = (int(width), int(height))
    renderer = _RENDERERS.get(key)
    if renderer is None:
        pyrender = _pyrender()
        try:
            renderer = pyrender.OffscreenRenderer(*key)
        except Exception as exc:  # noqa: BLE001 - any GL failure is the same problem for the user
            raise RuntimeError(
                f"depth-views: pyrender cannot render offscreen ({type(exc).__name__}: {exc}); it needs "
                f"PYOPENGL_PLATFORM=egl (now {os.environ.get('PYOPENGL_PLATFORM')!r}) with Mesa's EGL (libegl1, "
                "libgl1-mesa-dri), set before anything imports pyrender or PyOpenGL") from exc
        _release(renderer)
        _RENDERERS[key] = renderer
    return renderer


def _release(renderer: Any) -> None:
    """Leave the renderer's context current in no thread, so that any thread holding the lock can render next
    (pyrender's EGL ``make_uncurrent`` does nothing)."""
    display = getattr(getattr(renderer, "_platform", None), "_egl_display", None)
    if display is None:
        return
    try:
        from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglMakeCurrent

        eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)
    except Exception:  # noqa: BLE001 - a display already gone has nothing current
        pass


def _discard(key: tuple[int, int]) -> None:
    """Forget a renderer that failed. Deleting another OffscreenRenderer in this process (e.g. the shadow corpus'
    FaceRenderer) calls eglTerminate on the display all of them share, which kills ours: the caller then builds a
    new one. The dead one is disarmed so that its own deletion cannot terminate the display again."""
    renderer = _RENDERERS.pop(key, None)
    platform = getattr(renderer, "_platform", None)
    if platform is not None and hasattr(platform, "_egl_display"):
        platform._egl_display = None


def close_renderers() -> None:
    """Delete this process' renderers (registered atexit; safe to call any time, they are rebuilt on demand)."""
    with _LOCK:
        if _OWNER["pid"] == os.getpid():
            for renderer in _RENDERERS.values():
                try:
                    renderer.delete()
                except Exception:  # noqa: BLE001 - best effort at shutdown
                    pass
        _RENDERERS.clear()


atexit.register(close_renderers)


def _ortho_distance(depth: np.ndarray, znear: float, zfar: float) -> np.ndarray:
    """pyrender linearises the depth buffer as for a perspective camera, d = 2nf / (f + n - x (f - n)) with x the
    NDC depth; for an orthographic camera the distance is linear in x: (f - n) x / 2 + (f + n) / 2 = f + n - nf / d.
    Background (0) stays 0."""
    d = np.asarray(depth, dtype=np.float64)
    out = np.zeros_like(d)
    hit = d > 0
    out[hit] = zfar + znear - znear * zfar / d[hit]
    return out


_MATERIAL: dict[str, Any] = {}


def render_depth(vertices: np.ndarray, faces: np.ndarray, window: ViewWindow, size: int = 64) -> np.ndarray:
    """Orthographic depth image (size x size, float64): distance in mm from the camera plane, 0 = no surface.
    Row 0 is the top of the face (y up), column 0 its image-left (-x). Both faces of every triangle are drawn."""
    pyrender = _pyrender()
    v = np.ascontiguousarray(vertices, dtype=np.float32)
    f = np.ascontiguousarray(faces, dtype=np.int32)
    pose = np.eye(4)
    pose[:3, 3] = [window.cx, window.cy, window.camera_z]
    key = (int(size), int(size))
    with _LOCK:
        material = _MATERIAL.get("depth")
        if material is None:
            material = _MATERIAL["depth"] = pyrender.MetallicRoughnessMaterial(doubleSided=True)
        for attempt in range(2):
            primitive = pyrender.Primitive(positions=v, indices=f, material=material,
                                           mode=pyrender.constants.GLTF.TRIANGLES)
            scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[1.0, 1.0, 1.0])
            scene.add(pyrender.Mesh([primitive]))
            scene.add(pyrender.OrthographicCamera(xmag=window.half, ymag=window.half, znear=window.znear,
                                                  zfar=window.zfar), pose=pose)
            renderer = _offscreen(*key)
            try:
                depth = renderer.render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY)
                break
            except Exception:  # noqa: BLE001 - a dead context (see _discard): one retry on a fresh renderer
                _discard(key)
                if attempt:
                    raise
            finally:
                _release(renderer)
    return _ortho_distance(depth, window.znear, window.zfar)


# ------------------------------------------------------------------------------------------------------ images


def normalise_depth(depth: np.ndarray, reference: tuple[float, float] | None = None,
                    percentiles: tuple[float, float] = (1.0, 99.0)) -> tuple[np.ndarray, tuple[float, float]]:
    """(height image, (near, far)): distance `depth` (0 = background) mapped to the face's depth range, 1 at
    `near` (the nearest face point: the nose) and 0 at `far`, background 0. The range is the `percentiles` of
    the face pixels of `depth` itself, or `reference` (the onset frame's range, for the later frames of a clip)."""
    d = np.asarray(depth, dtype=np.float64)
    face = d > 0
    if reference is None:
        if not face.any():
            return np.zeros_like(d), (0.0, 1.0)
        near, far = (float(x) for x in np.percentile(d[face], percentiles))
    else:
        near, far = (float(x) for x in reference)
    span = far - near if far - near > 1e-9 else 1.0
    out = np.where(face, (far - d) / span, 0.0)
    return out, (near, far)


def dynamic_image(heights: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Approximate rank pooling of T images (Bilen et al. 2016): sum_t alpha_t I_t with alpha_t = 2t - T - 1
    (t = 1..T), scaled so that sum |alpha| = 2; T = 2 gives exactly I_2 - I_1. Pixels outside any mask are 0."""
    stack = np.stack([np.asarray(h, dtype=np.float64) for h in heights])
    t = len(stack)
    if t < 2:
        return np.zeros(stack.shape[1:])
    alpha = 2.0 * np.arange(1, t + 1) - t - 1
    alpha = alpha * (2.0 / np.abs(alpha).sum())
    out = np.tensordot(alpha, stack, axes=1)
    if masks is not None:
        keep = np.logical_and.reduce([np.asarray(m, dtype=bool) for m in masks])
        out = np.where(keep, out, 0.0)
    return out


def pool_features(image: np.ndarray, grid: int = 8) -> np.ndarray:
    """Per cell of a grid x grid partition of `image`: the mean of the values, then the mean of their magnitudes
    (2 grid^2 values, float32; cells as np.array_split cuts rows and columns)."""
    img = np.asarray(image, dtype=np.float64)
    means, mags = [], []
    for rows in np.array_split(np.arange(img.shape[0]), grid):
        for cols in np.array_split(np.arange(img.shape[1]), grid):
            cell = img[np.ix_(rows, cols)]
            means.append(cell.mean() if cell.size else 0.0)
            mags.append(np.abs(cell).mean() if cell.size else 0.0)
    return np.asarray(means + mags, dtype=np.float32)


def view_images(frames: Sequence[np.ndarray], faces: np.ndarray, yaw: float = DEFAULT_YAW, size: int = 64,
                align: str = "kabsch", frame_faces: Sequence[np.ndarray] | None = None,
                margin: float = 1.05) -> dict[str, dict[str, Any]]:
    """Everything per view for one clip: `frames` are the vertex arrays of its meshes in time order (frames[0] the
    onset; `faces` its triangles, `frame_faces` those of every frame when the topology varies). Returns, per view
    name, {"depth": [distance images], "heights": [normalised images], "range": (near, far), "dynamic": image}."""
    if len(frames) < 1:
        raise ValueError("view_images needs at least one mesh")
    faces_of = list(frame_faces) if frame_faces is not None else [faces] * len(frames)
    onset = np.asarray(frames[0], dtype=np.float64)
    aligned = [onset] + [align_vertices(onset, v, faces_of[0], mode=align) for v in frames[1:]]
    lo, hi = onset.min(axis=0), onset.max(axis=0)
    pivot = (lo + hi) / 2.0
    out: dict[str, dict[str, Any]] = {}
    for name, angle in view_yaws(yaw).items():
        rotated = [rotate_y(v, angle, pivot) for v in aligned]
        window = view_window(rotated[0], margin=margin)
        depths = [render_depth(v, f, window, size) for v, f in zip(rotated, faces_of)]
        first, reference = normalise_depth(depths[0])
        heights = [first] + [normalise_depth(d, reference)[0] for d in depths[1:]]
        out[name] = {"depth": depths, "heights": heights, "range": reference,
                     "dynamic": dynamic_image(heights, [d > 0 for d in depths])}
    return out


# ------------------------------------------------------------------------------------------------------ extractor


def _int_or_none(value: Any) -> int | None:
    if value is None or value is pd.NA:
        return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def _mesh_numbers(folder: Path) -> list[int]:
    from mebench.views import frame_number

    if not folder.is_dir():
        raise InputError("mesh folder not found (an annotation-only corpus, or media moved since the build)",
                         file=folder)
    numbers = {frame_number(p.name) for p in folder.iterdir() if p.suffix.lower() in MESH_SUFFIXES and p.is_file()}
    return sorted(n for n in numbers if n is not None)


def select_frames(row: Any, available: Sequence[int], mode: str = "onset-apex", max_frames: int = 8) -> list[int]:
    """Frame numbers to read: (onset, apex), each the nearest present frame (onset missing -> first, apex missing
    -> middle of onset..offset); ``mode="all"``: every present frame from onset to apex, at most `max_frames`
    evenly spaced (onset and apex always in)."""
    nums = np.asarray(sorted(available))
    if not len(nums):
        raise ValueError("no mesh frames")
    get = row.get if hasattr(row, "get") else (lambda _k, _d=None: None)
    onset, apex, offset = (_int_or_none(get(k)) for k in ("onset", "apex", "offset"))
    onset = int(nums[0]) if onset is None else onset
    offset = int(nums[-1]) if offset is None else offset
    if apex is None:
        apex = (onset + offset) // 2

    def nearest(n: int) -> int:
        return int(nums[np.argmin(np.abs(nums - n))])

    first, last = nearest(onset), nearest(apex)
    if mode == "onset-apex" or last <= first:
        return [first, last]
    inside = [int(n) for n in nums if first <= n <= last]
    if len(inside) > max_frames:
        picks = np.unique(np.round(np.linspace(0, len(inside) - 1, max_frames)).astype(int))
        inside = [inside[i] for i in picks]
    return inside


@dataclass(frozen=True)
class DepthViewsExtractor:
    """``mebench.cache.Extractor``: a row -> (3, 2 grid^2) float32, the pooled dynamic depth image of each view
    (rows in ``VIEWS`` order: left, front, right). Reads only timing and ``mesh_dir``: never labels or AUs."""

    yaw: float = DEFAULT_YAW
    size: int = 64
    grid: int = 8
    frames: str = "onset-apex"
    max_frames: int = 8
    align: str = "kabsch"
    name: str = "depth-views"
    version: str = "1"

    def __post_init__(self) -> None:
        if self.frames not in FRAME_MODES:
            raise InputError(f"depth-views: frames must be one of {', '.join(FRAME_MODES)}, got {self.frames!r}")
        if self.align not in ALIGN_MODES:
            raise InputError(f"depth-views: align must be one of {', '.join(ALIGN_MODES)}, got {self.align!r}")
        if int(self.size) < 8 or int(self.grid) < 1 or int(self.grid) > int(self.size):
            raise InputError(f"depth-views: need size >= 8 and 1 <= grid <= size (got size {self.size}, grid "
                             f"{self.grid})")

    @property
    def params(self) -> dict[str, Any]:
        return {"yaw": float(self.yaw), "views": list(VIEWS), "size": int(self.size), "grid": int(self.grid),
                "frames": self.frames, "max_frames": int(self.max_frames), "align": self.align,
                "projection": "orthographic", "normalise": "onset face range p1-p99",
                "pool": "cell mean + cell mean |.|", "temporal": "approximate rank pooling"}

    @property
    def length(self) -> int:
        """Features per view."""
        return 2 * int(self.grid) ** 2

    def images(self, view: Any, row: Any) -> dict[str, dict[str, Any]]:
        """``view_images`` of the row's meshes (what ``__call__`` pools)."""
        value = row.get("mesh_dir") if hasattr(row, "get") else None
        folder = view.media.resolve(value) if hasattr(view, "media") else (Path(value) if value else None)
        if folder is None:
            raise InputError(f"{row.get('sample_id', '?')}: no mesh_dir (an annotation-only corpus has no media "
                             "paths; build it from the dataset's root folder)")
        numbers = select_frames(row, _mesh_numbers(Path(folder)), self.frames, int(self.max_frames))
        meshes = [view.mesh(row, n) for n in numbers]
        vertices = [np.asarray(m.vertices, dtype=np.float64) for m in meshes]
        faces = [np.asarray(m.faces, dtype=np.int64) for m in meshes]
        return view_images(vertices, faces[0], self.yaw, int(self.size), self.align, frame_faces=faces)

    def features_of(self, images: dict[str, dict[str, Any]]) -> np.ndarray:
        return np.stack([pool_features(images[v]["dynamic"], int(self.grid)) for v in VIEWS]).astype(np.float32)

    def __call__(self, view: Any, row: Any) -> np.ndarray:
        return self.features_of(self.images(view, row))


# ------------------------------------------------------------------------------------------------------ the model


class _Constant:
    """A label constant in the training fold: predicted constant (score = that value)."""

    def __init__(self, value: Any, classes: Sequence[Any] | None = None) -> None:
        self.value = value
        self.classes_ = np.asarray(classes if classes is not None else [value], dtype=object)


def _parse_views(views: Any) -> tuple[str, ...]:
    if isinstance(views, str):
        items = [v.strip() for v in views.replace("+", ",").split(",") if v.strip()]
    else:
        items = [str(v).strip() for v in views]
    unknown = [v for v in items if v not in VIEWS]
    if not items or unknown:
        raise InputError(f"depth-views: views must be a non-empty subset of {', '.join(VIEWS)}, got {views!r}")
    return tuple(v for v in VIEWS if v in items)


class DepthViews:
    """Depth images from left/front/right, pooled dynamic depth features per view, linear classifiers, late fusion
    (see the module docstring for the paper's method and what differs).

    ``DepthViews(views="left,front,right", fusion="score", classifier="logreg", C=1.0, yaw=30, size=64, grid=8,
    frames="onset-apex", align="kabsch", max_iter=5000, seed=0)``; every keyword can be given as ``--param``."""

    name = "depth-views"
    version = "1"
    tasks = ("multilabel", "au-detection", "recognition")

    def __init__(self, views: Any = VIEWS, fusion: str = "score", classifier: str = "logreg", C: float = 1.0,
                 yaw: float = DEFAULT_YAW, size: int = 64, grid: int = 8, frames: str = "onset-apex",
                 max_frames: int = 8, align: str = "kabsch", max_iter: int = 5000, seed: int = 0) -> None:
        if classifier not in CLASSIFIERS:
            raise InputError(f"depth-views: classifier must be one of {', '.join(CLASSIFIERS)}, got {classifier!r}")
        if fusion not in FUSIONS:
            raise InputError(f"depth-views: fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        if not float(C) > 0:
            raise InputError(f"depth-views: C must be > 0, got {C!r}")
        self.views = _parse_views(views)
        self.fusion = fusion
        self.classifier = classifier
        self.C = float(C)
        self.max_iter = int(max_iter)
        self.seed = int(seed)
        self.extractor = DepthViewsExtractor(yaw=float(yaw), size=int(size), grid=int(grid), frames=frames,
                                             max_frames=int(max_frames), align=align)

    def get_params(self) -> dict[str, Any]:
        return {"views": list(self.views), "fusion": self.fusion, "classifier": self.classifier, "C": self.C,
                "max_iter": self.max_iter, "class_weight": "balanced", "scaler": "StandardScaler (training fold)",
                **{k: v for k, v in self.extractor.params.items() if k != "views"}}

    def extractors(self) -> list[DepthViewsExtractor]:
        """What the harness extracts for every selected row before the folds (in parallel, through the cache)."""
        return [self.extractor]

    # ---- features

    def features(self, view: Any) -> np.ndarray:
        """(n, 3, F) features of the view's rows (through the feature cache when the view has one)."""
        samples = view.samples
        rows = [samples.iloc[i] for i in range(len(samples))]
        if hasattr(view, "features"):
            values = [view.features(self.extractor, row) for row in rows]
        else:
            values = [self.extractor(view, row) for row in rows]
        if not values:
            return np.zeros((0, len(VIEWS), self.extractor.length), dtype=np.float32)
        return np.stack([np.asarray(v, dtype=np.float32) for v in values])

    def _blocks(self, x: np.ndarray) -> list[np.ndarray]:
        """The design matrices the classifiers see: one per selected view (score fusion) or one concatenation."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[1] != len(VIEWS):
            raise ValueError(f"features must be (n, {len(VIEWS)}, F), got {x.shape}")
        picked = [x[:, VIEWS.index(v), :] for v in self.views]
        return picked if self.fusion == "score" else [np.concatenate(picked, axis=1)]

    def _estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        if self.classifier == "linearsvc":
            clf = LinearSVC(C=self.C, class_weight="balanced", max_iter=self.max_iter, random_state=self.seed)
        else:
            clf = LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter,
                                     random_state=self.seed)
        return make_pipeline(StandardScaler(), clf)

    def _fit_one(self, x: np.ndarray, y: np.ndarray, classes: Sequence[Any] | None = None) -> Any:
        from sklearn.exceptions import ConvergenceWarning

        values = pd.unique(y)
        if len(values) < 2:
            return _Constant(values[0] if len(values) else (classes[0] if classes else 0), classes)
        estimator = self._estimator()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(x, y)
        return estimator

    def _binary_score(self, model: Any, x: np.ndarray) -> np.ndarray:
        """Score of the positive class, on the scale the threshold reads (probability for logreg, margin else)."""
        if isinstance(model, _Constant):
            positive = float(int(model.value) == 1)
            if self.classifier == "logreg":
                return np.full(len(x), positive)
            return np.full(len(x), 1.0 if positive else -1.0)
        if self.classifier == "logreg":
            return model.predict_proba(x)[:, list(model.classes_).index(1)]
        return model.decision_function(x)

    def _class_scores(self, model: Any, x: np.ndarray, classes: list[str]) -> np.ndarray:
        """(n, len(classes)) scores of a recognition classifier (classes absent from its training fold: -inf /
        0 probability)."""
        out = np.full((len(x), len(classes)), 0.0 if self.classifier == "logreg" else -np.inf)
        if isinstance(model, _Constant):
            out[:, classes.index(str(model.value))] = 1.0
            return out
        own = [str(c) for c in model.classes_]
        if self.classifier == "logreg":
            scores = model.predict_proba(x)
        else:
            scores = model.decision_function(x)
            if scores.ndim == 1:  # two classes: margin of the second
                scores = np.column_stack([-scores, scores])
        for j, c in enumerate(own):
            out[:, classes.index(c)] = scores[:, j]
        return out

    def fit_features(self, x: np.ndarray, y: Any, task: str = "multilabel",
                     classes: Sequence[str] | None = None) -> "DepthViews":
        """Fit on features `x` (n, 3, F) and targets `y`: a 0/1 matrix or DataFrame (one column per label) for
        ``multilabel`` / ``au-detection``, class names for ``recognition``."""
        self.task_ = task
        blocks = self._blocks(x)
        if task in ("multilabel", "au-detection"):
            if isinstance(y, pd.DataFrame):
                self.classes_ = [str(c) for c in (classes or y.columns)]
                matrix = y[list(classes)].to_numpy(dtype=np.int64) if classes else y.to_numpy(dtype=np.int64)
            else:
                matrix = np.asarray(y, dtype=np.int64)
                if matrix.ndim == 1:
                    matrix = matrix[:, None]
                self.classes_ = [str(c) for c in (classes or range(matrix.shape[1]))]
            if len(matrix) != len(blocks[0]):
                raise ValueError(f"{len(matrix)} label rows for {len(blocks[0])} feature rows")
            self.models_ = [[self._fit_one(b, matrix[:, j], [0, 1]) for j in range(matrix.shape[1])] for b in blocks]
        else:
            labels = np.asarray([str(v) for v in (y.tolist() if hasattr(y, "tolist") else list(y))], dtype=object)
            self.classes_ = [str(c) for c in (classes or sorted(set(labels.tolist())))]
            self.models_ = [[self._fit_one(b, labels, self.classes_)] for b in blocks]
        return self

    def decision_scores(self, x: np.ndarray) -> np.ndarray:
        """Fused scores (n, n_labels): the mean over the view blocks (one block with ``fusion="concat"``)."""
        blocks = self._blocks(x)
        if self.task_ in ("multilabel", "au-detection"):
            per_block = [np.column_stack([self._binary_score(m, b) for m in models])
                         for models, b in zip(self.models_, blocks)]
        else:
            per_block = [self._class_scores(models[0], b, self.classes_) for models, b in zip(self.models_, blocks)]
        return np.mean(np.stack(per_block), axis=0)

    def predict_features(self, x: np.ndarray) -> Any:
        """0/1 matrix (multi-label, AU detection) or class names (recognition) for features `x` (n, 3, F)."""
        x = np.asarray(x)
        if not len(x):
            if self.task_ in ("multilabel", "au-detection"):
                return np.zeros((0, len(self.classes_)), dtype=np.int64)
            return []
        scores = self.decision_scores(x)
        if self.task_ in ("multilabel", "au-detection"):
            threshold = 0.5 if self.classifier == "logreg" else 0.0
            return (scores >= threshold).astype(np.int64)
        return [self.classes_[int(j)] for j in np.argmax(scores, axis=1)]

    # ---- the harness' API

    def fit(self, train: Any) -> "DepthViews":
        task = train.protocol.task if hasattr(train, "protocol") else train.task
        classes = list(getattr(train, "classes", None) or []) or None
        return self.fit_features(self.features(train), train.labels, task, classes)

    def predict(self, test: Any) -> Any:
        return self.predict_features(self.features(test))

    @staticmethod
    def describe_result(record: dict[str, Any]) -> str | None:
        """The reading of the score printed by `mebench run`."""
        metrics = record.get("metrics", {})
        params = record.get("submission", {}).get("model", {}).get("params", {})
        views = "+".join(params.get("views", VIEWS))
        if "f1" in metrics and metrics["f1"] is not None:
            score = f"mean F1 {metrics['f1']:.2f}, accuracy {metrics.get('accuracy', float('nan')):.2f}"
        elif "uf1" in metrics and metrics["uf1"] is not None:
            score = f"UF1 {metrics['uf1']:.2f}"
        else:
            return None
        return (f"depth-views ({views}, {params.get('fusion', 'score')} fusion) {score}: a light CPU "
                "re-implementation (pooled dynamic depth images + linear classifiers), not the paper's CCDN; "
                "seed 004 Tables 7-8 report CCDN multi-view F1 0.799 (AUs) and 0.791 (emotions) on the real 4DME")
