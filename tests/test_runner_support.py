"""Helpers and test models for the harness tests (tests/test_runner*.py, test_cache.py, test_models_au.py).

The models are referenced as `test_runner_support:Class`, the way a user names any importable class."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conftest import real_file
from mebench.corpus import Source, add_label_columns, build_corpus

EMOTIONS = ["disgust", "happiness", "others", "repression", "surprise"]
AUS_OF = {"disgust": [4, 9], "happiness": [6, 12], "others": [1], "repression": [14, 17], "surprise": [1, 2]}
LABEL_WORDS = ("emotion", "emotion_raw", "emotions", "emotion_self_report", "objective_class", "label")


# ------------------------------------------------------------------------------------------------------ corpora


def real_corpus(folder: Path, *, with_casme_sq: bool = False) -> Path:
    """A corpus of the shared real annotation files: CASME II + SAMM (+ CAS(ME)^2)."""
    sources = [Source("casme2", real_file("casme2/CASME2-coding-20140508.xlsx")),
               Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))]
    if with_casme_sq:
        sources.append(Source("casme-sq", real_file("casme-sq/code_final.xlsx")))
    build_corpus(sources, folder)
    return folder


def write_corpus(folder: Path, rows: list[dict[str, Any]], videos: pd.DataFrame | None = None,
                 tables: dict[str, Any] | None = None) -> Path:
    """A small corpus written directly (samples.parquet + corpus.json), with the harmonized label columns."""
    full = []
    for r in rows:
        d = {"subject_raw": "01", "video_id": None, "onset": 1, "apex": 2, "offset": 3, "fps": 200.0,
             "expression_type": "micro", "aus": [1], "emotion": None, "emotions": None, "objective_class": None,
             "errata": [], **r}
        d.setdefault("sample_id", f"{d['dataset']}/{d['subject_raw']}/{d['clip']}")
        d.setdefault("subject", f"{d['dataset']}/{d['subject_raw']}")
        d.setdefault("person", d["subject"])
        if d["emotions"] is None:
            d["emotions"] = [d["emotion"]] if d["emotion"] else []
        full.append(d)
    add_label_columns(full)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(full).to_parquet(folder / "samples.parquet")
    if videos is not None:
        videos.to_parquet(folder / "videos.parquet")
    for name, table in (tables or {}).items():
        import pyarrow.parquet as pq

        pq.write_table(table, folder / f"{name}.parquet")
    meta = {"fingerprint": "f" * 64, "shadow": False,
            "sources": [{"name": d} for d in dict.fromkeys(r["dataset"] for r in full)]}
    (folder / "corpus.json").write_text(json.dumps(meta))
    return folder


def write_frames(folder: Path, names: list[str], size: tuple[int, int] = (6, 8), seed: int = 0) -> Path:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 255, size=(*size, 3), dtype=np.uint8))
    return folder


def casme2_like(folder: Path, *, persons: int = 4, clips: int = 5, frames: bool = True) -> Path:
    """casme2-loso-5class on a hand-made corpus: `persons` subjects x `clips` clips, every emotion present, AUs
    that decide the emotion, and (optionally) three frames per clip."""
    rows = []
    for p in range(persons):
        for c in range(clips):
            emotion = EMOTIONS[(p + c) % len(EMOTIONS)]
            row = {"dataset": "casme2", "subject_raw": f"{p + 1:02d}", "clip": f"EP0{c}_01", "emotion": emotion,
                   "aus": AUS_OF[emotion], "onset": 1, "apex": 2, "offset": 3}
            if frames:
                media = write_frames(folder / "media" / f"sub{p + 1:02d}" / f"EP0{c}_01",
                                     ["img1.jpg", "img2.jpg", "img3.jpg"], seed=p * 100 + c)
                row["frames_dir"] = str(media)
            rows.append(row)
    return write_corpus(folder / "corpus", rows)


# ------------------------------------------------------------------------------------------------------ models


class Majority:
    """Predicts the training fold's most frequent class."""

    name = "majority"
    version = "1"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, train: Any) -> None:
        self.label = train.labels.value_counts().index[0]

    def predict(self, test: Any) -> list[str]:
        return [self.label] * len(test.samples)


class NoFit:
    name = "no-fit"
    version = "1"

    def predict(self, test: Any) -> list[str]:
        return []


class WrongCount(Majority):
    name = "wrong-count"

    def predict(self, test: Any) -> list[str]:
        return [self.label] * (len(test.samples) - 1)


class OutsideClasses(Majority):
    name = "outside"

    def predict(self, test: Any) -> list[str]:
        return ["joy"] * len(test.samples)


class SetSeed:
    """No seed in the constructor: the harness calls set_seed."""

    name = "set-seed"
    version = "2"
    seen: list[int] = []

    def set_seed(self, seed: int) -> None:
        SetSeed.seen.append(seed)

    def fit(self, train: Any) -> None:
        self.label = train.labels.iloc[0]

    def predict(self, test: Any) -> list[str]:
        return [self.label] * len(test)


