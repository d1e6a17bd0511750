"""CASMEMG (Li et al., seed 001): expressions timed in SECONDS on two clocks (video and EMG), with EMG signals.

Quirks of the public timing file `380_sort.xlsx` (../shared/annotations/README.md) this module exists for:

- Header `sub | video | video_onset | video_apex | video_offset | channel | emg_onset | emg_apex | emg_offset`; times
  are seconds, so `onset_s/apex_s/offset_s` hold the VIDEO clock and the extras `emg_onset_s/emg_apex_s/emg_offset_s`
  the EMG clock. The clocks differ (video leads EMG by 1.4-20.4 s): both are kept, neither is derived from the other.
  Frame columns stay null: the file has no frame numbers, and round(t * 30) would be a guess about the video's
  first frame.
- Some EMG cells are formulas ('=1.036*60'); the sheet reader uses the cached value or evaluates the arithmetic.
- `channel` is the EMG channel that carried the expression (`emg_channel`).
- Several expressions share a (sub, video) recording: the base numbers them '#1', '#2' in file order.
- The file has no AU / emotion / micro-macro columns (they come with the licensed release). When a coding file is
  found (see `CODING_PATTERNS`: beside the timing file or in the dataset root), its AUs, emotion and type are merged
  by (sub, video, n-th expression of that recording in file order) - or by an explicit order column - and the type
  is then the coders' (`type_source` 'annotation'). Without it, the type is derived from the video-clock duration
  (< 0.5 s = micro; `type_source` 'duration<0.5s'), as DESIGN.md 3.4 says.
- Impossible orders on either clock (the file has an EMG apex of '=1.898*60' = 113.88 s inside a 65.27-65.50 s
  interval) are nulled with an `auto:...-out-of-range` erratum, like frame numbers elsewhere.

Media (relative to the dataset root; override with --media-template casmemg.COLUMN=TEMPLATE; fields
`{subject_raw}`, `{sub}`, `{clip}`, `{video}`):

- `emg_path` (file): `{sub:02d}/{video}.mat` - the layout the official MATLAB code reads - then `.csv`, the same
  under `EMG/`, `data/{sub:02d}_{video}.mat` (the official MOVEDATA.m copy) and `sub{sub}/{video}.mat`.
- `video_path` (file): `{sub:02d}/{video}.mp4` / `.avi`, and the same under `video/` (release layout unverified).
- `video_id` = `{sub:02d}/{video}` (the recording, e.g. '01/1'), the same key as the EMG file it comes from.

EMG recordings (when media are resolved) go to the extra table `emg` (emg.parquet): one row per recording with the 8
channels as list<float32> columns `ch1..ch8` at 1000 Hz. A recording is a MATLAB table .mat (read with mat-io), a
numeric .mat (scipy) or a CSV export, columns 1-8 EMG, 9 a marker, 10 time, 11 a signal. Preprocessing follows the
official code (emg_sigpro.m): the first 199 rows are dropped (`data(200:end,:)`) and rows whose marker is -1 are
removed; nothing else (filtering belongs to the feature stage). Aligning with the sheet's EMG clock: the official
detector turns an index i of `data(200:end)` into (i + 200) / 1000 s, so the first kept sample is at `start_s` = 0.2 s
and sample k (0-based) at 0.2 + k / 1000 s while `dropped_marker_rows` is 0; otherwise use the `time` column.
"""

from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mebench.cells import as_number, as_text
from mebench.errors import InputError
from mebench.sheets import Column, Record, is_blank, read_raw, table_from_header

from .base import DatasetLoader, LoadResult, Note, RawSample, long_videos, render_template

SAMPLING_RATE = 1000.0
HEAD_ROWS = 199  # emg_sigpro.m keeps data(200:end, :)
N_CHANNELS = 8
# Per-subject MVC sessions (seed 001 section 4.4, part A), relative to the dataset root; the release layout is not
# public: these are where mebench looks (the shadow corpus writes the first).
MVC_TEMPLATES = ("{sub:02d}/MVC.mat", "{sub:02d}/MVC.csv", "MVC/{sub:02d}.mat", "MVC/{sub:02d}.csv")

COLUMNS = (
    Column("sub", ("sub", "subject")),
    Column("video", ("video", "video_id", "clip")),
    Column("video_onset", ("video_onset", "video onset", "onset")),
    Column("video_apex", ("video_apex", "video apex", "apex"), required=False),
    Column("video_offset", ("video_offset", "video offset", "offset")),
    Column("channel", ("channel", "emg_channel", "emg channel"), required=False),
    Column("emg_onset", ("emg_onset", "emg onset"), required=False),
    Column("emg_apex", ("emg_apex", "emg apex"), required=False),
    Column("emg_offset", ("emg_offset", "emg offset"), required=False),
)

