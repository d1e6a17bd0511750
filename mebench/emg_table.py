"""The corpus' EMG tables (``emg.parquet``, ``mvc.parquet``) read back as recordings: one place for the layout.

The casmemg loader writes one row per recording: dataset, video_id, subject (or subject_raw), sampling_rate,
start_s, ch1..ch8 as list<float>, time (list<double>, the file's own clock), dropped_marker_rows, and for MVC tables
kind. Readers (the views that give a model ``emg(row)``, ``mebench emg stats``) need the same signals and the same
clock from it: sample k is at ``start_s + k / sampling_rate`` unless marker rows were dropped, in which case the
file's ``time`` column is the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from mebench.errors import InputError

__all__ = ["Recording", "is_missing", "recordings"]


@dataclass
class Recording:
    """One EMG recording: (n, channels) signals, EMG-clock times (s), sampling rate, channel names, whose it is."""

    dataset: str | None
    video_id: str | None
    subject: str | None
    signals: np.ndarray
    times: np.ndarray
    fs: float
    channels: tuple[str, ...]
    kind: str = "session"  # or "mvc"


def is_missing(value: Any) -> bool:
    """None, NA or a float NaN (what an absent cell of an EMG table reads as)."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def _channel_names(columns: Iterable[str]) -> list[str]:
    names = [c for c in columns if isinstance(c, str) and c.startswith("ch") and c[2:].isdigit()]
    return sorted(names, key=lambda c: int(c[2:]))


def _times(row: dict[str, Any], n: int, fs: float) -> np.ndarray:
    """The recording's clock: the file's time column when marker rows were dropped, else start_s + k / fs."""
    time = row.get("time")
    dropped = row.get("dropped_marker_rows")
    if time is not None and not is_missing(time) and len(time) == n and not is_missing(dropped) and dropped > 0:
        return np.asarray(time, dtype=np.float64)
    start = row.get("start_s")
    start = 0.0 if is_missing(start) else float(start)
    return start + np.arange(n, dtype=np.float64) / fs


def _subject(row: dict[str, Any]) -> str | None:
    subject = row.get("subject")
    if not is_missing(subject):
        return str(subject)
    raw, dataset = row.get("subject_raw"), row.get("dataset")
    if is_missing(raw):
        return None
    return f"{dataset}/{raw}" if not is_missing(dataset) else str(raw)


def recordings(table: Any, kind: str | None = None) -> Iterator[Recording]:
    """The recordings of an EMG table (a pyarrow Table, e.g. ``emg.parquet``, or a DataFrame with the same
    columns), one at a time. `kind` overrides the rows' own ``kind`` column (default 'session')."""
    import pyarrow as pa

    if isinstance(table, pa.Table):
        names = _channel_names(table.column_names)
        scalars = [c for c in table.column_names if c not in names and c != "time"]
        for i in range(table.num_rows):
            one = table.slice(i, 1)
            row = {c: one.column(c)[0].as_py() for c in scalars}
            if "time" in table.column_names:
                time = one.column("time").combine_chunks()
                row["time"] = None if time.is_null().to_numpy(zero_copy_only=False)[0] else \
                    time.flatten().to_numpy(zero_copy_only=False)
            arrays = [one.column(c).combine_chunks().flatten().to_numpy(zero_copy_only=False) for c in names]
            yield _recording(row, names, arrays, kind)
        return
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"an EMG table is a pyarrow Table or a pandas DataFrame, not {type(table).__name__}")
    names = _channel_names(table.columns)
    for _, series in table.iterrows():
        row = series.to_dict()
        arrays = [np.asarray(row[c], dtype=np.float64) if not _missing_array(row[c]) else np.zeros(0)
                  for c in names]
        yield _recording(row, names, arrays, kind)


def _missing_array(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, tuple, np.ndarray)) and is_missing(value))


def _recording(row: dict[str, Any], names: list[str], arrays: list[np.ndarray], kind: str | None) -> Recording:
    n = min((a.size for a in arrays), default=0)
    if any(a.size != n for a in arrays):
        raise InputError(f"EMG recording {row.get('video_id')!r}: channels of different lengths")
    fs = row.get("sampling_rate")
    fs = 1000.0 if is_missing(fs) else float(fs)
    signals = np.stack(arrays, axis=1) if arrays else np.zeros((0, 0))
    own_kind = row.get("kind")
    kind = kind or (str(own_kind).lower() if not is_missing(own_kind) else "session")
    return Recording(None if is_missing(row.get("dataset")) else str(row.get("dataset")),
                     None if is_missing(row.get("video_id")) else str(row.get("video_id")), _subject(row), signals,
                     _times(row, n, fs), fs, tuple(names), kind)
