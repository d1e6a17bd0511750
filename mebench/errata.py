"""Apply the errata table (data in ``mebench/data/errata.toml``) to raw annotation rows, recording what was fixed.

Fixes are data with provenance, never code paths: each names the cell it expects (old value) so that a corrected
re-release of a file is left alone, and each fix leaves its id on the row. Rows with an impossible order that no
erratum covers get the offending field nulled with an ``auto:<field>-out-of-range`` id: nothing is silently dropped.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from mebench.cells import as_text


@dataclass(frozen=True)
class Erratum:
    id: str
    dataset: str
    reason: str
    source: str
    field: str | None = None
    subject_raw: str = "*"
    clip: str = "*"
    old: Any = None
    new: Any = None
    action: str = "set"
    fields: tuple[str, ...] = ()
    when: str | None = None
    source_rows: tuple[int, ...] = ()

    def key_matches(self, subject_raw: str | None, clip: str | None, source_row: int) -> bool:
        if self.source_rows and source_row not in self.source_rows:
            return False
        return self.subject_raw in ("*", subject_raw) and self.clip in ("*", clip)


def same_value(cell: Any, expected: Any) -> bool:
    """'1143', 1143 and 1143.0 are the same cell value; text compares stripped."""
    if cell is None or expected is None:
        return cell is None and expected is None
    try:
        a, b = float(cell), float(expected)
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    except (TypeError, ValueError):
        return as_text(cell) == as_text(expected)


@lru_cache(maxsize=1)
def load_errata() -> tuple[Erratum, ...]:
    text = resources.files("mebench").joinpath("data/errata.toml").read_text(encoding="utf-8")
    entries = tomllib.loads(text)["erratum"]
    errata = []
    for entry in entries:
        entry = dict(entry)
        entry["fields"] = tuple(entry.get("fields", ()))
        entry["source_rows"] = tuple(entry.get("source_rows", ()))
        errata.append(Erratum(**entry))
    ids = [e.id for e in errata]
    if len(ids) != len(set(ids)):
        raise RuntimeError("duplicate erratum ids in mebench/data/errata.toml")
    return tuple(errata)


def errata_for(dataset: str) -> tuple[Erratum, ...]:
    return tuple(e for e in load_errata() if e.dataset == dataset)


def apply_errata(dataset: str, raw: dict[str, Any], source_row: int) -> list[str]:
    """Fix `raw` (field -> raw cell) in place; return the ids applied. Keys read: subject_raw, clip, and the fields."""
    applied = []
    subject_raw, clip = raw.get("subject_raw"), raw.get("clip")
    for erratum in errata_for(dataset):
        if not erratum.key_matches(subject_raw, clip, source_row):
            continue
        if erratum.action == "swap":
            a, b = erratum.fields
            try:
                holds = erratum.when != "onset>offset" or float(raw[a]) > float(raw[b])
            except (TypeError, ValueError, KeyError):
                holds = False
            if holds:
                raw[a], raw[b] = raw[b], raw[a]
                applied.append(erratum.id)
        elif erratum.field in raw and same_value(raw[erratum.field], erratum.old):
            raw[erratum.field] = erratum.new
            applied.append(erratum.id)
    return applied


def null_out_of_range(values: dict[str, Any], prefix: str = "", suffix: str = "") -> list[str]:
    """Null an apex outside [onset, offset] (or an offset before the onset) that no erratum fixed.

    `prefix`/`suffix` select a clock: frames (`onset`), video seconds (`onset_s`), EMG seconds (`emg_onset_s`).
    """
    key = {k: f"{prefix}{k}{suffix}" for k in ("onset", "apex", "offset")}
    onset, apex, offset = (values.get(key[k]) for k in ("onset", "apex", "offset"))
    applied = []
    if onset is not None and offset is not None and offset < onset:
        values[key["offset"]] = None
        offset = None
        applied.append(f"auto:{prefix}offset-out-of-range")
    if apex is not None and ((onset is not None and apex < onset) or (offset is not None and apex > offset)):
        values[key["apex"]] = None
        applied.append(f"auto:{prefix}apex-out-of-range")
    return applied
