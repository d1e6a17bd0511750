"""`mebench protocols [--corpus DIR]`: list the shipped protocols, and what each selects on a corpus."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mebench.protocol import load_corpus, load_protocols


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "protocols",
        help="list the protocols (with sample/person/class/fold counts on a corpus)",
        description="List the frozen protocols shipped with mebench: id, task, datasets. With --corpus, also how many "
        "samples, subjects and persons each selects on that corpus, how many classes are present, how many folds its "
        "split gives, and how many rows of its datasets it drops (see `mebench split` for the rows).",
    )
    parser.add_argument("--corpus", type=Path, metavar="DIR", help="a corpus folder built by `mebench build`")
    parser.set_defaults(run=run)


def console() -> Console:
    """A console that never truncates ids when stdout is not a terminal (pipes, tests)."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def run(args: argparse.Namespace) -> int:
    protocols = load_protocols()
    corpus = load_corpus(args.corpus) if args.corpus else None
    table = Table(title="mebench protocols" + (f" on {args.corpus}" if corpus else ""))
    table.add_column("id", no_wrap=True)
    table.add_column("version", justify="right")
    table.add_column("task", no_wrap=True)
    table.add_column("datasets")
    if corpus is not None:
        for column in ("samples", "subjects", "persons", "classes", "folds", "dropped"):
            table.add_column(column, justify="right")
    for protocol in protocols:
        cells = [protocol.id, protocol.version, protocol.task, ", ".join(protocol.datasets)]
        if corpus is not None:
            d = protocol.describe(corpus)
            samples = str(d["samples"]) + (f" ({d['videos']} videos)" if d.get("videos") is not None else "")
            classes = f"{d['classes_present']}/{len(protocol.classes)}" if protocol.classes else "-"
            folds = "-" if d["folds"] is None else str(d["folds"])
            cells += [samples, str(d["subjects"]), str(d["persons"]), classes, folds, str(d["dropped"])]
        table.add_row(*cells)
    console().print(table)
    return 0