# The release's coding sheet is not public: these names and columns are mebench's reading, documented above.
CODING_PATTERNS = ("*coding*.xlsx", "*coding*.csv", "casmemg*.xlsx", "casmemg*.csv", "*_codes*.xlsx", "*_codes*.csv")
CODING_COLUMNS = (
    Column("sub", ("sub", "subject")),
    Column("video", ("video", "video_id", "clip")),
    Column("order", ("order", "n", "no", "index", "expression"), required=False),
    Column("video_onset", ("video_onset", "video onset", "onset"), required=False),
    Column("au", ("aus", "au", "action units", "action unit"), required=False),
    Column("emotion", ("emotion", "estimated emotion", "emotions"), required=False),
    Column("type", ("type", "expression type", "me/mae", "micro/macro", "category"), required=False),
)
TYPES = {"micro": "micro", "me": "micro", "micro-expression": "micro", "macro": "macro", "mae": "macro",
         "macro-expression": "macro"}


def _key(value: Any) -> str | None:
    """'1', 1, 1.0 and '01' name the same subject or video."""
    text = as_text(value)
    return str(int(text)) if text is not None and text.isdigit() else text


def _pad(value: str) -> str:
    return f"{int(value):02d}" if value.isdigit() else value


@dataclass
class Coding:
    au: Any
    emotion: Any
    type: str | None
    onset: float | None
    row: int


