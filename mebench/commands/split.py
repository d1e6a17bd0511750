"""`mebench split --protocol ID --corpus DIR --out FILE.csv`: write exactly what a protocol scores, fold by fold."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from mebench.commands.protocols import console
from mebench.atomic import write_text_atomically
from mebench.errors import InputError
from mebench.protocol import load_corpus, load_protocol


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "split",
        help="write a protocol's samples with their fold and label as CSV",
        description="Write the protocol's samples on a corpus as sample_id,fold,label (spotting: video_id,fold; "
        "emg-interval: sample_id,fold), so anyone can see exactly what is scored. Fold f is the test fold f; a "
        "sample is trained on in every other fold. The file is written atomically.",
    )
    parser.add_argument("--protocol", required=True, metavar="ID", help="a protocol id or the path of a .toml spec")
    parser.add_argument("--corpus", required=True, type=Path, metavar="DIR", help="a corpus built by `mebench build`")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.csv", help="the CSV to write")
    parser.set_defaults(run=run)


def check_out(path: Path) -> None:
    """Fail before any work if the output cannot be written."""
    if path.is_dir():
        raise InputError("--out is a folder; give a file name", file=path)
    if not path.parent.exists():
        raise InputError("the folder of --out does not exist", file=path.parent)


def run(args: argparse.Namespace) -> int:
    protocol = load_protocol(args.protocol)
    check_out(args.out)
    corpus = load_corpus(args.corpus)
    selection = protocol.apply(corpus)
    if not len(selection.rows):
        raise InputError(f"protocol {protocol.id!r} selects no sample on this corpus (its datasets: "
                         f"{', '.join(protocol.datasets)}; the corpus has {', '.join(_datasets(corpus)) or 'none'})",
                         file=args.corpus)
    table = protocol.split_table(corpus)
    write_text_atomically(args.out, table.to_csv(index=False, lineterminator="\n"))
    out = console()
    unit = "videos" if protocol.task == "spotting" else "samples"
    out.print(f"{protocol.id} (v{protocol.version}, sha256 {protocol.sha256[:12]}): {len(table)} {unit} in "
              f"{table['fold'].nunique()} folds -> {args.out}")
    if len(selection.dropped):
        out.print(f"dropped {len(selection.dropped)} row(s) of {', '.join(protocol.datasets)}:")
        for reason, n in Counter(selection.dropped["reason"]).most_common():
            out.print(f"  {n:5d}  {reason}", highlight=False, markup=False)
    return 0


def _datasets(corpus) -> list[str]:
    return sorted(set(corpus.samples["dataset"])) if len(corpus.samples) else []
