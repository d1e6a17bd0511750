"""Turn raw spreadsheet cells into typed values, naming the cell when that is impossible.

The same column holds ints, floats, numeric strings (CSV exports) and sentinels ('/', 'NULL') across releases; the
conversion is strict (a word where a frame number belongs is an error, not a NaN) and says what it rounded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mebench.sheets import Record, is_blank

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def as_text(value: object) -> str | None:
    """Cell as the text a person sees: 12 -> '12', 12.0 -> '12', ' a ' -> 'a'; blank -> None."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def as_number(record: Record, column: str, value: object | None = None) -> float | None:
    """A numeric cell (int, float or numeric text) as float; blank -> None; anything else -> InputError."""
    value = record.get(column) if value is None else value
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise record.error(f"expected a number, found {value!r}", column)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise record.error(f"expected a finite number, found {value!r}", column)
        return float(value)
    text = str(value).strip()
    if _NUMBER.match(text):
        return float(text)
    raise record.error(f"expected a number, found {value!r}", column)


@dataclass
class FrameValue:
    value: int | None
    rounded_from: float | None = None


def as_frame(record: Record, column: str, value: object | None = None) -> FrameValue:
    """A frame number: fractions (SAMM-LV's 566.4000000000001) are rounded half-up and reported."""
    number = as_number(record, column, value)
    if number is None:
        return FrameValue(None)
    rounded = int(math.floor(number + 0.5))
    if abs(number - rounded) > 1e-9:
        return FrameValue(rounded, rounded_from=number)
    return FrameValue(rounded)