class Loader(DatasetLoader):
    name = "casmemg"
    version = "1"
    fps = 30.0  # the Logitech C1000e video (seed 001); EMG is 1000 Hz
    annotation_names = ("380_sort.xlsx", "*_sort.xlsx", "380_sort.csv", "*_sort.csv")
    media_templates = {
        "emg_path": ("{sub:02d}/{video}.mat", "{sub:02d}/{video}.csv", "EMG/{sub:02d}/{video}.mat",
                     "EMG/{sub:02d}/{video}.csv", "data/{sub:02d}_{video}.mat", "sub{sub}/{video}.mat"),
        "video_path": ("{sub:02d}/{video}.mp4", "{sub:02d}/{video}.avi", "video/{sub:02d}/{video}.mp4",
                       "video/{sub:02d}/{video}.avi"),
    }
    media_kind = {"emg_path": "file", "video_path": "file"}

    def locate(self, path: Path):
        """As the base; remembers the dataset root, where the optional coding file may be."""
        annotation_file, root = super().locate(path)
        self._root = root
        return annotation_file, root

    # --- annotation -------------------------------------------------------------------------------------------------

    def read_records(self, annotation_file: Path):
        raw = read_raw(annotation_file)
        table = table_from_header(raw, COLUMNS)
        labels = table.column_labels()
        labels.update(subject_raw=labels["sub"], clip=labels["video"], onset_s=labels["video_onset"],
                      apex_s=labels.get("video_apex", "video_apex"), offset_s=labels["video_offset"])
        notes: list[Note] = []
        where = dict(dataset=self.name, file=str(annotation_file), sheet=raw.sheet)
        if raw.formulas_evaluated:
            notes.append(Note("formula", f"{raw.formulas_evaluated} formula cells without cached values evaluated",
                              **where))
        for row, column, formula in raw.formulas_unresolved:
            notes.append(Note("formula", f"formula {formula!r} has no cached value and cannot be evaluated",
                              row=row, column=f"column {column + 1}", **where))
        coding, coding_file = self.read_coding(annotation_file, notes)
        seen: dict[tuple[str | None, str | None], int] = {}
        samples = []
        for record in table.records:
            sub, video = _key(record.get("sub")), _key(record.get("video"))
            seen[(sub, video)] = seen.get((sub, video), 0) + 1
            fields = {
                "subject_raw": record.get("sub"),
                "clip": record.get("video"),
                "video_id": f"{_pad(sub)}/{video}" if sub and video else None,
                "onset_s": record.get("video_onset"),
                "apex_s": record.get("video_apex"),
                "offset_s": record.get("video_offset"),
            }
            code = coding.pop((sub, video, seen[(sub, video)]), None) if coding is not None else None
            if code is not None:
                fields.update(au=code.au, emotion=code.emotion, type=code.type)
                onset = as_number(record, labels["video_onset"], record.get("video_onset"))
                if code.onset is not None and onset is not None and abs(code.onset - onset) > 1e-3:
                    notes.append(Note("coding-mismatch", f"coding row {code.row} has onset {code.onset} but this "
                                      f"row has {onset}: merged by order anyway", row=record.row, **where))
            elif coding is not None:
                notes.append(Note("coding-missing", f"no row of {coding_file.name} for this expression; type "
                                  "derived from the duration", row=record.row, **where))
            samples.append(RawSample(record, fields, extras=self.emg_extras(record, labels),
                                     media_keys={"sub": sub or "", "video": video or ""}, columns=labels))
        for (sub, video, n), code in sorted((coding or {}).items(), key=lambda item: item[1].row):
            notes.append(Note("coding-unmatched", f"coding row for sub {sub} video {video} #{n} matches no timing "
                              "row", dataset=self.name, file=str(coding_file), row=code.row))
        source = f"coding merged from {coding_file.name}" if coding_file else "no coding file: type by duration"
        return samples, notes, f"CASMEMG timing sheet ({source})"

    def emg_extras(self, record: Record, labels: dict[str, str]) -> dict[str, Any]:
        """The EMG clock and channel, converted strictly (a word where seconds belong names its cell)."""
        extras: dict[str, Any] = {}
        for name in ("emg_onset", "emg_apex", "emg_offset"):
            value = record.get(name)
            extras[f"{name}_s"] = None if is_blank(value) else as_number(record, labels.get(name, name), value)
        channel = record.get("channel")
        number = None if is_blank(channel) else as_number(record, labels.get("channel", "channel"), channel)
        if number is not None and not (number.is_integer() and 1 <= number <= N_CHANNELS):
            raise record.error(f"EMG channel must be an integer 1-{N_CHANNELS}, found {channel!r}",
                               labels.get("channel", "channel"))
        extras["emg_channel"] = int(number) if number is not None else None
        return extras

    def find_coding(self, annotation_file: Path) -> Path | None:
        """The optional coding file: beside the timing file first, then anywhere up to 2 folders under the root."""
        folders = [annotation_file.parent]
        root = getattr(self, "_root", None)
        if root is not None:
            folders += [root] + [p for p in root.glob("*") if p.is_dir()] + [p for p in root.glob("*/*") if p.is_dir()]
        for folder in dict.fromkeys(folders):
            found = sorted(p for p in folder.iterdir() if p.is_file() and p != annotation_file
                           and not p.name.startswith("~$")
                           and any(fnmatch.fnmatch(p.name.lower(), pattern) for pattern in CODING_PATTERNS))
            if found:
                return found[0]
        return None

    def read_coding(self, annotation_file: Path, notes: list[Note]) -> tuple[dict | None, Path | None]:
        """(sub, video, n) -> Coding from the release's coding file, or (None, None) when there is none."""
        path = self.find_coding(annotation_file)
        if path is None:
            return None, None
        table = table_from_header(read_raw(path), CODING_COLUMNS)
        if not {"au", "emotion", "type"} & set(table.columns):
            raise InputError("coding file has none of the columns AUs / Emotion / Type", file=path,
                             sheet=table.sheet, row=table.header_row)
        labels = table.column_labels()
        coding: dict[tuple[str | None, str | None, int], Coding] = {}
        seen: dict[tuple[str | None, str | None], int] = {}
        for record in table.records:
            sub, video = _key(record.get("sub")), _key(record.get("video"))
            seen[(sub, video)] = seen.get((sub, video), 0) + 1
            n = seen[(sub, video)]
            if "order" in table.columns and not is_blank(record.get("order")):
                order = as_number(record, labels["order"], record.get("order"))
                if not order.is_integer() or order < 1:
                    raise record.error(f"order must be a positive integer, found {record.get('order')!r}",
                                       labels["order"])
                n = int(order)
            type_text = as_text(record.get("type"))
            if type_text is not None and type_text.lower() not in TYPES:
                raise record.error(f"type must be micro/ME or macro/MaE, found {type_text!r}", labels["type"])
            if (sub, video, n) in coding:
                raise record.error(f"sub {sub} video {video} expression {n} is coded twice")
            onset = record.get("video_onset")
            coding[(sub, video, n)] = Coding(
                au=record.get("au"), emotion=record.get("emotion"),
                type=TYPES[type_text.lower()] if type_text else None,
                onset=None if is_blank(onset) else as_number(record, labels["video_onset"], onset), row=record.row)
        notes.append(Note("coding", f"AUs/emotion/type merged from {path.name} ({len(coding)} rows)",
                          dataset=self.name, file=str(path)))
        return coding, path

    def expression_type(self, sample: RawSample, row: dict[str, Any]) -> tuple[str | None, str]:
        if sample.fields.get("type"):
            return sample.fields["type"], "annotation"
        return self.type_by_duration(row)

    # --- signals ----------------------------------------------------------------------------------------------------

    def finish(self, result: LoadResult) -> LoadResult:
        """`videos` (one row per recording) and, where EMG files were resolved, the `emg` signal table; where MVC
        sessions are found (`MVC_TEMPLATES`), the `mvc` table (mvc.parquet: the `emg` layout, one row per subject,
        video_id '<sub:02d>/MVC', kind 'mvc'), which `mebench emg stats` uses as the MVC of eq. 6."""
        result.videos = long_videos(result)
        recordings: dict[str, dict[str, Any]] = {}
        for row in result.samples:
            if row["video_id"] is not None and row.get("emg_path"):
                recordings.setdefault(row["video_id"], row)
        if recordings:
            result.tables["emg"] = emg_table(list(recordings.values()))
        mvc = self.mvc_rows(result)
        if mvc:
            table = emg_table(mvc)
            result.tables["mvc"] = table.append_column("kind", pa.array(["mvc"] * table.num_rows, pa.string()))
        return result

    def mvc_rows(self, result: LoadResult) -> list[dict[str, Any]]:
        """One pseudo-row (the keys `emg_table` reads) per subject whose MVC session is under the media root."""
        if result.media_root is None:
            return []
        rows = []
        for row in {r["subject"]: r for r in result.samples}.values():
            sub = _key(row["subject_raw"]) or ""
            for template in MVC_TEMPLATES:
                path = Path(result.media_root) / render_template(template, {"sub": sub})
                if path.is_file():
                    rows.append({"dataset": row["dataset"], "subject": row["subject"],
                                 "subject_raw": row["subject_raw"], "clip": "MVC", "video_id": f"{_pad(sub)}/MVC",
                                 "emg_path": str(path)})
                    break
        return rows


