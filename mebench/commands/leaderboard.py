"""`mebench leaderboard build|add|verify`: publish results records as tables and a static site, and keep them honest.

- ``build [--results DIR] [--out DIR]`` (defaults ``leaderboards/results`` -> ``leaderboards/``): per protocol,
  Markdown, LaTeX (booktabs) and CSV tables and a static HTML site; real-dataset, shadow-corpus and reported rows
  in separate, labelled tables.
- ``add RECORD [--predictions FILE] [--results DIR]``: put a results record on the leaderboard: its protocol spec
  must be the shipped one, the predictions file (required for self-reported predictions) must have the sha256 the
  record cites and is stored beside it, and a record checksum is added.
- ``verify [--results DIR]``: recompute every hash (record checksum and bytes, protocol spec sha256, predictions
  sha256); exit 1 listing what was altered, 2 for a malformed record.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mebench.commands.protocols import console

DEFAULT_RESULTS = Path("leaderboards/results")
DEFAULT_OUT = Path("leaderboards")
EXIT_ALTERED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="render leaderboard tables and site from results records; add and verify records",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = sub.add_parser("build", help="render per-protocol Markdown/LaTeX/CSV tables and the static HTML site",
                           description="Render, per protocol, Markdown, LaTeX (booktabs) and CSV tables and a "
                           "static HTML site (index.html + one page per protocol, sortable tables, figures) from "
                           "the results records in --results and the numbers reported by the papers. Real-dataset, "
                           "shadow-corpus and reported rows are never mixed in one table.")
    build.add_argument("--results", type=Path, default=DEFAULT_RESULTS, metavar="DIR",
                       help=f"folder of results records (default {DEFAULT_RESULTS})")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                       help=f"where tables/, site/ and index.md go (default {DEFAULT_OUT})")
    build.add_argument("--no-reported", action="store_true", help="leave out the rows reported by papers")
    build.add_argument("--no-figures", action="store_true", help="do not draw figures (faster)")
    build.set_defaults(run=run_build)

    add = sub.add_parser("add", help="add a results record (and its predictions file) to the leaderboard",
                         description="Check a results record (protocol spec sha256 = the shipped spec; predictions "
                         "file sha256 = the record's predictions_sha256), store it and a copy of its predictions in "
                         "--results, and add the record checksum that `verify` recomputes.")
    add.add_argument("record", type=Path, metavar="RECORD", help="a results record written by `mebench score` or "
                     "`mebench run`")
    add.add_argument("--predictions", type=Path, metavar="FILE",
                     help="the predictions file that was scored (required for kind 'predictions')")
    add.add_argument("--results", type=Path, default=DEFAULT_RESULTS, metavar="DIR",
                     help=f"the leaderboard's results folder (default {DEFAULT_RESULTS})")
    add.set_defaults(run=run_add)

    verify = sub.add_parser("verify", help="recompute every record's hashes; exit 1 if anything was altered",
                            description="For every record in --results: the record checksum (and that the file "
                            "is byte for byte what mebench writes), the protocol spec sha256 against the shipped "
                            "spec of that id and version, and the sha256 of the stored predictions file. Exit 0 "
                            "when all hold, 1 listing what was altered, 2 for a malformed record.")
    verify.add_argument("--results", type=Path, default=DEFAULT_RESULTS, metavar="DIR",
                        help=f"folder of results records (default {DEFAULT_RESULTS})")
    verify.set_defaults(run=run_verify)


def run_build(args: argparse.Namespace) -> int:
    from mebench.leaderboard.build import build_leaderboard

    out = console()
    summary = build_leaderboard(args.results, args.out, reported=not args.no_reported,
                                figures=not args.no_figures)
    shown = [p for p, c in summary.protocols.items() if any(c.values())]
    out.print(f"leaderboard: {len(shown)} protocol page(s), {summary.records} record row(s), "
              f"{summary.reported} reported row(s), {summary.figures} figure(s)")
    for pid in shown:
        c = summary.protocols[pid]
        out.print(f"  {pid}: real {c['real']}, shadow {c['shadow']}, reported {c['reported']}")
    if summary.unverified:
        out.print(f"[bold red]{len(summary.unverified)} record(s) failed verification[/bold red] (marked on the "
                  f"pages): {', '.join(summary.unverified)}; run `mebench leaderboard verify`")
    out.print(f"tables -> {args.out / 'tables'}; site -> {summary.site / 'index.html'}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from mebench.leaderboard.records import add_record, read_record

    path = add_record(args.record, args.results, args.predictions)
    rf = read_record(path)
    out = console()
    out.print(f"added {args.record} -> {path} (checksum {rf.record.get('checksum', '')[:19]}...)")
    if rf.predictions_path is not None:
        out.print(f"predictions stored as {rf.predictions_path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from rich.table import Table

    from mebench.leaderboard.records import verify_results

    results = verify_results(args.results)
    out = console()
    table = Table(title=f"leaderboard records in {args.results}")
    table.add_column("record")
    table.add_column("status")
    table.add_column("checked / problems")
    for v in results:
        table.add_row(v.path.name, "ok" if v.ok else "[bold red]ALTERED[/bold red]",
                      ", ".join(v.checked) if v.ok else "; ".join(v.problems))
    out.print(table)
    bad = [v for v in results if not v.ok]
    if bad:
        for v in bad:
            for problem in v.problems:
                print(f"ALTERED {v.path.name}: {problem}")
        print(f"{len(bad)} of {len(results)} failed verification")
        return EXIT_ALTERED
    print(f"all {len(results)} record(s) verified")
    return 0
