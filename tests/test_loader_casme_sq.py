"""CAS(ME)^2: the real header-less code_final.xlsx with its naming sheets, a CSV export (with and without a naming
CSV beside it), media found by the video code's folder suffix (including the s19/23_0502 anomaly), and bad input
through the CLI."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import assert_clean_failure, real_file
from mebench.cli import main
from mebench.loaders import get_loader

CODE = "casme-sq/code_final.xlsx"


@pytest.fixture(scope="module")
def real():
    return get_loader("casme-sq").load(real_file(CODE))


def _sheet_rows(name: str) -> list[list]:
    book = openpyxl.load_workbook(real_file(CODE), data_only=True)
    return [list(r) for r in book[name].iter_rows(values_only=True)]


def _write_csv(path: Path, rows: list[list]) -> Path:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([["" if v is None else v for v in row] for row in rows])
    return path


@pytest.mark.conformance
def test_counts_match_the_annotations_readme(real):
    rows = real.samples
    assert len(rows) == 357
    assert len({r["subject"] for r in rows}) == 22
    assert Counter(r["expression_type"] for r in rows) == {"macro": 300, "micro": 57}
    assert {r["type_source"] for r in rows} == {"annotation"}
    assert Counter(r["emotion"] for r in rows) == {"negative": 126, "positive": 124, "others": 82, "surprise": 25}
    assert len({r["sample_id"] for r in rows}) == 357
    assert all(r["fps"] == 30.0 for r in rows)
    assert real.header == "CAS(ME)^2 code_final (sheet 'naming rule1', sheet 'naming rule2')"


@pytest.mark.conformance
def test_subjects_come_from_the_naming_sheets(real):
    first = real.samples[0]
    assert (first["subject_raw"], first["subject"], first["participant_index"]) == ("s15", "casme-sq/s15", 1)
    assert first["sample_id"] == "casme-sq/s15/anger1_1"
    assert first["video_id"] == "s15_0401"  # anger1 -> video code 0401 (naming rule2)
    assert (first["source_file"], first["source_sheet"], first["source_row"]) == ("code_final.xlsx",
                                                                                 "CASFEcode_final", 1)
    assert (first["onset"], first["apex"], first["offset"]) == (557, 572, 608)
    index_to_subject = {(r["participant_index"], r["subject_raw"]) for r in real.samples}
    assert len(index_to_subject) == 22 and (3, "s19") in index_to_subject and (22, "s40") in index_to_subject
    assert {r["video_id"].split("_")[1] for r in real.samples} == {
        "0101", "0102", "0401", "0402", "0502", "0503", "0505", "0507", "0508"}


@pytest.mark.conformance
def test_zero_offsets_and_apex_are_errata(real):
    rows = real.samples
    offset_null = [r for r in rows if r["offset"] is None]
    assert len(offset_null) == 44
    assert all("casme-sq:offset-zero-missing" in r["errata"] for r in offset_null)
    assert all(r["expression_type"] == "macro" for r in offset_null)
    apex_zero = [r for r in rows if "casme-sq:apex-zero-missing" in r["errata"]]
    assert len(apex_zero) == 1
    zero = apex_zero[0]
    assert zero["apex"] is None and zero["clip"] == "anger1_1" and zero["participant_index"] == 17
    # three rows have an apex after their offset: nulled by the automatic order rule, not dropped
    auto = sorted(r["sample_id"] for r in rows if "auto:apex-out-of-range" in r["errata"])
    assert auto == ["casme-sq/s27/disgust1_5", "casme-sq/s31/happy2_1", "casme-sq/s32/anger1_12"]


@pytest.mark.conformance
def test_au_cells_and_self_report(real):
    rows = real.samples
    null_aus = [r for r in rows if r["au_raw"] in ("NULL", "null")]
    assert len(null_aus) == 11 and all(r["aus"] == [] and r["au_codes"] == [] for r in null_aus)
    alternatives = [r for r in rows if r["au_raw"] == "10or11"]
    assert alternatives and all(r["aus"] == [] for r in alternatives)
    assert [(c["au"], c["alternative"]) for c in alternatives[0]["au_codes"]] == [(10, True), (11, True)]
    comma = next(r for r in rows if r["au_raw"] == "1+2+25,24")
    assert comma["aus"] == [1, 2, 24, 25]
    assert sum(r["emotion_self_report"] == "happyiness" for r in rows) == 1  # the typo is kept as written


@pytest.mark.conformance
def test_csv_export_with_naming_csv_beside_it(tmp_path, real):
    path = _write_csv(tmp_path / "code_final.csv", _sheet_rows("CASFEcode_final"))
    _write_csv(tmp_path / "naming rule1.csv", _sheet_rows("naming rule1"))
    _write_csv(tmp_path / "naming rule2.csv", _sheet_rows("naming rule2"))
    result = get_loader("casme-sq").load(path)
    keys = ("sample_id", "video_id", "onset", "apex", "offset", "aus", "emotion", "expression_type", "errata",
            "source_row", "participant_index", "au_raw")
    assert [tuple(str(r[k]) for k in keys) for r in result.samples] == [
        tuple(str(r[k]) for k in keys) for r in real.samples]
    assert "naming rule1.csv" in result.header
    assert {r["source_sheet"] for r in result.samples} == {None}


@pytest.mark.conformance
def test_csv_export_alone_uses_the_built_in_release_table(tmp_path, real):
    path = _write_csv(tmp_path / "code_final.csv", _sheet_rows("CASFEcode_final"))
    result = get_loader("casme-sq").load(path)
    assert [r["sample_id"] for r in result.samples] == [r["sample_id"] for r in real.samples]
    assert [r["video_id"] for r in result.samples] == [r["video_id"] for r in real.samples]
    assert sum(n.kind == "naming-fallback" for n in result.notes) == 2


def test_unknown_participant_keeps_the_index(tmp_path):
    path = _write_csv(tmp_path / "code_final.csv", [
        [1, "disgust1_1", 10, 12, 20, "4", "negative", "micro-expression", "disgust"],
        [99, "happy9_1", 10, 12, 40, "12", "positive", "macro-expression", "happiness"],
    ])
    result = get_loader("casme-sq").load(path)
    assert [(r["subject_raw"], r["video_id"]) for r in result.samples] == [("s15", "s15_0101"), ("99", None)]
    kinds = Counter(n.kind for n in result.notes)
    assert kinds["unknown-subject"] == 1 and kinds["unknown-video"] == 1


def _dataset_root(tmp_path: Path) -> Path:
    """A CAS(ME)^2 root with the real workbook and a few frame folders in the release layout."""
    root = tmp_path / "CASME_sq"
    (root / "rawpic").mkdir(parents=True)
    for folder, frames in (("s15/15_0401girlcrashing", 3), ("s19/23_0502funnyerrors", 2),
                           ("s15/15_0503unnyfarting", 1), ("s19/19_0402beatingpregnantwoman", 1)):
        path = root / "rawpic" / folder
        path.mkdir(parents=True)
        for n in range(1, frames + 1):
            (path / f"img{n}.jpg").write_bytes(b"")
    (root / "rawvideo" / "s15").mkdir(parents=True)
    (root / "rawvideo" / "s15" / "15_0401girlcrashing.avi").write_bytes(b"")
    (root / "code_final.xlsx").write_bytes(real_file(CODE).read_bytes())
    return root


@pytest.mark.conformance
def test_media_found_by_video_code_suffix(tmp_path):
    root = _dataset_root(tmp_path)
    result = get_loader("casme-sq").load(root)
    by_video = {}
    for row in result.samples:
        by_video.setdefault(row["video_id"], set()).add((row["frames_dir"], row["video_path"]))
    raw = root / "rawpic"
    assert by_video["s15_0401"] == {(str(raw / "s15/15_0401girlcrashing"),
                                     str(root / "rawvideo/s15/15_0401girlcrashing.avi"))}
    # the anomaly: subject 23's happy1 video is filed under s19; it is found by its own name, for s23
    assert by_video["s23_0502"] == {(str(raw / "s19/23_0502funnyerrors"), None)}
    assert "s19_0502" not in by_video  # s19 has no interval in that video
    assert by_video["s19_0402"] == {(str(raw / "s19/19_0402beatingpregnantwoman"), None)}
    assert by_video["s15_0503"] == {(str(raw / "s15/15_0503unnyfarting"), None)}  # the misspelled suffix
    assert by_video["s16_0101"] == {(None, None)}
    videos = {v["video_id"]: v for v in result.videos}
    assert len(videos) == len(by_video)
    assert videos["s15_0401"]["n_frames"] == 3 and videos["s23_0502"]["n_frames"] == 2
    assert videos["s16_0101"]["n_frames"] is None and videos["s16_0101"]["frames_dir"] is None
    assert videos["s15_0401"]["subject"] == "casme-sq/s15" and videos["s15_0401"]["fps"] == 30.0
    # intervals past the end of a (here tiny) frame folder are reported
    assert any(n.kind == "frame-beyond-video" for n in result.notes)


@pytest.mark.conformance
def test_media_template_override(tmp_path):
    root = _dataset_root(tmp_path)
    (root / "rawpic").rename(root / "frames")
    loader = get_loader("casme-sq", {"frames_dir": "frames/*/{subject_number}_{video_code}*"})
    rows = loader.load(root).samples
    found = {r["video_id"]: r["frames_dir"] for r in rows if r["frames_dir"]}
    assert found == {"s15_0401": str(root / "frames/s15/15_0401girlcrashing"),
                     "s15_0503": str(root / "frames/s15/15_0503unnyfarting"),
                     "s19_0402": str(root / "frames/s19/19_0402beatingpregnantwoman"),
                     "s23_0502": str(root / "frames/s19/23_0502funnyerrors")}


@pytest.mark.conformance
def test_build_writes_videos_table(tmp_path):
    out = tmp_path / "corpus"
    assert main(["build", "--quiet", "--source", f"casme-sq={_dataset_root(tmp_path)}", "--out", str(out)]) == 0
    videos = pq.read_table(out / "videos.parquet").to_pylist()
    assert len(videos) == len({v["video_id"] for v in videos}) and len(videos) > 9
    samples = pq.read_table(out / "samples.parquet")
    assert samples.schema.field("participant_index").type == pa.int64()
    assert samples.num_rows == 357


# --- bad input through the CLI --------------------------------------------------------------------------------------


def test_root_without_code_final(tmp_path, capsys):
    root = tmp_path / "CASME_sq"
    (root / "rawpic" / "s15").mkdir(parents=True)
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme-sq={root}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, str(root), "code_final.xlsx")


def test_bad_type_cell_names_row_and_column(tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.title = "CASFEcode_final"
    book.active.append([1, "anger1_1", 557, 572, 608, "4", "negative", "macro-expression", "anger"])
    book.active.append([1, "anger1_2", 600, 610, 620, "4", "negative", "mega-expression", "anger"])
    book.save(tmp_path / "code_final.xlsx")
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme-sq={tmp_path / 'code_final.xlsx'}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "code_final.xlsx", "CASFEcode_final", "row 2", "column 8", "mega-expression")


def test_bad_frame_cell_names_row_and_column(tmp_path, capsys):
    path = _write_csv(tmp_path / "code_final.csv", [
        [1, "anger1_1", 557, 572, 608, "4", "negative", "macro-expression", "anger"],
        [1, "anger1_2", 600, "abc", 620, "4", "negative", "macro-expression", "anger"],
    ])
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme-sq={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "code_final.csv", "row 2", "column 4", "'abc'")


def test_conflicting_naming_sheet(tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.title = "CASFEcode_final"
    book.active.append([1, "anger1_1", 557, 572, 608, "4", "negative", "macro-expression", "anger"])
    naming = book.create_sheet("naming rule1")
    naming.append([15, "s15", 1])
    naming.append([16, "s16", 1])
    book.save(tmp_path / "code_final.xlsx")
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme-sq={tmp_path / 'code_final.xlsx'}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "naming rule1", "row 2", "participant 1")
