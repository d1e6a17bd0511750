"""Read-only corpus views: what a model's ``fit(train)`` and ``predict(test)`` see (DESIGN.md section 7).

A ``View`` holds one side of one fold:

- ``view.samples``: a pandas DataFrame of the fold's rows (ids, subject/person, timing, fps, AUs where visible, media
  paths...), index 0..n-1 in the protocol's order (sample_id; spotting: video_id). Every access returns a new frame:
  pandas copy-on-write keeps writes to it out of the view, nested arrays (``aus``...) are read-only and nested
  records (``au_codes``) are fresh copies, so nothing a model writes can leak into another access or another fold.
- ``train.labels``: the protocol's targets aligned with ``train.samples`` (same index, same order, same length):
  a Series of class names (recognition), a 0/1 DataFrame with one column per class (multi-label, AU detection), the
  ground-truth EMG interval table (sample_id, onset_s, offset_s; emg-interval). Spotting is the exception: samples are
  the fold's VIDEOS and ``labels`` is the interval table (video_id, onset, offset, expression_type, sample_id) of those
  videos, several rows per video; ``train.annotations`` has the full annotated rows behind it.
- ``test.labels`` does not exist (AttributeError); ``test.samples`` has no label column at all (see below).
- media helpers for a row (a row of ``samples``, its position, or its sample_id / video_id):
  ``frames(row, start=None, stop=None, gray=False)`` (numpy images of ``frames_dir``; ``frame_paths`` for the
  files), ``emg(row, start_s=None, stop_s=None)`` (the recording in the corpus' ``emg.parquet``), ``mesh(row,
  frame)`` (trimesh mesh from ``mesh_dir``), ``features(extractor, row)`` / ``extract(extractor)`` (through the
  feature cache, ``mebench.cache``).

What the TEST view hides, per task (``hidden_columns``):

- every task: the target columns the protocol adds (``label``; spotting ``gt_*``; emg ``gt_onset_s``...), the native
  emotions ``emotion``, ``emotion_raw``, ``emotions``, ``emotion_self_report``, ``objective_class``, and every
  harmonized label column ``emo_<scheme>`` with its ``emo_<scheme>_rule``;
- au-detection: also the AU annotation ``aus``, ``au_codes``, ``au_raw``, ``au_free_text`` (the AUs ARE the label;
  the emotion columns are hidden too because 4DME's emotions and the AU-based schemes are functions of the AUs and
  would give them away);
- spotting: the annotated intervals are not given at all: the test view's rows are the test videos (video_id,
  dataset, person, fps, n_frames, media paths);
- emg-interval: also the EMG-clock annotation (``emg_onset_s``, ``emg_apex_s``, ``emg_offset_s``) and the same
  expression's video-clock annotation (``onset``/``apex``/``offset`` and their ``_s`` columns). The segment to search,
  ``clip_start_s``/``clip_end_s``, stays: it is the protocol's input (seed 001: annotation +- 0.5 s), which means its
  centre gives the annotation away - flagged in every record (``details.harness.test_view.notes``).

For recognition and multi-label emotion protocols the ground-truth AUs stay VISIBLE: they are inputs of the AU
baselines (``au-rules``, ``au-oracle``), which measure how far labels follow from AUs. Where the label itself is
computed from the AUs (a scheme with AU input, e.g. ``merged-loso-4dme`` = scheme ``4dme``; 4DME's native emotions,
which its annotators derived from the AUs by rules), a model reading the AUs can reproduce the label exactly. That is
a leak by design: fine for an oracle whose whole point is to show it, but a number obtained that way says nothing
about recognising expressions from faces, so the record flags it (``label_from_visible_columns``).

Identifiers stay visible in every view (sample_id, clip, subject, person, source_file/row, inducement_code...): the
harness needs them to match predictions, and a model may need them to find media. Some correlate with the emotion
(CAS(ME)^2 clip names name the stimulus video, 'disgust1_1'; SAMM's inducement code names the stimulus); the record
notes it for the protocols concerned.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np
import pandas as pd

from mebench.emg_table import recordings
from mebench.errors import InputError

if TYPE_CHECKING:
    from mebench.cache import Extractor, FeatureCache
    from mebench.protocol import Protocol

__all__ = ["AU_COLUMNS", "EMOTION_COLUMNS", "EmgSignal", "LabelsHidden", "MediaContext", "ProtocolFacts", "View",
           "frame_number", "hidden_columns", "leak_notes"]

EMOTION_COLUMNS = ("emotion", "emotion_raw", "emotions", "emotion_self_report", "objective_class")
AU_COLUMNS = ("aus", "au_codes", "au_raw", "au_free_text")
TARGET_COLUMNS = ("label", "gt_onset", "gt_offset", "gt_rule", "gt_onset_s", "gt_offset_s")
TIMING_COLUMNS = ("onset", "apex", "offset", "onset_s", "apex_s", "offset_s")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf")
MEDIA_COLUMNS = ("frames_dir", "video_path", "emg_path", "mesh_dir", "grey_path", "rgb_path", "depth_path")
VIDEO_COLUMNS = ("video_id", "dataset", "subject", "person", "fps", "n_frames") + MEDIA_COLUMNS

_DIGITS = re.compile(r"(\d+)")


class LabelsHidden(AttributeError):
    """Raised by ``test.labels``: the harness never gives a model the test fold's labels."""


