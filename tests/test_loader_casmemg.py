"""CASMEMG: the real 380_sort.xlsx (seconds on two clocks, formula cells, empty apexes), type by duration or by an
optional coding file, EMG recordings (.mat numeric, .mat MATLAB table, CSV) into the `emg` table, and bad input
through the CLI."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import assert_clean_failure, real_file
from mebench.cli import main
from mebench.errors import InputError
from mebench.loaders import get_loader
from mebench.loaders.casmemg import HEAD_ROWS, read_emg, write_emg_file

SORT = "casmemg/380_sort.xlsx"
HEADER = ["sub", "video", "video_onset", "video_apex", "video_offset", "channel", "emg_onset", "emg_apex",
          "emg_offset"]


@pytest.fixture(scope="module")
def real():
    return get_loader("casmemg").load(real_file(SORT))


def _write_sheet(path: Path, rows: list[list], header: list[str] = HEADER) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


SMALL = [
    [1, 1, 9.3, 9.4, 9.7, 2, 6.6, 6.7, 6.9],       # 0.4 s: micro
    [1, 1, 43.5, 43.7, 44.2, 2, 40.8, 40.9, 41.5],  # 0.7 s: macro
    [2, 3, 41.0, None, 41.3, 6, 38.4, 39.8, 40.4],  # no video apex
]


@pytest.mark.conformance
def test_counts_and_clocks(real):
    rows = real.samples
    assert len(rows) == 380
    assert len({r["subject"] for r in rows}) == 34
    assert len({r["sample_id"] for r in rows}) == 380
    assert all(r["onset_s"] is not None and r["offset_s"] is not None for r in rows)
    assert all(r["onset"] is None and r["apex"] is None and r["offset"] is None for r in rows)  # no frame numbers
    assert all(r["fps"] == 30.0 for r in rows)
    assert sum(r["apex_s"] is None for r in rows) == 5
    # one emg_apex cell is empty; two more are impossible (outside their interval) and nulled by the order rule
    empty = [r for r in rows if r["emg_apex_s"] is None and not r["errata"]]
    assert len(empty) == 1 and empty[0]["source_row"] == 69
    auto = {r["source_row"]: r for r in rows if "auto:emg_apex-out-of-range" in r["errata"]}
    assert sorted(auto) == [99, 264] and all(r["emg_apex_s"] is None for r in auto.values())
    assert sum(r["emg_apex_s"] is None for r in rows) == 3
    assert Counter(r["emg_channel"] for r in rows) == {2: 109, 6: 105, 7: 98, 1: 27, 3: 24, 5: 9, 4: 8}


@pytest.mark.conformance
def test_formula_cells_and_ids(real):
    row6 = next(r for r in real.samples if r["source_row"] == 6)
    assert row6["emg_onset_s"] == pytest.approx(62.16, abs=1e-9)  # '=1.036*60'
    assert row6["emg_offset_s"] == pytest.approx(1.0591 * 60, abs=1e-9)
    assert (row6["subject_raw"], row6["clip"], row6["video_id"]) == ("1", "9", "01/9")
    assert row6["sample_id"] == "casmemg/1/9#2"
    assert row6["onset_s"] == pytest.approx(68.80054)
    first = real.samples[0]
    assert first["sample_id"] == "casmemg/1/1#1"
    assert (first["source_file"], first["source_sheet"], first["source_row"]) == ("380_sort.xlsx", "Sheet1", 2)


@pytest.mark.conformance
def test_type_by_duration_on_the_video_clock(real):
    rows = real.samples
    assert {r["type_source"] for r in rows} == {"duration<0.5s"}
    types = Counter(r["expression_type"] for r in rows)
    assert types == {"micro": 210, "macro": 170}  # seed 001 reports 233 ME / 147 MaE by coding: not forced
    for row in rows:
        assert row["expression_type"] == ("micro" if row["offset_s"] - row["onset_s"] < 0.5 else "macro")
    assert all(r["aus"] == [] and r["emotion"] is None for r in rows)
    assert real.header == "CASMEMG timing sheet (no coding file: type by duration)"


def test_csv_export(tmp_path):
    path = tmp_path / "380_sort.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER] + [["" if v is None else v for v in r] for r in SMALL])
    rows = get_loader("casmemg").load(path).samples
    assert [r["sample_id"] for r in rows] == ["casmemg/1/1#1", "casmemg/1/1#2", "casmemg/2/3"]
    assert [r["expression_type"] for r in rows] == ["micro", "macro", "micro"]
    assert rows[2]["apex_s"] is None and rows[2]["emg_apex_s"] == 39.8 and rows[2]["emg_channel"] == 6


def test_formula_without_cached_value_is_evaluated(tmp_path):
    rows = [list(r) for r in SMALL]
    rows[0][6:9] = ["=0.11*60", "=0.1117*60", "=0.115*60"]  # openpyxl saves no cached values
    result = get_loader("casmemg").load(_write_sheet(tmp_path / "380_sort.xlsx", rows))
    assert result.samples[0]["emg_onset_s"] == pytest.approx(6.6, abs=1e-9)
    assert any(n.kind == "formula" for n in result.notes)


def test_coding_file_is_merged_by_order(tmp_path):
    root = tmp_path / "CASMEMG"
    root.mkdir()
    _write_sheet(root / "380_sort.xlsx", SMALL)
    coding = openpyxl.Workbook()
    coding.active.append(["Subject", "Video", "Action Units", "Emotion", "Type", "video_onset"])
    coding.active.append([1, 1, "4+7", "Anger", "MaE", 9.3])   # coders disagree with the 0.4 s duration
    coding.active.append([1, 1, "12", "Happiness", "ME", 43.5])
    coding.active.append([2, 3, "1+2", "Surprise", "ME", 41.0])
    coding.active.append([9, 9, "1", "Surprise", "ME", 1.0])   # matches no timing row
    coding.save(root / "CASMEMG_coding.xlsx")
    result = get_loader("casmemg").load(root)
    rows = result.samples
    assert [(r["expression_type"], r["type_source"]) for r in rows] == [
        ("macro", "annotation"), ("micro", "annotation"), ("micro", "annotation")]
    assert [r["aus"] for r in rows] == [[4, 7], [12], [1, 2]]
    assert [r["emotion"] for r in rows] == ["anger", "happiness", "surprise"]
    assert "CASMEMG_coding.xlsx" in result.header
    assert [n.kind for n in result.notes if n.kind.startswith("coding-")] == ["coding-unmatched"]


def test_coding_file_with_explicit_order_and_mismatch(tmp_path):
    root = tmp_path / "CASMEMG"
    root.mkdir()
    _write_sheet(root / "380_sort.xlsx", SMALL)
    coding = openpyxl.Workbook()
    coding.active.append(["sub", "video", "order", "AUs", "video_onset"])
    coding.active.append([1, 1, 2, "12", 43.5])
    coding.active.append([1, 1, 1, "4", 99.0])  # onset disagrees: merged by order, reported
    coding.save(root / "casmemg_coding.xlsx")
    result = get_loader("casmemg").load(root)
    rows = result.samples
    assert [r["aus"] for r in rows] == [[4], [12], []]
    assert [r["type_source"] for r in rows] == ["duration<0.5s"] * 3  # no type column: duration rule still
    kinds = Counter(n.kind for n in result.notes)
    assert kinds["coding-mismatch"] == 1 and kinds["coding-missing"] == 1


# --- EMG recordings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,table", [("1.mat", False), ("1.mat", True), ("1.csv", False)])
def test_read_emg_applies_the_official_preprocessing(tmp_path, name, table):
    matrix = write_emg_file(tmp_path / name, n_samples=500, marker_gaps=7, table=table)
    recording = read_emg(tmp_path / name)
    expected = matrix[HEAD_ROWS + 7:, :8].astype(np.float32)
    assert recording.channels.shape == (500 - HEAD_ROWS - 7, 8)
    assert recording.dropped_marker_rows == 7
    np.testing.assert_allclose(recording.channels, expected, rtol=1e-6)
    np.testing.assert_allclose(recording.time, matrix[HEAD_ROWS + 7:, 9])


def test_read_emg_rejects_bad_files(tmp_path):
    (tmp_path / "broken.mat").write_bytes(b"MATLAB garbage")
    with pytest.raises(InputError, match="broken.mat"):
        read_emg(tmp_path / "broken.mat")
    np.savetxt(tmp_path / "narrow.csv", np.zeros((300, 3)), delimiter=",")
    with pytest.raises(InputError, match="at least 8 columns"):
        read_emg(tmp_path / "narrow.csv")


def _emg_root(tmp_path: Path) -> Path:
    root = tmp_path / "CASMEMG"
    root.mkdir()
    _write_sheet(root / "380_sort.xlsx", SMALL)
    write_emg_file(root / "01" / "1.mat", n_samples=600, marker_gaps=3, table=True)
    write_emg_file(root / "02" / "3.csv", n_samples=450, seed=1)
    (root / "01" / "1.mp4").write_bytes(b"")
    return root


def test_media_and_emg_table(tmp_path):
    root = _emg_root(tmp_path)
    result = get_loader("casmemg").load(root)
    rows = result.samples
    assert [r["emg_path"] for r in rows] == [str(root / "01/1.mat")] * 2 + [str(root / "02/3.csv")]
    assert [r["video_path"] for r in rows] == [str(root / "01/1.mp4")] * 2 + [None]
    emg = result.tables["emg"].to_pylist()
    assert [(e["recording_id"], e["video_id"], e["n_samples"]) for e in emg] == [
        ("casmemg/01/1", "01/1", 600 - HEAD_ROWS - 3), ("casmemg/02/3", "02/3", 450 - HEAD_ROWS)]
    assert all(e["sampling_rate"] == 1000.0 and len(e["ch8"]) == e["n_samples"] for e in emg)
    assert [e["start_s"] for e in emg] == [0.2, 0.2] and [e["dropped_marker_rows"] for e in emg] == [3, 0]
    assert result.tables["emg"].schema.field("ch1").type == pa.list_(pa.float32())
    assert [v["video_id"] for v in result.videos] == ["01/1", "02/3"]


def test_media_template_override_with_video_field(tmp_path):
    root = _emg_root(tmp_path)
    (root / "01").rename(root / "EMG_raw")
    loader = get_loader("casmemg", {"emg_path": "EMG_raw/{video}.mat"})
    rows = loader.load(root).samples
    assert rows[0]["emg_path"] == str(root / "EMG_raw/1.mat") and rows[2]["emg_path"] is None


def test_build_writes_the_emg_table(tmp_path):
    out = tmp_path / "corpus"
    assert main(["build", "--quiet", "--source", f"casmemg={_emg_root(tmp_path)}", "--out", str(out)]) == 0
    emg = pq.read_table(out / "emg.parquet")
    assert emg.num_rows == 2 and emg.schema.metadata[b"sampling_rate_hz"] == b"1000.0"
    samples = pq.read_table(out / "samples.parquet")
    assert samples.schema.field("emg_onset_s").type == pa.float64()
    assert samples.schema.field("emg_channel").type == pa.int64()


# --- bad input through the CLI --------------------------------------------------------------------------------------


def test_text_in_video_onset(tmp_path, capsys):
    rows = [list(r) for r in SMALL]
    rows[1][2] = "abc"
    path = _write_sheet(tmp_path / "380_sort.xlsx", rows)
    out = tmp_path / "c"
    assert main(["build", "--source", f"casmemg={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "380_sort.xlsx", "Sheet1", "row 3", "'video_onset'", "'abc'")


def test_text_in_emg_onset(tmp_path, capsys):
    rows = [list(r) for r in SMALL]
    rows[2][6] = "1:02.3"
    path = _write_sheet(tmp_path / "380_sort.xlsx", rows)
    out = tmp_path / "c"
    assert main(["build", "--source", f"casmemg={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "row 4", "'emg_onset'", "1:02.3")


def test_bad_channel(tmp_path, capsys):
    rows = [list(r) for r in SMALL]
    rows[0][5] = 12
    path = _write_sheet(tmp_path / "380_sort.xlsx", rows)
    out = tmp_path / "c"
    assert main(["build", "--source", f"casmemg={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "row 2", "'channel'", "1-8")


def test_broken_emg_file_fails_the_build(tmp_path, capsys):
    root = _emg_root(tmp_path)
    (root / "02" / "3.csv").write_text("a,b\nx,y\n")
    out = tmp_path / "c"
    assert main(["build", "--source", f"casmemg={root}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "3.csv")


def test_missing_columns(tmp_path, capsys):
    path = _write_sheet(tmp_path / "380_sort.xlsx", [[1, 1, 9.3]], header=["sub", "video", "video_onset"])
    out = tmp_path / "c"
    assert main(["build", "--source", f"casmemg={path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "380_sort.xlsx", "video_offset")
