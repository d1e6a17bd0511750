"""Shadow 4DME: a native-format label book and the four modalities of seed 004, driven by the shared AU fields.

Written under the dataset root (the layouts ``loaders/fourdme.py`` resolves first)::

    4DME_Labelling_release v1.xlsx        the label book (below)
    4D/<sub>/<clip>/frame_<n:04d>.ply     DI4D-like 4D mesh sequence, one mesh per 60 fps frame n (binary PLY,
                                          float32 xyz in mm, per-vertex RGBA colour sampled from the face photo)
    gray_micro/<clip>/frame_<n:04d>.jpg   grey 60 fps video (8-bit grey JPEG), frame n
    kinect_color/<sub>/<clip>/frame_<k:04d>.jpg   Kinect RGB 30 fps (colour JPEG), Kinect frame k = n // 2
    kinect_depth/<sub>/<clip>/frame_<k:04d>.png   Kinect depth 30 fps (16-bit PNG, millimetres, 0 = no reading)
    kinect_calibration.json               intrinsics of the grey and the (registered) Kinect colour/depth cameras,
                                          depth units, the Kinect frame rule

Frame numbers n are the label book's (the 60 fps grey / DI4D clock, frames of the long segment the clip was cut
from); a clip folder holds the frames from onset to offset. At the ``full`` scale every frame is written; at ``tiny``
and ``small`` only the frames a recogniser needs (onset, apex, offset and a few between; Kinect: those frames // 2),
so that the small shadow builds in seconds.

Every modality is rendered from ONE mesh sequence (``mebench.synth.mesh``): the subject's textured face mesh
deformed per frame by the same AU displacement fields as the 2D datasets (``mebench.synth.aufields``), plus the
AU's skin bulges along z, a slow head drift and a small static head pose per clip. The grey video is a pyrender
render of that mesh (frontal grey camera, 60 fps, sensor noise), not a 2D warp, so the four modalities agree
geometrically; the Kinect colour and depth frames are one render of the same mesh from a wider frontal camera.

The label book (sheet 'Sheet1', header on row 1, as the release): ``sub_ID'`` (the release's trailing apostrophe),
``fold_name``, ``Onset``, ``Apex``, ``Offset``, ``Length`` (a formula, cached value written), ``AUs`` ('AU4+AU7',
'AU12(k)+AU6', 'AUL12'), ``Emotion`` ('Negative', 'Surprise+Positive', 'Others'...), the one-hot emotion columns
``Positive Negative Surprise Repression Others``, ``Type`` ('ME' / 'MaE'), one-hot columns of the 8 frequent AUs, and
a trailing totals line (SUM formulas) that the loader skips. Emotions follow the AUs by the 4DME mapping (Table 4,
rules 1-7; label scheme ``4dme``): AU12 positive, AU1/4/7/9/10 negative, AU2 or AU1+2 surprise, AU14/15/17/24
repression, only dependent or no-emotion AUs (5, 6, 20, 25, 45...) or positive with negative -> others, up to two
emotions; static AUs '(k)' (held through the clip, not animated) count. At the ``full`` scale the counts per emotion
and type are those of seed 004 Table 3 (267 MEs, 123 macro-expressions, 41 subjects), and Excel rows 144/145 have
onset and offset swapped as in the release (fixed by the errata table when the corpus is built). Micro-expressions
last 0.2-0.45 s at low amplitude, macro-expressions 0.55-3 s at about three times the amplitude.

Scales: ``tiny`` 3 subjects / 6 clips, 160x120 frames, ~630-vertex meshes (seconds); ``small`` 12 subjects / 84
clips (60 micro, balanced emotions), 320x240, ~2k-vertex meshes, key frames (~15 CPU-seconds, ~80 MB); ``full`` 41
subjects / 390 clips, 640x480, ~2k-vertex meshes, every frame (~10 CPU-minutes, ~2.2 GB).

The release's 278 long segments (spotting) are not written: the 4dme loader reads clips only (``video_id`` null).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import openpyxl
from openpyxl.utils import get_column_letter

from mebench.synth import aufields, rng
from mebench.synth import mesh as facemesh
from mebench.synth.xlsx import save_workbook

NAME = "4dme"
FPS = 60.0
KINECT_FPS = 30.0
LABEL_FILE = "4DME_Labelling_release v1.xlsx"
JPEG_QUALITY = 92
SHEET = "Sheet1"
EMOTION_COLUMNS = ("Positive", "Negative", "Surprise", "Repression", "Others")
AU_COLUMNS = (1, 2, 4, 6, 7, 12, 17, 45)  # the eight AUs with more than ten ME samples (seed 004 Table 5)
HEADER = ["sub_ID'", "fold_name", "Onset", "Apex", "Offset", "Length", "AUs", "Emotion", *EMOTION_COLUMNS, "Type",
          *[f"AU{au}" for au in AU_COLUMNS]]
SWAPPED_ROWS = (144, 145)  # Excel rows whose onset/offset the release has swapped (DESIGN.md 3.2)


@dataclass(frozen=True)
class ScaleSpec:
    subjects: int
    clips: dict[str, dict[str, int]]  # type -> emotion class -> count
    size: tuple[int, int]  # grey and Kinect frame size (width, height)
    grid_step: float  # mesh grid spacing, IOD units
    every_frame: bool  # all frames onset..offset, or the key frames only


# emotion classes: P, N, S, R, OT and the compound PS, NS, PR, NR, RS of seed 004 Table 3
TABLE3 = {
    "micro": {"P": 34, "N": 127, "S": 30, "R": 6, "RS": 3, "PS": 13, "NS": 8, "PR": 8, "NR": 7, "OT": 31},
    "macro": {"P": 15, "N": 41, "S": 24, "R": 4, "RS": 1, "PS": 5, "NS": 5, "PR": 4, "NR": 6, "OT": 18},
}
SCALES = {
    "tiny": ScaleSpec(3, {"micro": {"P": 1, "N": 1, "PS": 1, "R": 1}, "macro": {"S": 1, "OT": 1}}, (160, 120), 0.09,
                      False),
    "small": ScaleSpec(12, {"micro": {"P": 10, "N": 12, "S": 10, "R": 10, "OT": 8, "PS": 3, "NS": 2, "PR": 2, "NR": 2,
                                      "RS": 1},
                            "macro": {"P": 4, "N": 6, "S": 4, "R": 3, "OT": 3, "PS": 1, "NS": 1, "PR": 1, "NR": 1}},
                       (320, 240), 0.05, False),
    "full": ScaleSpec(41, TABLE3, (640, 480), 0.05, True),
}
N_PARTICIPANTS = 65  # recorded; subjects with expressions are drawn from these ids

EMOTION_TEXT = {"P": "Positive", "N": "Negative", "S": "Surprise", "R": "Repression", "OT": "Others",
                "PS": "Surprise+Positive", "NS": "Negative+Surprise", "PR": "Positive+Repression",
                "NR": "Negative+Repression", "RS": "Repression+Surprise"}
EMOTIONS_OF = {k: tuple(sorted(e.lower() for e in v.split("+"))) for k, v in EMOTION_TEXT.items()}

# AU patterns per emotion class: tuples of (au, static); the first AU is the 'major' AU that decides the timing
PATTERNS: dict[str, list[tuple[tuple[int, bool], ...]]] = {
    "P": [((12, False),), ((12, False), (6, False)), ((6, False), (12, True)), ((12, False), (25, False))],
    "N": [((4, False),), ((4, False), (7, False)), ((7, False),), ((1, False),), ((9, False),), ((10, False),),
          ((4, False), (7, False), (43, False))],
    "S": [((1, False), (2, False)), ((2, False),), ((1, False), (2, False), (5, False))],
    "R": [((14, False),), ((15, False),), ((17, False),), ((24, False),), ((15, False), (17, False))],
    "OT": [((6, False),), ((5, False),), ((6, False), (45, False)), ((4, False), (12, False)), ((25, False),)],
    "PS": [((1, False), (2, False), (12, False)), ((1, False), (2, False), (12, True))],
    "NS": [((2, False), (4, False)), ((1, False), (2, False), (4, False))],
    "PR": [((12, False), (17, False)), ((12, False), (15, False))],
    "NR": [((4, False), (15, False)), ((7, False), (17, False)), ((4, False), (24, False))],
    "RS": [((2, False), (14, False)), ((1, False), (2, False), (17, False))],
}
UNILATERAL = frozenset({12, 14})  # AUs that are sometimes coded with a side ('AUL12')

# amplitudes relative to the AU table's strong apex: micro about a third of macro (seed 001 Table 3 MVC%)
AMPLITUDE = {"micro": (0.3, 0.6), "macro": (0.9, 1.5)}
STATIC_LEVEL = (0.25, 0.45)

# cameras: grey (Stingray, frontal, face filling most of the frame) and Kinect (wider, registered colour + depth)
GREY_YFOV, GREY_DISTANCE = 22.0, 600.0
KINECT_YFOV, KINECT_DISTANCE = 43.0, 600.0


@dataclass
class Clip:
    subject: str
    clip: str
    kind: str  # micro | macro
    emotion_class: str
    aus: tuple[tuple[int, bool, str | None, float], ...]  # (au, static, side, amplitude)
    onset: int
    apex: int
    offset: int
    pose: tuple[float, float, float]  # yaw, pitch, roll (degrees), held through the clip
    row: int = 0  # Excel row in the label book

    @property
    def au_cell(self) -> str:
        return "+".join(f"AU{side or ''}{au}{'(k)' if static else ''}" for au, static, side, _ in self.aus)

    @property
    def emotion_text(self) -> str:
        return EMOTION_TEXT[self.emotion_class]


# --- ground truth -----------------------------------------------------------------------------------------------------


def _timing(gen: np.random.Generator, kind: str) -> tuple[int, int]:
    """(frames onset->apex, frames apex->offset) at 60 fps: micro 0.2-0.45 s in all (< 0.5 s), macro 0.55-3 s."""
    if kind == "micro":
        total = int(round(gen.uniform(0.2, 0.45) * FPS))
    else:
        total = int(round(float(np.clip(gen.lognormal(np.log(1.2), 0.45), 0.55, 3.0)) * FPS))
    total = max(total, 6)
    rise = int(round(total * gen.uniform(0.35, 0.6)))
    rise = min(max(rise, 2), total - 2)
    return rise, total - rise


def _subject_clip_counts(gen: np.random.Generator, n_subjects: int, n_clips: int, skewed: bool) -> list[int]:
    if not skewed:
        base = np.full(n_subjects, n_clips // n_subjects)
        base[: n_clips - base.sum()] += 1
        return [int(c) for c in base]
    # "ME samples from each subject vary largely" (seed 004 section 5.1.2): at least 2 each, Dirichlet shares
    counts = np.full(n_subjects, 2)
    extra = gen.multinomial(n_clips - counts.sum(), gen.dirichlet(np.full(n_subjects, 0.8)))
    return [int(c) for c in counts + extra]


def ground_truth(scale: str, seed: int) -> list[Clip]:
    """Every clip of the shadow label book, in file order (by subject, then clip)."""
    spec = SCALES[scale]
    gen = rng(seed, NAME, "labels", scale)
    classes = [(kind, cls) for kind in ("micro", "macro") for cls, n in spec.clips[kind].items() for _ in range(n)]
    order = gen.permutation(len(classes))
    classes = [classes[i] for i in order]
    ids = sorted(int(i) for i in gen.choice(np.arange(1, N_PARTICIPANTS + 1), size=spec.subjects, replace=False))
    counts = _subject_clip_counts(gen, spec.subjects, len(classes), skewed=scale == "full")
    clips: list[Clip] = []
    position = 0
    for sid, count in zip(ids, counts):
        subject = f"S{sid:02d}"
        first_session = math.ceil(count / 2)
        stimulus, number, previous = 0, 0, None
        for j in range(count):
            kind, cls = classes[position]
            position += 1
            session = "1st" if j < first_session else "2nd"
            if session == previous and gen.random() < 0.35:
                number += 1  # a second expression cut from the same stimulus segment
            else:
                stimulus, number = stimulus + 1, 1
            previous = session
            name = f"{subject}_{session}_{stimulus:03d}_{int(gen.integers(1, 4)):02d}_{number}"
            pattern = PATTERNS[cls][int(gen.integers(len(PATTERNS[cls])))]
            low, high = AMPLITUDE[kind]
            aus = []
            for au, static in pattern:
                side = None
                if au in UNILATERAL and len(pattern) == 1 and gen.random() < 0.2:
                    side = "L" if gen.random() < 0.5 else "R"
                level = gen.uniform(*STATIC_LEVEL) if static else gen.uniform(low, high)
                aus.append((au, static, side, float(round(level, 4))))
            rise, fall = _timing(gen, kind)
            onset = int(gen.integers(20, 400))
            pose = tuple(float(round(v, 3)) for v in gen.uniform(-1.0, 1.0, size=3) * np.array([2.5, 2.0, 1.5]))
            clips.append(Clip(subject, name, kind, cls, tuple(aus), onset, onset + rise, onset + rise + fall, pose))
    for i, clip in enumerate(clips):
        clip.row = i + 2
    return clips


# --- label book -------------------------------------------------------------------------------------------------------


def write_labels(path: Path, clips: list[Clip]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(HEADER)
    cached: dict[tuple[str, str], int] = {}
    col = {name: get_column_letter(i + 1) for i, name in enumerate(HEADER)}
    for clip in clips:
        r = clip.row
        onset, offset = clip.onset, clip.offset
        if r in SWAPPED_ROWS:
            onset, offset = offset, onset  # the release's error, fixed by the errata table
        emotions = EMOTIONS_OF[clip.emotion_class]
        onehot = [int(e.lower() in emotions) for e in EMOTION_COLUMNS]
        coded = {au for au, *_ in clip.aus}
        sheet.append([clip.subject, clip.clip, onset, clip.apex, offset, f"={col['Offset']}{r}-{col['Onset']}{r}+1",
                      clip.au_cell, clip.emotion_text, *onehot, "ME" if clip.kind == "micro" else "MaE",
                      *[int(au in coded) for au in AU_COLUMNS]])
        cached[(SHEET, f"{col['Length']}{r}")] = offset - onset + 1
    total_row = len(clips) + 2
    totals: list = [None] * len(HEADER)
    totals[HEADER.index("Emotion")] = "total"
    first, last = 2, total_row - 1
    for name in (*EMOTION_COLUMNS, *[f"AU{au}" for au in AU_COLUMNS]):
        i = HEADER.index(name)
        letter = col[name]
        totals[i] = f"=SUM({letter}{first}:{letter}{last})"
        values = [row[i] for row in sheet.iter_rows(min_row=first, max_row=last, values_only=True)]
        cached[(SHEET, f"{letter}{total_row}")] = int(sum(values))
    sheet.append(totals)
    sheet.freeze_panes = "A2"
    save_workbook(book, path, cached_values=cached)


# --- media ------------------------------------------------------------------------------------------------------------


def _base_face() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut photo (RGB) and its 68 landmarks, as the 2D shadow datasets use them."""
    from mebench.synth import faces

    return cv2.cvtColor(faces.astronaut_bgr(), cv2.COLOR_BGR2RGB), np.asarray(faces.BASE_LANDMARKS, dtype=np.float64)


