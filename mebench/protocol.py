"""Protocols: frozen TOML specs that say which samples are scored, with which label, in which folds.

Why specs are data: a protocol is a contract between everyone who reports a number on it. Keeping it in a TOML file
(`protocols/<id>.toml`, shipped as ``mebench.protocols``) makes the contract readable by people who do not read
Python, diffable, and citable: the sha256 of the file's bytes goes into every results record, so two numbers on the
same protocol id and sha256 were computed on the same samples, labels and folds.

This module is the one engine that reads every spec:

- ``load_protocol(id_or_path)`` / ``load_protocols()`` / ``protocol_ids()``: read and validate specs (an unknown key,
  task or split kind is an ``InputError`` naming the spec file, at load time, not when a score is half computed);
- ``Protocol.apply(corpus)`` -> ``Selection``: the rows the protocol scores (sorted by sample_id), each with its
  target (``label`` for recognition, '+'-joined labels for multi-label / AU detection, GT interval columns for
  spotting and EMG), and the rows it dropped with the reason (nothing is dropped silently);
- ``Protocol.folds(frame)``: the folds, from scikit-learn's group splitters over ``person`` (or ``dataset`` for
  leave-one-dataset-out), checked so that no person is ever on both sides of a fold;
- ``Protocol.split_table(corpus)``: what ``mebench split`` writes, so anyone can see exactly what is scored.

Data flows one way: this module reads the corpus, the label schemes and scikit-learn; nothing upstream imports it.

Spec format (every key is checked; see the shipped files for worked examples)::

    id, version, title, task, datasets, notes          task: recognition | multilabel | au-detection | spotting |
    [[sources]] paper, where                                 emg-interval
    [filter]
      [[filter.where]]   column, in | not_in | not_null | nonempty, dataset (scope: only rows of that dataset), reason
      [[filter.exclude]] sample_id, reason
    [label]            column | scheme, classes, map {native -> class}, join, empty (keep|drop), dropped (words)
    [split]            kind (loso | group-kfold | lodo | fixed), group, k, rule (words), file (fixed)
    [metrics]          main, report, aggregation (words); [metrics.ci] method, n_boot, seed, level
    [spotting]         iou, iou_also, matcher, gt_offset_missing (apex|drop), micro_max_s, gt, matching (words)
    [emg]              onset, offset (corpus columns, seconds), window_s, overlap, overlap_also
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from mebench.errors import InputError

__all__ = [
    "SPLIT_KINDS",
    "TASKS",
    "Corpus",
    "Protocol",
    "Selection",
    "group_kfold_assignment",
    "load_corpus",
    "load_protocol",
    "load_protocols",
    "protocol_ids",
]

TASKS = ("recognition", "multilabel", "au-detection", "spotting", "emg-interval")
SPLIT_KINDS = ("loso", "group-kfold", "lodo", "fixed")
MULTILABEL_TASKS = ("multilabel", "au-detection")
LABEL_TASKS = ("recognition",) + MULTILABEL_TASKS
MATCHERS = ("greedy", "megc2020")
OVERLAPS = ("iou", "min")

# Which main metric each task may name (keys of the results record's `metrics`).
MAIN_METRICS = {
    "recognition": ("uf1", "uar", "accuracy"),
    "multilabel": ("f1", "accuracy"),
    "au-detection": ("f1", "accuracy"),
    "spotting": ("overall.f1", "micro.f1", "macro.f1"),
    "emg-interval": ("mean_iou", "p_iou_gt_0.5", "n_nan", "onset_mae", "offset_mae"),
}

# Allowed keys per table: a typo ('clases') must fail loudly, never be ignored.
_KEYS: dict[str, set[str]] = {
    "": {"id", "version", "title", "task", "datasets", "notes", "sources", "filter", "label", "split", "metrics",
         "spotting", "emg"},
    "sources": {"paper", "where"},
    "filter": {"where", "exclude"},
    "filter.where": {"column", "in", "not_in", "not_null", "nonempty", "dataset", "reason"},
    "filter.exclude": {"sample_id", "reason"},
    "label": {"column", "scheme", "classes", "map", "join", "empty", "dropped"},
    "split": {"kind", "group", "k", "rule", "file"},
    "metrics": {"main", "report", "aggregation", "ci"},
    "metrics.ci": {"method", "n_boot", "seed", "level"},
    "spotting": {"iou", "iou_also", "matcher", "gt_offset_missing", "micro_max_s", "gt", "matching"},
    "emg": {"onset", "offset", "window_s", "overlap", "overlap_also"},
}

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MISSING_TEXT = {"", "nan", "none", "null"}


# ---------------------------------------------------------------------------------------------------- spec parts


@dataclass(frozen=True)
class Condition:
    """One `[[filter.where]]` row condition; with `dataset` it constrains only that dataset's rows."""

    column: str
    values_in: tuple[str, ...] | None = None
    values_not_in: tuple[str, ...] | None = None
    not_null: bool = False
    nonempty: bool = False
    dataset: str | None = None
    reason: str | None = None

    def failing(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """(mask of rows that fail, the reason for each failing row, in mask order)."""
        scope = np.ones(len(frame), dtype=bool) if self.dataset is None else (frame["dataset"] == self.dataset)
        scope = np.asarray(scope, dtype=bool)
        values = frame[self.column].tolist()
        fail = np.zeros(len(frame), dtype=bool)
        why: list[str] = []
        for i, value in enumerate(values):
            if not scope[i]:
                continue
            problem = self._problem(value)
            if problem:
                fail[i] = True
                why.append(problem + (f" ({self.reason})" if self.reason else ""))
        return fail, why

    def _problem(self, value: Any) -> str | None:
        if self.nonempty:
            if not _as_list(value):
                return f"{self.column} is empty"
            return None
        text = _as_text(value)
        if self.not_null and text is None:
            return f"{self.column} is missing"
        if self.values_in is not None and text not in self.values_in:
            return f"{self.column} {text!r} not in {list(self.values_in)}"
        if self.values_not_in is not None and text in self.values_not_in:
            return f"{self.column} {text!r} is excluded"
        return None


@dataclass(frozen=True)
class LabelSpec:
    """Where the target comes from: a corpus column or a label scheme's column, mapped into the class list."""

    classes: tuple[str, ...]
    column: str
    scheme: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    join: str | None = None
    empty: str = "drop"
    dropped: str | None = None


@dataclass(frozen=True)
class SplitSpec:
    kind: str
    group: str
    k: int | None = None
    rule: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class CISpec:
    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    method: str = "percentile bootstrap resampling persons"


@dataclass(frozen=True)
class MetricsSpec:
    main: str
    report: tuple[str, ...]
    aggregation: str | None
    ci: CISpec | None


@dataclass(frozen=True)
class SpottingSpec:
    iou: float = 0.5
    iou_also: tuple[float, ...] = (0.4, 0.3)
    matcher: str = "greedy"
    gt_offset_missing: str = "apex"
    micro_max_s: float = 0.5


@dataclass(frozen=True)
class EmgSpec:
    onset: str = "emg_onset_s"
    offset: str = "emg_offset_s"
    window_s: float = 0.5
    overlap: str = "iou"
    overlap_also: tuple[str, ...] = ("min",)


@dataclass
class Selection:
    """What a protocol makes of a corpus.

    rows: the scored samples, sorted by sample_id, index 0..n-1, with the target columns added (`label`;
    spotting: gt_onset, gt_offset, gt_rule; emg: gt_onset_s, gt_offset_s, clip_start_s, clip_end_s).
    dropped: sample_id, dataset, reason for every row of the protocol's datasets that is not scored.
    videos: spotting only: video_id, dataset, person, fps, n_frames, the units the folds are made of.
    """

    rows: pd.DataFrame
    dropped: pd.DataFrame
    videos: pd.DataFrame | None = None


@dataclass
class Corpus:
    """A built corpus read back: corpus.json, samples.parquet and (long-video datasets) videos.parquet."""

    path: Path
    meta: dict[str, Any]
    samples: pd.DataFrame
    videos: pd.DataFrame | None


def load_corpus(path: str | Path) -> Corpus:
    """Read a corpus folder written by `mebench build` (InputError if it is not one)."""
    from mebench.corpus import read_meta, read_samples, read_videos

    path = Path(path)
    meta = read_meta(path)
    samples = read_samples(path)
    videos = read_videos(path)
    return Corpus(path, meta, samples, videos)


# ------------------------------------------------------------------------------------------------ small helpers


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, np.floating) and bool(np.isnan(value))


