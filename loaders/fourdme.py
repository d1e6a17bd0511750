"""4DME (Li et al., seed 004): micro- and macro-expression clips with 4D meshes, grey video and Kinect RGB/depth.

No release label file is public; this loader follows DESIGN.md 3.4 and what public code reading the release shows:

- Header (found by content) with `sub_ID`, `fold_name`, `Onset`, `Apex`, `Offset`, `AUs`, `Emotion`. Releases write
  some headers with a trailing apostrophe (`sub_ID'`, `video_number'`): both spellings are accepted. Other columns
  (one-hot AU columns, `Length`, self-report...) are tolerated and ignored.
- One-hot emotion columns (`Positive`, `Negative`, `Surprise`, `Repression`, `Others`), where present, are
  cross-checked against `Emotion`; a disagreement is reported (the `Emotion` text wins), never fatal.
- `Emotion` may hold two labels ('Surprise+Positive': the paper allows compound emotions, at most two).
  `emotions` = the labels split on '+', canonical lowercase, sorted and unique (['positive', 'surprise']).
  `emotion` = that label when there is exactly one, and NULL when there are two: a single-label consumer must not
  mistake 'surprise+positive' for a category of its own; `emotion_raw` keeps the cell as written.
- AU cells use `(k)` for static AUs ('AU12(k)+AU6'): the shared AU grammar flags them `static` and keeps them in
  `aus` (the paper's rule 7 counts them).
- Frame numbers refer to the 60 fps grey / DI4D clock (`fps` 60). The Kinect streams run at 30 fps: Kinect frame
  = grey frame / 2 (not stored; a consumer of `rgb_path`/`depth_path` must convert).
- Type: from a type column when the file has one ('micro'/'ME', 'macro'/'MaE'), else derived as the paper did
  ("clips shorter than 0.5 s from onset to offset are micro"), `type_source` 'duration<0.5s'.
- A trailing row with neither subject nor clip (a totals line) is skipped and reported.
- Rows 144/145 of the release have onset and offset swapped: fixed by the errata table (matched by source row, only
  while onset > offset holds), not here.

Media (defaults, relative to the dataset root; all folders of per-frame files; override with --media-template):

- `grey_path`: `gray_micro/{clip}` (the layout public 4DME code reads), `gray/{subject_raw}/{clip}`,
  `grey/{subject_raw}/{clip}`
- `mesh_dir` (per-frame OBJ/PLY, read with trimesh): `4D/{subject_raw}/{clip}`, `mesh/{subject_raw}/{clip}`,
  `DI4D/{subject_raw}/{clip}`
- `rgb_path`: `kinect_color/{subject_raw}/{clip}`, `rgb/{subject_raw}/{clip}`
- `depth_path`: `kinect_depth/{subject_raw}/{clip}`, `depth/{subject_raw}/{clip}`

`video_id` stays null: the label file does not say which of the 278 long segments a clip was cut from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mebench.cells import as_text
from mebench.schema import canonical_emotion
from mebench.sheets import Column, is_blank, normalize_header, read_raw, table_from_header

from .base import DatasetLoader, Note, RawSample


def _aliases(*names: str) -> tuple[str, ...]:
    """Each spelling with and without the trailing apostrophe the release puts on some headers."""
    return tuple(dict.fromkeys(v for n in names for v in (n, f"{n}'")))


COLUMNS = (
    Column("subject", _aliases("sub_id", "subject", "sub", "subject_id")),
    Column("clip", _aliases("fold_name", "fold name", "folder_name", "folder", "filename", "clip")),
    Column("onset", _aliases("onset", "onset frame", "onsetframe")),
    Column("apex", _aliases("apex", "apex frame", "apexframe")),
    Column("offset", _aliases("offset", "offset frame", "offsetframe")),
    Column("au", _aliases("aus", "au", "action units", "action unit")),
    Column("emotion", _aliases("emotion", "emotions", "estimated emotion")),
    Column("type", _aliases("type", "expression type", "me/mae", "micro/macro", "expression_type"), required=False),
)
EMOTION_COLUMNS = ("positive", "negative", "surprise", "repression", "others", "other")
TYPES = {"micro": "micro", "me": "micro", "micro-expression": "micro", "macro": "macro", "mae": "macro",
         "macro-expression": "macro"}
TRUE_TEXT = {"x", "yes", "y", "true"}


def split_emotions(raw: Any) -> list[str]:
    """'Surprise+Positive' -> ['positive', 'surprise']; 'Others' -> ['others']; blank -> []."""
    text = as_text(raw)
    if text is None:
        return []
    parts = (canonical_emotion(p) for p in text.replace(",", "+").split("+"))
    return sorted({p for p in parts if p})


def _flag(value: Any) -> bool:
    if is_blank(value):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    text = str(value).strip().lower()
    try:
        return float(text) != 0
    except ValueError:
        return text in TRUE_TEXT


class Loader(DatasetLoader):
    name = "4dme"
    version = "1"
    fps = 60.0
    annotation_names = ("4DME_Label*.xlsx", "4DME*label*.xlsx", "4DME*.xlsx", "4DME_Label*.csv", "4DME*.csv")
    media_templates = {
        "grey_path": ("gray_micro/{clip}", "gray/{subject_raw}/{clip}", "grey/{subject_raw}/{clip}"),
        "mesh_dir": ("4D/{subject_raw}/{clip}", "mesh/{subject_raw}/{clip}", "DI4D/{subject_raw}/{clip}"),
        "rgb_path": ("kinect_color/{subject_raw}/{clip}", "rgb/{subject_raw}/{clip}"),
        "depth_path": ("kinect_depth/{subject_raw}/{clip}", "depth/{subject_raw}/{clip}"),
    }
    media_kind = {"grey_path": "dir", "mesh_dir": "dir", "rgb_path": "dir", "depth_path": "dir"}

    def read_records(self, annotation_file: Path):
        raw = read_raw(annotation_file)
        table = table_from_header(raw, COLUMNS)
        labels = table.column_labels()
        labels.update(subject_raw=labels["subject"])
        header = raw.rows[table.header_row - 1][1]
        onehot = {i: canonical_emotion(normalize_header(h).rstrip("'")) for i, h in enumerate(header)
                  if normalize_header(h).rstrip("'") in EMOTION_COLUMNS}
        where = dict(dataset=self.name, file=str(annotation_file), sheet=raw.sheet)
        notes: list[Note] = []
        if raw.formulas_evaluated:
            notes.append(Note("formula", f"{raw.formulas_evaluated} formula cells without cached values evaluated",
                              **where))
        row_cells = dict(raw.rows)
        samples = []
        for record in table.records:
            if is_blank(record.get("subject")) and is_blank(record.get("clip")):
                notes.append(Note("skipped-row", "row without subject and clip (a totals line?) skipped",
                                  row=record.row, **where))
                continue
            emotions = split_emotions(record.get("emotion"))
            if onehot:
                cells = row_cells[record.row]
                marked = sorted({e for i, e in onehot.items() if i < len(cells) and _flag(cells[i])})
                if marked != emotions:
                    notes.append(Note("emotion-mismatch", f"Emotion {as_text(record.get('emotion'))!r} but the "
                                      f"one-hot columns mark {marked}; Emotion kept", row=record.row, **where))
            type_text = as_text(record.get("type"))
            if type_text is not None and type_text.lower() not in TYPES:
                raise record.error(f"type must be micro/ME or macro/MaE, found {type_text!r}", labels["type"])
            fields = {
                "subject_raw": record.get("subject"),
                "clip": record.get("clip"),
                "onset": record.get("onset"),
                "apex": record.get("apex"),
                "offset": record.get("offset"),
                "au": record.get("au"),
                "emotion": record.get("emotion"),
                "emotions": emotions,
                "type": TYPES[type_text.lower()] if type_text else None,
            }
            samples.append(RawSample(record, fields, columns=labels))
        kind = "with type column" if "type" in table.columns else "type by duration"
        return samples, notes, f"4DME labels ({kind}{', one-hot emotions' if onehot else ''})"

    def expression_type(self, sample: RawSample, row: dict[str, Any]) -> tuple[str | None, str]:
        if sample.fields.get("type"):
            return sample.fields["type"], "annotation"
        return self.type_by_duration(row)

    def convert(self, sample: RawSample, notes: list[Note]) -> dict[str, Any]:
        """As the base; a compound emotion ('Surprise+Positive') leaves `emotion` null and lives in `emotions`."""
        row = super().convert(sample, notes)
        if len(row["emotions"]) != 1:
            row["emotion"] = None
        return row
