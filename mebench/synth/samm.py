"""Shadow SAMM: ``SAMM_Micro_FACS_Codes_v2.xlsx`` + ``SAMM/<subject>/<clip>/<subject>_<frame:05d>.jpg`` (200 fps, grey).

The workbook is the v2 release's shape: sheet ``MICRO_ONLY`` with a 13-row preamble (title, citation notes, symbol
key, AU help), the header on row 14 (``Subject | Filename | Inducement Code | Onset Frame | Apex Frame | Offset Frame
| Duration | Micro | Action Units | Estimated Emotion | Objective Classes | Notes``), Duration as the formula
``=SUM(Fn-Dn)+1`` with its cached value, subjects as three-digit text ('006'), clip names
``<subject>_<inducement>_<n>``, frame numbers of the original recording, capitalised emotions ('Other'), SAMM AU
spellings ('4D+9B', 'A12', 'T23', 'ref(7B)+...', 'L12 or L14', trailing spaces, free text). Where subjects 028 / 032 are written, their rows 028_4_1 and
032_3_1 carry the release's known apex errors (apex 1143 after offset 1134, apex 1930 before onset 4896).
SAMM and SAMM Long Videos recorded the same people: both use the identity of ``("samm", subject)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import openpyxl

from mebench.synth import events as ev
from mebench.synth import render, rng
from mebench.synth.xlsx import save_workbook

NAME = "samm"
FAMILY = "samm"  # identity namespace shared with samm-lv
FPS = 200.0
FILE = "SAMM_Micro_FACS_Codes_v2.xlsx"
SHEET = "MICRO_ONLY"
HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration", "Micro",
          "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]
HEADER_ROW = 14
ALL_SUBJECTS = tuple(f"{n:03d}" for n in range(6, 38) if n not in (24, 27, 29))  # 29 participants
SCALES = {
    "tiny": (("006", "007"), (3, 3), 176, 200, 42),
    "small": (("006", "007", "009", "011", "014", "017", "028", "032"), (8, 12), 240, 272, 58),
    "full": (ALL_SUBJECTS, None, 240, 272, 58),  # 159 clips, as the release
}
FULL_CLIPS = 159
ERRORS = {"028_4_1": ("apex", 1143, 1090, 1134), "032_3_1": ("apex", 1930, 4896, 4958)}  # written apex, onset, offset


def preamble(sheet) -> None:
    sheet["A1"] = "SAMM Dataset - Shadow FACS Codes (synthetic, mebench synth)"
    sheet["E1"] = ("(Note to the users: this is a synthetic stand-in written by mebench synth in the layout of the "
                   "SAMM release. If you use SAMM, please cite Davison et al. (2016), IEEE Trans. Affective "
                   "Computing.)")
    sheet["A3"] = "9/9/17 - New updates with Emotional and Objective Classes. For details please refer to: "
    sheet["I3"] = "arXiv preprint arXiv:1708.07549."
    sheet["E4"] = ("(Note to the users: if you're using the emotional or objective classes, please cite Davison, "
                   "Merghani and Yap (2017).)")
    sheet["A6"] = "Symbol Key:"
    sheet["A7"] = '"/" = or'
    sheet["A8"] = '"?" = some AU\'s continue for a while and have unclear offset'
    sheet["A10"] = "AU Help:"
    sheet["A11"] = '"L2 or R2" = Unilateral AU 2 on left side of face / right side of face'
    sheet["A12"] = '"A2" = Asymmetric AU 2. Occurs on both sides of face but stronger on one side'


def clip_counts(gen: np.random.Generator, scale: str) -> list[int]:
    subjects, per, *_ = SCALES[scale]
    if per is not None:
        return [int(gen.integers(per[0], per[1] + 1)) for _ in subjects]
    counts = np.full(len(subjects), 2)
    extra = gen.multinomial(FULL_CLIPS - counts.sum(), gen.dirichlet(np.full(len(subjects), 1.5)))
    return [int(c) for c in counts + extra]


def expressions(scale: str, seed: int) -> list[ev.Expression]:
    gen = rng(seed, NAME, "events")
    subjects = SCALES[scale][0]
    counts = clip_counts(gen, scale)
    emotions = iter(ev.fixed_first(ev.draw_emotions(gen, ev.SAMM_EMOTIONS, sum(counts), scale),
                                   ("Anger", "Happiness")))
    fixed = iter([("Anger", (ev.Token(4, None, "D"),)), ("Happiness", (ev.Token(12, None, "D"),))])
    out = []
    for subject, count in zip(subjects, counts):
        per_inducement: dict[int, int] = {}
        names = []
        for _ in range(count):
            inducement = int(gen.integers(1, 8))
            per_inducement[inducement] = per_inducement.get(inducement, 0) + 1
            names.append((inducement, f"{subject}_{inducement}_{per_inducement[inducement]}"))
        if subject in ("028", "032"):
            wanted = {"028": (4, "028_4_1"), "032": (3, "032_3_1")}[subject]
            if wanted not in names:
                names[0] = wanted
        for inducement, clip in names:
            emotion = next(emotions)
            pattern = ev.choose_pattern(gen, ev.SAMM_EMOTIONS[emotion][1])
            tokens = ev.draw_tokens(gen, pattern, "micro")
            tokens = next(fixed, (emotion, tokens))[1]
            cell = ev.samm_cell(gen, tokens, quirks=scale != "tiny")
            rise, fall = ev.draw_timing(gen, "micro", FPS)
            onset = int(gen.integers(200, 8000))
            if clip in ERRORS:
                _, _, onset, offset = ERRORS[clip]
                rise = (offset - onset) // 2
                fall = offset - onset - rise
            pre, post = int(gen.integers(5, 25)), int(gen.integers(5, 25))
            notes = None
            e = ev.Expression(subject, clip, "micro", emotion, tokens, cell, onset, onset + rise, onset + rise + fall)
            e.extra = {"first": onset - pre, "last": e.offset + post, "inducement": inducement,
                       "objective": ev.SAMM_OBJECTIVE[emotion], "notes": notes}
            out.append(e)
    return out


def write(root: Path, scale: str, seed: int, progress: Callable[[int, int], None] | None = None) -> dict:
    root = Path(root)
    rows = expressions(scale, seed)
    _, _, width, height, iod = SCALES[scale]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    preamble(sheet)
    for column, name in enumerate(HEADER, start=1):
        sheet.cell(row=HEADER_ROW, column=column, value=name)
    cached = {}
    jobs = []
    for number, e in enumerate(rows, start=HEADER_ROW + 1):
        gen = rng(seed, NAME, "row", e.clip)
        blink = []
        # 'While blinking': a blink during the clip, noted as the release does (never in the two fixed first clips)
        if number > HEADER_ROW + 2 and gen.random() < 0.12:
            length = int(gen.integers(20, 36))
            start = max(e.onset - e.extra["first"] - length // 2, 0)
            blink = [(start, start + length // 2, start + length)]
            e.extra["notes"] = "While blinking"
        apex = ERRORS[e.clip][1] if e.clip in ERRORS else e.apex
        values = [e.subject, e.clip, e.extra["inducement"], e.onset, apex, e.offset, f"=SUM(F{number}-D{number})+1",
                  "Micro - 1/2", e.au_cell, e.emotion, e.extra["objective"], e.extra["notes"]]
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
        cached[(SHEET, f"G{number}")] = e.offset - e.onset + 1
        first = e.extra["first"]
        jobs.append(render.Job(
            face=(seed, FAMILY, e.subject, width, height, iod, True),
            folder=str(root / "SAMM" / e.subject / e.clip),
            pattern=f"{e.subject}_{{n:05d}}.jpg", first=first, n_frames=e.extra["last"] - first + 1,
            events=[(e.render_aus(), e.onset - first, e.apex - first, e.offset - first)], blinks=blink,
            drift_px=0.15, fps=FPS, noise_sigma=1.4, seed_keys=(NAME, e.subject, e.clip)))
    save_workbook(book, root / FILE, cached)
    render.run_jobs(jobs, progress)
    return {"samples": len(rows), "subjects": len({e.subject for e in rows})}
