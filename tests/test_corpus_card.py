"""The generated corpus card (`mebench card --corpus DIR` -> DIR/README.md): Hugging Face card format (YAML front
matter + Markdown) listing the counts by dataset, expression type and label scheme, the persons, the errata applied
with their rows, the fingerprint, the sources with their sha256, shadow or real, and the shipped dataset cards."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import real_file
from mebench.cli import main
from mebench.corpus import Source, build_corpus
from mebench.corpus_card import dataset_card, render_corpus_card


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("card") / "corpus"
    build_corpus([Source("casme2", real_file("casme2/CASME2-coding-20140508.xlsx")),
                  Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))], out)
    return out


def split(card: str) -> tuple[dict, str]:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", card, re.S)
    assert match, card[:200]
    return yaml.safe_load(match.group(1)), match.group(2)


def section(body: str, title: str) -> str:
    start = body.index(f"## {title}\n")
    end = body.find("\n## ", start + 1)
    return body[start:] if end < 0 else body[start:end]


def test_card_command_writes_readme_with_front_matter(corpus, capsys):
    assert main(["card", "--corpus", str(corpus)]) == 0
    card = (corpus / "README.md").read_text()
    front, body = split(card)
    meta = json.loads((corpus / "corpus.json").read_text())
    assert front["license"] == "other" and front["pretty_name"].startswith("mebench corpus")
    assert front["size_categories"] == ["n<1K"] and "micro-expression" in front["tags"]
    m = front["mebench"]
    assert m["fingerprint"] == meta["fingerprint"] and m["shadow"] is False
    assert m["counts"] == meta["counts"] and m["n_samples"] == 414 and m["datasets"] == ["casme2", "samm"]
    assert m["errata_applied"] == meta["errata_applied"]
    assert [s["annotation_sha256"] for s in m["sources"]] == [s["annotation_sha256"] for s in meta["sources"]]
    assert m["dataset_cards"] == {"casme2": "mebench.cards/casme2.md", "samm": "mebench.cards/samm.md"}
    assert f"`{meta['fingerprint']}`" in body and "Real datasets" in body
    assert card == render_corpus_card(corpus)  # deterministic


def test_card_lists_counts(corpus):
    _, body = split(render_corpus_card(corpus))
    counts = section(body, "Counts by dataset")
    assert "| casme2 | 255 | 26 | 26 | 255 | 0 | 0 |" in counts
    assert "| samm | 159 | 29 | 29 | 159 | 0 | 0 |" in counts
    assert "Total: 414 samples, 55 persons." in counts
    emotions = section(body, "Native emotion labels")
    assert "| others | 99 | 26 |" in emotions and "| anger | 0 | 57 |" in emotions
    schemes = body[body.index("## Label schemes"):body.index("## Errata applied")]
    megc3 = schemes[schemes.index("### `megc3`"):]
    # megc3 on these files: CASME II negative 99 (disgust 63 + repression 27 + sadness 7 + fear 2), SAMM 92
    assert "| negative | 99 | 92 |" in megc3 and "| positive | 32 | 26 |" in megc3
    assert "| surprise | 25 | 15 |" in megc3
    assert "### `4dme`" in schemes and "### `basic6`" in schemes
    assert "| casme2 | 255 | 0 | 0 |" in section(body, "Expression types")


def test_card_lists_errata_with_reasons_and_rows(corpus):
    _, body = split(render_corpus_card(corpus))
    errata = section(body, "Errata applied")
    for eid, sample in (("casme2:04/EP12_01f:apex-slash", "casme2/04/EP12_01f"),
                        ("samm:028_4_1:apex-after-offset", "samm/028/028_4_1"),
                        ("samm:032_3_1:apex-before-onset", "samm/032/032_3_1")):
        assert f"| `{eid}` | 1 |" in errata
        assert f"- `{eid}`: `{sample}`" in errata
    assert "Apex 1143 lies after the offset 1134" in errata


def test_sources_and_dataset_cards(corpus):
    _, body = split(render_corpus_card(corpus))
    meta = json.loads((corpus / "corpus.json").read_text())
    sources = section(body, "Sources")
    for s in meta["sources"]:
        assert f"`{s['annotation_sha256']}`" in sources and Path(s["annotation_file"]).name in sources
    cards = section(body, "Dataset cards")
    assert "[CASME II](cards/casme2.md)" in cards and "`mebench.cards/samm.md`" in cards
    assert "@article{yan2014casme2" in section(body, "Citation")
    assert dataset_card("casme2")["license"] == "other" and dataset_card("nope") is None


def test_card_of_a_shadow_corpus_says_so(corpus, tmp_path):
    shadow = tmp_path / "shadow"
    shutil.copytree(corpus, shadow)
    meta = json.loads((shadow / "corpus.json").read_text())
    meta["shadow"] = True
    (shadow / "corpus.json").write_text(json.dumps(meta))
    front, body = split(render_corpus_card(shadow))
    assert front["mebench"]["shadow"] is True and front["pretty_name"].startswith("SHADOW")
    assert "synthetic" in front["tags"] and "(SHADOW: synthetic data)" in body and "Shadow corpus." in body


def test_casme_sq_card_lists_its_errata_and_types(tmp_path):
    out = tmp_path / "sq"
    build_corpus([Source("casme-sq", real_file("casme-sq/code_final.xlsx"))], out)
    _, body = split(render_corpus_card(out))
    assert "| casme-sq | 357 | 22 | 22 | 57 | 300 | 0 |" in section(body, "Counts by dataset")
    errata = section(body, "Errata applied")
    assert "| `casme-sq:offset-zero-missing` | 44 |" in errata
    assert "`videos.parquet`" in body


def test_a_card_written_by_the_build_is_the_rendered_card(tmp_path):
    """Once `mebench build` writes DIR/README.md (proposed change to mebench/corpus.py), it must be this card."""
    out = tmp_path / "samm"
    build_corpus([Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))], out)
    built = out / "README.md"
    if built.exists():
        assert built.read_text() == render_corpus_card(out)


def test_card_bad_input_is_exit_2(tmp_path, capsys):
    assert main(["card", "--corpus", str(tmp_path / "missing")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["card", "--corpus", str(tmp_path / "empty")]) == 2
    assert "not a mebench corpus" in capsys.readouterr().err