# --- EMG files -------------------------------------------------------------------------------------------------------


@dataclass
class EmgRecording:
    channels: np.ndarray  # (n_samples, 8) float32, after the official preprocessing
    time: np.ndarray | None  # column 10 where the file has it
    dropped_marker_rows: int


def _matio():
    """mat-io, imported quietly: on import it sets a pandas option that pandas 3 reports as deprecated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import matio
    return matio


def _matrix_from_mat(path: Path) -> np.ndarray:
    """The recording matrix of a .mat: a MATLAB table (mat-io gives a DataFrame) or a plain numeric array."""
    variables: dict[str, Any] = {}
    try:
        variables = _matio().load_from_mat(str(path))
    except Exception:  # mat-io rejects some v4/odd files that scipy reads; a truly broken file fails below too
        try:
            import scipy.io

            variables = scipy.io.loadmat(str(path))
        except Exception as exc:
            raise InputError(f"not a readable MATLAB file ({type(exc).__name__}: {exc})", file=path) from None
    for name, value in variables.items():
        if name.startswith("__"):
            continue
        if hasattr(value, "to_numpy") and hasattr(value, "columns"):  # a MATLAB table
            try:
                return value.to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(f"MATLAB table {name!r} has non-numeric columns", file=path) from None
        array = np.asarray(value) if isinstance(value, np.ndarray) else None
        if array is not None and array.ndim == 2 and array.dtype.kind in "fiu":
            if array.shape[1] < N_CHANNELS <= array.shape[0] <= 11:
                array = array.T  # saved channels-by-samples (8-11 rows)
            return array.astype(np.float64)
    raise InputError(f"no EMG table or numeric matrix among the variables {sorted(variables)}", file=path)


def _matrix_from_csv(path: Path) -> np.ndarray:
    """A CSV export: numbers only, with or without one header line."""
    import pandas as pd

    try:
        first = path.open(encoding="utf-8-sig").readline()
        header = 0 if any(not _is_number(t) for t in first.strip().split(",") if t.strip()) else None
        frame = pd.read_csv(path, header=header)
        return frame.to_numpy(dtype=np.float64)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"not a numeric EMG CSV ({type(exc).__name__}: {exc})", file=path) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_emg(path: Path) -> EmgRecording:
    """Read one recording and apply the official preprocessing (drop 199 head rows, remove marker -1 rows)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        matrix = _matrix_from_mat(path)
    elif suffix in (".csv", ".txt"):
        matrix = _matrix_from_csv(path)
    else:
        raise InputError(f"unsupported EMG file type {suffix!r} (expected .mat or .csv)", file=path)
    if matrix.ndim != 2 or matrix.shape[1] < N_CHANNELS:
        raise InputError(f"expected at least {N_CHANNELS} columns (EMG channels), found shape {matrix.shape}",
                         file=path)
    matrix = matrix[HEAD_ROWS:]
    dropped = 0
    if matrix.shape[1] >= 9:
        keep = matrix[:, 8] != -1
        dropped = int((~keep).sum())
        matrix = matrix[keep]
    time = matrix[:, 9].copy() if matrix.shape[1] >= 10 else None
    return EmgRecording(np.ascontiguousarray(matrix[:, :N_CHANNELS], dtype=np.float32), time, dropped)


