"""Conformance: protocol `megc2019-cd-3class` reproduces the official MEGC2019 composite list on CASME II + SAMM.

The organisers' combined_3class_gt.csv (no header: dataset, subject, filename, label 0 negative / 1 positive /
2 surprise) is the reference; mebench builds the two datasets from their real annotation files and must select the
same 278 clips with the same labels, and LOSO must give 24 + 28 = 52 folds.
"""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from conftest import real_file
from mebench.corpus import Source, build_corpus
from mebench.protocol import load_corpus, load_protocol

pytestmark = pytest.mark.conformance

NAMES = {"0": "negative", "1": "positive", "2": "surprise"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("megc2019") / "corpus"
    build_corpus([Source("casme2", real_file("casme2/CASME2-coding-20140508.xlsx")),
                  Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))], out)
    return load_corpus(out)


@pytest.fixture(scope="module")
def official() -> dict[tuple[str, str, str], str]:
    path = real_file("megc2019/combined_3class_gt.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if r]
    assert len(rows) == 442
    return {(d, s, f): NAMES[label.strip()] for d, s, f, label in rows if d in ("casme2", "samm")}


def official_key(row) -> tuple[str, str, str]:
    """Our row as the official file names it: casme2 subject 'sub01' for '01'; samm subject unpadded ('6')."""
    if row.dataset == "casme2":
        return ("casme2", f"sub{row.subject_raw}", row.clip)
    return ("samm", str(int(row.subject_raw)), row.clip)


def test_selection_equals_the_official_list(corpus, official):
    protocol = load_protocol("megc2019-cd-3class")
    selected = protocol.select(corpus)
    ours = {official_key(r): r.label for r in selected.itertuples()}
    assert len(ours) == len(selected) == 278
    assert len(official) == 278
    assert ours == official
    assert Counter(selected["dataset"]) == {"casme2": 145, "samm": 133}


def test_exclusions_are_said(corpus):
    selection = load_protocol("megc2019-cd-3class").apply(corpus)
    reasons = dict(zip(selection.dropped["sample_id"], selection.dropped["reason"]))
    for sid in ("casme2/04/EP12_01f", "casme2/05/EP09_05f"):
        assert reasons[sid].startswith("excluded: not in the official MEGC2019 list")
    assert len(selection.rows) + len(selection.dropped) == 255 + 159


def test_loso_gives_52_folds_of_one_person_each(corpus):
    protocol = load_protocol("megc2019-cd-3class")
    selected = protocol.select(corpus)
    folds = protocol.folds(selected)
    assert len(folds) == 52
    persons = selected["person"].to_numpy()
    tested = [set(persons[test]) for _, test in folds]
    assert all(len(p) == 1 for p in tested)
    by_dataset = Counter(next(iter(p)).split("/")[0] for p in tested)
    assert by_dataset == {"casme2": 24, "samm": 28}
    for train, test in folds:
        assert not set(persons[train]) & set(persons[test])
        assert len(train) + len(test) == 278


def test_split_file_matches_the_official_labels(corpus, official, tmp_path):
    from mebench.cli import main

    out = tmp_path / "split.csv"
    assert main(["split", "--protocol", "megc2019-cd-3class", "--corpus", str(corpus.path), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 278 and set(rows[0]) == {"sample_id", "fold", "label"}
    assert Counter(r["label"] for r in rows) == Counter(official.values())
    assert len({r["fold"] for r in rows}) == 52
