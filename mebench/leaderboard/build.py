"""`mebench leaderboard build`: records + reported rows -> per-protocol Markdown, LaTeX, CSV tables and the site.

Output layout (``--out DIR``, default ``leaderboards/``)::

    DIR/index.md                                   every protocol, row counts, best row per section
    DIR/tables/<protocol>.md                       all sections of one protocol, each its own table
    DIR/tables/<protocol>.<section>.tex|.csv       one booktabs table / CSV per non-empty section
    DIR/site/index.html, DIR/site/<protocol>.html  the static site; DIR/site/assets/ (CSS, JS), DIR/site/figures/

Sections: ``real`` (records on the real datasets), ``shadow`` (records on the synthetic shadow corpus) and
``reported`` (numbers printed by papers); they never share a table. ``tables/``, ``site/`` and ``index.md`` are
written into a temporary folder and then swapped in, so a failed build leaves the previous output intact and a
rebuild leaves no stale page behind. Everything else in DIR (README.md, results/) is left alone.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mebench.errors import InputError
from mebench.leaderboard.figures import RenderedFigure, render_figures
from mebench.leaderboard.records import find_records, verify_record
from mebench.leaderboard.reported import cite_full, load_reported, reported_papers
from mebench.leaderboard.site import copy_assets, index_page, protocol_page
from mebench.leaderboard.table import (SECTION_SHORT, SECTIONS, Entry, entry_from_record, entry_from_reported,
                                       fmt, main_metric, sort_entries, to_csv, to_latex, to_markdown)

__all__ = ["BuildSummary", "build_leaderboard", "collect"]

OUTPUTS = ("tables", "site", "index.md")


@dataclass
class BuildSummary:
    out: Path
    protocols: dict[str, dict[str, int]] = field(default_factory=dict)
    records: int = 0
    reported: int = 0
    unverified: list[str] = field(default_factory=list)
    figures: int = 0

    @property
    def site(self) -> Path:
        return self.out / "site"


def _protocol_info(pid: str, entries: list[Entry]) -> dict[str, Any]:
    from mebench.protocol import load_protocol, protocol_ids

    task = entries[0].task if entries else "recognition"
    info: dict[str, Any] = {"id": pid, "task": task, "title": None, "version": None, "sha256": None,
                            "shipped": pid in protocol_ids(), "datasets": []}
    if info["shipped"]:
        spec = load_protocol(pid)
        info.update(task=spec.task, title=spec.title, version=spec.version, sha256=spec.sha256,
                    datasets=list(spec.datasets))
    else:
        record = next((e for e in entries if e.record is not None), None)
        if record is not None:
            info.update(version=record.protocol_version, sha256=record.protocol_sha256)
    info["main"] = main_metric(pid, info["task"])
    return info


def collect(results: str | Path | None, *, reported: bool = True) -> dict[str, dict[str, list[Entry]]]:
    """protocol id -> section -> entries (sorted, ranked), from the records in `results` and the reported rows."""
    grouped: dict[str, dict[str, list[Entry]]] = {}
    if results is not None:
        for rf in find_records(results):
            check = verify_record(rf)
            entry = entry_from_record(rf.record, row_id=rf.id, record_path=rf.path,
                                      predictions_path=rf.predictions_path, verified=check.ok,
                                      problems=check.problems)
            grouped.setdefault(entry.protocol, {}).setdefault(entry.section, []).append(entry)
    if reported:
        for row in load_reported():
            entry = entry_from_reported(row)
            grouped.setdefault(entry.protocol, {}).setdefault("reported", []).append(entry)
    return grouped


def _ordered_ids(grouped: dict[str, Any]) -> list[str]:
    from mebench.protocol import protocol_ids

    shipped = protocol_ids()
    return shipped + sorted(p for p in grouped if p not in shipped)


def build_leaderboard(results: str | Path | None, out: str | Path, *, reported: bool = True,
                      figures: bool = True) -> BuildSummary:
    """Render every protocol's tables and the site from `results` (a folder of records; None: reported rows only)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", file=out)
    if not out.parent.exists():
        raise InputError("the parent folder of --out does not exist", file=out.parent)
    grouped = collect(results, reported=reported)
    out.mkdir(exist_ok=True)
    summary = BuildSummary(out)
    tmp = Path(tempfile.mkdtemp(prefix=".leaderboard-build-", dir=out))
    try:
        _render(grouped, tmp, summary, figures)
        for name in OUTPUTS:
            target, fresh = out / name, tmp / name
            if target.is_dir():
                old = tmp / f".old-{name}"
                target.rename(old)
            elif target.exists():
                target.unlink()
            fresh.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _render(grouped: dict[str, dict[str, list[Entry]]], root: Path, summary: BuildSummary, figures: bool) -> None:
    tables, site = root / "tables", root / "site"
    tables.mkdir()
    site.mkdir()
    copy_assets(site)
    index_rows: list[dict[str, Any]] = []
    for pid in _ordered_ids(grouped):
        sections = grouped.get(pid, {})
        all_entries = [e for s in SECTIONS for e in sections.get(s, [])]
        info = _protocol_info(pid, all_entries)
        for section in SECTIONS:
            if section in sections:
                sections[section] = sort_entries(sections[section], info["main"])
        counts = {s: len(sections.get(s) or []) for s in SECTIONS}
        summary.protocols[pid] = counts
        summary.records += counts["real"] + counts["shadow"]
        summary.reported += counts["reported"]
        summary.unverified += [e.row_id for e in all_entries if e.verified is False]
        page = f"{pid}.html" if all_entries else None
        index_rows.append({**info, "sections": sections, "page": page})
        if not all_entries:
            continue
        (tables / f"{pid}.md").write_text(to_markdown(info, sections), encoding="utf-8")
        for section in SECTIONS:
            entries = sections.get(section) or []
            if entries:
                (tables / f"{pid}.{section}.tex").write_text(to_latex(info, section, entries), encoding="utf-8")
                (tables / f"{pid}.{section}.csv").write_text(to_csv(info, section, entries), encoding="utf-8")
        rendered: dict[str, list[RenderedFigure]] = {}
        if figures:
            for e in all_entries:
                if e.record is not None:
                    rendered[e.row_id] = render_figures(e.record, site / "figures", e.row_id, e.predictions_path)
                    summary.figures += sum(1 for f in rendered[e.row_id] if f.path is not None)
        (site / page).write_text(protocol_page(info, sections, rendered, site), encoding="utf-8")
    papers = []
    rows = load_reported() if summary.reported else []
    for name, paper in reported_papers().items():
        n = sum(1 for r in rows if r.file == name)
        if n:
            papers.append((paper["paper"], n))
    (site / "index.html").write_text(index_page(index_rows, papers, len(summary.unverified)), encoding="utf-8")
    (root / "index.md").write_text(_index_markdown(index_rows, papers, summary), encoding="utf-8")