# ------------------------------------------------------------------------------------------------- protocol facts


@dataclass(frozen=True)
class ProtocolFacts:
    """What a model may know about the protocol it is run on (never the protocol object itself, which could compute
    the test labels): id, task, classes in spec order, where the label comes from."""

    id: str
    version: str
    task: str
    classes: tuple[str, ...]
    datasets: tuple[str, ...]
    label_column: str | None = None
    scheme: str | None = None
    join: str | None = None
    label_map: Mapping[str, str] = field(default_factory=dict)
    emg_window_s: float | None = None

    @classmethod
    def of(cls, protocol: Protocol) -> "ProtocolFacts":
        label = protocol.label
        return cls(
            id=protocol.id, version=protocol.version, task=protocol.task, classes=tuple(protocol.classes),
            datasets=tuple(protocol.datasets),
            label_column=label.column if label is not None else None,
            scheme=label.scheme if label is not None else None,
            join=label.join if label is not None else None,
            label_map=dict(label.mapping) if label is not None else {},
            emg_window_s=protocol.emg.window_s if protocol.emg is not None else None,
        )

    @property
    def is_multilabel(self) -> bool:
        return self.task in ("multilabel", "au-detection")


def hidden_columns(protocol: Protocol | ProtocolFacts, columns: Iterable[str]) -> list[str]:
    """The columns of `columns` the TEST view drops for this protocol (see the module docstring)."""
    facts = protocol if isinstance(protocol, ProtocolFacts) else ProtocolFacts.of(protocol)
    columns = list(columns)
    hide = set(TARGET_COLUMNS) | set(EMOTION_COLUMNS) | {c for c in columns if c.startswith("emo_")}
    if facts.label_column:
        hide.add(facts.label_column)
    if facts.task == "au-detection":
        hide |= set(AU_COLUMNS)
    if facts.task == "emg-interval":
        hide |= {"emg_onset_s", "emg_apex_s", "emg_offset_s"} | set(TIMING_COLUMNS)
        if not isinstance(protocol, ProtocolFacts) and protocol.emg is not None:
            hide |= {protocol.emg.onset, protocol.emg.offset}
    return [c for c in columns if c in hide]


def label_from_aus(protocol: Protocol) -> bool:
    """Whether the protocol's label is computed from the AUs (a scheme with AU input, or 4DME's own emotions)."""
    label = protocol.label
    if label is None or protocol.task == "au-detection":
        return False
    if label.scheme is not None:
        from mebench.labels import load_scheme

        return load_scheme(label.scheme).input == "aus"
    return label.column in ("emotion", "emotions") and set(protocol.datasets) <= {"4dme"}


def leak_notes(protocol: Protocol) -> dict[str, Any]:
    """What the record says about the test view: AUs visible or not, label derivable from visible columns."""
    aus_visible = protocol.task in ("recognition", "multilabel")
    derived = label_from_aus(protocol) and aus_visible
    notes = []
    if derived:
        source = f"label scheme {protocol.label.scheme!r}" if protocol.label and protocol.label.scheme \
            else "4DME's native emotions (derived from the AUs by its annotation rules)"
        notes.append(f"leak by design: the label is computed from the ground-truth AUs ({source}) and the AUs are "
                     "visible in the test view, so a model that reads them (au-rules, au-oracle) can reproduce it; "
                     "such a score measures how far labels follow AUs, not recognition from faces")
    elif aus_visible:
        notes.append("the ground-truth AUs are visible in the test view (inputs of the AU baselines); a model that "
                     "reads them is an oracle, not a face-based recogniser")
    stimulus = [d for d in ("casme-sq", "samm", "samm-lv") if d in protocol.datasets]
    if aus_visible and stimulus:
        notes.append("identifiers stay visible although they name the eliciting stimulus (CAS(ME)^2 clip names such "
                     "as 'disgust1_1', SAMM's inducement_code), which correlates with the emotion; they are needed "
                     "to identify samples, but a model must not read labels off them")
    if protocol.task == "emg-interval":
        notes.append("the test segment clip_start_s..clip_end_s is the annotation +- window_s by the protocol's "
                     "design (seed 001), so its centre gives the annotation away; only detectors that search the "
                     "signal without using the segment's bounds as a prior are meaningful")
    return {"ground_truth_aus_visible": aus_visible, "label_from_visible_columns": derived, "notes": notes}


