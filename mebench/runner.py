"""The harness (`mebench run`): train and test a model fold by fold on a protocol, leak-proof, and record the result.

Why a harness and not only predictions files: a predictions file can be honest or not, and nobody can tell. When the
harness runs the model, the rules of DESIGN.md section 7 hold by construction:

- for each fold of the protocol, a FRESH model instance is built (nothing carries over between folds), ``fit(train)``
  sees the training part only, ``predict(test)`` the test part only, through read-only views (``mebench.views``);
- the test view has no label column at all, and ``test.labels`` does not exist; the harness never passes test labels
  anywhere and never gives the model any metric: there is no callback, no score per epoch, nothing a model could use
  to select epochs or hyper-parameters on a test fold (do that inside ``fit``, on the training persons);
- seeds are deterministic: the base seed (``--seed``, default 0) gives each fold its own seed,
  ``numpy.random.SeedSequence(base, spawn_key=(fold,)).generate_state(1)[0]``, passed to the model (constructor
  keyword ``seed`` when it takes one, else ``set_seed``) and used to seed Python's and numpy's global generators
  before ``fit``; the record lists them. The seed depends on the fold only, and each fold runs with one BLAS thread
  (threadpoolctl) wherever it runs, so serial, joblib and Dask runs give identical predictions;
- what ``predict`` returns is checked like a predictions file (``mebench.submission.validate``): one prediction per
  test row (recognition: a class name; multi-label: a 0/1 matrix or label tuples; AU detection: a 0/1 matrix; EMG: an
  (onset_s, offset_s) pair or NaNs), spotting a DataFrame of intervals (video_id, onset, offset[, score]
  [, expression_type]) on the test videos. A wrong row count is an InputError naming the fold and both counts.

Predictions of all folds are then scored together by ``mebench.results.make_record`` (the same code as `mebench
score`), as a record of kind ``harness-run`` whose ``submission.model`` is {name, version, class, params, ...} and
``submission.seeds`` {base, rule, per_fold}; each ``per_fold`` entry adds its seed and timing (fit_s, predict_s),
and ``details.harness`` says where it ran (backend, jobs or workers), how many features were computed or read from
the cache, and what the test view hid (``mebench.views``). No local path goes into the record.

``run_protocol(protocol, corpus, model, ...)`` is the API; ``mebench.commands.run`` the command line.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from mebench.cache import FeatureCache, canonical_json
from mebench.errors import InputError
from mebench.models import ModelRef, class_path, resolve_model
from mebench.parallel import Backend, Shared, progress_bar
from mebench.protocol import Corpus, Protocol, Selection, load_corpus, load_protocol
from mebench.results import SubmissionInfo, make_record
from mebench.views import VIDEO_COLUMNS, MediaContext, ProtocolFacts, View, _freeze, hidden_columns, leak_notes

__all__ = ["FoldResult", "FoldTask", "RunResult", "canonical_predictions", "fold_seed", "instantiate",
           "predictions_csv", "run_protocol"]

SEED_RULE = "numpy.random.SeedSequence(base, spawn_key=(fold,)).generate_state(1)[0]"


def fold_seed(base: int, fold: int) -> int:
    """The seed of fold `fold` under base seed `base` (independent of backend, worker and fold order)."""
    return int(np.random.SeedSequence(int(base), spawn_key=(int(fold),)).generate_state(1, dtype=np.uint32)[0])


# ------------------------------------------------------------------------------------------------------ models


def _signature(cls: type) -> inspect.Signature | None:
    try:
        return inspect.signature(cls)
    except (TypeError, ValueError):
        return None


def _takes_seed(cls: type) -> bool:
    sig = _signature(cls)
    if sig is None:
        return False
    return "seed" in sig.parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def instantiate(ref: ModelRef, params: Mapping[str, Any], seed: int) -> Any:
    """A fresh model: ``cls(**params, seed=seed)`` when it takes a seed, else ``cls(**params)`` + ``set_seed``."""
    kwargs = dict(params)
    if "seed" in kwargs:
        raise InputError(f"model {ref.name!r}: give the seed with --seed, not as a parameter")
    takes_seed = _takes_seed(ref.cls)
    if takes_seed:
        kwargs["seed"] = seed
    sig = _signature(ref.cls)
    if sig is not None:
        try:
            sig.bind(**kwargs)
        except TypeError as exc:
            given = ", ".join(sorted(params)) or "none"
            raise InputError(f"model {ref.name!r} ({ref.path}): {exc} (parameters given: {given})") from None
    model = ref.cls(**kwargs)
    if not takes_seed and callable(getattr(model, "set_seed", None)):
        model.set_seed(seed)
    return model


def _extractors(model: Any) -> list[Any]:
    found = getattr(model, "extractors", None)
    if callable(found):
        found = found()
    return list(found or [])


def _jsonable(value: Any) -> Any:
    return json.loads(canonical_json(value))


def model_info(ref: ModelRef, model: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """What the record says about the model: name, version, class path, params (effective), tasks, source."""
    effective = params
    getter = getattr(model, "get_params", None)
    if callable(getter):
        try:
            effective = getter()
        except TypeError:
            effective = params
    tasks = getattr(ref.cls, "tasks", None)
    return {"name": ref.name, "version": ref.version, "class": class_path(ref.cls), "ref": ref.ref,
            "source": ref.source, "params": _jsonable(dict(effective or {})),
            "tasks": list(tasks) if tasks else None}


# ------------------------------------------------------------------------------------------------- predictions


def _cell(value: Any) -> str | None:
    """One predicted value as the text a predictions file would hold (None = empty)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = list(value) if not isinstance(value, (set, frozenset)) else sorted(value, key=str)
        return "+".join(str(_cell(v)) for v in items if _cell(v) is not None)
    text = str(value).strip()
    return None if text.lower() in ("", "nan", "na", "n/a", "null", "none") else text


