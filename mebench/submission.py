"""Predictions files: read a CSV or Parquet file and validate it against a protocol before anything is scored.

Why a module of its own: a score is only as good as the file it was computed from, and the most common ways a
submission goes wrong are silent ones (a duplicated id that pandas happily keeps, a missing test sample that just
shrinks the denominator, a label spelled 'Happiness ' that counts as wrong, a CSV with a stray comma). Every such
problem is an ``InputError`` (exit code 2) naming the file and the first offending rows, raised before any metric
runs, so nothing is ever written from a bad file.

Row numbers are those a person sees in the file: in a CSV the header is line 1, so the first data row is row 2
(blank lines are skipped but still counted); in a Parquet file rows are counted from 1.

File formats per task (DESIGN.md section 7):

- recognition: ``sample_id,label`` (label one of the protocol's classes; case and surrounding blanks are forgiven,
  and for '+'-joined classes the order of the parts does not matter);
- multilabel: ``sample_id,labels`` with '+'-joined labels (empty = no label active);
- au-detection: ``sample_id,AU1,AU2,...``, one 0/1 column per AU of the protocol;
- spotting: ``video_id,onset,offset[,score][,expression_type]`` in inclusive frames of the dataset's numbering
  (any number of rows per video, none for a video without detections; an empty expression_type is typed by duration);
- emg-interval: ``sample_id,onset_s,offset_s`` in EMG-clock seconds (both empty = not detected).

Every test sample (recognition, multi-label, AU, EMG) must have exactly one row; the predictions of all folds are
in one file because metrics are computed on them pooled.

``load_predictions(path, protocol, selection)`` returns a ``Predictions`` whose ``frame`` is the canonical
predictions DataFrame that ``mebench.results`` scores (the same form ``mebench run`` produces).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from mebench.errors import InputError

if TYPE_CHECKING:
    from mebench.protocol import Protocol, Selection

__all__ = ["Predictions", "RawTable", "expected_columns", "load_predictions", "read_table", "validate"]

MISSING_TEXT = {"", "nan", "na", "n/a", "null", "none"}
TRUE_TEXT = {"1", "1.0", "true"}
FALSE_TEXT = {"0", "0.0", "false"}
SHOW_ROWS = 5  # how many offending rows a message names


@dataclass
class RawTable:
    """A predictions file as text cells: `frame` (object columns, str or None for missing) and the file row
    number of each record (`rows`)."""

    path: Path
    format: str
    frame: pd.DataFrame
    rows: np.ndarray
    sha256: str


@dataclass
class Predictions:
    """A validated predictions file: its sha256 (cited by the results record) and the canonical frame."""

    path: Path
    sha256: str
    format: str
    frame: pd.DataFrame


# ------------------------------------------------------------------------------------------------------- reading


def read_table(path: str | Path) -> RawTable:
    """Read a CSV (UTF-8, header row) or Parquet predictions file into text cells; InputError for anything that is
    not one (a binary file, bad encoding, a row with the wrong number of fields, broken quoting)."""
    path = Path(path)
    if not path.exists():
        raise InputError("predictions file not found", file=path)
    if not path.is_file():
        raise InputError("predictions path is not a file", file=path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if data[:4] == b"PAR1" or path.suffix.lower() in (".parquet", ".pq"):
        frame, rows = _read_parquet(path, data)
        return RawTable(path, "parquet", frame, rows, sha)
    frame, rows = _read_csv(path, data)
    return RawTable(path, "csv", frame, rows, sha)


def _read_csv(path: Path, data: bytes) -> tuple[pd.DataFrame, np.ndarray]:
    if b"\x00" in data[:65536]:
        raise InputError("this is a binary file, not a CSV text file (or a Parquet file); predictions must be CSV "
                         "with a header row, or Parquet", file=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"row {line}: not UTF-8 text (byte {exc.start}); is this a binary file? predictions must be "
                         "a UTF-8 CSV with a header row, or Parquet", file=path) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise InputError("empty file: expected a header row (e.g. sample_id,label)", file=path)
        names = [h.strip() for h in header]
        if any(not n for n in names):
            raise InputError(f"row 1: the header has an empty column name: {header}", file=path)
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise InputError(f"row 1: the header names column(s) {doubled} more than once", file=path)
        records: list[list[str]] = []
        lines: list[int] = []
        previous = reader.line_num
        for record in reader:
            start = previous + 1
            previous = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            if len(record) != len(names):
                raise InputError(f"row {start}: malformed CSV: {len(record)} field(s) where the header has "
                                 f"{len(names)} ({','.join(names)})", file=path)
            records.append(record)
            lines.append(start)
    except csv.Error as exc:
        raise InputError(f"row {reader.line_num}: malformed CSV ({exc})", file=path) from None
    columns = {name: [r[j] for r in records] for j, name in enumerate(names)}
    frame = pd.DataFrame({name: _clean(pd.Series(values, dtype=object)) for name, values in columns.items()},
                         columns=names)
    return frame, np.asarray(lines, dtype=np.int64)


def _read_parquet(path: Path, data: bytes) -> tuple[pd.DataFrame, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"not a readable Parquet file ({type(exc).__name__}: {exc})", file=path) from None
    names = [str(n).strip() for n in table.column_names]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise InputError(f"column(s) {doubled} appear more than once", file=path)
    frame = pd.DataFrame(
        {name: _clean(pd.Series([_cell_text(v) for v in table.column(i).to_pylist()], dtype=object))
         for i, name in enumerate(names)},
        columns=names,
    )
    return frame, np.arange(1, len(frame) + 1, dtype=np.int64)


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def _clean(series: pd.Series) -> pd.Series:
    """Strip blanks; '', 'NaN', 'NA', 'null', 'None' -> None (missing)."""
    out: list[Any] = []
    for value in series.tolist():
        if isinstance(value, str):
            value = value.strip()
            out.append(None if value.lower() in MISSING_TEXT else value)
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        else:
            out.append(value)
    return pd.Series(out, dtype=object)


# ---------------------------------------------------------------------------------------------------- validation


def expected_columns(protocol: Protocol) -> tuple[list[str], list[str]]:
    """(required, optional) columns of a predictions file for `protocol`."""
    if protocol.task == "recognition":
        return ["sample_id", "label"], []
    if protocol.task == "multilabel":
        return ["sample_id", "labels"], []
    if protocol.task == "au-detection":
        return ["sample_id"] + protocol.classes, []
    if protocol.task == "spotting":
        return ["video_id", "onset", "offset"], ["score", "expression_type"]
    return ["sample_id", "onset_s", "offset_s"], []


class _Checker:
    """Raises the InputError for the first failing check, naming the file and the first offending rows."""

    def __init__(self, raw: RawTable) -> None:
        self.raw = raw
        self.frame = raw.frame

    def error(self, mask: np.ndarray, message: str, example: Callable[[int], str] | None = None) -> InputError:
        positions = np.flatnonzero(mask)
        shown = ", ".join(str(int(self.raw.rows[p])) for p in positions[:SHOW_ROWS])
        more = f" and {len(positions) - SHOW_ROWS} more" if len(positions) > SHOW_ROWS else ""
        noun = "row" if len(positions) == 1 else "rows"
        detail = f" ({example(int(positions[0]))})" if example is not None else ""
        return InputError(f"{noun} {shown}{more}: {message}{detail}", file=self.raw.path)

    def check(self, mask: Any, message: str, example: Callable[[int], str] | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            raise self.error(mask, message, example)

    def columns(self, required: list[str], optional: list[str]) -> None:
        have = list(self.frame.columns)
        missing = [c for c in required if c not in have]
        if missing:
            raise InputError(f"missing column(s) {missing}; expected {','.join(required)}"
                             + (f" (optional: {', '.join(optional)})" if optional else "")
                             + f", found {','.join(have) or 'none'}", file=self.raw.path)
        extra = [c for c in have if c not in required and c not in optional]
        if extra:
            raise InputError(f"unexpected column(s) {extra}; expected {','.join(required)}"
                             + (f" (optional: {', '.join(optional)})" if optional else ""), file=self.raw.path)

    def present(self, column: str, what: str = "a value is required") -> None:
        values = self.frame[column]
        self.check(values.isna(), f"{column} is empty or NaN ({what})")

    def ids(self, column: str, known: pd.Index, noun: str, require_all: bool) -> None:
        values = self.frame[column]
        self.present(column)
        first_row = {}
        for pos, value in enumerate(values.tolist()):
            first_row.setdefault(value, int(self.raw.rows[pos]))
        dup = values.duplicated(keep="first").to_numpy()
        self.check(dup, f"duplicated {column}",
                   lambda p: f"{values.iat[p]!r} first at row {first_row[values.iat[p]]}")
        unknown = ~values.isin(known).to_numpy()
        self.check(unknown, f"unknown {column}: not a {noun} of this protocol on this corpus",
                   lambda p: f"{values.iat[p]!r}")
        if require_all:
            absent = known[~known.isin(values)]
            if len(absent):
                shown = ", ".join(repr(v) for v in absent[:SHOW_ROWS])
                more = f" and {len(absent) - SHOW_ROWS} more" if len(absent) > SHOW_ROWS else ""
                raise InputError(f"missing test samples: {len(absent)} of the protocol's {len(known)} {noun}s have no "
                                 f"row: {shown}{more} (predictions of every fold go in one file)", file=self.raw.path)

    def numbers(self, column: str, *, integers: bool = False, allow_missing: bool = False) -> np.ndarray:
        text = self.frame[column]
        if not allow_missing:
            self.present(column)
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(values) & text.notna().to_numpy()
        self.check(bad, f"{column} is not a number", lambda p: f"{text.iat[p]!r}")
        self.check(np.isinf(values), f"{column} is infinite")
        if integers:
            frac = ~np.isnan(values) & (values != np.floor(values))
            self.check(frac, f"{column} is not a whole frame number", lambda p: f"{text.iat[p]!r}")
        return values


def validate(protocol: Protocol, selection: Selection, raw: RawTable) -> pd.DataFrame:
    """Check `raw` against the protocol's samples; return the canonical predictions frame (see mebench.results)."""
    check = _Checker(raw)
    check.columns(*expected_columns(protocol))
    if protocol.task == "spotting":
        return _spotting(protocol, selection, check)
    known = pd.Index(selection.rows["sample_id"].astype(str).to_numpy(dtype=object))
    check.ids("sample_id", known, "sample", require_all=True)
    frame = check.frame
    if protocol.task == "recognition":
        normalize = _label_normalizer(protocol)
        check.present("label", "every test sample needs a predicted class")
        labels = frame["label"].map(normalize)
        check.check(labels.isna(), f"label outside the protocol's classes {protocol.classes}",
                    lambda p: f"{frame['label'].iat[p]!r}")
        out = pd.DataFrame({"sample_id": frame["sample_id"].to_numpy(dtype=object),
                            "label": labels.to_numpy(dtype=object)})
    elif protocol.task == "multilabel":
        out = _multilabel(protocol, check)
    elif protocol.task == "au-detection":
        out = _au(protocol, check)
    else:
        out = _emg(check)
    order = pd.Index(out["sample_id"]).get_indexer(known)
    return out.iloc[order].reset_index(drop=True)


