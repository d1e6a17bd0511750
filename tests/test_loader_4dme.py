"""4DME (no public label file): a native-format label workbook written here (and its CSV export) with static AUs,
compound emotions, one-hot emotion columns, the rows 144/145 onset/offset swap and a trailing totals line; media in
the default layouts; bad input through the CLI."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from conftest import assert_clean_failure
from mebench.cli import main
from mebench.loaders import get_loader
from mebench.loaders.fourdme import split_emotions

HEADER = ["sub_ID'", "fold_name", "Onset", "Apex", "Offset", "Length", "AUs", "Emotion",
          "Positive", "Negative", "Surprise", "Repression", "Others", "AU12"]


def _row(sub, clip, onset, apex, offset, aus, emotion, onehot=(0, 0, 0, 0, 0)):
    length = None if not isinstance(onset, int) else offset - onset + 1
    return [sub, clip, onset, apex, offset, length, aus, emotion, *onehot, 0]


def label_rows() -> list[list]:
    """Excel rows 2..146: five interesting rows, filler up to row 143, the swapped rows 144/145, a totals line."""
    rows = [
        _row("S01", "S01_1st_001_01_1", 100, 110, 120, "AU12(k)+AU6", "Surprise+Positive", (1, 0, 1, 0, 0)),  # 2
        _row("S01", "S01_1st_002_01_1", 200, 230, 260, "AU4+AU7", "Negative", (0, 1, 0, 0, 0)),                # 3
        _row("S02", "S02_1st_003_01_1", 50, 55, 70, "AUR2+12(k)+45", "Others", (1, 0, 0, 0, 0)),               # 4
        _row("S02", "S02_1st_003_02_1", 500, 490, 480, "AU17", "Repression", (0, 0, 0, 1, 0)),                 # 5
        _row("S02", "S02_1st_004_01_1", 10, 12, 39, "AU14", "repression", (0, 0, 0, 1, 0)),                    # 6
    ]
    while len(rows) < 142:  # rows 7..143
        n = len(rows)
        rows.append(_row(f"S{3 + n % 7:02d}", f"S{3 + n % 7:02d}_fill_{n}", 10, 12, 20, "AU1", "Negative",
                         (0, 1, 0, 0, 0)))
    rows.append(_row("S10", "S10_1st_005_01_1", 350, 340, 330, "AU1+AU2", "Surprise", (0, 0, 1, 0, 0)))  # 144
    rows.append(_row("S10", "S10_1st_005_02_1", 420, 400, 390, "AU12", "Positive", (1, 0, 0, 0, 0)))     # 145
    rows.append([None, None, None, None, None, None, None, "total", 2, 139, 3, 2, 1, 0])                # 146
    return rows


def write_labels(path: Path, rows: list[list] | None = None, header: list[str] = HEADER) -> Path:
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in label_rows() if rows is None else rows:
        book.active.append(row)
    book.save(path)
    return path


def write_csv(path: Path, rows: list[list] | None = None, header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in r] for r in (label_rows() if rows is None else rows)])
    return path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = write_labels(tmp_path_factory.mktemp("4dme") / "4DME_Labelling_Micro_release v1.xlsx")
    return get_loader("4dme").load(path)


def by_clip(result) -> dict[str, dict]:
    return {r["clip"]: r for r in result.samples}


def test_rows_ids_and_provenance(loaded):
    rows = loaded.samples
    assert len(rows) == 144  # the totals line is skipped ...
    skipped = [n for n in loaded.notes if n.kind == "skipped-row"]
    assert [n.row for n in skipped] == [146]  # ... and reported
    assert len({r["sample_id"] for r in rows}) == 144
    first = rows[0]
    assert first["sample_id"] == "4dme/S01/S01_1st_001_01_1"
    assert (first["subject_raw"], first["subject"]) == ("S01", "4dme/S01")
    assert (first["source_sheet"], first["source_row"]) == ("Sheet", 2)
    assert all(r["fps"] == 60.0 and r["video_id"] is None for r in rows)
    assert "one-hot emotions" in loaded.header


def test_static_aus_and_compound_emotion(loaded):
    row = by_clip(loaded)["S01_1st_001_01_1"]
    assert row["au_raw"] == "AU12(k)+AU6"
    assert row["aus"] == [6, 12]  # static AUs count (4DME rule 7)
    assert [(c["au"], c["static"]) for c in row["au_codes"]] == [(12, True), (6, False)]
    assert row["emotion_raw"] == "Surprise+Positive"
    assert row["emotions"] == ["positive", "surprise"]
    assert row["emotion"] is None  # multi-label: no single emotion
    sided = by_clip(loaded)["S02_1st_003_01_1"]
    assert sided["aus"] == [2, 12, 45] and [c["side"] for c in sided["au_codes"]] == ["R", None, None]
    single = by_clip(loaded)["S01_1st_002_01_1"]
    assert (single["emotion"], single["emotions"]) == ("negative", ["negative"])
    assert by_clip(loaded)["S02_1st_004_01_1"]["emotion"] == "repression"  # canonical lowercase


def test_one_hot_columns_are_cross_checked(loaded):
    mismatches = [n for n in loaded.notes if n.kind == "emotion-mismatch"]
    assert [n.row for n in mismatches] == [4]  # 'Others' but the Positive column is marked
    assert by_clip(loaded)["S02_1st_003_01_1"]["emotion"] == "others"  # Emotion wins


def test_rows_144_145_swap_is_an_erratum(loaded):
    clips = by_clip(loaded)
    a, b = clips["S10_1st_005_01_1"], clips["S10_1st_005_02_1"]
    assert (a["source_row"], b["source_row"]) == (144, 145)
    assert (a["onset"], a["apex"], a["offset"]) == (330, 340, 350)
    assert (b["onset"], b["apex"], b["offset"]) == (390, 400, 420)
    assert a["errata"] == b["errata"] == ["4dme:rows-144-145-onset-offset-swapped"]
    # the same inversion on another row is NOT the erratum: the impossible fields are nulled, never guessed
    other = clips["S02_1st_003_02_1"]
    assert (other["onset"], other["apex"], other["offset"]) == (500, None, None)
    assert other["errata"] == ["auto:offset-out-of-range", "auto:apex-out-of-range"]
    assert Counter(e for r in loaded.samples for e in r["errata"])["4dme:rows-144-145-onset-offset-swapped"] == 2


def test_type_by_duration_at_60_fps(loaded):
    clips = by_clip(loaded)
    assert (clips["S01_1st_001_01_1"]["expression_type"], clips["S01_1st_001_01_1"]["type_source"]) == (
        "micro", "duration<0.5s")  # 21 frames = 0.35 s
    assert clips["S01_1st_002_01_1"]["expression_type"] == "macro"  # 61 frames = 1.02 s
    assert clips["S02_1st_004_01_1"]["expression_type"] == "macro"  # 30 frames = exactly 0.5 s: not < 0.5
    assert clips["S02_1st_003_02_1"]["expression_type"] is None  # offset nulled: no duration
    assert clips["S10_1st_005_01_1"]["expression_type"] == "micro"  # typed after the erratum (21 frames)


def test_type_column_wins(tmp_path):
    header = HEADER + ["Type"]
    rows = [label_rows()[0] + ["MaE"], label_rows()[1] + ["micro"]]
    result = get_loader("4dme").load(write_labels(tmp_path / "labels.xlsx", rows, header))
    assert [(r["expression_type"], r["type_source"]) for r in result.samples] == [
        ("macro", "annotation"), ("micro", "annotation")]


def test_csv_export_reads_the_same_rows(tmp_path, loaded):
    result = get_loader("4dme").load(write_csv(tmp_path / "4DME_labels.csv"))
    keys = ("sample_id", "onset", "apex", "offset", "aus", "emotion", "emotions", "expression_type", "errata",
            "source_row", "au_raw")
    assert [tuple(str(r[k]) for k in keys) for r in result.samples] == [
        tuple(str(r[k]) for k in keys) for r in loaded.samples]
    assert [n.row for n in result.notes if n.kind == "emotion-mismatch"] == [4]


def test_plain_headers_without_one_hot_columns(tmp_path):
    header = ["sub_ID", "fold_name", "Onset", "Apex", "Offset", "AUs", "Emotion"]
    rows = [["S01", "c1", 1, 5, 9, "AU12(k)+AU6", "Surprise+Positive"]]
    result = get_loader("4dme").load(write_labels(tmp_path / "l.xlsx", rows, header))
    assert result.samples[0]["emotions"] == ["positive", "surprise"] and not result.notes


def test_split_emotions():
    assert split_emotions("Surprise+Positive") == ["positive", "surprise"]
    assert split_emotions(" Others ") == ["others"]
    assert split_emotions("Other") == ["others"]
    assert split_emotions(None) == []
    assert split_emotions("Negative + Negative") == ["negative"]


def test_media_default_layouts(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    root = tmp_path / "4DME"
    clip, sub = "S01_1st_001_01_1", "S01"
    grey = root / "gray_micro" / clip
    mesh = root / "4D" / sub / clip
    rgb = root / "kinect_color" / sub / clip
    depth = root / "kinect_depth" / sub / clip
    for folder in (grey, mesh, rgb, depth):
        folder.mkdir(parents=True)
    trimesh.creation.box().export(mesh / "frame_0001.obj")
    write_labels(root / "4DME_Labelling_Micro_release v1.xlsx")
    result = get_loader("4dme").load(root)
    row = by_clip(result)[clip]
    assert (row["grey_path"], row["mesh_dir"], row["rgb_path"], row["depth_path"]) == (
        str(grey), str(mesh), str(rgb), str(depth))
    assert len(trimesh.load(Path(row["mesh_dir"]) / "frame_0001.obj").vertices) == 8
    other = by_clip(result)["S01_1st_002_01_1"]
    assert other["grey_path"] is None and other["mesh_dir"] is None
    assert row["source_file"] == "4DME_Labelling_Micro_release v1.xlsx"


def test_media_template_override(tmp_path):
    root = tmp_path / "4DME"
    (root / "Gray" / "S01" / "S01_1st_001_01_1").mkdir(parents=True)
    write_labels(root / "4DME_labels.xlsx")
    loader = get_loader("4dme", {"grey_path": "Gray/{subject_raw}/{clip}"})
    assert by_clip(loader.load(root))["S01_1st_001_01_1"]["grey_path"] == str(root / "Gray/S01/S01_1st_001_01_1")


def test_build_merges_into_a_corpus(tmp_path):
    out = tmp_path / "corpus"
    labels = write_labels(tmp_path / "4DME_labels.xlsx")
    assert main(["build", "--quiet", "--source", f"4dme={labels}", "--out", str(out)]) == 0
    import pyarrow.parquet as pq

    table = pq.read_table(out / "samples.parquet").to_pylist()
    assert len(table) == 144
    compound = next(r for r in table if r["clip"] == "S01_1st_001_01_1")
    assert compound["emotions"] == ["positive", "surprise"] and compound["emotion"] is None


# --- bad input through the CLI --------------------------------------------------------------------------------------


def test_text_in_onset(tmp_path, capsys):
    rows = label_rows()[:3]
    rows[2][2] = "abc"
    path = write_labels(tmp_path / "4DME_labels.xlsx", rows)
    out = tmp_path / "c"
    assert main(["build", "--source", f"4dme={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "4DME_labels.xlsx", "row 4", "'Onset'", "'abc'")


def test_unknown_type(tmp_path, capsys):
    rows = [label_rows()[0] + ["sometimes"]]
    path = write_csv(tmp_path / "4DME_labels.csv", rows, HEADER + ["Type"])
    out = tmp_path / "c"
    assert main(["build", "--source", f"4dme={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "4DME_labels.csv", "row 2", "'Type'", "sometimes")


def test_missing_emotion_column(tmp_path, capsys):
    header = ["sub_ID", "fold_name", "Onset", "Apex", "Offset", "AUs"]
    path = write_labels(tmp_path / "4DME_labels.xlsx", [["S01", "c1", 1, 5, 9, "AU1"]], header)
    out = tmp_path / "c"
    assert main(["build", "--source", f"4dme={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "4DME_labels.xlsx", "row 1", "emotion")


def test_root_without_label_file(tmp_path, capsys):
    root = tmp_path / "4DME"
    (root / "gray_micro").mkdir(parents=True)
    out = tmp_path / "c"
    assert main(["build", "--source", f"4dme={root}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, str(root), "4DME")
