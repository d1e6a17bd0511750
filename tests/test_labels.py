"""Harmonized emotion labels (mebench.labels, DESIGN.md section 4): every rule of every scheme, the paper's edge cases,
properties of `harmonize`, and `harmonize_columns`."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mebench.errors import InputError
from mebench.labels import harmonize, harmonize_columns, load_scheme, schemes
from mebench.labels.engine import parse_scheme

SCHEMES = ["4dme", "basic6", "megc3", "objective"]

# (scheme, aus, native value, expected labels, expected rule id). Native value is `emotion` for megc3 and
# `objective_class` for objective. Every rule of every shipped scheme must appear here (test_every_rule_is_covered).
CASES = [
    # --- 4dme (4DME Table 4, rules 1-7) ---
    ("4dme", [], None, (), "4dme:no-aus"),
    ("4dme", [25], None, ("others",), "4dme:rule5-only-dependent-or-no-emotion"),
    ("4dme", [5, 6, 20, 25], None, ("others",), "4dme:rule5-only-dependent-or-no-emotion"),
    ("4dme", [45], None, ("others",), "4dme:rule5-only-dependent-or-no-emotion"),  # no-emotion only (DESIGN.md)
    ("4dme", [6, 43], None, ("others",), "4dme:rule5-only-dependent-or-no-emotion"),
    ("4dme", [2, 4, 14], None, ("others",), "4dme:rule4-three-or-more-emotions"),
    ("4dme", [1, 2, 4, 17], None, ("others",), "4dme:rule4-three-or-more-emotions"),
    ("4dme", [4, 12], None, ("others",), "4dme:rule6-both-positive-and-negative"),
    ("4dme", [7, 12, 25], None, ("others",), "4dme:rule6-both-positive-and-negative"),
    ("4dme", [1, 12], None, ("others",), "4dme:rule6-both-positive-and-negative"),  # AU1 without AU2 is negative
    ("4dme", [12], None, ("positive",), "4dme:rule3-decisive-aus"),
    ("4dme", [6, 12], None, ("positive",), "4dme:rule3-decisive-aus"),
    ("4dme", [4], None, ("negative",), "4dme:rule3-decisive-aus"),
    ("4dme", [1], None, ("negative",), "4dme:rule3-decisive-aus"),
    ("4dme", [2], None, ("surprise",), "4dme:rule3-decisive-aus"),
    ("4dme", [1, 2], None, ("surprise",), "4dme:rule3-decisive-aus"),  # 1+2 is surprise, not negative
    ("4dme", [1, 2, 5, 25], None, ("surprise",), "4dme:rule3-decisive-aus"),
    ("4dme", [1, 2, 12], None, ("positive", "surprise"), "4dme:rule3-decisive-aus"),  # no negative -> no conflict
    ("4dme", [1, 2, 4], None, ("negative", "surprise"), "4dme:rule3-decisive-aus"),
    ("4dme", [17], None, ("repression",), "4dme:rule3-decisive-aus"),
    ("4dme", [14, 15, 17, 24], None, ("repression",), "4dme:rule3-decisive-aus"),
    ("4dme", [4, 17], None, ("negative", "repression"), "4dme:rule3-decisive-aus"),
    ("4dme", [12, 17, 45], None, ("positive", "repression"), "4dme:rule3-decisive-aus"),
    ("4dme", [18], None, ("others",), "4dme:mebench-no-decisive-au"),
    ("4dme", [38], None, ("others",), "4dme:mebench-no-decisive-au"),
    ("4dme", [18, 25, 45], None, ("others",), "4dme:mebench-no-decisive-au"),
    # --- basic6 (Dong et al. Table 3 and the coding points of the conclusion) ---
    ("basic6", [], None, (), "basic6:no-aus"),
    ("basic6", [12], None, ("happiness",), "basic6:exclusive-aus"),
    ("basic6", [6], None, ("happiness",), "basic6:exclusive-aus"),
    ("basic6", [28], None, ("happiness",), "basic6:exclusive-aus"),
    ("basic6", [1, 2], None, ("surprise",), "basic6:exclusive-aus"),
    ("basic6", [16], None, ("anger",), "basic6:exclusive-aus"),
    ("basic6", [22], None, ("anger",), "basic6:exclusive-aus"),
    ("basic6", [4, 23], None, ("anger",), "basic6:exclusive-aus"),
    ("basic6", [20], None, ("fear",), "basic6:exclusive-aus"),
    ("basic6", [7], None, ("disgust",), "basic6:exclusive-aus"),
    ("basic6", [24], None, ("disgust",), "basic6:exclusive-aus"),
    ("basic6", [43], None, ("sadness",), "basic6:exclusive-aus"),
    ("basic6", [7, 12], None, ("disgust", "happiness"), "basic6:exclusive-aus"),  # several allowed
    ("basic6", [4, 12], None, ("happiness",), "basic6:exclusive-aus"),  # exclusive beats the frown
    ("basic6", [1, 4, 5, 25, 43], None, ("sadness",), "basic6:exclusive-aus"),  # exclusive beats rule 5
    ("basic6", [1, 4, 5, 25], None, ("fear",), "basic6:rule5-fear-1-4-5-25"),
    ("basic6", [1, 4, 5, 25, 26], None, ("fear",), "basic6:rule5-fear-1-4-5-25"),
    ("basic6", [4, 5], None, ("sadness",), "basic6:rule7-sadness-4-5"),
    ("basic6", [1, 4, 5], None, ("sadness",), "basic6:rule7-sadness-4-5"),
    ("basic6", [4, 5, 25], None, ("sadness",), "basic6:rule7-sadness-4-5"),
    ("basic6", [4], None, ("negative",), "basic6:rule3-frown-negative"),
    ("basic6", [1, 4, 25], None, ("negative",), "basic6:rule3-frown-negative"),
    ("basic6", [1], None, ("others",), "basic6:others"),
    ("basic6", [5, 25], None, ("others",), "basic6:others"),
    ("basic6", [14, 15, 17], None, ("others",), "basic6:others"),
    # --- megc3 (native emotion -> MEGC2019 3 classes) ---
    ("megc3", [], None, (), "megc3:no-emotion"),
    ("megc3", [12], "happiness", ("positive",), "megc3:positive"),
    ("megc3", [], "positive", ("positive",), "megc3:positive"),
    ("megc3", [], "disgust", ("negative",), "megc3:negative"),
    ("megc3", [], "surprise", ("surprise",), "megc3:surprise"),
    ("megc3", [], "others", (), "megc3:others"),
    ("megc3", [], "surprise+positive", (), "megc3:unmapped"),
    ("megc3", [], "happyiness", (), "megc3:unmapped"),
    # --- objective (the file's objective class) ---
    ("objective", [], None, (), "objective:no-class"),
    ("objective", [], "7", ("7",), "objective:file-class"),
    ("objective", [], 3, ("3",), "objective:file-class"),
    ("objective", [], "IV", ("IV",), "objective:file-class"),
    ("objective", [], "unknown", (), "objective:unknown-class"),
]


def _call(scheme, aus, native):
    sch = load_scheme(scheme)
    if sch.input == "emotion":
        return harmonize(aus, scheme, emotion=native)
    if sch.input == "objective_class":
        return harmonize(aus, scheme, objective_class=native)
    return harmonize(aus, scheme)


@pytest.mark.parametrize("scheme,aus,native,labels,rule", CASES, ids=[f"{c[4]}-{c[1]}-{c[2]}" for c in CASES])
def test_case(scheme, aus, native, labels, rule):
    assert _call(scheme, aus, native) == (labels, rule)


def test_every_rule_is_covered():
    covered = {c[4] for c in CASES}
    for name in schemes():
        missing = [r for r in load_scheme(name).rule_ids if r not in covered]
        assert not missing, f"rules without a hand-made case: {missing}"


def test_schemes_listed_and_well_formed():
    assert set(SCHEMES) <= set(schemes()) and schemes() == sorted(schemes())
    for name in SCHEMES:
        sch = load_scheme(name)
        assert sch.id == name
        assert sch.version and sch.title and sch.citation
        assert sch.input in ("aus", "emotion", "objective_class")
        assert len(set(sch.labels)) == len(sch.labels)
        assert sch.rules[-1].when == type(sch.rules[-1].when)()  # the last rule is a catch-all
        assert all(r.id.startswith(f"{name}:") for r in sch.rules)
        assert len(set(sch.rule_ids)) == len(sch.rule_ids)
    assert load_scheme("4dme").input == "aus"
    assert load_scheme("basic6").input == "aus"
    assert load_scheme("megc3").input == "emotion"
    assert load_scheme("objective").input == "objective_class"


def test_label_sets():
    assert set(load_scheme("4dme").labels) == {"negative", "positive", "surprise", "repression", "others"}
    assert set(load_scheme("megc3").labels) == {"negative", "positive", "surprise"}
    assert set(load_scheme("basic6").labels) == {
        "happiness", "surprise", "anger", "fear", "disgust", "sadness", "negative", "others"}


def test_citations_name_the_tables_and_rules():
    assert "Table 4" in load_scheme("4dme").citation and "1)-7)" in load_scheme("4dme").citation
    assert "Table 3" in load_scheme("basic6").citation
    assert "MEGC" in load_scheme("megc3").citation


# --- 4dme specifics ------------------------------------------------------------------------------------------------
def test_4dme_au1_with_au2_is_surprise_not_negative():
    assert harmonize([1, 2], "4dme") == (("surprise",), "4dme:rule3-decisive-aus")
    # AU1 alone is negative, and AU1+2 with AU12 is therefore NOT a positive/negative conflict
    assert harmonize([1], "4dme")[0] == ("negative",)
    assert harmonize([1, 2, 12], "4dme")[0] == ("positive", "surprise")
    assert load_scheme("4dme").emotions_of([1, 2]) == {"surprise"}


def test_4dme_both_positive_and_negative_is_others():
    for aus in ([4, 12], [9, 12], [10, 12, 25], [7, 12]):
        assert harmonize(aus, "4dme") == (("others",), "4dme:rule6-both-positive-and-negative")


def test_4dme_three_emotions_is_others():
    # negative + surprise + repression; and with positive too (rule 4 is listed first)
    assert harmonize([2, 4, 15], "4dme") == (("others",), "4dme:rule4-three-or-more-emotions")
    assert harmonize([2, 4, 12, 14], "4dme") == (("others",), "4dme:rule4-three-or-more-emotions")


def test_4dme_only_dependent_is_others():
    for aus in ([5], [6], [20], [25], [5, 6, 20, 25], [6, 25, 43, 45]):
        assert harmonize(aus, "4dme") == (("others",), "4dme:rule5-only-dependent-or-no-emotion")


def test_4dme_at_most_two_labels():
    for aus in ([1, 2, 4, 7, 9, 10, 12, 14], list(range(100))):
        labels, _ = harmonize(aus, "4dme")
        assert labels == ("others",)


def test_4dme_unlisted_aus_are_not_decisive():
    """mebench's reading: AUs outside Table 4 never create or veto a label; with no decisive AU -> others."""
    assert harmonize([12, 18], "4dme") == (("positive",), "4dme:rule3-decisive-aus")
    assert harmonize([1, 2, 38], "4dme") == (("surprise",), "4dme:rule3-decisive-aus")
    assert harmonize([4, 16, 22, 23], "4dme") == (("negative",), "4dme:rule3-decisive-aus")
    for aus in ([18], [38], [26], [18, 25], [11, 43]):
        assert harmonize(aus, "4dme") == (("others",), "4dme:mebench-no-decisive-au")