def _label_normalizer(protocol: Protocol) -> Callable[[Any], str | None]:
    """Predicted text -> the protocol class it names, or None. Case and blanks are forgiven; for '+'-joined classes
    the parts are sorted, as the protocol joins them."""
    classes = protocol.classes
    by_lower = {c.lower(): c for c in classes}
    join = protocol.label.join if protocol.label is not None else None

    def normalize(value: Any) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        if text in classes:
            return text
        if join:
            text = join.join(sorted(p.strip().lower() for p in text.split(join)))
        return by_lower.get(text.lower())

    return normalize


def _multilabel(protocol: Protocol, check: _Checker) -> pd.DataFrame:
    classes = protocol.classes
    index = {c.lower(): j for j, c in enumerate(classes)}
    frame = check.frame
    matrix = np.zeros((len(frame), len(classes)), dtype=np.int8)
    bad = np.zeros(len(frame), dtype=bool)
    for i, text in enumerate(frame["labels"].tolist()):
        for part in (p.strip().lower() for p in (text or "").split("+")):
            if not part:
                continue
            j = index.get(part)
            if j is None:
                bad[i] = True
            else:
                matrix[i, j] = 1
    check.check(bad, f"labels outside the protocol's classes {classes} (join several with '+')",
                lambda p: f"{frame['labels'].iat[p]!r}")
    out = pd.DataFrame(matrix, columns=classes)
    out.insert(0, "sample_id", frame["sample_id"].to_numpy(dtype=object))
    return out


