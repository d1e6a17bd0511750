"""Native vs harmonized labels (DESIGN.md section 4): the core of the `mebench labels` report.

Native label sets differ from a scheme's label set (CASME II says 'disgust', 4DME's scheme says 'negative'), so
agreement needs a declared comparison: `COMPARISONS` maps each native emotion into the scheme's vocabulary first.
A row then

- agrees when its mapped native label is among the harmonized labels (for a multi-label native emotion such as
  'surprise+positive': when every mapped part is among them);
- disagrees when it is not;
- is *not comparable* (never a disagreement) when it has no AUs (AU schemes), no native emotion, a native emotion with
  no counterpart in the scheme (`COMPARISONS` maps it to None, or does not list it), or no harmonized label.

Everything here is a pure function over a samples DataFrame (`mebench.corpus.read_samples`) returning plain,
JSON-ready Python values.

    >>> mapped_native("disgust", "4dme")
    ('negative',)
    >>> mapped_native("repression", "basic6") is None
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from mebench.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SCHEMES = ("4dme", "basic6")

_NEGATIVE_BASIC = ("anger", "contempt", "disgust", "fear", "sadness")

# Declared comparisons: native emotion (canonical lowercase) -> label in the scheme's vocabulary, or None = the scheme
# has no counterpart (such rows are 'not comparable'). Native emotions not listed have no counterpart either.
COMPARISONS: dict[str, dict[str, str | None]] = {
    # 4DME: positive / negative / surprise / repression / others.
    "4dme": {
        "happiness": "positive",
        **{e: "negative" for e in _NEGATIVE_BASIC},
        "repression": "repression",
        "surprise": "surprise",
        "others": "others",
        "other": "others",
        "negative": "negative",
        "positive": "positive",
    },
    # Dong et al.: the basic emotions as is; 'negative' and 'others' are labels of the scheme too. Contempt,
    # repression and the bare valence 'positive' have no counterpart.
    "basic6": {
        "happiness": "happiness",
        "surprise": "surprise",
        "anger": "anger",
        "fear": "fear",
        "disgust": "disgust",
        "sadness": "sadness",
        "negative": "negative",
        "contempt": None,
        "repression": None,
        "positive": None,
        "others": "others",
        "other": "others",
    },
    # MEGC2019 3 classes (itself derived from the native emotion, so this is a consistency check of the scheme file).
    "megc3": {
        "happiness": "positive",
        "positive": "positive",
        **{e: "negative" for e in _NEGATIVE_BASIC},
        "repression": "negative",
        "negative": "negative",
        "surprise": "surprise",
        "others": None,
        "other": None,
    },
}

# Reasons a row is not comparable (keys of `not_comparable_by_reason`, in this order).
NO_AUS = "no AUs"
NO_NATIVE = "no native emotion"
NO_COUNTERPART = "no counterpart in scheme"
NO_HARMONIZED = "no harmonized label"
REASONS = (NO_AUS, NO_NATIVE, NO_COUNTERPART, NO_HARMONIZED)

AGREE, DISAGREE, NOT_COMPARABLE = "agree", "disagree", "not comparable"


def comparable_schemes() -> list[str]:
    return sorted(COMPARISONS)


def check_schemes(names: Iterable[str]) -> list[str]:
    """The requested scheme ids, deduplicated in order; an id without a declared comparison is an InputError."""
    out: list[str] = []
    for name in names:
        if name not in COMPARISONS:
            raise InputError(f"no declared comparison between native emotions and scheme {name!r}; "
                             f"comparable schemes: {', '.join(comparable_schemes())}")
        if name not in out:
            out.append(name)
    return out


def _native(value: Any) -> str | None:
    from mebench.labels.engine import normalize_native

    text = normalize_native(value)
    return text.lower() if text is not None else None


def mapped_native(emotion: Any, scheme: str) -> tuple[str, ...] | None:
    """The native emotion in the scheme's vocabulary (sorted tuple), or None when it has no counterpart there.

    A multi-label native emotion ('surprise+positive') maps part by part; one part without counterpart -> None.
    """
    table = COMPARISONS[scheme]
    native = _native(emotion)
    if native is None:
        return None
    parts = [p.strip() for p in native.split("+")] if "+" in native and native not in table else [native]
    mapped = {table.get(p) for p in parts if p}
    if not mapped or None in mapped:
        return None
    return tuple(sorted(mapped))  # type: ignore[arg-type]


def compare(emotion: Any, aus: Any, labels: Iterable[str], scheme: str, *, uses_aus: bool = True
            ) -> tuple[str, str | None, tuple[str, ...] | None]:
    """(status, reason when not comparable, mapped native labels) for one row."""
    from mebench.labels.engine import normalize_aus

    labels = tuple(labels)
    if uses_aus and not normalize_aus(aus):
        return NOT_COMPARABLE, NO_AUS, None
    if _native(emotion) is None:
        return NOT_COMPARABLE, NO_NATIVE, None
    mapped = mapped_native(emotion, scheme)
    if mapped is None:
        return NOT_COMPARABLE, NO_COUNTERPART, None
    if not labels:
        return NOT_COMPARABLE, NO_HARMONIZED, mapped
    return (AGREE if set(mapped) <= set(labels) else DISAGREE), None, mapped


def label_key(labels: Iterable[str]) -> str:
    """A harmonized label tuple as a confusion-table column: 'negative+surprise'; '()' = no label."""
    labels = tuple(labels)
    return "+".join(labels) if labels else "()"


def native_key(emotion: Any) -> str:
    native = _native(emotion)
    return native if native is not None else "(none)"


def _as_list(value: Any) -> list:
    """A list cell (Python list, numpy array from Parquet) as a list; None/NaN = empty."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value)