class Probe:
    """Looks for leaks: records what each view holds, checks alignment, tries to write into the views."""

    name = "probe"
    version = "1"
    instances = 0
    log: list[dict[str, Any]] = []

    def __init__(self, seed: int = 0) -> None:
        Probe.instances += 1
        self.seed = seed
        self.fitted = False

    def fit(self, train: Any) -> None:
        assert not self.fitted, "a model instance was reused between folds"
        self.fitted = True
        samples = train.samples
        labels = train.labels
        entry: dict[str, Any] = {"fold": train.fold, "seed": self.seed, "np_draw": float(np.random.random()),
                                 "train_ids": samples["sample_id"].tolist(),
                                 "aligned": bool(labels.index.equals(samples.index)) and len(labels) == len(samples),
                                 "train_labels": labels.tolist(), "train_label_column": samples["label"].tolist(),
                                 "train_columns": list(samples.columns)}
        # writes must stay in this copy: a new column, a changed cell, a nested record
        samples["leak"] = 1
        samples.loc[0, "clip"] = "written"
        codes = samples["au_codes"].iloc[0]
        if len(codes):
            codes[0]["au"] = 999
        try:
            samples["aus"].iloc[0][0] = 999
            entry["nested_write"] = "allowed"
        except ValueError:
            entry["nested_write"] = "refused"
        again = train.samples
        entry["write_leaked"] = "leak" in again.columns or again.loc[0, "clip"] == "written" or (
            len(again["au_codes"].iloc[0]) and again["au_codes"].iloc[0][0]["au"] == 999) or 999 in list(
            again["aus"].iloc[0])
        Probe.log.append(entry)
        self.entry = entry

    def predict(self, test: Any) -> list[str]:
        samples = test.samples
        self.entry["test_columns"] = list(samples.columns)
        self.entry["test_ids"] = samples["sample_id"].tolist()
        self.entry["test_has_labels"] = hasattr(test, "labels")
        self.entry["leak_in_test"] = "leak" in samples.columns
        return [test.classes[0]] * len(samples)


def _value(sample_id: str, n: int) -> np.ndarray:
    return np.full(n, float(zlib.crc32(sample_id.encode()) % 1000), dtype=np.float32)


class CountingExtractor:
    """Mean intensity of a clip's frames, counting its calls (in memory, and in $MEBENCH_TEST_COUNTS if set)."""

    name = "mean-intensity"
    version = "1"
    params = {"gray": True}
    calls: list[str] = []

    def __call__(self, view: Any, row: Any) -> np.ndarray:
        CountingExtractor.calls.append(row["sample_id"])
        frames = view.frames(row, gray=True)
        return np.array([frames.mean(), float(len(frames))])


class FeatureModel(Majority):
    """Declares an extractor (warmed up by the harness) and reads the features in fit and predict."""

    name = "feature-model"
    extractors = [CountingExtractor()]

    def fit(self, train: Any) -> None:
        super().fit(train)
        self.x_train = train.extract(self.extractors[0])
        assert self.x_train.shape == (len(train), 2)

    def predict(self, test: Any) -> list[str]:
        x = test.extract(self.extractors[0])
        assert x.shape == (len(test), 2)
        return super().predict(test)


class BigExtractor:
    """A large entry per row (for the kill test); appends each call to $MEBENCH_TEST_COUNTS."""

    name = "big"
    version = "1"
    params = {"n": 1 << 19}

    def __call__(self, view: Any, row: Any) -> np.ndarray:
        with open(os.environ["MEBENCH_TEST_COUNTS"], "a") as handle:
            handle.write(row["sample_id"] + "\n")
        return _value(row["sample_id"], self.params["n"])


class BigFeatureModel(Majority):
    name = "big-feature-model"
    extractors = [BigExtractor()]


class SpotProbe:
    """Spotting: train/test views are videos; train.labels the intervals; predicts one interval per test video."""

    name = "spot-probe"
    version = "1"
    log: list[dict[str, Any]] = []

    def fit(self, train: Any) -> None:
        videos = train.samples
        labels = train.labels
        SpotProbe.log.append({"role": "train", "columns": list(videos.columns), "videos": videos["video_id"].tolist(),
                              "label_videos": sorted(set(labels["video_id"])), "label_columns": list(labels.columns),
                              "annotation_columns": list(train.annotations.columns)})

    def predict(self, test: Any) -> pd.DataFrame:
        videos = test.samples
        SpotProbe.log.append({"role": "test", "columns": list(videos.columns), "videos": videos["video_id"].tolist(),
                              "has_labels": hasattr(test, "labels"), "annotations": test.annotations})
        return pd.DataFrame({"video_id": videos["video_id"], "onset": 10, "offset": 14, "score": 0.9})


class AuProbe:
    """AU detection: predicts the AUs frequent in training, as a 0/1 matrix or as label tuples."""

    name = "au-probe"
    version = "1"
    log: list[dict[str, Any]] = []

    def __init__(self, form: str = "matrix", seed: int = 0) -> None:
        self.form = form

    def fit(self, train: Any) -> None:
        labels = train.labels
        assert list(labels.columns) == train.classes and labels.index.equals(train.samples.index)
        self.active = [c for c in labels.columns if labels[c].mean() >= 0.5]

    def predict(self, test: Any) -> Any:
        AuProbe.log.append({"columns": list(test.samples.columns)})
        n = len(test)
        if self.form == "matrix":
            return np.array([[1 if c in self.active else 0 for c in test.classes]] * n)
        return [tuple(int(c[2:]) for c in self.active)] * n


class EmgProbe:
    """EMG interval: reads each test segment's signal, returns the middle half of the segment."""

    name = "emg-probe"
    version = "1"
    log: list[dict[str, Any]] = []

    def fit(self, train: Any) -> None:
        assert {"onset_s", "offset_s"} <= set(train.labels.columns)

    def predict(self, test: Any) -> Any:
        samples = test.samples
        out = []
        for _, row in samples.iterrows():
            signal = test.emg(row, row["clip_start_s"], row["clip_end_s"])
            EmgProbe.log.append({"columns": list(samples.columns), "shape": signal.signals.shape,
                                 "t0": float(signal.times[0]) if len(signal.times) else None})
            width = row["clip_end_s"] - row["clip_start_s"]
            out.append((row["clip_start_s"] + width / 4, row["clip_end_s"] - width / 4))
        return out
