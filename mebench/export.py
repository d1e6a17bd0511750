"""`mebench export hf`: a corpus as a Hugging Face ``datasets.DatasetDict`` (``save_to_disk``), with its card.

Layout choice: **one split per dataset** (split name = the loader name with '-' -> '_', as split names must be
word characters: ``casme2``, ``samm``, ``samm_lv``, ``casme_sq``, ``casmemg``, ``4dme``). A merged 'train' split
would suggest a training set, which no mebench corpus is: protocols choose rows and folds (LOSO, 5-fold, LODO) from
the whole corpus. Every split keeps the ``dataset`` column, so ``concatenate_datasets(list(dd.values()))`` gives the
corpus back as one table.

Features are declared, not inferred: they are translated column by column from the corpus schema
(``mebench.schema``: strings, int64 frames, float64 seconds, ``aus`` a list of int16, ``au_codes`` a list of structs
{au, side, intensity, alternative, uncertain, reference, static}, ``errata``/``emotions``/``emo_<scheme>`` lists of
strings), so an all-null column keeps its type and the export round-trips exactly.

``DIR2`` holds::

    dataset_dict.json, <split>/...   the DatasetDict (datasets.load_from_disk(DIR2))
    videos/                          the long-video table as a Dataset, when the corpus has one
    README.md                        the corpus card (mebench.corpus_card) plus a section on this export
    mebench_corpus.json              the corpus's corpus.json (fingerprint, sources, counts, errata)
    mebench_export.json              what was exported: splits and row counts, fingerprint, features

The card is also every split's ``info.description``, and the datasets' BibTeX (from the shipped dataset cards) its
``info.citation``. Nothing here touches the network (HF_DATASETS_OFFLINE=1 is fine). Other tables of the corpus
(EMG signals) are not exported. The export is written to a temporary sibling folder and renamed into place.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mebench.corpus import CORPUS_FILE, SAMPLES_FILE, VIDEOS_FILE, read_meta
from mebench.atomic import write_atomically
from mebench.errors import InputError

__all__ = ["EXPORT_FILE", "ExportResult", "export_hf", "features_for", "split_name"]

EXPORT_FILE = "mebench_export.json"
CORPUS_COPY = "mebench_corpus.json"


@dataclass
class ExportResult:
    out: Path
    splits: dict[str, int]
    videos: int | None
    fingerprint: str


def split_name(dataset: str) -> str:
    """The DatasetDict split of a dataset: its loader name with every non-word character replaced by '_'."""
    name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(dataset))
    return name or "unknown"


def _feature(dtype: pa.DataType) -> Any:
    import datasets

    if pa.types.is_struct(dtype):
        return {dtype.field(i).name: _feature(dtype.field(i).type) for i in range(dtype.num_fields)}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        inner = _feature(dtype.value_type)
        if hasattr(datasets, "List"):
            return datasets.List(inner)
        return [inner] if isinstance(inner, dict) else datasets.Sequence(inner)
    if pa.types.is_null(dtype):
        return datasets.Value("string")
    if pa.types.is_dictionary(dtype):
        return _feature(dtype.value_type)
    if pa.types.is_large_string(dtype):
        return datasets.Value("large_string")
    return datasets.Value(str(dtype) if not pa.types.is_string(dtype) else "string")


def features_for(schema: pa.Schema) -> Any:
    """datasets.Features declared from a corpus table's Arrow schema (the mebench schema types)."""
    import datasets

    return datasets.Features({field.name: _feature(field.type) for field in schema})


def _check_out(out: Path, corpus: Path) -> None:
    if out.resolve() == corpus.resolve():
        raise InputError("--out must not be the corpus folder", file=out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", file=out)
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_FILE).exists():
        raise InputError("--out is a non-empty folder that is not a mebench export; refusing to overwrite it",
                         file=out)
    if not out.parent.exists():
        raise InputError("the parent folder of --out does not exist", file=out.parent)


