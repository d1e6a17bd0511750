"""The rule engine behind the label schemes: a scheme is DATA (a TOML file in `schemes/`); this module evaluates it.

A new published AU-emotion table is a new TOML file, never new code. The vocabulary is deliberately small.

Scheme file
-----------
```toml
id = "4dme"                      # must equal the file name without .toml
version = "1"
title = "..."
citation = "paper, table and rule numbers"
input = "aus"                    # "aus" | "emotion" | "objective_class": what the rules read
labels = ["negative", "others"]  # the label set; every outcome must stay inside it

[groups]                         # optional named AU sets; AU lists may name a group instead of an AU
dependent = [5, 6, 20, 25]

[[evidence]]                     # optional (input = "aus"): decisive AUs -> emotions, evaluated IN ORDER
all_of = [1, 2]                  #   a combination: matches when every AU is present (and not yet consumed)
emotion = "surprise"
[[evidence]]
any_of = [1, 4, 7, 9, 10]        #   matches when at least one of the AUs is present (and not yet consumed)
emotion = "negative"

[[rules]]                        # ordered; the FIRST rule whose `when` holds decides
id = "4dme:no-aus"               # unique, prefixed by "<scheme id>:"
source = "DESIGN.md section 4"   # optional: where the rule comes from
when = { no_aus = true }         # every key must hold; {} always holds (the last rule must be such a catch-all)
then = []                        # a list of labels | "emotions" | "native"
```

Evidence: each AU of the sample supports at most one emotion. Entries are tried in order; an entry that matches
*consumes* the AUs it used, so an earlier combination (AU1+2 -> surprise) keeps its AUs from a later entry
(AU1 -> negative). The evidence emotions E are the emotions of the entries that matched.

Conditions (keys of `when`; AU lists accept AU numbers and group names):
- `no_aus = true|false`         the sample has no AU at all (true) / at least one (false)
- `all_of = [...]`              every listed AU is present
- `any_of = [...]`              at least one listed AU is present
- `none_of = [...]`             no listed AU is present
- `only_from = [...]`           at least one AU, and every AU of the sample is in the list ("only AUs from")
- `emotions_min = n`            the number of distinct evidence emotions is >= n
- `emotions_max = n`            ... <= n
- `emotions_all_of = [...]`     every listed emotion is among the evidence emotions
- `native_missing = true|false` the native value (emotion / objective class) is absent (null, NaN, empty)
- `native_in = [...]`           the native value is one of these strings (case-insensitive, surrounding blanks ignored)
- `native_in_labels = true`     the native value is one of the scheme's labels (case-insensitive)

Outcomes (`then`):
- a list of labels (`[]` = no label) - returned sorted;
- `"emotions"` - the evidence emotions, sorted;
- `"native"` - the native value, spelled as in the label set (use with `native_in_labels`).
"""

from __future__ import annotations

import math
import numbers
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from mebench.errors import InputError

INPUTS = ("aus", "emotion", "objective_class")
AU_CONDITIONS = ("no_aus", "all_of", "any_of", "none_of", "only_from", "emotions_min", "emotions_max",
                 "emotions_all_of")
NATIVE_CONDITIONS = ("native_missing", "native_in", "native_in_labels")
OUTCOMES = ("emotions", "native")

Labels = tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    emotion: str
    all_of: frozenset[int] = frozenset()
    any_of: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Condition:
    no_aus: bool | None = None
    all_of: frozenset[int] | None = None
    any_of: frozenset[int] | None = None
    none_of: frozenset[int] | None = None
    only_from: frozenset[int] | None = None
    emotions_min: int | None = None
    emotions_max: int | None = None
    emotions_all_of: frozenset[str] | None = None
    native_missing: bool | None = None
    native_in: frozenset[str] | None = None
    native_in_labels: bool | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    when: Condition
    then: Labels | str  # a sorted tuple of labels, or "emotions" / "native"
    source: str = ""


