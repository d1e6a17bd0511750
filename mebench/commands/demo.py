"""`mebench demo`: run the pipeline end to end on what this machine has.

The full demo (shadow corpus -> build -> baselines -> leaderboard -> cards, DESIGN.md section 9) grows as those
stages land. Today it builds a corpus from the real public annotation files when they are found
($MEBENCH_ANNOTATIONS or ../shared/annotations), lists what every protocol selects on it, reports how far the
native emotions agree with the AU-derived ones, and says which stages are not there yet. Each step is the
command a user would type.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from mebench.corpus import Source, build_corpus

ANNOTATION_FILES = {
    "casme2": "casme2/CASME2-coding-20140508.xlsx",
    "samm": "samm/SAMM_Micro_FACS_Codes_v2.xlsx",
    "casme-sq": "casme-sq/code_final.xlsx",
    "casmemg": "casmemg/380_sort.xlsx",
}

PENDING = [
    "shadow corpus (`mebench synth`): synthetic faces, EMG and meshes in each dataset's native layout",
    "`mebench run` (models trained fold by fold by the harness) and the baselines of the papers",
    "leaderboard tables and site, generated corpus cards, Hugging Face export",
]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the pipeline end to end on this machine",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="where the demo writes (default out/demo)")
    parser.add_argument("--annotations", type=Path, default=None,
                        help="folder of real annotation files (default $MEBENCH_ANNOTATIONS or ../shared/annotations)")
    parser.set_defaults(run=run)


def find_annotations(explicit: Path | None) -> Path | None:
    candidates = [explicit] if explicit else []
    if os.environ.get("MEBENCH_ANNOTATIONS"):
        candidates.append(Path(os.environ["MEBENCH_ANNOTATIONS"]))
    candidates.append(Path.cwd().parent / "shared" / "annotations")
    return next((c for c in candidates if c and c.is_dir()), None)


def run(args: argparse.Namespace) -> int:
    console = Console()
    console.rule("mebench demo")
    root = find_annotations(args.annotations)
    if root is None:
        console.print("No annotation files found (set MEBENCH_ANNOTATIONS); skipping the real-annotation build.")
    else:
        sources = [Source(name, root / rel) for name, rel in ANNOTATION_FILES.items() if (root / rel).exists()]
        args.out.mkdir(parents=True, exist_ok=True)
        corpus = args.out / "corpus-annotations"
        with console.status("building a corpus from the real annotation files") as status:
            result = build_corpus(sources, corpus, progress=status.update)
        console.print(f"[bold]corpus[/bold] {corpus} (annotation-only build of {len(sources)} datasets)")
        for dataset, counts in result.counts.items():
            console.print(f"  {dataset:9s} {counts['samples']:4d} samples, {counts['subjects']:3d} subjects, "
                          f"{counts['micro']} micro / {counts['macro']} macro / {counts['untyped']} untyped")
        console.print(f"  errata applied: {sum(result.errata.values())} rows; report {corpus / 'build_report.md'}")
        from mebench.cli import main

        for argv in (["protocols", "--corpus", str(corpus)], ["labels", "--corpus", str(corpus), "--rows", "0"]):
            console.rule(f"mebench {' '.join(argv)}")
            main(argv)
    console.print("\nNot in this version yet:")
    for line in PENDING:
        console.print(f"  - {line}")
    return 0