# --- basic6 specifics ----------------------------------------------------------------------------------------------
def test_basic6_fallbacks_in_order():
    # no exclusive AU in any of these: fear (1+4+5+25) before sadness (4+5) before negative (4) before others
    assert harmonize([1, 4, 5, 25], "basic6") == (("fear",), "basic6:rule5-fear-1-4-5-25")
    assert harmonize([4, 5, 25], "basic6") == (("sadness",), "basic6:rule7-sadness-4-5")
    assert harmonize([4, 25], "basic6") == (("negative",), "basic6:rule3-frown-negative")
    assert harmonize([1, 25], "basic6") == (("others",), "basic6:others")
    assert harmonize([], "basic6") == ((), "basic6:no-aus")
    # an exclusive AU overrides every fallback
    assert harmonize([1, 4, 5, 25, 12], "basic6") == (("happiness",), "basic6:exclusive-aus")
    assert harmonize([4, 5, 20], "basic6") == (("fear",), "basic6:exclusive-aus")


def test_basic6_all_exclusive_emotions_at_once():
    labels, rule = harmonize([2, 6, 7, 12, 16, 20, 43], "basic6")
    assert labels == ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
    assert rule == "basic6:exclusive-aus"


# --- megc3 on the native emotions of CASME II / SAMM / CAS(ME)^2 ---------------------------------------------------
MEGC3_NATIVE = {
    "happiness": ("positive",),
    "positive": ("positive",),
    "disgust": ("negative",),
    "repression": ("negative",),
    "anger": ("negative",),
    "contempt": ("negative",),
    "fear": ("negative",),
    "sadness": ("negative",),
    "negative": ("negative",),
    "surprise": ("surprise",),
    "others": (),
    "other": (),
}


