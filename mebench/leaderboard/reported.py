"""Numbers reported by the papers (``mebench/leaderboard/reported/*.json``, one file per paper).

They are shown on the leaderboard as `reported` rows, always apart from the rows mebench computed, with their
citation: a reported number was measured by the paper's authors (or quoted by them from another paper) on their copy
of the dataset, with their folds and their code; mebench has not reproduced it.

File format (``"format": "mebench-reported-v1"``)::

    paper   {authors, title, venue, year, doi, seed, seed_file}       venue/year null where the text does not say
    tables  {"Table 3": caption, ...}
    notes   [what holds for every row]
    rows    [{id, protocol, protocol_match ('same' | 'closest'), protocol_note, task, method, method_source,
              measured_by, metrics (mebench's keys and units, null = not reported), printed (every cell exactly as
              the paper prints it), printed_units, corpus {datasets, version, real}, citation {...paper, table},
              notes}]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from mebench.errors import InputError

__all__ = ["ReportedRow", "cite_short", "load_reported", "reported_files"]

ROW_KEYS = ("id", "protocol", "protocol_match", "protocol_note", "task", "method", "metrics", "printed", "corpus",
            "citation")
CITATION_KEYS = ("authors", "title", "venue", "year", "table")
MATCHES = ("same", "closest")


@dataclass(frozen=True)
class ReportedRow:
    """One reported row with the paper it comes from."""

    data: dict[str, Any]
    file: str

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def protocol(self) -> str:
        return self.data["protocol"]

    @property
    def citation(self) -> dict[str, Any]:
        return self.data["citation"]

    @property
    def notes(self) -> list[str]:
        return list(self.data.get("notes") or [])


def reported_files() -> list[str]:
    return sorted(e.name for e in resources.files("mebench.leaderboard").joinpath("reported").iterdir()
                  if e.name.endswith(".json"))


def _check(row: Any, name: str, index: int) -> dict[str, Any]:
    where = f"mebench/leaderboard/reported/{name}"
    if not isinstance(row, dict):
        raise InputError(f"reported row {index} is not an object", file=where)
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        raise InputError(f"reported row {index} ({row.get('id')}) lacks {', '.join(missing)}", file=where)
    missing = [k for k in CITATION_KEYS if k not in row["citation"]]
    if missing:
        raise InputError(f"reported row {row['id']}: citation lacks {', '.join(missing)}", file=where)
    if row["protocol_match"] not in MATCHES:
        raise InputError(f"reported row {row['id']}: protocol_match must be one of {MATCHES}", file=where)
    if row["corpus"].get("real") is not True:
        raise InputError(f"reported row {row['id']}: papers report on real datasets (corpus.real true)", file=where)
    return row


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[ReportedRow, ...], dict[str, dict[str, Any]]]:
    rows: list[ReportedRow] = []
    papers: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    folder = resources.files("mebench.leaderboard").joinpath("reported")
    for name in reported_files():
        try:
            data = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(f"reported file is not valid JSON ({exc})",
                             file=f"mebench/leaderboard/reported/{name}") from None
        papers[name] = {k: v for k, v in data.items() if k != "rows"}
        for i, row in enumerate(data.get("rows", [])):
            row = _check(row, name, i)
            if row["id"] in seen:
                raise InputError(f"reported row id {row['id']!r} is not unique",
                                 file=f"mebench/leaderboard/reported/{name}")
            seen.add(row["id"])
            rows.append(ReportedRow(row, name))
    return tuple(rows), papers


def load_reported(protocol: str | None = None) -> list[ReportedRow]:
    """Every reported row (or those of one protocol id), in file order."""
    rows = _load()[0]
    return [r for r in rows if protocol is None or r.protocol == protocol]


def reported_papers() -> dict[str, dict[str, Any]]:
    """file name -> the file's paper, tables and notes."""
    return dict(_load()[1])


def _surname(author: str) -> str:
    return author.split()[-1]


def cite_short(citation: dict[str, Any], *, table: bool = True) -> str:
    """'Ruan et al., ACM MM 2022, Table 3' style (venue shortened to what is known)."""
    authors = citation.get("authors") or []
    who = _surname(authors[0]) + (" et al." if len(authors) > 2 else
                                  f" and {_surname(authors[1])}" if len(authors) == 2 else "") if authors else "?"
    year = citation.get("year")
    parts = [who]
    parts.append(str(year) if year else "year not stated")
    text = ", ".join(parts)
    if table and citation.get("table"):
        text += f", {citation['table']}"
    return text


def cite_full(citation: dict[str, Any]) -> str:
    """Authors, 'Title', venue, year. doi."""
    authors = ", ".join(citation.get("authors") or [])
    text = f"{authors}. \u201c{citation.get('title')}.\u201d"
    if citation.get("venue"):
        text += f" {citation['venue']}"
    text += f", {citation['year']}." if citation.get("year") else " (venue and year not stated in the source text)."
    if citation.get("doi"):
        text += f" doi:{citation['doi']}"
    return text
