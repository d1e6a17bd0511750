"""Shadow SAMM Long Videos: ``SAMM_LongVideos_V2_Release.xlsx`` + ``SAMM_longvideos/<video>/<video>_<frame>.jpg``.

The workbook has the V2 release's shape (DESIGN.md 3.4): sheet ``FACS_Movement_Only``, a 9-row preamble with a
merged title cell, the header on row 10 (``Subject | Filename | Inducement Code | Onset | Apex | Offset | Duration |
Type | Action Units | Notes``), Duration as a formula with its cached value, Type 'Macro' / 'Micro - 1/2', Filenames
``<video>_<n>`` (the video id is the Filename without its last ``_n``), some frame numbers written with a float
artefact (566.4000000000001: the frames on disk follow the rounded value), apex -1 now and then (not coded), and one
Filename used twice, for a micro-expression inside a macro-expression (as 037_4_1 in the release). AU cells are
spelled the SAMM-LV way ('4(B/C)+7B', '12B ?', '(loses 1+2) or (4(B/C))').

Long videos (200 fps, grey, numbered from 1, 4-digit frame numbers, 5 digits from 10000 frames) hold sparse
expressions separated by neutral stretches with blinks, head drift and noise. Subjects are SAMM participants and
share SAMM's identities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import openpyxl

from mebench.synth import events as ev
from mebench.synth import render, rng
from mebench.synth.samm import ALL_SUBJECTS as SAMM_SUBJECTS
from mebench.synth.samm import FAMILY
from mebench.synth.xlsx import save_workbook

NAME = "samm-lv"
FPS = 200.0
FILE = "SAMM_LongVideos_V2_Release.xlsx"
SHEET = "FACS_Movement_Only"
HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units",
          "Notes"]
HEADER_ROW = 10
ALL_SUBJECTS = tuple(sorted(set(SAMM_SUBJECTS) | {"024"}))  # 30 participants
# scale -> (subjects, videos per subject, intervals per video (low, high), p(micro), width, height, iod)
SCALES = {
    "tiny": (("006", "037"), (1, 1), (2, 2), 0.5, 160, 176, 38),
    "small": (("006", "007", "009", "011", "014", "037"), (2, 2), (3, 5), 0.4, 192, 216, 46),
    "full": (ALL_SUBJECTS, None, None, 159 / 502, 192, 216, 46),  # 147 videos, 502 intervals, as the release
}
FULL_VIDEOS, FULL_INTERVALS = 147, 502
GAP_S = {"tiny": (0.4, 0.8), "small": (0.8, 2.6), "full": (0.8, 2.6)}  # neutral time before each expression


def preamble(sheet) -> None:
    """Rows 1-9: merged title, citation, symbol key, blanks."""
    sheet["A1"] = "SAMM Long Videos (synthetic shadow, mebench synth) - FACS Movement Only"
    sheet.merge_cells("A1:J1")
    sheet["A3"] = ("If you use SAMM Long Videos, please cite Yap et al. (2020), SAMM Long Videos: A Spontaneous Facial "
                   "Micro- and Macro-Expressions Dataset. This file is a synthetic stand-in in the release's layout.")
    sheet["A5"] = "Symbol Key:"
    sheet["A6"] = '"/" = or'
    sheet["A7"] = '"?" = unclear'
    sheet["A8"] = '"L2 or R2" = unilateral, "A2" = asymmetric'


def layout(gen: np.random.Generator, scale: str) -> list[tuple[str, int, int]]:
    """(subject, inducement code, number of intervals) per long video."""
    subjects, videos, per_video, *_ = SCALES[scale]
    plan: list[tuple[str, int, int]] = []
    if videos is not None:
        for subject in subjects:
            n = int(gen.integers(videos[0], videos[1] + 1))
            codes = sorted(gen.choice(np.arange(1, 8), size=n, replace=False).tolist())
            plan += [(subject, int(c), int(gen.integers(per_video[0], per_video[1] + 1))) for c in codes]
        return plan
    per_subject = np.full(len(subjects), 4) + gen.multinomial(FULL_VIDEOS - 4 * len(subjects),
                                                              np.full(len(subjects), 1 / len(subjects)))
    for subject, n in zip(subjects, per_subject):
        codes = sorted(gen.choice(np.arange(1, 8), size=min(int(n), 7), replace=False).tolist())
        plan += [(subject, int(c), 1) for c in codes]
    while len(plan) < FULL_VIDEOS:  # subjects with more than 7 videos: split one inducement into parts
        plan.append((subjects[len(plan) % len(subjects)], 7, 1))
    counts = 1 + gen.multinomial(FULL_INTERVALS - 1 - len(plan), np.full(len(plan), 1 / len(plan)))
    return [(s, c, int(k)) for (s, c, _), k in zip(plan, counts)]


def videos(scale: str, seed: int) -> list[dict]:
    """The long videos with their expressions (frame numbers from 1)."""
    gen = rng(seed, NAME, "events")
    *_, p_micro, _, _, _ = SCALES[scale]
    plan = layout(gen, scale)
    emotions = list(ev.SAMM_EMOTIONS)
    weights = np.sqrt([ev.SAMM_EMOTIONS[e][0] for e in emotions])
    weights /= weights.sum()
    regular = sum(n for _, _, n in plan) - 1  # every interval but the duplicate video's first (a fixed macro)
    if scale == "full":  # the release's Type counts: Macro 343, 'Micro - 1/2' 159 (the duplicate adds one each)
        micro = round(FULL_INTERVALS * p_micro) - 1
        kinds = ["micro"] * micro + ["macro"] * (regular - micro)
        gen.shuffle(kinds)
    else:
        kinds = [ev.draw_kind(gen, p_micro) for _ in range(regular)]
    next_kind = iter(kinds)
    out, seen = [], set()
    duplicate_video = next((i for i in range(len(plan) - 1, -1, -1) if plan[i][0] == "037"), len(plan) - 1)
    for number, (subject, code, n_intervals) in enumerate(plan):
        video_id = f"{subject}_{code}"
        part = 1
        while video_id in seen:  # a subject with more videos than inducement codes
            part += 1
            video_id = f"{subject}_{code}{part}"
        seen.add(video_id)
        t = int(gen.uniform(*GAP_S[scale]) * FPS)
        intervals: list[ev.Expression] = []
        for k in range(1, n_intervals + 1):
            kind = "macro" if (number == duplicate_video and k == 1) else next(next_kind)
            pattern = ev.choose_pattern(gen, ev.SAMM_EMOTIONS[str(gen.choice(emotions, p=weights))][1])
            tokens = ev.draw_tokens(gen, pattern, kind)
            rise, fall = ev.draw_timing(gen, kind, FPS)
            e = ev.Expression(subject, f"{video_id}_{k}", kind, None, tokens, ev.samm_lv_cell(gen, tokens),
                              t, t + rise, t + rise + fall, video=video_id, extra={"inducement": code})
            intervals.append(e)
            if number == duplicate_video and k == 1:  # the same Filename again: a micro inside the macro
                rise2, fall2 = ev.draw_timing(gen, "micro", FPS)
                start = t + max(rise - rise2 - 5, 1)
                tokens2 = ev.draw_tokens(gen, ev.choose_pattern(gen, ev.SAMM_EMOTIONS["Other"][1]), "micro")
                intervals.append(ev.Expression(subject, e.clip, "micro", None, tokens2,
                                               ev.samm_lv_cell(gen, tokens2), start, start + rise2,
                                               start + rise2 + fall2, video=video_id, extra={"inducement": code}))
            t = e.offset + int(gen.uniform(*GAP_S[scale]) * FPS)
        n_frames = t
        out.append({"video_id": video_id, "subject": subject, "n_frames": n_frames, "intervals": intervals})
    return out


def write(root: Path, scale: str, seed: int, progress: Callable[[int, int], None] | None = None) -> dict:
    root = Path(root)
    plan = videos(scale, seed)
    *_, width, height, iod = SCALES[scale]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    preamble(sheet)
    for column, name in enumerate(HEADER, start=1):
        sheet.cell(row=HEADER_ROW, column=column, value=name)
    cached = {}
    number = HEADER_ROW
    jobs = []
    n_rows = 0
    for video in plan:
        gen = rng(seed, NAME, "cells", video["video_id"])
        for e in video["intervals"]:
            number += 1
            n_rows += 1
            onset, apex, offset = e.onset, e.apex, e.offset
            if gen.random() < 0.08:
                onset = onset + 0.4000000000000001  # the release's float artefacts, rounded back by the loader
            if gen.random() < 0.05:
                offset = offset - 0.3999999999999
            note = None
            if gen.random() < 0.06:
                apex, note = -1, "apex not coded"
            values = [e.subject, e.clip, e.extra["inducement"], onset, apex, offset, f"=F{number}-D{number}+1",
                      "Macro" if e.kind == "macro" else "Micro - 1/2", e.au_cell, note]
            for column, value in enumerate(values, start=1):
                sheet.cell(row=number, column=column, value=value)
            cached[(SHEET, f"G{number}")] = offset - onset + 1
        digits = 5 if video["n_frames"] >= 10000 else 4
        events = [(e.render_aus(), e.onset - 1, e.apex - 1, e.offset - 1) for e in video["intervals"]]
        spans = [(e.onset - 1, e.offset - 1) for e in video["intervals"]]
        jobs.append(render.Job(
            face=(seed, FAMILY, video["subject"], width, height, iod, True),
            folder=str(root / "SAMM_longvideos" / video["video_id"]),
            pattern=f"{video['video_id']}_{{n:0{digits}d}}.jpg", first=1, n_frames=video["n_frames"],
            events=events, blinks=ev.blinks(rng(seed, NAME, "blinks", video["video_id"]), video["n_frames"], FPS,
                                            avoid=spans),
            drift_px=1.0, fps=FPS, noise_sigma=1.4, seed_keys=(NAME, video["video_id"])))
    save_workbook(book, root / FILE, cached)
    render.run_jobs(jobs, progress)
    return {"samples": n_rows, "subjects": len({v["subject"] for v in plan})}
