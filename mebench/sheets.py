"""Read one annotation sheet (xlsx via openpyxl, or a CSV export of it) into records that remember where they came from.

Every value a loader uses must be traceable to a file, a sheet and the row number Excel shows, so that errata, build
reports and error messages can point a researcher at the exact cell. The released spreadsheets hold formulas (SAMM
durations, CASMEMG '=1.036*60'): we read the cached values and, where a workbook was saved without them (files written
by openpyxl have none), evaluate plain arithmetic formulas ourselves rather than silently reading None.
"""

from __future__ import annotations

import ast
import csv
import io
import math
import operator
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from mebench.errors import InputError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}


def normalize_header(value: object) -> str:
    """'Onset Frame ' -> 'onset frame': header matching must survive spacing and case drift between releases."""
    if value is None:
        return ""
    return re.sub(r"\s+", " ", str(value)).strip().lower()


def is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


@dataclass
class RawSheet:
    """All rows of one sheet as read, before any header is chosen. Row numbers are 1-based, as Excel shows them."""

    file: Path
    sheet: str | None
    rows: list[tuple[int, list[Any]]]
    formulas_evaluated: int = 0
    formulas_unresolved: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.sheet if self.sheet is not None else "(csv)"


@dataclass
class Record:
    """One data row of a table: values by column name, and its provenance."""

    file: Path
    sheet: str | None
    row: int
    values: dict[str, Any]

    def get(self, column: str) -> Any:
        return self.values.get(column)

    def error(self, message: str, column: str | None = None) -> InputError:
        return InputError(message, file=self.file, sheet=self.sheet, row=self.row, column=column)


@dataclass
class Table:
    """A sheet with its header resolved to canonical column names."""

    file: Path
    sheet: str | None
    header_row: int | None
    columns: dict[str, int]
    records: list[Record]
    source: RawSheet

    def column_labels(self) -> dict[str, str]:
        """Canonical column -> the header text in the file (or 'column N'), so errors name what the user sees."""
        if self.header_row is None:
            return {name: f"column {index + 1}" for name, index in self.columns.items()}
        header = self.source.rows[self.header_row - 1][1]
        return {name: str(header[index]).strip() for name, index in self.columns.items() if index < len(header)}


# --- formulas -------------------------------------------------------------------------------------------------------

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CELL_REF = re.compile(r"\$?([A-Z]{1,3})\$?([0-9]+)")


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) - 64)
    return index - 1


def evaluate_formula(formula: str, lookup: Callable[[int, int], Any]) -> float | None:
    """Evaluate '=1.036*60' or '=SUM(F15-D15)+1' (numbers, cell refs, + - * /, SUM of one expression); else None."""
    text = formula.lstrip("=").strip()
    text = re.sub(r"\bSUM\(", "(", text, flags=re.IGNORECASE)

    def replace_ref(match: re.Match[str]) -> str:
        value = lookup(int(match.group(2)), _column_index(match.group(1)))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("reference to a non-numeric cell")
        return repr(float(value))

    try:
        text = _CELL_REF.sub(replace_ref, text)
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return None

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        raise ValueError("unsupported formula")

    try:
        return walk(tree)
    except (ValueError, ZeroDivisionError):
        return None


