"""Action Units as landmark displacements: the table every synthetic modality (frames, EMG, 4D meshes) deforms with.

Landmarks are dlib's / iBUG's 68 points, in IMAGE coordinates (x right, y down) of a frontal face:

    0-16  jaw line (0 = image left = the subject's RIGHT ear side, 8 = chin tip, 16 = image right)
    17-21 subject's right brow (17 outer ... 21 inner)   22-26 subject's left brow (22 inner ... 26 outer)
    27-30 nose bridge (30 = tip)                         31-35 nostril base (31 image left, 33 centre, 35 right)
    36-41 subject's right eye: 36 outer corner, 37/38 upper lid, 39 inner corner, 40/41 lower lid
    42-47 subject's left eye:  42 inner corner, 43/44 upper lid, 45 outer corner, 46/47 lower lid
    48-59 outer lip: 48 right mouth corner (image left), 49-53 upper lip (51 centre), 54 left corner, 55-59 lower
          lip (57 centre)
    60-67 inner lip: 60 / 64 inner corners, 61-63 upper, 65-67 lower (66 centre)

``AU_TABLE[au]`` lists ``(landmark, dx, dy)``: how far each landmark moves at intensity 1.0 (a strong, FACS 'E'
apex), in units of the inter-ocular distance (IOD, distance between the two eye centres), y down (dy < 0 = up).
Landmarks not listed stay put. The values follow the FACS manual's appearance changes:

    AU    name                   region  what moves (at intensity 1, in IOD)
    1     inner brow raiser      brows   inner brow points 21/22 up 0.07, 20/23 up 0.045, 19/24 up 0.02
    2     outer brow raiser      brows   outer brow 17/26 up 0.07, 18/25 up 0.055, 19/24 up 0.03
    4     brow lowerer           brows   brows down 0.03-0.06 and drawn together (inner points 0.035 towards midline),
                                         inner eye corners slightly down
    5     upper lid raiser       eyes    upper lids 37/38/43/44 up 0.03
    6     cheek raiser           eyes    lower lids up 0.025, outer eye corners up, cheeks (1-3, 13-15) up 0.035
    7     lid tightener          eyes    lower lids up 0.03, upper lids down 0.012
    9     nose wrinkler          nose    nostril base up 0.035, bridge 28/29 up, inner brows down 0.025, upper lip up
    10    upper lip raiser       mouth   upper lip 49-53 up 0.04-0.05, inner upper lip up, nostril wings up
    11    nasolabial deepener    mouth   upper lip sides 49/53 up and out 0.02
    12    lip corner puller      mouth   corners 48/54 out 0.07 and up 0.05; inner corners and lip sides follow
    13    sharp lip puller       mouth   corners up 0.05 and slightly out
    14    dimpler                mouth   corners 48/54 drawn in-and-back 0.035 (lateral tightening), slightly up
    15    lip corner depressor   mouth   corners 48/54 down 0.05, lower lip sides down
    16    lower lip depressor    mouth   lower lip 55-59 down 0.035-0.045
    17    chin raiser            chin    chin 7-9 up 0.04, lower lip 56-58 up 0.035, corners slightly down
    18    lip pucker             mouth   corners 48/54 towards the midline 0.04
    20    lip stretcher          mouth   corners out 0.06 and slightly down, lower jaw sides out
    23    lip tightener          mouth   lips narrowed: upper lip down 0.015, lower lip up 0.015, corners in
    24    lip pressor            mouth   lips pressed: upper lip down 0.02, lower lip up 0.02
    25    lips part              mouth   lower lip (outer and inner) down 0.035-0.04, inner upper lip up 0.01
    26    jaw drop               chin    chin 8 down 0.08, jaw 5-11 down, lower lip down 0.07, corners down 0.03
    27    mouth stretch          chin    like 26, 1.5x larger
    38    nostril dilator        nose    nostril wings 31/35 out 0.015
    43    eyes closed            eyes    upper lids down to the lower lids (relative: see below), lower lids up
    45    blink                  eyes    as 43 (short)

AU43/AU45 are relative: ``displacement`` moves each upper-lid point by the fraction of the actual lid gap of the
given face (the table gives the nominal 0.1 IOD used where no landmarks are known).

Sides: 'L' is the SUBJECT's left (image right), 'R' the subject's right (image left); a unilateral AU moves only the
landmarks of that side and midline landmarks by half. 'A'/'T'/'B' and None move both sides. Pure numpy, no I/O.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

N_LANDMARKS = 68

# --- landmark groups -------------------------------------------------------------------------------------------------

JAW = tuple(range(0, 17))
RIGHT_BROW = tuple(range(17, 22))  # subject's right = image left
LEFT_BROW = tuple(range(22, 27))
NOSE_BRIDGE = tuple(range(27, 31))
NOSTRILS = tuple(range(31, 36))
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))
OUTER_LIP = tuple(range(48, 60))
INNER_LIP = tuple(range(60, 68))

MIDLINE = frozenset({8, 27, 28, 29, 30, 33, 51, 57, 62, 66})
SUBJECT_RIGHT = frozenset({*range(0, 8), *RIGHT_BROW, *RIGHT_EYE, 31, 32, 48, 49, 50, 58, 59, 60, 61, 67})
SUBJECT_LEFT = frozenset(set(range(N_LANDMARKS)) - SUBJECT_RIGHT - MIDLINE)

UPPER_LIDS = {37: 41, 38: 40, 43: 47, 44: 46}  # upper-lid landmark -> the lower-lid landmark below it


def _mirror(pairs: Iterable[tuple[int, int]], dx: float, dy: float) -> list[tuple[int, float, float]]:
    """Entries for (subject-right landmark, subject-left landmark) pairs: dx given for the image-left point,
    mirrored for the image-right one."""
    out: list[tuple[int, float, float]] = []
    for right, left in pairs:
        out.append((right, dx, dy))
        out.append((left, -dx, dy))
    return out


def _centre(points: Iterable[int], dx: float, dy: float) -> list[tuple[int, float, float]]:
    return [(p, dx, dy) for p in points]


_TABLE: dict[int, list[tuple[int, float, float]]] = {
    1: _mirror([(21, 22)], 0.005, -0.07) + _mirror([(20, 23)], 0.0, -0.045) + _mirror([(19, 24)], 0.0, -0.02),
    2: _mirror([(17, 26)], 0.0, -0.07) + _mirror([(18, 25)], 0.0, -0.055) + _mirror([(19, 24)], 0.0, -0.03)
    + _mirror([(20, 23)], 0.0, -0.012),
    4: _mirror([(21, 22)], 0.035, 0.06) + _mirror([(20, 23)], 0.025, 0.05) + _mirror([(19, 24)], 0.012, 0.035)
    + _mirror([(18, 25)], 0.0, 0.02) + _mirror([(39, 42)], 0.0, 0.008) + _centre([27], 0.0, 0.01),
    5: _mirror([(37, 44), (38, 43)], 0.0, -0.03),
    6: _mirror([(40, 47), (41, 46)], 0.0, -0.025) + _mirror([(36, 45)], 0.0, -0.012)
    + _mirror([(1, 15), (2, 14)], 0.0, -0.035) + _mirror([(3, 13)], 0.0, -0.02),
    7: _mirror([(40, 47), (41, 46)], 0.0, -0.03) + _mirror([(37, 44), (38, 43)], 0.0, 0.012)
    + _mirror([(36, 45)], 0.004, 0.0),
    9: _mirror([(31, 35), (32, 34)], 0.0, -0.035) + _centre([33], 0.0, -0.025) + _centre([28, 29], 0.0, -0.012)
    + _mirror([(21, 22)], 0.008, 0.025) + _mirror([(49, 53), (50, 52)], 0.0, -0.015) + _centre([51], 0.0, -0.015),
    10: _mirror([(50, 52)], 0.0, -0.05) + _mirror([(49, 53)], 0.0, -0.035) + _centre([51], 0.0, -0.045)
    + _mirror([(61, 63)], 0.0, -0.035) + _centre([62], 0.0, -0.035) + _mirror([(31, 35)], 0.0, -0.012),
    11: _mirror([(49, 53)], -0.01, -0.02) + _mirror([(50, 52)], 0.0, -0.01),
    12: _mirror([(48, 54)], -0.07, -0.05) + _mirror([(60, 64)], -0.05, -0.035) + _mirror([(49, 53)], -0.02, -0.02)
    + _mirror([(59, 55)], -0.02, -0.02) + _mirror([(3, 13), (4, 12)], -0.01, -0.015),
    13: _mirror([(48, 54)], -0.02, -0.05) + _mirror([(60, 64)], -0.015, -0.04) + _mirror([(49, 53)], 0.0, -0.02),
    14: _mirror([(48, 54)], 0.035, -0.008) + _mirror([(60, 64)], 0.02, -0.005),
    15: _mirror([(48, 54)], 0.01, 0.05) + _mirror([(60, 64)], 0.005, 0.035) + _mirror([(59, 55)], 0.0, 0.02),
    16: _mirror([(59, 55), (58, 56)], 0.0, 0.035) + _centre([57], 0.0, 0.045) + _mirror([(67, 65)], 0.0, 0.03)
    + _centre([66], 0.0, 0.035),
    17: _centre([8], 0.0, -0.04) + _mirror([(7, 9)], 0.0, -0.035) + _centre([57], 0.0, -0.035)
    + _mirror([(58, 56)], 0.0, -0.03) + _centre([66], 0.0, -0.02) + _mirror([(67, 65)], 0.0, -0.02)
    + _mirror([(48, 54)], 0.0, 0.01),
    18: _mirror([(48, 54)], 0.04, 0.0) + _mirror([(60, 64)], 0.03, 0.0) + _mirror([(49, 53), (59, 55)], 0.02, 0.0),
    20: _mirror([(48, 54)], -0.06, 0.015) + _mirror([(60, 64)], -0.045, 0.01) + _mirror([(59, 55)], -0.02, 0.01)
    + _mirror([(5, 11), (4, 12)], -0.012, 0.0),
    23: _mirror([(49, 53), (50, 52)], 0.0, 0.015) + _centre([51], 0.0, 0.015) + _mirror([(59, 55), (58, 56)], 0.0,
                                                                                       -0.015)
    + _centre([57], 0.0, -0.015) + _mirror([(48, 54)], 0.015, 0.0),
    24: _mirror([(50, 52)], 0.0, 0.02) + _centre([51], 0.0, 0.02) + _mirror([(58, 56)], 0.0, -0.02)
    + _centre([57], 0.0, -0.02) + _mirror([(61, 63)], 0.0, 0.01) + _centre([62], 0.0, 0.01)
    + _mirror([(67, 65)], 0.0, -0.01) + _centre([66], 0.0, -0.01),
    25: _mirror([(67, 65)], 0.0, 0.04) + _centre([66], 0.0, 0.04) + _mirror([(59, 55), (58, 56)], 0.0, 0.035)
    + _centre([57], 0.0, 0.035) + _mirror([(61, 63)], 0.0, -0.01) + _centre([62], 0.0, -0.01),
    26: _centre([8], 0.0, 0.08) + _mirror([(7, 9)], 0.0, 0.07) + _mirror([(6, 10)], 0.0, 0.05)
    + _mirror([(5, 11)], 0.0, 0.03) + _mirror([(59, 55), (58, 56)], 0.0, 0.07) + _centre([57], 0.0, 0.07)
    + _mirror([(67, 65)], 0.0, 0.07) + _centre([66], 0.0, 0.07) + _mirror([(48, 54), (60, 64)], 0.0, 0.03),
    38: _mirror([(31, 35)], -0.015, 0.0) + _mirror([(32, 34)], -0.008, 0.0),
    43: _mirror([(37, 44), (38, 43)], 0.0, 0.1) + _mirror([(40, 47), (41, 46)], 0.0, -0.01)
    + _mirror([(19, 24), (20, 23)], 0.0, 0.008),
}
_TABLE[27] = [(p, 1.5 * dx, 1.5 * dy) for p, dx, dy in _TABLE[26]]
_TABLE[45] = list(_TABLE[43])

AU_TABLE: dict[int, tuple[tuple[int, float, float], ...]] = {au: tuple(entries) for au, entries in _TABLE.items()}

AU_NAMES: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser", 6: "cheek raiser",
    7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser", 11: "nasolabial deepener",
    12: "lip corner puller", 13: "sharp lip puller", 14: "dimpler", 15: "lip corner depressor",
    16: "lower lip depressor", 17: "chin raiser", 18: "lip pucker", 20: "lip stretcher", 23: "lip tightener",
    24: "lip pressor", 25: "lips part", 26: "jaw drop", 27: "mouth stretch", 38: "nostril dilator",
    43: "eyes closed", 45: "blink",
}

AU_REGION: dict[int, str] = {
    1: "brows", 2: "brows", 4: "brows", 5: "eyes", 6: "eyes", 7: "eyes", 9: "nose", 10: "mouth", 11: "mouth",
    12: "mouth", 13: "mouth", 14: "mouth", 15: "mouth", 16: "mouth", 17: "chin", 18: "mouth", 20: "mouth",
    23: "mouth", 24: "mouth", 25: "mouth", 26: "chin", 27: "chin", 38: "nose", 43: "eyes", 45: "eyes",
}

# landmarks that outline each region (for region masks in tests, EMG channel maps, mesh regions)
REGION_LANDMARKS: dict[str, tuple[int, ...]] = {
    "brows": RIGHT_BROW + LEFT_BROW,
    "eyes": RIGHT_EYE + LEFT_EYE,
    "nose": NOSE_BRIDGE + NOSTRILS,
    "mouth": OUTER_LIP + INNER_LIP,
    "chin": (6, 7, 8, 9, 10, 57, 58, 56),
}

# FACS intensity letter -> the fraction of the table's amplitude
INTENSITY_SCALE: dict[str, float] = {"A": 0.2, "B": 0.35, "C": 0.55, "D": 0.75, "E": 1.0}

RELATIVE_AUS = frozenset({43, 45})


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the two eye centres (mean of points 36-41 and 42-47), in the landmarks' units."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))


def _side_weight(landmark: int, side: str | None) -> float:
    if side not in ("L", "R"):
        return 1.0
    if landmark in MIDLINE:
        return 0.5
    own = SUBJECT_LEFT if side == "L" else SUBJECT_RIGHT
    return 1.0 if landmark in own else 0.0


def au_vectors(au: int, side: str | None = None) -> np.ndarray:
    """(68, 2) displacement of one AU at intensity 1 in IOD units (zeros for landmarks it does not move)."""
    if au not in AU_TABLE:
        raise KeyError(f"AU{au} is not in AU_TABLE (known: {sorted(AU_TABLE)})")
    out = np.zeros((N_LANDMARKS, 2), dtype=np.float64)
    for landmark, dx, dy in AU_TABLE[au]:
        w = _side_weight(landmark, side)
        out[landmark, 0] += w * dx
        out[landmark, 1] += w * dy
    return out


def displacement(aus: Iterable[int] | Mapping[int, float], intensity: float | Mapping[int, float],
                 landmarks: np.ndarray, side: str | None | Mapping[int, str | None] = None) -> np.ndarray:
    """(68, 2) landmark displacement in pixels for a set of AUs acting together.

    ``aus``: AU numbers, or a mapping AU -> its own intensity (multiplied by ``intensity``); ``intensity``: one scale
    for all AUs (1.0 = the table's amplitude) or a mapping AU -> scale; ``landmarks``: the (68, 2) neutral landmarks
    in pixels (sets the IOD and the actual lid gap for AU43/45); ``side``: None/'L'/'R' for all AUs or a mapping AU ->
    side. Unknown AUs (not in AU_TABLE) move nothing. Displacements of several AUs add.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be (68, 2), got {lm.shape}")
    iod = inter_ocular(lm)
    weights: dict[int, float] = dict(aus) if isinstance(aus, Mapping) else {int(a): 1.0 for a in aus}
    out = np.zeros((N_LANDMARKS, 2), dtype=np.float64)
    for au, own in weights.items():
        au = int(au)
        if au not in AU_TABLE:
            continue
        scale = float(own) * float(intensity.get(au, 0.0) if isinstance(intensity, Mapping) else intensity)
        if scale == 0.0:
            continue
        au_side = side.get(au) if isinstance(side, Mapping) else side
        vectors = au_vectors(au, au_side) * iod
        if au in RELATIVE_AUS:  # close the actual lid gap
            for upper, lower in UPPER_LIDS.items():
                if vectors[upper, 1] != 0.0:
                    gap = max(lm[lower, 1] - lm[upper, 1], 0.0)
                    vectors[upper, 1] = np.sign(vectors[upper, 1]) * 0.9 * gap * (vectors[upper, 1] / (0.1 * iod))
        out += scale * vectors
    return out


def profile(n_frames: int, onset: float, apex: float, offset: float) -> np.ndarray:
    """The 0..1 temporal envelope of an expression over frames 0..n_frames-1: 0 before onset, a raised-cosine rise
    to 1 at apex, a raised-cosine fall to 0 at offset, 0 after. Frame positions may be fractional; onset == apex or
    apex == offset give a step."""
    t = np.arange(int(n_frames), dtype=np.float64)
    onset, apex, offset = float(onset), float(apex), float(offset)
    if not onset <= apex <= offset:
        raise ValueError(f"need onset <= apex <= offset, got {onset}, {apex}, {offset}")
    out = np.zeros_like(t)
    rise = (t >= onset) & (t <= apex)
    if apex > onset:
        out[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - onset) / (apex - onset))
    else:
        out[t == apex] = 1.0
    fall = (t > apex) & (t <= offset)
    if offset > apex:
        out[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - apex) / (offset - apex))
    return out


def intensity_scale(letter: str | None, default: float = 0.55) -> float:
    """FACS intensity letter ('A'..'E', or 'B/C' = mean) -> amplitude fraction; None -> default."""
    if not letter:
        return default
    parts = [INTENSITY_SCALE[c] for c in str(letter).upper() if c in INTENSITY_SCALE]
    return float(np.mean(parts)) if parts else default
