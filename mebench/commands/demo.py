"""`mebench demo`: the whole pipeline on a fresh machine, on the shadow corpus (DESIGN.md section 9).

synth (small) -> build (all six datasets) -> every baseline on its protocols -> results records -> leaderboard tables
and site -> corpus card and Hugging Face export. Every step is the library call behind a `mebench` command, so the
demo is also a worked example. It is resumable: the shadow corpus, the corpus and each finished baseline run are
kept under --out and reused when the demo is run again (features too, through the cache).

Shadow results are labelled as such in every record and table, and never mixed with real-corpus results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mebench.errors import InputError

DATASETS = ("casme2", "samm", "samm-lv", "casme-sq", "casmemg", "4dme")


@dataclass(frozen=True)
class DemoRun:
    """One baseline on one protocol, as the leaderboard shows it."""

    model: str
    protocol: str


# Each baseline on the protocols of its paper (DESIGN.md section 8). Entries whose model is not registered in this
# version are listed as skipped, not silently dropped.
PLAN = (
    DemoRun("au-rules", "merged-loso-4dme"),
    DemoRun("au-oracle", "casme2-loso-5class"),
    DemoRun("au-oracle", "samm-loso-5class"),
    DemoRun("lbptop-svm", "casme2-loso-5class"),
    DemoRun("flow-svm", "casme2-loso-5class"),
    DemoRun("dual-branch", "casme2-loso-3class"),
    DemoRun("au-prototype", "casme-sq-spotting"),
    DemoRun("mdmd", "casme-sq-spotting"),
    DemoRun("emg-peak-trough", "casmemg-emg-interval"),
    DemoRun("depth-views", "4dme-5fold-emotion"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the whole pipeline on the shadow corpus (minutes, resumable)",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="where the demo writes (default out/demo)")
    parser.add_argument("--scale", default="small", choices=("tiny", "small", "full"), help="shadow corpus size")
    parser.add_argument("--seed", type=int, default=0, help="shadow corpus seed")
    parser.add_argument("--jobs", type=int, default=2, help="parallel folds / feature extraction")
    parser.add_argument("--only", action="append", default=[], metavar="MODEL",
                        help="run only these baselines (repeatable)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier demo results (keeps the feature cache)")
    parser.add_argument("--publish", type=Path, default=None, metavar="DIR",
                        help="also add the records to this leaderboard folder and rebuild it (e.g. leaderboards)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mebench.corpus import Source, build_corpus, read_meta
    from mebench.export import export_hf
    from mebench.leaderboard import add_record, build_leaderboard
    from mebench.models import REGISTRY
    from mebench.synth import synthesize

    console = Console()
    out: Path = args.out
    shadow, corpus, records, board = out / "shadow", out / "corpus", out / "results", out / "leaderboards"
    if args.fresh:
        for folder in (records, board):
            shutil.rmtree(folder, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    records.mkdir(exist_ok=True)
    plan = [p for p in PLAN if not args.only or p.model in args.only]
    unknown = sorted(set(args.only) - {p.model for p in PLAN})
    if unknown:
        raise InputError(f"--only names no demo baseline: {unknown} (demo baselines: "
                         f"{', '.join(dict.fromkeys(p.model for p in PLAN))})")
    started = time.perf_counter()
    console.rule("mebench demo (shadow corpus: synthetic faces, EMG and meshes; not real data)")

    with _progress(console) as progress:
        step = progress.add_task("shadow corpus", total=None)
        manifest_file = shadow / "manifest.json"
        manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else None
        if not manifest or manifest.get("scale") != args.scale or manifest.get("seed") != args.seed:
            manifest = synthesize(shadow, args.scale, args.seed,
                                  progress=lambda name, done, total: progress.update(
                                      step, description=f"shadow corpus: {name}", total=total or None,
                                      completed=done))
        progress.update(step, description=f"shadow corpus ({args.scale}, seed {args.seed})", total=1, completed=1)

        step = progress.add_task("build corpus", total=None)
        sources = [Source(name, shadow / name) for name in DATASETS if name in manifest]
        result = build_corpus(sources, corpus, progress=lambda m: progress.update(step, description=m))
        progress.update(step, description=f"corpus {corpus} ({sum(c['samples'] for c in result.counts.values())} "
                        "samples)", total=1, completed=1)
        fingerprint = read_meta(corpus)["fingerprint"]

        runs = progress.add_task("baselines", total=len(plan))
        outcomes = []
        for entry in plan:
            progress.update(runs, description=f"{entry.model} on {entry.protocol}")
            outcomes.append(_run_one(entry, corpus, fingerprint, records, out / "cache", args.jobs, REGISTRY))
            progress.advance(runs)

        step = progress.add_task("leaderboard", total=None)
        shutil.rmtree(board / "results", ignore_errors=True)
        board.mkdir(parents=True, exist_ok=True)
        for outcome in outcomes:
            if outcome["record"]:
                add_record(outcome["record"], board / "results", outcome.get("predictions"))
        build_leaderboard(board / "results", board)
        if args.publish:
            args.publish.mkdir(parents=True, exist_ok=True)
            for outcome in outcomes:
                if outcome["record"]:
                    add_record(outcome["record"], args.publish / "results", outcome.get("predictions"))
            build_leaderboard(args.publish / "results", args.publish)
        progress.update(step, total=1, completed=1)

        step = progress.add_task("Hugging Face export", total=None)
        export_hf(corpus, out / "hf")
        progress.update(step, total=1, completed=1)

    _summary(console, outcomes, corpus, board, out, time.perf_counter() - started)
    return 0


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _run_one(entry: DemoRun, corpus: Path, fingerprint: str, records: Path, cache: Path, jobs: int,
             registry: dict[str, str]) -> dict:
    """Run one baseline (or reuse its record from an earlier demo on the same corpus)."""
    from mebench.protocol import load_protocol
    from mebench.results import write_record
    from mebench.runner import predictions_csv, run_protocol

    stem = f"{entry.model}__{entry.protocol}"
    record_path, predictions_path = records / f"{stem}.json", records / f"{stem}.predictions.csv"
    outcome = {"model": entry.model, "protocol": entry.protocol, "record": None, "status": ""}
    if entry.model not in registry:
        outcome["status"] = "skipped: not in this version"
        return outcome
    if record_path.exists() and predictions_path.exists():
        record = json.loads(record_path.read_text())
        if _still_current(record, entry, fingerprint):
            outcome.update(record=record_path, predictions=predictions_path, status="reused", metrics=record["metrics"])
            return outcome
    try:
        result = run_protocol(entry.protocol, corpus, entry.model, jobs=jobs, cache=cache, progress=False)
    except InputError as error:
        outcome["status"] = f"failed: {error}"
        return outcome
    predictions_path.write_text(predictions_csv(load_protocol(entry.protocol), result.predictions))
    write_record(result.record, record_path)
    outcome.update(record=record_path, predictions=predictions_path, status="ran", metrics=result.record["metrics"])
    return outcome


def _still_current(record: dict, entry: DemoRun, fingerprint: str) -> bool:
    """Whether an earlier demo's record is what running the baseline now would give: same corpus, same protocol
    file, same model class and version (a baseline's version changes whenever its results do)."""
    from mebench.models import resolve_model
    from mebench.protocol import load_protocol

    model = record.get("submission", {}).get("model", {})
    current = resolve_model(entry.model)
    return (record.get("corpus", {}).get("fingerprint") == fingerprint
            and record.get("protocol", {}).get("sha256") == load_protocol(entry.protocol).sha256
            and model.get("class") == current.path
            and str(model.get("version")) == str(getattr(current.cls, "version", "")))


def _headline(metrics: dict) -> str:
    if "uf1" in metrics:
        return f"UF1 {metrics['uf1']:.3f}  UAR {metrics['uar']:.3f}"
    if "overall" in metrics:
        return f"F1 {metrics['overall']['f1']:.3f} (IoU>=0.5)"
    if "mean_iou" in metrics:
        return f"mean IoU {metrics['mean_iou']:.3f}  P(IoU>0.5) {metrics['p_iou_gt_0.5']:.3f}"
    if "f1" in metrics:
        return f"F1 {metrics['f1']:.3f}  accuracy {metrics['accuracy']:.3f}"
    return ""


def _summary(console: Console, outcomes: list[dict], corpus: Path, board: Path, out: Path, seconds: float) -> None:
    table = Table(title="SHADOW corpus results (synthetic data: for trying mebench, not for citing)")
    for column in ("baseline", "protocol", "result", "status"):
        table.add_column(column)
    for outcome in outcomes:
        table.add_row(outcome["model"], outcome["protocol"], _headline(outcome.get("metrics") or {}),
                      outcome["status"])
    console.print(table)
    console.print(f"tables:      {board / 'tables'}")
    console.print(f"site:        {board / 'site' / 'index.html'}")
    console.print(f"corpus card: {corpus / 'README.md'}")
    console.print(f"HF export:   {out / 'hf'}")
    console.print(f"done in {seconds / 60:.1f} min")
