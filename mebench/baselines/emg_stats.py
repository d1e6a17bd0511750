"""`mebench emg stats`: the micro- vs macro-expression EMG statistics of seed 001 (Li et al., CASMEMG), Tables 3-4.

Per sample (an annotated expression with its EMG recording), on the envelope of ``mebench.baselines.emg.preprocess``
(eq. 1-4, computed once per whole recording):

- the interval [t1, t2] is the EMG-clock annotation (``emg_onset_s``, ``emg_offset_s``);
- the channel k: ``channel="annotated"`` (default) takes the row's ``emg_channel`` -- the channel the authors
  selected for that expression (section 4.5, column ``channel`` of ``380_sort.xlsx``) -- and falls back to eq. 5
  where it is missing; ``channel="eq5"`` always applies eq. 5 (the largest envelope peak among c1-c7);
- intensity ``MVC% = 100 x A^k / MVC^k_i`` (eq. 5-6), A^k the envelope peak over [t1, t2]. MVC^k_i: the maximum of
  channel k's envelope over subject i's MVC recording(s) (section 4.4, part A) when the corpus has them (see
  ``MVC_TABLE``); else the maximum of channel k's envelope over all of subject i's session recordings (a stand-in:
  the subject's strongest contraction seen, so MVC% <= 100 and values are larger than against a true MVC), and the
  output says which was used, per subject;
- ``iEMG`` (eq. 7): integral over [t1, t2] of the min-max normalised envelope (normalised over the whole recording's
  channel k, as the authors' ``emg_sigpro.m``), dt in ms (``mebench.baselines.emg.iemg``);
- duration ``t2 - t1`` in seconds (EMG clock; the video clock where the EMG times are missing, said in the output).

Per indicator and type (micro, macro): N, mean, SD (ddof 1), SE, and the 95% confidence interval of the mean,
``mean +- t_{0.975, N-1} x SD / sqrt(N)`` (Table 4: with Table 3's N/mean/SD this gives exactly the printed limits,
e.g. ME MVC% 8.11 +- 1.970 x 8.54 / sqrt(233) = [7.01, 9.21]). Between the types: the independent-samples t-test
``scipy.stats.ttest_ind(macro, micro, equal_var=True)`` -- Student's test with pooled variance, as the paper's
"t(378)" (df = 147 + 233 - 2) says, and as its numbers confirm (Welch would give df ~ 174) -- its p (two-sided), and
Cohen's d = (mean_macro - mean_micro) / pooled SD, pooled SD = sqrt(((n1-1) s1^2 + (n2-1) s2^2) / (n1 + n2 - 2))
(Table 3's d = 1.01 and 1.25 are reproduced by this formula from its own N/mean/SD).

Corpus layout read: ``samples.parquet`` and, when present, ``emg.parquet`` (one row per recording: dataset,
video_id, subject, sampling_rate, start_s, ch1..ch8 list<float>, time, dropped_marker_rows; written by the casmemg
loader). MVC recordings are read from ``mvc.parquet`` (same layout, one row per MVC recording, keyed by ``subject``)
or from ``emg.parquet`` rows whose ``kind`` column is ``mvc``; without either, the session maximum is used.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from mebench.baselines.emg import MUSCLE_CHANNELS, iemg, preprocess
from mebench.emg_table import Recording, recordings
from mebench.emg_table import is_missing as _missing
from mebench.errors import InputError

__all__ = [
    "INDICATORS",
    "MVC_TABLE",
    "REPORTED",
    "Recording",
    "cohens_d",
    "compare",
    "corpus_stats",
    "describe",
    "per_sample",
    "recordings",
    "render",
    "summarize",
]

MVC_TABLE = "mvc.parquet"
EMG_TABLE = "emg.parquet"
TYPES = ("macro", "micro")
INDICATORS = {
    "mvc_percent": "MVC% (eq. 6)",
    "iemg": "iEMG (eq. 7, normalised x ms)",
    "duration_s": "Duration (s)",
}

# Seed 001 as printed (Table 3: N, mean, SD, t, d; Table 4: 95% limits), for display beside mebench's numbers.
REPORTED: dict[str, dict[str, Any]] = {
    "mvc_percent": {"macro": {"n": 147, "mean": 23.09, "sd": 21.27, "ci95": [19.63, 26.56]},
                    "micro": {"n": 233, "mean": 8.11, "sd": 8.54, "ci95": [7.01, 9.21]},
                    "test": {"df": 378, "t": 9.6, "d": 1.01}},
    "iemg": {"macro": {"n": 147, "mean": 440.89, "sd": 459.97}, "micro": {"n": 233, "mean": 78.8, "sd": 55.6},
             "test": {"df": 378, "t": 11.89, "d": 1.25}},
    "duration_s": {"macro": {"ci95": [1.027, 1.295]}, "micro": {"ci95": [0.307, 0.327]}},
}


# ------------------------------------------------------------------------------------------------ statistics


def _clean(values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def describe(values: Any) -> dict[str, Any]:
    """N, mean, SD (ddof 1), SE and the t-based 95% confidence interval of the mean (Table 4); None where
    undefined (N < 2 for SD/SE/CI, N = 0 for the mean). NaNs are ignored."""
    from scipy import stats

    a = _clean(values)
    n = int(a.size)
    out: dict[str, Any] = {"n": n, "mean": None, "sd": None, "se": None, "ci95": None}
    if n == 0:
        return out
    out["mean"] = float(a.mean())
    if n >= 2:
        sd = float(a.std(ddof=1))
        se = sd / math.sqrt(n)
        half = float(stats.t.ppf(0.975, n - 1)) * se
        out.update(sd=sd, se=se, ci95=[out["mean"] - half, out["mean"] + half])
    return out


def cohens_d(a: Any, b: Any) -> float | None:
    """(mean(a) - mean(b)) / pooled SD, pooled SD = sqrt(((n_a-1) s_a^2 + (n_b-1) s_b^2) / (n_a + n_b - 2))."""
    a, b = _clean(a), _clean(b)
    if a.size < 2 or b.size < 2:
        return None
    pooled = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else None


def compare(macro: Any, micro: Any) -> dict[str, Any]:
    """Table 3's test of macro against micro: Student's independent-samples t (``scipy.stats.ttest_ind``,
    ``equal_var=True``, two-sided), its df and p, and Cohen's d (pooled SD). None where undefined."""
    from scipy import stats

    a, b = _clean(macro), _clean(micro)
    out: dict[str, Any] = {"test": "Student's independent-samples t-test (scipy.stats.ttest_ind, equal_var=True, "
                                   "two-sided), macro vs micro", "t": None, "df": None, "p": None,
                           "d": cohens_d(a, b)}
    if a.size >= 2 and b.size >= 2:
        with warnings.catch_warnings():  # identical values: t is inf or NaN, reported as None below
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.ttest_ind(a, b, equal_var=True)
        t, p = float(res.statistic), float(res.pvalue)
        out.update(t=t if math.isfinite(t) else None, p=p if math.isfinite(p) else None,
                   df=int(a.size + b.size - 2))
    return out


