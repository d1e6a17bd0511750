"""SAMM micro loader: conformance on the real v2 workbook (../shared/annotations/README.md), the other releases'
shapes (header in row 1, numeric subjects, CSV export), media resolution under a dataset root, and bad input."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from conftest import real_file
from mebench.cli import main
from mebench.corpus import Source, build_corpus
from mebench.errors import InputError
from mebench.loaders.samm import Loader

SAMM_FILE = "samm/SAMM_Micro_FACS_Codes_v2.xlsx"
HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration", "Micro",
          "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]
EMOTIONS = {"anger": 57, "others": 26, "happiness": 26, "surprise": 15, "contempt": 12, "disgust": 9, "fear": 8,
            "sadness": 6}


@pytest.fixture(scope="module")
def real_samm() -> Path:
    return real_file(SAMM_FILE)


@pytest.fixture(scope="module")
def real_rows(real_samm) -> list[list]:
    """Cached values of the sheet as Excel shows them, preamble included."""
    book = openpyxl.load_workbook(real_samm, data_only=True, read_only=True)
    try:
        return [list(r) for r in book["MICRO_ONLY"].iter_rows(values_only=True)]
    finally:
        book.close()


@pytest.fixture(scope="module")
def loaded(real_samm):
    return Loader().load(real_samm)


def by_clip(samples: list[dict]) -> dict[str, dict]:
    return {s["clip"]: s for s in samples}


def check_counts(samples: list[dict]) -> None:
    assert len(samples) == 159
    assert len({s["subject"] for s in samples}) == 29
    assert Counter(s["emotion"] for s in samples) == EMOTIONS
    assert len({s["sample_id"] for s in samples}) == 159


def comparable(sample: dict) -> dict:
    """A sample without what depends on the container (file name, sheet, row)."""
    return {k: v for k, v in sample.items() if k not in ("source_file", "source_sheet", "source_row")}


def write_xlsx(path: Path, rows: list[list], sheet: str = "MICRO_ONLY", first: str | None = None) -> Path:
    book = openpyxl.Workbook()
    if first is not None:
        book.active.title = first
        book.active.append(["nothing", "to", "see"])
        sheet_ = book.create_sheet(sheet)
    else:
        sheet_ = book.active
        sheet_.title = sheet
    for row in rows:
        sheet_.append(row)
    book.save(path)
    return path


SMALL = [HEADER, ["006", "006_1_2", 1, 5562, 5588, 5632, "=SUM(F2-D2)+1", "Micro - 1/2", "4+7", "Anger", 3, None]]


# --- conformance: the real v2 workbook ----------------------------------------------------------------------------


@pytest.mark.conformance
def test_real_counts(loaded):
    check_counts(loaded.samples)
    assert loaded.header == "SAMM micro FACS codes with emotion classes (sheet MICRO_ONLY, header row 14)"
    assert {(s["expression_type"], s["type_source"]) for s in loaded.samples} == {("micro", "annotation")}
    assert {s["fps"] for s in loaded.samples} == {200.0}
    assert all(s["frames_dir"] is None for s in loaded.samples)  # annotation-only: no media root


@pytest.mark.conformance
def test_real_first_row(loaded):
    row = by_clip(loaded.samples)["006_1_2"]
    assert (row["onset"], row["apex"], row["offset"]) == (5562, 5588, 5632)
    assert row["sample_id"] == "samm/006/006_1_2"
    assert (row["subject_raw"], row["subject"], row["person"]) == ("006", "samm/006", "samm/006")
    assert (row["source_file"], row["source_sheet"], row["source_row"]) == (
        "SAMM_Micro_FACS_Codes_v2.xlsx", "MICRO_ONLY", 15)
    assert (row["objective_class"], row["inducement_code"]) == ("3", "1")
    assert (row["emotion_raw"], row["emotion"], row["emotions"]) == ("Anger", "anger", ["anger"])
    assert row["aus"] == [4, 7] and row["video_id"] is None and row["errata"] == []
    assert by_clip(loaded.samples)["006_1_3"]["notes"] == "While blinking"
    assert "duration" not in row  # the Duration formula is not read


@pytest.mark.conformance
def test_real_errata(loaded):
    rows = by_clip(loaded.samples)
    assert rows["028_4_1"]["apex"] is None and rows["028_4_1"]["errata"] == ["samm:028_4_1:apex-after-offset"]
    assert (rows["028_4_1"]["onset"], rows["028_4_1"]["offset"]) == (1071, 1134)
    assert rows["032_3_1"]["apex"] is None and rows["032_3_1"]["errata"] == ["samm:032_3_1:apex-before-onset"]
    assert [s["clip"] for s in loaded.samples if s["errata"]] == ["028_4_1", "032_3_1"]
    noted = {(n.row, n.message) for n in loaded.notes if n.kind == "erratum"}
    assert noted == {(140, "samm:028_4_1:apex-after-offset"), (147, "samm:032_3_1:apex-before-onset")}


@pytest.mark.conformance
def test_real_au_cells(loaded):
    rows = {s["au_raw"]: s for s in loaded.samples}
    alt = rows["(R6 or R12)+R15"]
    assert alt["aus"] == [15]
    assert [(c["au"], c["side"], c["alternative"]) for c in alt["au_codes"]] == [
        (6, "R", True), (12, "R", True), (15, "R", False)]
    assert rows["15A+17"]["aus"] == [15, 17] and rows["15A+17"]["au_codes"][0]["intensity"] == "A"
    assert rows["ref(7B)+43"]["aus"] == [43] and rows["ref(7B)+43"]["au_codes"][0]["reference"]
    assert rows["12+15 "]["aus"] == [12, 15]  # trailing space kept in au_raw
    assert rows["R14+17+soft focus"]["au_free_text"] == ["soft focus"]
    single = by_clip(loaded.samples)["006_1_3"]
    assert (single["au_raw"], single["aus"]) == ("4", [4])  # an int cell
    free = [n for n in loaded.notes if n.kind == "free-text-au"]
    assert [(n.row, n.column) for n in free] == [(135, "Action Units")]


@pytest.mark.conformance
def test_header_in_row_one(real_rows, loaded, tmp_path):
    """The release without the preamble: same rows, header found in row 1, Duration formulas without cached values."""
    body = real_rows[13:]
    assert body[0] == HEADER
    for number, row in enumerate(body[1:], start=2):
        row[6] = f"=SUM(F{number}-D{number})+1"
    result = Loader().load(write_xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", body))
    check_counts(result.samples)
    assert by_clip(result.samples)["006_1_2"]["source_row"] == 2
    assert [comparable(s) for s in result.samples] == [comparable(s) for s in loaded.samples]
    assert not [n for n in result.notes if n.kind == "formula"]


@pytest.mark.conformance
def test_numeric_subjects_are_padded_from_the_filename(real_rows, loaded, tmp_path):
    body = [list(r) for r in real_rows[13:]]
    for row in body[1:]:
        row[0] = int(row[0])
    result = Loader().load(write_xlsx(tmp_path / "samm.xlsx", body))
    assert [s["sample_id"] for s in result.samples] == [s["sample_id"] for s in loaded.samples]
    assert by_clip(result.samples)["028_4_1"]["errata"] == ["samm:028_4_1:apex-after-offset"]
    assert [n.kind for n in result.notes].count("subject-padded") == 1


@pytest.mark.conformance
def test_csv_export(real_rows, loaded, tmp_path):
    path = tmp_path / "SAMM_Micro_FACS_Codes_v2.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["" if v is None else v for v in row] for row in real_rows])
    result = Loader().load(path)
    check_counts(result.samples)
    first = by_clip(result.samples)["006_1_2"]
    assert (first["source_sheet"], first["source_row"]) == (None, 15)
    assert [comparable(s) for s in result.samples] == [comparable(s) for s in loaded.samples]
    assert result.header == "SAMM micro FACS codes with emotion classes (CSV, header row 14)"


@pytest.mark.conformance
def test_dataset_root_resolves_media(real_samm, tmp_path):
    clip = tmp_path / "SAMM" / "006" / "006_1_2"
    clip.mkdir(parents=True)
    for frame in (5562, 5563):
        (clip / f"006_{frame:05d}.jpg").write_bytes(b"")
    shutil.copy(real_samm, tmp_path / real_samm.name)

    result = Loader().load(tmp_path)
    frames = {s["clip"]: s["frames_dir"] for s in result.samples}
    assert frames["006_1_2"] == str(clip)
    assert sum(v is not None for v in frames.values()) == 1
    missing = [n for n in result.notes if n.kind == "missing-media"]
    assert len(missing) == 158 and "samm/006/006_1_2" not in {n.sample_id for n in missing}
    assert by_clip(result.samples)["006_1_2"]["source_file"] == real_samm.name

    out = tmp_path / "corpus"
    built = build_corpus([Source("samm", tmp_path)], out)
    assert built.counts["samm"]["samples"] == 159 and built.counts["samm"]["with_errata"] == 2
    table = pq.read_table(out / "samples.parquet").to_pylist()
    assert {r["clip"]: r["frames_dir"] for r in table}["006_1_2"] == str(clip)
    assert not (out / "videos.parquet").exists()


@pytest.mark.conformance
def test_root_is_the_samm_folder(real_samm, tmp_path):
    clip = tmp_path / "SAMM" / "006" / "006_1_2"
    clip.mkdir(parents=True)
    shutil.copy(real_samm, tmp_path / "SAMM" / real_samm.name)
    result = Loader().load(tmp_path / "SAMM")
    assert by_clip(result.samples)["006_1_2"]["frames_dir"] == str(clip)


# --- sheets and bad input (synthetic, always run) -----------------------------------------------------------------


def test_micro_only_sheet_is_preferred(tmp_path):
    other = [HEADER, ["007", "007_1_1", 1, 10, 20, 30, None, "Micro - 1/2", "12", "Happiness", 1, None]]
    book = openpyxl.Workbook()
    book.active.title = "Copy"
    for row in other:
        book.active.append(row)
    micro = book.create_sheet("MICRO_ONLY")
    for row in SMALL:
        micro.append(row)
    book.save(tmp_path / "samm.xlsx")
    result = Loader().load(tmp_path / "samm.xlsx")
    assert [(s["sample_id"], s["source_sheet"]) for s in result.samples] == [("samm/006/006_1_2", "MICRO_ONLY")]


def test_first_matching_sheet_without_micro_only(tmp_path):
    result = Loader().load(write_xlsx(tmp_path / "samm.xlsx", SMALL, sheet="Sheet2", first="About"))
    assert [(s["sample_id"], s["source_sheet"], s["source_row"]) for s in result.samples] == [
        ("samm/006/006_1_2", "Sheet2", 2)]


def test_optional_columns_absent(tmp_path):
    """An older release without Micro, emotion and objective-class columns: micro by the sheet's construction."""
    header = ["Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units"]
    result = Loader().load(write_xlsx(tmp_path / "samm.xlsx", [header, ["006", "006_1_2", 1, 50, 100, "4+7"]]))
    [row] = result.samples
    assert (row["expression_type"], row["type_source"]) == ("micro", "dataset:all-micro")
    assert row["emotion"] is None and row["emotions"] == [] and row["objective_class"] is None
    assert "without" in result.header