def _index_markdown(rows: list[dict[str, Any]], papers: list[tuple[dict[str, Any], int]],
                    summary: BuildSummary) -> str:
    lines = ["# mebench leaderboards", "",
             "Generated by `mebench leaderboard build`; do not edit by hand. Per protocol: `tables/<protocol>.md` "
             "(all sections), `tables/<protocol>.<section>.tex` (booktabs) and `.csv`; the site is `site/index.html`.",
             "", "Sections are never mixed: **real** = records computed by mebench on the real datasets; "
             "**SHADOW** = records on the synthetic shadow corpus (not comparable); **reported** = numbers printed "
             "by papers, not reproduced.", ""]
    if summary.unverified:
        lines += [f"**{len(summary.unverified)} record(s) failed verification**: "
                  + ", ".join(f"`{r}`" for r in summary.unverified) + " (run `mebench leaderboard verify`).", ""]
    lines += ["| protocol | task | main metric | real | best real | shadow | best shadow | reported | best reported |",
              "|---|---|---|---:|---|---:|---|---:|---|"]
    for p in rows:
        name = f"[{p['id']}](tables/{p['id']}.md)" if p.get("page") else p["id"]
        cells = [name, p["task"], f"`{p['main']}`"]
        for section in SECTIONS:
            entries = p["sections"].get(section) or []
            cells.append(str(len(entries)))
            best = entries[0] if entries else None
            value = best.value(p["main"]) if best else None
            cells.append("-" if best is None else f"{fmt(value)} ({best.name})".replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    if papers:
        lines += ["", "## Papers with reported rows", ""]
        lines += [f"- {cite_full(c)} ({n} rows)" for c, n in papers]
    lines += ["", "Section labels: " + "; ".join(f"{s} = {SECTION_SHORT[s]}" for s in SECTIONS) + "."]
    return "\n".join(lines) + "\n"
