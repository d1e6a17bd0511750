"""Shadow CASME II: ``CASME2-coding-20140508.xlsx`` + ``CASME2_RAW_selected/subNN/<clip>/imgN.jpg`` (200 fps, colour).

The coding sheet is written as the 2014-05-08 release has it: Sheet1 with the header on row 1 and two blank columns
(``Subject | Filename | | OnsetFrame | ApexFrame | OffsetFrame | | Action Units | Estimated Emotion``), empty Sheet2 and
Sheet3, subjects as text with a leading zero, a single AU as an int cell and several as text ('4+L10'), irregular
clip names ('EP02_01f', 'EP09f', 'EP06_02_01') and ApexFrame '/' for 04/EP12_01f where that clip exists. Each clip
folder holds the frames from a little before the onset to a little after the offset, named by frame number, so the
coded onset/apex/offset are the numbers of the files that show them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import openpyxl

from mebench.synth import events as ev
from mebench.synth import render, rng
from mebench.synth.xlsx import save_workbook

NAME = "casme2"
FPS = 200.0
FILE = "CASME2-coding-20140508.xlsx"
HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
          "Estimated Emotion"]
# scale -> (subjects, clips per subject (low, high), frame width, height, inter-ocular distance px)
SCALES = {
    "tiny": (2, (3, 3), 192, 216, 46),
    "small": (10, (8, 12), 256, 288, 62),
    "full": (26, None, 256, 288, 62),  # 255 clips, as the release
}
FULL_CLIPS = 255


def clip_counts(gen: np.random.Generator, scale: str) -> list[int]:
    n_subjects, per, *_ = SCALES[scale]
    if per is not None:
        return [int(gen.integers(per[0], per[1] + 1)) for _ in range(n_subjects)]
    counts = np.full(n_subjects, 3)
    extra = gen.multinomial(FULL_CLIPS - counts.sum(), gen.dirichlet(np.full(n_subjects, 2.0)))
    return [int(c) for c in counts + extra]


def clip_names(gen: np.random.Generator, n: int, subject: str) -> list[str]:
    """Irregular CASME II file names, unique within the subject; 04 gets EP12_01f (the '/' apex clip) first."""
    names: list[str] = ["EP12_01f"] if subject == "04" else []
    while len(names) < n:
        video, k = int(gen.integers(1, 20)), int(gen.integers(1, 12))
        style = gen.random()
        if style < 0.55:
            name = f"EP{video:02d}_{k:02d}" + ("f" if gen.random() < 0.5 else "")
        elif style < 0.75:
            name = f"EP{video:02d}_{k}"
        elif style < 0.88:
            name = f"EP{video:02d}f"
        else:
            name = f"EP{video:02d}_{k:02d}_{int(gen.integers(1, 4)):02d}"
        if name not in names:
            names.append(name)
    return names[:n]


def expressions(scale: str, seed: int) -> list[ev.Expression]:
    gen = rng(seed, NAME, "events")
    counts = clip_counts(gen, scale)
    emotions = iter(ev.fixed_first(ev.draw_emotions(gen, ev.CASME2_EMOTIONS, sum(counts), scale),
                                ("others", "happiness")))
    # the first two clips are always a plain AU4 and a plain AU12 (fixed cases the tests and demos can rely on)
    fixed = iter([("others", (ev.Token(4, None, "D"),)), ("happiness", (ev.Token(12, None, "D"),))])
    out = []
    for s, count in enumerate(counts, start=1):
        subject = f"{s:02d}"
        for clip in clip_names(gen, count, subject):
            emotion = next(emotions)
            pattern = ev.choose_pattern(gen, ev.CASME2_EMOTIONS[emotion][1])
            tokens = ev.draw_tokens(gen, pattern, "micro")
            tokens = next(fixed, (emotion, tokens))[1]
            rise, fall = ev.draw_timing(gen, "micro", FPS)
            start = int(gen.integers(1, 150))
            pre, post = int(gen.integers(8, 30)), int(gen.integers(8, 30))
            onset = start + pre
            expression = ev.Expression(subject, clip, "micro", emotion, tokens, ev.casme2_cell(tokens),
                                       onset, onset + rise, onset + rise + fall)
            expression.extra = {"first": start, "last": onset + rise + fall + post}
            out.append(expression)
    return out


def write(root: Path, scale: str, seed: int, progress: Callable[[int, int], None] | None = None) -> dict:
    root = Path(root)
    rows = expressions(scale, seed)
    _, _, width, height, iod = SCALES[scale]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(HEADER)
    jobs = []
    for e in rows:
        apex = "/" if (e.subject, e.clip) == ("04", "EP12_01f") else e.apex
        sheet.append([e.subject, e.clip, None, e.onset, apex, e.offset, None, e.au_cell, e.emotion])
        first = e.extra["first"]
        jobs.append(render.Job(
            face=(seed, NAME, e.subject, width, height, iod, False),
            folder=str(root / "CASME2_RAW_selected" / f"sub{e.subject}" / e.clip),
            pattern="img{n}.jpg", first=first, n_frames=e.extra["last"] - first + 1,
            events=[(e.render_aus(), e.onset - first, e.apex - first, e.offset - first)],
            blinks=_blinks(seed, e, first),
            drift_px=0.15, fps=FPS, seed_keys=(NAME, e.subject, e.clip)))
    book.create_sheet("Sheet2")
    book.create_sheet("Sheet3")
    for column, width_chars in zip("ABCDEFGHI", (9, 14, 3, 11, 11, 11, 3, 14, 18)):
        sheet.column_dimensions[column].width = width_chars
    save_workbook(book, root / FILE)
    render.run_jobs(jobs, progress)
    return {"samples": len(rows), "subjects": len({e.subject for e in rows})}


def _blinks(seed: int, e: ev.Expression, first: int) -> list[tuple[int, int, int]]:
    """A blink in some clips, outside the expression (CASME II clips are short: at most one)."""
    gen = rng(seed, NAME, "blink", e.subject, e.clip)
    n = e.extra["last"] - first + 1
    if gen.random() > 0.25:
        return []
    length = int(gen.integers(20, 36))
    before = e.onset - first
    after = n - (e.offset - first) - 1
    if before > length + 2:
        start = int(gen.integers(0, before - length - 1))
    elif after > length + 2:
        start = e.offset - first + 1 + int(gen.integers(0, after - length - 1))
    else:
        return []
    return [(start, start + length // 2, start + length)]
