"""`mebench score`: perfect predictions score 1 with a section-7 results record; every invalid predictions file is
exit code 2 with a message naming the first offending rows, no traceback and nothing written; spotting predictions
without expression_type are typed by duration at their video's fps."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import real_file
from mebench.cli import main
from mebench.corpus import Source, build_corpus
from mebench.metrics import uf1
from mebench.protocol import load_corpus, load_protocol
from mebench.results import RECORD_KEYS

SPOT_FPS = {"s15_0101": 30.0, "s16_0101": 10.0}


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("score") / "corpus"
    build_corpus([Source("casme2", real_file("casme2/CASME2-coding-20140508.xlsx")),
                  Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))], out)
    return out


@pytest.fixture(scope="module")
def truth(real_corpus) -> pd.DataFrame:
    """sample_id,label of megc2019-cd-3class on the real files: the perfect predictions."""
    selected = load_protocol("megc2019-cd-3class").select(load_corpus(real_corpus))
    return selected[["sample_id", "label"]].astype(str)


def write_corpus(folder: Path, samples: list[dict], videos: pd.DataFrame | None = None) -> Path:
    """A small corpus written directly (samples.parquet + corpus.json) with the columns a protocol reads."""
    rows = []
    for r in samples:
        d = {"subject_raw": "s15", "video_id": None, "onset": None, "apex": None, "offset": None, "fps": 30.0,
             "expression_type": "micro", "aus": [1], "emotion": None, **r}
        d.setdefault("sample_id", f"{d['dataset']}/{d['subject_raw']}/{d['clip']}")
        d.setdefault("subject", f"{d['dataset']}/{d['subject_raw']}")
        d.setdefault("person", d["subject"])
        rows.append(d)
    folder.mkdir(parents=True)
    frame = pd.DataFrame(rows)
    frame.to_parquet(folder / "samples.parquet")
    if videos is not None:
        videos.to_parquet(folder / "videos.parquet")
    meta = {"fingerprint": "f" * 64, "shadow": False, "sources": [{"name": d} for d in dict.fromkeys(frame.dataset)]}
    (folder / "corpus.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture
def spotting_corpus(tmp_path) -> Path:
    """Two persons, one video each (30 fps and 10 fps, 300 frames), a micro and a macro interval per video."""
    samples = []
    for subject, video in (("s15", "s15_0101"), ("s16", "s16_0101")):
        samples += [
            {"dataset": "casme-sq", "subject_raw": subject, "clip": "disgust1_1", "video_id": video, "onset": 10,
             "apex": 12, "offset": 14, "fps": SPOT_FPS[video], "expression_type": "micro"},
            {"dataset": "casme-sq", "subject_raw": subject, "clip": "disgust1_2", "video_id": video, "onset": 100,
             "apex": 130, "offset": None, "fps": SPOT_FPS[video], "expression_type": "macro"},
        ]
    videos = pd.DataFrame({"video_id": list(SPOT_FPS), "dataset": "casme-sq",
                           "subject": ["casme-sq/s15", "casme-sq/s16"], "person": ["casme-sq/s15", "casme-sq/s16"],
                           "fps": list(SPOT_FPS.values()), "n_frames": [300, 300], "frames_dir": None,
                           "video_path": None})
    return write_corpus(tmp_path / "spot", samples, videos)


@pytest.fixture
def emg_corpus(tmp_path) -> Path:
    samples = [{"dataset": "casmemg", "subject_raw": str(s), "clip": str(i), "emg_onset_s": 1.0 + i,
                "emg_offset_s": 1.3 + i} for s in (1, 2) for i in range(3)]
    return write_corpus(tmp_path / "emg", samples)


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def score(protocol: str, corpus: Path, predictions: Path, out: Path | None = None) -> int:
    args = ["score", "--protocol", protocol, "--corpus", str(corpus), "--predictions", str(predictions)]
    return main(args + (["--out", str(out)] if out is not None else []))


# ------------------------------------------------------------------------------------------------ scoring


def test_perfect_predictions_give_one_and_a_section_7_record(real_corpus, truth, tmp_path, capsys):
    predictions = write_csv(tmp_path / "perfect.csv", ["sample_id", "label"], truth.values.tolist())
    out = tmp_path / "results.json"
    assert score("megc2019-cd-3class", real_corpus, predictions, out) == 0
    record = json.loads(out.read_text())
    assert set(RECORD_KEYS) <= set(record)
    protocol = load_protocol("megc2019-cd-3class")
    assert record["protocol"] == {"id": protocol.id, "version": protocol.version, "sha256": protocol.sha256}
    meta = json.loads((real_corpus / "corpus.json").read_text())
    assert record["corpus"] == {"fingerprint": meta["fingerprint"], "shadow": False, "datasets": ["casme2", "samm"]}
    assert record["submission"] == {"name": "perfect", "kind": "predictions",
                                    "predictions_sha256": hashlib.sha256(predictions.read_bytes()).hexdigest(),
                                    "predictions_file": predictions.name, "model": None, "seeds": None}
    assert record["metrics"] == {"uf1": 1.0, "uar": 1.0, "accuracy": 1.0}
    assert len(record["per_fold"]) == 52 and all(f["uf1"] == 1.0 for f in record["per_fold"])
    assert record["ci"]["uf1"]["low"] == record["ci"]["uf1"]["high"] == 1.0
    assert record["ci"]["uf1"]["n_boot"] == 1000 and record["ci"]["uf1"]["seed"] == 0
    assert record["mebench_version"] and record["created"].endswith("Z")
    printed = capsys.readouterr().out
    assert "uf1" in printed and "1.0000" in printed


def test_metrics_are_pooled_over_folds(real_corpus, truth, tmp_path):
    wrong = truth.copy()
    wrong.loc[wrong.index[::3], "label"] = "negative"
    predictions = tmp_path / "pred.parquet"
    wrong.to_parquet(predictions)  # Parquet predictions are read too
    out = tmp_path / "results.json"
    assert score("megc2019-cd-3class", real_corpus, predictions, out) == 0
    record = json.loads(out.read_text())
    classes = ["negative", "positive", "surprise"]
    assert record["metrics"]["uf1"] == pytest.approx(uf1(truth["label"].tolist(), wrong["label"].tolist(), classes))
    fold_mean = np.mean([f["uf1"] for f in record["per_fold"]])
    assert record["metrics"]["uf1"] != pytest.approx(fold_mean)
    ci = record["ci"]["uf1"]
    assert ci["low"] <= record["metrics"]["uf1"] <= ci["high"]


def test_labels_are_read_leniently_but_exactly(real_corpus, truth, tmp_path):
    shouted = truth.copy()
    shouted["label"] = " " + shouted["label"].str.upper() + " "
    predictions = write_csv(tmp_path / "p.csv", ["sample_id", "label"], shouted.values.tolist())
    out = tmp_path / "r.json"
    assert score("megc2019-cd-3class", real_corpus, predictions, out) == 0
    assert json.loads(out.read_text())["metrics"]["uf1"] == 1.0


# ------------------------------------------------------------------------------------------------ validation


def _bad_recognition(truth: pd.DataFrame, path: Path, case: str) -> Path:
    rows = truth.values.tolist()
    if case == "duplicated":
        rows.append(rows[3])  # file row 2 + 278 = 280 repeats file row 5
    elif case == "missing":
        del rows[10:13]
    elif case == "unknown":
        rows[3][0] = "casme2/99/EP00_00"
    elif case == "outside":
        rows[2][1] = "joy"
    elif case == "nan":
        rows[4][1] = "NaN"
    elif case == "empty":
        rows[5][1] = ""
    elif case == "malformed":
        lines = ["sample_id,label"] + [",".join(r) for r in rows]
        lines[6] += ",extra"
        path.write_text("\n".join(lines) + "\n")
        return path
    elif case == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
        return path
    elif case == "columns":
        return write_csv(path, ["sample_id", "prediction"], rows)
    elif case == "quoting":
        lines = ["sample_id,label"] + [",".join(r) for r in rows]
        lines[8] = lines[8].replace(",", ',"', 1) + '"x'
        path.write_text("\n".join(lines) + "\n")
        return path
    return write_csv(path, ["sample_id", "label"], rows)


@pytest.mark.parametrize("case, expected", [
    ("duplicated", "row 280: duplicated sample_id ('casme2/02/EP01_11f' first at row 5)"),
    ("missing", "missing test samples: 3 of the protocol's 278 samples have no row"),
    ("unknown", "row 5: unknown sample_id: not a sample of this protocol on this corpus ('casme2/99/EP00_00')"),
    ("outside", "row 4: label outside the protocol's classes ['negative', 'positive', 'surprise'] ('joy')"),
    ("nan", "row 6: label is empty or NaN"),
    ("empty", "row 7: label is empty or NaN"),
    ("malformed", "row 7: malformed CSV: 3 field(s) where the header has 2"),
    ("binary", "binary file"),
    ("columns", "missing column(s) ['label']"),
    ("quoting", "row 9: malformed CSV"),
])
def test_invalid_recognition_predictions_are_exit_2(real_corpus, truth, tmp_path, capsys, case, expected):
    predictions = _bad_recognition(truth, tmp_path / f"{case}.csv", case)
    out = tmp_path / "results.json"
    assert score("megc2019-cd-3class", real_corpus, predictions, out) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert str(predictions) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [predictions.name]  # nothing written, no temp file


def test_first_offending_rows_are_listed(real_corpus, truth, tmp_path, capsys):
    rows = truth.values.tolist()
    for i in (1, 4, 9, 15, 20, 30, 40):
        rows[i][1] = "maybe"
    predictions = write_csv(tmp_path / "p.csv", ["sample_id", "label"], rows)
    assert score("megc2019-cd-3class", real_corpus, predictions) == 2
    assert "rows 3, 6, 11, 17, 22 and 2 more: label outside" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ spotting


def test_spotting_perfect_and_typed_by_duration_at_the_video_fps(spotting_corpus, tmp_path):
    # 10 frames are 0.3 s at 30 fps (micro) but 1.0 s at 10 fps (macro): the same interval is typed differently.
    predictions = write_csv(tmp_path / "p.csv", ["video_id", "onset", "offset"], [
        ["s15_0101", 10, 14], ["s15_0101", 100, 130],   # both GT found (macro GT offset = its apex, 130)
        ["s15_0101", 200, 209],                          # 9 frames at 30 fps = 0.3 s -> micro, a false positive
        ["s16_0101", 100, 130],                          # macro GT found
        ["s16_0101", 10, 14],                            # 4 frames at 10 fps = 0.4 s -> micro, found
        ["s16_0101", 200, 209],                          # 0.9 s at 10 fps -> macro, a false positive
    ])
    out = tmp_path / "r.json"
    assert score("casme-sq-spotting", spotting_corpus, predictions, out) == 0
    record = json.loads(out.read_text())
    metrics = record["metrics"]
    assert {k: metrics["micro"][k] for k in ("tp", "fp", "fn")} == {"tp": 2, "fp": 1, "fn": 0}
    assert {k: metrics["macro"][k] for k in ("tp", "fp", "fn")} == {"tp": 2, "fp": 1, "fn": 0}
    assert metrics["overall"]["f1"] == pytest.approx(0.8)
    assert set(metrics["metrics_at_iou"]) == {"0.4", "0.3"}
    assert [f["test"] for f in record["per_fold"]] == [["casme-sq/s15"], ["casme-sq/s16"]]
    assert record["details"]["gt_offset_from_apex"] == 2
    assert set(RECORD_KEYS) <= set(record) and record["ci"] == {}


def test_spotting_expression_type_column_is_used(spotting_corpus, tmp_path):
    predictions = write_csv(tmp_path / "p.csv", ["video_id", "onset", "offset", "score", "expression_type"], [
        ["s15_0101", 10, 14, 0.9, "micro"], ["s15_0101", 100, 130, 0.8, "MICRO"],  # typed micro: misses macro GT
        ["s16_0101", 10, 14, 0.5, ""], ["s16_0101", 100, 130, 0.5, "macro"],
    ])
    out = tmp_path / "r.json"
    assert score("casme-sq-spotting", spotting_corpus, predictions, out) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert (metrics["macro"]["tp"], metrics["macro"]["fn"], metrics["micro"]["fp"]) == (1, 1, 1)


@pytest.mark.parametrize("rows, expected", [
    ([["s15_0101", 10, 14], ["s15_0101", 30, 20]], "row 3: onset > offset (30 > 20)"),
    ([["s15_0101", 10, 14], ["s99_0101", 1, 2]], "row 3: unknown video_id"),
    ([["s15_0101", 10, 400]], "row 2: frames outside the video: offset beyond its last frame"),
    ([["s15_0101", -1, 4]], "row 2: frames outside the video: onset < 0"),
    ([["s15_0101", 10.5, 14]], "row 2: onset is not a whole frame number"),
    ([["s15_0101", "", 14]], "row 2: onset is empty or NaN"),
])
def test_invalid_spotting_predictions_are_exit_2(spotting_corpus, tmp_path, capsys, rows, expected):
    predictions = write_csv(tmp_path / "p.csv", ["video_id", "onset", "offset"], rows)
    out = tmp_path / "r.json"
    assert score("casme-sq-spotting", spotting_corpus, predictions, out) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists()


def test_spotting_with_no_detection_at_all_scores_zero(spotting_corpus, tmp_path):
    predictions = write_csv(tmp_path / "p.csv", ["video_id", "onset", "offset"], [])
    out = tmp_path / "r.json"
    assert score("casme-sq-spotting", spotting_corpus, predictions, out) == 0
    overall = json.loads(out.read_text())["metrics"]["overall"]
    assert (overall["tp"], overall["fp"], overall["fn"], overall["f1"]) == (0, 0, 4, 0.0)


# ------------------------------------------------------------------------------------------------ emg, AU


def test_emg_interval_scores_both_overlaps(emg_corpus, tmp_path):
    ids = [f"casmemg/{s}/{i}" for s in (1, 2) for i in range(3)]
    rows = [[sid, 1.0 + int(sid[-1]), 1.3 + int(sid[-1])] for sid in ids]
    rows[0][1:] = ["", ""]            # not detected
    rows[1][1:] = [2.0, 2.6]          # [2.0, 2.6] vs GT [2.0, 2.3]: IoU 0.5, min-overlap 1.0
    predictions = write_csv(tmp_path / "p.csv", ["sample_id", "onset_s", "offset_s"], rows)
    out = tmp_path / "r.json"
    assert score("casmemg-emg-interval", emg_corpus, predictions, out) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["n"] == 6 and metrics["n_nan"] == 1
    assert metrics["mean_iou"] == pytest.approx((4 + 0.5) / 5)
    assert metrics["p_iou_gt_0.5"] == pytest.approx(4 / 6)
    assert metrics["min_overlap"]["mean_iou"] == pytest.approx(1.0)


def test_emg_half_empty_interval_is_exit_2(emg_corpus, tmp_path, capsys):
    ids = [f"casmemg/{s}/{i}" for s in (1, 2) for i in range(3)]
    rows = [[sid, 1.0, 1.2] for sid in ids]
    rows[2][2] = ""
    predictions = write_csv(tmp_path / "p.csv", ["sample_id", "onset_s", "offset_s"], rows)
    assert score("casmemg-emg-interval", emg_corpus, predictions) == 2
    assert "row 4: only one of onset_s/offset_s is empty" in capsys.readouterr().err


def test_au_detection_predictions(tmp_path, capsys):
    samples = [{"dataset": d, "subject_raw": str(s), "clip": f"c{i}", "aus": [1, 12] if i else [4]}
               for d in ("casme2", "samm") for s in range(2) for i in range(2)]
    corpus = write_corpus(tmp_path / "au", samples)
    protocol = load_protocol("merged-lodo-au12")
    selected = protocol.select(load_corpus(corpus))
    matrix = protocol.label_matrix(selected)
    rows = [[sid, *values] for sid, values in zip(selected["sample_id"], matrix.values.tolist())]
    good = write_csv(tmp_path / "good.csv", ["sample_id", *protocol.classes], rows)
    out = tmp_path / "r.json"
    assert score("merged-lodo-au12", corpus, good, out) == 0
    record = json.loads(out.read_text())
    per_label = record["metrics"]["per_label"]
    assert list(per_label) == protocol.classes and record["metrics"]["accuracy"] == 1.0
    # AUs that never occur have an undefined F1, scored 0 (seed 004 / scikit-learn): only the three present score 1
    assert [a for a, m in per_label.items() if m["f1"] == 1.0] == ["AU1", "AU4", "AU12"]
    assert record["metrics"]["f1"] == pytest.approx(3 / 12)
    assert [f["test"] for f in record["per_fold"]] == [["casme2"], ["samm"]]
    rows[1][3] = 2
    bad = write_csv(tmp_path / "bad.csv", ["sample_id", *protocol.classes], rows)
    assert score("merged-lodo-au12", corpus, bad) == 2
    assert "row 3: AU4 must be 0 or 1 ('2')" in capsys.readouterr().err


def test_multilabel_emotion_predictions(tmp_path, capsys):
    emotions = [["positive", "surprise"], ["negative"]]
    samples = [{"dataset": "4dme", "subject_raw": f"{s:02d}", "clip": f"c{i}", "emotions": emotions[i]}
               for s in range(6) for i in range(2)]
    corpus = write_corpus(tmp_path / "4dme", samples)
    ids = [f"4dme/{s:02d}/c{i}" for s in range(6) for i in range(2)]
    rows = [[sid, "Surprise+Positive" if sid.endswith("c0") else "negative"] for sid in ids]
    good = write_csv(tmp_path / "good.csv", ["sample_id", "labels"], rows)
    out = tmp_path / "r.json"
    assert score("4dme-5fold-emotion", corpus, good, out) == 0
    record = json.loads(out.read_text())
    per_label = record["metrics"]["per_label"]
    assert {k: v["f1"] for k, v in per_label.items()} == {"negative": 1.0, "others": 0.0, "positive": 1.0,
                                                          "repression": 0.0, "surprise": 1.0}
    assert len(record["per_fold"]) == 5 and record["ci"]["f1"]["n_boot"] == 1000
    rows[7][1] = "positive+joy"
    bad = write_csv(tmp_path / "bad.csv", ["sample_id", "labels"], rows)
    assert score("4dme-5fold-emotion", corpus, bad) == 2
    assert "row 9: labels outside the protocol's classes" in capsys.readouterr().err
