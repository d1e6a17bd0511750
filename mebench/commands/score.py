"""`mebench score --protocol ID --corpus DIR --predictions FILE [--out results.json]`: validate, score, record."""

from __future__ import annotations

import argparse
from pathlib import Path

from mebench.commands.protocols import console
from mebench.commands.split import check_out
from mebench.errors import InputError
from mebench.protocol import load_corpus, load_protocol
from mebench.results import SubmissionInfo, make_record, record_tables, write_record
from mebench.submission import load_predictions


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a predictions file on a protocol and write a results record",
        description="Validate a predictions file (CSV or Parquet) against the protocol's samples on the corpus, then "
        "score it: recognition sample_id,label; multi-label sample_id,labels ('+'-joined); AU detection "
        "sample_id,AU1,... (0/1); spotting video_id,onset,offset[,score][,expression_type]; emg-interval "
        "sample_id,onset_s,offset_s (empty = not detected). Any invalid row stops with exit code 2 and nothing "
        "written. Metrics are computed on the predictions pooled over all folds (per-fold values beside).",
    )
    parser.add_argument("--protocol", required=True, metavar="ID", help="a protocol id or the path of a .toml spec")
    parser.add_argument("--corpus", required=True, type=Path, metavar="DIR", help="a corpus built by `mebench build`")
    parser.add_argument("--predictions", required=True, type=Path, metavar="FILE", help="predictions, CSV or Parquet")
    parser.add_argument("--out", type=Path, metavar="results.json", help="write the results record here (atomically)")
    parser.add_argument("--name", help="submission name in the record (default: the predictions file name)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    protocol = load_protocol(args.protocol)
    if args.out is not None:
        check_out(args.out)
    corpus = load_corpus(args.corpus)
    selection = protocol.apply(corpus)
    if not len(selection.rows):
        raise InputError(f"protocol {protocol.id!r} selects no sample on this corpus (its datasets: "
                         f"{', '.join(protocol.datasets)})", file=args.corpus)
    predictions = load_predictions(args.predictions, protocol, selection)
    submission = SubmissionInfo(name=args.name or args.predictions.stem, kind="predictions",
                                predictions_sha256=predictions.sha256,
                                predictions_file=Path(args.predictions).name)
    record = make_record(protocol, corpus.meta, selection, predictions.frame, submission)
    if args.out is not None:
        write_record(record, args.out)
    out = console()
    for table in record_tables(record):
        out.print(table)
    shadow = " (SHADOW corpus: synthetic data)" if record["corpus"]["shadow"] else ""
    out.print(f"protocol {protocol.id} v{protocol.version} sha256 {protocol.sha256[:12]}; corpus "
              f"{str(record['corpus']['fingerprint'])[:12]}{shadow}; predictions sha256 {predictions.sha256[:12]}")
    if args.out is not None:
        out.print(f"results record -> {args.out}")
    return 0
