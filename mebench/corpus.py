"""Build a corpus directory from dataset sources, atomically, and read one back.

A corpus is what every result cites, so its build is all-or-nothing (temporary folder, then rename) and its
fingerprint depends only on the annotation content, not on where the media happen to live on disk.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

import mebench
from mebench.atomic import write_atomically
from mebench.errors import InputError
from mebench.schema import MEDIA_COLUMNS, SCHEMA_VERSION, VIDEOS, samples_schema

SAMPLES_FILE = "samples.parquet"
VIDEOS_FILE = "videos.parquet"
CORPUS_FILE = "corpus.json"
REPORT_JSON = "build_report.json"
REPORT_MD = "build_report.md"

# Columns that depend on where files are on disk, not on what the corpus says: kept out of the fingerprint.
LOCATION_COLUMNS = set(MEDIA_COLUMNS)


@dataclass
class Source:
    name: str
    path: Path
    templates: dict[str, str] = field(default_factory=dict)


@dataclass
class BuildResult:
    out: Path
    counts: dict[str, dict[str, int]]
    fingerprint: str
    notes: list[dict[str, Any]]
    errata: dict[str, int]


def parse_source(text: str) -> Source:
    """'NAME=PATH' as typed on the command line."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise InputError(f"--source must be NAME=PATH, got {text!r}")
    return Source(name.strip(), Path(path).expanduser())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def fingerprint(rows: Iterable[Mapping[str, Any]]) -> str:
    """sha256 over the sample rows sorted by sample_id, every column but the media locations, canonical JSON."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r["sample_id"]):
        content = {k: v for k, v in row.items() if k not in LOCATION_COLUMNS}
        digest.update(json.dumps(content, sort_keys=True, default=_json_default, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def add_label_columns(rows: list[dict[str, Any]]) -> None:
    """Harmonized labels (DESIGN.md section 4): `emo_<scheme>` and the rule that decided, `emo_<scheme>_rule`."""
    import pandas as pd

    from mebench.labels import harmonize_columns

    if not rows:
        return
    frame = pd.DataFrame({k: [r.get(k) for r in rows] for k in ("aus", "emotion", "objective_class")})
    labels = harmonize_columns(frame)
    for column in labels.columns:
        values = labels[column].tolist()
        for row, value in zip(rows, values):
            row[column] = list(value) if column.startswith("emo_") and not column.endswith("_rule") else value


def build_corpus(sources: list[Source], out: Path, progress: Callable[[str], None] | None = None) -> BuildResult:
    """Load every source, merge, and write DIR atomically; on any error nothing is left behind."""
    from mebench.loaders import get_loader

    out = Path(out)
    names = [s.name for s in sources]
    if not sources:
        raise InputError("no --source given; use --source NAME=PATH (loaders: casme2, samm, samm-lv, casme-sq, "
                         "casmemg, 4dme)")
    duplicated = [n for n, c in Counter(names).items() if c > 1]
    if duplicated:
        raise InputError(f"source {duplicated[0]!r} given more than once")
    _check_output(out)
    shadow_flags = {s.name: is_shadow_source(s.path) for s in sources}
    if len(set(shadow_flags.values())) > 1:
        raise InputError("shadow (synthetic) and real sources cannot be merged into one corpus: "
                         + ", ".join(f"{k}={'shadow' if v else 'real'}" for k, v in shadow_flags.items()))
    shadow = any(shadow_flags.values())

    loaders = [get_loader(s.name, s.templates) for s in sources]  # unknown names fail before any reading
    results = []
    for source, loader in zip(sources, loaders):
        if progress:
            progress(f"reading {source.name} from {source.path}")
        results.append(loader.load(source.path))

    rows = [row for result in results for row in result.samples]
    ids = Counter(r["sample_id"] for r in rows)
    clash = [i for i, c in ids.items() if c > 1]
    if clash:
        raise InputError(f"sample_id {clash[0]!r} is not unique across sources")
    add_label_columns(rows)

    extra = sorted({k for r in rows for k in r} - set(samples_schema([]).names))
    schema = samples_schema(extra)
    samples = pa.Table.from_pylist(rows, schema=schema)
    videos = [v for result in results for v in result.videos]

    notes = [n.as_dict() for result in results for n in result.notes]
    errata = Counter(e for r in rows for e in r["errata"])
    counts = corpus_counts(rows)
    fp = fingerprint(rows)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "mebench_version": mebench.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fingerprint": fp,
        "shadow": shadow,
        "sources": [
            {
                "name": source.name,
                "path": str(Path(source.path).resolve()),
                "annotation_file": str(result.annotation_file.resolve()),
                "annotation_sha256": sha256_file(result.annotation_file),
                "recognised_as": result.header,
                "media_root": str(result.media_root.resolve()) if result.media_root else None,
                "loader": source.name,
                "loader_version": loader.version,
                "media_templates": source.templates or None,
            }
            for source, loader, result in zip(sources, loaders, results)
        ],
        "errata_applied": dict(sorted(errata.items())),
        "counts": counts,
        "n_samples": len(rows),
        "tables": [SAMPLES_FILE] + ([VIDEOS_FILE] if videos else [])
        + sorted(f"{name}.parquet" for result in results for name in result.tables),
    }
    def write(folder: Path) -> None:
        pq.write_table(samples, folder / SAMPLES_FILE)
        if videos:
            pq.write_table(pa.Table.from_pylist(videos, schema=VIDEOS), folder / VIDEOS_FILE)
        for result in results:
            for name, table in result.tables.items():
                pq.write_table(table, folder / f"{name}.parquet")
        (folder / CORPUS_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        report = {"fingerprint": fp, "counts": counts, "errata_applied": meta["errata_applied"], "notes": notes}
        (folder / REPORT_JSON).write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
        (folder / REPORT_MD).write_text(render_report_markdown(meta, notes))
        # The corpus card (DESIGN.md section 10), written last: it reads the files above from `folder`.
        from mebench.corpus_card import CARD_FILE, render_corpus_card

        (folder / CARD_FILE).write_text(render_corpus_card(folder), encoding="utf-8")

    write_atomically(out, write)
    return BuildResult(out, counts, fp, notes, dict(errata))


def is_shadow_source(path: Path) -> bool:
    """A source written by `mebench synth`: its root, or the synth folder above it, holds manifest.json with shadow."""
    path = Path(path)
    root = path if path.is_dir() else path.parent
    for folder in (root, root.parent, root.parent.parent):
        manifest = folder / "manifest.json"
        if manifest.is_file():
            try:
                return bool(json.loads(manifest.read_text()).get("shadow", False))
            except (OSError, ValueError):
                return False
    return False


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", file=out)
    if out.is_dir() and any(out.iterdir()) and not (out / CORPUS_FILE).exists():
        raise InputError("--out is a non-empty folder that is not a mebench corpus; refusing to overwrite it", file=out)
    if not out.parent.exists():
        raise InputError("the parent folder of --out does not exist", file=out.parent)


def corpus_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        subset = [r for r in rows if r["dataset"] == dataset]
        types = Counter(r["expression_type"] for r in subset)
        counts[dataset] = {
            "samples": len(subset),
            "subjects": len({r["subject"] for r in subset}),
            "micro": types.get("micro", 0),
            "macro": types.get("macro", 0),
            "untyped": types.get(None, 0),
            "with_errata": sum(1 for r in subset if r["errata"]),
        }
    return counts


def render_report_markdown(meta: dict[str, Any], notes: list[dict[str, Any]]) -> str:
    lines = ["# Build report", "", f"Fingerprint: `{meta['fingerprint']}`", "", "## Counts", "",
             "| dataset | samples | subjects | micro | macro | untyped | rows with errata |",
             "|---|---|---|---|---|---|---|"]
    for dataset, c in meta["counts"].items():
        lines.append(f"| {dataset} | {c['samples']} | {c['subjects']} | {c['micro']} | {c['macro']} | "
                     f"{c['untyped']} | {c['with_errata']} |")
    lines += ["", "## Errata applied", "", "| erratum | rows |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in meta["errata_applied"].items()] or ["| (none) | |"]
    by_kind = Counter(n["kind"] for n in notes)
    lines += ["", "## Notes", ""]
    for kind in sorted(by_kind):
        lines += [f"### {kind} ({by_kind[kind]})", ""]
        for note in [n for n in notes if n["kind"] == kind][:200]:
            where = ", ".join(f"{k} {note[k]}" for k in ("file", "sheet", "row", "column", "sample_id") if k in note)
            lines.append(f"- {note['message']} ({where})")
        if by_kind[kind] > 200:
            lines.append(f"- ... {by_kind[kind] - 200} more in {REPORT_JSON}")
        lines.append("")
    return "\n".join(lines) + "\n"


# --- reading ----------------------------------------------------------------------------------------------------------


def read_meta(corpus: Path) -> dict[str, Any]:
    path = Path(corpus) / CORPUS_FILE
    if not path.exists():
        raise InputError("not a mebench corpus (no corpus.json); build one with `mebench build`", file=corpus)
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise InputError(f"corpus.json is not valid JSON ({exc})", file=path) from None


def read_samples(corpus: Path):
    """The samples table as a pandas DataFrame (list columns as Python lists)."""
    read_meta(corpus)
    return pq.read_table(Path(corpus) / SAMPLES_FILE).to_pandas(types_mapper=None)


def read_videos(corpus: Path):
    """The long-video table as a pandas DataFrame, or None for a corpus without long videos."""
    path = Path(corpus) / VIDEOS_FILE
    return pq.read_table(path).to_pandas() if path.exists() else None
