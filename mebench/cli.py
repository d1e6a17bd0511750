"""The `mebench` command: one subcommand per module in ``mebench.commands``.

Bad input is reported as one clear line naming file/sheet/row/column with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import pkgutil
import sys
from importlib import import_module

import mebench
from mebench import commands
from mebench.errors import InputError

EXIT_INPUT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mebench",
        description="Benchmark harness for facial micro-expression research: build a corpus from the licensed "
        "datasets, score submissions on frozen protocols, publish leaderboards.",
    )
    parser.add_argument("--version", action="version", version=f"mebench {mebench.__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except InputError as error:
        print(f"mebench {args.command}: error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print(f"mebench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