# ------------------------------------------------------------------------------------------------------- media


@dataclass
class EmgSignal:
    """One EMG recording (or a slice of it): ``signals`` (n_samples, n_channels) float32, ``times`` in EMG-clock
    seconds, the sampling rate and the channel names."""

    signals: np.ndarray
    times: np.ndarray
    sampling_rate: float
    channels: tuple[str, ...]
    recording_id: str


class MediaContext:
    """Where a view's media live: the corpus folder (for relative paths and the ``emg.parquet`` table). Picklable."""

    def __init__(self, corpus_path: str | Path | None) -> None:
        self.corpus_path = Path(corpus_path) if corpus_path is not None else None
        self._emg: dict[str, EmgSignal] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"corpus_path": self.corpus_path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["corpus_path"])

    def resolve(self, value: Any) -> Path | None:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value == "":
            return None
        path = Path(str(value))
        if not path.is_absolute() and self.corpus_path is not None:
            path = self.corpus_path / path
        return path

    def emg_recording(self, dataset: str, video_id: str) -> EmgSignal:
        recording = f"{dataset}/{video_id}"
        if recording in self._emg:
            return self._emg[recording]
        table_path = self.corpus_path / "emg.parquet" if self.corpus_path is not None else None
        if table_path is None or not table_path.is_file():
            raise InputError("the corpus has no EMG table (emg.parquet): build it with the casmemg loader and the "
                             "release's EMG files", file=self.corpus_path)
        import pyarrow.parquet as pq

        table = pq.read_table(table_path, filters=[("recording_id", "=", recording)])
        if table.num_rows == 0:
            raise InputError(f"no EMG recording {recording!r} in emg.parquet", file=table_path)
        rec = next(recordings(table.slice(0, 1)))
        signals = np.asarray(rec.signals, dtype=np.float32) if rec.channels else np.zeros((0, 0), np.float32)
        signal = EmgSignal(signals, rec.times, rec.fs, rec.channels, recording)
        signal.signals.setflags(write=False)
        signal.times.setflags(write=False)
        self._emg[recording] = signal
        return signal


def frame_number(name: str) -> int | None:
    """The frame number in an image/mesh file name: the last run of digits of its stem ('img12.jpg' -> 12,
    '006_00123.jpg' -> 123, 'reg_img5.jpg' -> 5); None when it has none."""
    found = _DIGITS.findall(Path(name).stem)
    return int(found[-1]) if found else None


def _numbered_files(folder: Path, suffixes: tuple[str, ...]) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        raise InputError("media folder not found (an annotation-only corpus, or media moved since the build)",
                         file=folder)
    files = []
    for path in folder.iterdir():
        if path.suffix.lower() in suffixes and path.is_file():
            number = frame_number(path.name)
            if number is not None:
                files.append((number, path))
    files.sort(key=lambda item: (item[0], item[1].name))
    return files


