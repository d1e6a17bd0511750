"""Dataset loaders, one module per dataset, installed as ``mebench.loaders``.

Each module reads its dataset's native annotation file (and media layout) into rows of the corpus schema. The
registry maps the loader names users type (``mebench build --source NAME=PATH``) to those modules.
"""

from __future__ import annotations

from importlib import import_module

from mebench.errors import InputError

# loader name -> module (4dme is not a valid identifier, hence fourdme)
REGISTRY = {
    "casme2": "casme2",
    "samm": "samm",
    "samm-lv": "samm_lv",
    "casme-sq": "casme_sq",
    "casmemg": "casmemg",
    "4dme": "fourdme",
}


def names() -> list[str]:
    return list(REGISTRY)


def get_loader(name: str, templates: dict[str, str] | None = None):
    """An instance of the loader called `name`; an unknown name is an InputError listing the known ones."""
    if name not in REGISTRY:
        raise InputError(f"unknown loader {name!r}; known loaders: {', '.join(REGISTRY)}")
    module = import_module(f"{__name__}.{REGISTRY[name]}")
    return module.Loader(templates)
