"""`mebench build`: the merged build of the real files (issue acceptance), atomic output, and bad input -> exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import openpyxl
import pyarrow.parquet as pq
import pytest

from conftest import REPO, assert_clean_failure, real_file
from mebench.cli import main
from mebench.schema import REQUIRED

FILES = {
    "casme2": "casme2/CASME2-coding-20140508.xlsx",
    "samm": "samm/SAMM_Micro_FACS_Codes_v2.xlsx",
    "casme-sq": "casme-sq/code_final.xlsx",
    "casmemg": "casmemg/380_sort.xlsx",
}


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "c"
    args = ["build", "--quiet", "--out", str(out)]
    for name, relative in FILES.items():
        args += ["--source", f"{name}={real_file(relative)}"]
    assert main(args) == 0
    return out


@pytest.mark.conformance
def test_merged_build_of_the_real_files(merged):
    table = pq.read_table(merged / "samples.parquet")
    for field in REQUIRED:
        assert table.schema.field(field.name).type == field.type, field.name
    rows = table.to_pylist()
    by_dataset = {d: [r for r in rows if r["dataset"] == d] for d in FILES}
    expected = {"casme2": (255, 26), "samm": (159, 29), "casme-sq": (357, 22), "casmemg": (380, 34)}
    for dataset, (n, subjects) in expected.items():
        assert len(by_dataset[dataset]) == n, dataset
        assert len({r["subject"] for r in by_dataset[dataset]}) == subjects, dataset
    assert len({r["sample_id"] for r in rows}) == len(rows)
    assert all(r["source_file"] and r["source_sheet"] and r["source_row"] for r in rows)
    sq = Counter(r["expression_type"] for r in by_dataset["casme-sq"])
    assert sq == {"macro": 300, "micro": 57}
    assert {r["type_source"] for r in by_dataset["casme-sq"]} == {"annotation"}
    samm = next(r for r in by_dataset["samm"] if r["clip"] == "006_1_2")
    assert (samm["onset"], samm["apex"], samm["offset"]) == (5562, 5588, 5632)
    emg = by_dataset["casmemg"]
    assert all(r["onset_s"] is not None and r["offset_s"] is not None for r in emg)
    assert all(r["emg_onset_s"] is not None for r in emg)  # both clocks kept
    assert sum(r["apex_s"] is None for r in emg) == 5


@pytest.mark.conformance
def test_corpus_json_and_report(merged):
    meta = json.loads((merged / "corpus.json").read_text())
    assert len(meta["fingerprint"]) == 64 and meta["shadow"] is False
    assert [s["name"] for s in meta["sources"]] == list(FILES)
    assert all(len(s["annotation_sha256"]) == 64 for s in meta["sources"])
    assert meta["counts"]["samm"]["samples"] == 159
    assert meta["errata_applied"]["casme-sq:offset-zero-missing"] == 44
    report = (merged / "build_report.md").read_text()
    assert "casme2:04/EP12_01f:apex-slash" in report
    assert not [p for p in merged.parent.iterdir() if p.name.startswith(".c.")]  # no temp folders left


@pytest.mark.conformance
def test_fingerprint_ignores_where_media_live_but_not_labels(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    src = f"casme2={real_file(FILES['casme2'])}"
    assert main(["build", "--quiet", "--source", src, "--out", str(a)]) == 0
    assert main(["build", "--quiet", "--source", src, "--out", str(b)]) == 0
    fa = json.loads((a / "corpus.json").read_text())["fingerprint"]
    assert fa == json.loads((b / "corpus.json").read_text())["fingerprint"]
    assert main(["build", "--quiet", "--source", src, "--out", str(a)]) == 0  # rebuilding over a corpus is fine


def test_missing_file(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme2={tmp_path / 'nope.xlsx'}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "nope.xlsx", "does not exist")


def test_unknown_loader(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme3={tmp_path}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "casme3", "known loaders")


def test_wrong_columns(tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active.append(["Subject", "Filename", "OnsetFrame", "Action Units", "Estimated Emotion"])
    book.active.append(["01", "EP01", 1, "4", "others"])
    book.save(tmp_path / "coding.xlsx")
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme2={tmp_path / 'coding.xlsx'}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "coding.xlsx", "Sheet1", "row 1", "apex")


def test_bad_cell_names_row_and_column(tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                        "Estimated Emotion"])
    book.active.append(["01", "EP01", None, 1, 5, 9, None, "4", "others"])
    book.active.append(["01", "EP02", None, "abc", 5, 9, None, "4", "others"])
    book.save(tmp_path / "coding.xlsx")
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme2={tmp_path / 'coding.xlsx'}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "coding.xlsx", "row 3", "'OnsetFrame'", "'abc'")


def test_corrupt_xlsx(tmp_path, capsys):
    (tmp_path / "coding.xlsx").write_bytes(b"not a workbook at all")
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme2={tmp_path / 'coding.xlsx'}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "coding.xlsx", "not a readable .xlsx")


def test_root_without_annotation_file(tmp_path, capsys):
    root = tmp_path / "CASME2"
    (root / "CASME2_RAW_selected").mkdir(parents=True)
    out = tmp_path / "c"
    assert main(["build", "--source", f"casme2={root}", "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, str(root), "no casme2 annotation file")


@pytest.mark.conformance
def test_failure_in_a_later_source_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "c"
    args = ["build", "--source", f"casme2={real_file(FILES['casme2'])}", "--source", f"samm={tmp_path / 'x.xlsx'}",
            "--out", str(out)]
    assert main(args) == 2
    assert_clean_failure(capsys, out, "x.xlsx")


def test_refuses_to_overwrite_a_folder_that_is_not_a_corpus(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("...")
    assert main(["build", "--source", f"casme2={tmp_path}", "--out", str(out)]) == 2
    assert (out / "thesis.tex").exists()
    assert "refusing to overwrite" in capsys.readouterr().err


def test_cli_process_exit_code_and_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mebench", "build", "--source", f"nosuch={tmp_path}", "--out",
                             str(tmp_path / "c")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "unknown loader 'nosuch'" in result.stderr


@pytest.mark.conformance
def test_non_editable_install_ships_loaders_protocols_and_data(tmp_path):
    """`pip install .` (not editable) must carry mebench.loaders, the errata table and the protocol specs."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import mebench, mebench.loaders.samm, mebench.protocols; from mebench.errata import load_errata; "
            "assert 'site' in mebench.__file__, mebench.__file__; assert load_errata(); print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "c"
    result = subprocess.run([sys.executable, "-m", "mebench", "build", "--source",
                             f"samm={real_file(FILES['samm'])}", "--out", str(out)], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (out / "samples.parquet").exists()


def test_media_paths_are_absolute_when_the_source_is_relative(tmp_path, monkeypatch):
    """A corpus is read from anywhere: `--source casme2=shadow/casme2` must not store cwd-relative media paths."""
    root = tmp_path / "data" / "CASME2"
    frames = root / "CASME2_RAW_selected" / "sub01" / "EP01"
    frames.mkdir(parents=True)
    (frames / "img1.jpg").write_bytes(b"")
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units",
                        "Estimated Emotion"])
    book.active.append(["01", "EP01", None, 1, 5, 9, None, "4", "others"])
    book.save(root / "CASME2-coding-20140508.xlsx")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--quiet", "--source", "casme2=data/CASME2", "--out", "c"]) == 0
    (row,) = pq.read_table(tmp_path / "c" / "samples.parquet").to_pylist()
    assert row["frames_dir"] == str(frames.resolve())
