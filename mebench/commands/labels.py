"""`mebench labels --corpus DIR [--scheme S ...] [--out FILE.json] [--rows N]`: native vs harmonized labels.

Per dataset and scheme: how often the native emotion agrees with the harmonized labels (after the declared comparison
of `mebench.label_report.COMPARISONS`), the confusion table native emotion x harmonized label tuple, and the rows that
disagree (DESIGN.md section 4).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mebench.corpus import read_samples
from mebench.errors import InputError
from mebench.label_report import DEFAULT_SCHEMES, agreement_line, comparable_schemes, label_report

DEFAULT_ROWS = 20
WIDE = 160


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "labels",
        help="report agreement between native and harmonized emotion labels",
        description="For each dataset of a corpus: how often the native emotion agrees with each harmonized label "
        "scheme (native emotions are first mapped into the scheme's vocabulary by a declared table; rows without "
        "AUs or without a counterpart in the scheme are 'not comparable', never disagreements), the confusion "
        "between native and harmonized labels, and the disagreeing rows.",
    )
    parser.add_argument("--corpus", required=True, type=Path, help="corpus folder written by `mebench build`")
    parser.add_argument("--scheme", action="append", default=None, metavar="S",
                        help=f"a scheme to compare; repeat for several (default: {' and '.join(DEFAULT_SCHEMES)}; "
                        f"comparable: {', '.join(comparable_schemes())})")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.json",
                        help="also write the full report (every disagreeing row) as JSON")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, metavar="N",
                        help=f"disagreeing rows to print per dataset and scheme (default {DEFAULT_ROWS}; 0 = none)")
    parser.set_defaults(run=run)


def _confusion_table(dataset: str, report: dict[str, Any]) -> Table:
    """The confusion native emotion x harmonized label tuple, printed with the natives as columns (there are fewer
    of them, and their names are short) so that it fits a terminal; the JSON keeps native -> labels -> count."""
    confusion = report["confusion"]
    table = Table(title=f"{dataset} {report['scheme']}: harmonized labels (rows) x native emotion (columns)",
                  title_justify="left")
    table.add_column("harmonized", no_wrap=True)
    for native in confusion["natives"]:
        table.add_column(Text(native), justify="right", overflow="fold")
    table.add_column("total", justify="right", min_width=5)
    for label in confusion["labels"]:
        cells = [confusion["counts"][native].get(label) for native in confusion["natives"]]
        table.add_row(Text(label), *(str(c) if c else "" for c in cells), str(sum(c or 0 for c in cells)))
    return table


def _disagreement_table(dataset: str, report: dict[str, Any], limit: int) -> Table:
    rows = report["disagreements"]
    shown = rows[:limit]
    title = f"{dataset} {report['scheme']}: disagreeing rows"
    if len(rows) > len(shown):
        title += f" (first {len(shown)} of {len(rows)})"
    table = Table(title=title, title_justify="left")
    for column in ("sample_id", "au_raw", "aus", "native", "compared as", "harmonized", "rule"):
        table.add_column(column)
    for row in shown:
        cells = (row["sample_id"] or "", row["au_raw"] or "", "+".join(str(a) for a in row["aus"]), row["emotion"],
                 "+".join(row["compared_as"]), "+".join(row["labels"]) or "()", row["rule"])
        table.add_row(*(Text(c) for c in cells))  # data, not rich markup (an au_raw may hold '[...]')
    return table


def run(args: argparse.Namespace) -> int:
    if args.rows < 0:
        raise InputError(f"--rows must be 0 or more, got {args.rows}")
    if args.out is not None and not args.out.parent.exists():
        raise InputError("the parent folder of --out does not exist", file=args.out.parent)
    samples = read_samples(args.corpus)
    report = label_report(samples, args.scheme)
    report["corpus"] = str(args.corpus)

    out = Console()
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(width=WIDE)  # a file or a pipe: no terminal to fit, so keep the tables whole
    for dataset, entry in report["datasets"].items():
        out.rule(f"{dataset} ({entry['rows']} rows)")
        for scheme_report in entry["schemes"].values():
            out.print(agreement_line(dataset, scheme_report), soft_wrap=True, highlight=False, markup=False)
        for scheme_report in entry["schemes"].values():
            out.print(_confusion_table(dataset, scheme_report))
            if args.rows and scheme_report["disagreements"]:
                out.print(_disagreement_table(dataset, scheme_report, args.rows))
    if args.out is not None:
        try:
            args.out.write_text(json.dumps(report, indent=2) + "\n")
        except OSError as exc:
            raise InputError(f"cannot write the report ({exc.strerror})", file=args.out) from None
        out.print(f"report: {args.out}", highlight=False, markup=False, soft_wrap=True)
    return 0