def test_unknown_type_cell_is_reported(tmp_path):
    rows = [HEADER, ["006", "006_1_2", 1, 10, 20, 30, None, "Blink", "4", "Anger", 3, None]]
    result = Loader().load(write_xlsx(tmp_path / "samm.xlsx", rows))
    assert result.samples[0]["expression_type"] == "micro"
    [note] = [n for n in result.notes if n.kind == "unknown-type"]
    assert (note.row, note.column) == (2, "Micro")


def test_unreadable_formula_in_a_used_column_is_reported(tmp_path):
    """Duration formulas are ignored; a formula without a cached value where a frame belongs must not pass silently."""
    rows = [HEADER, ["006", "006_1_2", 1, "=VLOOKUP(1,A1:B2,2)", 20, 30, "=SUM(F2-D2)+1", "Micro - 1/2", "4", "Anger",
                     3, None]]
    result = Loader().load(write_xlsx(tmp_path / "samm.xlsx", rows))
    assert result.samples[0]["onset"] is None
    [note] = [n for n in result.notes if n.kind == "formula"]
    assert (note.row, note.column, note.sheet) == (2, "Onset Frame", "MICRO_ONLY")


def test_no_matching_sheet_names_the_file(tmp_path):
    path = write_xlsx(tmp_path / "samm.xlsx", [["a", "b"]], sheet="Other", first="About")
    with pytest.raises(InputError) as error:
        Loader().load(path)
    assert error.value.file == path and "no sheet has the expected header" in str(error.value)


def test_long_video_sheet_is_not_read_as_micro(tmp_path):
    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units",
              "Notes"]
    path = write_xlsx(tmp_path / "lv.xlsx", [header, ["006", "006_1_1", 1, 1, 2, 3, None, "Macro", "4", None]],
                      sheet="FACS_Movement_Only")
    with pytest.raises(InputError, match="columns are missing"):
        Loader().load(path)


def test_cli_missing_onset_column(tmp_path, capsys):
    header = [h for h in HEADER if h != "Onset Frame"]
    preamble = [["SAMM Dataset - Master FACS Codes"], [], ["Symbol Key:"]]
    path = write_xlsx(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx",
                      preamble + [header, ["006", "006_1_2", 1, 5588, 5632, None, "Micro - 1/2", "4+7", "Anger", 3]])
    out = tmp_path / "corpus"
    assert main(["build", "--source", f"samm={path}", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in err
    assert "sheet 'MICRO_ONLY'" in lines[0] and "row 4" in lines[0] and "onset" in lines[0]
    assert not out.exists()