def _dataset(table: pa.Table, info_kwargs: dict[str, Any], split: str | None = None) -> Any:
    import datasets

    features = features_for(table.schema)
    info = datasets.DatasetInfo(features=features, **info_kwargs)
    return datasets.Dataset.from_dict(table.to_pydict(), features=features, info=info, split=split)


def export_hf(corpus: str | Path, out: str | Path) -> ExportResult:
    """Export a built corpus as a DatasetDict saved with save_to_disk (see the module docstring)."""
    import datasets

    from mebench.corpus_card import citation_bibtex, render_corpus_card

    corpus, out = Path(corpus), Path(out)
    meta = read_meta(corpus)
    if not (corpus / SAMPLES_FILE).is_file():
        raise InputError(f"corpus has no {SAMPLES_FILE}", file=corpus)
    _check_out(out, corpus)
    samples = pq.read_table(corpus / SAMPLES_FILE)
    order = list(dict.fromkeys(samples.column("dataset").to_pylist()))
    names = {d: split_name(d) for d in order}
    if len(set(names.values())) != len(names):
        raise InputError(f"datasets {order} do not give distinct split names", file=corpus)

    card = render_corpus_card(corpus)
    fingerprint = str(meta.get("fingerprint"))
    splits_text = ", ".join(f"`{names[d]}` ({d})" for d in order)
    export_section = (
        "\n## This export (Hugging Face `datasets`)\n\n"
        "A `datasets.DatasetDict` written with `save_to_disk` by `mebench export hf`; load it with "
        "`datasets.load_from_disk(path)` (works offline). One split per dataset: " + splits_text + "; every split "
        "keeps the `dataset` column, so `datasets.concatenate_datasets(list(dd.values()))` is the whole corpus. "
        "The splits are NOT train/test splits: protocols choose their rows and folds (`mebench split`). Features "
        "are declared from the corpus schema (`aus`: list of int16, `au_codes`: list of structs, lists of strings "
        "for `errata`, `emotions` and `emo_<scheme>`)."
        + (" The long-video table is the Dataset in `videos/`." if (corpus / VIDEOS_FILE).exists() else "")
        + f" `{CORPUS_COPY}` is the corpus's `corpus.json`.\n")
    readme = card.rstrip() + "\n" + export_section
    info_kwargs = {"description": readme, "citation": citation_bibtex(corpus), "license": "other",
                   "dataset_name": f"mebench-corpus-{fingerprint[:12]}"}

    was_enabled = datasets.is_progress_bar_enabled() if hasattr(datasets, "is_progress_bar_enabled") else True
    datasets.disable_progress_bars()
    import pyarrow.compute as pc

    parts = {d: _dataset(samples.filter(pc.equal(samples.column("dataset"), d)), info_kwargs, split=names[d])
             for d in order}
    videos = pq.read_table(corpus / VIDEOS_FILE) if (corpus / VIDEOS_FILE).exists() else None
    n_videos = videos.num_rows if videos is not None else None

    def write(tmp: Path) -> None:
        datasets.DatasetDict({names[d]: parts[d] for d in order}).save_to_disk(str(tmp))
        if videos is not None:
            _dataset(videos, info_kwargs).save_to_disk(str(tmp / "videos"))
        (tmp / "README.md").write_text(readme, encoding="utf-8")
        shutil.copyfile(corpus / CORPUS_FILE, tmp / CORPUS_COPY)
        manifest = {
            "format": "mebench-export-hf-v1",
            "fingerprint": fingerprint,
            "shadow": bool(meta.get("shadow")),
            "splits": {names[d]: {"dataset": d, "rows": parts[d].num_rows} for d in order},
            "videos": n_videos,
            "datasets_version": datasets.__version__,
            "features": {name: repr(f) for name, f in parts[order[0]].features.items()} if order else {},
        }
        (tmp / EXPORT_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    try:
        write_atomically(out, write)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
    return ExportResult(out, {names[d]: parts[d].num_rows for d in order}, n_videos, fingerprint)
