"""`mebench labels` (DESIGN.md section 4): agreement between native and harmonized labels, on a hand-made table with
known numbers and on a corpus built from the real CASME II and SAMM annotation files."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from mebench.cli import main
from mebench.corpus import Source, build_corpus, read_samples
from mebench.errors import InputError
from mebench.label_report import (COMPARISONS, NO_AUS, NO_COUNTERPART, NO_HARMONIZED, NO_NATIVE, check_schemes,
                                  compare, label_report, mapped_native)
from mebench.labels import harmonize_columns, load_scheme

from conftest import real_file

# (dataset, sample_id, aus, native emotion): 4dme and basic6 labels are derived with the real schemes.
ROWS = [
    ("x", "x/1", [12], "happiness"),             # 4dme positive: agree    | basic6 happiness: agree
    ("x", "x/2", [4], "disgust"),                # 4dme negative: agree    | basic6 negative: disagree
    ("x", "x/3", [], "surprise"),                # no AUs                  | no AUs
    ("x", "x/4", [17], "repression"),            # 4dme repression: agree  | basic6: no counterpart
    ("x", "x/5", [4], "others"),                 # 4dme negative: disagree | basic6 negative: disagree
    ("x", "x/6", [1, 2], None),                  # no native emotion       | no native emotion
    ("x", "x/7", [14], "contempt"),              # 4dme repression vs negative: disagree | basic6: no counterpart
    ("x", "x/8", [1, 2, 12], "surprise+positive"),  # 4dme positive+surprise: agree | basic6: 'positive' no counterpart
    ("y", "y/1", [2], "Surprise"),               # case-insensitive: agree | agree
]


def frame(with_labels: bool = True) -> pd.DataFrame:
    df = pd.DataFrame(ROWS, columns=["dataset", "sample_id", "aus", "emotion"])
    df["au_raw"] = ["+".join(map(str, a)) for a in df["aus"]]
    if with_labels:
        df = pd.concat([df, harmonize_columns(df, scheme_names=["4dme", "basic6", "megc3"])], axis=1)
    return df


def counts(report: dict, dataset: str, scheme: str) -> tuple[int, int, int]:
    r = report["datasets"][dataset]["schemes"][scheme]
    return r["agree"], r["disagree"], r["not_comparable"]


def test_declared_comparison():
    assert mapped_native("happiness", "4dme") == ("positive",)
    assert mapped_native("Anger", "4dme") == ("negative",)
    assert mapped_native("other", "4dme") == ("others",)
    assert mapped_native("repression", "basic6") is None
    assert mapped_native("contempt", "basic6") is None
    assert mapped_native("something new", "4dme") is None
    assert mapped_native("surprise+positive", "4dme") == ("positive", "surprise")
    assert mapped_native("surprise+repression", "basic6") is None
    assert mapped_native(None, "4dme") is None
    assert compare("happiness", [12], ["positive"], "4dme") == ("agree", None, ("positive",))
    assert compare("happiness", [4], ["negative"], "4dme")[0] == "disagree"
    assert compare("happiness", [], [], "4dme")[1] == NO_AUS
    assert compare(None, [4], ["negative"], "4dme")[1] == NO_NATIVE
    assert compare("contempt", [4], ["negative"], "basic6")[1] == NO_COUNTERPART
    assert compare("others", [], [], "megc3", uses_aus=False)[1] == NO_COUNTERPART
    assert compare("disgust", [4], [], "4dme")[1] == NO_HARMONIZED
    # every label a comparison maps to is a label of that scheme
    for scheme, table in COMPARISONS.items():
        assert {v for v in table.values() if v} <= set(load_scheme(scheme).labels), scheme


def test_known_agreement_numbers():
    report = label_report(frame())
    assert report["schemes"] == ["4dme", "basic6"]
    assert list(report["datasets"]) == ["x", "y"]
    assert report["datasets"]["x"]["rows"] == 8
    assert counts(report, "x", "4dme") == (4, 2, 2)
    assert counts(report, "x", "basic6") == (1, 2, 5)
    assert counts(report, "y", "4dme") == (1, 0, 0)
    assert counts(report, "y", "basic6") == (1, 0, 0)

    r4 = report["datasets"]["x"]["schemes"]["4dme"]
    assert r4["agreement"] == pytest.approx(4 / 6, abs=1e-4)
    assert r4["not_comparable_by_reason"] == {NO_AUS: 1, NO_NATIVE: 1, NO_COUNTERPART: 0, NO_HARMONIZED: 0}
    assert [d["sample_id"] for d in r4["disagreements"]] == ["x/5", "x/7"]
    assert r4["disagreements"][1] == {"sample_id": "x/7", "au_raw": "14", "aus": [14], "emotion": "contempt",
                                      "compared_as": ["negative"], "labels": ["repression"],
                                      "rule": "4dme:rule3-decisive-aus"}
    assert r4["confusion"]["counts"]["others"] == {"negative": 1}
    assert r4["confusion"]["counts"]["surprise"] == {"()": 1}
    assert r4["confusion"]["counts"]["(none)"] == {"surprise": 1}
    assert sum(sum(row.values()) for row in r4["confusion"]["counts"].values()) == 8

    rb = report["datasets"]["x"]["schemes"]["basic6"]
    assert rb["not_comparable_by_reason"] == {NO_AUS: 1, NO_NATIVE: 1, NO_COUNTERPART: 3, NO_HARMONIZED: 0}
    assert rb["no_counterpart"] == {"contempt": 1, "repression": 1, "surprise+positive": 1}
    assert {d["sample_id"]: d["rule"] for d in rb["disagreements"]} == {
        "x/2": "basic6:rule3-frown-negative", "x/5": "basic6:rule3-frown-negative"}
    json.dumps(report)  # plain, JSON-ready


def test_labels_computed_when_the_corpus_lacks_them():
    assert label_report(frame(with_labels=False), ["basic6", "4dme"]) == label_report(frame(), ["basic6", "4dme"])


def test_megc3_only_when_asked_and_unknown_schemes_refused():
    report = label_report(frame(), ["megc3"])
    assert report["schemes"] == ["megc3"]
    # megc3 is derived from the native emotion itself: no AU needed, so x/3 (no AUs) is compared too
    assert counts(report, "x", "megc3") == (5, 0, 3)
    assert check_schemes(["4dme", "4dme", "megc3"]) == ["4dme", "megc3"]
    with pytest.raises(InputError, match="no declared comparison"):
        check_schemes(["objective"])


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["labels", "--corpus", str(tmp_path)]) == 2
    assert "not a mebench corpus" in capsys.readouterr().err


LINE = re.compile(r"^(\S+) (\S+): agree (\d+), disagree (\d+), not comparable (\d+) of (\d+) rows; "
                  r"agreement (\S+) of (\d+) comparable", re.M)

# Facts about the real annotation files (CASME2-coding-20140508.xlsx, SAMM_Micro_FACS_Codes_v2.xlsx) under the
# declared comparison: (agree, disagree, not comparable).
REAL = {
    ("casme2", "4dme"): (144, 106, 5),
    ("casme2", "basic6"): (99, 124, 32),
    ("samm", "4dme"): (94, 62, 3),
    ("samm", "basic6"): (42, 105, 12),
    ("casme2", "megc3"): (156, 0, 99),
    ("samm", "megc3"): (133, 0, 26),
}


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory):
    casme2 = real_file("casme2/CASME2-coding-20140508.xlsx")
    samm = real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx")
    out = tmp_path_factory.mktemp("labels") / "c"
    build_corpus([Source("casme2", casme2), Source("samm", samm)], out)
    return out


def test_conformance_real_casme2_samm(real_corpus, tmp_path, capsys):
    out_json = tmp_path / "labels.json"
    assert main(["labels", "--corpus", str(real_corpus), "--out", str(out_json)]) == 0
    stdout = capsys.readouterr().out
    rows = read_samples(real_corpus)["dataset"].value_counts().to_dict()
    found = {(m[1], m[2]): tuple(int(m[i]) for i in (3, 4, 5, 6)) for m in LINE.finditer(stdout)}
    assert set(found) == {(d, s) for d in ("casme2", "samm") for s in ("4dme", "basic6")}
    for (dataset, scheme), (agree, disagree, not_comparable, n) in found.items():
        assert n == rows[dataset] and agree + disagree + not_comparable == n, (dataset, scheme)
        assert (agree, disagree, not_comparable) == REAL[dataset, scheme], (dataset, scheme)
    assert rows == {"casme2": 255, "samm": 159}
    assert "casme2 4dme: agree 144, disagree 106, not comparable 5 of 255 rows; agreement 57.6% of 250 comparable" \
        in stdout
    assert "disagreeing rows" in stdout and "4dme:rule3-decisive-aus" in stdout

    report = json.loads(out_json.read_text())
    for dataset in ("casme2", "samm"):
        for scheme in ("4dme", "basic6"):
            r = report["datasets"][dataset]["schemes"][scheme]
            assert len(r["disagreements"]) == r["disagree"]  # the JSON keeps every disagreeing row
            assert sum(r["not_comparable_by_reason"].values()) == r["not_comparable"]
            assert sum(sum(row.values()) for row in r["confusion"]["counts"].values()) == rows[dataset]
        # rows without AUs are never disagreements
        r = report["datasets"][dataset]["schemes"]["4dme"]
        assert all(d["aus"] for d in r["disagreements"])


def test_conformance_megc3_when_asked(real_corpus, capsys):
    assert main(["labels", "--corpus", str(real_corpus), "--scheme", "megc3", "--rows", "0"]) == 0
    stdout = capsys.readouterr().out
    found = {(m[1], m[2]): tuple(int(m[i]) for i in (3, 4, 5)) for m in LINE.finditer(stdout)}
    assert found == {k: v for k, v in REAL.items() if k[1] == "megc3"}
    assert "disagreeing rows" not in stdout


@pytest.mark.parametrize("argv, message", [
    (["--scheme", "objective"], "no declared comparison"),
    (["--scheme", "nope"], "no declared comparison"),
    (["--rows", "-1"], "--rows must be 0 or more"),
    (["--out", "/nonexistent-folder/x.json"], "parent folder of --out"),
])
def test_cli_bad_arguments(real_corpus, capsys, argv, message):
    assert main(["labels", "--corpus", str(real_corpus), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
