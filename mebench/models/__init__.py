"""Models the harness (`mebench run`) can train and test fold by fold, and how a model is found by name.

A model is any class with ``fit(train)`` and ``predict(test)`` over read-only views (``mebench.views``; see
``mebench.runner`` for the whole contract). It declares

- ``name`` (str) and ``version`` (str): cited by the results record;
- optionally ``tasks`` (tuple of protocol tasks it supports; a run on another task is refused before any work);
- optionally ``extractors`` (a list, or a method returning one, of ``mebench.cache.Extractor``): the harness
  extracts these features for every selected row before the fold loop, in parallel and through the feature cache;
- optionally ``get_params()`` (the parameters the record cites) and ``describe_result(record) -> str | None`` (a
  line printed under the results table).

The harness passes a ``seed`` (constructor keyword when the constructor takes one, else ``set_seed(seed)``) and any
``--param KEY=VALUE`` as constructor keywords.

``--model`` takes, in this order of lookup:

1. a name of ``REGISTRY`` (the baselines shipped with mebench);
2. a name registered by an installed package under the entry-point group ``mebench.models``, e.g. in its
   pyproject.toml: ``[project.entry-points."mebench.models"] my-net = "my_package.models:MyNet"``;
3. ``module:Class`` (or ``module:Outer.Inner``): any importable class.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from mebench.errors import InputError

__all__ = ["ENTRY_POINT_GROUP", "REGISTRY", "ModelRef", "class_path", "model_names", "resolve_model"]

ENTRY_POINT_GROUP = "mebench.models"

# name -> "module:Class" (imported only when asked for, so `mebench --help` stays fast).
REGISTRY: dict[str, str] = {
    "au-rules": "mebench.models.au_rules:AuRules",
    "au-oracle": "mebench.models.au_oracle:AuOracle",
    "lbptop-svm": "mebench.baselines.lbptop:LbpTopSvm",
    "flow-svm": "mebench.baselines.flow_svm:FlowSvm",
    "dual-branch": "mebench.baselines.dual_branch:DualBranch",
    "depth-views": "mebench.baselines.depth_views:DepthViews",
    "au-prototype": "mebench.baselines.spotting_au_prototype:AUPrototypeSpotter",
    "mdmd": "mebench.baselines.spotting_mdmd:MDMDSpotter",
    "emg-peak-trough": "mebench.baselines.emg:EmgPeakTrough",
}


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: the class, its import path, the name it was asked by and where it was found."""

    cls: type
    path: str
    ref: str
    source: str  # 'registry' | 'entry-point' | 'import' | 'class'

    @property
    def name(self) -> str:
        return str(getattr(self.cls, "name", None) or (self.ref if self.source != "import" else self.cls.__name__))

    @property
    def version(self) -> str | None:
        version = getattr(self.cls, "version", None)
        return None if version is None else str(version)


def class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _entry_points() -> dict[str, Any]:
    try:
        found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # noqa: BLE001 - a broken installed distribution must not break the registry
        return {}
    return {ep.name: ep for ep in found}


def model_names() -> list[str]:
    """Registered names: the shipped baselines and the installed entry points."""
    return sorted(set(REGISTRY) | set(_entry_points()))


def _import(path: str, ref: str) -> type:
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"model {ref!r}: expected module:Class, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"model {ref!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})") \
            from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InputError(f"model {ref!r}: module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    return target


def _check(cls: Any, ref: str, path: str) -> type:
    if not isinstance(cls, type):
        raise InputError(f"model {ref!r}: {path} is a {type(cls).__name__}, not a class")
    missing = [m for m in ("fit", "predict") if not callable(getattr(cls, m, None))]
    if missing:
        raise InputError(f"model {ref!r}: class {path} has no {' and no '.join(missing)} method; a model needs "
                         "fit(train) and predict(test)")
    return cls


def resolve_model(ref: str | type) -> ModelRef:
    """The model class for a registered name, an entry-point name, ``module:Class``, or a class itself."""
    if isinstance(ref, type):
        path = class_path(ref)
        return ModelRef(_check(ref, path, path), path, path, "class")
    text = str(ref).strip()
    if text in REGISTRY:
        path = REGISTRY[text]
        return ModelRef(_check(_import(path, text), text, path), path, text, "registry")
    points = _entry_points()
    if text in points:
        point = points[text]
        try:
            cls = point.load()
        except Exception as exc:  # noqa: BLE001 - any failure of a plug-in's import is the plug-in's
            raise InputError(f"model {text!r}: the entry point {point.value!r} (group {ENTRY_POINT_GROUP}) cannot "
                             f"be loaded ({type(exc).__name__}: {exc})") from None
        return ModelRef(_check(cls, text, point.value), point.value, text, "entry-point")
    if ":" in text:
        return ModelRef(_check(_import(text, text), text, text), text, text, "import")
    raise InputError(f"unknown model {text!r}; registered models: {', '.join(model_names())} (or give "
                     "module:Class, or register one under the entry-point group 'mebench.models')")