@dataclass(frozen=True, eq=False)  # hashed by identity: evaluations are cached per (scheme, AU tuple)
class Scheme:
    id: str
    version: str
    title: str
    citation: str
    input: str
    labels: Labels
    rules: tuple[Rule, ...]
    evidence: tuple[Evidence, ...] = ()
    groups: dict[str, frozenset[int]] = field(default_factory=dict)
    path: str = ""

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    # -- evaluation ---------------------------------------------------------------------------------------------
    def evaluate(self, aus: Any = None, native: Any = None) -> tuple[Labels, str]:
        """Labels (sorted tuple, () = no label) and the id of the deciding rule."""
        if self.input == "aus":
            return self._evaluate_aus(normalize_aus(aus))
        return self._evaluate_native(normalize_native(native))

    def emotions_of(self, aus: Any) -> frozenset[str]:
        """The evidence emotions of an AU set (see the module docstring)."""
        return self._emotions(normalize_aus(aus))

    def _emotions(self, aus: tuple[int, ...]) -> frozenset[str]:
        remaining = set(aus)
        found: set[str] = set()
        for ev in self.evidence:
            if ev.all_of and ev.all_of <= remaining:
                found.add(ev.emotion)
                remaining -= ev.all_of
            if ev.any_of:
                hit = ev.any_of & remaining
                if hit:
                    found.add(ev.emotion)
                    remaining -= hit
        return frozenset(found)

    def _evaluate_aus(self, aus: tuple[int, ...]) -> tuple[Labels, str]:
        return _evaluate_aus_cached(self, aus)

    def _evaluate_native(self, native: str | None) -> tuple[Labels, str]:
        key = native.casefold() if native is not None else None
        for rule in self.rules:
            c = rule.when
            if c.native_missing is not None and (native is None) != c.native_missing:
                continue
            if c.native_in is not None and (key is None or key not in c.native_in):
                continue
            if c.native_in_labels is not None and (key is not None and key in self._label_keys) != c.native_in_labels:
                continue
            if rule.then == "native":
                return (self._label_keys[key],), rule.id  # validated: only reachable with native_in_labels
            return rule.then, rule.id  # type: ignore[return-value]
        raise AssertionError(f"scheme {self.id}: no rule matched (the last rule must be a catch-all)")

    @property
    def _label_keys(self) -> dict[str, str]:
        return _label_keys(self.labels)


@lru_cache(maxsize=None)
def _label_keys(labels: Labels) -> dict[str, str]:
    return {lab.casefold(): lab for lab in labels}


@lru_cache(maxsize=1 << 16)
def _evaluate_aus_cached(scheme: Scheme, aus: tuple[int, ...]) -> tuple[Labels, str]:
    present = frozenset(aus)
    emotions = scheme._emotions(aus)
    for rule in scheme.rules:
        c = rule.when
        if c.no_aus is not None and (not present) != c.no_aus:
            continue
        if c.all_of is not None and not c.all_of <= present:
            continue
        if c.any_of is not None and not c.any_of & present:
            continue
        if c.none_of is not None and c.none_of & present:
            continue
        if c.only_from is not None and not (present and present <= c.only_from):
            continue
        if c.emotions_min is not None and len(emotions) < c.emotions_min:
            continue
        if c.emotions_max is not None and len(emotions) > c.emotions_max:
            continue
        if c.emotions_all_of is not None and not c.emotions_all_of <= emotions:
            continue
        if rule.then == "emotions":
            return tuple(sorted(emotions)), rule.id
        return rule.then, rule.id  # type: ignore[return-value]
    raise AssertionError(f"scheme {scheme.id}: no rule matched (the last rule must be a catch-all)")


# -- input normalisation -----------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")  # pandas.NA / NaT without importing pandas