# ------------------------------------------------------------------------------------------------------- the view


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _freeze(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A frame whose nested arrays are read-only (copied once; a frame already frozen is only looked at), and the
    columns whose cells hold mutable records (copied on every access of ``View.samples``)."""
    frame = frame.copy(deep=False)  # copy-on-write: nothing done to it reaches the caller's frame
    deep: list[str] = []
    for column in frame.columns:
        series = frame[column]
        if series.dtype != object:
            continue
        first = next((v for v in series if not _missing(v)), None)
        if isinstance(first, np.ndarray):
            if first.flags.writeable:
                values = []
                for value in series:
                    if isinstance(value, np.ndarray):
                        value = value.copy()
                        value.setflags(write=False)
                    values.append(value)
                frame[column] = pd.Series(values, index=frame.index, dtype=object)
            if first.dtype == object:
                inner = next((a.flat[0] for a in frame[column] if isinstance(a, np.ndarray) and a.size), None)
                if isinstance(inner, (dict, list, np.ndarray, set)):
                    deep.append(column)
        elif isinstance(first, (list, dict, set)):
            deep.append(column)
    return frame, deep


class View:
    """One side of one fold, read-only (see the module docstring). Built by the harness, not by models."""

    def __init__(self, samples: pd.DataFrame, *, role: str, protocol: ProtocolFacts, fold: int | None = None,
                 labels: pd.Series | pd.DataFrame | None = None, annotations: pd.DataFrame | None = None,
                 hidden: Iterable[str] = (), media: MediaContext | None = None,
                 cache: FeatureCache | None = None) -> None:
        self.role = role
        self.protocol = protocol
        self.fold = fold
        self.hidden = tuple(hidden)
        # what an extractor may not see on any view (features are shared between folds, so a feature computed on a
        # training row must not depend on its label either)
        self._feature_hidden = tuple(hidden_columns(protocol, samples.columns))
        self._feature_view: View | None = None
        samples = samples.drop(columns=[c for c in self.hidden if c in samples.columns]).reset_index(drop=True)
        self._samples, self._deep = _freeze(samples)
        self._labels = None
        if labels is not None:
            labels = labels.copy()
            if protocol.task != "spotting":
                if len(labels) != len(self._samples):
                    raise ValueError(f"labels ({len(labels)}) not aligned with samples ({len(self._samples)})")
                labels.index = self._samples.index
            else:
                labels = labels.reset_index(drop=True)
            self._labels = labels
        self._annotations = _freeze(annotations.reset_index(drop=True))[0] if annotations is not None else None
        self.media = media or MediaContext(None)
        self.cache = cache

    def __repr__(self) -> str:
        fold = f", fold={self.fold}" if self.fold is not None else ""
        return f"View(role={self.role!r}{fold}, n={len(self)}, task={self.protocol.task!r})"

    def __len__(self) -> int:
        return len(self._samples)

    # ---- data

    @property
    def task(self) -> str:
        return self.protocol.task

    @property
    def classes(self) -> list[str]:
        return list(self.protocol.classes)

    @property
    def samples(self) -> pd.DataFrame:
        """The fold's rows: a new DataFrame on every access (copy-on-write; nested records copied)."""
        out = self._samples.copy(deep=False)
        for column in self._deep:
            out[column] = pd.Series([copy.deepcopy(v) for v in self._samples[column].tolist()], index=out.index,
                                    dtype=object)
        return out

    @property
    def columns(self) -> list[str]:
        return list(self._samples.columns)

    @property
    def labels(self) -> pd.Series | pd.DataFrame:
        """The protocol's targets, aligned with ``samples`` (train view only)."""
        if self._labels is None:
            raise LabelsHidden(f"the {self.role} view has no labels: the harness never gives a model the test "
                               "fold's labels")
        return self._labels.copy(deep=False)

    @property
    def annotations(self) -> pd.DataFrame | None:
        """Spotting train views: the annotated rows (every column) behind ``labels``; None otherwise."""
        return None if self._annotations is None else self._annotations.copy(deep=False)

    def row(self, row: Any) -> pd.Series:
        """A row of ``samples`` given as itself, its position, or its sample_id (spotting: video_id)."""
        if isinstance(row, pd.Series):
            return row
        if isinstance(row, (int, np.integer)):
            return self._samples.iloc[int(row)].copy()
        if isinstance(row, str):
            for key in ("sample_id", "video_id"):
                if key in self._samples.columns:
                    hit = np.flatnonzero((self._samples[key] == row).to_numpy(dtype=bool, na_value=False))
                    if len(hit):
                        return self._samples.iloc[int(hit[0])].copy()
            raise KeyError(f"no row {row!r} in the {self.role} view")
        if isinstance(row, Mapping):
            return pd.Series(dict(row))
        raise TypeError(f"a row is a samples row, a position or an id, not {type(row).__name__}")

    def _path(self, row: pd.Series, column: str) -> Path:
        value = row.get(column) if hasattr(row, "get") else None
        path = self.media.resolve(value)
        if path is None:
            what = row.get("sample_id", row.get("video_id", "?")) if hasattr(row, "get") else "?"
            raise InputError(f"{what}: no {column} (an annotation-only corpus has no media paths; build it from the "
                             "dataset's root folder)")
        return path

    # ---- media

    def frame_paths(self, row: Any, start: int | None = None, stop: int | None = None) -> list[tuple[int, Path]]:
        """(frame number, file) of the row's ``frames_dir`` images, sorted by frame number; `start`/`stop` are
        inclusive frame numbers in the dataset's own numbering (as onset/apex/offset)."""
        folder = self._path(self.row(row), "frames_dir")
        files = _numbered_files(folder, IMAGE_SUFFIXES)
        return [(n, p) for n, p in files if (start is None or n >= start) and (stop is None or n <= stop)]

    def frames(self, row: Any, start: int | None = None, stop: int | None = None, gray: bool = False) -> np.ndarray:
        """The row's frames as one uint8 array: (T, H, W, 3) RGB, or (T, H, W) with ``gray=True``.

        File names of every dataset are understood (imgN.jpg, <subject>_<frame:05d>.jpg, reg_imgN.jpg: the last
        number of the name is the frame number); frames are sorted numerically; `start`/`stop` are inclusive."""
        import cv2

        paths = self.frame_paths(row, start, stop)
        images = []
        for _, path in paths:
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
            if image is None:
                raise InputError("not a readable image", file=path)
            images.append(image if gray else cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        if not images:
            shape = (0, 0, 0) if gray else (0, 0, 0, 3)
            return np.zeros(shape, dtype=np.uint8)
        if len({i.shape for i in images}) > 1:
            raise InputError("frames of different sizes in one folder", file=paths[0][1].parent)
        return np.stack(images)

    def emg(self, row: Any, start_s: float | None = None, stop_s: float | None = None) -> EmgSignal:
        """The row's EMG recording from the corpus' ``emg.parquet`` (joined by dataset + video_id), optionally cut
        to [start_s, stop_s] on the EMG clock (e.g. ``row.clip_start_s``, ``row.clip_end_s``)."""
        row = self.row(row)
        video = row.get("video_id")
        if video is None or (isinstance(video, float) and np.isnan(video)):
            raise InputError(f"{row.get('sample_id', '?')}: no video_id, so no EMG recording")
        signal = self.media.emg_recording(str(row.get("dataset")), str(video))
        if start_s is None and stop_s is None:
            return signal
        keep = np.ones(len(signal.times), dtype=bool)
        if start_s is not None:
            keep &= signal.times >= float(start_s)
        if stop_s is not None:
            keep &= signal.times <= float(stop_s)
        return EmgSignal(signal.signals[keep], signal.times[keep], signal.sampling_rate, signal.channels,
                         signal.recording_id)

    def mesh(self, row: Any, frame: int) -> Any:
        """The row's mesh of frame number `frame` from ``mesh_dir`` (per-frame OBJ/PLY...), loaded with trimesh."""
        import trimesh

        folder = self._path(self.row(row), "mesh_dir")
        files = _numbered_files(folder, MESH_SUFFIXES)
        for number, path in files:
            if number == int(frame):
                return trimesh.load(str(path), force="mesh", process=False)
        span = f"{files[0][0]}..{files[-1][0]}" if files else "none"
        raise InputError(f"no mesh for frame {frame} (frames present: {span})", file=folder)

    # ---- features

    def label_free(self) -> "View":
        """This view without labels and label columns (what extractors are given); the view itself when it has
        none (test views)."""
        hidden = [c for c in self._feature_hidden if c in self._samples.columns]
        if self._labels is None and self._annotations is None and not hidden:
            return self
        if self._feature_view is None:
            self._feature_view = View(self._samples, role="features", protocol=self.protocol, fold=self.fold,
                                      hidden=hidden, media=self.media, cache=self.cache)
        return self._feature_view

    def features(self, extractor: Extractor, row: Any) -> Any:
        """``extractor(view, row)`` through the feature cache (computed once, then read back; see mebench.cache).
        The extractor gets the label-free view and row: features are shared between folds, so what is computed
        while a sample is in a training part is what it gets when it is in a test part."""
        row = self.row(row)
        hidden = [c for c in self._feature_hidden if c in row.index]
        if hidden:  # (a drop copies the row even when there is nothing to drop: thousands of rows per run)
            row = row.drop(labels=hidden)
        view = self.label_free()
        if self.cache is None:
            return extractor(view, row)
        return self.cache.get_or_compute(extractor, view, row)

    def extract(self, extractor: Extractor) -> np.ndarray:
        """The features of every row of the view, in order, stacked (a list when they cannot be stacked)."""
        values = [self.features(extractor, self._samples.iloc[i]) for i in range(len(self._samples))]
        try:
            return np.stack([np.asarray(v) for v in values]) if values else np.zeros((0,))
        except ValueError:
            return values  # type: ignore[return-value]
