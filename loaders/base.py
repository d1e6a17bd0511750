"""What every dataset loader shares: raw cells in, schema rows out, with errata, provenance and a build report.

A dataset module only knows its own file: where its columns are and what its cells mean (``read_records``), how
it states micro vs macro, and where its media live (``media_templates``). Everything a researcher must be able to
trust the same way across datasets (errata, frame rounding, the AU grammar, sample ids, subject namespacing, media
resolution, reporting) happens here, once.
"""

from __future__ import annotations

import math
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

from mebench.aus import parse_aus
from mebench.cells import as_frame, as_number, as_text
from mebench.errata import apply_errata, null_out_of_range
from mebench.errors import InputError
from mebench.identity import person_id, subject_id
from mebench.schema import canonical_emotion
from mebench.sheets import Record

MICRO_MAX_SECONDS = 0.5  # the conventional ME upper bound, used only where a file does not state the type


@dataclass
class Note:
    """One line of the build report: what was fixed, rounded, not understood or not found, and where."""

    kind: str
    message: str
    dataset: str
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    sample_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class RawSample:
    """The cells of one annotated expression keyed by schema field, before any conversion, and the row it came from.

    Frame fields (onset, apex, offset) and second fields (onset_s, ...) hold raw cells; `au` the AU cell;
    `emotion` the native emotion cell; `extras` loader-specific columns already converted.
    """

    record: Record
    fields: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)
    media_keys: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # field -> column label in the file, for messages


@dataclass
class LoadResult:
    dataset: str
    annotation_file: Path
    media_root: Path | None
    samples: list[dict[str, Any]]
    notes: list[Note]
    videos: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)  # extra Parquet tables (e.g. EMG signals), name -> pa.Table
    header: str | None = None  # what the loader recognised (e.g. which coding release)


FRAME_FIELDS = ("onset", "apex", "offset")
SECOND_FIELDS = ("onset_s", "apex_s", "offset_s")


