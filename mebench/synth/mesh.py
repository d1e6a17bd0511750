"""A textured face mesh deformed by the AU fields, for the 4D (DI4D-like) and Kinect modalities of the 4DME shadow.

The mesh is built once per subject from the base face photo and its 68 landmarks (``mebench.synth.faces``):

- **Vertices** on a regular grid over the face (inside the jaw line 0-16 closed by a forehead arc above the brows),
  two triangles per grid cell whose four corners are inside (one where three are), rim vertices snapped onto the
  outline. Units are millimetres, x right, y up, z towards the camera; the inter-ocular distance is scaled to
  ``IOD_MM``; each subject (``Identity``) gets its own width, height, depth, nose, brow ridge, chin, landmark
  proportions (the skin follows them) and skin tone.
- **Depth** from a smooth face-like height field: an ellipsoid, a nose ridge growing to the tip, brow ridges, eye
  sockets, cheek bones, lips and chin (Gaussians placed on the landmarks, sizes in IOD units).
- **Colour**: texture coordinates = the vertex's position in the photo (so a render is the photo warped by the mesh,
  exactly as the 2D frames warp it), and per-vertex colours sampled from the photo (what the exported files carry).
- **Deformation**: the 68 landmarks are control points. A frame's landmark displacement comes from
  ``mebench.synth.aufields.displacement`` (the SAME AU fields as the 2D frames) and is propagated to every vertex by
  normalised Gaussian weights (a convex, Shepard-style blend of the nearby landmarks' displacements that fades to zero
  where no landmark is near, so it never overshoots), an (n_vertices, 68) matrix computed once per face. AUs that
  bulge the skin also move vertices along z (``AU_BULGE``: cheeks for AU6, nose sides for AU9, chin boss for AU17,
  glabella for AU4...), with the same intensity.

Export: binary little-endian PLY with per-vertex RGBA, written here (not by trimesh, whose header carries a comment
line) so that the bytes depend only on the geometry. trimesh reads it back (``trimesh.load``).

Rendering (``FaceRenderer``): pyrender offscreen (``PYOPENGL_PLATFORM=egl``, set here when unset, before pyrender is
imported), frontal perspective cameras (``Camera``): colour = photo texture x per-vertex Lambertian shading (pyrender's
flat shader), depth in millimetres along the optical axis. Pure numpy apart from the renderer; deterministic for
identical inputs on one machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from mebench.synth import aufields

IOD_MM = 63.0  # adult inter-ocular distance (eye centre to eye centre), millimetres

# AU -> [(anchor, (dx, dy) offset of the bulge centre in IOD units (image axes, y down), amplitude in mm at intensity
# 1 (+ = towards the camera), sigma in IOD units)]. An anchor is a landmark index or a tuple averaged; bulges listed
# for one side are mirrored by `_bulge_centres` (the mirror landmark is given explicitly).
AU_BULGE: dict[int, list[tuple[tuple[int, ...], tuple[float, float], float, float]]] = {
    1: [((21, 22), (0.0, -0.35), 1.5, 0.22)],  # forehead bunching above the inner brows
    2: [((18,), (0.0, -0.3), 1.2, 0.2), ((25,), (0.0, -0.3), 1.2, 0.2)],
    4: [((21, 22), (0.0, -0.05), 3.0, 0.14)],  # glabella bulge between the lowered brows
    5: [((37, 38), (0.0, 0.0), 0.8, 0.1), ((43, 44), (0.0, 0.0), 0.8, 0.1)],
    6: [((40, 41), (0.0, 0.32), 4.0, 0.2), ((46, 47), (0.0, 0.32), 4.0, 0.2)],  # cheeks raised under the eyes
    7: [((40, 41), (0.0, 0.05), 1.5, 0.1), ((46, 47), (0.0, 0.05), 1.5, 0.1)],
    9: [((28, 29), (-0.14, 0.0), 3.0, 0.1), ((28, 29), (0.14, 0.0), 3.0, 0.1)],  # wrinkles on the nose sides
    10: [((50, 51, 52), (0.0, -0.05), 2.0, 0.14)],
    12: [((48,), (-0.12, -0.22), 3.0, 0.18), ((54,), (0.12, -0.22), 3.0, 0.18)],  # cheeks pushed up by the smile
    14: [((48,), (-0.05, 0.0), -2.5, 0.08), ((54,), (0.05, 0.0), -2.5, 0.08)],  # dimples
    15: [((48,), (0.0, 0.15), 1.0, 0.12), ((54,), (0.0, 0.15), 1.0, 0.12)],
    17: [((8,), (0.0, -0.28), 4.0, 0.18)],  # chin boss pushed up and out
    20: [((48,), (-0.05, 0.0), -1.0, 0.1), ((54,), (0.05, 0.0), -1.0, 0.1)],
    23: [((51, 57), (0.0, 0.0), -1.0, 0.14)],
    24: [((62, 66), (0.0, 0.0), -2.0, 0.16)],  # pressed lips flatten
    25: [((57,), (0.0, 0.0), -1.0, 0.12)],
    43: [((37, 38), (0.0, 0.0), 0.5, 0.1), ((43, 44), (0.0, 0.0), 0.5, 0.1)],
    45: [((37, 38), (0.0, 0.0), 0.5, 0.1), ((43, 44), (0.0, 0.0), 0.5, 0.1)],
}


@dataclass(frozen=True)
class Identity:
    """Per-subject shape and look (all factors ~1)."""

    width: float = 1.0  # x scale of the face
    height: float = 1.0  # y scale
    depth: float = 1.0  # ellipsoid depth scale
    nose: float = 1.0  # nose height scale
    brow: float = 1.0  # brow ridge scale
    chin: float = 1.0  # chin / lips scale
    tone: tuple[float, float, float] = (1.0, 1.0, 1.0)  # RGB gains of the skin colour
    shape: np.ndarray | None = None  # (68, 2) landmark offsets in IOD units, image axes (y down)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Identity":
        u = rng.uniform(-1.0, 1.0, size=6)
        tone = 1.0 + rng.uniform(-0.12, 0.12) + rng.uniform(-0.04, 0.04, size=3)
        v = rng.uniform(-1.0, 1.0, size=7)
        shape = np.zeros((68, 2))
        shape[17:27, 1] += 0.04 * v[0]  # brow height
        shape[36:42, 0] -= 0.025 * v[1]  # eye spacing
        shape[42:48, 0] += 0.025 * v[1]
        shape[31:33, 0] -= 0.03 * v[2]  # nose width
        shape[34:36, 0] += 0.03 * v[2]
        shape[[48, 60], 0] -= 0.04 * v[3]  # mouth width
        shape[[54, 64], 0] += 0.04 * v[3]
        shape[48:68, 1] += 0.03 * v[4]  # mouth height
        shape[0:17, 0] += 0.05 * v[5] * np.linspace(-1.0, 1.0, 17)  # jaw width
        shape[5:12, 1] += 0.04 * v[6] * np.array([0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3])  # chin length
        return cls(width=1.0 + 0.08 * u[0], height=1.0 + 0.08 * u[1], depth=1.0 + 0.15 * u[2], nose=1.0 + 0.25 * u[3],
                   brow=1.0 + 0.4 * u[4], chin=1.0 + 0.3 * u[5], tone=tuple(float(t) for t in tone), shape=shape)


@dataclass
class FaceMesh:
    """A subject's neutral face mesh, its control points and the precomputed deformation operators."""

    vertices: np.ndarray  # (N, 3) float64, mm, neutral
    faces: np.ndarray  # (F, 3) int32, counter-clockwise seen from +z
    uv: np.ndarray  # (N, 2) texture coordinates in [0, 1] (v up)
    colors: np.ndarray  # (N, 4) uint8 RGBA sampled from the photo (with the identity's tone)
    texture: np.ndarray  # (H, W, 3) uint8, the photo crop the uv refer to (with the identity's tone)
    landmarks_px: np.ndarray  # (68, 2) neutral landmarks in the ORIGINAL photo's pixels (what aufields expects)
    landmarks: np.ndarray  # (68, 3) neutral landmarks on the mesh surface, mm
    linear: np.ndarray  # (2, 2) photo-pixel displacement -> mesh-xy displacement (mm)
    weights: np.ndarray  # (N, 68) propagation of landmark displacements to vertices (rows sum to < 1)
    iod_px: float
    vertex_px: np.ndarray  # (N, 2) the vertex's position in the original photo (pixels)
    bulges: dict[int, np.ndarray] = field(default_factory=dict)  # AU -> (N,) z per unit intensity (both sides)
    sides: np.ndarray | None = None  # (N,) 0..1 weight of the subject's LEFT side (image right)

    @property
    def n_vertices(self) -> int:
        return int(len(self.vertices))

    def landmark_displacement(self, aus: Mapping[int, float], side: Mapping[int, str | None] | None = None
                              ) -> np.ndarray:
        """(68, 2) photo-pixel displacement of the landmarks for AUs at the given intensities (AU -> 0..1)."""
        return aufields.displacement(dict(aus), 1.0, self.landmarks_px, side=dict(side or {}))

    def deform(self, aus: Mapping[int, float], side: Mapping[int, str | None] | None = None) -> np.ndarray:
        """(N, 3) vertices of the face with the AUs at the given intensities (AU -> 0..1, a fraction of the table's
        strong 'E' apex); ``side``: AU -> 'L'/'R' for unilateral AUs."""
        side = dict(side or {})
        disp_px = self.landmark_displacement(aus, side)
        disp_mm = disp_px @ self.linear.T  # (68, 2)
        out = self.vertices.copy()
        out[:, :2] += self.weights @ disp_mm
        for au, level in aus.items():
            bulge = self.bulges.get(int(au))
            if bulge is None or level == 0:
                continue
            weight = 1.0
            if side.get(au) == "L" and self.sides is not None:
                weight = self.sides
            elif side.get(au) == "R" and self.sides is not None:
                weight = 1.0 - self.sides
            out[:, 2] += float(level) * bulge * weight
        return out


