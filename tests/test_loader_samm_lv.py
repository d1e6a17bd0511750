"""SAMM Long Videos loader, on workbooks written in the release's native shape (DESIGN.md 3.4; no real file is
available): preamble with a merged cell, header on row 10, Duration formulas, fractional frames, apex -1, the
duplicated 037_4_1, numeric subjects, CSV export, videos rows, media resolution and bad input."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from mebench.corpus import Source, build_corpus
from mebench.errors import InputError
from mebench.loaders import get_loader
from mebench.loaders.samm_lv import Loader, video_of

FILE = "SAMM_LongVideos_V2_Release.xlsx"
SHEET = "FACS_Movement_Only"
HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units",
          "Notes"]
# Subject, Filename, Inducement Code, Onset, Apex, Offset, Type, Action Units, Notes (Duration is written as a formula)
ROWS = [
    ("006", "006_1_3", 1, 566.4000000000001, 600, 650, "Macro", "4(B/C)+7B", None),  # Excel row 11
    ("006", "006_1_4", 1, 1000, -1, 1100, "Micro - 1/2", "12B ?", "apex not coded"),  # 12
    ("006", "006_2_1", 2, 200, 210, 260.5, "Macro", 12, None),  # 13
    ("037", "037_4_1", 4, 3000, 3020, 3060, "Micro - 1/2", "(loses 1+2) or (4(B/C))", None),  # 14
    ("037", "037_4_1", 4, 3000, 3050, 3300, "Macro", "4+7", "same filename, macro"),  # 15
]


def preamble(sheet) -> None:
    """Rows 1-9 as the release has them: a merged title cell, a citation note, the symbol key, blanks."""
    sheet["A1"] = "SAMM Long Videos - FACS Movement Only"
    sheet.merge_cells("A1:J1")
    sheet["A3"] = "If you use this dataset please cite Yap et al. (2020), SAMM Long Videos."
    sheet["A5"] = "Symbol Key:"
    sheet["A6"] = '"/" = or'
    sheet["A7"] = '"?" = unclear'


def write_release(path: Path, rows=ROWS, *, sheet: str = SHEET, header=HEADER, numeric_subjects=False) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    preamble(ws)
    for column, name in enumerate(header, start=1):
        ws.cell(row=10, column=column, value=name)
    for number, (subject, *rest) in enumerate(rows, start=11):
        subject = int(subject) if numeric_subjects else subject
        filename, code, onset, apex, offset, kind, aus, notes = rest
        values = [subject, filename, code, onset, apex, offset, f"=F{number}-D{number}+1", kind, aus, notes]
        for column, value in enumerate(values, start=1):
            ws.cell(row=number, column=column, value=value)
    book.save(path)
    return path


@pytest.fixture
def release(tmp_path) -> Path:
    return write_release(tmp_path / FILE)


@pytest.fixture
def loaded(release):
    return Loader().load(release)


def by_id(result) -> dict[str, dict]:
    return {s["sample_id"]: s for s in result.samples}


def comparable(sample: dict) -> dict:
    return {k: v for k, v in sample.items() if k not in ("source_file", "source_sheet")}


def test_registered_under_its_cli_name():
    assert isinstance(get_loader("samm-lv"), Loader)


def test_rows_and_types(loaded):
    assert len(loaded.samples) == 5
    assert {s["subject"] for s in loaded.samples} == {"samm-lv/006", "samm-lv/037"}
    assert Counter(s["expression_type"] for s in loaded.samples) == {"macro": 3, "micro": 2}
    assert {s["type_source"] for s in loaded.samples} == {"annotation"}
    assert {(s["source_sheet"], s["fps"]) for s in loaded.samples} == {(SHEET, 200.0)}
    assert [s["source_row"] for s in loaded.samples] == [11, 12, 13, 14, 15]
    assert loaded.header == "SAMM Long Videos (sheet FACS_Movement_Only, header row 10)"
    assert all(s["emotion"] is None and s["emotions"] == [] for s in loaded.samples)  # the release has no emotion


def test_fractional_frames_are_rounded_and_reported(loaded):
    rows = by_id(loaded)
    assert rows["samm-lv/006/006_1_3"]["onset"] == 566
    assert rows["samm-lv/006/006_2_1"]["offset"] == 261  # 260.5 rounds half up
    rounded = [(n.row, n.column) for n in loaded.notes if n.kind == "rounded-frame"]
    assert rounded == [(11, "Onset"), (13, "Offset")]


def test_apex_minus_one_is_missing(loaded):
    row = by_id(loaded)["samm-lv/006/006_1_4"]
    assert row["apex"] is None and (row["onset"], row["offset"]) == (1000, 1100)
    assert row["errata"] == ["samm-lv:apex-minus-one-missing"]
    assert [s["sample_id"] for s in loaded.samples if s["errata"]] == ["samm-lv/006/006_1_4"]


def test_duplicated_filename_gives_two_samples(loaded):
    rows = by_id(loaded)
    first, second = rows["samm-lv/037/037_4_1#1"], rows["samm-lv/037/037_4_1#2"]
    assert (first["expression_type"], first["source_row"]) == ("micro", 14)
    assert (second["expression_type"], second["source_row"]) == ("macro", 15)
    assert "samm-lv/037/037_4_1" not in rows
    assert first["clip"] == second["clip"] == "037_4_1"


def test_video_ids_and_persons(loaded):
    rows = by_id(loaded)
    assert rows["samm-lv/006/006_1_3"]["video_id"] == "006_1"
    assert rows["samm-lv/037/037_4_1#1"]["video_id"] == "037_4"
    assert {s["person"] for s in loaded.samples} == {"samm/006", "samm/037"}  # same people as SAMM micro
    assert video_of("006_1_3") == "006_1" and video_of("0061") is None


def test_au_cells(loaded):
    rows = by_id(loaded)
    macro = rows["samm-lv/006/006_1_3"]
    assert macro["aus"] == [4, 7] and [c["intensity"] for c in macro["au_codes"]] == ["B/C", "B"]
    unsure = rows["samm-lv/006/006_1_4"]
    assert unsure["aus"] == [] and unsure["au_codes"][0]["uncertain"] and unsure["au_raw"] == "12B ?"
    assert (rows["samm-lv/006/006_2_1"]["au_raw"], rows["samm-lv/006/006_2_1"]["aus"]) == ("12", [12])
    loses = rows["samm-lv/037/037_4_1#1"]
    assert loses["aus"] == [] and loses["au_free_text"] == ["loses 1+2"]
    assert loses["au_raw"] == "(loses 1+2) or (4(B/C))"
    [note] = [n for n in loaded.notes if n.kind == "free-text-au"]
    assert "loses 1+2" in note.message and (note.row, note.column, note.sheet) == (14, "Action Units", SHEET)


def test_extras(loaded):
    rows = by_id(loaded)
    assert rows["samm-lv/006/006_1_4"]["notes"] == "apex not coded"
    assert rows["samm-lv/037/037_4_1#1"]["inducement_code"] == "4"
    assert "duration" not in rows["samm-lv/006/006_1_4"]


def test_videos_without_media(loaded):
    assert [v["video_id"] for v in loaded.videos] == ["006_1", "006_2", "037_4"]
    first = loaded.videos[0]
    assert first == {"video_id": "006_1", "dataset": "samm-lv", "subject": "samm-lv/006", "person": "samm/006",
                     "fps": 200.0, "n_frames": None, "frames_dir": None, "video_path": None}


def test_numeric_subjects_are_padded(tmp_path, loaded):
    """Public readers of the release format Subject with f'{s:03d}': the cells are numbers there."""
    result = Loader().load(write_release(tmp_path / "numeric.xlsx", numeric_subjects=True))
    assert [s["sample_id"] for s in result.samples] == [s["sample_id"] for s in loaded.samples]
    assert {s["person"] for s in result.samples} == {"samm/006", "samm/037"}
    assert [n.kind for n in result.notes].count("subject-padded") == 1


def test_csv_export(tmp_path, release, loaded):
    book = openpyxl.load_workbook(release)
    rows = [list(r) for r in book[SHEET].iter_rows(values_only=True)]
    path = tmp_path / "SAMM_LongVideos_V2_Release.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["" if v is None else v for v in row] for row in rows])
    result = Loader().load(path)
    assert [comparable(s) for s in result.samples] == [comparable(s) for s in loaded.samples]
    assert {s["source_sheet"] for s in result.samples} == {None}
    assert [v["video_id"] for v in result.videos] == ["006_1", "006_2", "037_4"]


def test_dataset_root_with_frames(tmp_path):
    write_release(tmp_path / FILE)
    video = tmp_path / "SAMM_longvideos" / "006_1"
    video.mkdir(parents=True)
    for frame in (1, 2, 3):
        (video / f"006_1_{frame:04d}.jpg").write_bytes(b"")
    (video / "Thumbs.db").write_bytes(b"")  # not an image

    result = Loader().load(tmp_path)
    rows = by_id(result)
    assert rows["samm-lv/006/006_1_3"]["frames_dir"] == rows["samm-lv/006/006_1_4"]["frames_dir"] == str(video)
    assert rows["samm-lv/037/037_4_1#1"]["frames_dir"] is None
    videos = {v["video_id"]: v for v in result.videos}
    assert (videos["006_1"]["n_frames"], videos["006_1"]["frames_dir"]) == (3, str(video))
    assert videos["037_4"]["n_frames"] is None
    beyond = [n for n in result.notes if n.kind == "frame-beyond-video"]
    assert {n.sample_id for n in beyond} == {"samm-lv/006/006_1_3", "samm-lv/006/006_1_4"}
    assert len([n for n in result.notes if n.kind == "missing-media"]) == 3

    out = tmp_path / "corpus"
    build_corpus([Source("samm-lv", tmp_path)], out)
    table = pq.read_table(out / "videos.parquet").to_pylist()
    assert [(v["video_id"], v["n_frames"], v["person"]) for v in table] == [
        ("006_1", 3, "samm/006"), ("006_2", None, "samm/006"), ("037_4", None, "samm/037")]
    samples = pq.read_table(out / "samples.parquet").to_pylist()
    assert len(samples) == 5 and {s["video_id"] for s in samples} == {"006_1", "006_2", "037_4"}


def test_media_template_override(tmp_path):
    write_release(tmp_path / FILE)
    (tmp_path / "frames" / "006" / "006_2").mkdir(parents=True)
    result = Loader({"frames_dir": "frames/{subject_raw}/{video_id}"}).load(tmp_path)
    assert by_id(result)["samm-lv/006/006_2_1"]["frames_dir"] == str(tmp_path / "frames" / "006" / "006_2")


def test_blank_type_falls_back_to_duration(tmp_path):
    rows = [("006", "006_1_1", 1, 100, 120, 150, None, "4", None),
            ("006", "006_1_2", 1, 100, 150, 400, "Huh", "4", None)]
    result = Loader().load(write_release(tmp_path / FILE, rows))
    assert [(s["expression_type"], s["type_source"]) for s in result.samples] == [
        ("micro", "duration<0.5s"), ("macro", "duration<0.5s")]
    assert [(n.row, n.column) for n in result.notes if n.kind == "unknown-type"] == [(12, "Type")]


def test_wrong_columns_name_file_and_sheet(tmp_path):
    header = ["Subject", "Filename", "Start", "Peak", "End", "Duration", "Kind", "Action Units", "Notes"]
    path = write_release(tmp_path / FILE, header=header)
    with pytest.raises(InputError) as error:
        Loader().load(path)
    message = str(error.value)
    assert str(path) in message and f"sheet '{SHEET}'" in message and "row 10" in message
    assert error.value.file == path and error.value.sheet == SHEET


def test_micro_file_is_not_read_as_long_videos(tmp_path):
    header = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
              "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]
    path = write_release(tmp_path / FILE, header=header, sheet="MICRO_ONLY")
    with pytest.raises(InputError, match="columns are missing"):
        Loader().load(path)