def normalize_aus(aus: Any) -> tuple[int, ...]:
    """Sorted unique AU numbers from a list/tuple/set/array of ints; None or NaN = no AUs."""
    if _is_missing(aus):
        return ()
    if type(aus).__name__ == "ndarray" and aus.dtype.kind in "iu":  # Parquet list<int16> cells; no numpy import
        return tuple(sorted(set(aus.tolist())))
    if type(aus) in (list, tuple) and all(type(a) is int for a in aus):
        return tuple(sorted(set(aus)))
    if isinstance(aus, (str, bytes)) or not isinstance(aus, Iterable):
        raise TypeError(f"aus must be a list of AU numbers (ints), got {aus!r}; parse AU strings with the AU grammar")
    out = set()
    for a in aus:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            if isinstance(a, numbers.Real) and float(a).is_integer():
                a = int(a)
            else:
                raise TypeError(f"AU numbers must be ints, got {a!r} in {aus!r}")
        out.add(int(a))
    return tuple(sorted(out))


def normalize_native(value: Any) -> str | None:
    """A native label as a stripped string; None/NaN/blank = absent; integral numbers (SAMM class 7, 7.0) -> '7'."""
    if _is_missing(value):
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    value = str(value).strip()
    return value or None


# -- loading and validation --------------------------------------------------------------------------------------
def _fail(path: str, message: str) -> InputError:
    return InputError(f"invalid label scheme: {message}", file=path)


def _au_set(raw: Any, groups: dict[str, frozenset[int]], path: str, where: str) -> frozenset[int]:
    if not isinstance(raw, list):
        raise _fail(path, f"{where} must be a list of AU numbers or group names, got {raw!r}")
    out: set[int] = set()
    for item in raw:
        if isinstance(item, str):
            if item not in groups:
                raise _fail(path, f"{where}: unknown AU group {item!r} (groups: {sorted(groups)})")
            out |= groups[item]
        elif isinstance(item, int) and not isinstance(item, bool):
            out.add(item)
        else:
            raise _fail(path, f"{where}: {item!r} is neither an AU number nor a group name")
    return frozenset(out)


def _str_set(raw: Any, path: str, where: str, casefold: bool = False) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _fail(path, f"{where} must be a list of strings, got {raw!r}")
    return frozenset(x.strip().casefold() if casefold else x for x in raw)


