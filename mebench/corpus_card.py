"""The card of a built corpus: ``render_corpus_card(corpus_dir) -> str`` (Hugging Face card format).

A corpus is what every result cites by its fingerprint, so it gets its own card beside its files (``DIR/README.md``,
written by ``mebench card --corpus DIR`` and by the corpus build): YAML front matter (HF dataset-card keys plus a
``mebench`` block with the fingerprint, shadow flag, counts, errata and sources) and Markdown: counts by dataset,
expression type and label scheme; subjects and persons; the errata applied (with their reason and source, from the
errata table); the fingerprint; the sources with their sha256; whether it is the synthetic shadow corpus; and the
dataset cards shipped in ``mebench.cards`` for every dataset it holds (with their citations).

The card depends only on the corpus files (no clock, no absolute path of the reader), so the same corpus always gets
the same card.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from mebench.atomic import write_text_atomically
from mebench.corpus import CORPUS_FILE, REPORT_JSON, REPORT_MD, read_meta, read_samples

__all__ = ["CARD_FILE", "dataset_card", "render_corpus_card", "write_corpus_card"]

CARD_FILE = "README.md"
MAX_LISTED = 40  # sample ids listed per erratum


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, float) and value != value:
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def dataset_card(name: str) -> dict[str, Any] | None:
    """A shipped dataset card (``mebench.cards/<name>.md``): its front matter, citation section and package path."""
    entry = resources.files("mebench.cards").joinpath(f"{name}.md")
    if not entry.is_file():
        return None
    text = entry.read_text(encoding="utf-8")
    front: dict[str, Any] = {}
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if match:
        import yaml

        try:
            front = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError:
            front = {}
    citation = ""
    cm = re.search(r"^## Citation\s*\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if cm:
        citation = cm.group(1).strip()
    bibtex = "\n\n".join(b.strip() for b in re.findall(r"```bibtex\n(.*?)```", citation, re.S))
    return {"name": name, "resource": f"mebench.cards/{name}.md", "source": f"cards/{name}.md",
            "pretty_name": front.get("pretty_name", name), "license": front.get("license"), "citation": citation,
            "bibtex": bibtex}


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    return "100K<n<1M"


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def _table(headers: list[str], rows: list[list[Any]], numeric: Any = None) -> list[str]:
    """A Markdown table; columns in `numeric` (default: all but the first) are right-aligned."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    right = set(range(1, len(headers))) if numeric is None else set(numeric)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def card_data(corpus_dir: str | Path) -> dict[str, Any]:
    """Everything the card says, as data (used by the card and by `mebench export hf`)."""
    corpus_dir = Path(corpus_dir)
    meta = read_meta(corpus_dir)
    samples = read_samples(corpus_dir)
    datasets = list(dict.fromkeys(samples["dataset"].tolist())) if len(samples) else list(meta.get("counts", {}))
    by = {d: samples[samples["dataset"] == d] for d in datasets}
    counts = meta.get("counts") or {}
    types = {d: Counter((_text(t) or "untyped") for t in by[d]["expression_type"]) for d in datasets}
    subjects = {d: int(by[d]["subject"].nunique()) for d in datasets}
    persons = {d: int(by[d]["person"].nunique()) if "person" in by[d] else subjects[d] for d in datasets}
    person_datasets: dict[str, set[str]] = {}
    if "person" in samples:
        for person, dataset in zip(samples["person"], samples["dataset"]):
            person_datasets.setdefault(str(person), set()).add(str(dataset))
    shared = {p: sorted(ds) for p, ds in person_datasets.items() if len(ds) > 1}
    emotions = {d: Counter((_text(e) or "(none)") for e in by[d]["emotion"]) for d in datasets}
    schemes = sorted(c[4:] for c in samples.columns if c.startswith("emo_") and not c.endswith("_rule"))
    labels: dict[str, dict[str, Counter]] = {}
    for scheme in schemes:
        labels[scheme] = {}
        for d in datasets:
            counter: Counter = Counter()
            for value in by[d][f"emo_{scheme}"]:
                items = _as_list(value)
                counter.update(items or ["(no label)"])
            labels[scheme][d] = counter
    with_aus = {d: int(sum(1 for v in by[d]["aus"] if _as_list(v))) for d in datasets}
    errata_rows: dict[str, list[str]] = {}
    for sid, ids in zip(samples["sample_id"], samples["errata"]):
        for e in _as_list(ids):
            errata_rows.setdefault(str(e), []).append(str(sid))
    notes: Counter = Counter()
    report = corpus_dir / REPORT_JSON
    if report.is_file():
        try:
            notes = Counter(n.get("kind", "note") for n in json.loads(report.read_text()).get("notes", []))
        except (OSError, ValueError, AttributeError):
            notes = Counter()
    return {"meta": meta, "datasets": datasets, "counts": counts, "types": types, "subjects": subjects,
            "persons": persons, "n_persons": len(person_datasets) or sum(persons.values()), "shared": shared,
            "emotions": emotions, "schemes": schemes, "labels": labels, "with_aus": with_aus,
            "errata_rows": errata_rows, "notes": notes, "n": int(len(samples)),
            "cards": {d: dataset_card(d) for d in datasets}}


