"""Subject identity: subjects are namespaced by dataset; a declared table says which ones are the same person."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources


def subject_id(dataset: str, subject_raw: str) -> str:
    return f"{dataset}/{subject_raw}"


@lru_cache(maxsize=1)
def identity_table() -> tuple[tuple[str, str, str], ...]:
    text = resources.files("mebench").joinpath("data/persons.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return tuple((r["dataset"], r["subject_raw"], r["person"]) for r in csv.DictReader(io.StringIO("\n".join(lines))))


def person_id(dataset: str, subject_raw: str) -> str:
    """The person a subject is; by default the subject itself."""
    for table_dataset, table_subject, person in identity_table():
        if table_dataset == dataset and table_subject in ("*", subject_raw):
            return person.replace("{subject_raw}", subject_raw)
    return subject_id(dataset, subject_raw)
