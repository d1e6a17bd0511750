"""CAS(ME)^2 (Qu et al. 2018): long videos at 30 fps, macro- and micro-expression intervals coded in `code_final.xlsx`.

Quirks of the release this module exists for (../shared/annotations/README.md):

- The data sheet `CASFEcode_final` has NO header row: columns are read by position, and the first data row is Excel
  row 1 (that is its `source_row`).
- Subjects are not named in the data sheet: it holds a participant index (1-22). Sheet `naming rule1` (row-aligned,
  no header: folder number | 'sNN' | participant index) says which `rawpic/sNN` folder a participant is. We use
  `sNN` as `subject_raw`, because that is the name on disk and in the spotting literature, and keep the index as
  the extra column `participant_index`.
- Clips are named after the stimulus ('anger1_1' = video prefix 'anger1' + expression number); sheet
  `naming rule2` maps the 4-digit video code ('0401') to that prefix. The video code is how the media folder is named.
- The interval type is written in the file ('macro-expression' / 'micro-expression'): it is taken from there and
  never re-derived from the duration (DESIGN.md 3.4).
- offset 0 (44 rows) and apex 0 (1 row) mean "not coded": nulled by the errata table, not here.
- AU cells hold the text 'NULL'/'null' (no AUs), '10or11' (alternatives), '1+2+25,24' (comma = '+'): all of it
  is the shared AU grammar's business; openpyxl keeps the text as written.

Identifiers and media (defaults; every template can be overridden with --media-template):

- `video_id` = `<sNN>_<video code>`, e.g. `s15_0101`. It does not depend on the folder name on disk, which is
  irregular (see below), so it is stable across installations.
- `frames_dir`: `rawpic/{subject_raw}/{subject_number}_{video_code}*`, e.g.
  `rawpic/s15/15_0101disgustingteeth/img1.jpg` (frames numbered from 1), else `rawpic/*/{subject_number}_{video_code}*`.
  A folder is identified by its own name (`<NN>_<code>`, any suffix: the release misspells one, `0503unnyfarting`),
  not by the descriptive suffix, and its parent is not trusted: the release files subject 23's happy1 video under s19
  (`s19/23_0502funnyerrors`; s19 has no 0502 interval in code_final, s23 has 2), and public spotting code maps that
  folder to subject 23 too. The second template finds it. Templates of this loader may contain glob wildcards;
  the fields are the row's plus `video_code` ('0502') and `subject_number` ('23', the digits of `sNN`).
- `video_path`: the same two templates under `rawvideo/` (a file such as `rawvideo/s15/15_0101disgustingteeth.avi`;
  the layout of the release's raw-video folder is unverified here).
- `videos.parquet` gets one row per long video, `n_frames` counted from the frames folder when it was found.

CSV export of the data sheet (no naming sheets inside): the naming table is read from a CSV beside it
(`naming rule1.csv`, `naming_rule1.csv`, ...; same three columns) when there is one; otherwise from the table of
the public release built into this module (participant 1 -> s15 ... 22 -> s40, the content of `naming rule1`);
a participant index outside that table keeps the index as written as its subject. Each fallback is reported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mebench.cells import as_text
from mebench.errors import InputError
from mebench.sheets import RawSheet, is_blank, read_raw, sheet_names, table_by_position

from .base import DatasetLoader, LoadResult, Note, RawSample, long_videos

DATA_SHEET = "CASFEcode_final"
SUBJECT_SHEET = "naming rule1"
VIDEO_SHEET = "naming rule2"

COLUMNS = ("participant", "clip", "onset", "apex", "offset", "au", "emotion", "type", "emotion_self_report")

# The content of the release's naming sheets, used only when a CSV export comes without them.
RELEASE_SUBJECTS = {
    1: "s15", 2: "s16", 3: "s19", 4: "s20", 5: "s21", 6: "s22", 7: "s23", 8: "s24", 9: "s25", 10: "s26", 11: "s27",
    12: "s29", 13: "s30", 14: "s31", 15: "s32", 16: "s33", 17: "s34", 18: "s35", 19: "s36", 20: "s37", 21: "s38",
    22: "s40",
}
RELEASE_VIDEOS = {
    "disgust1": "0101", "disgust2": "0102", "anger1": "0401", "anger2": "0402", "happy1": "0502", "happy2": "0503",
    "happy3": "0505", "happy4": "0507", "happy5": "0508",
}
NAMING_CSV_NAMES = ("naming rule1.csv", "naming_rule1.csv", "naming-rule1.csv", "naming rule 1.csv")
VIDEO_CSV_NAMES = ("naming rule2.csv", "naming_rule2.csv", "naming-rule2.csv", "naming rule 2.csv")

TYPES = {"macro-expression": "macro", "macro": "macro", "micro-expression": "micro", "micro": "micro"}


def _data_sheet(names: list[str]) -> str | None:
    """The data sheet by its name, else the first sheet that is not a naming sheet (a re-saved, renamed workbook)."""
    for name in names:
        if name.strip().lower() == DATA_SHEET.lower():
            return name
    others = [n for n in names if not n.strip().lower().startswith("naming")]
    return others[0] if others else None


def _integer(raw: RawSheet, row: int, column: int, value: Any, what: str) -> int:
    number = None
    if not is_blank(value) and not isinstance(value, bool):
        try:
            number = float(str(value).strip())
        except ValueError:
            pass
    if number is None or not number.is_integer():
        raise InputError(f"expected {what} (an integer), found {value!r}", file=raw.file, sheet=raw.label, row=row,
                         column=f"column {column}")
    return int(number)


def read_subject_table(raw: RawSheet) -> dict[int, str]:
    """`naming rule1`: participant index -> 'sNN'. Rows repeat per interval; a participant named twice is an error."""
    subjects: dict[int, str] = {}
    for number, row in raw.rows:
        if all(is_blank(v) for v in row):
            continue
        cells = list(row) + [None] * 3
        folder = as_text(cells[1])
        if folder is None:
            raise InputError("subject folder ('sNN') is empty", file=raw.file, sheet=raw.label, row=number,
                             column="column 2")
        index = _integer(raw, number, 3, cells[2], "a participant index")
        if subjects.setdefault(index, folder) != folder:
            raise InputError(f"participant {index} is named both {subjects[index]!r} and {folder!r}", file=raw.file,
                             sheet=raw.label, row=number, column="column 2")
    return subjects


def read_video_table(raw: RawSheet) -> dict[str, str]:
    """`naming rule2`: clip prefix -> 4-digit video code. The code is text ('0101'); a re-saved sheet may hold 101."""
    videos: dict[str, str] = {}
    for number, row in raw.rows:
        if all(is_blank(v) for v in row):
            continue
        cells = list(row) + [None] * 2
        code, prefix = as_text(cells[0]), as_text(cells[1])
        if code is None or prefix is None:
            raise InputError("expected a video code and a clip prefix", file=raw.file, sheet=raw.label, row=number)
        videos[prefix] = code.zfill(4) if code.isdigit() else code
    return videos


class Loader(DatasetLoader):
    name = "casme-sq"
    version = "1"
    fps = 30.0
    annotation_names = ("code_final.xlsx", "*code_final*.xlsx", "code_final*.csv", "*code_final*.csv")
    media_templates = {
        "frames_dir": ("rawpic/{subject_raw}/{subject_number}_{video_code}*",
                       "rawpic/*/{subject_number}_{video_code}*"),
        "video_path": ("rawvideo/{subject_raw}/{subject_number}_{video_code}*",
                       "rawvideo/*/{subject_number}_{video_code}*"),
    }
    media_kind = {"frames_dir": "dir", "video_path": "file"}

    # --- annotation -------------------------------------------------------------------------------------------------

    def read_records(self, annotation_file: Path):
        notes: list[Note] = []
        where = dict(dataset=self.name, file=str(annotation_file))
        is_workbook = annotation_file.suffix.lower() in (".xlsx", ".xlsm")
        raw = read_raw(annotation_file, _data_sheet if is_workbook else None)
        subjects, videos, naming = self.naming_tables(annotation_file, is_workbook, notes)
        table = table_by_position(raw, COLUMNS, min_columns=8)
        labels = table.column_labels()
        labels.update(subject_raw=labels["participant"])
        unknown_participants: set[int] = set()
        unknown_prefixes: set[str] = set()
        samples = []
        for record in table.records:
            index = _integer(raw, record.row, 1, record.get("participant"), "a participant index")
            subject = subjects.get(index)
            if subject is None:
                subject = str(index)
                unknown_participants.add(index)
            clip = as_text(record.get("clip"))
            prefix = clip.rsplit("_", 1)[0] if clip else None
            code = videos.get(prefix) if prefix else None
            if clip and code is None:
                unknown_prefixes.add(prefix)
            type_text = as_text(record.get("type"))
            if type_text is not None and type_text.lower() not in TYPES:
                raise record.error(f"expression type must be 'macro-expression' or 'micro-expression', found "
                                   f"{type_text!r}", labels["type"])
            fields = {
                "subject_raw": subject,
                "clip": record.get("clip"),
                "video_id": f"{subject}_{code}" if code else None,
                "onset": record.get("onset"),
                "apex": record.get("apex"),
                "offset": record.get("offset"),
                "au": record.get("au"),
                "emotion": record.get("emotion"),
                "type": TYPES[type_text.lower()] if type_text else None,
            }
            extras = {"participant_index": index, "emotion_self_report": as_text(record.get("emotion_self_report"))}
            if type_text is None:
                notes.append(Note("missing-type", "expression type cell is empty; left untyped (never derived from "
                                  "the duration for CAS(ME)^2)", sheet=raw.label, row=record.row,
                                  column=labels["type"], **where))
            media_keys = {"video_code": code or None, "subject_number": re.sub(r"\D", "", subject)}
            samples.append(RawSample(record, fields, extras=extras, media_keys=media_keys, columns=labels))
        for index in sorted(unknown_participants):
            notes.append(Note("unknown-subject", f"participant index {index} is not in the naming table ({naming}); "
                              "its subject is the index as written", **where))
        for prefix in sorted(unknown_prefixes):
            notes.append(Note("unknown-video", f"clip prefix {prefix!r} is not in the video naming table; video_id "
                              "left null", **where))
        return samples, notes, f"CAS(ME)^2 code_final ({naming})"

    def naming_tables(self, annotation_file: Path, is_workbook: bool,
                      notes: list[Note]) -> tuple[dict[int, str], dict[str, str], str]:
        """(participant -> 'sNN', clip prefix -> video code, where they came from): the workbook's naming sheets,
        else CSVs beside a CSV export, else the release's tables built into this module."""
        where = dict(dataset=self.name, file=str(annotation_file))
        subjects = videos = None
        origin = []
        if is_workbook:
            names = {n.strip().lower(): n for n in sheet_names(annotation_file)}
            if SUBJECT_SHEET in names:
                subjects = read_subject_table(read_raw(annotation_file, names[SUBJECT_SHEET]))
                origin.append(f"sheet {SUBJECT_SHEET!r}")
            if VIDEO_SHEET in names:
                videos = read_video_table(read_raw(annotation_file, names[VIDEO_SHEET]))
                origin.append(f"sheet {VIDEO_SHEET!r}")
        else:
            for candidates, reader, kind in ((NAMING_CSV_NAMES, read_subject_table, "subjects"),
                                             (VIDEO_CSV_NAMES, read_video_table, "videos")):
                beside = next((annotation_file.parent / n for n in candidates
                               if (annotation_file.parent / n).is_file()), None)
                if beside is not None:
                    table = reader(read_raw(beside))
                    if kind == "subjects":
                        subjects = table
                    else:
                        videos = table
                    origin.append(beside.name)
        if subjects is None:
            subjects = dict(RELEASE_SUBJECTS)
            origin.append("built-in subject table")
            notes.append(Note("naming-fallback", f"no {SUBJECT_SHEET!r} table: participant index -> sNN from the "
                              "public release's table built into the loader", **where))
        if videos is None:
            videos = dict(RELEASE_VIDEOS)
            origin.append("built-in video table")
            notes.append(Note("naming-fallback", f"no {VIDEO_SHEET!r} table: clip prefix -> video code from the "
                              "public release's table built into the loader", **where))
        return subjects, videos, ", ".join(origin)

    def expression_type(self, sample: RawSample, row: dict[str, Any]) -> tuple[str | None, str]:
        return sample.fields.get("type"), "annotation"

    def finish(self, result: LoadResult) -> LoadResult:
        """One `videos` row per long video; frames counted from the folder, and intervals past its end reported."""
        result.videos = long_videos(result)
        return result
