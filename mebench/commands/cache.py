"""`mebench cache info` / `mebench cache clear [--extractor NAME]`: the on-disk feature cache (mebench.cache)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from mebench.commands.protocols import console


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="show or clear the feature cache",
        description="Features computed by `mebench run` are cached on disk, keyed by a sha256 over the extractor "
        "(name, version, parameters), the sample's identifying fields and its media content. `info` lists entries "
        "and size per extractor; `clear` removes all entries, or those of one extractor.",
    )
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="cache folder (default $MEBENCH_CACHE or ~/.cache/mebench/features)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="entries and size per extractor")
    info.add_argument("--cache-dir", type=Path, metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    clear = actions.add_parser("clear", help="remove cached features")
    clear.add_argument("--extractor", metavar="NAME", help="only this extractor's entries")
    clear.add_argument("--cache-dir", type=Path, metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def run(args: argparse.Namespace) -> int:
    from mebench.cache import FeatureCache

    cache = FeatureCache(args.cache_dir)
    out = console()
    swept = cache.sweep()
    if args.action == "clear":
        removed = cache.clear(args.extractor)
        what = f"extractor {args.extractor!r}" if args.extractor else "all extractors"
        out.print(f"removed {removed} cache entries of {what} from {cache.root}")
        return 0
    stats = cache.info()
    table = Table(title=f"feature cache {stats.root}")
    table.add_column("extractor")
    table.add_column("versions")
    table.add_column("entries", justify="right")
    table.add_column("size", justify="right")
    for name, entry in stats.extractors.items():
        versions = ", ".join(f"{v} ({n})" for v, n in sorted(entry["versions"].items()))
        table.add_row(name, versions, str(entry["entries"]), _size(entry["bytes"]))
    table.add_row("total", "", str(stats.entries), _size(stats.bytes))
    out.print(table)
    if swept or stats.temporary:
        out.print(f"removed {swept} temporary file(s) left by interrupted writers; {stats.temporary} in progress")
    return 0