def _text_frame(columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series([_cell(v) for v in values], dtype=object) for k, values in columns.items()})


class _Bad(Exception):
    pass


def _sequence(raw: Any, what: str) -> list[Any]:
    if isinstance(raw, pd.DataFrame):
        raise _Bad(f"{what}: got a DataFrame without the expected columns ({', '.join(map(str, raw.columns))})")
    if isinstance(raw, pd.Series):
        return raw.tolist()
    if isinstance(raw, np.ndarray):
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
        if raw.ndim != 1:
            raise _Bad(f"{what}: got an array of shape {raw.shape}, expected one value per test row")
        return raw.tolist()
    if isinstance(raw, (list, tuple)):
        return list(raw)
    if raw is None or isinstance(raw, (str, bytes, int, float)):
        raise _Bad(f"{what}: got {type(raw).__name__}, expected one prediction per test row (list, array, Series)")
    try:
        return list(raw)
    except TypeError:
        raise _Bad(f"{what}: got {type(raw).__name__}, expected one prediction per test row") from None


def _matrix(raw: Any, classes: list[str], task: str) -> np.ndarray | None:
    """A (n, len(classes)) matrix from a DataFrame with the class columns, a 2-D array, or label tuples."""
    if isinstance(raw, pd.DataFrame):
        if set(classes) <= set(raw.columns):
            return raw[classes].to_numpy(dtype=object)
        if len(raw.columns) == len(classes) and all(isinstance(c, (int, np.integer)) for c in raw.columns):
            return raw.to_numpy(dtype=object)
        return None
    if isinstance(raw, np.ndarray) and raw.ndim == 2:
        if raw.shape[1] != len(classes):
            raise _Bad(f"got a matrix of shape {raw.shape}; expected {len(classes)} columns, one per class "
                       f"{classes}")
        return raw.astype(object)
    return None


def _label_sets(values: list[Any], classes: list[str], task: str) -> list[str]:
    out = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append("")
            continue
        if isinstance(value, str):
            parts = [p for p in value.split("+") if p.strip()]
        else:
            parts = list(value)
        names = []
        for part in parts:
            if task == "au-detection" and isinstance(part, (int, np.integer)):
                part = f"AU{int(part)}"
            names.append(str(part).strip())
        out.append("+".join(names))
    return out