# ------------------------------------------------------------------------------------------------ recordings


def _envelope(rec: Recording) -> np.ndarray:
    try:
        return preprocess(rec.signals, rec.fs)
    except ValueError as exc:
        raise InputError(f"EMG recording {rec.dataset}/{rec.video_id} ({rec.kind}): {exc}") from None



# ------------------------------------------------------------------------------------------------ per sample


def _number(value: Any) -> float:
    try:
        return float("nan") if _missing(value) else float(value)
    except (TypeError, ValueError):
        return float("nan")


def per_sample(samples: pd.DataFrame, emg: Iterable[Recording] = (), mvc: Iterable[Recording] = (),
               channel: str = "annotated") -> tuple[pd.DataFrame, dict[str, Any]]:
    """The indicators of every sample (one row each, in the order of `samples`) and what was used.

    `samples`: corpus rows (sample_id, dataset, subject, video_id, expression_type, emg_onset_s, emg_offset_s,
    emg_channel; onset_s/offset_s for the duration fallback). `emg`: the session recordings; `mvc`: MVC
    recordings (or rows of kind 'mvc' among `emg`). Returns (table, info): the table has sample_id, subject,
    expression_type, duration_s, duration_clock, channel (1-based), channel_rule, peak, mvc, mvc_source,
    mvc_percent, iemg, skipped (the reason a sample has no EMG indicators, else None)."""
    if channel not in ("annotated", "eq5"):
        raise InputError(f"channel must be 'annotated' or 'eq5', got {channel!r}")
    frame = samples.reset_index(drop=True)
    n = len(frame)
    col = frame.get

    def column(name: str) -> np.ndarray:
        series = col(name)
        if series is None:
            return np.full(n, np.nan)
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    t1, t2 = column("emg_onset_s"), column("emg_offset_s")
    v1, v2 = column("onset_s"), column("offset_s")
    emg_ok = np.isfinite(t1) & np.isfinite(t2)
    duration = np.where(emg_ok, t2 - t1, v2 - v1)
    clock = np.where(emg_ok, "emg", np.where(np.isfinite(v1) & np.isfinite(v2), "video", None))
    out = pd.DataFrame({
        "sample_id": frame["sample_id"].astype(object) if "sample_id" in frame else np.arange(n),
        "subject": frame["subject"].astype(object) if "subject" in frame else None,
        "expression_type": frame["expression_type"].astype(object) if "expression_type" in frame else None,
        "duration_s": duration, "duration_clock": clock,
        "channel": pd.array([pd.NA] * n, dtype="Int64"), "channel_rule": None,
        "peak": np.nan, "mvc": np.nan, "mvc_source": None, "mvc_percent": np.nan, "iemg": np.nan,
        "skipped": None,
    })
    out["channel_rule"] = out["channel_rule"].astype(object)
    out["mvc_source"] = out["mvc_source"].astype(object)
    out["skipped"] = out["skipped"].astype(object)
    annotated = column("emg_channel")

    by_recording: dict[tuple[str | None, str], list[int]] = {}
    videos = frame["video_id"] if "video_id" in frame else pd.Series([None] * n)
    datasets = frame["dataset"] if "dataset" in frame else pd.Series([None] * n)
    for i, (dataset, video) in enumerate(zip(datasets.tolist(), videos.tolist())):
        if _missing(video):
            out.at[i, "skipped"] = "no video_id (no EMG recording)"
            continue
        by_recording.setdefault((None if _missing(dataset) else str(dataset), str(video)), []).append(i)

    session_max: dict[tuple[str, int], float] = {}
    mvc_max: dict[tuple[str, int], float] = {}
    peaks: dict[int, tuple[np.ndarray, tuple[str, ...]]] = {}
    seen: set[int] = set()
    n_recordings = 0

    def take_mvc(rec: Recording) -> None:
        if rec.subject is None or rec.signals.shape[0] == 0:
            return
        env = _envelope(rec)
        for j, name in enumerate(rec.channels):
            key = (rec.subject, int(name[2:]))
            mvc_max[key] = max(mvc_max.get(key, -np.inf), float(env[:, j].max()))

    for rec in mvc:
        take_mvc(rec)
    for rec in emg:
        if rec.kind == "mvc":
            take_mvc(rec)
            continue
        rows = by_recording.get((rec.dataset, rec.video_id)) or by_recording.get((None, rec.video_id))
        if rec.signals.shape[0] == 0:
            continue
        n_recordings += 1
        env = _envelope(rec)
        lo, hi = env.min(axis=0), env.max(axis=0)
        if rec.subject is not None:
            for j, name in enumerate(rec.channels):
                key = (rec.subject, int(name[2:]))
                session_max[key] = max(session_max.get(key, -np.inf), float(hi[j]))
        for i in rows or []:
            seen.add(i)
            if not emg_ok[i]:
                out.at[i, "skipped"] = "no EMG-clock interval (emg_onset_s/emg_offset_s)"
                continue
            keep = (rec.times >= t1[i]) & (rec.times <= t2[i])
            if not keep.any():
                out.at[i, "skipped"] = "EMG interval outside the recording"
                continue
            seg = env[keep]
            muscles = [j for j, name in enumerate(rec.channels) if 1 <= int(name[2:]) <= MUSCLE_CHANNELS]
            k = None
            if channel == "annotated" and np.isfinite(annotated[i]) and f"ch{int(annotated[i])}" in rec.channels:
                k, rule = rec.channels.index(f"ch{int(annotated[i])}"), "annotated"
            if k is None:
                k, rule = muscles[int(np.argmax(seg[:, muscles].max(axis=0)))], "eq5"  # eq. 5
            out.at[i, "channel"] = int(rec.channels[k][2:])
            out.at[i, "channel_rule"] = rule
            out.at[i, "peak"] = float(seg[:, k].max())
            out.at[i, "iemg"] = iemg(seg[:, k], rec.fs, norm=(float(lo[k]), float(hi[k])))  # eq. 7
            peaks[i] = (seg.max(axis=0), rec.channels)
    for i in range(n):
        if out.at[i, "skipped"] is None and i not in seen:
            out.at[i, "skipped"] = "no EMG recording for its video_id"

    for i in peaks:
        subject = out.at[i, "subject"]
        key = (None if _missing(subject) else str(subject), int(out.at[i, "channel"]))
        if key in mvc_max:
            value, source = mvc_max[key], "mvc-recording"
        else:
            value, source = session_max.get(key, np.nan), "session-max"
        out.at[i, "mvc"] = value
        out.at[i, "mvc_source"] = source
        out.at[i, "mvc_percent"] = 100.0 * out.at[i, "peak"] / value if value > 0 else np.nan  # eq. 6

    used = out[out["mvc_source"].notna()]
    subjects_by_source = {s: sorted(set(used.loc[used["mvc_source"] == s, "subject"].astype(str)))
                          for s in ("mvc-recording", "session-max")}
    info = {
        "recordings": n_recordings,
        "channel_rule": channel,
        "channel_rules_used": {str(k): int(v) for k, v in out["channel_rule"].value_counts().items()},
        "mvc_source": ("mvc-recording" if not subjects_by_source["session-max"] and subjects_by_source["mvc-recording"]
                       else "session-max" if not subjects_by_source["mvc-recording"] else "mixed"),
        "mvc_subjects": {k: len(v) for k, v in subjects_by_source.items()},
        "duration_clock": {str(k): int(v) for k, v in pd.Series(clock).value_counts().items()},
        "skipped": {str(k): int(v) for k, v in out["skipped"].value_counts().items()},
    }
    if not n_recordings:
        info["mvc_source"] = None
    return out, info


