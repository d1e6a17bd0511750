"""`mebench emg stats --corpus DIR [--out FILE.json]`: seed 001 Tables 3-4 (MVC%, iEMG, durations; micro vs macro)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from mebench.atomic import write_text_atomically
from mebench.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emg",
        help="EMG analyses of seed 001 (CASMEMG)",
        description="EMG analyses of seed 001 (Li et al., CASMEMG) on a built corpus.",
    )
    sub = parser.add_subparsers(dest="emg_command", required=True, metavar="SUBCOMMAND")
    stats = sub.add_parser(
        "stats",
        help="MVC%%, iEMG and duration of micro vs macro expressions (seed 001 Tables 3-4)",
        description="Per expression: MVC% (envelope peak / MVC of the subject's channel, eq. 5-6), iEMG (eq. 7) "
        "and duration on the EMG clock; per type (micro, macro): N, mean, SD and the 95% confidence interval of "
        "the mean; between the types: Student's t-test (equal variances, as the paper's t(378)), p and Cohen's d. "
        "MVC comes from the corpus' MVC recordings where it has them, else from the maximum envelope per subject "
        "and channel over the session (the output says which).",
    )
    stats.add_argument("--corpus", required=True, type=Path, help="a corpus folder written by `mebench build`")
    stats.add_argument("--out", type=Path, help="also write the numbers as JSON to this file")
    stats.add_argument("--channel", choices=("annotated", "eq5"), default="annotated",
                       help="the expression's channel: the annotated emg_channel (fallback eq. 5; default) or "
                       "always eq. 5 (largest envelope peak among c1-c7)")
    stats.set_defaults(run=run_stats)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    return value


def _write_json(path: Path, data: Any) -> None:
    """Atomically: a temporary file beside `path`, renamed over it."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("the folder of --out does not exist", file=path)
    text = json.dumps(_jsonable(data), indent=2, sort_keys=False, allow_nan=False) + "\n"
    write_text_atomically(path, text)


def run_stats(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mebench.baselines.emg_stats import corpus_stats, render

    if args.out is not None:
        if args.out.is_dir():
            raise InputError("--out is a folder; give a file name", file=args.out)
        if not (args.out.parent if str(args.out.parent) else Path(".")).is_dir():
            raise InputError("the folder of --out does not exist", file=args.out)
    result = corpus_stats(args.corpus, channel=args.channel)
    render(result, Console())
    if args.out is not None:
        _write_json(args.out, result)
        Console(stderr=True).print(f"wrote {args.out}")
    return 0