def _raw_table(protocol: Protocol, selection: Selection, raw: Any) -> pd.DataFrame:
    """The model's output as the text table a predictions file would be (validated afterwards)."""
    task = protocol.task
    classes = protocol.classes
    if task == "spotting":
        if raw is None:
            raw = pd.DataFrame(columns=["video_id", "onset", "offset"])
        if isinstance(raw, list):
            raw = pd.DataFrame(raw, columns=None if not raw or isinstance(raw[0], Mapping)
                               else ["video_id", "onset", "offset", "score", "expression_type"][:len(raw[0])])
        if not isinstance(raw, pd.DataFrame):
            raise _Bad(f"spotting predictions must be a DataFrame of intervals (video_id, onset, offset[, score]"
                       f"[, expression_type]), got {type(raw).__name__}")
        for column in ("video_id", "onset", "offset"):
            if column not in raw.columns:
                raise _Bad(f"spotting predictions lack the column {column!r} (got {list(raw.columns)})")
        return _text_frame({c: raw[c].tolist() for c in raw.columns})
    rows = selection.rows
    n = len(rows)
    ids = rows["sample_id"].astype(str).tolist()
    given_ids = None
    if isinstance(raw, pd.DataFrame) and "sample_id" in raw.columns:
        given_ids = raw["sample_id"].tolist()
    if task == "recognition":
        if isinstance(raw, pd.DataFrame):
            if "label" in raw.columns:
                values = raw["label"].tolist()
            elif len(raw.columns) == 1:
                values = raw.iloc[:, 0].tolist()
            else:
                raise _Bad(f"a DataFrame of predictions needs a 'label' column (got {list(raw.columns)})")
        else:
            values = _sequence(raw, "recognition predictions")
        _count(len(values), n)
        return _text_frame({"sample_id": given_ids or ids, "label": values})
    if task in ("multilabel", "au-detection"):
        matrix = _matrix(raw, classes, task)
        if matrix is not None:
            _count(len(matrix), n)
            if task == "au-detection":
                return _text_frame({"sample_id": given_ids or ids, **{c: matrix[:, j].tolist()
                                                                       for j, c in enumerate(classes)}})
            labels = []
            for i, line in enumerate(matrix):
                values = [_cell(v) for v in line]
                if any(v not in ("0", "1") for v in values):
                    raise _Bad(f"row {i + 1}: multi-label predictions must be 0/1, got {line.tolist()}")
                labels.append("+".join(c for c, v in zip(classes, values) if v == "1"))
            return _text_frame({"sample_id": given_ids or ids, "labels": labels})
        if isinstance(raw, pd.DataFrame) and "labels" in raw.columns:
            values = raw["labels"].tolist()
        else:
            values = _sequence(raw, "multi-label predictions")
        _count(len(values), n)
        labels = _label_sets(values, classes, task)
        if task == "multilabel":
            return _text_frame({"sample_id": given_ids or ids, "labels": labels})
        index = {c.lower(): c for c in classes}
        table: dict[str, list[Any]] = {"sample_id": given_ids or ids, **{c: [0] * n for c in classes}}
        for i, text in enumerate(labels):
            for part in (p for p in text.split("+") if p):
                column = index.get(part.lower())
                if column is None:
                    raise _Bad(f"row {i + 1}: {part!r} is not one of the protocol's AUs {classes}")
                table[column][i] = 1
        return _text_frame(table)
    # emg-interval
    if isinstance(raw, pd.DataFrame):
        if not {"onset_s", "offset_s"} <= set(raw.columns):
            raise _Bad(f"EMG predictions need columns onset_s, offset_s (got {list(raw.columns)})")
        _count(len(raw), n)
        return _text_frame({"sample_id": given_ids or ids, "onset_s": raw["onset_s"].tolist(),
                            "offset_s": raw["offset_s"].tolist()})
    if isinstance(raw, np.ndarray) and raw.ndim == 2 and raw.shape[1] == 2:
        _count(len(raw), n)
        return _text_frame({"sample_id": ids, "onset_s": raw[:, 0].tolist(), "offset_s": raw[:, 1].tolist()})
    values = _sequence(raw, "EMG predictions")
    _count(len(values), n)
    pairs = [(None, None) if v is None or (isinstance(v, float) and math.isnan(v)) else tuple(v) for v in values]
    if any(len(p) != 2 for p in pairs):
        raise _Bad("EMG predictions are (onset_s, offset_s) pairs, or None for 'not detected'")
    return _text_frame({"sample_id": ids, "onset_s": [p[0] for p in pairs], "offset_s": [p[1] for p in pairs]})


class _Count(Exception):
    def __init__(self, got: int, expected: int) -> None:
        super().__init__(got, expected)
        self.got = got
        self.expected = expected


def _count(got: int, expected: int) -> None:
    if got != expected:
        raise _Count(got, expected)


