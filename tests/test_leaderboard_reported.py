"""Reported rows (numbers printed by the seed papers): transcribed cell by cell, mapped to shipped protocols, with
citations; rendered in their own 'reported' section of every format, never as reproduced results.

Where ../shared/seeds is present, every printed cell is checked against the paper's own table text."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from mebench.cli import main
from mebench.leaderboard.reported import load_reported, reported_files, reported_papers
from mebench.leaderboard.table import lookup
from mebench.protocol import load_protocol, protocol_ids

REPO = Path(__file__).resolve().parents[1]
EXPECTED_ROWS = {"seed001-li-casmemg.json": 1, "seed002-he2023-ecai.json": 7, "seed003-ruan2022-mm.json": 48,
                 "seed004-li2022-4dme.json": 15}


def seeds_root() -> Path:
    return Path(os.environ.get("MEBENCH_SEEDS", REPO.parent / "shared" / "seeds"))


def test_one_file_per_paper_with_the_expected_rows():
    assert reported_files() == sorted(EXPECTED_ROWS)
    rows = load_reported()
    for name, n in EXPECTED_ROWS.items():
        assert sum(1 for r in rows if r.file == name) == n, name
    assert len({r.id for r in rows}) == len(rows)


def test_rows_map_to_shipped_protocols_and_carry_citations():
    shipped = set(protocol_ids())
    for row in load_reported():
        assert row.protocol in shipped, row.id
        assert row["task"] == load_protocol(row.protocol).task or (
            row["task"] in ("multilabel", "au-detection") and load_protocol(row.protocol).is_multilabel), row.id
        assert row["protocol_match"] in ("same", "closest")
        assert row["protocol_note"], row.id
        c = row.citation
        assert c["authors"] and c["title"] and re.match(r"^Tables? \d", c["table"]), row.id
        assert "venue" in c and "year" in c
        assert row["corpus"]["real"] is True and row["corpus"]["datasets"] and row["corpus"]["version"]
        assert set(row["corpus"]["datasets"]) <= set(load_protocol(row.protocol).datasets)


def _as_decimal(text: str) -> Decimal:
    return Decimal(text.strip().rstrip("s"))


def test_shown_cells_are_the_metrics_with_the_papers_digits():
    for row in load_reported():
        shown = row["shown"]
        assert shown, row.id
        for key, text in shown.items():
            value = lookup(row["metrics"], key)
            assert value is not None, (row.id, key)
            assert Decimal(repr(value)) == _as_decimal(text), (row.id, key, value, text)
        headline = load_protocol(row.protocol).metrics.main
        assert lookup(row["metrics"], headline) is not None, (row.id, headline)  # every row has the main metric


def test_printed_units_conversion():
    row = next(r for r in load_reported() if r.id == "li2022-table-5-4dme-5fold-au8-lbp-top")
    assert row["printed"]["Accuracy (%) AU45"] == "79.40" and row["metrics"]["per_label"]["AU45"]["accuracy"] == 0.794
    assert row["metrics"]["f1"] == 0.4938 and row["metrics"]["accuracy"] == 0.7218
    emg = next(r for r in load_reported() if r.protocol == "casmemg-emg-interval")
    assert emg["metrics"] == {"n": 380, "n_nan": 8, "mean_iou": 0.847, "p_iou_gt_0.5": 0.953, "onset_mae": 0.206,
                              "onset_se": 0.005, "onset_rmse": 0.23, "offset_mae": 0.203, "offset_se": 0.012,
                              "offset_rmse": 0.309}


def test_seed002_table3_is_transcribed_as_printed_with_the_swap_noted():
    row = next(r for r in load_reported() if r.id == "he2023-t3-t5-casme-sq-spotting-au-prototype")
    m = row["metrics"]
    assert (m["micro"]["precision"], m["micro"]["recall"], m["micro"]["f1"]) == (0.1754, 0.7692, 0.2857)
    assert (m["micro"]["tp"], m["micro"]["fp"], m["micro"]["fn"]) == (10, 3, 47)
    assert (m["macro"]["precision"], m["macro"]["recall"], m["macro"]["tp"], m["macro"]["fp"]) == (0.3766, 0.5113,
                                                                                                    113, 94)
    assert (m["overall"]["precision"], m["overall"]["recall"], m["overall"]["fp"]) == (0.3445, 0.5256, 101)
    assert m["metrics_at_iou"]["0.3"]["overall"]["f1"] == 0.5245
    notes = " ".join(row.notes)
    assert "swapped" in notes and "10/57" in notes and "do not reproduce" in notes
    assert abs(10 / 57 - 0.1754) < 1e-4 and abs(10 / 13 - 0.7692) < 1e-4  # what the note says


def _seed_lines(name: str) -> list[list[str]]:
    path = seeds_root() / name
    if not path.exists():
        pytest.skip(f"seed paper {path} is absent (set MEBENCH_SEEDS to the shared seeds folder)")
    return [[c.strip() for c in re.sub(r"</?b>", "", line).split("\t")]
            for line in path.read_text(encoding="utf-8").splitlines()]


def _line_with(lines: list[list[str]], *cells: str) -> bool:
    """Some line of the paper holds these cells, in this order, contiguous."""
    n = len(cells)
    return any(list(cells) == line[i:i + n] for line in lines for i in range(len(line) - n + 1))


def test_seed003_cells_match_the_paper():
    lines = _seed_lines("003_d71d348c605e9db6.txt")
    for row in load_reported():
        if row.file != "seed003-ruan2022-mm.json":
            continue
        p = row["printed"]
        name = row["method"].replace("Ruan et al. ablation: ", "").replace("Ruan et al. (ours)", "ours")
        ref = re.match(r"^\[(\d+)\]", row.get("method_source") or "")
        label = f"{name} [{ref.group(1)}]" if ref else name
        cells = (p["UAR"], p["Acc"], p["UF1"]) if "UAR" in p else (p["Acc"], p["UF1"])
        assert any(line and line[0] == label and _line_with([line], *cells) for line in lines), (row.id, cells)


def test_seed004_cells_match_the_paper():
    lines = _seed_lines("004_afc1cfcc0110df05.txt")
    for row in load_reported():
        if row.file != "seed004-li2022-4dme.json":
            continue
        p = row["printed"]
        method = row["method"].replace("CCDN, ", "").replace(" view", "")
        labels = [k[len("F1-score "):] for k in p if k.startswith("F1-score ")]
        f1 = [p[f"F1-score {lab}"] for lab in labels]
        acc = [p[f"Accuracy (%) {lab}"] for lab in labels]
        assert _line_with(lines, method, *f1), (row.id, f1)
        assert _line_with(lines, method, *acc), (row.id, acc)


def test_seed002_and_seed001_cells_match_the_paper():
    lines = _seed_lines("002_16dc711e2ddda0a2.txt")
    rows = [r for r in load_reported() if r.file == "seed002-he2023-ecai.json"]
    main_row = rows[0]["printed"]
    for key in ("Total number", "TP", "FP", "FN", "Precision", "Recall", "F1-score"):
        parts = [main_row[f"Table 3 {key} ({p})"] for p in ("Macro-expression", "Micro-expression", "overall result")]
        assert _line_with(lines, key, *parts), key
    for k in ("0.5", "0.4", "0.3"):
        assert _line_with(lines, k, *(main_row[f"Table 4 k={k} {m}"] for m in ("Precision", "Recall", "F1-score")))
    for row in rows[1:]:
        p = row["printed"]
        author = row["method"].split(" et al.")[0]
        ref = re.match(r"^\[(\d+)\]", row["method_source"]).group(1)
        assert _line_with(lines, f"{author} [{ref}]", p["Macro-expression"], p["Micro-expression"],
                          p["overall result"]), row.id
    text = (seeds_root() / "001_1c8efc90ed16e190.txt").read_text(encoding="utf-8")
    table = text[text.index("TABLE 7: EMG-based"):][:600]
    emg = next(r for r in load_reported() if r.file == "seed001-li-casmemg.json")["printed"]
    for value in emg.values():
        assert value in table, value


def test_reported_rows_render_in_their_own_section_with_citations(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(out), "--no-figures"]) == 0
    for pid in {r.protocol for r in load_reported()}:
        rows = load_reported(pid)
        md = (out / "tables" / f"{pid}.md").read_text()
        reported_at = md.index("## Reported in papers: numbers printed by the papers, NOT reproduced by mebench")
        assert md.index("## Results on the real datasets") < md.index("## SHADOW corpus") < reported_at
        before, after = md[:reported_at], md[reported_at:]
        for row in rows:
            assert f"| {row['method']} | reported |" in after, row.id
            assert f"| {row['method']} |" not in before, row.id
        assert not (out / "tables" / f"{pid}.real.csv").exists()
        table = list(csv.DictReader(io.StringIO((out / "tables" / f"{pid}.reported.csv").read_text())))
        assert {r["row_id"] for r in table} == {r.id for r in rows}
        assert all(r["kind"] == "reported" and r["section"] == "reported" and r["citation"] and r["table"]
                   for r in table)
        tex = (out / "tables" / f"{pid}.reported.tex").read_text()
        assert "numbers REPORTED in papers, not reproduced by mebench" in tex
        html = (out / "site" / f"{pid}.html").read_text()
        section = html[html.index('<section id="reported"'):]
        assert "Reported, not reproduced." in section
        for row in rows:
            assert f'data-row-id="{row.id}" data-section="reported"' in section
            assert row.citation["title"] in section  # the full citation is listed
        assert 'data-section="reported"' not in html[:html.index('<section id="reported"')]
    index = (out / "site" / "index.html").read_text()
    for paper in reported_papers().values():
        assert paper["paper"]["title"] in index


def test_package_data_is_shipped():
    folder = resources.files("mebench.leaderboard")
    assert folder.joinpath("templates/page.html").is_file()
    assert folder.joinpath("templates/sort.js").is_file() and folder.joinpath("templates/style.css").is_file()
    for name in EXPECTED_ROWS:
        data = json.loads(folder.joinpath("reported", name).read_text(encoding="utf-8"))
        assert data["format"] == "mebench-reported-v1" and "REPORTED" in data["about"]
