"""Time `mebench synth` at --scale tiny and small and print them against the budgets (issue #5 acceptance (5)):
tiny < 1 minute, small < 5 minutes on 2 cores. Per-dataset times, frame counts and the machine's load are printed
too, since other work on the machine inflates wall time.

    .venv/bin/python benchmarks/synth_times.py [--scales tiny small] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

BUDGETS = {"tiny": 60.0, "small": 300.0, "full": float("inf")}


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", nargs="+", default=["tiny", "small"], choices=list(BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write here (kept) instead of a temporary folder")
    args = parser.parse_args()

    from mebench.synth import WRITERS, synthesize

    print(f"mebench synth timings: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    failed = False
    for scale in args.scales:
        base = args.keep or Path(tempfile.mkdtemp(prefix="synth-times-"))
        base.mkdir(parents=True, exist_ok=True)
        out = base / scale
        marks: dict[str, float] = {}
        last = [time.perf_counter()]

        def progress(dataset: str, done: int, total: int) -> None:
            now = time.perf_counter()
            marks[dataset] = marks.get(dataset, 0.0) + now - last[0]
            last[0] = now

        started = time.perf_counter()
        cpu = time.process_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            manifest = synthesize(out, scale, args.seed, progress=progress)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        budget = BUDGETS[scale]
        ok = wall < budget
        failed |= not ok
        print(f"\nscale {scale}: {wall:6.1f} s wall, {cpu:6.1f} s CPU (all threads), budget {budget:.0f} s "
              f"-> {'OK' if ok else 'OVER BUDGET'}   (load average now {os.getloadavg()[0]:.1f})")
        for name in WRITERS:
            if name in manifest:
                files = count_files(out / name)
                print(f"  {name:<9} {marks.get(name, 0.0):6.1f} s  {manifest[name]['samples']:5d} samples "
                      f"{manifest[name]['subjects']:3d} subjects  {files:7d} files")
        for warning in caught:
            print(f"  skipped: {warning.message}")
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