def _list_column(arrays: list[np.ndarray | None], value_type: pa.DataType) -> pa.Array:
    """list<value_type> built from the numpy buffers (no Python lists); large_list only past 2**31 values."""
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([0 if a is None else len(a) for a in arrays])
    present = [a for a in arrays if a is not None]
    values = pa.array(np.concatenate(present) if present else np.zeros(0), type=value_type)
    mask = pa.array([a is None for a in arrays])
    if offsets[-1] < 2**31:
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)
    return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values, mask=mask)


def emg_table(rows: list[dict[str, Any]]) -> pa.Table:
    """One row per recording (given as a sample row with `emg_path`): ids, sampling rate, sample count and the 8
    channels (+ time) as list arrays. `video_id` joins it to samples and videos."""
    read = [read_emg(Path(row["emg_path"])) for row in rows]
    columns: dict[str, Any] = {
        "recording_id": [f"{row['dataset']}/{row['video_id']}" for row in rows],
        **{key: [row[key] for row in rows] for key in ("video_id", "dataset", "subject", "subject_raw", "clip",
                                                        "emg_path")},
        "sampling_rate": pa.array([SAMPLING_RATE] * len(read), pa.float64()),
        "n_samples": pa.array([len(r.channels) for r in read], pa.int64()),
        "dropped_head_rows": pa.array([HEAD_ROWS] * len(read), pa.int64()),
        "dropped_marker_rows": pa.array([r.dropped_marker_rows for r in read], pa.int64()),
        "start_s": pa.array([(HEAD_ROWS + 1) / SAMPLING_RATE] * len(read), pa.float64()),
    }
    for k in range(N_CHANNELS):
        columns[f"ch{k + 1}"] = _list_column([r.channels[:, k] for r in read], pa.float32())
    columns["time"] = _list_column([r.time for r in read], pa.float64())
    table = pa.table(columns)
    return table.replace_schema_metadata({"sampling_rate_hz": str(SAMPLING_RATE), "dropped_head_rows": str(HEAD_ROWS),
                                          "preprocessing": "official emg_sigpro.m: data(200:end,:), marker -1 rows "
                                          "removed; raw values otherwise"})


def write_emg_file(path: Path, n_samples: int = 400, seed: int = 0, marker_gaps: int = 0,
                   table: bool = False) -> np.ndarray:
    """Write a synthetic recording in the release's 11-column layout (for tests and the shadow corpus).

    `.mat`: a numeric matrix `data` (scipy.io.savemat), or a MATLAB table via mat-io when `table` is true; `.csv`:
    a header line and numbers. `marker_gaps` rows after the head get marker -1. Returns the matrix written.
    """
    rng = np.random.default_rng(seed)
    matrix = np.zeros((n_samples, 11))
    matrix[:, :N_CHANNELS] = rng.normal(0.0, 1e-4, size=(n_samples, N_CHANNELS))
    matrix[:, 8] = np.arange(n_samples) // 2
    matrix[HEAD_ROWS:HEAD_ROWS + marker_gaps, 8] = -1
    matrix[:, 9] = np.arange(n_samples) / SAMPLING_RATE
    matrix[:, 10] = rng.integers(0, 2, size=n_samples)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        header = ",".join([f"ch{k + 1}" for k in range(N_CHANNELS)] + ["marker", "time", "signal"])
        np.savetxt(path, matrix, delimiter=",", header=header, comments="", fmt="%.9g")
    elif table:
        import pandas as pd

        frame = pd.DataFrame({f"VarName{k + 1}": matrix[:, k] for k in range(11)})
        _matio().save_to_mat(str(path), {"data": frame}, version="v7")
    else:
        import scipy.io

        scipy.io.savemat(str(path), {"data": matrix})
    return matrix
