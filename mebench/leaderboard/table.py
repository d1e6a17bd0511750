"""Leaderboard rows and the tables made of them: Markdown, LaTeX (booktabs) and CSV.

One ``Entry`` per row, whatever its origin: a record computed on the real datasets (section ``real``), a record on
the synthetic shadow corpus (``shadow``) or a number printed by a paper (``reported``). Sections are never mixed in a
table: every format writes one table per (protocol, section), and the section says what the numbers are.

Columns depend on the task (``TASK_COLUMNS``); the protocol's main metric carries its 95% bootstrap CI (persons
resampled) where the record has one. Percentile bootstrap intervals are not symmetric, so a cell shows the value and
its interval, ``0.8270 [0.7912, 0.8603]``, rather than a single +- half-width; CSV has separate low/high columns.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mebench.leaderboard.reported import ReportedRow, cite_short

__all__ = ["Column", "Entry", "SECTIONS", "SECTION_TITLES", "TASK_COLUMNS", "columns_for", "entry_from_record",
           "entry_from_reported", "extra_tables", "main_metric", "sort_entries", "to_csv", "to_latex", "to_markdown"]

SECTIONS = ("real", "shadow", "reported")
SECTION_TITLES = {
    "real": "Results on the real datasets (computed by mebench from the records in the results folder)",
    "shadow": "SHADOW corpus: synthetic data (mebench synth); not comparable with real-dataset results or papers",
    "reported": "Reported in papers: numbers printed by the papers, NOT reproduced by mebench",
}
SECTION_SHORT = {"real": "real datasets", "shadow": "SHADOW corpus (synthetic)", "reported": "reported in papers"}
KIND_LABELS = {"harness-run": "harness-run", "predictions": "self-reported predictions", "reported": "reported"}


@dataclass(frozen=True)
class Column:
    key: str                 # dotted path into `metrics`
    header: str
    integer: bool = False
    lower_is_better: bool = False


_SPOT = [Column("overall.f1", "F1 (overall)"), Column("overall.precision", "precision"),
         Column("overall.recall", "recall"), Column("micro.f1", "F1 micro"), Column("macro.f1", "F1 macro"),
         Column("overall.tp", "TP", True), Column("overall.fp", "FP", True), Column("overall.fn", "FN", True)]
TASK_COLUMNS: dict[str, list[Column]] = {
    "recognition": [Column("uf1", "UF1"), Column("uar", "UAR"), Column("accuracy", "accuracy")],
    "multilabel": [Column("f1", "F1 (mean over labels)"), Column("accuracy", "accuracy (mean over labels)")],
    "au-detection": [Column("f1", "F1 (mean over AUs)"), Column("accuracy", "accuracy (mean over AUs)")],
    "spotting": _SPOT,
    "emg-interval": [Column("mean_iou", "mean IoU"), Column("p_iou_gt_0.5", "P(IoU > 0.5)"),
                     Column("n_nan", "not detected", True, True), Column("onset_mae", "onset |err| (s)", False, True),
                     Column("onset_rmse", "onset RMSE (s)", False, True),
                     Column("offset_mae", "offset |err| (s)", False, True),
                     Column("offset_rmse", "offset RMSE (s)", False, True)],
}
LOWER_IS_BETTER = {"n_nan", "onset_mae", "onset_se", "onset_rmse", "offset_mae", "offset_se", "offset_rmse"}


def columns_for(task: str) -> list[Column]:
    return TASK_COLUMNS.get(task, TASK_COLUMNS["recognition"])


def lookup(metrics: dict[str, Any] | None, key: str) -> Any:
    """metrics['a']['b'] for 'a.b'; keys may hold dots themselves ('metrics_at_iou.0.4.overall.f1')."""
    value: Any = metrics or {}
    parts = key.split(".")
    while parts:
        if not isinstance(value, dict):
            return None
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in value:
                value, parts = value[head], parts[i:]
                break
        else:
            return None
    return value


@dataclass
class Entry:
    """One leaderboard row."""

    section: str                      # real | shadow | reported
    protocol: str
    task: str
    row_id: str                       # record file stem or reported row id
    name: str                         # submission name / method
    kind: str                         # harness-run | predictions | reported
    metrics: dict[str, Any]
    ci: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    fingerprint: str | None = None
    datasets: list[str] = field(default_factory=list)
    protocol_version: str | None = None
    protocol_sha256: str | None = None
    created: str | None = None
    verified: bool | None = None
    problems: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    record_path: Path | None = None
    predictions_path: Path | None = None
    reported: ReportedRow | None = None
    rank: int | None = None

    @property
    def fp_short(self) -> str:
        return (self.fingerprint or "")[:12]

    @property
    def data_label(self) -> str:
        return {"real": "real", "shadow": "SHADOW", "reported": "real (paper's copy)"}[self.section]

    def value(self, key: str) -> Any:
        return lookup(self.metrics, key)

    def text(self, key: str, integer: bool = False) -> str:
        """The value as shown: a reported number with the paper's own digits, a computed one with 4 decimals."""
        if self.reported is not None:
            shown = (self.reported.get("shown") or {}).get(key)
            if shown is not None:
                return str(shown)
        return fmt(self.value(key), integer)

    def interval(self, key: str) -> tuple[float, float] | None:
        ci = (self.ci or {}).get(key)
        if isinstance(ci, dict) and ci.get("low") is not None and ci.get("high") is not None:
            return float(ci["low"]), float(ci["high"])
        return None

    def source(self) -> str:
        if self.reported is not None:
            return cite_short(self.reported.citation)
        return self.record_path.name if self.record_path else ""