# --- construction -----------------------------------------------------------------------------------------------------


def _outline(lm: np.ndarray, n_arc: int = 24) -> np.ndarray:
    """Closed face outline in photo pixels: jaw 0..16, then a forehead arc from 16 back to 0 above the brows."""
    jaw = lm[0:17]
    brow_top = lm[17:27, 1].min()
    face_h = lm[8, 1] - brow_top
    top = brow_top - 0.42 * face_h
    centre_x = 0.5 * (lm[0, 0] + lm[16, 0])
    half_w = 0.5 * (lm[16, 0] - lm[0, 0])
    base_y = 0.5 * (lm[0, 1] + lm[16, 1])
    t = np.linspace(0.0, np.pi, n_arc + 2)[1:-1]
    arc = np.stack([centre_x + half_w * np.cos(t), base_y - (base_y - top) * np.sin(t)], axis=1)
    return np.concatenate([jaw, arc], axis=0)


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over points."""
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    x0, y0 = polygon[:, 0][None, :], polygon[:, 1][None, :]
    x1, y1 = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    hits = crosses & (x < x_at)
    return (hits.sum(axis=1) % 2) == 1


def _gauss(d2: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * d2 / (sigma * sigma))


def _segment_d2(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance of points p (N, 2) to segment ab, and the position 0..1 of the closest point."""
    ab = b - a
    t = np.clip(((p - a) @ ab) / float(ab @ ab), 0.0, 1.0)
    closest = a + t[:, None] * ab
    return ((p - closest) ** 2).sum(axis=1), t