class DatasetLoader:
    """Base class: subclasses set the class attributes and implement ``read_records`` and ``expression_type``."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    fps: ClassVar[float]
    annotation_names: ClassVar[tuple[str, ...]]  # glob patterns searched (recursively) under a dataset root
    # media column -> candidate templates relative to the root; fields come from the row and RawSample.media_keys
    media_templates: ClassVar[dict[str, tuple[str, ...]]] = {}
    media_kind: ClassVar[dict[str, str]] = {}  # media column -> 'dir' or 'file'

    def __init__(self, templates: Mapping[str, str] | None = None):
        self.templates = {k: (v,) for k, v in (templates or {}).items()}
        unknown = set(self.templates) - set(self.media_templates)
        if unknown:
            raise InputError(
                f"loader {self.name!r} has no media column {sorted(unknown)} (known: {sorted(self.media_templates)})"
            )

    # --- to implement ---------------------------------------------------------------------------------------------

    def read_records(self, annotation_file: Path) -> tuple[list[RawSample], list[Note], str | None]:
        raise NotImplementedError

    def expression_type(self, sample: RawSample, row: dict[str, Any]) -> tuple[str | None, str]:
        """(micro|macro|None, type_source) for a converted row."""
        return self.type_by_duration(row)

    def finish(self, result: LoadResult) -> LoadResult:
        """Hook for loaders that derive more once all rows exist (long videos, signal tables)."""
        return result

    # --- shared pipeline ------------------------------------------------------------------------------------------

    def locate(self, path: Path) -> tuple[Path, Path | None]:
        """(annotation file, media root or None): PATH is a dataset root or an annotation file itself."""
        path = Path(path)
        if not path.exists():
            raise InputError(f"source path for {self.name!r} does not exist", file=path)
        if path.is_file():
            return path, None
        found = self.find_annotation(path)
        if found is None:
            raise InputError(
                f"no {self.name} annotation file in this dataset root (looked for {', '.join(self.annotation_names)}"
                " up to 3 folders deep)",
                file=path,
            )
        return found, path

    def find_annotation(self, root: Path) -> Path | None:
        candidates: list[Path] = []
        for depth in range(4):
            prefix = "/".join(["*"] * depth)
            for pattern in self.annotation_names:
                glob = f"{prefix}/{pattern}" if prefix else pattern
                candidates.extend(p for p in root.glob(glob) if p.is_file() and not p.name.startswith("~$"))
            if candidates:
                return sorted(set(candidates))[0]
        return None

    def load(self, path: Path) -> LoadResult:
        self._glob_cache: dict[tuple[str, str, str], list[Path]] = {}
        annotation_file, media_root = self.locate(path)
        if media_root is not None:
            media_root = media_root.resolve()  # media paths in the corpus must not depend on the working directory
        raw_samples, notes, header = self.read_records(annotation_file)
        rows = [self.convert(sample, notes) for sample in raw_samples]
        assign_sample_ids(rows)
        for row, sample in zip(rows, raw_samples):
            row.update(self.resolve_media(row, sample, media_root, notes))
        relative = display_path(annotation_file, media_root)
        for row in rows:
            row["source_file"] = relative
        return self.finish(LoadResult(self.name, annotation_file, media_root, rows, notes, header=header))

    def convert(self, sample: RawSample, notes: list[Note]) -> dict[str, Any]:
        record, raw = sample.record, dict(sample.fields)
        raw["subject_raw"] = as_text(raw.get("subject_raw"))
        raw["clip"] = as_text(raw.get("clip"))
        if raw["subject_raw"] is None:
            raise record.error("subject is empty", sample.columns.get("subject_raw", "subject"))
        if raw["clip"] is None:
            raise record.error("clip/file name is empty", sample.columns.get("clip", "clip"))
        errata = apply_errata(self.name, raw, record.row)
        where = dict(dataset=self.name, file=str(record.file), sheet=record.sheet, row=record.row)
        row: dict[str, Any] = {
            "dataset": self.name,
            "subject_raw": raw["subject_raw"],
            "subject": subject_id(self.name, raw["subject_raw"]),
            "person": person_id(self.name, raw["subject_raw"]),
            "clip": raw["clip"],
            "video_id": as_text(raw.get("video_id")),
            "fps": float(raw.get("fps") or self.fps),
        }
        columns = sample.columns
        for name in FRAME_FIELDS:
            if name not in raw:
                row[name] = None
                continue
            frame = as_frame(record, columns.get(name, name), raw[name] if raw[name] is not None else None)
            row[name] = frame.value
            if frame.rounded_from is not None:
                notes.append(Note("rounded-frame", f"{name} {frame.rounded_from!r} rounded to {frame.value}",
                                  column=columns.get(name, name), **where))
        for name in SECOND_FIELDS:
            row[name] = as_number(record, columns.get(name, name), raw[name]) if raw.get(name) is not None else None
        errata += null_out_of_range(row)
        errata += [e for e in null_out_of_range(row, suffix="_s") if e not in errata]
        errata += null_out_of_range(sample.extras, prefix="emg_", suffix="_s")
        row["errata"] = errata
        for erratum_id in errata:
            notes.append(Note("erratum", erratum_id, **where))

        parsed = parse_aus(raw.get("au"))
        row["au_raw"] = parsed.raw if raw.get("au") is not None else None
        row["aus"] = list(parsed.aus)
        row["au_codes"] = [code.as_dict() for code in parsed.codes]
        row["au_free_text"] = list(parsed.free_text)
        if parsed.free_text:
            notes.append(Note("free-text-au", f"AU cell {parsed.raw!r}: kept as free text {list(parsed.free_text)}",
                              column=columns.get("au", "au"), **where))
        if parsed.unknown:
            notes.append(Note("unknown-au", f"AU cell {parsed.raw!r} says the AUs are unknown",
                              column=columns.get("au", "au"), **where))

        row["emotion_raw"] = as_text(raw.get("emotion"))
        row["emotion"] = canonical_emotion(row["emotion_raw"])
        row["emotions"] = list(raw["emotions"]) if raw.get("emotions") else ([row["emotion"]] if row["emotion"] else [])
        row["objective_class"] = as_text(raw.get("objective_class"))
        row["expression_type"], row["type_source"] = self.expression_type(sample, row)
        row["source_sheet"] = record.sheet
        row["source_row"] = record.row
        row.update(sample.extras)
        return row

    def type_by_duration(self, row: dict[str, Any]) -> tuple[str | None, str]:
        """micro iff the duration is under 0.5 s (DESIGN.md 3.4: used only where the file does not say)."""
        rule = f"duration<{MICRO_MAX_SECONDS}s"
        if row.get("onset_s") is not None and row.get("offset_s") is not None:
            duration = row["offset_s"] - row["onset_s"]
        elif row.get("onset") is not None and row.get("offset") is not None:
            duration = (row["offset"] - row["onset"] + 1) / row["fps"]
        else:
            return None, f"{rule} (no duration: offset missing)"
        return ("micro" if duration < MICRO_MAX_SECONDS else "macro"), rule

    # --- media ----------------------------------------------------------------------------------------------------

    def template_fields(self, row: dict[str, Any], sample: RawSample) -> dict[str, Any]:
        values = {k: v for k, v in row.items() if isinstance(v, (str, int, float)) or v is None}
        values.update(sample.media_keys)
        return values

    def resolve_media(self, row: dict[str, Any], sample: RawSample, root: Path | None,
                      notes: list[Note]) -> dict[str, Any]:
        """Fill each media column from its templates, first match wins. A template may hold glob wildcards, so a
        folder can be found by its own name wherever a release filed it (CAS(ME)^2 files s23's video under s19);
        a template whose fields are empty for this row cannot name anything and is skipped."""
        resolved: dict[str, Any] = {}
        for column, defaults in self.media_templates.items():
            resolved[column] = None
            if root is None:
                continue
            kind = self.media_kind.get(column, "dir")
            fields = self.template_fields(row, sample)
            tried = []
            for template in self.templates.get(column, defaults):
                empty = [name for name in template_field_names(template) if fields.get(name) is None]
                if empty:
                    tried.append(f"{template} ({', '.join(empty)} empty)")
                    continue
                try:
                    relative = render_template(template, fields)
                except (KeyError, ValueError, IndexError) as exc:
                    raise InputError(f"media template {template!r} for {self.name}.{column} cannot be filled: {exc}"
                                     f" (fields: {sorted(fields)})") from None
                tried.append(relative)
                matches = self.find_media(Path(root), relative, kind)
                if matches:
                    resolved[column] = str(matches[0])
                    if len(matches) > 1:
                        notes.append(Note("ambiguous-media", f"{column}: {len(matches)} matches for {relative}, "
                                          f"using {matches[0].name}", dataset=self.name, file=str(root),
                                          sample_id=row.get("sample_id")))
                    break
            if resolved[column] is None:
                notes.append(Note("missing-media", f"{column} not found (tried {', '.join(tried)})",
                                  dataset=self.name, file=str(root), sample_id=row.get("sample_id")))
        return resolved

    def find_media(self, root: Path, relative: str, kind: str) -> list[Path]:
        """Paths under root matching `relative` (a plain path or a glob) of the wanted kind, sorted; globs are
        cached for the duration of one load (many rows share a long video)."""
        if not GLOB_CHARS.search(relative):
            candidate = root / relative
            return [candidate] if (candidate.is_dir() if kind == "dir" else candidate.is_file()) else []
        key = (str(root), relative, kind)
        if key not in self._glob_cache:
            wanted = Path.is_dir if kind == "dir" else Path.is_file
            self._glob_cache[key] = [p for p in sorted(root.glob(relative)) if wanted(p)]
        return self._glob_cache[key]


def long_videos(result: LoadResult) -> list[dict[str, Any]]:
    """One `videos` row per long video (mebench.schema.VIDEOS), in order of first appearance; n_frames = images in
    its frames folder when found. Intervals past a video's last frame are reported, not changed."""
    videos: dict[str, dict[str, Any]] = {}
    for row in result.samples:
        video_id = row.get("video_id")
        if video_id is None:
            continue
        if video_id not in videos:
            frames_dir = row.get("frames_dir")
            videos[video_id] = {
                "video_id": video_id, "dataset": result.dataset, "subject": row["subject"], "person": row["person"],
                "fps": row["fps"], "n_frames": count_files(frames_dir) if frames_dir else None,
                "frames_dir": frames_dir, "video_path": row.get("video_path"),
            }
        n_frames = videos[video_id]["n_frames"]
        beyond = [f"{k} {row[k]}" for k in FRAME_FIELDS if n_frames and row.get(k) is not None and row[k] > n_frames]
        if beyond:
            result.notes.append(Note("frame-beyond-video", f"{', '.join(beyond)} past the {n_frames} frames of video "
                                     f"{video_id}", result.dataset, row["source_file"], row["source_sheet"],
                                     row["source_row"], sample_id=row["sample_id"]))
    return list(videos.values())


class _Formatter(string.Formatter):
    """str.format that also accepts '{subject_raw:02d}' when the field holds the text '1'."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec and format_spec[-1] in "dxXob" and isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def render_template(template: str, fields: Mapping[str, Any]) -> str:
    return _FORMATTER.vformat(template, (), dict(fields))


def template_field_names(template: str) -> list[str]:
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name]


GLOB_CHARS = re.compile(r"[*?\[]")


def assign_sample_ids(rows: list[dict[str, Any]]) -> None:
    """`<dataset>/<subject_raw>/<clip>`, with `#n` (file order, from 1) only where rows share a clip."""
    counts: dict[str, int] = {}
    bases = [f"{r['dataset']}/{r['subject_raw']}/{r['clip']}" for r in rows]
    for base in bases:
        counts[base] = counts.get(base, 0) + 1
    seen: dict[str, int] = {}
    for row, base in zip(rows, bases):
        if counts[base] == 1:
            row["sample_id"] = base
        else:
            seen[base] = seen.get(base, 0) + 1
            row["sample_id"] = f"{base}#{seen[base]}"


def display_path(path: Path, root: Path | None) -> str:
    """Provenance path: relative to the dataset root when there is one, else the file name."""
    if root is not None:
        try:
            return str(Path(path).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return Path(path).name


def count_files(folder: str | os.PathLike[str], suffixes: Iterable[str] = (".jpg", ".png", ".bmp")) -> int:
    wanted = tuple(suffixes)
    with os.scandir(folder) as entries:
        return sum(1 for e in entries if e.is_file() and e.name.lower().endswith(wanted))


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