def parse_scheme(data: dict[str, Any], path: str = "<memory>") -> Scheme:
    """Validate a decoded scheme document and compile it (AU lists -> frozensets)."""
    for key in ("id", "version", "title", "citation", "input", "labels", "rules"):
        if key not in data:
            raise _fail(path, f"missing key {key!r}")
    known = {"id", "version", "title", "citation", "input", "labels", "rules", "evidence", "groups", "notes"}
    extra = set(data) - known
    if extra:
        raise _fail(path, f"unknown keys {sorted(extra)} (known: {sorted(known)})")
    sid = str(data["id"])
    inp = data["input"]
    if inp not in INPUTS:
        raise _fail(path, f"input must be one of {INPUTS}, got {inp!r}")
    labels = data["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise _fail(path, "labels must be a non-empty list of strings")
    if len({x.casefold() for x in labels}) != len(labels):
        raise _fail(path, "labels must be unique (case-insensitively)")
    label_set = frozenset(labels)

    groups: dict[str, frozenset[int]] = {}
    for name, raw in (data.get("groups") or {}).items():
        groups[name] = _au_set(raw, {}, path, f"groups.{name}")

    evidence = []
    for i, ev in enumerate(data.get("evidence") or []):
        where = f"evidence[{i}]"
        if not isinstance(ev, dict):
            raise _fail(path, f"{where} must be a table ([[evidence]])")
        if inp != "aus":
            raise _fail(path, f"{where}: evidence needs input = 'aus'")
        extra = set(ev) - {"emotion", "all_of", "any_of", "note"}
        if extra:
            raise _fail(path, f"{where}: unknown keys {sorted(extra)}")
        if ev.get("emotion") not in label_set:
            raise _fail(path, f"{where}: emotion {ev.get('emotion')!r} is not in labels {labels}")
        all_of = _au_set(ev["all_of"], groups, path, f"{where}.all_of") if "all_of" in ev else frozenset()
        any_of = _au_set(ev["any_of"], groups, path, f"{where}.any_of") if "any_of" in ev else frozenset()
        if not all_of and not any_of:
            raise _fail(path, f"{where}: needs a non-empty all_of or any_of")
        evidence.append(Evidence(emotion=ev["emotion"], all_of=all_of, any_of=any_of))

    rules = []
    seen: set[str] = set()
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _fail(path, "rules must be a non-empty array of tables ([[rules]])")
    allowed_conditions = AU_CONDITIONS if inp == "aus" else NATIVE_CONDITIONS
    for i, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            raise _fail(path, f"rules[{i}] must be a table ([[rules]])")
        rid = raw.get("id")
        where = f"rule {rid or i}"
        if not isinstance(rid, str) or not rid.startswith(f"{sid}:"):
            raise _fail(path, f"{where}: id must be a string starting with '{sid}:'")
        if rid in seen:
            raise _fail(path, f"duplicate rule id {rid!r}")
        seen.add(rid)
        extra = set(raw) - {"id", "when", "then", "source", "note"}
        if extra:
            raise _fail(path, f"{where}: unknown keys {sorted(extra)}")
        when = raw.get("when", {})
        if not isinstance(when, dict):
            raise _fail(path, f"{where}: when must be a table")
        bad = set(when) - set(allowed_conditions)
        if bad:
            raise _fail(path, f"{where}: conditions {sorted(bad)} not allowed for input {inp!r} "
                              f"(allowed: {list(allowed_conditions)})")
        kw: dict[str, Any] = {}
        for key, val in when.items():
            if key in ("no_aus", "native_missing", "native_in_labels"):
                if not isinstance(val, bool):
                    raise _fail(path, f"{where}: {key} must be true or false")
                kw[key] = val
            elif key in ("emotions_min", "emotions_max"):
                if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                    raise _fail(path, f"{where}: {key} must be a non-negative integer")
                kw[key] = val
            elif key == "emotions_all_of":
                kw[key] = _str_set(val, path, f"{where}.{key}")
                if not kw[key] <= label_set:
                    raise _fail(path, f"{where}: {key} names emotions outside labels")
            elif key == "native_in":
                kw[key] = _str_set(val, path, f"{where}.{key}", casefold=True)
            else:
                kw[key] = _au_set(val, groups, path, f"{where}.{key}")
        if "then" not in raw:
            raise _fail(path, f"{where}: missing 'then'")
        then = raw["then"]
        if isinstance(then, str):
            if then not in OUTCOMES:
                raise _fail(path, f"{where}: then must be a list of labels or one of {OUTCOMES}, got {then!r}")
            if then == "emotions" and (inp != "aus" or not evidence):
                raise _fail(path, f"{where}: then = 'emotions' needs input 'aus' and [[evidence]]")
            if then == "native" and kw.get("native_in_labels") is not True:
                raise _fail(path, f"{where}: then = 'native' needs when.native_in_labels = true")
        elif isinstance(then, list) and all(isinstance(x, str) for x in then):
            if not set(then) <= label_set:
                raise _fail(path, f"{where}: outcome {then} has labels outside {labels}")
            then = tuple(sorted(set(then)))
        else:
            raise _fail(path, f"{where}: then must be a list of labels or one of {OUTCOMES}")
        source = raw.get("source", "")
        rules.append(Rule(id=rid, when=Condition(**kw), then=then, source=str(source)))
    if rules[-1].when != Condition():
        raise _fail(path, f"the last rule ({rules[-1].id}) must be a catch-all (when = {{}})")
    return Scheme(id=sid, version=str(data["version"]), title=str(data["title"]), citation=str(data["citation"]),
                  input=inp, labels=tuple(labels), rules=tuple(rules), evidence=tuple(evidence), groups=groups,
                  path=path)


def load_scheme_file(path: str | Path) -> Scheme:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("label scheme file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(str(path), f"not valid TOML: {exc}") from None
    scheme = parse_scheme(data, str(path))
    if path.suffix == ".toml" and scheme.id != path.stem:
        raise _fail(str(path), f"id {scheme.id!r} differs from the file name {path.stem!r}")
    return scheme