def canonical_predictions(protocol: Protocol, selection: Selection, raw: Any, *, fold: int | None = None,
                          model: str = "model", test: Sequence[str] = ()) -> pd.DataFrame:
    """What `predict` returned for the test part `selection`, checked and put in the canonical form of
    ``mebench.results`` (the checks of ``mebench.submission.validate``). InputError naming the fold otherwise."""
    from mebench.submission import RawTable, validate

    where = f"model {model!r}, fold {fold}" if fold is not None else f"model {model!r}"
    held = f" (test: {', '.join(test[:3])}{' ...' if len(test) > 3 else ''})" if test else ""
    try:
        frame = _raw_table(protocol, selection, raw)
    except _Count as count:
        noun = "test samples" if protocol.task != "spotting" else "test videos"
        raise InputError(f"{where}: predict returned {count.got} predictions for the fold's {count.expected} "
                         f"{noun}{held}; it must return one per row of test.samples, in order") from None
    except _Bad as bad:
        raise InputError(f"{where}: invalid predictions: {bad}") from None
    table = RawTable(path=None, format="model", frame=frame,  # type: ignore[arg-type]
                     rows=np.arange(1, len(frame) + 1, dtype=np.int64), sha256="")
    try:
        return validate(protocol, selection, table)
    except InputError as error:
        raise InputError(f"{where}: invalid predictions (rows counted from 1 in test.samples order): "
                         f"{error.message}") from None


def predictions_csv(protocol: Protocol, predictions: pd.DataFrame) -> str:
    """Canonical predictions as the predictions FILE `mebench score` reads (multi-label: '+'-joined ``labels``).
    The record's ``predictions_sha256`` is the sha256 of this text, so scoring the file saved by ``mebench run
    --predictions-out`` gives a record with the same hash and the same numbers."""
    table = predictions
    if protocol.task == "multilabel" and len(predictions):
        classes = protocol.classes
        matrix = predictions[classes].to_numpy()
        labels = ["+".join(c for c, v in zip(classes, line) if v) for line in matrix]
        table = pd.DataFrame({"sample_id": predictions["sample_id"].to_numpy(), "labels": labels})
    return table.to_csv(index=False, lineterminator="\n")


# ------------------------------------------------------------------------------------------------------ fold tasks


@dataclass
class RunContext:
    """What every fold of a run shares (sent once per worker process inside a ``Shared``)."""

    protocol: Protocol
    facts: ProtocolFacts
    hidden: tuple[str, ...]
    model: ModelRef
    params: dict[str, Any]
    unit: pd.DataFrame  # the selected rows (spotting: the videos), nested arrays read-only
    rows: pd.DataFrame | None  # spotting: the annotated intervals
    groups: np.ndarray
    media: MediaContext
    cache_root: Path | None

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.unit = _freeze(self.unit)[0]  # unpickled arrays are writeable again: freeze once per process
        if self.rows is not None:
            self.rows = _freeze(self.rows)[0]


@dataclass
class FoldTask:
    """One fold: its number, seed and row positions; the rest is in the shared run context."""

    fold: int
    seed: int
    train: np.ndarray
    test: np.ndarray
    context: Shared


@dataclass
class FoldResult:
    fold: int
    seed: int
    n_train: int
    n_test: int
    fit_s: float = 0.0
    predict_s: float = 0.0
    predictions: pd.DataFrame | None = None
    error: str | None = None


