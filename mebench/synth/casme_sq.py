"""Shadow CAS(ME)^2: ``code_final.xlsx`` + ``rawpic/sNN/NN_<code><suffix>/imgN.jpg`` + ``rawvideo/...avi`` (30 fps).

The workbook is the release's shape: data sheet ``CASFEcode_final`` with NO header row (participant index | clip |
onset | apex | offset | AUs | emotion | 'macro-expression'/'micro-expression' | self-reported emotion), sheet
``naming rule1`` row-aligned with the data (folder number | 'sNN' | participant index) and ``naming rule2`` (video
code as text '0101' -> clip prefix 'disgust1'). Quirks kept: offset 0 (not coded) on some macro rows, an apex 0 at the
larger scales, AU cells 'NULL'/'null', '10or11'-style alternatives, ',' for '+', a single AU as an int, the typo
'happyiness' in a self-report, the misspelt folder suffix '0503unnyfarting' and, when participant s23 has a happy1
video, its folder filed under s19 (``rawpic/s19/23_0502funnyerrors``) as in the release.

Long videos (colour, frames numbered from 1) hold sparse macro- and micro-expressions, blinks, head drift and noise;
the same frames are muxed into ``rawvideo/<sNN>/<NN>_<code><suffix>.avi`` (Motion JPEG).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import openpyxl

from mebench.synth import events as ev
from mebench.synth import render, rng
from mebench.synth.xlsx import save_workbook

NAME = "casme-sq"
FPS = 30.0
FILE = "code_final.xlsx"
DATA_SHEET, SUBJECT_SHEET, VIDEO_SHEET = "CASFEcode_final", "naming rule1", "naming rule2"
SUBJECTS = {1: "s15", 2: "s16", 3: "s19", 4: "s20", 5: "s21", 6: "s22", 7: "s23", 8: "s24", 9: "s25", 10: "s26",
            11: "s27", 12: "s29", 13: "s30", 14: "s31", 15: "s32", 16: "s33", 17: "s34", 18: "s35", 19: "s36",
            20: "s37", 21: "s38", 22: "s40"}
VIDEOS = {"0101": ("disgust1", "disgustingteeth"), "0102": ("disgust2", "eatingworms"),
          "0401": ("anger1", "girlcrashing"), "0402": ("anger2", "beatingpregnantwoman"),
          "0502": ("happy1", "funnyerrors"), "0503": ("happy2", "unnyfarting"), "0505": ("happy3", "funnyinnovations"),
          "0507": ("happy4", "climbingthewall"), "0508": ("happy5", "funnydunkey")}
# scale -> (participant indices, videos per participant, intervals per video (low, high), p(micro), w, h, iod)
SCALES = {
    "tiny": ((1, 7), 1, (3, 3), 0.4, 160, 176, 38),
    "small": ((1, 2, 3, 4, 5, 6, 7, 8), 3, (3, 5), 0.4, 224, 256, 54),
    "full": (tuple(range(1, 23)), 4, None, 57 / 357, 224, 256, 54),  # 357 intervals (57 micro), as the release
}
FULL_INTERVALS, FULL_MICRO = 357, 57
GAP_S = {"tiny": (1.0, 2.0), "small": (1.5, 4.5), "full": (1.5, 4.5)}  # neutral time before each expression
# video theme -> p(native emotion)
THEMES = {
    "disgust": {"negative": 0.6, "others": 0.2, "surprise": 0.1, "positive": 0.1},
    "anger": {"negative": 0.6, "others": 0.2, "surprise": 0.1, "positive": 0.1},
    "happy": {"positive": 0.6, "others": 0.2, "surprise": 0.15, "negative": 0.05},
}
SELF_REPORT = {"negative": {"disgust": "disgust", "anger": "anger", "happy": "sadness"},
               "positive": "happiness", "surprise": "surprise"}
NULL_RENDER = ((38, None), (7, None), (17, None))  # what a 'NULL' row moves: something, but nothing coded


def plan(scale: str, seed: int) -> list[dict]:
    gen = rng(seed, NAME, "events")
    participants, per_subject, per_video, p_micro, *_ = SCALES[scale]
    codes = list(VIDEOS)
    layout = []
    for index in participants:
        chosen = sorted(gen.choice(codes, size=per_subject, replace=False).tolist())
        if SUBJECTS[index] == "s23" and "0502" not in chosen:
            chosen[0] = "0502"  # reproduce the s19/23_0502funnyerrors anomaly wherever s23 is written
            chosen.sort()
        layout += [(index, code) for code in chosen]
    if per_video is None:
        counts = 1 + gen.multinomial(FULL_INTERVALS - len(layout), np.full(len(layout), 1 / len(layout)))
        kinds = ["micro"] * FULL_MICRO + ["macro"] * (FULL_INTERVALS - FULL_MICRO)
        gen.shuffle(kinds)
    else:
        counts = [int(gen.integers(per_video[0], per_video[1] + 1)) for _ in layout]
        kinds = [ev.draw_kind(gen, p_micro) for _ in range(int(sum(counts)))]
    kinds_iter = iter(kinds)
    out = []
    for (index, code), n_intervals in zip(layout, counts):
        subject = SUBJECTS[index]
        prefix, suffix = VIDEOS[code]
        theme = prefix.rstrip("0123456789")
        probabilities = THEMES[theme]
        t = int(gen.uniform(*GAP_S[scale]) * FPS)
        intervals = []
        for k in range(1, int(n_intervals) + 1):
            kind = next(kinds_iter)
            emotion = str(gen.choice(list(probabilities), p=list(probabilities.values())))
            pattern = ev.choose_pattern(gen, ev.CASME_SQ_EMOTIONS[emotion][1])
            tokens = ev.draw_tokens(gen, pattern, kind)
            cell = ev.casme_sq_cell(gen, tokens)
            if not tokens:  # 'NULL': nothing coded, but the face did move
                tokens = ev.draw_tokens(gen, (NULL_RENDER[int(gen.integers(len(NULL_RENDER)))],), kind)
            elif len(tokens) == 1 and tokens[0].au in (10, 14) and gen.random() < 0.3:
                cell = f"{tokens[0].au}or{ {10: 11, 14: 23}[tokens[0].au] }".replace(" ", "")
            rise, fall = ev.draw_timing(gen, kind, FPS)
            report = SELF_REPORT.get(emotion, theme if theme != "happy" else "happiness")
            if isinstance(report, dict):
                report = report[theme]
            if emotion == "others":
                report = {"disgust": "disgust", "anger": "anger", "happy": "happiness"}[theme]
            e = ev.Expression(subject, f"{prefix}_{k}", kind, emotion, tokens, cell, t, t + rise, t + rise + fall,
                              video=f"{subject}_{code}", extra={"index": index, "report": report})
            intervals.append(e)
            t = e.offset + int(gen.uniform(*GAP_S[scale]) * FPS)
        folder_subject = "s19" if (subject, code) == ("s23", "0502") else subject
        number = subject[1:]
        out.append({"subject": subject, "index": index, "code": code, "n_frames": t, "intervals": intervals,
                    "folder": f"{folder_subject}/{number}_{code}{suffix}"})
    return out


def write(root: Path, scale: str, seed: int, progress: Callable[[int, int], None] | None = None) -> dict:
    root = Path(root)
    videos = plan(scale, seed)
    *_, width, height, iod = SCALES[scale]
    gen = rng(seed, NAME, "cells")
    book = openpyxl.Workbook()
    data = book.active
    data.title = DATA_SHEET
    naming = book.create_sheet(SUBJECT_SHEET)
    video_sheet = book.create_sheet(VIDEO_SHEET)
    for code, (prefix, _) in VIDEOS.items():
        video_sheet.append([code, prefix])
    rows = [e for v in videos for e in v["intervals"]]
    macro_rows = [i for i, e in enumerate(rows) if e.kind == "macro"]
    offset_zero = set(gen.choice(macro_rows, size=max(len(macro_rows) // 7, 1 if macro_rows else 0),
                                 replace=False).tolist()) if macro_rows else set()
    apex_zero = {macro_rows[-1]} if scale != "tiny" and len(macro_rows) > 2 else set()
    offset_zero -= apex_zero
    typo = next((i for i, e in enumerate(rows) if e.extra["report"] == "happiness"), None) if scale != "tiny" else None
    for i, e in enumerate(rows):
        offset = 0 if i in offset_zero else e.offset
        apex = 0 if i in apex_zero else e.apex
        report = "happyiness" if i == typo else e.extra["report"]
        data.append([e.extra["index"], e.clip, e.onset, apex, offset, e.au_cell, e.emotion,
                     f"{e.kind}-expression", report])
        naming.append([int(e.subject[1:]), e.subject, e.extra["index"]])
    jobs = []
    for v in videos:
        spans = [(e.onset - 1, e.offset - 1) for e in v["intervals"]]
        subject_folder, name = v["folder"].split("/")
        jobs.append(render.Job(
            face=(seed, NAME, v["subject"], width, height, iod, False),
            folder=str(root / "rawpic" / v["folder"]), pattern="img{n}.jpg", first=1, n_frames=v["n_frames"],
            events=[(e.render_aus(), e.onset - 1, e.apex - 1, e.offset - 1) for e in v["intervals"]],
            blinks=ev.blinks(rng(seed, NAME, "blinks", v["folder"]), v["n_frames"], FPS, avoid=spans),
            drift_px=1.2, fps=FPS, noise_sigma=1.8, seed_keys=(NAME, v["folder"]),
            video=str(root / "rawvideo" / subject_folder / f"{name}.avi")))
    save_workbook(book, root / FILE)
    render.run_jobs(jobs, progress)
    return {"samples": len(rows), "subjects": len({e.subject for e in rows})}
