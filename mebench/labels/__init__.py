"""Harmonized emotion labels (DESIGN.md section 4).

A label scheme is a TOML file in `schemes/` (id, version, title, citation, input, label set, ordered rules) evaluated by
the small rule engine of `mebench.labels.engine`; a new published AU-emotion table is a new file, not new code.

    >>> harmonize([1, 2], "4dme")
    (('surprise',), '4dme:rule3-decisive-aus')
    >>> harmonize([4, 12], "4dme")
    (('others',), '4dme:rule6-both-positive-and-negative')
    >>> harmonize([], "megc3", emotion="repression")
    (('negative',), 'megc3:negative')

Every call returns the labels as a sorted tuple (() = no label) and the id of the rule that decided.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from mebench.errors import InputError
from mebench.labels.engine import Scheme, load_scheme_file, normalize_aus, normalize_native

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Scheme", "harmonize", "harmonize_columns", "load_scheme", "schemes"]


def _schemes_dir() -> Path:
    return Path(str(resources.files("mebench.labels") / "schemes"))


def schemes() -> list[str]:
    """Ids of the shipped label schemes (one TOML file each), sorted."""
    return sorted(p.stem for p in _schemes_dir().glob("*.toml"))


@lru_cache(maxsize=None)
def _load_cached(key: str) -> Scheme:
    path = Path(key)
    if path.suffix == ".toml" or path.parent != Path("."):
        return load_scheme_file(path)
    file = _schemes_dir() / f"{key}.toml"
    if not file.is_file():
        raise InputError(f"unknown label scheme {key!r}; known schemes: {', '.join(schemes())}")
    return load_scheme_file(file)


def load_scheme(name: str | Path | Scheme) -> Scheme:
    """A shipped scheme by id ('4dme'), or any scheme file by path ('my_table.toml'). Loaded once, then cached."""
    if isinstance(name, Scheme):
        return name
    return _load_cached(str(name))


def harmonize(aus: Iterable[int] | None, scheme: str | Path | Scheme, *, emotion: str | None = None,
              objective_class: Any = None) -> tuple[tuple[str, ...], str]:
    """Labels of one sample under `scheme`: (sorted tuple of labels, id of the deciding rule).

    `aus` are the AUs coded with certainty (order and duplicates do not matter); schemes with input 'emotion' read
    `emotion` (the native, canonical lowercase label) and schemes with input 'objective_class' read `objective_class`.
    """
    sch = load_scheme(scheme)
    if sch.input == "aus":
        return sch.evaluate(aus=aus)
    native = emotion if sch.input == "emotion" else objective_class
    return sch.evaluate(native=native)


def harmonize_columns(samples: pd.DataFrame, *, scheme_names: Iterable[str] | None = None) -> pd.DataFrame:
    """Per scheme, `emo_<scheme>` (list of str) and `emo_<scheme>_rule` (str), aligned with `samples`' index.

    Reads the columns `aus` (list of ints; required), `emotion` and `objective_class` (nullable; a missing column reads
    as all null). Each distinct AU set / native value is evaluated once.
    """
    import pandas as pd

    names = list(scheme_names) if scheme_names is not None else schemes()
    loaded = [load_scheme(n) for n in names]
    n = len(samples)
    inputs: dict[str, list] = {}
    for sch in loaded:
        if sch.input in inputs:
            continue
        if sch.input == "aus":
            if "aus" not in samples.columns:
                raise InputError("harmonize_columns needs an 'aus' column (list of AU numbers)", column="aus")
            inputs["aus"] = [normalize_aus(v) for v in samples["aus"].tolist()]
        else:
            col = sch.input
            values = samples[col].tolist() if col in samples.columns else [None] * n
            inputs[col] = [normalize_native(v) for v in values]
    out: dict[str, list] = {}
    for sch in loaded:
        memo: dict[Any, tuple[tuple[str, ...], str]] = {}
        labels_col: list[list[str]] = []
        rules_col: list[str] = []
        for key in inputs[sch.input]:
            res = memo.get(key)
            if res is None:
                res = sch.evaluate(aus=key) if sch.input == "aus" else sch.evaluate(native=key)
                memo[key] = res
            labels_col.append(list(res[0]))
            rules_col.append(res[1])
        out[f"emo_{sch.id}"] = labels_col
        out[f"emo_{sch.id}_rule"] = rules_col
    return pd.DataFrame(out, index=samples.index)
