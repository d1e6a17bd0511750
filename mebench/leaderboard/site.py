"""The static HTML site: index.html + one page per protocol, sortable tables (assets/sort.js), figures as PNG.

Pages are plain HTML written from Python (``html.escape`` on every value) into ``templates/page.html``; there is no
external resource (no CDN, no web font), so the site works from a file:// URL and offline.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Iterable

import mebench
from mebench.leaderboard.figures import RenderedFigure
from mebench.leaderboard.reported import cite_full, cite_short
from mebench.leaderboard.table import (KIND_LABELS, SECTION_SHORT, SECTION_TITLES, SECTIONS, Column, Entry,
                                       columns_for, extra_tables, fmt, header_for)

__all__ = ["copy_assets", "index_page", "protocol_page"]

ASSETS = ("style.css", "sort.js")


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _template() -> Template:
    return Template(resources.files("mebench.leaderboard").joinpath("templates/page.html").read_text("utf-8"))


def page(title: str, body: str, crumb: str = "") -> str:
    return _template().substitute(title=esc(title), body=body, crumb=crumb, version=esc(mebench.__version__))


def copy_assets(site: Path) -> None:
    folder = site / "assets"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        data = resources.files("mebench.leaderboard").joinpath(f"templates/{name}").read_bytes()
        (folder / name).write_bytes(data)


def _num_td(value: Any, text: str | None = None, extra: str = "") -> str:
    sort = "" if not isinstance(value, (int, float)) or isinstance(value, bool) else f' data-sort-value="{value!r}"'
    return f'<td class="num"{sort}>{text if text is not None else esc(fmt(value))}{extra}</td>'


def _metric_td(entry: Entry, column: Column, main: str) -> str:
    value = entry.value(column.key)
    extra = ""
    if column.key == main and entry.interval(main) is not None:
        low, high = entry.interval(main)  # type: ignore[misc]
        extra = f' <span class="ci">[{low:.4f}, {high:.4f}]</span>'
    return _num_td(value, esc(entry.text(column.key, column.integer)), extra)


def _th(label: str, key: str | None = None, numeric: bool = False) -> str:
    attrs = ""
    if key:
        attrs += f' data-key="{esc(key)}"'
    if numeric:
        attrs += ' data-type="num"'
    return f"<th{attrs}>{esc(label)}</th>"


def main_table(table_id: str, entries: list[Entry], section: str, task: str, main: str) -> str:
    columns = columns_for(task)
    has_ci = any(e.interval(main) for e in entries)
    lower = any(c.key == main and c.lower_is_better for c in columns)
    heads = [_th("#", "rank", True), _th("method" if section == "reported" else "submission", "name"),
             _th("kind", "kind")]
    if section != "reported":
        heads.append(_th("model", "model"))
    heads += [_th(header_for(c, main, has_ci), c.key, True) for c in columns]
    if section == "reported":
        heads += [_th("protocol match", "match"), _th("measured on", "measured"), _th("source", "source")]
    else:
        heads += [_th("corpus", "corpus"), _th("data", "data"), _th("protocol spec", "spec"),
                  _th("verified", "verified"), _th("record", "record")]
    rows = []
    for e in entries:
        cells = [_num_td(e.rank), f"<td>{esc(e.name)}</td>",
                 f'<td><span class="badge {"reported" if e.kind == "reported" else ""}">'
                 f"{esc(KIND_LABELS.get(e.kind, e.kind))}</span></td>"]
        if section != "reported":
            cells.append(f"<td>{esc(e.model or '-')}</td>")
        cells += [_metric_td(e, c, main) for c in columns]
        if section == "reported":
            row = e.reported
            assert row is not None
            cells += [f'<td title="{esc(row["protocol_note"])}">{esc(row["protocol_match"])}</td>',
                      f"<td>{esc(row['corpus'].get('version'))}</td>",
                      f'<td><a href="#cite-{esc(_paper_key(row.citation))}">{esc(cite_short(row.citation))}</a>'
                      "</td>"]
        else:
            badge = "shadow" if section == "shadow" else "real"
            verified = ('<span class="badge real">yes</span>' if e.verified else
                        f'<span class="badge bad" title="{esc("; ".join(e.problems))}">NO</span> '
                        f'<span class="ci">{esc("; ".join(e.problems))}</span>' if e.verified is False else "-")
            cells += [f'<td title="{esc(e.fingerprint)}"><code>{esc(e.fp_short)}</code></td>',
                      f'<td><span class="badge {badge}">{esc(e.data_label)}</span></td>',
                      f'<td title="sha256 {esc(e.protocol_sha256)}">v{esc(e.protocol_version)} '
                      f"<code>{esc(str(e.protocol_sha256 or '')[:8])}</code></td>",
                      f"<td>{verified}</td>",
                      f"<td><code>{esc(e.record_path.name if e.record_path else '')}</code></td>"]
        rows.append(f'<tr data-row-id="{esc(e.row_id)}" data-section="{esc(section)}">' + "".join(cells) + "</tr>")
    default = f"{main}:{'asc' if lower else 'desc'}"
    return (f'<div class="scroll"><table class="sortable leaderboard" id="{esc(table_id)}" '
            f'data-section="{esc(section)}" data-sort-default="{esc(default)}">'
            f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _extra_html(table_id: str, headers: list[str], rows: list[list[tuple[Any, str]]]) -> str:
    heads = [_th(headers[0], "name")] + [_th(h, f"c{i}", True) for i, h in enumerate(headers[1:], 1)]
    body = []
    for cells in rows:
        tds = [f"<td>{esc(cells[0][1])}</td>"] + [_num_td(v, esc(t)) for v, t in cells[1:]]
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<div class="scroll"><table class="sortable" id="{esc(table_id)}"><thead><tr>{"".join(heads)}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _paper_key(citation: dict[str, Any]) -> str:
    return f"seed{citation.get('seed', '')}" if citation.get("seed") else "".join(
        ch for ch in str(citation.get("title", "")).lower() if ch.isalnum())[:24]


def _figures_html(figures: dict[str, list[RenderedFigure]], entries: list[Entry], site: Path) -> str:
    parts = []
    for e in entries:
        rendered = figures.get(e.row_id) or []
        if not rendered:
            continue
        parts.append(f"<h3>{esc(e.name)} <span class=\"meta\">({esc(e.row_id)})</span></h3>")
        for fig in rendered:
            if fig.path is None:
                parts.append(f'<p class="meta">{esc(fig.title)}: {esc(fig.note)}</p>')
                continue
            rel = fig.path.relative_to(site).as_posix()
            caption = esc(fig.title) + (f" &mdash; {esc(fig.note)}" if fig.note else "")
            parts.append(f'<figure data-kind="{esc(fig.kind)}"><img src="{esc(rel)}" alt="{esc(fig.title)} for '
                         f'{esc(e.name)}" loading="lazy"><figcaption>{caption}</figcaption></figure>')
    if not parts:
        return ""
    return "<h3>Figures</h3>" + "".join(parts)


BANNERS = {
    "real": "",
    "shadow": '<p class="banner shadow"><strong>SHADOW corpus.</strong> These records were computed on synthetic '
              "data written by <code>mebench synth</code>. They check that a pipeline runs and scores well above "
              "chance where the ground truth is known; they say nothing about real micro-expressions and are "
              "never comparable with the real-dataset table or with papers.</p>",
    "reported": '<p class="banner reported"><strong>Reported, not reproduced.</strong> Numbers as printed in the '
                "papers cited (measured by their authors, or quoted by them from other papers), on their copy of "
                "the dataset, with their folds and code. mebench has not reproduced them. Where the paper's "
                "protocol differs from this protocol, the row says so (protocol match 'closest', note below).</p>",
}


def protocol_page(protocol: dict[str, Any], sections: dict[str, list[Entry]],
                  figures: dict[str, list[RenderedFigure]], site: Path) -> str:
    pid, task, main = protocol["id"], protocol["task"], protocol["main"]
    body = [f"<h1>{esc(pid)}</h1>"]
    if protocol.get("title"):
        body.append(f"<p>{esc(protocol['title'])}</p>")
    meta = (f"Protocol <code>{esc(pid)}</code> v{esc(protocol.get('version'))}, spec sha256 "
            f"<code>{esc(protocol.get('sha256'))}</code>; task {esc(task)}; main metric <code>{esc(main)}</code> "
            "(marked *), computed on the predictions pooled over all folds; 95% CI = percentile bootstrap "
            "resampling persons, where the record has one.")
    if not protocol.get("shipped", True):
        meta += " <strong>Not a shipped protocol:</strong> its spec could not be checked."
    body.append(f'<p class="meta">{meta}</p>')
    counts = ", ".join(f'<a href="#{s}">{esc(SECTION_SHORT[s])}: {len(sections.get(s) or [])}</a>' for s in SECTIONS)
    body.append(f'<p class="meta">Rows: {counts}.</p>')
    for section in SECTIONS:
        entries = sections.get(section) or []
        body.append(f'<section id="{section}" class="section-{section}">')
        body.append(f"<h2>{esc(SECTION_TITLES[section])}</h2>")
        body.append(BANNERS[section])
        if not entries:
            body.append('<p class="meta">(none)</p></section>')
            continue
        body.append(main_table(f"{pid}-{section}", entries, section, task, main))
        for title, suffix, headers, rows in extra_tables(task, entries):
            body.append(f"<h3>{esc(title)}</h3>")
            body.append(_extra_html(f"{pid}-{section}-{suffix}", headers, rows))
        if section != "reported":
            body.append(_figures_html(figures, entries, site))
        else:
            body.append(_reported_notes(entries))
        body.append("</section>")
    return page(f"{pid} - mebench leaderboard", "\n".join(body), f" &rsaquo; {esc(pid)}")


def _reported_notes(entries: list[Entry]) -> str:
    items = []
    papers: dict[str, dict[str, Any]] = {}
    for e in entries:
        row = e.reported
        assert row is not None
        papers.setdefault(_paper_key(row.citation), row.citation)
        notes = []
        if row.get("method_source"):
            notes.append(f"Method: {row['method_source']}.")
        notes.append(f"Protocol ({row['protocol_match']}): {row['protocol_note']}")
        notes += row.notes
        items.append(f"<li><strong>{esc(e.name)}</strong> ({esc(cite_short(row.citation))}): "
                     + " ".join(esc(n) for n in notes) + "</li>")
    cites = [f'<li id="cite-{esc(k)}">{esc(cite_full(c))}</li>' for k, c in papers.items()]
    return ("<h3>Notes on the reported rows</h3><ul class=\"notes\">" + "".join(items) + "</ul>"
            "<h3>Citations</h3><ul class=\"notes citations\">" + "".join(cites) + "</ul>")


def index_page(protocols: list[dict[str, Any]], papers: Iterable[tuple[dict[str, Any], int]],
               unverified: int) -> str:
    body = ["<h1>mebench leaderboards</h1>",
            '<p class="meta">One page per protocol. Each page keeps three kinds of rows apart: '
            '<span class="badge real">real</span> records computed by mebench on the real datasets, '
            '<span class="badge shadow">SHADOW</span> records on the synthetic shadow corpus (never comparable with '
            'real results), and <span class="badge reported">reported</span> numbers printed by papers (not '
            "reproduced). Sort any table by clicking a column header.</p>"]
    if unverified:
        body.append(f'<p class="banner shadow"><strong>{unverified} record(s) failed verification</strong> '
                    "(altered record, predictions file or protocol spec): they are marked NO in the verified "
                    "column. Run <code>mebench leaderboard verify</code>.</p>")
    heads = [_th("protocol", "protocol"), _th("task", "task"), _th("real rows", "real", True),
             _th("best real (main metric)", "best_real", True), _th("shadow rows", "shadow", True),
             _th("best shadow", "best_shadow", True), _th("reported rows", "reported", True),
             _th("best reported", "best_reported", True)]
    rows = []
    for p in protocols:
        link = f'<a href="{esc(p["page"])}">{esc(p["id"])}</a>' if p.get("page") else esc(p["id"])
        cells = [f"<td class=\"pid\">{link}<br><span class=\"meta\">{esc(p.get('title') or '')}</span></td>",
                 f"<td>{esc(p['task'])}</td>"]
        for section in SECTIONS:
            entries = p["sections"].get(section) or []
            cells.append(_num_td(len(entries)))
            best = entries[0] if entries else None
            value = best.value(p["main"]) if best else None
            if best is None or value is None:
                cells.append('<td class="best">-</td>')
            else:
                cells.append(f'<td class="best" data-sort-value="{value!r}">{esc(best.text(p["main"]))}<br>'
                             f'<span class="ci">{esc(best.name)}</span></td>')
        rows.append(f'<tr data-row-id="{esc(p["id"])}">' + "".join(cells) + "</tr>")
    body.append('<div class="scroll"><table class="sortable" id="protocols" data-sort-default="protocol:asc">'
                f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    plist = "".join(f"<li>{esc(cite_full(c))} &mdash; {n} reported row(s)</li>" for c, n in papers)
    body.append("<h2>Papers with reported rows</h2>"
                "<p class=\"meta\">Transcribed cell by cell from the printed tables into "
                "<code>mebench/leaderboard/reported/*.json</code>; each row says which mebench protocol it "
                "corresponds to and how the paper's protocol differs.</p>"
                f'<ul class="notes">{plist}</ul>')
    return page("mebench leaderboards", "\n".join(body))