# --- raw reading ----------------------------------------------------------------------------------------------------


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names; an unreadable workbook is an InputError naming the file."""
    return list(_open_workbook(path, data_only=True).sheetnames)


def _open_workbook(path: Path, data_only: bool):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(path, data_only=data_only, read_only=True)
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError, EOFError) as exc:
        raise InputError(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})", file=path) from None


def read_xlsx_sheet(path: Path, sheet: str | Callable[[list[str]], str | None] | None = None) -> RawSheet:
    """Read a sheet's cached values, evaluating arithmetic formulas that were saved without a cached value.

    `sheet` is a name, a chooser given the sheet names, or None for the first sheet.
    """
    values_book = _open_workbook(path, data_only=True)
    names = list(values_book.sheetnames)
    if callable(sheet):
        chosen = sheet(names)
        if chosen is None:
            raise InputError(f"no sheet of the expected kind among {names}", file=path)
    elif sheet is None:
        chosen = names[0]
    else:
        matches = [n for n in names if n.strip().lower() == sheet.strip().lower()]
        if not matches:
            raise InputError(f"sheet {sheet!r} not found (sheets: {names})", file=path)
        chosen = matches[0]
    try:
        value_rows = [list(r) for r in values_book[chosen].iter_rows(values_only=True)]
    except Exception as exc:  # openpyxl raises many types on damaged XML inside a valid zip
        raise InputError(f"sheet cannot be read ({type(exc).__name__}: {exc})", file=path, sheet=chosen) from None
    finally:
        values_book.close()

    raw = RawSheet(file=path, sheet=chosen, rows=[])
    blanks = [(i, j) for i, r in enumerate(value_rows) for j, v in enumerate(r) if v is None]
    if blanks:
        formula_book = _open_workbook(path, data_only=False)
        try:
            formula_rows = [list(r) for r in formula_book[chosen].iter_rows(values_only=True)]
        finally:
            formula_book.close()

        def lookup(row1: int, col0: int) -> Any:
            if 0 < row1 <= len(value_rows) and 0 <= col0 < len(value_rows[row1 - 1]):
                return value_rows[row1 - 1][col0]
            return None

        for i, j in blanks:
            formula = formula_rows[i][j] if i < len(formula_rows) and j < len(formula_rows[i]) else None
            if isinstance(formula, str) and formula.startswith("="):
                result = evaluate_formula(formula, lookup)
                if result is None:
                    raw.formulas_unresolved.append((i + 1, j, formula))
                else:
                    value_rows[i][j] = int(result) if float(result).is_integer() and "/" not in formula else result
                    raw.formulas_evaluated += 1
    raw.rows = [(i + 1, r) for i, r in enumerate(value_rows)]
    return raw


def read_csv_sheet(path: Path) -> RawSheet:
    """Read a CSV export: every cell is text (or None when empty); loaders convert types per column."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc})", file=path) from None
    if b"\x00" in data[:4096]:
        raise InputError("not a text CSV file (binary content)", file=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = []
    for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
        rows.append((number, [None if cell.strip() == "" else cell for cell in row]))
    return RawSheet(file=path, sheet=None, rows=rows)


def read_raw(path: Path, sheet: str | Callable[[list[str]], str | None] | None = None) -> RawSheet:
    """Dispatch on the file's suffix; anything that is neither xlsx nor CSV is an InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("expected an annotation file, found a folder", file=path)
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return read_xlsx_sheet(path, sheet)
    if suffix in CSV_SUFFIXES:
        return read_csv_sheet(path)
    raise InputError(f"unsupported annotation file type {suffix!r} (expected .xlsx or .csv)", file=path)


# --- header resolution ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A canonical column and the header spellings that name it across releases."""

    name: str
    aliases: tuple[str, ...]
    required: bool = True

    def matches(self, header: str) -> bool:
        return header in self.aliases or header == self.name


def find_header_row(raw: RawSheet, columns: Sequence[Column], search_rows: int = 40) -> tuple[int, dict[str, int]]:
    """The first row that names every required column (SAMM has a preamble in one release and none in another)."""
    required = [c for c in columns if c.required]
    best: tuple[int, list[str]] | None = None
    for number, row in raw.rows[:search_rows]:
        headers = [normalize_header(v) for v in row]
        mapping = _map_columns(headers, columns)
        missing = [c.name for c in required if c.name not in mapping]
        if not missing:
            return number, mapping
        if mapping and (best is None or len(missing) < len(best[1])):
            best = (number, missing)
    expected = ", ".join(repr(c.aliases[0]) for c in required)
    if best is not None:
        raise InputError(
            f"header row found but columns are missing: {best[1]} (expected {expected})",
            file=raw.file,
            sheet=raw.label,
            row=best[0],
        )
    raise InputError(f"no header row with the expected columns ({expected}) in the first {search_rows} rows",
                     file=raw.file, sheet=raw.label)


def _map_columns(headers: list[str], columns: Sequence[Column]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for column in columns:
        for index, header in enumerate(headers):
            if header and column.matches(header) and index not in mapping.values():
                mapping[column.name] = index
                break
    return mapping


def table_from_header(raw: RawSheet, columns: Sequence[Column], search_rows: int = 40) -> Table:
    """Resolve the header by content and return the data rows below it (blank rows skipped)."""
    header_row, mapping = find_header_row(raw, columns, search_rows)
    records = []
    for number, row in raw.rows:
        if number <= header_row or all(is_blank(v) for v in row):
            continue
        values = {name: (row[index] if index < len(row) else None) for name, index in mapping.items()}
        records.append(Record(raw.file, raw.sheet, number, values))
    return Table(raw.file, raw.sheet, header_row, mapping, records, raw)


def table_by_position(raw: RawSheet, names: Sequence[str], min_columns: int | None = None) -> Table:
    """For header-less sheets (CAS(ME)^2): columns by position; too few columns on a data row is an InputError."""
    need = min_columns if min_columns is not None else len(names)
    records = []
    for number, row in raw.rows:
        if all(is_blank(v) for v in row):
            continue
        filled = max((i + 1 for i, v in enumerate(row) if not is_blank(v)), default=0)
        if filled < need and len(row) < need:
            raise InputError(f"expected {need} columns, found {len(row)}", file=raw.file, sheet=raw.label, row=number)
        values = {name: (row[i] if i < len(row) else None) for i, name in enumerate(names)}
        records.append(Record(raw.file, raw.sheet, number, values))
    return Table(raw.file, raw.sheet, None, {n: i for i, n in enumerate(names)}, records, raw)


def first_nonblank_rows(raw: RawSheet, n: int) -> Iterable[list[Any]]:
    return [row for _, row in raw.rows if not all(is_blank(v) for v in row)][:n]