def summarize(table: pd.DataFrame) -> dict[str, Any]:
    """Tables 3-4 from ``per_sample``'s table: per indicator, ``describe`` of each type and ``compare``."""
    result: dict[str, Any] = {}
    types = table["expression_type"].astype(object)
    for name in INDICATORS:
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        groups = {t: values[(types == t).to_numpy(dtype=bool)] for t in TYPES}
        result[name] = {t: describe(groups[t]) for t in TYPES}
        result[name]["test"] = compare(groups["macro"], groups["micro"])
    return result


# ------------------------------------------------------------------------------------------------ the corpus


def _read_table(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file is the user's to fix
        raise InputError(f"not a readable Parquet table ({type(exc).__name__}: {exc})", file=path) from None


def corpus_stats(corpus: str | Path, channel: str = "annotated") -> dict[str, Any]:
    """Seed 001 Tables 3-4 on a built corpus (see the module docstring). InputError when the folder is not a corpus
    or holds no EMG-dataset samples."""
    from mebench.corpus import read_meta, read_samples

    corpus = Path(corpus)
    if not corpus.is_dir():
        raise InputError("corpus folder not found", file=corpus)
    meta = read_meta(corpus)
    samples = read_samples(corpus)
    emg_path, mvc_path = corpus / EMG_TABLE, corpus / MVC_TABLE
    emg_table = _read_table(emg_path) if emg_path.is_file() else None
    datasets = {"casmemg"}
    if emg_table is not None and "dataset" in emg_table.column_names:
        datasets |= {d for d in emg_table.column("dataset").to_pylist() if d}
    rows = samples[samples["dataset"].isin(sorted(datasets))] if "dataset" in samples else samples.iloc[:0]
    if rows.empty:
        raise InputError("the corpus has no samples of an EMG dataset (casmemg)", file=corpus)
    notes: list[str] = []
    typed = rows["expression_type"].isin(TYPES) if "expression_type" in rows else pd.Series(False, index=rows.index)
    if not typed.all():
        notes.append(f"{int((~typed).sum())} samples without a micro/macro type are left out")
    rows = rows[typed].reset_index(drop=True)
    sources = rows["type_source"].astype(str).value_counts().to_dict() if "type_source" in rows else {}
    derived = {k: v for k, v in sources.items() if k != "annotation"}
    if derived:
        notes.append("expression types of " + ", ".join(f"{v} samples by rule {k!r}" for k, v in derived.items())
                     + " are derived from the duration, so the duration comparison between the types is circular "
                     "(the coders' types come with the release's coding file)")
    mvc_recs = recordings(_read_table(mvc_path), kind="mvc") if mvc_path.is_file() else ()
    emg_recs = recordings(emg_table) if emg_table is not None else ()
    table, info = per_sample(rows, emg_recs, mvc_recs, channel=channel)
    if emg_table is None:
        notes.append("the corpus has no EMG signals (emg.parquet): only durations are computed; build it from the "
                     "dataset root with the EMG files for MVC% and iEMG")
    if info["mvc_source"] in ("session-max", "mixed"):
        notes.append(f"MVC from the maximum envelope per subject and channel over the session recordings for "
                     f"{info['mvc_subjects']['session-max']} subjects (no MVC recordings in the corpus for them): "
                     "MVC% is relative to the strongest contraction recorded, not a true MVC")
    return {
        "corpus": str(corpus),
        "fingerprint": meta.get("fingerprint"),
        "shadow": meta.get("shadow"),
        "n_samples": int(len(rows)),
        "types": {t: int((rows["expression_type"] == t).sum()) for t in TYPES},
        "type_source": {str(k): int(v) for k, v in sources.items()},
        "definitions": {
            "preprocessing": "seed 001 eq. 1-4: DC removal, Butterworth band-pass 20-450 Hz (order 2 prototype), "
                             "full-wave rectification, Butterworth low-pass 6 Hz (order 2), zero-phase",
            "interval": "EMG clock [emg_onset_s, emg_offset_s]",
            "channel": "row's emg_channel, else eq. 5 (largest envelope peak among c1-c7)" if channel == "annotated"
            else "eq. 5 (largest envelope peak among c1-c7)",
            "mvc_percent": "100 x max envelope over the interval / MVC of the subject and channel (eq. 6)",
            "iemg": "sum over the interval of the envelope min-max normalised over the whole recording's channel, "
                    "x 1000 / fs (normalised units x ms; eq. 7)",
            "ci95": "mean +- t(0.975, N-1) x SD / sqrt(N)",
            "test": "Student's t (equal_var=True), two-sided; Cohen's d with pooled SD",
        },
        "info": info,
        "indicators": summarize(table),
        "reported": REPORTED,
        "notes": notes,
    }


# ------------------------------------------------------------------------------------------------ display


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if value is None:
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def render(result: dict[str, Any], console: Any = None) -> None:
    """Print Tables 3 and 4 (mebench's numbers beside seed 001's) and the notes with rich."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    ind = result["indicators"]
    t3 = Table(title=f"EMG indicators, micro vs macro (seed 001 Table 3) - {result['n_samples']} samples")
    for name in ("Indicator", "Type", "N", "Mean", "SD", "df", "t", "p", "d", "seed 001: N / Mean / SD / t / d"):
        t3.add_column(name, justify="left" if name in ("Indicator", "Type") else "right")
    for key, label in INDICATORS.items():
        test = ind[key]["test"]
        reported = REPORTED.get(key, {})
        for j, kind in enumerate(TYPES):
            d = ind[key][kind]
            rep = reported.get(kind, {})
            rtest = reported.get("test", {})
            paper = "-"
            if "mean" in rep:
                paper = f"{rep['n']} / {rep['mean']} / {rep['sd']}"
                if j == 0 and rtest:
                    paper += f" / {rtest['t']} / {rtest['d']}"
            t3.add_row(label if j == 0 else "", "MaE" if kind == "macro" else "ME", str(d["n"]), _fmt(d["mean"]),
                       _fmt(d["sd"]), _fmt(test["df"]) if j == 0 else "", _fmt(test["t"]) if j == 0 else "",
                       _p(test["p"]) if j == 0 else "", _fmt(test["d"]) if j == 0 else "", paper)
    console.print(t3)
    t4 = Table(title="95% interval estimates (seed 001 Table 4)")
    for name in ("Characteristic", "Type", "Lower", "Upper", "seed 001"):
        t4.add_column(name, justify="left" if name in ("Characteristic", "Type") else "right")
    for key, label, digits in (("mvc_percent", "Intensity (MVC%)", 2), ("duration_s", "Duration (s)", 3)):
        for j, kind in enumerate(TYPES):
            ci = ind[key][kind]["ci95"] or [None, None]
            rep = REPORTED[key][kind].get("ci95")
            t4.add_row(label if j == 0 else "", "MaE" if kind == "macro" else "ME", _fmt(ci[0], digits),
                       _fmt(ci[1], digits), f"{rep[0]} - {rep[1]}" if rep else "-")
    console.print(t4)
    info = result["info"]
    console.print(f"MVC source: {info['mvc_source'] or 'none (no EMG signals)'}; channel rule: {info['channel_rule']} "
                  f"(used: {info['channel_rules_used'] or '-'}); duration clock: {info['duration_clock'] or '-'}")
    if info["skipped"]:
        console.print("samples without EMG indicators: " + ", ".join(f"{k} x{v}" for k, v in info["skipped"].items()))
    for note in result["notes"]:
        console.print(f"note: {note}")