def subject_face(seed: int, subject: str, grid_step: float) -> facemesh.FaceMesh:
    image, landmarks = _base_face()
    identity = facemesh.Identity.sample(rng(seed, NAME, "identity", subject))
    return facemesh.build_face(image, landmarks, identity, grid_step=grid_step)


def frames_to_write(clip: Clip, every_frame: bool) -> list[int]:
    """60 fps frame numbers of the clip's grey video and meshes."""
    if every_frame:
        return list(range(clip.onset, clip.offset + 1))
    on, ap, off = clip.onset, clip.apex, clip.offset
    keys = {on, ap, off, (on + ap) // 2, (3 * on + ap) // 4, (ap + off) // 2, (ap + 3 * off) // 4}
    return sorted(keys)


def kinect_frames(frames: list[int]) -> list[int]:
    return sorted({n // 2 for n in frames})


class ClipMotion:
    """The clip's AU levels and head pose at any 60 fps frame number (fractional allowed)."""

    def __init__(self, clip: Clip, gen: np.random.Generator):
        self.clip = clip
        self.start = clip.onset - 2
        n = clip.offset - self.start + 3
        self.envelope = aufields.profile(n, clip.onset - self.start, clip.apex - self.start,
                                         clip.offset - self.start)
        # slow head drift (mm, degrees): a few low-frequency sinusoids, tiny next to the expression
        self.waves = [(gen.uniform(0.1, 0.5), gen.uniform(0, 2 * np.pi), gen.uniform(-1, 1, size=6))
                      for _ in range(2)]

    def level(self, n: int) -> float:
        i = n - self.start
        return float(self.envelope[i]) if 0 <= i < len(self.envelope) else 0.0

    def aus(self, n: int) -> tuple[dict[int, float], dict[int, str | None]]:
        level = self.level(n)
        out: dict[int, float] = {}
        sides: dict[int, str | None] = {}
        for au, static, side, amplitude in self.clip.aus:
            value = amplitude if static else amplitude * level
            out[au] = out.get(au, 0.0) + value
            sides[au] = side
        return out, sides

    def pose(self, n: int) -> tuple[tuple[float, float, float], np.ndarray]:
        t = (n - self.clip.onset) / FPS
        drift = np.zeros(6)
        for frequency, phase, amplitude in self.waves:
            drift += amplitude * np.sin(2 * np.pi * frequency * t + phase)
        yaw, pitch, roll = self.clip.pose
        rotation = (yaw + 0.08 * drift[0], pitch + 0.08 * drift[1], roll + 0.05 * drift[2])
        return rotation, 0.15 * drift[3:]

    def vertices(self, face: facemesh.FaceMesh, n: int) -> np.ndarray:
        aus, sides = self.aus(n)
        deformed = face.deform(aus, sides)
        (yaw, pitch, roll), shift = self.pose(n)
        # rounded to 0.1 micrometre: BLAS kernels that differ in the last bit cannot change a written byte
        return np.round(facemesh.rigid(deformed, yaw, pitch, roll, shift), 4)


def _encode(image: np.ndarray, ext: str) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, data = cv2.imencode(ext, image, params)
    if not ok:
        raise RuntimeError(f"{ext} encoding failed")
    return data.tobytes()


def intrinsics(size: tuple[int, int], yfov_deg: float) -> dict[str, float]:
    """Pinhole intrinsics (pixels) of a rendered camera: square pixels, principal point at the image centre."""
    width, height = size
    f = 0.5 * height / math.tan(math.radians(yfov_deg) / 2)
    return {"width": width, "height": height, "fx": f, "fy": f, "cx": (width - 1) / 2, "cy": (height - 1) / 2}


def write_clip_media(root: Path, clip: Clip, face: facemesh.FaceMesh, renderer: facemesh.FaceRenderer,
                     spec: ScaleSpec, seed: int) -> int:
    """The clip's meshes, grey frames and Kinect colour/depth frames; returns the number of files written."""
    gen = rng(seed, NAME, "clip", clip.subject, clip.clip)
    motion = ClipMotion(clip, gen)
    width, height = spec.size
    grey_cam = facemesh.Camera(width, height, GREY_YFOV, GREY_DISTANCE, (0.12, 0.12, 0.12))
    kinect_cam = facemesh.Camera(width, height, KINECT_YFOV, KINECT_DISTANCE, (0.46, 0.43, 0.38))
    mesh_dir = root / "4D" / clip.subject / clip.clip
    grey_dir = root / "gray_micro" / clip.clip
    color_dir = root / "kinect_color" / clip.subject / clip.clip
    depth_dir = root / "kinect_depth" / clip.subject / clip.clip
    for folder in (mesh_dir, grey_dir, color_dir, depth_dir):
        folder.mkdir(parents=True, exist_ok=True)
    frames = frames_to_write(clip, spec.every_frame)
    written = 0
    grey_noise = rng(seed, NAME, "grey-noise", clip.subject, clip.clip)
    for n in frames:
        vertices = motion.vertices(face, n)
        (mesh_dir / f"frame_{n:04d}.ply").write_bytes(facemesh.ply_bytes(vertices, face.faces, face.colors))
        color, _ = renderer.render(face, vertices, grey_cam)
        grey = cv2.cvtColor(color, cv2.COLOR_RGB2GRAY).astype(np.float32)
        grey += grey_noise.normal(0.0, 1.5, size=grey.shape).astype(np.float32)
        (grey_dir / f"frame_{n:04d}.jpg").write_bytes(_encode(np.clip(np.round(grey), 0, 255).astype(np.uint8),
                                                               ".jpg"))
        written += 2
    depth_noise = rng(seed, NAME, "depth-noise", clip.subject, clip.clip)
    for k in kinect_frames(frames):
        vertices = motion.vertices(face, 2 * k)
        color, depth = renderer.render(face, vertices, kinect_cam)
        (color_dir / f"frame_{k:04d}.jpg").write_bytes(_encode(cv2.cvtColor(color, cv2.COLOR_RGB2BGR), ".jpg"))
        valid = depth > 0
        noisy = depth + depth_noise.normal(0.0, 0.6, size=depth.shape).astype(np.float32)
        mm = np.where(valid, np.clip(np.round(noisy), 1, 65535), 0).astype(np.uint16)
        (depth_dir / f"frame_{k:04d}.png").write_bytes(_encode(mm, ".png"))
        written += 2
    return written


# --- the writer -------------------------------------------------------------------------------------------------------


def write(root: Path, scale: str, seed: int, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the shadow 4DME under ``root``; returns {"samples": n, "subjects": m}."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r} (choose from {', '.join(SCALES)})")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    spec = SCALES[scale]
    clips = ground_truth(scale, seed)
    write_labels(root / LABEL_FILE, clips)
    calibration = {"kinect": {**intrinsics(spec.size, KINECT_YFOV), "fps": KINECT_FPS, "depth_units": "millimetre",
                              "depth_invalid": 0, "frame_rule": "kinect frame = grey/4D frame // 2",
                              "distance_mm": KINECT_DISTANCE},
                   "grey": {**intrinsics(spec.size, GREY_YFOV), "fps": FPS, "distance_mm": GREY_DISTANCE},
                   "mesh": {"fps": FPS, "units": "millimetre", "axes": "x right, y up, z towards the cameras"}}
    (root / "kinect_calibration.json").write_text(json.dumps(calibration, indent=2, sort_keys=True) + "\n")
    subjects = list(dict.fromkeys(c.subject for c in clips))
    total = len(clips)
    done = 0
    if progress is not None:
        progress(0, total)
    with facemesh.FaceRenderer(*spec.size) as renderer:
        for subject in subjects:
            face = subject_face(seed, subject, spec.grid_step)
            for clip in (c for c in clips if c.subject == subject):
                write_clip_media(root, clip, face, renderer, spec, seed)
                done += 1
                if progress is not None:
                    progress(done, total)
    return {"samples": len(clips), "subjects": len(subjects)}
