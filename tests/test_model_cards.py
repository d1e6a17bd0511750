"""Baseline model cards (`cards/models/<name>.md`, DESIGN.md sections 8 and 10): one card per registered model, in the
Hugging Face card format (YAML front matter + Markdown), whose front matter names the class the registry resolves and
whose body says what differs from the paper and how to run it."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from mebench.models import REGISTRY

CARDS = Path(__file__).resolve().parents[1] / "cards" / "models"
# Models that execute a coding rather than re-implement a paper's method: their section is named after "the source".
SOURCE_NOT_PAPER = {"au-rules", "au-oracle"}


def card_files() -> list[Path]:
    return sorted(CARDS.glob("*.md"))


def split(text: str) -> tuple[dict, str]:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert match, f"no YAML front matter: {text[:120]!r}"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict), "front matter is not a mapping"
    return meta, match.group(2)


def headings(body: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^## (.+)$", body, re.M)]


def load(name: str) -> tuple[dict, str]:
    path = CARDS / f"{name}.md"
    assert path.is_file(), f"model {name!r} is registered but has no card {path}"
    return split(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_model_has_a_card_naming_its_class(name):
    meta, _ = load(name)
    assert meta["model_name"] == name
    assert meta["library_name"] == "mebench"
    assert isinstance(meta.get("tags"), list) and meta["tags"]
    assert meta["mebench"]["name"] == name
    assert meta["mebench"]["class"] == REGISTRY[name]


@pytest.mark.parametrize("path", card_files(), ids=lambda p: p.stem)
def test_card_front_matter_matches_the_class(path):
    meta, _ = split(path.read_text(encoding="utf-8"))
    m = meta["mebench"]
    assert path.stem == meta["model_name"] == m["name"]
    module, _, attr = str(m["class"]).partition(":")
    cls = getattr(importlib.import_module(module), attr)
    assert cls.name == m["name"]
    assert str(cls.version) == str(m["version"])
    assert list(getattr(cls, "tasks", ())) == list(m["tasks"])
    assert isinstance(m["demo_protocols"], list)
    assert isinstance(m["source_papers"], list)
    for paper in m["source_papers"]:
        assert {"seed", "file", "title", "authors"} <= set(paper)
        assert re.fullmatch(r"00[0-4]", str(paper["seed"])), paper["seed"]  # the seed papers of shared/seeds
        assert str(paper["file"]).startswith(f"{paper['seed']}_"), paper["file"]


def test_demo_protocols_are_the_demo_plan():
    from mebench.commands.demo import PLAN

    planned: dict[str, list[str]] = {}
    for entry in PLAN:
        planned.setdefault(entry.model, []).append(entry.protocol)
    for path in card_files():
        meta, _ = split(path.read_text(encoding="utf-8"))
        assert sorted(meta["mebench"]["demo_protocols"]) == sorted(planned.get(path.stem, [])), path.stem


@pytest.mark.parametrize("path", card_files(), ids=lambda p: p.stem)
def test_card_sections(path):
    _, body = split(path.read_text(encoding="utf-8"))
    found = headings(body)
    differs = "What differs from the source" if path.stem in SOURCE_NOT_PAPER else "What differs from the paper"
    for title in ("Summary", "Method", "Source paper", differs, "Inputs it reads and what it never sees",
                  "Intended use and limits", "How to run", "Results"):
        assert title in found, f"{path.name}: no '## {title}' section (has {found})"
    run = body[body.index("## How to run"):]
    assert f"--model {path.stem}" in run
    results = body[body.index("## Results"):]
    assert "leaderboards/" in results

