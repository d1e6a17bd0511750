"""The one error type users see: bad input named precisely (file, sheet, row, column), reported with exit code 2.

Anything else that escapes is a bug in mebench and is allowed to show a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class InputError(Exception):
    """Input a user can fix: a missing file, a wrong column, an unreadable cell, an invalid predictions row."""

    message: str
    file: str | Path | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def where(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(f"file {self.file}")
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message