def main_metric(protocol_id: str, task: str) -> str:
    try:
        from mebench.protocol import load_protocol, protocol_ids

        if protocol_id in protocol_ids():
            return load_protocol(protocol_id).metrics.main
    except Exception:  # noqa: BLE001 - a broken spec must not stop the tables; fall back to the task default
        pass
    return {"recognition": "uf1", "multilabel": "f1", "au-detection": "f1", "spotting": "overall.f1",
            "emg-interval": "mean_iou"}.get(task, "uf1")


def model_label(model: Any) -> str | None:
    """The model as a table shows it: a harness-run record's model is a dict (name, version, class, params...)."""
    if model is None or model == "":
        return None
    if isinstance(model, dict):
        name = model.get("name") or model.get("class") or model.get("ref")
        version = model.get("version")
        return f"{name} v{version}" if name and version else (str(name) if name else None)
    return str(model)


def entry_from_record(record: dict[str, Any], *, row_id: str, record_path: Path | None = None,
                      predictions_path: Path | None = None, verified: bool | None = None,
                      problems: Iterable[str] = ()) -> Entry:
    submission = record["submission"]
    details = record.get("details") or {}
    return Entry(
        section="shadow" if record["corpus"].get("shadow") else "real",
        protocol=str(record["protocol"]["id"]),
        task=str(details.get("task") or _task_of(record)),
        row_id=row_id,
        name=str(submission.get("name")),
        kind=str(submission.get("kind")),
        metrics=record.get("metrics") or {},
        ci=record.get("ci") or {},
        model=model_label(submission.get("model")),
        fingerprint=record["corpus"].get("fingerprint"),
        datasets=list(record["corpus"].get("datasets") or []),
        protocol_version=str(record["protocol"].get("version")),
        protocol_sha256=record["protocol"].get("sha256"),
        created=record.get("created"),
        verified=verified,
        problems=list(problems),
        record=record,
        record_path=record_path,
        predictions_path=predictions_path,
    )


def _task_of(record: dict[str, Any]) -> str:
    metrics = record.get("metrics") or {}
    if "overall" in metrics:
        return "spotting"
    if "mean_iou" in metrics:
        return "emg-interval"
    if "per_label" in metrics:
        return "multilabel"
    try:
        from mebench.protocol import load_protocol, protocol_ids

        if record["protocol"]["id"] in protocol_ids():
            return load_protocol(record["protocol"]["id"]).task
    except Exception:  # noqa: BLE001
        pass
    return "recognition"


