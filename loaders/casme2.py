"""CASME II (Yan et al. 2014): cut clips at 200 fps, coding sheet released 2014-05-08 and revised 2019-07-01.

Users hold either coding file, under any name: the release is recognised by its header (the 2019 revision adds an
objective-class column). Subjects are text with a leading zero ('01'); single AUs are int cells; ApexFrame holds '/'
for 04/EP12_01f (an erratum). Every CASME II clip is a micro-expression by the dataset's construction.
"""

from __future__ import annotations

from pathlib import Path

from mebench.sheets import Column, read_raw, table_from_header

from .base import DatasetLoader, Note, RawSample

COLUMNS = (
    Column("subject", ("subject",)),
    Column("filename", ("filename", "file name")),
    Column("onset", ("onsetframe", "onset frame", "onset")),
    Column("apex", ("apexframe", "apex frame", "apex")),
    Column("offset", ("offsetframe", "offset frame", "offset")),
    Column("au", ("action units", "action unit", "aus")),
    Column("emotion", ("estimated emotion", "emotion")),
    Column("objective_class", ("objective class", "objective classes"), required=False),
)


class Loader(DatasetLoader):
    name = "casme2"
    version = "1"
    fps = 200.0
    annotation_names = ("CASME2-coding-*.xlsx", "CASME2-coding*.xlsx", "CASME2*coding*.xlsx", "CASME2-coding*.csv")
    media_templates = {
        "frames_dir": ("CASME2_RAW_selected/sub{subject_raw}/{clip}", "CASME2_Cropped/sub{subject_raw}/{clip}",
                       "CASME2-RAW/sub{subject_raw}/{clip}", "Cropped/sub{subject_raw}/{clip}"),
    }
    media_kind = {"frames_dir": "dir"}

    def read_records(self, annotation_file: Path):
        raw = read_raw(annotation_file)
        table = table_from_header(raw, COLUMNS)
        release = "2019-07-01" if "objective_class" in table.columns else "2014-05-08"
        notes = []
        if raw.formulas_evaluated:
            notes.append(Note("formula", f"{raw.formulas_evaluated} formula cells without cached values evaluated",
                              self.name, str(annotation_file), raw.sheet))
        labels = table.column_labels()
        labels.update(subject_raw=labels["subject"], clip=labels["filename"])
        samples = []
        for record in table.records:
            fields = {
                "subject_raw": record.get("subject"),
                "clip": record.get("filename"),
                "onset": record.get("onset"),
                "apex": record.get("apex"),
                "offset": record.get("offset"),
                "au": record.get("au"),
                "emotion": record.get("emotion"),
                "objective_class": record.get("objective_class"),
            }
            samples.append(RawSample(record, fields, columns=labels))
        return samples, notes, f"CASME II coding {release}"

    def expression_type(self, sample, row):
        return "micro", "dataset:all-micro"