def _as_text(value: Any) -> str | None:
    """A scalar cell as the text a spec compares with: None for missing, whole floats without '.0'."""
    if _is_missing(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    text = str(value).strip()
    return text or None


def _as_list(value: Any) -> list[Any]:
    """A list cell (pyarrow gives numpy arrays) as a Python list; missing -> []."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [v for v in value if not _is_missing(v)]
    if _is_missing(value):
        return []
    return [value]


def _frames_as_int(series: pd.Series) -> pd.Series:
    """Frame columns come back from Parquet as float when they have nulls: nullable Int64 again."""
    return pd.to_numeric(series, errors="coerce").round().astype("Int64")


# ------------------------------------------------------------------------------------------------ spec validation


class _Spec:
    """Reads one parsed TOML document into typed parts, raising InputError(file=...) for anything off-contract."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    def fail(self, message: str) -> InputError:
        return InputError(f"invalid protocol spec: {message}", file=self.source)

    def keys(self, table: Any, name: str) -> dict[str, Any]:
        label = name or "the top level"
        if not isinstance(table, dict):
            raise self.fail(f"[{name}] must be a table")
        unknown = sorted(set(table) - _KEYS[name])
        if unknown:
            raise self.fail(f"unknown key(s) {unknown} in {label}; allowed: {sorted(_KEYS[name])}")
        return table

    def get(self, table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, *, required: bool = False,
            default: Any = None) -> Any:
        if key not in table:
            if required:
                raise self.fail(f"missing required key {where}{key!r}")
            return default
        value = table[key]
        if isinstance(value, bool) and kind is not bool and (kind is int or kind == (int, float)):
            raise self.fail(f"{where}{key} must be {getattr(kind, '__name__', kind)}, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{where}{key} must be {names}, got {value!r}")
        return value

    def strings(self, table: dict[str, Any], key: str, where: str, *, required: bool = False,
                numbers: bool = False) -> tuple[str, ...] | None:
        value = self.get(table, key, list, where, required=required)
        if value is None:
            return None
        allowed = (str, int, float) if numbers else (str,)
        if not all(isinstance(v, allowed) and not isinstance(v, bool) for v in value):
            raise self.fail(f"{where}{key} must be a list of strings, got {value!r}")
        return tuple(str(v) for v in value)


@dataclass(frozen=True)
class _Parsed:
    id: str
    version: str
    title: str
    task: str
    datasets: tuple[str, ...]
    notes: str
    sources: tuple[dict[str, str], ...]
    conditions: tuple[Condition, ...]
    excludes: Mapping[str, str]
    label: LabelSpec | None
    split: SplitSpec
    metrics: MetricsSpec
    spotting: SpottingSpec | None
    emg: EmgSpec | None


def _parse(data: dict[str, Any], source: str) -> _Parsed:
    s = _Spec(data, source)
    top = s.keys(data, "")
    pid = s.get(top, "id", str, "", required=True)
    if not _ID.match(pid):
        raise s.fail(f"id {pid!r} must be lowercase letters, digits and '-'")
    version = s.get(top, "version", str, "", required=True)
    title = s.get(top, "title", str, "", required=True)
    task = s.get(top, "task", str, "", required=True)
    if task not in TASKS:
        raise s.fail(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    datasets = s.strings(top, "datasets", "", required=True)
    if not datasets or len(set(datasets)) != len(datasets):
        raise s.fail("datasets must be a non-empty list without duplicates")
    notes = s.get(top, "notes", str, "", default="").strip()

    sources = []
    for item in s.get(top, "sources", list, "", default=[]):
        s.keys(item, "sources")
        sources.append({"paper": s.get(item, "paper", str, "sources.", required=True),
                        "where": s.get(item, "where", str, "sources.", default="")})

    conditions: list[Condition] = []
    excludes: dict[str, str] = {}
    if "filter" in top:
        flt = s.keys(top["filter"], "filter")
        for item in s.get(flt, "where", list, "filter.", default=[]):
            s.keys(item, "filter.where")
            w = "filter.where."
            cond = Condition(
                column=s.get(item, "column", str, w, required=True),
                values_in=s.strings(item, "in", w, numbers=True),
                values_not_in=s.strings(item, "not_in", w, numbers=True),
                not_null=s.get(item, "not_null", bool, w, default=False),
                nonempty=s.get(item, "nonempty", bool, w, default=False),
                dataset=s.get(item, "dataset", str, w),
                reason=s.get(item, "reason", str, w),
            )
            tests = [cond.values_in is not None, cond.values_not_in is not None, cond.not_null, cond.nonempty]
            if sum(tests) != 1:
                raise s.fail(f"filter.where on {cond.column!r} needs exactly one of in, not_in, not_null, nonempty")
            if cond.dataset is not None and cond.dataset not in datasets:
                raise s.fail(f"filter.where names dataset {cond.dataset!r}, which is not in datasets")
            conditions.append(cond)
        for item in s.get(flt, "exclude", list, "filter.", default=[]):
            s.keys(item, "filter.exclude")
            sid = s.get(item, "sample_id", str, "filter.exclude.", required=True)
            reason = s.get(item, "reason", str, "filter.exclude.", required=True)
            if sid in excludes:
                raise s.fail(f"filter.exclude lists {sid!r} twice")
            excludes[sid] = reason

    label = None
    if task in LABEL_TASKS:
        if "label" not in top:
            raise s.fail(f"task {task!r} needs a [label] table")
        label = _parse_label(s, s.keys(top["label"], "label"), task)
    elif "label" in top:
        raise s.fail(f"[label] is not used by task {task!r}")

    spl = s.keys(s.get(top, "split", dict, "", required=True), "split")
    kind = s.get(spl, "kind", str, "split.", required=True)
    if kind not in SPLIT_KINDS:
        raise s.fail(f"unknown split kind {kind!r}; known kinds: {', '.join(SPLIT_KINDS)}")
    group = s.get(spl, "group", str, "split.", default="dataset" if kind == "lodo" else "person")
    if kind == "lodo" and group != "dataset":
        raise s.fail("split kind 'lodo' (leave-one-dataset-out) groups by 'dataset'")
    k = s.get(spl, "k", int, "split.")
    if kind == "group-kfold" and (k is None or k < 2):
        raise s.fail("split kind 'group-kfold' needs an integer k >= 2")
    if kind != "group-kfold" and k is not None:
        raise s.fail(f"split.k is only for kind 'group-kfold', not {kind!r}")
    file = s.get(spl, "file", str, "split.")
    if (kind == "fixed") != (file is not None):
        raise s.fail("split.file (a CSV: <group>,fold) is required for kind 'fixed' and only for it")
    split = SplitSpec(kind, group, k, s.get(spl, "rule", str, "split."), file)

    met = s.keys(s.get(top, "metrics", dict, "", required=True), "metrics")
    main = s.get(met, "main", str, "metrics.", required=True)
    if main not in MAIN_METRICS[task]:
        raise s.fail(f"metrics.main {main!r} is not a metric of task {task!r} ({', '.join(MAIN_METRICS[task])})")
    ci = None
    if "ci" in met:
        c = s.keys(met["ci"], "metrics.ci")
        ci = CISpec(
            n_boot=s.get(c, "n_boot", int, "metrics.ci.", default=1000),
            seed=s.get(c, "seed", int, "metrics.ci.", default=0),
            level=float(s.get(c, "level", (int, float), "metrics.ci.", default=0.95)),
            method=s.get(c, "method", str, "metrics.ci.", default=CISpec.method),
        )
        if ci.n_boot < 1 or not 0 < ci.level < 1:
            raise s.fail("metrics.ci needs n_boot >= 1 and 0 < level < 1")
    metrics = MetricsSpec(main, s.strings(met, "report", "metrics.") or (main,),
                          s.get(met, "aggregation", str, "metrics."), ci)

    spotting = None
    if task == "spotting":
        sp = s.keys(s.get(top, "spotting", dict, "", required=True), "spotting")
        w = "spotting."
        iou = float(s.get(sp, "iou", (int, float), w, default=0.5))
        also = tuple(float(v) for v in s.get(sp, "iou_also", list, w, default=[0.4, 0.3]))
        if not all(0 < v <= 1 for v in (iou,) + also):
            raise s.fail("spotting IoU thresholds must be in (0, 1]")
        matcher = s.get(sp, "matcher", str, w, default="greedy")
        if matcher not in MATCHERS:
            raise s.fail(f"unknown spotting.matcher {matcher!r}; known: {', '.join(MATCHERS)}")
        missing = s.get(sp, "gt_offset_missing", str, w, default="apex")
        if missing not in ("apex", "drop"):
            raise s.fail("spotting.gt_offset_missing must be 'apex' or 'drop'")
        s.get(sp, "gt", str, w)
        s.get(sp, "matching", str, w)
        spotting = SpottingSpec(iou, also, matcher, missing, float(s.get(sp, "micro_max_s", (int, float), w,
                                                                          default=0.5)))
    elif "spotting" in top:
        raise s.fail(f"[spotting] is not used by task {task!r}")

    emg = None
    if task == "emg-interval":
        e = s.keys(s.get(top, "emg", dict, "", required=True), "emg")
        w = "emg."
        overlap = s.get(e, "overlap", str, w, default="iou")
        also = s.strings(e, "overlap_also", w) or ()
        if overlap not in OVERLAPS or not set(also) <= set(OVERLAPS):
            raise s.fail(f"emg overlaps must be among {', '.join(OVERLAPS)}")
        emg = EmgSpec(s.get(e, "onset", str, w, default="emg_onset_s"), s.get(e, "offset", str, w,
                                                                              default="emg_offset_s"),
                      float(s.get(e, "window_s", (int, float), w, default=0.5)), overlap, also)
    elif "emg" in top:
        raise s.fail(f"[emg] is not used by task {task!r}")

    return _Parsed(pid, version, title, task, datasets, notes, tuple(sources), tuple(conditions), excludes, label,
                   split, metrics, spotting, emg)


def _parse_label(s: _Spec, lab: dict[str, Any], task: str) -> LabelSpec:
    w = "label."
    classes = s.strings(lab, "classes", w, required=True)
    if not classes or len(set(classes)) != len(classes):
        raise s.fail("label.classes must be a non-empty list without duplicates")
    column = s.get(lab, "column", str, w)
    scheme = s.get(lab, "scheme", str, w)
    if (column is None) == (scheme is None):
        raise s.fail("label needs exactly one of column (a corpus column) or scheme (a label scheme id)")
    if scheme is not None:
        from mebench.labels import schemes

        if scheme not in schemes():
            raise s.fail(f"unknown label scheme {scheme!r}; known schemes: {', '.join(schemes())}")
        column = f"emo_{scheme}"
    mapping = s.get(lab, "map", dict, w, default={})
    for key, value in mapping.items():
        if not isinstance(value, str):
            raise s.fail(f"label.map.{key} must be a string")
        if value not in classes:
            raise s.fail(f"label.map maps {key!r} to {value!r}, which is not in label.classes")
    join = s.get(lab, "join", str, w)
    empty = s.get(lab, "empty", str, w, default="drop")
    if empty not in ("keep", "drop"):
        raise s.fail("label.empty must be 'keep' or 'drop'")
    if task in MULTILABEL_TASKS:
        if join is not None:
            raise s.fail("label.join is for single-label tasks (multi-label targets are sets)")
        bad = [c for c in classes if "+" in c]
        if bad:
            raise s.fail(f"multi-label classes cannot contain '+' (it separates labels): {bad}")
    elif "empty" in lab:
        raise s.fail("label.empty is for multi-label tasks (a single-label row without a label is dropped)")
    return LabelSpec(classes, column, scheme, dict(mapping), join, empty, s.get(lab, "dropped", str, w))


# ------------------------------------------------------------------------------------------------ the protocol


class Protocol:
    """One protocol spec, validated: what it selects, how it labels, how it folds. Immutable once loaded."""

    def __init__(self, data: dict[str, Any], *, source: str, sha256: str, path: Path | None = None) -> None:
        parsed = _parse(data, source)
        self.spec = data
        self.source = source
        self.path = path
        self.sha256 = sha256
        self.id = parsed.id
        self.version = parsed.version
        self.title = parsed.title
        self.task = parsed.task
        self.datasets = list(parsed.datasets)
        self.notes = parsed.notes
        self.sources = [dict(s) for s in parsed.sources]
        self.conditions = list(parsed.conditions)
        self.excludes = dict(parsed.excludes)
        self.label = parsed.label
        self.split = parsed.split
        self.metrics = parsed.metrics
        self.spotting = parsed.spotting
        self.emg = parsed.emg

    # ---- construction

    @classmethod
    def from_bytes(cls, raw: bytes, source: str, path: Path | None = None) -> "Protocol":
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"invalid protocol spec: not valid TOML ({exc})", file=source) from None
        return cls(data, source=source, sha256=hashlib.sha256(raw).hexdigest(), path=path)

    @classmethod
    def from_file(cls, path: str | Path) -> "Protocol":
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read protocol spec ({exc.strerror})", file=path) from None
        return cls.from_bytes(raw, str(path), path)

    def __repr__(self) -> str:
        return f"Protocol({self.id!r}, version={self.version!r}, task={self.task!r}, sha256={self.sha256[:12]}...)"

    # ---- facts

    @property
    def classes(self) -> list[str]:
        """The label classes (spotting: the two expression types)."""
        if self.label is not None:
            return list(self.label.classes)
        return ["micro", "macro"] if self.task == "spotting" else []

    @property
    def is_multilabel(self) -> bool:
        return self.task in MULTILABEL_TASKS

    def info(self) -> dict[str, str]:
        """The protocol as a results record cites it."""
        return {"id": self.id, "version": self.version, "sha256": self.sha256}

    # ---- selection

    def apply(self, corpus: Corpus | pd.DataFrame | str | Path, videos: pd.DataFrame | None = None) -> Selection:
        """The protocol's rows of `corpus` (a Corpus, a corpus folder or a samples DataFrame) and what it dropped."""
        samples, videos = _frames_of(corpus, videos)
        frame = samples[samples["dataset"].isin(self.datasets)] if "dataset" in samples.columns else samples.iloc[:0]
        frame = frame.sort_values("sample_id", kind="stable").reset_index(drop=True) if len(frame) else frame
        dropped: list[tuple[str, str, str]] = []
        if len(frame):
            self._check_columns(frame)
            keep = np.ones(len(frame), dtype=bool)
            for cond in self.conditions:  # a row is dropped by the first condition it fails, and said so
                fail, why = cond.failing(frame)
                for i, text in zip(np.flatnonzero(fail), why):
                    if keep[i]:
                        dropped.append((frame.at[i, "sample_id"], frame.at[i, "dataset"], f"filter: {text}"))
                keep &= ~fail
            for i in np.flatnonzero(keep):
                sid = frame.at[i, "sample_id"]
                if sid in self.excludes:
                    keep[i] = False
                    dropped.append((sid, frame.at[i, "dataset"], f"excluded: {self.excludes[sid]}"))
            frame = frame[keep].reset_index(drop=True)
            frame, lost = self._targets(frame)
            dropped += lost
        else:
            frame = frame.copy()
            for column in self._target_columns():
                frame[column] = pd.Series(dtype=object)
        dropped_frame = pd.DataFrame(dropped, columns=["sample_id", "dataset", "reason"])
        dropped_frame = dropped_frame.sort_values("sample_id", kind="stable").reset_index(drop=True)
        video_table = self._videos(frame, videos) if self.task == "spotting" else None
        return Selection(frame, dropped_frame, video_table)

    def select(self, samples: Corpus | pd.DataFrame | str | Path) -> pd.DataFrame:
        """The scored rows (sorted by sample_id, index 0..n-1) with their target columns; see `apply`."""
        return self.apply(samples).rows

    def _target_columns(self) -> list[str]:
        if self.task == "spotting":
            return ["gt_onset", "gt_offset", "gt_rule"]
        if self.task == "emg-interval":
            return ["gt_onset_s", "gt_offset_s", "clip_start_s", "clip_end_s"]
        return ["label"]

    def _check_columns(self, frame: pd.DataFrame) -> None:
        needed = {"sample_id", "dataset", self.split.group} | {c.column for c in self.conditions}
        if self.label is not None:
            needed.add(self.label.column)
        if self.task == "spotting":
            needed |= {"video_id", "onset", "apex", "offset", "expression_type", "person", "fps"}
        if self.emg is not None:
            needed |= {self.emg.onset, self.emg.offset}
        missing = sorted(needed - set(frame.columns))
        if missing:
            hint = " (label scheme columns are added by `mebench build`)" if any(m.startswith("emo_") for m in missing) \
                else ""
            raise InputError(f"the corpus has no column(s) {missing}, needed by protocol {self.id!r}{hint}")

    def _targets(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
        if self.task == "spotting":
            return self._spotting_gt(frame)
        if self.task == "emg-interval":
            return self._emg_gt(frame)
        return self._labels(frame)

    def _labels(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
        lab = self.label
        assert lab is not None
        classes = set(lab.classes)
        order = {c: i for i, c in enumerate(lab.classes)}
        labels: list[str | None] = []
        lost: list[tuple[str, str, str]] = []
        for sid, dataset, value in zip(frame["sample_id"], frame["dataset"], frame[lab.column].tolist()):
            values = [lab.mapping.get(t, t) for t in (_as_text(v) for v in _as_list(value)) if t is not None]
            if self.is_multilabel:
                kept = sorted({v for v in values if v in classes}, key=order.__getitem__)
                if not kept and lab.empty == "drop":
                    lost.append((sid, dataset, f"label: no label among the classes in {lab.column} {values}"))
                    labels.append(None)
                else:
                    labels.append("+".join(kept))
                continue
            if not values:
                text = None
            elif lab.join is not None:
                text = lab.join.join(sorted(values))
            elif len(values) == 1:
                text = values[0]
            else:
                lost.append((sid, dataset, f"label: several labels {values} in {lab.column} (no label.join)"))
                labels.append(None)
                continue
            if text is None:
                lost.append((sid, dataset, f"label: no label in {lab.column}"))
            elif text not in classes:
                lost.append((sid, dataset, f"label: {text!r} is not one of the classes"))
                text = None
            labels.append(text)
        out = frame.copy()
        out["label"] = pd.array(labels, dtype=object)
        keep = out["label"].notna().to_numpy()
        return out[keep].reset_index(drop=True), lost

    def _spotting_gt(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
        assert self.spotting is not None
        onset = _frames_as_int(frame["onset"])
        offset = _frames_as_int(frame["offset"])
        apex = _frames_as_int(frame["apex"])
        use_apex = offset.isna() & (self.spotting.gt_offset_missing == "apex")
        gt_offset = offset.where(~use_apex, apex)
        lost = []
        keep = np.ones(len(frame), dtype=bool)
        for i in range(len(frame)):
            why = None
            if pd.isna(frame.at[i, "video_id"]):
                why = "spotting GT: no video_id"
            elif pd.isna(onset.iat[i]):
                why = "spotting GT: onset missing"
            elif pd.isna(gt_offset.iat[i]):
                why = ("spotting GT: offset and apex missing" if self.spotting.gt_offset_missing == "apex"
                       else "spotting GT: offset missing")
            elif onset.iat[i] > gt_offset.iat[i]:
                why = f"spotting GT: onset {onset.iat[i]} > offset {gt_offset.iat[i]}"
            if why:
                keep[i] = False
                lost.append((frame.at[i, "sample_id"], frame.at[i, "dataset"], why))
        out = frame.copy()
        out["gt_onset"] = onset
        out["gt_offset"] = gt_offset
        out["gt_rule"] = np.where(use_apex.to_numpy(dtype=bool), "offset-null->apex", "annotation")
        return out[keep].reset_index(drop=True), lost

    def _emg_gt(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
        assert self.emg is not None
        on = pd.to_numeric(frame[self.emg.onset], errors="coerce")
        off = pd.to_numeric(frame[self.emg.offset], errors="coerce")
        lost = []
        keep = np.ones(len(frame), dtype=bool)
        for i in range(len(frame)):
            why = None
            if pd.isna(on.iat[i]) or pd.isna(off.iat[i]):
                why = f"EMG GT: {self.emg.onset} or {self.emg.offset} missing"
            elif on.iat[i] > off.iat[i]:
                why = f"EMG GT: onset {on.iat[i]} > offset {off.iat[i]}"
            if why:
                keep[i] = False
                lost.append((frame.at[i, "sample_id"], frame.at[i, "dataset"], why))
        out = frame.copy()
        out["gt_onset_s"] = on.astype(float)
        out["gt_offset_s"] = off.astype(float)
        out["clip_start_s"] = out["gt_onset_s"] - self.emg.window_s
        out["clip_end_s"] = out["gt_offset_s"] + self.emg.window_s
        return out[keep].reset_index(drop=True), lost

    def _videos(self, rows: pd.DataFrame, videos: pd.DataFrame | None) -> pd.DataFrame:
        """Spotting: every video of the protocol's datasets (videos.parquet), plus any GT video it lacks."""
        columns = ["video_id", "dataset", "person", "fps", "n_frames"]
        parts = []
        if videos is not None and len(videos):
            table = videos[videos["dataset"].isin(self.datasets)].copy()
            for column in columns:
                if column not in table.columns:
                    table[column] = np.nan
            parts.append(table[columns])
        if len(rows):
            from_rows = rows.groupby("video_id", sort=True).agg(dataset=("dataset", "first"),
                                                                person=("person", "first"),
                                                                fps=("fps", "first")).reset_index()
            from_rows["n_frames"] = np.nan
            known = set(parts[0]["video_id"]) if parts else set()
            parts.append(from_rows[~from_rows["video_id"].isin(known)][columns])
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        table = table.drop_duplicates("video_id").sort_values("video_id", kind="stable").reset_index(drop=True)
        table["n_frames"] = _frames_as_int(table["n_frames"])
        table["fps"] = pd.to_numeric(table["fps"], errors="coerce").astype(float)
        return table

    # ---- targets

    def targets(self, selected: pd.DataFrame) -> Any:
        """The ground truth in the form the metrics take: recognition labels (Series), multi-label indicator
        matrix (DataFrame, one 0/1 column per class), spotting GT intervals (video_id, onset, offset,
        expression_type, sample_id), or EMG GT intervals (sample_id, onset_s, offset_s)."""
        if self.task == "recognition":
            return selected["label"].astype(object).reset_index(drop=True)
        if self.is_multilabel:
            return self.label_matrix(selected)
        if self.task == "spotting":
            return pd.DataFrame({
                "video_id": selected["video_id"].astype(object).to_numpy(),
                "onset": selected["gt_onset"].astype("int64").to_numpy(),
                "offset": selected["gt_offset"].astype("int64").to_numpy(),
                "expression_type": selected["expression_type"].astype(object).to_numpy(),
                "sample_id": selected["sample_id"].astype(object).to_numpy(),
            })
        return pd.DataFrame({
            "sample_id": selected["sample_id"].astype(object).to_numpy(),
            "onset_s": selected["gt_onset_s"].astype(float).to_numpy(),
            "offset_s": selected["gt_offset_s"].astype(float).to_numpy(),
        })

    def label_matrix(self, selected: pd.DataFrame) -> pd.DataFrame:
        """Multi-label targets as a 0/1 matrix (rows = selected rows, columns = classes in spec order)."""
        classes = self.classes
        index = {c: j for j, c in enumerate(classes)}
        matrix = np.zeros((len(selected), len(classes)), dtype=np.int8)
        for i, text in enumerate(selected["label"].tolist()):
            for part in (p for p in str(text).split("+") if p):
                matrix[i, index[part]] = 1
        return pd.DataFrame(matrix, columns=classes)

    # ---- folds

    def folds(self, frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(train_idx, test_idx), ...] (positions in `frame`) from scikit-learn's group splitters.

        `frame` is a Selection's rows (or, for spotting, its videos). Raises InputError when the corpus has too few
        groups for the split, or when a person would be on both sides of a fold.
        """
        from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

        groups = self._groups(frame)
        n_groups = len(np.unique(groups)) if len(groups) else 0
        what = "datasets" if self.split.group == "dataset" else f"{self.split.group} groups"
        dummy = np.zeros((len(groups), 1))
        if self.split.kind in ("loso", "lodo"):
            if n_groups < 2:
                raise InputError(f"protocol {self.id!r} ({self.split.kind}) needs at least 2 {what}; "
                                 f"this corpus gives {n_groups}")
            splits = list(LeaveOneGroupOut().split(dummy, groups=groups))
        elif self.split.kind == "group-kfold":
            k = int(self.split.k or 0)
            if n_groups < k:
                raise InputError(f"protocol {self.id!r} (group-kfold, k={k}) needs at least {k} {what}; "
                                 f"this corpus gives {n_groups}")
            splits = list(GroupKFold(n_splits=k).split(dummy, groups=groups))
            _check_group_kfold_rule(groups, k, splits, self.id)
        else:
            splits = self._fixed_splits(groups)
        out = [(np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)) for tr, te in splits]
        _check_persons_disjoint(frame, out, self.id)
        return out

    def fold_ids(self, frame: pd.DataFrame) -> np.ndarray:
        """The test fold of each row of `frame` (every row is in exactly one test fold)."""
        ids = np.full(len(frame), -1, dtype=np.int64)
        for f, (_, test) in enumerate(self.folds(frame)):
            ids[test] = f
        return ids

    def fold_groups(self, frame: pd.DataFrame) -> list[list[str]]:
        """The groups (persons / datasets) each test fold holds, in fold order."""
        groups = self._groups(frame)
        return [sorted(set(groups[test].tolist())) for _, test in self.folds(frame)]

    def _groups(self, frame: pd.DataFrame) -> np.ndarray:
        column = self.split.group
        if column not in frame.columns:
            raise InputError(f"protocol {self.id!r} splits by {column!r}, a column the corpus lacks")
        values = frame[column]
        if values.isna().any():
            sid = frame["sample_id"].iloc[int(np.flatnonzero(values.isna().to_numpy())[0])] \
                if "sample_id" in frame.columns else "?"
            raise InputError(f"protocol {self.id!r} splits by {column!r}, which is missing for {sid!r}")
        return values.astype(str).to_numpy(dtype=object)

    def _fixed_splits(self, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        assert self.split.file is not None
        base = self.path.parent if self.path is not None else None
        if base is not None and (base / self.split.file).exists():
            text = (base / self.split.file).read_text(encoding="utf-8")
        else:
            text = resources.files("mebench.protocols").joinpath(self.split.file).read_text(encoding="utf-8")
        table = pd.read_csv(io.StringIO(text), dtype=str)
        if list(table.columns[:2]) != [self.split.group, "fold"]:
            raise InputError(f"split file must have columns {self.split.group},fold", file=self.split.file)
        assignment = dict(zip(table[self.split.group], table["fold"].astype(int)))
        unknown = sorted(set(groups.tolist()) - set(assignment))
        if unknown:
            raise InputError(f"protocol {self.id!r}: the fixed split does not assign {unknown[:5]}",
                             file=self.split.file)
        fold_of = np.array([assignment[g] for g in groups])
        folds = sorted(set(fold_of.tolist()))
        return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in folds]

    # ---- tables

    def split_table(self, corpus: Corpus | pd.DataFrame | str | Path,
                    videos: pd.DataFrame | None = None) -> pd.DataFrame:
        """What `mebench split` writes: sample_id, fold, label (spotting: video_id, fold), by fold then id."""
        selection = self.apply(corpus, videos)
        if self.task == "spotting":
            table = selection.videos
            assert table is not None
            out = pd.DataFrame({"video_id": table["video_id"].astype(str),
                                "fold": self.fold_ids(table) if len(table) else np.zeros(0, np.int64)})
            return out.sort_values(["fold", "video_id"], kind="stable").reset_index(drop=True)
        rows = selection.rows
        label = rows["label"].astype(str) if "label" in rows.columns else pd.Series([""] * len(rows))
        out = pd.DataFrame({"sample_id": rows["sample_id"].astype(str),
                            "fold": self.fold_ids(rows) if len(rows) else np.zeros(0, np.int64),
                            "label": label.to_numpy() if self.task != "emg-interval" else ""})
        if self.task == "emg-interval":
            out = out.drop(columns="label")
        return out.sort_values(["fold", "sample_id"], kind="stable").reset_index(drop=True)

    def describe(self, corpus: Corpus | pd.DataFrame | str | Path, videos: pd.DataFrame | None = None
                 ) -> dict[str, Any]:
        """Counts on a corpus, for `mebench protocols --corpus`: samples, subjects, persons, classes, folds."""
        selection = self.apply(corpus, videos)
        rows = selection.rows
        out: dict[str, Any] = {
            "samples": len(rows),
            "subjects": int(rows["subject"].nunique()) if "subject" in rows.columns and len(rows) else 0,
            "persons": int(rows["person"].nunique()) if "person" in rows.columns and len(rows) else 0,
            "dropped": len(selection.dropped),
            "videos": len(selection.videos) if selection.videos is not None else None,
        }
        if self.task == "spotting":
            counts = rows["expression_type"].value_counts() if len(rows) else pd.Series(dtype=int)
        elif self.task == "emg-interval":
            counts = pd.Series(dtype=int)
        elif self.is_multilabel:
            counts = self.label_matrix(rows).sum() if len(rows) else pd.Series(dtype=int)
        else:
            counts = rows["label"].value_counts() if len(rows) else pd.Series(dtype=int)
        out["class_counts"] = {c: int(counts.get(c, 0)) for c in self.classes}
        out["classes_present"] = sum(1 for v in out["class_counts"].values() if v)
        unit = selection.videos if self.task == "spotting" else rows
        try:
            out["folds"] = len(self.folds(unit)) if unit is not None and len(unit) else 0
        except InputError as error:
            out["folds"] = None
            out["folds_error"] = str(error)
        return out


# ------------------------------------------------------------------------------------------------ fold checks


def group_kfold_assignment(groups: Iterable[Any], k: int) -> dict[str, int]:
    """The frozen group-kfold rule, written out (it is what scikit-learn's GroupKFold(shuffle=False) does from 1.9).

    Weights = rows per group. Groups in order of descending weight, ties broken by the LATER group id (in sorted
    order) first; each goes to the fold with the smallest total weight so far, ties to the lowest fold number.
    """
    values = np.asarray(list(groups), dtype=object).astype(str)
    unique, inverse = np.unique(values, return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(unique))
    order = sorted(range(len(unique)), key=lambda i: (-int(sizes[i]), -i))
    load = [0] * k
    out: dict[str, int] = {}
    for i in order:
        f = min(range(k), key=lambda j: (load[j], j))
        load[f] += int(sizes[i])
        out[str(unique[i])] = f
    return out


def _check_group_kfold_rule(groups: np.ndarray, k: int, splits: list, pid: str) -> None:
    """Refuse a scikit-learn whose GroupKFold does not follow the rule frozen in the spec (reproducibility)."""
    expected = group_kfold_assignment(groups, k)
    for f, (_, test) in enumerate(splits):
        got = {str(g) for g in groups[test]}
        want = {g for g, fold in expected.items() if fold == f}
        if got != want:
            import sklearn

            raise RuntimeError(
                f"protocol {pid!r}: scikit-learn {sklearn.__version__}'s GroupKFold assigns groups differently from "
                "the frozen rule (descending size, ties later id first, lightest fold); scikit-learn >= 1.9 sorts "
                "stably and follows it"
            )


def _check_persons_disjoint(frame: pd.DataFrame, splits: list, pid: str) -> None:
    """A person's rows must all lie in one test fold, else that person is in training and test of some fold."""
    if "person" not in frame.columns or not len(frame):
        return
    fold = np.full(len(frame), -1, dtype=np.int64)
    for f, (_, test) in enumerate(splits):
        fold[test] = f
    spread = pd.DataFrame({"person": frame["person"].astype(str).to_numpy(), "fold": fold}).groupby("person")[
        "fold"].nunique()
    bad = spread[spread > 1]
    if len(bad):
        raise InputError(f"protocol {pid!r}: person {bad.index[0]!r} falls in {int(bad.iloc[0])} different test "
                         "folds, so it would be in the training and the test part of a fold (a leak)")


def _frames_of(corpus: Corpus | pd.DataFrame | str | Path,
               videos: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    if isinstance(corpus, Corpus):
        return corpus.samples, videos if videos is not None else corpus.videos
    if isinstance(corpus, pd.DataFrame):
        return corpus, videos
    loaded = load_corpus(corpus)
    return loaded.samples, videos if videos is not None else loaded.videos


# ------------------------------------------------------------------------------------------------ loading


def _package() -> Any:
    return resources.files("mebench.protocols")


def protocol_ids() -> list[str]:
    """Ids of the shipped protocols (one TOML file each), sorted."""
    return sorted(entry.name[:-5] for entry in _package().iterdir() if entry.name.endswith(".toml"))


@lru_cache(maxsize=None)
def _shipped(pid: str) -> Protocol:
    entry = _package().joinpath(f"{pid}.toml")
    protocol = Protocol.from_bytes(entry.read_bytes(), f"mebench/protocols/{pid}.toml")
    if protocol.id != pid:
        raise InputError(f"invalid protocol spec: id {protocol.id!r} differs from the file name",
                         file=f"mebench/protocols/{pid}.toml")
    return protocol


def load_protocol(ref: str | Path | Protocol) -> Protocol:
    """A shipped protocol by id ('megc2019-cd-3class'), or any spec file by path ('my_protocol.toml')."""
    if isinstance(ref, Protocol):
        return ref
    text = str(ref)
    if isinstance(ref, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        return Protocol.from_file(Path(text))
    if text not in protocol_ids():
        raise InputError(f"unknown protocol {text!r}; known protocols: {', '.join(protocol_ids())} "
                         "(or give the path of a .toml spec)")
    return _shipped(text)


def load_protocols() -> list[Protocol]:
    """Every shipped protocol, sorted by id."""
    return [_shipped(pid) for pid in protocol_ids()]