def _errata_entries(applied: dict[str, int]) -> list[dict[str, Any]]:
    from mebench.errata import load_errata

    table = {e.id: e for e in load_errata()}
    out = []
    for eid, n in applied.items():
        e = table.get(eid)
        if e is not None:
            out.append({"id": eid, "rows": n, "dataset": e.dataset, "reason": e.reason, "source": e.source})
        elif eid.startswith("auto:"):
            field = eid[5:].split("-", 1)[0]
            out.append({"id": eid, "rows": n, "dataset": None,
                        "reason": f"{field} outside [onset, offset] and no erratum covers the row: {field} set to "
                                  "null (DESIGN.md section 3.2)", "source": "mebench rule (automatic)"})
        else:
            out.append({"id": eid, "rows": n, "dataset": None, "reason": "(not in this mebench's errata table)",
                        "source": None})
    return out


def render_corpus_card(corpus_dir: str | Path) -> str:
    """The corpus card: YAML front matter + Markdown (see the module docstring)."""
    d = card_data(corpus_dir)
    meta = d["meta"]
    fp = str(meta.get("fingerprint") or "")
    shadow = bool(meta.get("shadow"))
    datasets = d["datasets"]
    names = [(d["cards"][x] or {}).get("pretty_name", x) for x in datasets]
    errata = _errata_entries(dict(meta.get("errata_applied") or {}))
    sources = [{"name": s.get("name"), "annotation_file": Path(str(s.get("annotation_file") or "")).name or None,
                "annotation_sha256": s.get("annotation_sha256"), "recognised_as": s.get("recognised_as"),
                "loader_version": s.get("loader_version")} for s in meta.get("sources", [])]
    front = {
        "pretty_name": ("SHADOW " if shadow else "") + "mebench corpus: " + " + ".join(str(n) for n in names),
        "license": "other",
        "annotations_creators": ["machine-generated"] if shadow else ["expert-generated"],
        "source_datasets": ["original"] if shadow else ["extended"],
        "task_categories": ["video-classification"],
        "tags": ["micro-expression", "facs", "action-units", "mebench"] + (["synthetic", "shadow-corpus"]
                                                                          if shadow else []),
        "size_categories": [_size_category(d["n"])],
        "mebench": {
            "kind": "corpus",
            "fingerprint": fp,
            "shadow": shadow,
            "schema_version": meta.get("schema_version"),
            "mebench_version": meta.get("mebench_version"),
            "created": meta.get("created"),
            "datasets": datasets,
            "n_samples": d["n"],
            "counts": meta.get("counts"),
            "errata_applied": dict(meta.get("errata_applied") or {}),
            "sources": sources,
            "dataset_cards": {x: (d["cards"][x] or {}).get("resource") for x in datasets},
        },
    }
    lines = ["---", _yaml(front).rstrip(), "---", "",
             f"# mebench corpus `{fp[:12]}`" + (" (SHADOW: synthetic data)" if shadow else ""), ""]
    if shadow:
        lines += ["> **Shadow corpus.** Every sample here is synthetic, written by `mebench synth` in the datasets' "
                  "native layouts (faces warped from a stock photo, simulated EMG and meshes). Use it to try the "
                  "pipeline before the licences arrive; results on it are labelled shadow and are never comparable "
                  "with results on the real datasets.", ""]
    else:
        lines += ["> **Real datasets.** Built from the licensed annotation files listed under Sources. The card holds "
                  "counts and labels only; the data stay under their licences (see each dataset card).", ""]
    lines += [f"Built by mebench {meta.get('mebench_version')} (schema {meta.get('schema_version')}) on "
              f"{meta.get('created')}: {d['n']} samples from {len(datasets)} dataset(s), one row per annotated "
              "expression in `samples.parquet`" + (", long videos in `videos.parquet`"
                                                   if "videos.parquet" in (meta.get("tables") or []) else "")
              + ". Build report: `" + REPORT_MD + "`.", "",
              "## Fingerprint", "",
              f"`{fp}`", "",
              "sha256 over the sample rows sorted by sample_id, every column but the media locations (canonical "
              "JSON). Results records cite it (`corpus.fingerprint`); two results with the same fingerprint were "
              "computed on the same labels.", "",
              "## Counts by dataset", ""]
    rows = []
    for x in datasets:
        c = d["counts"].get(x, {})
        rows.append([x, c.get("samples", "?"), d["subjects"][x], d["persons"][x], d["types"][x].get("micro", 0),
                     d["types"][x].get("macro", 0), d["types"][x].get("untyped", 0), d["with_aus"][x],
                     c.get("with_errata", 0)])
    lines += _table(["dataset", "samples", "subjects", "persons", "micro", "macro", "untyped",
                     "with certain AUs", "rows with errata"], rows)
    lines += ["", f"Total: {d['n']} samples, {d['n_persons']} persons."]
    lines += ["", "## Subjects and persons", "",
              "Subjects are namespaced by dataset (`<dataset>/<subject>`). A declared identity table maps subjects "
              "of different datasets that are the same people to one `person`, and subject-independent protocols "
              "split by person."]
    if d["shared"]:
        lines += ["", f"{len(d['shared'])} person(s) appear in more than one dataset of this corpus:", ""]
        for person, ds in sorted(d["shared"].items())[:MAX_LISTED]:
            lines.append(f"- `{person}`: {', '.join(ds)}")
        if len(d["shared"]) > MAX_LISTED:
            lines.append(f"- ... {len(d['shared']) - MAX_LISTED} more")
    else:
        lines += ["", "No person appears in more than one dataset of this corpus."]
    lines += ["", "## Expression types", ""]
    lines += _table(["dataset", "micro", "macro", "untyped"],
                    [[x, d["types"][x].get("micro", 0), d["types"][x].get("macro", 0),
                      d["types"][x].get("untyped", 0)] for x in datasets])
    lines += ["", "`micro`/`macro` come from the annotation where it says so, else from a stated rule "
              "(column `type_source`)."]
    lines += ["", "## Native emotion labels", ""]
    all_emotions = sorted({e for x in datasets for e in d["emotions"][x]})
    lines += _table(["emotion"] + datasets, [[e] + [d["emotions"][x].get(e, 0) for x in datasets]
                                            for e in all_emotions])
    lines += ["", "## Label schemes", "",
              "Harmonized labels (`emo_<scheme>` columns, DESIGN.md section 4); a sample with two labels counts for "
              "both; `(no label)` = the scheme gives none."]
    for scheme in d["schemes"]:
        found = sorted({lab for x in datasets for lab in d["labels"][scheme][x]})
        lines += ["", f"### `{scheme}`", ""]
        lines += _table(["label"] + datasets, [[lab] + [d["labels"][scheme][x].get(lab, 0) for x in datasets]
                                              for lab in found])
    lines += ["", "## Errata applied", ""]
    if errata:
        lines += _table(["erratum", "rows", "reason", "source"],
                        [[f"`{e['id']}`", e["rows"], e["reason"], e["source"] or "-"] for e in errata], numeric={1})
        lines += [""]
        for e in errata:
            rows_of = d["errata_rows"].get(e["id"], [])
            shown = ", ".join(f"`{s}`" for s in rows_of[:MAX_LISTED])
            more = f" and {len(rows_of) - MAX_LISTED} more" if len(rows_of) > MAX_LISTED else ""
            lines.append(f"- `{e['id']}`: {shown}{more}")
        lines += ["", "A fix is applied only where the file still holds the known wrong value; every fixed row lists "
                  "the ids in its `errata` column."]
    else:
        lines += ["No erratum was applied."]
    if d["notes"]:
        lines += ["", "Build notes (cells kept as written but reported: free text in AU cells, unresolved media...): "
                  + ", ".join(f"{k} {v}" for k, v in sorted(d["notes"].items())) + f"; see `{REPORT_MD}`."]
    lines += ["", "## Sources", ""]
    lines += _table(["dataset", "annotation file", "sha256", "recognised as", "loader version"],
                    [[s["name"], f"`{s['annotation_file']}`", f"`{s['annotation_sha256']}`", s["recognised_as"] or "-",
                      s["loader_version"] or "-"] for s in sources], numeric=())
    lines += ["", "## Dataset cards", "",
              "Each dataset's licence, collection, annotation, label mapping, errata and citation are in its card, "
              "shipped with mebench as a package resource (`importlib.resources.files('mebench.cards')`; source "
              "`cards/` in the mebench repository):", ""]
    for x in datasets:
        card = d["cards"][x]
        if card is None:
            lines.append(f"- {x}: no dataset card shipped")
        else:
            lines.append(f"- [{card['pretty_name']}]({card['source']}) (`{card['resource']}`, licence "
                         f"`{card['license']}`)")
    bib = [d["cards"][x]["bibtex"] for x in datasets if d["cards"][x] and d["cards"][x]["bibtex"]]
    if bib:
        lines += ["", "## Citation", "", "Cite the datasets this corpus was built from:", "", "```bibtex",
                  "\n\n".join(bib), "```"]
    lines += ["", "## Files", "",
              f"`samples.parquet` (samples), `{CORPUS_FILE}` (fingerprint, sources, counts, errata), "
              f"`{REPORT_MD}` / `{REPORT_JSON}` (build report)" + "".join(
                  f", `{t}`" for t in (meta.get("tables") or []) if t != "samples.parquet")
              + ". Media columns hold paths on the machine that built the corpus."]
    return "\n".join(lines).rstrip() + "\n"


def citation_bibtex(corpus_dir: str | Path) -> str:
    """The BibTeX of every dataset of the corpus (from the shipped dataset cards)."""
    meta = read_meta(Path(corpus_dir))
    names = [s.get("name") for s in meta.get("sources", [])] or list(meta.get("counts", {}))
    cards = [dataset_card(str(n)) for n in names]
    return "\n\n".join(c["bibtex"] for c in cards if c and c["bibtex"])


def write_corpus_card(corpus_dir: str | Path) -> Path:
    """Write the card as DIR/README.md (atomically)."""
    corpus_dir = Path(corpus_dir)
    text = render_corpus_card(corpus_dir)
    target = corpus_dir / CARD_FILE
    write_text_atomically(target, text)
    return target