def _seed_globals(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:  # never imported here, only seeded when the model uses it
        torch.manual_seed(seed)


def _fold_views(ctx: RunContext, task: FoldTask, cache: FeatureCache | None) -> tuple[View, View, Selection]:
    """The train and test views of a fold, and the test part as a Selection (for checking predictions)."""
    protocol = ctx.protocol
    train_samples = ctx.unit.iloc[task.train].reset_index(drop=True)
    test_samples = ctx.unit.iloc[task.test].reset_index(drop=True)
    annotations = None
    if protocol.task == "spotting":
        assert ctx.rows is not None
        rows = ctx.rows
        train_rows = rows[rows["video_id"].isin(set(train_samples["video_id"]))].reset_index(drop=True)
        test_rows = rows[rows["video_id"].isin(set(test_samples["video_id"]))].reset_index(drop=True)
        labels = protocol.targets(train_rows)
        annotations = train_rows
        test_selection = Selection(test_rows[["sample_id", "video_id"]].copy(), pd.DataFrame(), test_samples)
    else:
        labels = protocol.targets(train_samples)
        test_selection = Selection(test_samples[["sample_id"]].copy(), pd.DataFrame(), None)
    train = View(train_samples, role="train", protocol=ctx.facts, fold=task.fold, labels=labels,
                 annotations=annotations, media=ctx.media, cache=cache)
    test = View(test_samples, role="test", protocol=ctx.facts, fold=task.fold, hidden=ctx.hidden, media=ctx.media,
                cache=cache)
    return train, test, test_selection


def _run_fold(task: FoldTask) -> FoldResult:
    """Fit a fresh model on the training part, predict the test part, check the predictions."""
    from threadpoolctl import threadpool_limits

    ctx: RunContext = task.context.value
    cache = FeatureCache(ctx.cache_root) if ctx.cache_root is not None else None
    train, test, test_selection = _fold_views(ctx, task, cache)
    result = FoldResult(task.fold, task.seed, len(train), len(test))
    limits = threadpool_limits(limits=1, user_api="blas")  # the same BLAS threading on every backend
    try:
        model = instantiate(ctx.model, ctx.params, task.seed)
        _seed_globals(task.seed)
        start = time.perf_counter()
        model.fit(train)
        result.fit_s = time.perf_counter() - start
        start = time.perf_counter()
        raw = model.predict(test)
        result.predict_s = time.perf_counter() - start
        held = sorted(set(ctx.groups[task.test].tolist()))
        result.predictions = canonical_predictions(ctx.protocol, test_selection, raw, fold=task.fold,
                                                   model=ctx.model.name, test=held)
    except InputError as error:
        result.error = str(error)
    finally:
        limits.restore_original_limits()
        if cache is not None:
            cache.close()
    return result


@dataclass
class _ExtractTask:
    extractor: Any
    positions: np.ndarray
    context: Shared


def _extract_batch(task: _ExtractTask) -> tuple[int, int]:
    """Fill the cache for a batch of rows (label-free view); (computed, read from cache)."""
    ctx: RunContext = task.context.value
    assert ctx.cache_root is not None
    cache = FeatureCache(ctx.cache_root)
    view = View(ctx.unit.iloc[task.positions], role="features", protocol=ctx.facts, hidden=ctx.hidden,
                media=ctx.media, cache=cache)
    samples = view._samples
    try:
        for i in range(len(samples)):
            key = cache.key(task.extractor, samples.iloc[i])
            if cache.path_of(task.extractor, key) is None:
                cache.get_or_compute(task.extractor, view, samples.iloc[i])
            else:
                cache.hits += 1
    finally:
        cache.close()
    return cache.misses, cache.hits


# ------------------------------------------------------------------------------------------------------- the run


@dataclass
class RunResult:
    """A finished run: the results record, the pooled canonical predictions, and per-fold details."""

    record: dict[str, Any]
    predictions: pd.DataFrame
    model: ModelRef
    folds: list[FoldResult]
    summary: str | None = None
    features: dict[str, dict[str, int]] = field(default_factory=dict)
    cache_root: Path | None = None


def _unit(protocol: Protocol, selection: Selection, corpus: Corpus) -> pd.DataFrame:
    """What the folds are made of: the selected rows, or (spotting) the videos with their media columns."""
    if protocol.task != "spotting":
        return selection.rows
    videos = selection.videos
    assert videos is not None
    if corpus.videos is not None and len(corpus.videos):
        extra = [c for c in corpus.videos.columns if c in VIDEO_COLUMNS and c not in videos.columns]
        if extra:
            media = corpus.videos.drop_duplicates("video_id").set_index("video_id")[extra]
            videos = videos.join(media, on="video_id")
    return videos


def _batches(n: int, workers: int) -> list[np.ndarray]:
    """Row positions in about 4 batches per worker (progress moves, workers stay busy, few tasks)."""
    size = max(1, math.ceil(n / max(1, workers * 4)))
    return [np.arange(i, min(n, i + size)) for i in range(0, n, size)]


def run_protocol(protocol: str | Path | Protocol, corpus: str | Path | Corpus, model: str | type, *,
                 params: Mapping[str, Any] | None = None, seed: int = 0, jobs: int = 1, backend: str = "joblib",
                 scheduler: str | None = None, cache: str | Path | FeatureCache | None = None,
                 name: str | None = None, progress: bool = True) -> RunResult:
    """Run `model` (a registered name, ``module:Class``, an entry-point name, or a class) on every fold of
    `protocol` over `corpus` and score it; see the module docstring for the rules. Raises InputError for bad input
    (unknown model, a class without fit/predict, wrong parameters, a task the model does not support, predictions
    of the wrong length or outside the classes...)."""
    started = time.perf_counter()
    protocol = load_protocol(protocol)
    ref = resolve_model(model)
    tasks_supported = getattr(ref.cls, "tasks", None)
    if tasks_supported and protocol.task not in tasks_supported:
        raise InputError(f"model {ref.name!r} supports the task(s) {', '.join(tasks_supported)}, not "
                         f"{protocol.task!r} (protocol {protocol.id!r})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be a non-negative integer, got {seed!r}")
    params = dict(params or {})
    probe = instantiate(ref, params, int(seed))  # checks the parameters before any work; never fitted
    info = model_info(ref, probe, params)
    corpus = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
    selection = protocol.apply(corpus)
    if not len(selection.rows):
        raise InputError(f"protocol {protocol.id!r} selects no sample on this corpus (its datasets: "
                         f"{', '.join(protocol.datasets)})", file=corpus.path)
    unit = _freeze(_unit(protocol, selection, corpus))[0]  # nested arrays made read-only once, shared by the folds
    folds = protocol.folds(unit)
    seeds = [fold_seed(int(seed), f) for f in range(len(folds))]
    store = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
    store.sweep()
    hidden = tuple(hidden_columns(protocol, unit.columns))
    context = Shared(RunContext(
        protocol=protocol, facts=ProtocolFacts.of(protocol), hidden=hidden, model=ref, params=params, unit=unit,
        rows=_freeze(selection.rows)[0] if protocol.task == "spotting" else None,
        groups=unit[protocol.split.group].astype(str).to_numpy(dtype=object), media=MediaContext(corpus.path),
        cache_root=store.root))
    fold_tasks = [FoldTask(f, seeds[f], train_idx, test_idx, context)
                  for f, (train_idx, test_idx) in enumerate(folds)]

    features: dict[str, dict[str, int]] = {}
    with Backend(backend, jobs, scheduler) as runner, progress_bar(progress) as bar:
        for extractor in _extractors(probe):
            batches = [_ExtractTask(extractor, part, context)
                       for part in _batches(len(unit), runner.jobs if runner.kind == "joblib" else 2)]
            counts = runner.map(_extract_batch, batches, progress=bar, description=f"features {extractor.name}",
                                sizes=[len(b.positions) for b in batches])
            entry = features.setdefault(str(extractor.name), {"computed": 0, "cached": 0})
            entry["computed"] += sum(c for c, _ in counts)
            entry["cached"] += sum(h for _, h in counts)
        results: list[FoldResult] = runner.map(_run_fold, fold_tasks, progress=bar,
                                               description=f"{ref.name} on {protocol.id}")
        where = runner.describe()
    for result in results:
        if result.error is not None:
            raise InputError(result.error)

    parts = [r.predictions for r in results if r.predictions is not None]
    predictions = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if protocol.task != "spotting" and len(predictions):
        order = pd.Index(predictions["sample_id"].astype(str)).get_indexer(selection.rows["sample_id"].astype(str))
        predictions = predictions.iloc[order].reset_index(drop=True)
    text = predictions_csv(protocol, predictions)
    seeds_info = {"base": int(seed), "rule": SEED_RULE, "per_fold": seeds}
    submission = SubmissionInfo(name=name or ref.name, kind="harness-run",
                                predictions_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                                model=info, seeds=seeds_info)  # type: ignore[arg-type]
    record = make_record(protocol, corpus.meta, selection, predictions, submission)
    for entry, result in zip(record["per_fold"], results):
        entry["seed"] = result.seed
        entry["n_train"] = result.n_train
        entry["fit_s"] = round(result.fit_s, 4)
        entry["predict_s"] = round(result.predict_s, 4)
    record["details"]["harness"] = {
        **where,
        "features": features,
        "total_s": round(time.perf_counter() - started, 3),
        "test_view": {"hidden_columns": list(hidden), **leak_notes(protocol)},
        "rules": "fresh model per fold; fit on the training part only; no test labels and no metric feedback "
                 "given to the model; seeds per fold from the base seed",
    }
    summary = None
    describe = getattr(ref.cls, "describe_result", None)
    if callable(describe):
        summary = describe(record)
    return RunResult(record, predictions, ref, results, summary, features, store.root)