def _au(protocol: Protocol, check: _Checker) -> pd.DataFrame:
    frame = check.frame
    out = pd.DataFrame({"sample_id": frame["sample_id"].to_numpy(dtype=object)})
    for column in protocol.classes:
        check.present(column, "0 or 1 for every AU")
        text = frame[column].map(lambda v: str(v).strip().lower())
        ones = text.isin(TRUE_TEXT).to_numpy()
        zeros = text.isin(FALSE_TEXT).to_numpy()
        check.check(~(ones | zeros), f"{column} must be 0 or 1", lambda p, c=column: f"{frame[c].iat[p]!r}")
        out[column] = ones.astype(np.int8)
    return out


def _emg(check: _Checker) -> pd.DataFrame:
    frame = check.frame
    on = check.numbers("onset_s", allow_missing=True)
    off = check.numbers("offset_s", allow_missing=True)
    check.check(np.isnan(on) != np.isnan(off), "only one of onset_s/offset_s is empty; leave both empty for "
                "'not detected'")
    check.check(on > off, "onset_s > offset_s", lambda p: f"{on[p]} > {off[p]}")
    return pd.DataFrame({"sample_id": frame["sample_id"].to_numpy(dtype=object), "onset_s": on, "offset_s": off})


def _spotting(protocol: Protocol, selection: Selection, check: _Checker) -> pd.DataFrame:
    frame = check.frame
    videos = selection.videos if selection.videos is not None else pd.DataFrame(columns=["video_id"])
    known = pd.Index(videos["video_id"].astype(str).to_numpy(dtype=object))
    check.present("video_id")
    ids = frame["video_id"]
    check.check(~ids.isin(known).to_numpy(), "unknown video_id: not a video of this protocol on this corpus",
                lambda p: f"{ids.iat[p]!r}")
    onset = check.numbers("onset", integers=True)
    offset = check.numbers("offset", integers=True)
    check.check(onset > offset, "onset > offset", lambda p: f"{int(onset[p])} > {int(offset[p])}")
    check.check(onset < 0, "frames outside the video: onset < 0", lambda p: f"onset {int(onset[p])}")
    table = videos.set_index(videos["video_id"].astype(str))
    n_frames = pd.to_numeric(table["n_frames"], errors="coerce") if "n_frames" in table.columns else None
    if n_frames is not None and n_frames.notna().any():
        limit = ids.map(n_frames).to_numpy(dtype=np.float64, na_value=np.nan)
        outside = ~np.isnan(limit) & (offset > limit)
        check.check(outside, "frames outside the video: offset beyond its last frame",
                    lambda p: f"video {ids.iat[p]!r} has {int(limit[p])} frames, offset {int(offset[p])}")
    out = pd.DataFrame({"video_id": ids.to_numpy(dtype=object), "onset": onset.astype(np.int64),
                        "offset": offset.astype(np.int64)})
    if "score" in frame.columns:
        out["score"] = check.numbers("score")
    types = pd.Series([None] * len(frame), dtype=object)
    if "expression_type" in frame.columns:
        types = frame["expression_type"].map(lambda v: None if pd.isna(v) else str(v).strip().lower())
        check.check(types.notna().to_numpy() & ~types.isin(["micro", "macro"]).to_numpy(),
                    "expression_type must be 'micro' or 'macro' (or empty: typed by duration)",
                    lambda p: f"{frame['expression_type'].iat[p]!r}")
        out["expression_type"] = types.to_numpy(dtype=object)
    if "fps" in table.columns:
        fps = pd.to_numeric(table["fps"], errors="coerce")
        no_fps = types.isna().to_numpy() & ~(ids.map(fps).to_numpy(dtype=np.float64, na_value=np.nan) > 0)
        check.check(no_fps, "no expression_type, and the video's frame rate is unknown, so the interval cannot be "
                    "typed micro/macro by duration", lambda p: f"video {ids.iat[p]!r}")
    return out


# --------------------------------------------------------------------------------------------------------- entry


def load_predictions(path: str | Path, protocol: Protocol, selection: Selection) -> Predictions:
    """Read and validate a predictions file for `protocol` on the samples of `selection`."""
    raw = read_table(path)
    frame = validate(protocol, selection, raw)
    return Predictions(raw.path, raw.sha256, raw.format, frame)
