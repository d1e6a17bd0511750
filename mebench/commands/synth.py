"""`mebench synth --out DIR [--scale tiny|small|full] [--seed N]`: the shadow corpus in each dataset's native layout."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mebench.errors import InputError
from mebench.synth import SCALES, WRITERS, SynthSkipped, synthesize


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic (shadow) corpus in every dataset's native layout",
        description="Write miniature datasets with known ground truth in each loader's native layout (annotation "
        "files in the real formats, face frames rendered from AU displacement fields, long videos for spotting, EMG, "
        "4D meshes): one folder per loader name under --out plus manifest.json with the true counts. Each folder is "
        "readable by `mebench build --source NAME=DIR/NAME`. Identical --seed gives identical bytes.",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write (atomically; an older synth output "
                        "there is replaced)")
    parser.add_argument("--scale", default="small", choices=SCALES,
                        help="tiny: a few samples per dataset (seconds); small: enough to train the baselines "
                        "(minutes); full: the real datasets' sizes (slow). Default small")
    parser.add_argument("--seed", default=0, type=int, help="random seed (default 0)")
    parser.add_argument("--dataset", action="append", default=None, metavar="NAME",
                        help=f"only these datasets (repeatable; default all: {', '.join(WRITERS)})")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise InputError(f"--seed must be a non-negative integer, got {args.seed}")
    console = Console(stderr=True)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
            TimeElapsedColumn(), console=console, disable=args.quiet, transient=False) as bars:
        warnings.simplefilter("always", SynthSkipped)
        tasks: dict[str, int] = {}

        def progress(dataset: str, done: int, total: int) -> None:
            if dataset not in tasks:
                tasks[dataset] = bars.add_task(dataset, total=max(total, 1))
            if total:
                bars.update(tasks[dataset], completed=done, total=max(total, 1))

        manifest = synthesize(args.out, args.scale, args.seed, args.dataset, progress=progress)
    skipped = [str(w.message) for w in caught if issubclass(w.category, SynthSkipped)]
    out = Console()
    table = Table(title=f"shadow corpus {args.out} (scale {args.scale}, seed {args.seed})")
    table.add_column("dataset")
    table.add_column("samples", justify="right")
    table.add_column("subjects", justify="right")
    for name in WRITERS:
        if name in manifest:
            table.add_row(name, str(manifest[name]["samples"]), str(manifest[name]["subjects"]))
    out.print(table)
    for message in skipped:
        out.print(f"  [yellow]{message}[/yellow]")
    out.print(f"  manifest: {Path(args.out) / 'manifest.json'}  ({time.perf_counter() - started:.1f} s)")
    out.print("  next: " + " ".join(f"--source {n}={Path(args.out) / n}" for n in WRITERS if n in manifest))
    return 0
