"""Interval spotting metrics for long videos: TP/FP/FN at IoU >= k, precision, recall, F1; micro, macro, overall.

Why this module: spotting papers (seed 002, He et al., eq. 27-30; the MEGC challenges) all say "a spotted interval
is a TP if its IoU with a ground-truth interval is >= k", but they differ, mostly silently, on what happens when
several spotted intervals hit one GT or one spotted interval hits several. mebench fixes one rule (``greedy``) and
keeps the old many-to-one rule (``megc2020``) only to compare with numbers published with it.

Inputs (pandas DataFrames; frames are INCLUSIVE, in the dataset's own numbering):

- ``gt``:   video_id, onset, offset[, expression_type]
- ``pred``: video_id, onset, offset[, score][, expression_type]

IoU is counted in frames, inclusively: ``|A n B| / |A u B|`` with ``|[a, b]| = b - a + 1``. [10, 19] vs [15, 24]:
intersection 5 frames (15..19), union 15 frames (10..24), IoU 1/3. "IoU >= k" is tested as ``inter / union >= k``
in floating point, which is exact for the equality case (a correctly rounded quotient equal to the decimal k rounds
to the same double as the literal k), so [0, 9] vs [0, 4] (5/10) counts at k = 0.5 and [0, 9] vs [7, 9] (3/10) at
k = 0.3.

``matcher="greedy"`` (mebench's rule, DESIGN section 6): one-to-one. Predictions are taken in order of descending
``score`` (ties, or no score column: earlier onset first; then row order). Each takes, among the GT intervals of the
same video that are still unmatched, the one with the highest IoU >= k (ties: earlier GT onset, then GT row order).
A prediction that finds none is an FP; a GT never taken is an FN. So a duplicate detection of an already found
expression is an FP, and one long prediction covering two GTs finds at most one of them.

``matcher="megc2020"`` (comparison only): the many-to-one rule of the MEGC baseline evaluation code
(``cal_TP`` / ``spotting_evaluation`` as copied across the public MEGC2020-2022 spotting baselines), applied per
video and summed. With ``hits[g]`` = number of predictions whose IoU with GT ``g`` is >= k:

- ``TP = #{g : hits[g] >= 1}``                        (a GT is found if ANY prediction hits it)
- ``n' = n_pred - sum_g (hits[g] - 1 if hits[g] >= 1)`` (extra hits on an already found GT are dropped from the
  prediction count: duplicates are neither TP nor FP)
- ``FP = n' - TP = n_pred - sum_g hits[g]``, ``FN = n_gt - TP``.

Known over-counting, reproduced on purpose: duplicate detections are forgiven (not FPs), which inflates precision;
and one prediction that has IoU >= k with two GTs finds both (TP can exceed the number of predictions) and is
subtracted twice from the prediction count, so FP can even become negative and precision exceed 1 (possible at
k = 0.5 only with IoU exactly 0.5 on both GTs, e.g. [0, 9] over [0, 4] and [5, 9]; easy at k = 0.3). Score
ordering plays no role. Precision/recall/F1 are then computed from these counts like everywhere else.

Micro / macro / overall (seed 002 eq. 28-29, as in the MEGC challenges): the ``micro`` part matches the micro GT
against the predictions typed micro, ``macro`` likewise, and ``overall`` adds the two parts' counts
(``A_ME + A_MaE`` over ``M_ME + M_MaE`` and ``N_ME + N_MaE``), so a prediction typed micro that lands on a macro GT is
an FP (and that GT an FN). A row's type is its own ``expression_type`` ("micro"/"macro", any case) where the column
exists and the value is not missing; otherwise its duration ``(offset - onset) / fps < 0.5 s`` makes it micro
(the annotation convention: time from the onset frame to the offset frame). ``fps`` (a float, or a mapping
video_id -> fps) is needed only when some row has to be typed by duration; otherwise it is ignored.

Precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2PR/(P+R), each 0 where its denominator is 0. TP/FP/FN are
pooled over all videos before any ratio is taken.

Speed (DESIGN section 12: 10^6 predictions x 10^5 GT in < 2 s): candidate pairs are found without a Python loop:
GT sorted by (video, onset), and for each prediction the only GTs that can reach IoU >= k have
``onset in [p.offset + 1 - len(p)/k, p.offset]`` (the union is at most len(p)/k frames), found with two
``np.searchsorted`` calls on a (video, onset) key; IoU is then computed for all pairs at once. The greedy matcher
runs in vectorised rounds: a prediction whose best free GT is wanted by no better-ranked unresolved prediction takes
it (it would in the sequential algorithm too, since GTs only ever get taken), so most predictions are settled in
the first round; what is left after a few rounds goes through a plain sequential loop over its few pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterable

import numpy as np
import pandas as pd

__all__ = ["spotting", "spotting_at"]

MATCHERS = ("greedy", "megc2020")
MICRO_MAX_SECONDS = 0.5
_PARTS = ("micro", "macro")
_MICRO, _MACRO = 0, 1

# Greedy rounds: switch to the sequential loop when few pairs remain or after this many rounds.
_SEQUENTIAL_BELOW = 2048
_MAX_ROUNDS = 12


# --------------------------------------------------------------------------------------------------- validation


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _bad_row(name: str, df: pd.DataFrame, pos: int, what: str) -> ValueError:
    """The error for the first offending row: its position, its index label and what identifies it."""
    shown = ", ".join(f"{c}={_plain(df[c].iloc[pos])!r}" for c in ("video_id", "onset", "offset") if c in df.columns)
    return ValueError(f"{name}: {what} in row {pos} (index {_plain(df.index[pos])!r}: {shown})")


def _frames(name: str, df: pd.DataFrame, col: str) -> np.ndarray:
    series = df[col]
    if pd.api.types.is_integer_dtype(series.dtype) and not series.hasnans:
        return series.to_numpy(dtype=np.int64)
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise _bad_row(name, df, int(np.flatnonzero(bad)[0]), f"{col} is missing or not a number")
    frac = values != np.floor(values)
    if frac.any():
        raise _bad_row(name, df, int(np.flatnonzero(frac)[0]), f"{col} is not a whole frame number")
    return values.astype(np.int64)


def _types_from_column(name: str, df: pd.DataFrame) -> np.ndarray:
    """-1 where missing (to be typed by duration), else _MICRO/_MACRO."""
    if "expression_type" not in df.columns:
        return np.full(len(df), -1, dtype=np.int8)
    codes, uniques = pd.factorize(df["expression_type"])
    lookup = np.empty(len(uniques) + 1, dtype=np.int8)
    lookup[-1] = -1  # factorize's code for missing values is -1
    for i, value in enumerate(uniques):
        text = str(value).strip().lower()
        if text not in _PARTS:
            first = int(np.flatnonzero(codes == i)[0])
            raise _bad_row(name, df, first, f"expression_type {value!r} is neither 'micro' nor 'macro'")
        lookup[i] = _MICRO if text == "micro" else _MACRO
    return lookup[codes]


class _Table:
    """One validated side (gt or pred) as numpy arrays."""

    def __init__(self, name: str, df: pd.DataFrame, with_score: bool) -> None:
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in ("video_id", "onset", "offset") if c not in df.columns]
        if missing:
            raise ValueError(f"{name} is missing column(s) {missing}; it has {list(df.columns)}")
        self.name = name
        self.df = df
        vids = df["video_id"]
        if vids.hasnans:
            raise _bad_row(name, df, int(np.flatnonzero(vids.isna().to_numpy())[0]), "video_id is missing")
        self.onset = _frames(name, df, "onset")
        self.offset = _frames(name, df, "offset")
        bad = self.onset > self.offset
        if bad.any():
            raise _bad_row(name, df, int(np.flatnonzero(bad)[0]), "onset > offset")
        self.score = None
        if with_score and "score" in df.columns:
            score = pd.to_numeric(df["score"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            nan = np.isnan(score)
            if nan.any():
                raise _bad_row(name, df, int(np.flatnonzero(nan)[0]), "score is missing or not a number")
            self.score = score
        self.type = _types_from_column(name, df)
        self.video = np.empty(0, dtype=np.int64)  # filled by _prepare (shared video codes)

    def __len__(self) -> int:
        return self.onset.shape[0]


def _fps_per_row(table: _Table, rows: np.ndarray, fps: Any, video_uniques: np.ndarray) -> np.ndarray:
    if fps is None:
        first = int(rows[0])
        raise ValueError(
            f"{table.name}: row {first} (index {_plain(table.df.index[first])!r}) has no expression_type, so it must "
            f"be typed micro/macro by its duration (< {MICRO_MAX_SECONDS} s), which needs the frame rate: pass fps= "
            "(a number or a mapping video_id -> fps), or give every row an expression_type"
        )
    codes = table.video[rows]
    if isinstance(fps, pd.Series):
        fps = fps.to_dict()
    if isinstance(fps, Mapping):
        needed = np.unique(codes)
        per_code = np.empty(needed.shape[0], dtype=np.float64)
        for i, code in enumerate(needed):
            vid = _plain(video_uniques[code])
            if vid not in fps:
                raise ValueError(f"{table.name}: fps mapping has no entry for video_id {vid!r}")
            per_code[i] = float(fps[vid])
        values = per_code[np.searchsorted(needed, codes)]
    else:
        values = np.full(rows.shape[0], float(fps))
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"{table.name}: fps must be a positive number, got {fps!r}")
    return values


def _assign_types(table: _Table, fps: Any, video_uniques: np.ndarray) -> None:
    untyped = np.flatnonzero(table.type < 0)
    if untyped.size == 0:
        return
    rate = _fps_per_row(table, untyped, fps, video_uniques)
    seconds = (table.offset[untyped] - table.onset[untyped]) / rate
    table.type[untyped] = np.where(seconds < MICRO_MAX_SECONDS, _MICRO, _MACRO)


def _prepare(gt: pd.DataFrame, pred: pd.DataFrame, fps: Any) -> tuple[_Table, _Table]:
    g = _Table("gt", gt, with_score=False)
    p = _Table("pred", pred, with_score=True)
    codes, uniques = pd.factorize(pd.concat([gt["video_id"], pred["video_id"]], ignore_index=True))
    codes = codes.astype(np.int64)
    g.video, p.video = codes[: len(g)], codes[len(g) :]
    uniques = np.asarray(uniques, dtype=object)
    _assign_types(g, fps, uniques)
    _assign_types(p, fps, uniques)
    return g, p


# --------------------------------------------------------------------------------------------------- candidates


def _candidate_pairs(g: _Table, p: _Table, k_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (pred, gt) pairs of the same video and type with IoU >= k_min: (pred index, gt index, iou)."""
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    if len(g) == 0 or len(p) == 0:
        return empty
    # Key = (video, type, onset) packed in one int64; matching is only ever within a video and a type.
    base = min(int(g.onset.min()), int(p.offset.min())) - 1
    p_len = p.offset - p.onset + 1
    # union <= inter / k <= len(p) / k  and  union >= p.offset - g.onset + 1  =>  g.onset >= p.offset + 1 - len(p)/k
    low = np.floor(p.offset + 1 - p_len / k_min).astype(np.int64) - 1
    low = np.maximum(low, base)
    span = int(max(g.onset.max(), p.offset.max())) - base + 1
    g_group = g.video * 2 + g.type
    p_group = p.video * 2 + p.type
    g_key = g_group * span + (g.onset - base)
    order = np.argsort(g_key, kind="stable")
    g_key_sorted = g_key[order]
    lo = np.searchsorted(g_key_sorted, p_group * span + (low - base), side="left")
    hi = np.searchsorted(g_key_sorted, p_group * span + (p.offset - base), side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return empty
    pair_p = np.repeat(np.arange(len(p), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    pair_sorted_g = np.arange(total, dtype=np.int64) - np.repeat(starts - lo, counts)
    pair_g = order[pair_sorted_g]
    on_p, off_p = p.onset[pair_p], p.offset[pair_p]
    on_g, off_g = g.onset[pair_g], g.offset[pair_g]
    inter = np.minimum(off_p, off_g) - np.maximum(on_p, on_g) + 1
    np.maximum(inter, 0, out=inter)
    union = (off_p - on_p + 1) + (off_g - on_g + 1) - inter
    iou = inter / union
    keep = iou >= k_min
    return pair_p[keep], pair_g[keep], iou[keep]


# ------------------------------------------------------------------------------------------------------ matchers


def _pred_rank(p: _Table, involved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Processing order of the predictions that have at least one candidate GT (the others are FPs whatever the
    order, so they are not sorted): descending score, then earlier onset, then row order.

    Returns (rank, pred_of_rank): rank[i] for each prediction (-1 if not involved), and its inverse.
    """
    onset = p.onset[involved]
    # np.lexsort / stable argsort keep row order for equal (score, onset) without a third key.
    if p.score is None:
        order = np.argsort(onset, kind="stable")
    else:
        order = np.lexsort((onset, -p.score[involved]))
    pred_of_rank = involved[order]
    rank = np.full(len(p), -1, dtype=np.int64)
    rank[pred_of_rank] = np.arange(pred_of_rank.size, dtype=np.int64)
    return rank, pred_of_rank


def _greedy(rank: np.ndarray, pred_of_rank: np.ndarray, pair_p: np.ndarray, pair_g: np.ndarray, iou: np.ndarray,
            n_pred: int, n_gt: int) -> np.ndarray:
    """One-to-one greedy matching; returns a bool mask of matched predictions.

    ``pair_*`` must be grouped by prediction (as ``_candidate_pairs`` makes them) with each prediction's GTs in
    (onset, row) order. No global sort is needed: the rounds only compare ranks.
    """
    matched = np.zeros(n_pred, dtype=bool)
    if pair_p.size == 0:
        return matched
    # Best GT first within each prediction: a stable sort by -iou of the (few) predictions with several candidates
    # keeps GT ties in (onset, row) order.
    per_pred = np.bincount(pair_p, minlength=n_pred)
    multi = np.flatnonzero(per_pred[pair_p] > 1)
    if multi.size:
        sub = multi[np.lexsort((-iou[multi], pair_p[multi]))]
        pair_g = pair_g.copy()
        pair_g[multi] = pair_g[sub]
    r, gg = rank[pair_p], pair_g
    done = np.zeros(pred_of_rank.size, dtype=bool)  # indexed by rank
    taken = np.zeros(n_gt, dtype=bool)
    big = np.iinfo(np.int64).max
    rounds = 0
    while r.size >= _SEQUENTIAL_BELOW and rounds < _MAX_ROUNDS:
        rounds += 1
        first = np.empty(r.size, dtype=bool)
        first[0] = True
        np.not_equal(r[1:], r[:-1], out=first[1:])
        # Best-ranked unresolved prediction still wanting each GT (among its remaining candidates). A prediction
        # whose best free GT is wanted by no better-ranked one gets it in the sequential algorithm too.
        min_rank = np.full(n_gt, big, dtype=np.int64)
        np.minimum.at(min_rank, gg, r)
        commit = first & (min_rank[gg] == r)
        done[r[commit]] = True
        taken[gg[commit]] = True
        keep = ~done[r] & ~taken[gg]
        r, gg = r[keep], gg[keep]
    if r.size:
        # Sequential greedy over what is left, in rank order (stable: best GT first within a prediction).
        order = np.argsort(r, kind="stable")
        done_set: set[int] = set()
        taken_set: set[int] = set()
        for ri, gi in zip(r[order].tolist(), gg[order].tolist()):
            if ri in done_set or gi in taken_set:
                continue
            done_set.add(ri)
            taken_set.add(gi)
        if done_set:
            done[np.fromiter(done_set, dtype=np.int64, count=len(done_set))] = True
    matched[pred_of_rank[done]] = True
    return matched


def _rates(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp != 0 else 0.0
    recall = tp / (tp + fn) if tp + fn != 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else 0.0
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "precision": float(precision), "recall": float(recall),
            "f1": float(f1)}


def _result(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, dict[str, Any]]:
    """tp/fp/fn indexed by part (_MICRO, _MACRO) -> {"overall", "micro", "macro"}."""
    return {
        "overall": _rates(int(tp.sum()), int(fp.sum()), int(fn.sum())),
        "micro": _rates(int(tp[_MICRO]), int(fp[_MICRO]), int(fn[_MICRO])),
        "macro": _rates(int(tp[_MACRO]), int(fp[_MACRO]), int(fn[_MACRO])),
    }


def _score_greedy(g: _Table, p: _Table, ranking: tuple[np.ndarray, np.ndarray], pairs: tuple, k: float) -> dict:
    pair_p, pair_g, iou = pairs
    keep = iou >= k
    rank, pred_of_rank = ranking
    matched = _greedy(rank, pred_of_rank, pair_p[keep], pair_g[keep], iou[keep], len(p), len(g))
    n_pred = np.bincount(p.type, minlength=2)
    n_gt = np.bincount(g.type, minlength=2)
    tp = np.bincount(p.type[matched], minlength=2)
    return _result(tp, n_pred - tp, n_gt - tp)


def _score_megc2020(g: _Table, p: _Table, pairs: tuple, k: float) -> dict:
    pair_p, pair_g, iou = pairs
    hit_g = pair_g[iou >= k]
    hits = np.bincount(hit_g, minlength=len(g))
    found = hits > 0
    n_pred = np.bincount(p.type, minlength=2)
    n_gt = np.bincount(g.type, minlength=2)
    tp = np.bincount(g.type[found], minlength=2)
    hit_pairs = np.bincount(g.type, weights=hits, minlength=2).astype(np.int64)
    fp = n_pred - hit_pairs
    return _result(tp, fp, n_gt - tp)


# ---------------------------------------------------------------------------------------------------------- API


def _check_k(k: Any) -> float:
    value = float(k)
    if not (0.0 < value <= 1.0):
        raise ValueError(f"iou threshold must be in (0, 1], got {k!r}")
    return value


def spotting_at(
    gt: pd.DataFrame,
    pred: pd.DataFrame,
    ious: Iterable[float] = (0.5, 0.4, 0.3),
    matcher: str = "greedy",
    fps: float | Mapping[Any, float] | None = None,
) -> dict[float, dict[str, dict[str, Any]]]:
    """``{k: spotting(gt, pred, iou=k, ...)}`` for each k (seed 002 Table 4 reports k = 0.5, 0.4, 0.3).

    Validation, typing and the candidate search are done once, at the smallest k.
    """
    if matcher not in MATCHERS:
        raise ValueError(f"matcher must be one of {MATCHERS}, got {matcher!r}")
    ks = [_check_k(k) for k in ious]
    if not ks:
        raise ValueError("ious is empty")
    g, p = _prepare(gt, pred, fps)
    pairs = _candidate_pairs(g, p, min(ks))
    out: dict[float, dict[str, dict[str, Any]]] = {}
    if matcher == "greedy":
        involved = np.flatnonzero(np.bincount(pairs[0], minlength=len(p)) > 0)
        ranking = _pred_rank(p, involved)
        for k_in, k in zip(ious, ks):
            out[k_in] = _score_greedy(g, p, ranking, pairs, k)
    else:
        for k_in, k in zip(ious, ks):
            out[k_in] = _score_megc2020(g, p, pairs, k)
    return out


def spotting(
    gt: pd.DataFrame,
    pred: pd.DataFrame,
    iou: float = 0.5,
    matcher: str = "greedy",
    fps: float | Mapping[Any, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Spotting scores at IoU >= ``iou``: ``{"overall", "micro", "macro"}``, each
    ``{"tp", "fp", "fn", "precision", "recall", "f1"}`` (see the module docstring for the exact rules).

    Raises ValueError for a missing column, a missing/non-integral frame, onset > offset (naming the first bad row),
    an unknown expression_type, a missing score, or when a row must be typed by duration and ``fps`` is not given.
    """
    return spotting_at(gt, pred, ious=(iou,), matcher=matcher, fps=fps)[iou]
