"""Results records: score canonical predictions on a protocol and write the JSON record every leaderboard row is.

Why one module for both `mebench score` (a predictions file) and `mebench run` (the harness): a number must mean the
same thing whichever way it was produced. Both hand ``make_record`` the protocol, the corpus metadata, the protocol's
``Selection`` and a predictions DataFrame in the canonical form below; only ``SubmissionInfo.kind`` differs
('predictions' or 'harness-run'). Metrics are never re-implemented here: they come from ``mebench.metrics``.

Canonical predictions (what ``mebench.submission`` returns and what the harness must build):

- recognition: ``sample_id, label`` (one of the protocol's classes);
- multilabel / au-detection: ``sample_id`` + one 0/1 column per class, in the protocol's class order;
- spotting: ``video_id, onset, offset[, score][, expression_type]`` (any number of rows per video);
- emg-interval: ``sample_id, onset_s, offset_s`` (NaN, NaN = not detected).

Rows are matched to the selection by ``sample_id``; a frame without that column must be in the selection's order.

The record (DESIGN.md section 7)::

    protocol    {id, version, sha256}
    corpus      {fingerprint, shadow, datasets}
    submission  {name, kind, predictions_sha256, model, seeds}
    metrics     recognition {uf1, uar, accuracy}; multilabel/AU {f1, accuracy, per_label};
                spotting {overall, micro, macro: {f1, precision, recall, tp, fp, fn}, metrics_at_iou: {k: ...}};
                emg-interval {n, n_nan, mean_iou, p_iou_gt_0.5, onset_mae, onset_se, onset_rmse, offset_mae, ...,
                overlap: 'iou', min_overlap: {...the same with intersection over the shorter interval}}
    per_fold    [{fold, test (persons or datasets of the test fold), n, <the metrics on that fold>}, ...]
    ci          {<main metric>: {low, high, level, n_boot, seed, unit, method}} (recognition, multi-label, AU)
    mebench_version, created (UTC, ISO 8601)
    details     what the tables need besides: n, per-class scores, confusion matrix, classes left out, dropped rows

Metrics are computed on the predictions POOLED over all folds; per-fold values are reported beside, never averaged.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import mebench
from mebench import metrics as M
from mebench.atomic import write_text_atomically

if TYPE_CHECKING:
    from rich.table import Table

    from mebench.protocol import Protocol, Selection

__all__ = ["RECORD_KEYS", "Evaluation", "SubmissionInfo", "evaluate", "make_record", "record_tables",
           "write_record"]

RECORD_KEYS = ("protocol", "corpus", "submission", "metrics", "per_fold", "ci", "mebench_version", "created")
KINDS = ("predictions", "harness-run")


@dataclass(frozen=True)
class SubmissionInfo:
    """Who/what produced the predictions. `kind` 'predictions' (a file scored by `mebench score`) or 'harness-run'
    (`mebench run`: `model` names it, `seeds` records every seed used)."""

    name: str
    kind: str = "predictions"
    predictions_sha256: str | None = None
    model: str | dict[str, Any] | None = None  # harness-run: {name, version, class, params, ...}
    seeds: Any = None
    predictions_file: str | None = None  # name of the scored file, so `leaderboard add` finds it beside the record

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"submission kind must be one of {KINDS}, got {self.kind!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "predictions_sha256": self.predictions_sha256,
                "predictions_file": self.predictions_file, "model": self.model, "seeds": self.seeds}


@dataclass
class Evaluation:
    """Scores of one submission on one protocol: the record's metrics, per_fold, ci and details parts."""

    metrics: dict[str, Any]
    per_fold: list[dict[str, Any]]
    ci: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------------ scoring


def evaluate(protocol: Protocol, selection: Selection, predictions: pd.DataFrame) -> Evaluation:
    """Score canonical `predictions` on the protocol's `selection` (pooled over folds, per fold, CI)."""
    rows = selection.rows
    if not len(rows):
        raise ValueError(f"protocol {protocol.id!r} selected no sample: nothing to score")
    if protocol.task == "spotting":
        return _spotting(protocol, selection, predictions)
    aligned = _align(rows, predictions)
    if protocol.task == "recognition":
        evaluation = _recognition(protocol, rows, aligned)
    elif protocol.is_multilabel:
        evaluation = _multilabel(protocol, rows, aligned)
    else:
        evaluation = _emg(protocol, rows, aligned)
    evaluation.details.setdefault("n", len(rows))
    return evaluation


