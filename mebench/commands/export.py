"""`mebench export hf --corpus DIR --out DIR2`: a corpus as a Hugging Face DatasetDict (save_to_disk) with its card."""

from __future__ import annotations

import argparse
from pathlib import Path

from mebench.commands.protocols import console


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a corpus (hf: a Hugging Face datasets DatasetDict saved with save_to_disk)",
        description="Export a corpus built by `mebench build`. Format `hf`: a datasets.DatasetDict with one split "
        "per dataset (split name = loader name with '-' -> '_'; every split keeps the `dataset` column), features "
        "declared from the corpus schema, saved with save_to_disk; the corpus card is DIR2/README.md and every "
        "split's info.description. Load it with datasets.load_from_disk(DIR2); no network is needed.",
    )
    parser.add_argument("format", choices=["hf"], help="export format (hf: Hugging Face datasets)")
    parser.add_argument("--corpus", required=True, type=Path, metavar="DIR", help="a corpus built by `mebench build`")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR2",
                        help="folder to write (replaced if it holds an earlier mebench export)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mebench.export import export_hf

    result = export_hf(args.corpus, args.out)
    out = console()
    splits = ", ".join(f"{name} {n}" for name, n in result.splits.items())
    out.print(f"DatasetDict -> {result.out} (splits: {splits}"
              + (f"; videos {result.videos}" if result.videos is not None else "") + ")")
    out.print(f"corpus {result.fingerprint[:12]}; card {result.out / 'README.md'}; "
              "load with datasets.load_from_disk()")
    return 0
