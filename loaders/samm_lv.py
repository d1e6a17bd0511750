"""SAMM Long Videos (Yap et al. 2020): micro- and macro-movements spotted in the full 200 fps SAMM recordings.

Annotation: ``SAMM_LongVideos_V2_Release.xlsx``, sheet ``FACS_Movement_Only``: a 9-row preamble (with a merged title
cell), header on row 10: ``Subject | Filename | Inducement Code | Onset | Apex | Offset | Duration | Type |
Action Units | Notes``; 502 intervals (Macro 343, 'Micro - 1/2' 159), 30 subjects, 147 long videos. The reading is
the SAMM micro loader's (header found by content, sheet by name or by header, CSV exports, numeric subjects padded
from the Filename, Duration formula ignored); what differs, and why:

- ``Type`` states micro vs macro and is read as the annotation; only a blank or unrecognised cell falls back to the
  duration rule (reported, and ``type_source`` says so).
- Frame numbers are sometimes fractional (566.4000000000001): the shared pipeline rounds them and reports each one.
- Apex -1 means "not coded": erratum ``samm-lv:apex-minus-one-missing`` nulls it.
- Filename 037_4_1 is used twice (a micro and a macro interval): both are kept, as ``...#1`` / ``...#2``.
- ``video_id`` is the Filename without its last ``_n`` ('006_1_3' -> '006_1'): the long video the interval lies in.
- Subjects are the SAMM participants with the same codes: ``person`` is ``samm/<subject>`` (mebench/data/persons.csv),
  so subject-independent protocols keep a participant on one side across SAMM and SAMM-LV.

Media (a template; the release's layout as public spotting code reads it, not documented by the authors):
``SAMM_longvideos/<video_id>/<video_id>_<frame>.jpg``, the frame number zero-padded to 4 or 5 digits depending on the
video, numbered from 1. ``frames_dir`` is the video folder; ``SAMM_longvideos/SAMM_longvideos/<video_id>`` (the zip
unpacked into a folder of its own name) and ``<video_id>`` (root = the image folder) are also tried. Override with
``mebench build --media-template samm-lv.frames_dir='MyFrames/{video_id}'`` (fields: any sample column, e.g.
``{subject_raw}``, ``{video_id}``, ``{clip}``).

Besides samples, the loader emits one ``videos`` row per long video, with ``n_frames`` counted from its image folder
when the media are found (null otherwise); intervals that end past the last image are reported (a known issue of the
release: public spotting code clamps the offsets of 020_6_5 and 036_7_4 to the last image of their videos).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mebench.cells import as_text
from mebench.sheets import Column, Record, Table

from . import samm
from .base import LoadResult, Note, RawSample, long_videos

COLUMNS = (
    Column("subject", ("subject",)),
    Column("filename", ("filename", "file name")),
    Column("inducement_code", ("inducement code",), required=False),
    Column("onset", ("onset",)),
    Column("apex", ("apex",)),
    Column("offset", ("offset",)),
    Column("type", ("type",)),
    Column("au", ("action units", "action unit", "aus")),
    Column("emotion", ("estimated emotion", "emotion"), required=False),  # not in V2; read if a release adds it
    Column("notes", ("notes",), required=False),
)

_LAST_PART = re.compile(r"^(?P<video>.+)_\d+$")


def video_of(clip: str | None) -> str | None:
    """'006_1_3' -> '006_1': the Filename names the interval within its long video by a trailing `_n`."""
    if clip is None:
        return None
    match = _LAST_PART.match(clip)
    return match.group("video") if match else None


class Loader(samm.Loader):
    name = "samm-lv"
    version = "1"
    fps = 200.0
    annotation_names = ("SAMM_LongVideos*Release*.xlsx", "SAMM_LongVideos*.xlsx", "SAMM_LongVideos*.csv")
    media_templates = {
        "frames_dir": ("SAMM_longvideos/{video_id}", "SAMM_longvideos/SAMM_longvideos/{video_id}", "{video_id}"),
    }
    media_kind = {"frames_dir": "dir"}

    columns = COLUMNS
    field_columns = {**samm.FIELD_COLUMNS, "onset": "onset", "apex": "apex", "offset": "offset", "type": "type"}
    preferred_sheet = "FACS_Movement_Only"

    def read_records(self, annotation_file: Path):
        # finish() needs the file for its LoadResult and the base hook does not pass it.
        return super().read_records(annotation_file)

    def more_fields(self, record: Record, fields: dict[str, Any], labels: dict[str, str],
                    notes: list[Note]) -> dict[str, Any]:
        clip = as_text(fields["clip"])
        video = video_of(clip)
        if video is None and clip is not None:
            notes.append(Note("video-id", f"Filename {clip!r} has no trailing _n; used whole as the video id",
                              self.name, str(record.file), record.sheet, record.row, labels["clip"]))
            video = clip
        return {"video_id": video}

    def describe(self, table: Table) -> str:
        where = f"sheet {table.sheet}" if table.sheet is not None else "CSV"
        return f"SAMM Long Videos ({where}, header row {table.header_row})"

    def expression_type(self, sample: RawSample, row: dict[str, Any]) -> tuple[str | None, str]:
        stated = samm.native_type(sample.fields.get("type"))
        if stated is not None:
            return stated, "annotation"
        return self.type_by_duration(row)  # blank/unknown Type (reported by read_records)

    def finish(self, result: LoadResult) -> LoadResult:
        result.videos = long_videos(result)
        return result