@pytest.mark.parametrize("native", sorted(MEGC3_NATIVE))
def test_megc3_native_emotions(native):
    labels, rule = harmonize([], "megc3", emotion=native)
    assert labels == MEGC3_NATIVE[native]
    expected_rule = {("positive",): "megc3:positive", ("negative",): "megc3:negative",
                     ("surprise",): "megc3:surprise", (): "megc3:others"}[labels]
    assert rule == expected_rule
    # as written in the files ('Happiness', 'Other', ' Surprise ') gives the same
    assert harmonize([], "megc3", emotion=f" {native.capitalize()} ")[0] == labels


def test_megc3_ignores_aus_and_missing_emotion():
    assert harmonize([12], "megc3") == ((), "megc3:no-emotion")
    assert harmonize([4], "megc3", emotion="happiness") == (("positive",), "megc3:positive")
    for missing in (None, float("nan"), pd.NA, "", "  "):
        assert harmonize([], "megc3", emotion=missing) == ((), "megc3:no-emotion")


# --- objective ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    (1, "1"), (7, "7"), (np.int64(4), "4"), (7.0, "7"), ("2", "2"), (" 6 ", "6"),
    ("I", "I"), ("VII", "VII"), ("iii", "III"),
])
def test_objective_classes(value, expected):
    assert harmonize([4], "objective", objective_class=value) == ((expected,), "objective:file-class")


