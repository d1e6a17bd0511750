"""`mebench run --protocol ID --corpus DIR --model NAME|module:Class [--out results.json]`: the harness.

Trains and tests the model fold by fold (``mebench.runner``), scores the pooled predictions exactly as `mebench
score` does and prints the same table; the record is of kind ``harness-run``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mebench.commands.protocols import console
from mebench.commands.split import check_out, write_text_atomically
from mebench.errors import InputError
from mebench.protocol import load_protocol
from mebench.results import record_tables, write_record


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="train and test a model fold by fold on a protocol (the harness) and write a results record",
        description="Run a model on every fold of a protocol: a fresh model per fold, fit(train) on the training part "
        "only, predict(test) on a test view without any label column; predictions of all folds are scored together "
        "as `mebench score` does. MODEL is a registered name (au-rules, au-oracle, ...), a name registered by an "
        "installed package under the entry-point group 'mebench.models', or module:Class. Features are cached on "
        "disk by content (see `mebench cache`).",
    )
    parser.add_argument("--protocol", required=True, metavar="ID", help="a protocol id or the path of a .toml spec")
    parser.add_argument("--corpus", required=True, type=Path, metavar="DIR", help="a corpus built by `mebench build`")
    parser.add_argument("--model", required=True, metavar="NAME|module:Class", help="the model to run")
    parser.add_argument("--out", type=Path, metavar="results.json", help="write the results record here (atomically)")
    parser.add_argument("--predictions-out", type=Path, metavar="FILE.csv",
                        help="also write the pooled predictions as a predictions file (what `mebench score` reads; "
                        "its sha256 is the record's predictions_sha256)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a model constructor parameter (repeatable; VALUE is read as JSON when it is JSON, "
                        "else as text)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; each fold gets its own seed from it "
                        "(default 0)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="parallel workers for folds and feature extraction (joblib; -1 = one per core)")
    parser.add_argument("--backend", choices=("joblib", "dask"), default="joblib",
                        help="joblib (default) or dask: a LocalCluster of 2 worker processes (1 thread each), or "
                        "the scheduler given by --scheduler; results are identical")
    parser.add_argument("--scheduler", metavar="ADDR", help="address of a running Dask scheduler (implies "
                        "--backend dask)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="feature cache folder (default $MEBENCH_CACHE or ~/.cache/mebench/features)")
    parser.add_argument("--name", help="submission name in the record (default: the model's name)")
    parser.set_defaults(run=run)


def parse_params(items: list[str]) -> dict[str, Any]:
    """['C=0.5', 'scheme=basic6'] -> {'C': 0.5, 'scheme': 'basic6'} (JSON values where they parse)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InputError(f"--param must be KEY=VALUE with KEY a parameter name, got {item!r}")
        if key in params:
            raise InputError(f"--param {key} given twice")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def run(args: argparse.Namespace) -> int:
    from mebench.runner import run_protocol

    params = parse_params(args.param)
    for path in (args.out, args.predictions_out):
        if path is not None:
            check_out(path)
    result = run_protocol(args.protocol, args.corpus, args.model, params=params, seed=args.seed, jobs=args.jobs,
                          backend=args.backend, scheduler=args.scheduler, cache=args.cache_dir, name=args.name)
    record = result.record
    if args.predictions_out is not None:
        from mebench.runner import predictions_csv

        write_text_atomically(args.predictions_out, predictions_csv(load_protocol(args.protocol), result.predictions))
    if args.out is not None:
        write_record(record, args.out)
    out = console()
    for table in record_tables(record):
        out.print(table)
    model = record["submission"]["model"]
    harness = record["details"]["harness"]
    shadow = " (SHADOW corpus: synthetic data)" if record["corpus"]["shadow"] else ""
    out.print(f"protocol {record['protocol']['id']} v{record['protocol']['version']} sha256 "
              f"{record['protocol']['sha256'][:12]}; corpus {str(record['corpus']['fingerprint'])[:12]}{shadow}; "
              f"model {model['name']} v{model['version']} ({model['class']}); seed {args.seed}; "
              f"{len(record['per_fold'])} folds on {harness['backend']} in {harness['total_s']:.1f} s")
    for extractor, counts in harness["features"].items():
        out.print(f"features {extractor}: {counts['computed']} computed, {counts['cached']} read from the cache "
                  f"({result.cache_root})")
    if harness["test_view"]["label_from_visible_columns"]:
        out.print("note: " + harness["test_view"]["notes"][0])
    if result.summary:
        out.print(result.summary)
    if args.predictions_out is not None:
        out.print(f"predictions -> {args.predictions_out}")
    if args.out is not None:
        out.print(f"results record -> {args.out}")
    return 0
