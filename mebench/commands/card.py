"""`mebench card --corpus DIR [--out FILE]`: write the generated card of a built corpus (DIR/README.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mebench.commands.protocols import console
from mebench.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "card",
        help="write the card of a built corpus (DIR/README.md, Hugging Face card format)",
        description="Render the card of a corpus built by `mebench build`: YAML front matter + Markdown with the "
        "counts by dataset, expression type and label scheme, subjects and persons, the errata applied, the "
        "fingerprint, the sources with their sha256, shadow or real, and the shipped dataset cards. Written as "
        "DIR/README.md (or --out FILE; '-' prints it).",
    )
    parser.add_argument("--corpus", required=True, type=Path, metavar="DIR", help="a corpus built by `mebench build`")
    parser.add_argument("--out", metavar="FILE", help="write the card here instead of DIR/README.md ('-': stdout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mebench.corpus_card import render_corpus_card, write_corpus_card

    if not args.corpus.is_dir():
        raise InputError("corpus folder not found", file=args.corpus)
    if args.out == "-":
        print(render_corpus_card(args.corpus), end="")
        return 0
    if args.out is not None:
        from mebench.commands.split import check_out, write_text_atomically

        out = Path(args.out)
        check_out(out)
        write_text_atomically(out, render_corpus_card(args.corpus))
    else:
        out = write_corpus_card(args.corpus)
    console().print(f"corpus card -> {out}")
    return 0
