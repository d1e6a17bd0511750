"""Protocol specs and engine: every shipped spec loads and is the DESIGN list; spec validation; `mebench protocols`
and `mebench split`; deterministic group-kfold; leave-one-dataset-out; the spotting GT rule."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from conftest import real_file
from mebench.cli import main
from mebench.corpus import Source, build_corpus
from mebench.errors import InputError
from mebench.protocol import (
    Protocol,
    group_kfold_assignment,
    load_corpus,
    load_protocol,
    load_protocols,
    protocol_ids,
)

# DESIGN.md section 5: the ids are part of the contract.
DESIGN_IDS = [
    "casme2-loso-5class", "casme2-loso-3class", "samm-loso-5class", "samm-loso-3class", "megc2019-cd-3class",
    "casme-sq-loso-4class", "4dme-5fold-emotion", "4dme-5fold-au8", "casmemg-loso-7class", "merged-loso-4dme",
    "merged-lodo-au12", "casme-sq-spotting", "samm-lv-spotting", "4dme-spotting", "casmemg-emg-interval",
]
PROTOCOLS_DIR = Path(__file__).resolve().parents[1] / "protocols"


# ------------------------------------------------------------------------------------------------ helpers


def synthetic(rows: list[dict]) -> pd.DataFrame:
    """A samples frame with the corpus columns the protocols read; each row gives what differs."""
    out = []
    for i, r in enumerate(rows):
        d = {"dataset": "casme2", "subject_raw": "01", "clip": f"c{i}", "video_id": None, "onset": 1, "apex": 2,
             "offset": 3, "fps": 200.0, "expression_type": "micro", "aus": [4], "emotion": "happiness",
             "emotions": ["happiness"], "emo_4dme": ["negative"], "emo_megc3": ["positive"],
             "emg_onset_s": None, "emg_offset_s": None, **r}
        d.setdefault("sample_id", f"{d['dataset']}/{d['subject_raw']}/{d['clip']}")
        d.setdefault("subject", f"{d['dataset']}/{d['subject_raw']}")
        d.setdefault("person", d["subject"])
        out.append(d)
    return pd.DataFrame(out)


def write_corpus(folder: Path, samples: pd.DataFrame, videos: pd.DataFrame | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    samples.to_parquet(folder / "samples.parquet")
    if videos is not None:
        videos.to_parquet(folder / "videos.parquet")
    meta = {"fingerprint": "synthetic", "shadow": False,
            "sources": [{"name": d} for d in dict.fromkeys(samples["dataset"])]}
    (folder / "corpus.json").write_text(json.dumps(meta))
    return folder


def spec_variant(tmp_path: Path, base: str, replace: dict[str, str], name: str = "variant.toml") -> Path:
    text = (PROTOCOLS_DIR / f"{base}.toml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("protocols") / "corpus"
    build_corpus([Source("casme2", real_file("casme2/CASME2-coding-20140508.xlsx")),
                  Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))], out)
    return out


# ------------------------------------------------------------------------------------------------ the specs


def test_shipped_ids_are_the_design_list():
    assert sorted(protocol_ids()) == sorted(DESIGN_IDS)
    assert [p.id for p in load_protocols()] == sorted(DESIGN_IDS)


@pytest.mark.parametrize("pid", DESIGN_IDS)
def test_every_spec_loads_with_its_contract(pid):
    protocol = load_protocol(pid)
    assert protocol.id == pid and protocol.version and protocol.title and protocol.datasets
    raw = (PROTOCOLS_DIR / f"{pid}.toml").read_bytes()
    import hashlib

    assert protocol.sha256 == hashlib.sha256(raw).hexdigest()
    assert protocol.sources, "every spec cites where it comes from"
    assert protocol.split.rule, "every spec writes its split rule out"
    assert protocol.metrics.aggregation
    if protocol.task == "spotting":
        assert protocol.spotting.iou == 0.5 and set(protocol.spotting.iou_also) == {0.4, 0.3}
        assert protocol.spotting.gt_offset_missing == "apex"
    if protocol.task in ("recognition", "multilabel", "au-detection"):
        assert protocol.classes and protocol.metrics.ci.n_boot == 1000 and protocol.metrics.ci.seed == 0
    if protocol.split.kind == "group-kfold":
        assert protocol.split.k == 5 and "GroupKFold" in protocol.split.rule


def test_label_sets_of_seed_003_table_2():
    assert load_protocol("casme2-loso-5class").classes == ["disgust", "happiness", "others", "repression",
                                                            "surprise"]
    assert load_protocol("samm-loso-5class").classes == ["anger", "contempt", "happiness", "others", "surprise"]
    assert load_protocol("4dme-5fold-au8").classes == ["AU1", "AU2", "AU4", "AU6", "AU7", "AU12", "AU17", "AU45"]
    assert len(load_protocol("merged-lodo-au12").classes) == 12


@pytest.mark.parametrize("replace, expected", [
    ({'title = "CASME II': 'titel = "x"\ntitle = "CASME II'}, "unknown key(s) ['titel']"),
    ({'task = "recognition"': 'task = "classification"'}, "unknown task 'classification'"),
    ({'kind = "loso"': 'kind = "random"'}, "unknown split kind 'random'"),
    ({'classes = [': 'clases = ["x"]\nclasses = ['}, "unknown key(s) ['clases']"),
    ({'main = "uf1"': 'main = "f1"'}, "metrics.main 'f1' is not a metric of task 'recognition'"),
    ({'column = "emotion"\nclasses': 'column = "emotion"\nscheme = "megc3"\nclasses'}, "exactly one of column"),
])
def test_invalid_specs_fail_at_load_naming_the_file(tmp_path, replace, expected):
    path = spec_variant(tmp_path, "casme2-loso-5class", replace, "broken.toml")
    with pytest.raises(InputError) as caught:
        Protocol.from_file(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_invalid_spec_on_the_command_line_is_exit_2(tmp_path, real_corpus, capsys):
    path = spec_variant(tmp_path, "casme2-loso-5class", {'task = "recognition"': 'task = "nope"'})
    out = tmp_path / "split.csv"
    assert main(["split", "--protocol", str(path), "--corpus", str(real_corpus), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "Traceback" not in err
    assert not out.exists()


def test_unknown_protocol_id_lists_the_known_ones():
    with pytest.raises(InputError, match="known protocols: 4dme-5fold-au8"):
        load_protocol("casme2-loso-6class")


# ------------------------------------------------------------------------------------------------ commands


def test_protocols_lists_every_id(capsys):
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    for pid in DESIGN_IDS:
        assert pid in out


def test_protocols_with_a_corpus_gives_counts(real_corpus, capsys):
    assert main(["protocols", "--corpus", str(real_corpus)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert set(lines) == set(DESIGN_IDS)
    cells = {pid: [c.strip() for c in line.strip("│").split("│")] for pid, line in lines.items()}
    # id | version | task | datasets | samples | subjects | persons | classes | folds | dropped
    assert cells["megc2019-cd-3class"][4:9] == ["278", "52", "52", "3/3", "52"]
    assert cells["casme2-loso-5class"][4:9] == ["246", "26", "26", "5/5", "26"]
    assert cells["casme2-loso-3class"][4:9] == ["147", "24", "24", "3/3", "24"]
    assert cells["samm-loso-5class"][4:9] == ["136", "27", "27", "5/5", "27"]
    assert cells["samm-loso-3class"][4:9] == ["133", "28", "28", "3/3", "28"]
    assert cells["4dme-5fold-au8"][4] == "0"


def test_split_writes_each_person_in_exactly_one_test_fold(real_corpus, tmp_path, capsys):
    out = tmp_path / "split.csv"
    assert main(["split", "--protocol", "samm-loso-5class", "--corpus", str(real_corpus), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["sample_id", "fold", "label"]
        rows = list(reader)
    assert len(rows) == 136
    samples = load_corpus(real_corpus).samples.set_index("sample_id")
    folds_of_person: dict[str, set[str]] = {}
    for r in rows:
        folds_of_person.setdefault(samples.at[r["sample_id"], "person"], set()).add(r["fold"])
    assert all(len(f) == 1 for f in folds_of_person.values())
    assert len(folds_of_person) == len({r["fold"] for r in rows}) == 27
    assert Counter(r["label"] for r in rows) == {"anger": 57, "others": 26, "happiness": 26, "surprise": 15,
                                                 "contempt": 12}
    assert "dropped 23 row(s)" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["split.csv"]  # no temporary file left behind


def test_split_into_a_missing_folder_is_exit_2(real_corpus, tmp_path, capsys):
    out = tmp_path / "nope" / "split.csv"
    assert main(["split", "--protocol", "samm-loso-5class", "--corpus", str(real_corpus), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.parent.exists()


# ------------------------------------------------------------------------------------------------ folds


def test_group_kfold_follows_the_written_rule_by_hand(tmp_path):
    path = spec_variant(tmp_path, "4dme-5fold-emotion", {"k = 5": "k = 2", 'id = "4dme-5fold-emotion"': 'id = "t"'})
    protocol = Protocol.from_file(path)
    # sizes A 3, B 2, C 2, D 1, each to the lightest fold: A -> 0 (loads 3, 0); the tie B/C takes the later id
    # first: C -> 1 (3, 2); B -> 1 (3, 4); D -> 0 (4, 4).
    frame = pd.DataFrame({"person": list("AAABBCCD"), "sample_id": [f"s{i}" for i in range(8)]})
    folds = protocol.folds(frame)
    tested = [sorted(set(frame["person"].iloc[test])) for _, test in folds]
    assert tested == [["A", "D"], ["B", "C"]]
    assert group_kfold_assignment(frame["person"], 2) == {"A": 0, "D": 0, "B": 1, "C": 1}


def test_group_kfold_is_deterministic_and_balanced():
    protocol = load_protocol("4dme-5fold-emotion")
    sizes = [9, 7, 7, 5, 5, 5, 3, 3, 2, 2, 2, 1, 1, 1, 1]
    persons = [f"4dme/p{i:02d}" for i, n in enumerate(sizes) for _ in range(n)]
    frame = pd.DataFrame({"person": persons, "sample_id": [f"s{i:03d}" for i in range(len(persons))]})
    rule = group_kfold_assignment(frame["person"], 5)

    def assignment(df: pd.DataFrame) -> dict[str, int]:
        ids = protocol.fold_ids(df.reset_index(drop=True))
        return dict(zip(df["person"], ids.tolist()))

    first = assignment(frame)
    assert first == rule
    assert assignment(frame) == first  # same call, same folds
    for seed in range(3):  # row order does not matter
        shuffled = frame.sample(frac=1.0, random_state=seed)
        assert assignment(shuffled) == first
    loads = Counter(first[p] for p in persons)
    assert len(loads) == 5 and max(loads.values()) - min(loads.values()) <= max(sizes)


def test_lodo_folds_are_the_datasets():
    protocol = load_protocol("merged-lodo-au12")
    frame = synthetic([{"dataset": d, "subject_raw": f"{s}", "clip": f"c{i}", "aus": [1, 12]}
                       for d in ("casme2", "samm", "casme-sq") for s in range(2) for i in range(3)])
    selected = protocol.select(frame)
    assert len(selected) == 18
    assert protocol.fold_groups(selected) == [["casme-sq"], ["casme2"], ["samm"]]
    assert selected["label"].iloc[0] == "AU1+AU12"
    matrix = protocol.label_matrix(selected)
    assert list(matrix.columns) == protocol.classes and matrix["AU1"].all() and not matrix["AU2"].any()


def test_lodo_refuses_a_person_in_two_datasets():
    protocol = load_protocol("merged-lodo-au12")
    frame = synthetic([{"dataset": d, "subject_raw": "1", "person": "same/1", "clip": f"c{i}"}
                       for d in ("casme2", "samm") for i in range(2)])
    with pytest.raises(InputError, match="person 'same/1'"):
        protocol.folds(protocol.select(frame))


def test_too_few_persons_is_an_input_error():
    protocol = load_protocol("4dme-5fold-emotion")
    frame = synthetic([{"dataset": "4dme", "subject_raw": str(s), "emotions": ["positive"]} for s in range(3)])
    with pytest.raises(InputError, match="needs at least 5"):
        protocol.folds(protocol.select(frame))


# ------------------------------------------------------------------------------------------------ labels / GT


def test_merged_4dme_joins_the_label_tuple():
    protocol = load_protocol("merged-loso-4dme")
    frame = synthetic([
        {"clip": "a", "emo_4dme": ["negative", "surprise"]},
        {"clip": "b", "emo_4dme": ["others"]},
        {"clip": "c", "emo_4dme": []},
        {"clip": "d", "expression_type": "macro"},
    ])
    selection = protocol.apply(frame)
    assert dict(zip(selection.rows["clip"], selection.rows["label"])) == {"a": "negative+surprise", "b": "others"}
    reasons = dict(zip(selection.dropped["sample_id"], selection.dropped["reason"]))
    assert reasons["casme2/01/c"].startswith("label: no label")
    assert reasons["casme2/01/d"].startswith("filter: expression_type 'macro'")


def test_spotting_gt_offset_null_uses_the_apex():
    protocol = load_protocol("casme-sq-spotting")
    frame = synthetic([
        {"dataset": "casme-sq", "subject_raw": "s15", "clip": "a", "video_id": "v1", "onset": 10, "apex": 20,
         "offset": 30, "fps": 30.0, "expression_type": "macro"},
        {"dataset": "casme-sq", "subject_raw": "s15", "clip": "b", "video_id": "v1", "onset": 40, "apex": 50,
         "offset": None, "fps": 30.0, "expression_type": "macro"},
        {"dataset": "casme-sq", "subject_raw": "s15", "clip": "c", "video_id": "v1", "onset": 60, "apex": None,
         "offset": None, "fps": 30.0, "expression_type": "micro"},
        {"dataset": "casme-sq", "subject_raw": "s16", "clip": "d", "video_id": None, "onset": 1, "apex": 2,
         "offset": 3, "fps": 30.0},
    ])
    selection = protocol.apply(frame)
    gt = protocol.targets(selection.rows)
    assert gt[["video_id", "onset", "offset"]].values.tolist() == [["v1", 10, 30], ["v1", 40, 50]]
    assert selection.rows["gt_rule"].tolist() == ["annotation", "offset-null->apex"]
    reasons = dict(zip(selection.dropped["sample_id"], selection.dropped["reason"]))
    assert reasons == {"casme-sq/s15/c": "spotting GT: offset and apex missing",
                       "casme-sq/s16/d": "filter: video_id is missing (an interval must belong to a long video)"}
    assert selection.videos["video_id"].tolist() == ["v1"]


def test_spotting_split_writes_videos_and_folds(tmp_path):
    samples = synthetic([{"dataset": "casme-sq", "subject_raw": f"s{s}", "clip": f"c{i}", "video_id": f"s{s}_v{i}",
                          "onset": 10, "apex": 12, "offset": 20, "fps": 30.0, "expression_type": "micro"}
                         for s in (15, 16) for i in range(2)])
    videos = pd.DataFrame({"video_id": ["s15_v0", "s15_v1", "s15_v9", "s16_v0", "s16_v1"], "dataset": "casme-sq",
                           "subject": ["casme-sq/s15"] * 3 + ["casme-sq/s16"] * 2,
                           "person": ["casme-sq/s15"] * 3 + ["casme-sq/s16"] * 2, "fps": 30.0,
                           "n_frames": [100] * 5, "frames_dir": None, "video_path": None})
    corpus = write_corpus(tmp_path / "c", samples, videos)
    out = tmp_path / "split.csv"
    assert main(["split", "--protocol", "casme-sq-spotting", "--corpus", str(corpus), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["video_id", "fold"]
    # the video without any expression (s15_v9) is part of the protocol: detections there are false positives
    assert dict(zip(table["video_id"], table["fold"])) == {"s15_v0": 0, "s15_v1": 0, "s15_v9": 0, "s16_v0": 1,
                                                            "s16_v1": 1}


def test_emg_gt_and_clip_window():
    protocol = load_protocol("casmemg-emg-interval")
    frame = synthetic([
        {"dataset": "casmemg", "subject_raw": "1", "clip": "a", "emg_onset_s": 1.0, "emg_offset_s": 1.4},
        {"dataset": "casmemg", "subject_raw": "1", "clip": "b", "emg_onset_s": None, "emg_offset_s": 2.0},
    ])
    selection = protocol.apply(frame)
    row = selection.rows.iloc[0]
    assert (row["gt_onset_s"], row["gt_offset_s"], row["clip_start_s"], row["clip_end_s"]) == (1.0, 1.4, 0.5, 1.9)
    assert selection.dropped["reason"].tolist() == ["EMG GT: emg_onset_s or emg_offset_s missing"]


def test_fixed_split_reads_its_file_next_to_the_spec(tmp_path):
    path = spec_variant(tmp_path, "casme2-loso-5class", {
        'kind = "loso"': 'kind = "fixed"\nfile = "folds.csv"', 'id = "casme2-loso-5class"': 'id = "fixed-test"'})
    (tmp_path / "folds.csv").write_text("person,fold\ncasme2/01,1\ncasme2/02,0\ncasme2/03,1\n")
    protocol = Protocol.from_file(path)
    frame = synthetic([{"subject_raw": f"0{s}", "clip": f"c{i}", "emotion": "surprise"}
                       for s in (1, 2, 3) for i in range(2)])
    assert protocol.fold_groups(protocol.select(frame)) == [["casme2/02"], ["casme2/01", "casme2/03"]]
    frame = synthetic([{"subject_raw": "04", "emotion": "surprise"}])
    with pytest.raises(InputError, match="does not assign"):
        protocol.folds(protocol.select(frame))
