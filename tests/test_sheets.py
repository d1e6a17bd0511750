"""Reading sheets: cached formula values, formulas saved without a cache, header found by content, clear errors."""

from __future__ import annotations

import openpyxl
import pytest
from hypothesis import given, strategies as st

from mebench.errors import InputError
from mebench.sheets import Column, evaluate_formula, read_raw, table_by_position, table_from_header

COLUMNS = (Column("subject", ("subject",)), Column("onset", ("onset frame", "onset")))


def write_book(path, rows, title="Data"):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_formula_without_cached_value_is_evaluated(tmp_path):
    # openpyxl saves formulas without cached values, as some re-saved releases do.
    path = write_book(tmp_path / "a.xlsx", [["sub", "t"], [1, "=1.036*60"], [2, "=SUM(B2-3)+1"]])
    raw = read_raw(path)
    assert raw.rows[1][1][1] == pytest.approx(62.16)
    assert raw.rows[2][1][1] == pytest.approx(62.16 - 3 + 1)
    assert raw.formulas_evaluated == 2


def test_formula_that_is_not_arithmetic_is_left_unresolved(tmp_path):
    path = write_book(tmp_path / "a.xlsx", [["sub", "t"], [1, '=VLOOKUP(A2,Z:Z,1,FALSE)']])
    raw = read_raw(path)
    assert raw.rows[1][1][1] is None
    assert raw.formulas_unresolved == [(2, 1, '=VLOOKUP(A2,Z:Z,1,FALSE)')]


@given(st.text(max_size=40))
def test_evaluate_formula_never_raises(text):
    evaluate_formula("=" + text, lambda r, c: 1.0)


def test_header_found_below_a_preamble(tmp_path):
    path = write_book(tmp_path / "a.xlsx", [["Title"], [None], ["key: / = or"], ["Subject", "Onset Frame"], ["006", 5]])
    table = table_from_header(read_raw(path), COLUMNS)
    assert table.header_row == 4
    assert [(r.row, r.get("subject"), r.get("onset")) for r in table.records] == [(5, "006", 5)]
    assert table.column_labels() == {"subject": "Subject", "onset": "Onset Frame"}


def test_missing_column_names_file_sheet_and_row(tmp_path):
    path = write_book(tmp_path / "a.xlsx", [["Subject", "Apex Frame"], ["006", 5]], title="MICRO_ONLY")
    with pytest.raises(InputError) as caught:
        table_from_header(read_raw(path), COLUMNS)
    message = str(caught.value)
    assert "a.xlsx" in message and "MICRO_ONLY" in message and "row 1" in message and "onset" in message


def test_corrupt_xlsx_is_an_input_error(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match="not a readable .xlsx"):
        read_raw(path)


def test_csv_binary_and_unknown_suffix(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        read_raw(tmp_path / "b.csv")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(InputError, match="unsupported"):
        read_raw(tmp_path / "c.json")


def test_positional_table_skips_blank_rows(tmp_path):
    path = write_book(tmp_path / "a.xlsx", [[1, "a"], [None, None], [2, "b"]])
    table = table_by_position(read_raw(path), ["n", "clip"])
    assert [(r.row, r.get("n")) for r in table.records] == [(1, 1), (3, 2)]
