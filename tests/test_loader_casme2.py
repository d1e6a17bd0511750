"""CASME II: the real 2014-05-08 coding file, a 2019-07-01-style revision (recognised by header), a CSV export,
and media resolved from a dataset root in the native layout."""

from __future__ import annotations

import csv
from collections import Counter

import openpyxl
import pytest

from conftest import real_file
from mebench.loaders import get_loader

CODING = "casme2/CASME2-coding-20140508.xlsx"


@pytest.fixture(scope="module")
def real():
    path = real_file(CODING)
    return get_loader("casme2").load(path)


@pytest.mark.conformance
def test_counts_match_the_annotations_readme(real):
    rows = real.samples
    assert len(rows) == 255
    assert len({r["subject"] for r in rows}) == 26
    assert Counter(r["emotion"] for r in rows) == {
        "others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25, "sadness": 7, "fear": 2}
    assert len({r["sample_id"] for r in rows}) == 255
    assert all(r["expression_type"] == "micro" and r["fps"] == 200.0 for r in rows)
    assert real.header == "CASME II coding 2014-05-08"


@pytest.mark.conformance
def test_subjects_keep_leading_zero_and_provenance(real):
    first = real.samples[0]
    assert first["sample_id"] == "casme2/01/EP02_01f"
    assert (first["subject_raw"], first["subject"], first["person"]) == ("01", "casme2/01", "casme2/01")
    assert (first["source_file"], first["source_sheet"], first["source_row"]) == (
        "CASME2-coding-20140508.xlsx", "Sheet1", 2)
    assert (first["onset"], first["apex"], first["offset"]) == (46, 59, 86)


@pytest.mark.conformance
def test_au_cells(real):
    by_id = {r["sample_id"]: r for r in real.samples}
    row = by_id["casme2/01/EP19_05f"]
    assert row["au_raw"] == "4+L10" and row["aus"] == [4, 10]
    assert [(c["au"], c["side"]) for c in row["au_codes"]] == [(4, None), (10, "L")]
    assert by_id["casme2/01/EP02_01f"]["aus"] == [12]  # an int cell
    unknown = [r for r in real.samples if r["au_raw"] == "?"]
    assert unknown and all(r["aus"] == [] for r in unknown)


@pytest.mark.conformance
def test_apex_slash_is_an_erratum(real):
    row = next(r for r in real.samples if r["sample_id"] == "casme2/04/EP12_01f")
    assert row["apex"] is None and (row["onset"], row["offset"]) == (261, 321)
    assert row["errata"] == ["casme2:04/EP12_01f:apex-slash"]
    assert sum(1 for r in real.samples if r["errata"]) == 1


def _real_rows():
    book = openpyxl.load_workbook(real_file(CODING), data_only=True)
    return [list(r) for r in book["Sheet1"].iter_rows(values_only=True)]


@pytest.mark.conformance
def test_2019_revision_recognised_by_header_not_name(tmp_path):
    rows = _real_rows()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(rows[0] + ["Objective Class"])
    for row in rows[1:]:
        sheet.append(row + ["I"])
    path = tmp_path / "my_casme2_labels.xlsx"
    book.save(path)
    result = get_loader("casme2").load(path)
    assert result.header == "CASME II coding 2019-07-01"
    assert len(result.samples) == 255
    assert {r["objective_class"] for r in result.samples} == {"I"}


@pytest.mark.conformance
def test_csv_export_reads_the_same_rows(tmp_path, real):
    path = tmp_path / "casme2.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([["" if v is None else v for v in row] for row in _real_rows()])
    result = get_loader("casme2").load(path)
    keys = ("sample_id", "onset", "apex", "offset", "aus", "emotion", "errata", "source_row")
    assert [tuple(str(r[k]) for k in keys) for r in result.samples] == [
        tuple(str(r[k]) for k in keys) for r in real.samples]


@pytest.mark.conformance
def test_dataset_root_resolves_media(tmp_path):
    root = tmp_path / "CASME2"
    frames = root / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    frames.mkdir(parents=True)
    (frames / "img46.jpg").write_bytes(b"")
    (root / "CASME2-coding-20140508.xlsx").write_bytes(real_file(CODING).read_bytes())
    result = get_loader("casme2").load(root)
    by_id = {r["sample_id"]: r for r in result.samples}
    assert by_id["casme2/01/EP02_01f"]["frames_dir"] == str(frames)
    assert by_id["casme2/01/EP03_02"]["frames_dir"] is None
    missing = [n for n in result.notes if n.kind == "missing-media"]
    assert len(missing) == 254