def _align(rows: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    if "sample_id" not in predictions.columns:
        if len(predictions) != len(rows):
            raise ValueError(f"predictions have {len(predictions)} rows for {len(rows)} samples and no sample_id")
        return predictions.reset_index(drop=True)
    where = pd.Index(predictions["sample_id"].astype(str)).get_indexer(rows["sample_id"].astype(str))
    if (where < 0).any():
        missing = rows["sample_id"].iloc[int(np.flatnonzero(where < 0)[0])]
        raise ValueError(f"no prediction for sample {missing!r}")
    return predictions.iloc[where].reset_index(drop=True)


def _fold_entries(protocol: Protocol, frame: pd.DataFrame) -> list[tuple[int, list[str], np.ndarray]]:
    groups = frame[protocol.split.group].astype(str).to_numpy(dtype=object)
    return [(f, sorted(set(groups[test].tolist())), test) for f, (_, test) in enumerate(protocol.folds(frame))]


def _ci(protocol: Protocol, metric: Any, y_true: Any, y_pred: Any, groups: Any) -> dict[str, Any]:
    spec = protocol.metrics.ci
    if spec is None:
        return {}
    low, high = M.bootstrap_ci(metric, y_true, y_pred, groups, n_boot=spec.n_boot, alpha=1.0 - spec.level,
                               seed=spec.seed)
    return {protocol.metrics.main: {"low": _num(low), "high": _num(high), "level": spec.level,
                                    "n_boot": spec.n_boot, "seed": spec.seed, "unit": "person",
                                    "method": spec.method}}


def _recognition(protocol: Protocol, rows: pd.DataFrame, aligned: pd.DataFrame) -> Evaluation:
    classes = protocol.classes
    y_true = rows["label"].astype(object).to_numpy()
    y_pred = aligned["label"].astype(object).to_numpy()
    scores = M.recognition_scores(y_true, y_pred, labels=classes)
    metrics = {k: scores[k] for k in ("uf1", "uar", "accuracy")}
    per_fold = []
    for f, test_groups, test in _fold_entries(protocol, rows):
        s = M.recognition_scores(y_true[test], y_pred[test], labels=classes)
        per_fold.append({"fold": f, "test": test_groups, "n": int(len(test)),
                         **{k: s[k] for k in ("uf1", "uar", "accuracy")}})
    functions = {"uf1": M.uf1, "uar": M.uar, "accuracy": M.accuracy}
    ci = _ci(protocol, partial(functions[protocol.metrics.main], labels=classes), y_true, y_pred,
             rows["person"].astype(str).to_numpy(dtype=object))
    details = {"n": len(rows), "classes": classes, "per_class": scores["per_class"],
               "confusion": scores["confusion"], "left_out": scores["left_out"]}
    return Evaluation(metrics, per_fold, ci, details)


def _multilabel(protocol: Protocol, rows: pd.DataFrame, aligned: pd.DataFrame) -> Evaluation:
    classes = protocol.classes
    y_true = protocol.label_matrix(rows).to_numpy()
    y_pred = aligned[classes].to_numpy(dtype=np.int8)
    scores = M.multilabel_scores(y_true, y_pred, classes)
    metrics = {"f1": scores["f1"], "accuracy": scores["accuracy"], "per_label": scores["per_label"]}
    per_fold = []
    for f, test_groups, test in _fold_entries(protocol, rows):
        s = M.multilabel_scores(y_true[test], y_pred[test], classes)
        per_fold.append({"fold": f, "test": test_groups, "n": int(len(test)), "f1": s["f1"],
                         "accuracy": s["accuracy"]})
    main = protocol.metrics.main

    def metric(t: np.ndarray, p: np.ndarray) -> float:
        return M.multilabel_scores(t, p, classes)[main]

    ci = _ci(protocol, metric, y_true, y_pred, rows["person"].astype(str).to_numpy(dtype=object))
    support = {c: int(v) for c, v in zip(classes, y_true.sum(axis=0))}
    details = {"n": len(rows), "classes": classes, "support": support, "undefined_f1": scores["undefined_f1"]}
    return Evaluation(metrics, per_fold, ci, details)


def _emg(protocol: Protocol, rows: pd.DataFrame, aligned: pd.DataFrame) -> Evaluation:
    spec = protocol.emg
    assert spec is not None
    gt = protocol.targets(rows)
    pred = pd.DataFrame({"sample_id": gt["sample_id"].to_numpy(),
                         "onset_s": pd.to_numeric(aligned["onset_s"]).to_numpy(dtype=float),
                         "offset_s": pd.to_numeric(aligned["offset_s"]).to_numpy(dtype=float)})
    main = M.emg_interval(gt, pred, overlap=spec.overlap)
    metrics = {k: v for k, v in main.items()}
    for overlap in spec.overlap_also:
        other = M.emg_interval(gt, pred, overlap=overlap)
        metrics[f"{overlap}_overlap"] = {k: v for k, v in other.items() if k != "overlap"}
    per_fold = []
    for f, test_groups, test in _fold_entries(protocol, rows):
        s = M.emg_interval(gt.iloc[test].reset_index(drop=True), pred.iloc[test].reset_index(drop=True),
                           overlap=spec.overlap)
        per_fold.append({"fold": f, "test": test_groups, **{k: v for k, v in s.items() if k != "overlap"}})
    return Evaluation(metrics, per_fold, {}, {"n": len(rows),
                                              "ci_note": "no bootstrap CI for emg-interval in this version"})


def _spotting(protocol: Protocol, selection: Selection, predictions: pd.DataFrame) -> Evaluation:
    spec = protocol.spotting
    assert spec is not None and selection.videos is not None
    videos = selection.videos
    gt = protocol.targets(selection.rows)[["video_id", "onset", "offset", "expression_type"]]
    keep = [c for c in ("video_id", "onset", "offset", "score", "expression_type") if c in predictions.columns]
    pred = predictions[keep].reset_index(drop=True)
    fps = {v: float(r) for v, r in zip(videos["video_id"], videos["fps"]) if r == r and r > 0}
    ks = [spec.iou] + [k for k in spec.iou_also if k != spec.iou]
    scores = M.spotting_at(gt, pred, ious=ks, matcher=spec.matcher, fps=fps)
    metrics: dict[str, Any] = dict(scores[spec.iou])
    metrics["metrics_at_iou"] = {f"{k:g}": scores[k] for k in ks[1:]}
    per_fold = []
    for f, test_groups, test in _fold_entries(protocol, videos):
        ids = set(videos["video_id"].iloc[test])
        g = gt[gt["video_id"].isin(ids)].reset_index(drop=True)
        p = pred[pred["video_id"].isin(ids)].reset_index(drop=True)
        s = M.spotting(g, p, iou=spec.iou, matcher=spec.matcher, fps=fps)
        per_fold.append({"fold": f, "test": test_groups, "n_videos": len(ids), "n_gt": len(g), "n_pred": len(p), **s})
    details = {"n": len(gt), "n_videos": len(videos), "n_pred": len(pred), "iou": spec.iou, "matcher": spec.matcher,
               "gt_offset_from_apex": int((selection.rows["gt_rule"] != "annotation").sum()),
               "ci_note": "no bootstrap CI for spotting in this version"}
    return Evaluation(metrics, per_fold, {}, details)


# ------------------------------------------------------------------------------------------------------- record


def make_record(protocol: Protocol, corpus_meta: dict[str, Any], selection: Selection, predictions: pd.DataFrame,
                submission: SubmissionInfo, *, created: str | None = None) -> dict[str, Any]:
    """The results record (DESIGN.md section 7) of `predictions` on `protocol`; JSON-ready (no NaN, no numpy)."""
    evaluation = evaluate(protocol, selection, predictions)
    details = dict(evaluation.details)
    details["dropped"] = int(len(selection.dropped))
    details["task"] = protocol.task
    record = {
        "protocol": protocol.info(),
        "corpus": corpus_info(corpus_meta),
        "submission": submission.as_dict(),
        "metrics": evaluation.metrics,
        "per_fold": evaluation.per_fold,
        "ci": evaluation.ci,
        "mebench_version": mebench.__version__,
        "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "details": details,
    }
    return _jsonable(record)


def corpus_info(meta: dict[str, Any]) -> dict[str, Any]:
    """What a record says about the corpus: its fingerprint, shadow (synthetic) or real, and its datasets."""
    datasets = [s.get("name") for s in meta.get("sources", []) if isinstance(s, dict) and s.get("name")]
    if not datasets:
        datasets = list(meta.get("counts", {}))
    return {"fingerprint": meta.get("fingerprint"), "shadow": bool(meta.get("shadow", False)), "datasets": datasets}


def _num(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays -> Python; NaN/inf -> None (NaN is not JSON); dict keys -> str."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _num(value)
    return value


def write_record(record: dict[str, Any], path: str | Path) -> Path:
    """Write the record as JSON atomically (temporary file in the same folder, then rename): all or nothing."""
    path = Path(path)
    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    write_text_atomically(path, text)
    return path


# ------------------------------------------------------------------------------------------------------- tables


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def record_tables(record: dict[str, Any]) -> list[Table]:
    """The record's numbers as rich tables (what the CLI prints)."""
    from rich.table import Table

    protocol = record["protocol"]["id"]
    name = record["submission"]["name"]
    metrics = record["metrics"]
    ci = record.get("ci") or {}
    tables = []
    if "overall" in metrics:  # spotting
        table = Table(title=f"{protocol}: {name}")
        for column in ("IoU >=", "part", "f1", "precision", "recall", "tp", "fp", "fn"):
            table.add_column(column, justify="left" if column in ("part",) else "right")
        by_k = {str(record.get("details", {}).get("iou", "")): {p: metrics[p] for p in ("overall", "micro", "macro")}}
        by_k.update(metrics.get("metrics_at_iou", {}))
        for k, parts in by_k.items():
            for part in ("overall", "micro", "macro"):
                m = parts[part]
                table.add_row(k, part, *(_fmt(m[c]) for c in ("f1", "precision", "recall", "tp", "fp", "fn")))
        tables.append(table)
    else:
        table = Table(title=f"{protocol}: {name}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        if ci:
            level = next(iter(ci.values())).get("level", 0.95)
            table.add_column(f"{level:.0%} CI (persons)", justify="right")
        for key, value in metrics.items():
            if isinstance(value, dict):
                continue
            interval = ci.get(key)
            cells = [key, _fmt(value)]
            if ci:
                cells.append(f"[{_fmt(interval['low'])}, {_fmt(interval['high'])}]" if interval else "")
            table.add_row(*cells)
        tables.append(table)
        for key, value in metrics.items():
            if key == "per_label" and isinstance(value, dict):
                sub = Table(title="per label")
                for column in ("label", "f1", "accuracy"):
                    sub.add_column(column, justify="left" if column == "label" else "right")
                for label, m in value.items():
                    sub.add_row(label, _fmt(m["f1"]), _fmt(m["accuracy"]))
                tables.append(sub)
            elif isinstance(value, dict):
                sub = Table(title=key)
                sub.add_column("metric")
                sub.add_column("value", justify="right")
                for k, v in value.items():
                    sub.add_row(k, _fmt(v))
                tables.append(sub)
    per_fold = record.get("per_fold") or []
    if per_fold:
        table = Table(title=f"per fold ({len(per_fold)} folds; pooled metrics above, not their mean)")
        keys = [k for k in per_fold[0] if k not in ("fold", "test") and not isinstance(per_fold[0][k], dict)]
        parts = [k for k in per_fold[0] if isinstance(per_fold[0][k], dict)]
        table.add_column("fold", justify="right")
        table.add_column("test")
        for k in keys:
            table.add_column(k, justify="right")
        for part in parts:
            table.add_column(f"{part} f1", justify="right")
        for entry in per_fold:
            test = ", ".join(entry["test"])
            table.add_row(str(entry["fold"]), test if len(test) <= 40 else test[:37] + "...",
                          *(_fmt(entry[k]) for k in keys),
                          *(_fmt(entry[p]["f1"]) for p in parts))
        tables.append(table)
    return tables