def test_objective_absent_or_unknown():
    for missing in (None, float("nan"), pd.NA, ""):
        assert harmonize([], "objective", objective_class=missing) == ((), "objective:no-class")
    for bad in ("8", 0, "VIII", "happiness", 2.5):
        assert harmonize([], "objective", objective_class=bad) == ((), "objective:unknown-class")
    # the emotion argument is not read by the objective scheme
    assert harmonize([], "objective", emotion="happiness") == ((), "objective:no-class")


# --- properties -----------------------------------------------------------------------------------------------------
AU_LISTS = st.lists(st.integers(min_value=0, max_value=99), max_size=12)
NATIVE = st.one_of(st.none(), st.sampled_from(sorted(MEGC3_NATIVE) + ["1", "7", "VII", "iv"]), st.text(max_size=12),
                   st.integers(-3, 12))


@settings(max_examples=300, deadline=None)
@given(aus=AU_LISTS, native=NATIVE, data=st.data())
def test_harmonize_properties(aus, native, data):
    shuffled = data.draw(st.permutations(aus + aus[: len(aus) // 2]))  # reordered, with duplicates
    for name in SCHEMES:
        sch = load_scheme(name)
        labels, rule = harmonize(aus, name, emotion=native, objective_class=native)
        assert isinstance(labels, tuple)
        assert list(labels) == sorted(set(labels))
        assert set(labels) <= set(sch.labels)
        assert rule in sch.rule_ids
        assert harmonize(shuffled, name, emotion=native, objective_class=native) == (labels, rule)
        assert harmonize(tuple(aus), name, emotion=native, objective_class=native) == (labels, rule)
        assert harmonize(np.array(aus, dtype=np.int16), name, emotion=native, objective_class=native) == (labels, rule)
        if name == "4dme":
            assert len(labels) <= 2
            assert (labels == ()) == (len(aus) == 0)
            assert not {"positive", "negative"} <= set(labels)
            if "others" in labels:
                assert labels == ("others",)


@settings(max_examples=100, deadline=None)
@given(aus=AU_LISTS)
def test_4dme_labels_are_emotions_of_decisive_aus(aus):
    labels, rule = harmonize(aus, "4dme")
    if rule == "4dme:rule3-decisive-aus":
        table = {1: "negative", 4: "negative", 7: "negative", 9: "negative", 10: "negative", 12: "positive",
                 2: "surprise", 14: "repression", 15: "repression", 17: "repression", 24: "repression"}
        present = set(aus)
        expected = {table[a] for a in present if a in table and not (a == 1 and 2 in present)}
        assert set(labels) == expected


def test_bad_inputs():
    with pytest.raises(InputError, match="unknown label scheme"):
        harmonize([1], "nope")
    with pytest.raises(TypeError):
        harmonize("1+2", "4dme")
    with pytest.raises(TypeError):
        harmonize([1, "x"], "4dme")
    assert harmonize(None, "4dme") == ((), "4dme:no-aus")
    assert harmonize(float("nan"), "4dme") == ((), "4dme:no-aus")


# --- harmonize_columns ----------------------------------------------------------------------------------------------
def test_harmonize_columns_small_frame():
    samples = pd.DataFrame(
        {
            "sample_id": ["casme2/01/EP02_01f", "samm/006/006_1_2", "casme-sq/s15/anger1_1", "4dme/1/x"],
            "aus": [[1, 2], np.array([4, 12], dtype=np.int16), [], [12, 25]],
            "emotion": ["surprise", "anger", "others", None],
            "objective_class": [None, "3", None, float("nan")],
        },
        index=[10, 11, 12, 13],
    )
    out = harmonize_columns(samples)
    assert list(out.index) == [10, 11, 12, 13]
    assert list(out.columns) == [c for s in SCHEMES for c in (f"emo_{s}", f"emo_{s}_rule")]
    assert out["emo_4dme"].tolist() == [["surprise"], ["others"], [], ["positive"]]
    assert out["emo_4dme_rule"].tolist() == ["4dme:rule3-decisive-aus", "4dme:rule6-both-positive-and-negative",
                                             "4dme:no-aus", "4dme:rule3-decisive-aus"]
    assert out["emo_basic6"].tolist() == [["surprise"], ["happiness"], [], ["happiness"]]
    assert out["emo_megc3"].tolist() == [["surprise"], ["negative"], [], []]
    assert out["emo_megc3_rule"].tolist() == ["megc3:surprise", "megc3:negative", "megc3:others", "megc3:no-emotion"]
    assert out["emo_objective"].tolist() == [[], ["3"], [], []]
    assert out["emo_objective_rule"].tolist() == ["objective:no-class", "objective:file-class",
                                                  "objective:no-class", "objective:no-class"]
    # each row agrees with harmonize
    for i, row in samples.iterrows():
        for s in SCHEMES:
            labels, rule = harmonize(row["aus"], s, emotion=row["emotion"], objective_class=row["objective_class"])
            assert out.at[i, f"emo_{s}"] == list(labels) and out.at[i, f"emo_{s}_rule"] == rule
    # lists are not shared between rows
    out.at[10, "emo_4dme"].append("x")
    assert harmonize_columns(samples)["emo_4dme"].tolist()[0] == ["surprise"]


def test_harmonize_columns_options_and_errors():
    samples = pd.DataFrame({"aus": [[4, 5]], "emotion": ["sadness"]})  # no objective_class column: read as null
    out = harmonize_columns(samples)
    assert out.loc[0, "emo_objective"] == [] and out.loc[0, "emo_objective_rule"] == "objective:no-class"
    out = harmonize_columns(samples, scheme_names=["basic6"])
    assert list(out.columns) == ["emo_basic6", "emo_basic6_rule"]
    assert out.loc[0, "emo_basic6"] == ["sadness"]
    assert harmonize_columns(samples.iloc[:0]).shape == (0, 8)
    with pytest.raises(InputError):
        harmonize_columns(pd.DataFrame({"emotion": ["sadness"]}))


def test_harmonize_columns_on_many_rows_equals_row_by_row():
    """The per-distinct-value cache must not change any row (speed is measured in benchmarks/, not here)."""
    rng = np.random.default_rng(0)
    n = 5000
    aus = [sorted(set(rng.integers(1, 30, size=rng.integers(0, 5)).tolist())) for _ in range(n)]
    samples = pd.DataFrame({"aus": aus, "emotion": rng.choice(["happiness", "others", "fear"], n),
                            "objective_class": rng.choice(["1", "7", None], n)})
    out = harmonize_columns(samples)
    assert len(out) == n
    for i in rng.choice(n, size=200, replace=False):
        labels, rule = harmonize(aus[i], "4dme")
        assert tuple(out["emo_4dme"].iloc[i]) == labels and out["emo_4dme_rule"].iloc[i] == rule


# --- the engine: a new published table is a new file -----------------------------------------------------------------
NEW_TABLE = """
id = "toy"
version = "1"
title = "a toy table"
citation = "nobody, Table 1"
input = "aus"
labels = ["happy", "sad", "other"]
[groups]
mouth = [12, 15]
[[evidence]]
any_of = [12]
emotion = "happy"
[[evidence]]
all_of = [1, 15]
emotion = "sad"
[[rules]]
id = "toy:none"
when = { no_aus = true }
then = []
[[rules]]
id = "toy:mouth-only-one-emotion"
when = { only_from = ["mouth", 1], emotions_max = 1, emotions_min = 1 }
then = "emotions"
[[rules]]
id = "toy:else"
when = {}
then = ["other"]
"""


def test_new_scheme_is_a_new_file(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(NEW_TABLE)
    assert harmonize([12], path) == (("happy",), "toy:mouth-only-one-emotion")
    assert harmonize([1, 15], str(path)) == (("sad",), "toy:mouth-only-one-emotion")
    assert harmonize([15], path) == (("other",), "toy:else")  # 15 without 1: no evidence
    assert harmonize([1, 12, 15], path) == (("other",), "toy:else")  # two emotions
    assert harmonize([], path) == ((), "toy:none")
    out = harmonize_columns(pd.DataFrame({"aus": [[12]]}), scheme_names=[str(path)])
    assert out.loc[0, "emo_toy"] == ["happy"]


@pytest.mark.parametrize("old,new,message", [
    ('then = ["other"]', 'then = ["angry"]', "outside"),
    ("when = {}", "when = { any_of = [4] }", "catch-all"),
    ("when = { no_aus = true }", "when = { no_aus = true, native_in = ['x'] }", "not allowed"),
    ("when = { no_aus = true }", "when = { at_least = 2 }", "not allowed"),
    ('id = "toy:none"', 'id = "none"', "starting with"),
    ('id = "toy:none"', 'id = "toy:else"', "duplicate"),
    ('only_from = ["mouth", 1]', 'only_from = ["lips"]', "unknown AU group"),
    ('emotion = "sad"', 'emotion = "blue"', "not in labels"),
])
def test_invalid_schemes_are_rejected(old, new, message):
    import tomllib

    text = NEW_TABLE.replace(old, new, 1)
    assert text != NEW_TABLE
    with pytest.raises(InputError, match=message):
        parse_scheme(tomllib.loads(text), "toy.toml")


def test_scheme_file_must_be_named_after_its_id(tmp_path):
    path = tmp_path / "other_name.toml"
    path.write_text(NEW_TABLE)
    with pytest.raises(InputError, match="file name"):
        load_scheme(path)


def test_scheme_files_ship_with_the_package():
    from importlib import resources

    files = {p.name for p in (resources.files("mebench.labels") / "schemes").iterdir()}
    assert {f"{s}.toml" for s in SCHEMES} <= files