def _str_or_none(value: Any) -> str | None:
    from mebench.labels.engine import normalize_native

    return normalize_native(value)


def scheme_columns(samples: pd.DataFrame, scheme: str) -> tuple[list[list[str]], list[str]]:
    """`emo_<scheme>` and `emo_<scheme>_rule` as lists; computed with `harmonize_columns` when the corpus lacks them."""
    column = f"emo_{scheme}"
    if column in samples.columns and f"{column}_rule" in samples.columns:
        labels = [[str(x) for x in _as_list(v)] for v in samples[column].tolist()]
        rules = [_str_or_none(v) or "" for v in samples[f"{column}_rule"].tolist()]
        return labels, rules
    from mebench.labels import harmonize_columns

    frame = harmonize_columns(samples, scheme_names=[scheme])
    return [list(v) for v in frame[column].tolist()], frame[f"{column}_rule"].tolist()


def scheme_report(samples: pd.DataFrame, scheme: str) -> dict[str, Any]:
    """Agreement, confusion and disagreeing rows of one scheme over `samples` (one dataset, or any subset)."""
    from mebench.labels import load_scheme

    check_schemes([scheme])
    uses_aus = load_scheme(scheme).input == "aus"
    labels_col, rules_col = scheme_columns(samples, scheme)
    n = len(samples)

    def column(name: str) -> list:
        return samples[name].tolist() if name in samples.columns else [None] * n

    ids, emotions, aus_col, au_raw = column("sample_id"), column("emotion"), column("aus"), column("au_raw")
    counts = {AGREE: 0, DISAGREE: 0, NOT_COMPARABLE: 0}
    reasons = {r: 0 for r in REASONS}
    no_counterpart: dict[str, int] = {}
    confusion: dict[str, dict[str, int]] = {}
    disagreements: list[dict[str, Any]] = []
    for sid, emotion, aus, raw, labels, rule in zip(ids, emotions, aus_col, au_raw, labels_col, rules_col):
        status, reason, mapped = compare(emotion, aus, labels, scheme, uses_aus=uses_aus)
        counts[status] += 1
        native = native_key(emotion)
        row = confusion.setdefault(native, {})
        key = label_key(labels)
        row[key] = row.get(key, 0) + 1
        if reason is not None:
            reasons[reason] += 1
            if reason == NO_COUNTERPART:
                no_counterpart[native] = no_counterpart.get(native, 0) + 1
        if status == DISAGREE:
            disagreements.append({
                "sample_id": _str_or_none(sid),
                "au_raw": _str_or_none(raw),
                "aus": [int(a) for a in _as_list(aus)],
                "emotion": native,
                "compared_as": list(mapped or ()),
                "labels": list(labels),
                "rule": rule,
            })
    comparable = counts[AGREE] + counts[DISAGREE]
    columns = sorted({k for row in confusion.values() for k in row}, key=lambda k: (k == "()", k))
    return {
        "scheme": scheme,
        "rows": n,
        "agree": counts[AGREE],
        "disagree": counts[DISAGREE],
        "not_comparable": counts[NOT_COMPARABLE],
        "not_comparable_by_reason": reasons,
        "no_counterpart": dict(sorted(no_counterpart.items())),
        "comparable": comparable,
        "agreement": round(counts[AGREE] / comparable, 4) if comparable else None,
        "confusion": {
            "natives": sorted(confusion),
            "labels": columns,
            "counts": {native: {k: row[k] for k in columns if k in row} for native, row in sorted(confusion.items())},
        },
        "disagreements": disagreements,
    }


def label_report(samples: pd.DataFrame, schemes: Iterable[str] | None = None) -> dict[str, Any]:
    """Per dataset (in order of first appearance) and scheme: `scheme_report`. A plain, JSON-ready dict."""
    names = check_schemes(DEFAULT_SCHEMES if schemes is None else schemes)
    if "dataset" in samples.columns:
        datasets = list(dict.fromkeys(str(d) for d in samples["dataset"].tolist()))
        keys = samples["dataset"].astype(str)
    else:
        datasets, keys = ["(all)"], None
    out: dict[str, Any] = {
        "schemes": names,
        "comparisons": {s: dict(COMPARISONS[s]) for s in names},
        "datasets": {},
    }
    for dataset in datasets:
        subset = samples if keys is None else samples[(keys == dataset).to_numpy()]
        out["datasets"][dataset] = {
            "rows": len(subset),
            "schemes": {s: scheme_report(subset, s) for s in names},
        }
    return out


def agreement_line(dataset: str, report: Mapping[str, Any]) -> str:
    """One line per dataset and scheme, e.g.
    'casme2 4dme: agree 120, disagree 60, not comparable 75 of 255 rows; agreement 66.7% of 180 comparable'."""
    share = f"{100 * report['agreement']:.1f}%" if report["agreement"] is not None else "n/a"
    reasons = ", ".join(f"{k} {v}" for k, v in report["not_comparable_by_reason"].items() if v)
    return (f"{dataset} {report['scheme']}: agree {report['agree']}, disagree {report['disagree']}, "
            f"not comparable {report['not_comparable']} of {report['rows']} rows; agreement {share} of "
            f"{report['comparable']} comparable" + (f" (not comparable: {reasons})" if reasons else ""))