def _polyline_d2(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    return np.min(np.stack([_segment_d2(p, line[i], line[i + 1])[0] for i in range(len(line) - 1)]), axis=0)


def height_field(xy: np.ndarray, lm: np.ndarray, iod: float, identity: Identity) -> np.ndarray:
    """z (mm) of points xy (N, 2) given in mesh millimetres (x right, y up); ``lm`` the (68, 2) landmarks in the
    same space; ``iod`` in mm."""
    brow_top = lm[17:27, 1].max()  # y is up
    top = brow_top + 0.42 * (brow_top - lm[8, 1])
    cx, cy = 0.5 * (lm[0, 0] + lm[16, 0]), 0.5 * (lm[8, 1] + top)
    a, b = 0.55 * (lm[16, 0] - lm[0, 0]), 0.55 * (top - lm[8, 1])
    u, v = (xy[:, 0] - cx) / a, (xy[:, 1] - cy) / b
    z = 0.95 * iod * identity.depth * np.sqrt(np.clip(1.0 - 0.8 * u * u - 0.55 * v * v, 0.03, None))
    # nose: a ridge from the bridge (27) to the tip (30), growing towards the tip, and the nostril wings
    d2, t = _segment_d2(xy, lm[27], lm[30])
    z += identity.nose * 0.36 * iod * (0.35 + 0.65 * t) * _gauss(d2, 0.11 * iod)
    z += identity.nose * 0.12 * iod * _gauss(((xy - lm[33]) ** 2).sum(axis=1), 0.16 * iod)
    # brow ridges and eye sockets
    for brow in (lm[17:22], lm[22:27]):
        z += identity.brow * 0.08 * iod * _gauss(_polyline_d2(xy + [0.0, -0.04 * iod], brow), 0.1 * iod)
    for eye in (lm[36:42], lm[42:48]):
        z -= 0.13 * iod * _gauss(((xy - eye.mean(axis=0)) ** 2).sum(axis=1), 0.2 * iod)
    # cheek bones, lips, chin
    for a_, b_ in ((lm[41], lm[2]), (lm[46], lm[14])):
        z += 0.05 * iod * _gauss(((xy - (0.6 * a_ + 0.4 * b_)) ** 2).sum(axis=1), 0.25 * iod)
    mouth = lm[48:68].mean(axis=0)
    d = xy - mouth
    z += identity.chin * 0.07 * iod * np.exp(-0.5 * ((d[:, 0] / (0.4 * iod)) ** 2 + (d[:, 1] / (0.16 * iod)) ** 2))
    z += identity.chin * 0.08 * iod * _gauss(((xy - (lm[8] + [0.0, 0.22 * iod])) ** 2).sum(axis=1), 0.22 * iod)
    return z


def _sample_bilinear(image: np.ndarray, px: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x = np.clip(px[:, 0], 0.0, w - 1.001)
    y = np.clip(px[:, 1], 0.0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    img = image.astype(np.float64)
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def build_face(image: np.ndarray, landmarks_px: np.ndarray, identity: Identity = Identity(),
               grid_step: float = 0.045, rbf_sigma: float = 0.12, rbf_floor: float = 0.02) -> FaceMesh:
    """The neutral face mesh of one subject.

    ``image``: (H, W, 3) uint8 photo; ``landmarks_px``: its (68, 2) landmarks in pixels; ``grid_step``: grid spacing
    in IOD units (0.045 gives about 2.5k vertices, 0.035 about 4k, 0.08 about 800); ``rbf_sigma``: the width of the
    Gaussian weights that carry landmark displacements to vertices, IOD units; ``rbf_floor``: the weight of "no
    landmark near" (displacements fade out where the summed Gaussian weight falls below it).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = image[:, :, :3]
    lm_px = np.asarray(landmarks_px, dtype=np.float64)
    iod_px = aufields.inter_ocular(lm_px)
    outline = _outline(lm_px)
    step = grid_step * iod_px
    x0, y0 = outline.min(axis=0) - step
    x1, y1 = outline.max(axis=0) + step
    xs = np.arange(x0, x1 + step, step)
    ys = np.arange(y0, y1 + step, step)
    gx, gy = np.meshgrid(xs, ys)  # rows = y (down), cols = x
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    inside = _inside(grid, outline).reshape(gx.shape)
    index = -np.ones(gx.shape, dtype=np.int64)
    index[inside] = np.arange(int(inside.sum()))
    vertex_px = grid[inside.ravel()].copy()
    # two triangles per cell whose corners are all inside, one where three are (a smoother rim); image y is down and
    # mesh y up, so (a, c, b) is counter-clockwise seen from +z
    a, b = index[:-1, :-1], index[:-1, 1:]
    c, d = index[1:, :-1], index[1:, 1:]
    ia, ib, ic, id_ = a >= 0, b >= 0, c >= 0, d >= 0
    full = ia & ib & ic & id_
    cells = np.zeros(a.shape + (2, 3), dtype=np.int64) - 1
    cells[full, 0] = np.stack([a[full], c[full], b[full]], axis=1)
    cells[full, 1] = np.stack([b[full], c[full], d[full]], axis=1)
    for mask, tri in ((ia & ib & ic & ~id_, (a, c, b)), (ib & ic & id_ & ~ia, (b, c, d)),
                      (ia & ic & id_ & ~ib, (a, c, d)), (ia & ib & id_ & ~ic, (a, d, b))):
        cells[mask, 0] = np.stack([t[mask] for t in tri], axis=1)
    faces = cells.reshape(-1, 3)
    faces = faces[faces[:, 0] >= 0].astype(np.int32)
    # rim vertices (a grid neighbour outside) snap onto the outline: a smooth face border instead of a staircase
    padded = np.pad(inside, 1)
    rim = inside & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    rim_ids = index[rim]
    seg_a, seg_b = outline, np.roll(outline, -1, axis=0)
    best = np.full(len(rim_ids), np.inf)
    target = vertex_px[rim_ids].copy()
    for p0, p1 in zip(seg_a, seg_b):
        d2, t = _segment_d2(vertex_px[rim_ids], p0, p1)
        closer = d2 < best
        best[closer] = d2[closer]
        target[closer] = p0 + t[closer, None] * (p1 - p0)
    near = best <= (1.5 * step) ** 2
    vertex_px[rim_ids[near]] = target[near]

    # photo pixels -> mesh millimetres (x right, y up), centred on the nose bridge, per-subject width/height
    centre = lm_px[27:31].mean(axis=0)
    mm = IOD_MM / iod_px
    linear = np.array([[mm * identity.width, 0.0], [0.0, -mm * identity.height]])
    to_mm = lambda p: (np.asarray(p) - centre) @ linear.T  # noqa: E731
    xy = to_mm(vertex_px)
    lm_xy = to_mm(lm_px)
    iod_mm = IOD_MM * identity.width
    # normalised Gaussian weights from the 68 control points to every vertex (Shepard-style: a convex blend of the
    # nearby landmarks' displacements, fading to zero where no landmark is near; never overshoots)
    sigma = rbf_sigma * iod_mm
    g = _gauss(((xy[:, None, :] - lm_xy[None, :, :]) ** 2).sum(axis=2), sigma)
    weights = g / (g.sum(axis=1, keepdims=True) + rbf_floor)
    if identity.shape is not None:  # the subject's own proportions: landmarks move, the skin (texture) follows
        offset = (np.asarray(identity.shape, dtype=np.float64) * iod_px) @ linear.T
        lm_xy = lm_xy + offset
        xy = xy + weights @ offset
    z = height_field(xy, lm_xy, iod_mm, identity)
    vertices = np.column_stack([xy, z])
    lm_z = height_field(lm_xy, lm_xy, iod_mm, identity)
    landmarks = np.column_stack([lm_xy, lm_z])

    # z bulges per AU (unit intensity), and the side weight (subject's left = image right = mesh +x)
    bulges: dict[int, np.ndarray] = {}
    for au, entries in AU_BULGE.items():
        total = np.zeros(len(xy))
        for anchor, (dx, dy), amp, sig in entries:
            c_mm = lm_xy[list(anchor)].mean(axis=0) + linear @ (np.array([dx, dy]) * iod_px)
            total += amp * _gauss(((xy - c_mm) ** 2).sum(axis=1), sig * iod_mm)
        bulges[au] = total
    sides = 1.0 / (1.0 + np.exp(-xy[:, 0] / (0.05 * iod_mm)))

    # texture: the photo crop around the face; colours with the identity's tone
    h, w = image.shape[:2]
    cx0, cy0 = int(max(np.floor(vertex_px[:, 0].min()) - 2, 0)), int(max(np.floor(vertex_px[:, 1].min()) - 2, 0))
    cx1, cy1 = int(min(np.ceil(vertex_px[:, 0].max()) + 3, w)), int(min(np.ceil(vertex_px[:, 1].max()) + 3, h))
    tone = np.asarray(identity.tone, dtype=np.float64)
    texture = np.clip(image[cy0:cy1, cx0:cx1].astype(np.float64) * tone, 0, 255).round().astype(np.uint8)
    local = vertex_px - [cx0, cy0]
    th, tw = texture.shape[:2]
    uv = np.column_stack([(local[:, 0] + 0.5) / tw, 1.0 - (local[:, 1] + 0.5) / th])
    rgb = np.clip(_sample_bilinear(image, vertex_px) * tone, 0, 255).round().astype(np.uint8)
    colors = np.column_stack([rgb, np.full(len(rgb), 255, dtype=np.uint8)])
    return FaceMesh(vertices=vertices, faces=faces, uv=uv, colors=colors, texture=texture, landmarks_px=lm_px,
                    landmarks=landmarks, linear=linear, weights=weights, iod_px=float(iod_px), vertex_px=vertex_px,
                    bulges=bulges, sides=sides)


def rigid(vertices: np.ndarray, yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0,
          shift: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0), pivot_z: float = -80.0) -> np.ndarray:
    """Head pose: rotate about a pivot behind the face (the neck, ``pivot_z`` mm), then shift (mm)."""
    y, p, r = np.radians([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    pivot = np.array([0.0, 0.0, pivot_z])
    return (vertices - pivot) @ (rz @ rx @ ry).T + pivot + np.asarray(shift, dtype=np.float64)


# --- files ------------------------------------------------------------------------------------------------------------


def ply_bytes(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> bytes:
    """Binary little-endian PLY (float32 xyz, optional uchar RGBA, int32 triangles). No comments: the bytes depend
    only on the geometry."""
    vertices = np.asarray(vertices, dtype="<f4")
    faces = np.asarray(faces, dtype="<i4")
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(vertices)}",
              "property float x", "property float y", "property float z"]
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue", "property uchar alpha"]
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1"), ("alpha", "u1")]
    header += [f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]
    vert = np.zeros(len(vertices), dtype=fields)
    vert["x"], vert["y"], vert["z"] = vertices[:, 0], vertices[:, 1], vertices[:, 2]
    if colors is not None:
        colors = np.asarray(colors, dtype=np.uint8)
        if colors.shape[1] == 3:
            colors = np.column_stack([colors, np.full(len(colors), 255, dtype=np.uint8)])
        for i, name in enumerate(("red", "green", "blue", "alpha")):
            vert[name] = colors[:, i]
    tri = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    tri["n"] = 3
    tri["v"] = faces
    return ("\n".join(header) + "\n").encode("ascii") + vert.tobytes() + tri.tobytes()


def to_trimesh(face: FaceMesh, vertices: np.ndarray | None = None, textured: bool = False):
    """A trimesh.Trimesh of the face (vertex colours, or the photo texture with ``textured=True``)."""
    import trimesh

    verts = face.vertices if vertices is None else vertices
    if textured:
        from PIL import Image

        visual = trimesh.visual.TextureVisuals(uv=face.uv, image=Image.fromarray(face.texture))
        return trimesh.Trimesh(vertices=verts, faces=face.faces, visual=visual, process=False)
    return trimesh.Trimesh(vertices=verts, faces=face.faces, vertex_colors=face.colors, process=False)


# --- rendering --------------------------------------------------------------------------------------------------------


def _import_pyrender():
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import pyrender

    return pyrender


# Lambertian shading: ambient + diffuse * max(0, n . l), l = a key light from the upper left front
AMBIENT, DIFFUSE = 0.45, 0.62
LIGHT_DIRECTION = (np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])).astype(np.float32)


@dataclass(frozen=True)
class Camera:
    """A frontal pinhole camera looking down -z from (0, 0, distance) mm."""

    width: int
    height: int
    yfov_deg: float
    distance: float
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)


class FaceRenderer:
    """Offscreen pyrender renderer for one image size; reuse it for every frame of that size."""

    def __init__(self, width: int, height: int):
        self.renderer = None
        try:
            pyrender = _import_pyrender()
            self.pyrender = pyrender
            self.width, self.height = int(width), int(height)
            self.renderer = pyrender.OffscreenRenderer(self.width, self.height)
        except Exception as exc:
            raise RuntimeError(
                f"pyrender cannot render offscreen ({type(exc).__name__}: {exc}); the 4D/Kinect shadow needs an "
                f"offscreen GL: PYOPENGL_PLATFORM=egl (now {os.environ.get('PYOPENGL_PLATFORM')!r}) with Mesa's EGL "
                "(libegl1, libgl1-mesa-dri), set before anything imports pyrender or PyOpenGL") from exc
        self._texture_of: FaceMesh | None = None  # the face whose texture is loaded (kept alive: no id reuse)
        self._material = None

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.delete()
            self.renderer = None

    def __enter__(self) -> "FaceRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _material_for(self, face: FaceMesh):
        if self._texture_of is not face:
            pyrender = self.pyrender
            rgba = np.concatenate([face.texture, np.full(face.texture.shape[:2] + (1,), 255, np.uint8)], axis=2)
            # RGBA: 4-byte texel rows whatever the width (an RGB row of odd length breaks GL's unpack alignment)
            texture = pyrender.Texture(source=np.ascontiguousarray(rgba), source_channels="RGBA")
            self._material = pyrender.MetallicRoughnessMaterial(baseColorTexture=texture, metallicFactor=0.0,
                                                                roughnessFactor=1.0)
            self._texture_of = face
        return self._material

    def render(self, face: FaceMesh, vertices: np.ndarray, camera: Camera, depth_only: bool = False
               ) -> tuple[np.ndarray | None, np.ndarray]:
        """(RGB uint8 (H, W, 3) or None, depth float32 (H, W) in mm along the optical axis, 0 = nothing).

        Shading is Lambertian (ambient + one key light from the upper left), computed per vertex here and multiplied
        with the photo texture by pyrender's flat shader: a fraction of the cost of its PBR shader on a software GL.
        """
        pyrender = self.pyrender
        if (camera.width, camera.height) != (self.width, self.height):
            raise ValueError(f"renderer is {self.width}x{self.height}, camera wants {camera.width}x{camera.height}")
        vertices = np.asarray(vertices, dtype=np.float32)
        normals = _vertex_normals(vertices, face.faces)
        shade = AMBIENT + DIFFUSE * np.clip(normals @ LIGHT_DIRECTION, 0.0, None)
        colors = np.repeat(shade[:, None], 4, axis=1).astype(np.float32)
        colors[:, 3] = 1.0
        primitive = pyrender.Primitive(positions=vertices, texcoord_0=face.uv.astype(np.float32),
                                       color_0=colors, indices=face.faces, material=self._material_for(face),
                                       mode=pyrender.constants.GLTF.TRIANGLES)
        scene = pyrender.Scene(bg_color=[*camera.background, 1.0], ambient_light=[1.0, 1.0, 1.0])
        scene.add(pyrender.Mesh([primitive]))
        pose = np.eye(4)
        pose[2, 3] = camera.distance
        scene.add(pyrender.PerspectiveCamera(yfov=np.radians(camera.yfov_deg), znear=camera.distance * 0.5,
                                             zfar=camera.distance * 1.6,
                                             aspectRatio=camera.width / camera.height), pose=pose)
        if depth_only:
            return None, np.asarray(self.renderer.render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY),
                                    dtype=np.float32)
        color, depth = self.renderer.render(scene, flags=pyrender.RenderFlags.FLAT)
        return np.ascontiguousarray(color[:, :, :3], dtype=np.uint8), np.asarray(depth, dtype=np.float32)


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    v = vertices.astype(np.float64)
    tri = v[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.zeros_like(v)
    for axis in range(3):
        out[:, axis] = sum(np.bincount(faces[:, k], weights=n[:, axis], minlength=len(v)) for k in range(3))
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norm == 0, 1.0, norm)).astype(np.float32)