def entry_from_reported(row: ReportedRow) -> Entry:
    return Entry(section="reported", protocol=row.protocol, task=row["task"], row_id=row.id, name=row["method"],
                 kind="reported", metrics=row["metrics"], datasets=list(row["corpus"].get("datasets") or []),
                 reported=row)


def sort_entries(entries: list[Entry], main: str) -> list[Entry]:
    """Best first by the main metric (missing values last; ties by name), ranks 1..n set on the entries."""
    lower = main.split(".")[-1] in LOWER_IS_BETTER

    def key(e: Entry) -> tuple:
        v = e.value(main)
        if not isinstance(v, (int, float)):
            return (1, 0.0, e.name, e.row_id)
        return (0, float(v) if lower else -float(v), e.name, e.row_id)

    out = sorted(entries, key=key)
    for i, e in enumerate(out, 1):
        e.rank = i
    return out


# ------------------------------------------------------------------------------------------------------ cells


def fmt(value: Any, integer: bool = False, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if integer or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            return str(int(value))
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def metric_cell(entry: Entry, column: Column, main: str) -> str:
    text = entry.text(column.key, column.integer)
    if column.key == main and entry.interval(main) is not None:
        low, high = entry.interval(main)  # type: ignore[misc]
        text += f" [{low:.4f}, {high:.4f}]"
    return text


def header_for(column: Column, main: str, has_ci: bool) -> str:
    text = column.header
    if column.key == main:
        text += " (95% CI)" if has_ci else ""
        text += " *"
    return text


def common_headers(section: str) -> list[str]:
    if section == "reported":
        return ["#", "method", "kind"]
    return ["#", "submission", "kind", "model"]


def tail_headers(section: str) -> list[str]:
    if section == "reported":
        return ["protocol match", "measured on", "source"]
    return ["corpus", "data", "protocol", "verified", "record"]


def row_cells(entry: Entry, columns: list[Column], main: str) -> list[str]:
    cells = [str(entry.rank or ""), entry.name, KIND_LABELS.get(entry.kind, entry.kind)]
    if entry.section != "reported":
        cells.append(entry.model or "-")
    cells += [metric_cell(entry, c, main) for c in columns]
    if entry.section == "reported":
        row = entry.reported
        assert row is not None
        cells += [str(row["protocol_match"]), str(row["corpus"].get("version")), entry.source()]
    else:
        cells += [entry.fp_short, entry.data_label,
                  f"v{entry.protocol_version} {str(entry.protocol_sha256 or '')[:8]}",
                  "yes" if entry.verified else ("NO: " + "; ".join(entry.problems) if entry.verified is False
                                                else "-"),
                  entry.source()]
    return cells


def extra_tables(task: str, entries: list[Entry]) -> list[tuple[str, str, list[str], list[list[tuple[Any, str]]]]]:
    """Second tables: per-label scores (multi-label, AU) and spotting at other IoU thresholds.

    Returns (title, id suffix, headers, rows of (sort value, text) cells); the first cell of a row is its name."""
    out = []
    if task in ("multilabel", "au-detection"):
        labels: list[str] = []
        for e in entries:
            for label in (e.metrics.get("per_label") or {}):
                if label not in labels:
                    labels.append(label)
        if labels:
            rows = []
            for e in entries:
                cells: list[tuple[Any, str]] = [(e.name, e.name)]
                for label in labels:
                    f1 = e.value(f"per_label.{label}.f1")
                    acc = e.value(f"per_label.{label}.accuracy")
                    text = (f"{e.text(f'per_label.{label}.f1')} / {e.text(f'per_label.{label}.accuracy')}"
                            if (f1 is not None or acc is not None) else "-")
                    cells.append((f1, text))
                rows.append(cells)
            out.append(("Per label: F1 / accuracy", "labels", ["method" if entries[0].section == "reported"
                                                               else "submission"] + labels, rows))
    if task == "spotting":
        ks: list[str] = []
        for e in entries:
            if e.record is not None:
                iou = (e.record.get("details") or {}).get("iou")
                if iou is not None and f"{float(iou):g}" not in ks:
                    ks.append(f"{float(iou):g}")
            elif "0.5" not in ks:
                ks.append("0.5")
            for k in (e.metrics.get("metrics_at_iou") or {}):
                if k not in ks:
                    ks.append(k)
        if len(ks) > 1:
            rows = []
            for e in entries:
                cells = [(e.name, e.name)]
                for k in ks:
                    base = "" if k == ks[0] else f"metrics_at_iou.{k}."
                    f1 = e.value(f"{base}overall.f1")
                    text = "-" if f1 is None else (f"{e.text(base + 'overall.f1')} (P "
                                                   f"{e.text(base + 'overall.precision')}, "
                                                   f"R {e.text(base + 'overall.recall')})")
                    cells.append((f1, text))
                rows.append(cells)
            out.append(("Overall F1 (precision, recall) at each IoU threshold k", "iou",
                        ["method" if entries[0].section == "reported" else "submission"]
                        + [f"IoU >= {k}" for k in ks], rows))
    return out


# ------------------------------------------------------------------------------------------------------ Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(entries: list[Entry], section: str, task: str, main: str) -> list[str]:
    columns = columns_for(task)
    has_ci = any(e.interval(main) for e in entries)
    headers = common_headers(section) + [header_for(c, main, has_ci) for c in columns] + tail_headers(section)
    lines = ["| " + " | ".join(_md_escape(h) for h in headers) + " |",
             "|" + "|".join("---:" if i == 0 else "---" for i in range(len(headers))) + "|"]
    for e in entries:
        lines.append("| " + " | ".join(_md_escape(c) for c in row_cells(e, columns, main)) + " |")
    return lines


def to_markdown(protocol: dict[str, Any], sections: dict[str, list[Entry]]) -> str:
    """The protocol's leaderboard in Markdown: one table per non-empty section, reported rows with their notes."""
    pid, task, main = protocol["id"], protocol["task"], protocol["main"]
    lines = [f"# {pid}", ""]
    if protocol.get("title"):
        lines += [protocol["title"], ""]
    lines += [f"Protocol `{pid}` v{protocol.get('version')} (spec sha256 `{str(protocol.get('sha256'))[:12]}`), task "
              f"{task}; `*` = main metric `{main}`, computed on the predictions pooled over all folds; 95% CI = "
              "percentile bootstrap resampling persons (where the record has one).", ""]
    for section in SECTIONS:
        entries = sections.get(section) or []
        lines += [f"## {SECTION_TITLES[section]}", ""]
        if not entries:
            lines += ["(none)", ""]
            continue
        lines += markdown_table(entries, section, task, main) + [""]
        for title, _, headers, rows in extra_tables(task, entries):
            lines += [f"{title}:", "", "| " + " | ".join(_md_escape(h) for h in headers) + " |",
                      "|" + "|".join("---" for _ in headers) + "|"]
            lines += ["| " + " | ".join(_md_escape(str(text)) for _, text in cells) + " |" for cells in rows]
            lines.append("")
        if section == "reported":
            lines += ["Notes on the reported rows:", ""]
            for e in entries:
                row = e.reported
                assert row is not None
                notes = [row["protocol_note"]] + row.notes
                if row.get("method_source"):
                    notes.insert(0, f"Method: {row['method_source']}")
                lines.append(f"- **{_md_escape(e.name)}** ({_md_escape(cite_short(row.citation))}): "
                             + " ".join(_md_escape(n) for n in notes))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------------------------------------------ LaTeX

_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def to_latex(protocol: dict[str, Any], section: str, entries: list[Entry]) -> str:
    """One booktabs table (needs \\usepackage{booktabs}) for one section of one protocol."""
    task, main = protocol["task"], protocol["main"]
    columns = columns_for(task)
    has_ci = any(e.interval(main) for e in entries)
    headers = common_headers(section) + [header_for(c, main, has_ci) for c in columns]
    if section == "reported":
        headers += ["source"]
    else:
        headers += ["corpus", "data"]
    align = "r" + "l" * (len(common_headers(section)) - 1) + "r" * len(columns) + "l" * (
        len(headers) - len(common_headers(section)) - len(columns))
    what = {"real": "results on the real datasets, computed by mebench",
            "shadow": "SHADOW corpus (synthetic data), not comparable with real-dataset results",
            "reported": "numbers REPORTED in papers, not reproduced by mebench"}[section]
    caption = (f"{tex_escape(protocol['id'])}: {what}. * main metric ({tex_escape(main)}), pooled over folds"
               + ("; 95\\% CI by bootstrap over persons" if has_ci else "") + ".")
    lines = [f"% generated by mebench leaderboard build; protocol {protocol['id']} v{protocol.get('version')} "
             f"sha256 {protocol.get('sha256')}; section {section}",
             "\\begin{table}[t]", "\\centering", "\\small", f"\\caption{{{caption}}}",
             f"\\label{{tab:{protocol['id']}-{section}}}", f"\\begin{{tabular}}{{{align}}}", "\\toprule",
             " & ".join(tex_escape(h) for h in headers) + " \\\\", "\\midrule"]
    for e in entries:
        cells = [str(e.rank or ""), e.name, KIND_LABELS.get(e.kind, e.kind)]
        if section != "reported":
            cells.append(e.model or "-")
        cells += [metric_cell(e, c, main) for c in columns]
        if section == "reported":
            cells.append(e.source())
        else:
            cells += [e.fp_short, e.data_label]
        lines.append(" & ".join(tex_escape(c) for c in cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------ CSV


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list):
        out[prefix] = "+".join(str(v) for v in value)
    else:
        out[prefix] = value
    return out


def to_csv(protocol: dict[str, Any], section: str, entries: list[Entry]) -> str:
    """Every metric of every row (flattened, dotted keys), CI bounds, provenance: for machines."""
    main = protocol["main"]
    metric_keys: list[str] = []
    for e in entries:
        for k in flatten(e.metrics):
            if k not in metric_keys:
                metric_keys.append(k)
    base = ["section", "rank", "protocol", "name", "kind", "model", f"{main}_ci_low", f"{main}_ci_high",
            "ci_level", "data", "corpus_fingerprint", "datasets", "protocol_version", "protocol_sha256", "verified",
            "record", "created"]
    if section == "reported":
        base = ["section", "rank", "protocol", "name", "kind", "protocol_match", "measured_on", "citation", "table",
                "doi", "row_id"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(base + [f"metric.{k}" for k in metric_keys])
    for e in entries:
        flat = flatten(e.metrics)
        if section == "reported":
            row = e.reported
            assert row is not None
            cells = [section, e.rank, e.protocol, e.name, "reported", row["protocol_match"],
                     row["corpus"].get("version"), cite_short(row.citation, table=False),
                     row.citation.get("table"), row.citation.get("doi"), e.row_id]
        else:
            interval = e.interval(main)
            level = ((e.ci or {}).get(main) or {}).get("level")
            cells = [section, e.rank, e.protocol, e.name, e.kind, e.model,
                     interval[0] if interval else None, interval[1] if interval else None, level,
                     "shadow" if section == "shadow" else "real", e.fingerprint, "+".join(e.datasets),
                     e.protocol_version, e.protocol_sha256, e.verified,
                     e.record_path.name if e.record_path else None, e.created]
        writer.writerow(["" if c is None else c for c in cells]
                        + ["" if flat.get(k) is None else flat.get(k) for k in metric_keys])
    return buffer.getvalue()
