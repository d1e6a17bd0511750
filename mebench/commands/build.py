"""`mebench build --source NAME=PATH ... --out DIR`: annotation files (+ media) -> one corpus folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mebench.corpus import REPORT_MD, Source, build_corpus, parse_source
from mebench.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build a corpus (samples.parquet + corpus.json) from dataset sources",
        description="Read each dataset's native annotation file (and media under its root) into one Parquet corpus. "
        "NAME is a loader: casme2, samm, samm-lv, casme-sq, casmemg, 4dme. PATH is the dataset root (annotation "
        "file found by its known names, media resolved) or the annotation file itself (annotation-only build).",
    )
    parser.add_argument("--source", action="append", default=[], metavar="NAME=PATH", required=True,
                        help="a dataset source; repeat to merge several")
    parser.add_argument("--media-template", action="append", default=[], metavar="NAME.COLUMN=TEMPLATE",
                        help="override where a loader looks for a media column, e.g. "
                        "casmemg.emg_path='EMG/{subject_raw:02d}/{video}.mat' (relative to the dataset root)")
    parser.add_argument("--out", required=True, type=Path, help="corpus folder to write (atomically)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary line")
    parser.set_defaults(run=run)


def parse_templates(items: list[str], sources: list[Source]) -> None:
    by_name = {s.name: s for s in sources}
    for item in items:
        key, sep, template = item.partition("=")
        name, dot, column = key.partition(".")
        if not sep or not dot or not template:
            raise InputError(f"--media-template must be NAME.COLUMN=TEMPLATE, got {item!r}")
        if name not in by_name:
            raise InputError(f"--media-template names {name!r}, which is not a --source")
        by_name[name].templates[column] = template


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    sources = [parse_source(s) for s in args.source]
    parse_templates(args.media_template, sources)
    with console.status("building corpus") as status:
        result = build_corpus(sources, args.out, progress=lambda m: status.update(m))
    out = Console()
    if not args.quiet:
        table = Table(title=f"corpus {result.out}")
        for column in ("dataset", "samples", "subjects", "micro", "macro", "untyped", "rows with errata"):
            table.add_column(column, justify="left" if column == "dataset" else "right")
        for dataset, c in result.counts.items():
            table.add_row(dataset, *(str(c[k]) for k in ("samples", "subjects", "micro", "macro", "untyped",
                                                         "with_errata")))
        out.print(table)
        kinds: dict[str, int] = {}
        for note in result.notes:
            kinds[note["kind"]] = kinds.get(note["kind"], 0) + 1
        for kind, n in sorted(kinds.items()):
            out.print(f"  {kind}: {n}")
        out.print("  errata applied: " + (", ".join(f"{k} x{v}" for k, v in sorted(result.errata.items())) or "none"))
        out.print(f"  report: {result.out / REPORT_MD}")
    out.print(f"fingerprint {result.fingerprint}")
    return 0
