"""SAMM micro-movements (Davison et al. 2018): cut clips at 200 fps, coded in ``SAMM_Micro_FACS_Codes_v2.xlsx``.

What this module has to cope with, and why each code path exists:

- The v2 workbook's sheet ``MICRO_ONLY`` opens with a 13-row preamble (title, citation notes, symbol key) and has its
  header on row 14; another public release of the same data has the header on row 1. The header row is therefore
  found by content, never by position, and ``source_row`` stays the row Excel shows.
- The sheet is picked by name (``MICRO_ONLY``) when the workbook has it, else the first sheet whose header matches, so
  a re-saved or renamed copy still loads. A CSV export of the sheet reads the same way.
- ``Subject`` is text with leading zeros ('006') in v2, but a copy saved with the column as numbers shows 6. Every
  ``Filename`` starts with the three-digit code ('006_1_2'), so the padded code is recovered from it: otherwise sample
  ids, errata keys ('028'), media folders (``SAMM/006``) and the SAMM / SAMM-LV person link would all miss.
- ``Duration`` is an Excel formula (``=SUM(F15-D15)+1``). Nothing is derived from it: it is not even mapped, so a
  copy saved without cached values cannot make the load fail or drift.
- ``Micro`` states the type ('Micro - 1/2'); it is read as the annotation. Where the column or the cell is absent the
  clip is micro by the sheet's construction (it lists micro-movements only). The duration rule is deliberately not
  used here: the longest SAMM clips are exactly 100 frames = 0.5 s, which ``duration<0.5s`` would call macro.
- ``Onset Frame``/``Micro`` (here) versus ``Onset``/``Type`` (SAMM Long Videos) are what tell the two SAMM sheets apart,
  so the column names are strict (a canonical name also matches as a header, hence 'onset_frame', not 'onset'):
  handing one loader the other's file is a clear error, not 502 intervals typed as micro.
- Known errors (028_4_1 apex after offset, 032_3_1 apex before onset) are errata entries, not code.

Media: ``SAMM/<subject>/<clip>/<subject>_<frame:05d>.jpg``; ``frames_dir`` is the clip folder, found under the dataset
root given to ``mebench build`` or, when that root is the ``SAMM`` folder itself, directly under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from mebench.cells import as_text
from mebench.errors import InputError
from mebench.sheets import (XLSX_SUFFIXES, Column, RawSheet, Record, Table, normalize_header, read_raw, sheet_names,
                            table_from_header)

from .base import DatasetLoader, Note, RawSample

COLUMNS = (
    Column("subject", ("subject",)),
    Column("filename", ("filename", "file name")),
    Column("inducement_code", ("inducement code",), required=False),
    Column("onset_frame", ("onset frame", "onsetframe")),
    Column("apex_frame", ("apex frame", "apexframe")),
    Column("offset_frame", ("offset frame", "offsetframe")),
    Column("micro", ("micro",), required=False),
    Column("au", ("action units", "action unit", "aus")),
    Column("emotion", ("estimated emotion", "emotion"), required=False),  # added in the 9/9/17 update
    Column("objective_class", ("objective classes", "objective class"), required=False),
    Column("notes", ("notes",), required=False),
)

# RawSample field -> the column (canonical name above) it is read from.
FIELD_COLUMNS = {
    "subject_raw": "subject",
    "clip": "filename",
    "onset": "onset_frame",
    "apex": "apex_frame",
    "offset": "offset_frame",
    "type": "micro",  # read by expression_type, not a corpus column itself
    "au": "au",
    "emotion": "emotion",
    "objective_class": "objective_class",
}


class Loader(DatasetLoader):
    name = "samm"
    version = "1"
    fps = 200.0
    annotation_names = ("SAMM_Micro_FACS_Codes*.xlsx", "SAMM_Micro_FACS_Codes*.csv", "SAMM*Micro*FACS*.xlsx")
    media_templates = {"frames_dir": ("SAMM/{subject_raw}/{clip}", "{subject_raw}/{clip}")}
    media_kind = {"frames_dir": "dir"}

    columns: Sequence[Column] = COLUMNS
    field_columns: dict[str, str] = FIELD_COLUMNS
    preferred_sheet = "MICRO_ONLY"

    def read_records(self, annotation_file: Path):
        raw, table = read_table(annotation_file, self.preferred_sheet, self.columns)
        notes = formula_notes(raw, table, self.name)
        headers = table.column_labels()
        labels = {name: headers[column] for name, column in self.field_columns.items() if column in headers}
        samples, padded = [], []
        for record in table.records:
            fields = {name: record.get(column) for name, column in self.field_columns.items()}
            fields["subject_raw"], was_padded = subject_code(fields["subject_raw"], fields["clip"])
            if was_padded:
                padded.append(record.row)
            fields.update(self.more_fields(record, fields, labels, notes))
            extras = {"inducement_code": as_text(record.get("inducement_code")), "notes": as_text(record.get("notes"))}
            samples.append(RawSample(record, fields, extras=extras, columns=labels))
            check_type_cell(self.name, record, fields["type"], labels.get("type"), notes)
        if padded:
            notes.append(Note("subject-padded", f"{len(padded)} Subject cells are numbers; the three-digit code was "
                              f"taken from the Filename (first at row {padded[0]})", self.name, str(annotation_file),
                              raw.sheet, column=labels["subject_raw"]))
        return samples, notes, self.describe(table)

    def more_fields(self, record: Record, fields: dict[str, Any], labels: dict[str, str],
                    notes: list[Note]) -> dict[str, Any]:
        """Hook for SAMM Long Videos (video_id); the cut clips have none."""
        return {}

    def describe(self, table: Table) -> str:
        classes = "with" if "emotion" in table.columns else "without (pre-9/9/17 release)"
        where = f"sheet {table.sheet}, " if table.sheet is not None else "CSV, "
        return f"SAMM micro FACS codes {classes} emotion classes ({where}header row {table.header_row})"

    def expression_type(self, sample: RawSample, row: dict[str, Any]) -> tuple[str | None, str]:
        stated = native_type(sample.fields.get("type"))
        if stated is not None:
            return stated, "annotation"
        return "micro", "dataset:all-micro"


# --- helpers shared with samm_lv --------------------------------------------------------------------------------------


def read_table(path: Path, preferred_sheet: str, columns: Sequence[Column]) -> tuple[RawSheet, Table]:
    """The sheet named `preferred_sheet` if the workbook has one, else the first sheet whose header matches.

    A CSV export has a single table. When the preferred sheet exists its header must match (its error names the
    file, sheet and row); otherwise every sheet is tried, so a copy whose sheet was renamed still loads.
    """
    path = Path(path)
    if path.suffix.lower() not in XLSX_SUFFIXES or not path.is_file():
        raw = read_raw(path)
        return raw, table_from_header(raw, columns)
    names = sheet_names(path)
    preferred = [n for n in names if normalize_header(n) == normalize_header(preferred_sheet)]
    first_error: InputError | None = None
    for name in preferred or names:
        raw = read_raw(path, name)
        try:
            return raw, table_from_header(raw, columns)
        except InputError as error:
            if preferred or len(names) == 1:
                raise
            first_error = first_error or error
    assert first_error is not None
    raise InputError(f"no sheet has the expected header (sheets: {names}; in {names[0]!r}: {first_error.message})",
                     file=path)


def subject_code(subject: object, filename: object) -> tuple[str | None, bool]:
    """(subject as text, whether it was zero-padded from the Filename).

    SAMM codes are three-digit text ('006') and every Filename starts with the code ('006_1_2'). A sheet saved with the
    Subject column as numbers (6) loses the padding; the code is then taken from the Filename when both name the same
    number. Anything else is kept as written: a mismatch is the file's to explain, not ours to guess.
    """
    text, name = as_text(subject), as_text(filename)
    if text is None or name is None or not text.isdigit():
        return text, False
    prefix = name.split("_", 1)[0]
    if prefix.isdigit() and prefix != text and int(prefix) == int(text):
        return prefix, True
    return text, False


def native_type(cell: object) -> str | None:
    """'Micro - 1/2' -> micro, 'Macro' -> macro (case and spacing free); blank or anything else -> None."""
    text = normalize_header(cell)
    if text.startswith("micro"):
        return "micro"
    if text.startswith("macro"):
        return "macro"
    return None


def check_type_cell(dataset: str, record: Record, cell: object, column: str | None, notes: list[Note]) -> None:
    """Report a type cell that is neither micro nor macro (the row then falls back to the loader's rule)."""
    if column is not None and as_text(cell) is not None and native_type(cell) is None:
        notes.append(Note("unknown-type", f"type cell {as_text(cell)!r} is neither Micro nor Macro", dataset,
                          str(record.file), record.sheet, record.row, column))


def formula_notes(raw: RawSheet, table: Table, dataset: str) -> list[Note]:
    """A formula without a cached value that cannot be evaluated reads as blank: say so where the cell matters.

    Files re-saved by openpyxl or pandas carry no cached values; SAMM's Duration formulas are harmless (unmapped), but
    a formula in a frame or AU column must not silently become a missing value.
    """
    by_index = {index: name for name, index in table.columns.items()}  # Duration is never mapped
    labels = table.column_labels()
    notes = []
    for row, column, formula in raw.formulas_unresolved:
        if column in by_index and (table.header_row is None or row > table.header_row):
            notes.append(Note("formula", f"formula {formula!r} has no cached value and cannot be evaluated; read as "
                              "empty", dataset, str(raw.file), raw.sheet, row, labels.get(by_index[column])))
    return notes
