"""The AU baselines: `au-rules` reproduces a scheme-derived label exactly (UF1 = 1 on merged-loso-4dme), maps a
scheme onto native classes; `au-oracle` says how far the real CASME II emotions follow from the AUs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import test_runner_support as support
from mebench.cli import main
from mebench.labels import harmonize
from mebench.models.au_oracle import AuOracle
from mebench.models.au_rules import AuRules
from mebench.protocol import load_protocol
from mebench.runner import predictions_csv, run_protocol
from mebench.views import ProtocolFacts, View


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> Path:
    return support.real_corpus(tmp_path_factory.mktemp("au") / "corpus", with_casme_sq=True)


def test_au_rules_reproduces_the_4dme_labels(merged, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "--protocol", "merged-loso-4dme", "--corpus", str(merged), "--model", "au-rules",
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    record = json.loads(out.read_text())
    assert record["metrics"] == {"uf1": 1.0, "uar": 1.0, "accuracy": 1.0}
    assert record["details"]["n"] == 458 and {"casme2", "samm", "casme-sq"} == set(record["corpus"]["datasets"])
    assert record["submission"]["model"]["params"] == {"scheme": None, "fallback": None}
    view = record["details"]["harness"]["test_view"]
    assert view["label_from_visible_columns"] is True and "leak by design" in view["notes"][0]
    assert "emo_4dme" in view["hidden_columns"] and "aus" not in view["hidden_columns"]
    assert "note: leak by design" in capsys.readouterr().out


def test_au_oracle_on_the_real_casme2_labels(merged, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "--protocol", "casme2-loso-5class", "--corpus", str(merged), "--model", "au-oracle",
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    uf1 = record["metrics"]["uf1"]
    assert 0 < uf1 < 1
    assert len(record["per_fold"]) == 26 and record["details"]["n"] == 246
    line = next(line for line in printed.splitlines() if line.startswith("au-oracle UF1"))
    assert f"au-oracle UF1 {uf1:.2f}" in line and "native emotions are this predictable" in printed
    assert "ground-truth AUs alone" in printed.replace("\n", " ")
    assert record["details"]["harness"]["test_view"]["label_from_visible_columns"] is False


def _views(protocol_id: str, train: pd.DataFrame, labels, test: pd.DataFrame) -> tuple[View, View]:
    protocol = load_protocol(protocol_id)
    facts = ProtocolFacts.of(protocol)
    return (View(train, role="train", protocol=facts, labels=labels),
            View(test, role="test", protocol=facts))


def test_au_rules_maps_a_scheme_onto_native_classes():
    train = pd.DataFrame({"sample_id": list("abcdef"), "aus": [[4], [4], [14], [12], [1, 2], [1]]})
    labels = pd.Series(["disgust", "disgust", "repression", "happiness", "surprise", "others"])
    test = pd.DataFrame({"sample_id": list("uvwxyz"), "aus": [[12], [4, 9], [14, 17], [1, 2], [], [45]]})
    tr, te = _views("casme2-loso-5class", train, labels, test)
    model = AuRules().fit(tr)
    # 4dme: positive -> happiness (synonym), negative -> disgust (the more frequent of disgust/repression in
    # training), repression -> repression, surprise -> surprise, no AU -> others, no-emotion AU -> others
    assert model.predict(te) == ["happiness", "disgust", "repression", "surprise", "others", "others"]
    tr, te = _views("megc2019-cd-3class", train, pd.Series(["negative"] * 4 + ["positive", "surprise"]), test)
    model = AuRules().fit(tr)
    # megc: repression -> negative via the protocol's own map; others and no label -> the training majority
    assert model.predict(te) == ["positive", "negative", "negative", "surprise", "negative", "negative"]
    tr, te = _views("casme2-loso-5class", train, labels, test)
    assert AuRules(scheme="basic6").fit(tr).predict(te)[:2] == ["happiness", "disgust"]
    with pytest.raises(Exception, match="reads 'emotion'"):
        AuRules(scheme="megc3").fit(tr)


def test_au_rules_and_oracle_on_a_multilabel_protocol(tmp_path):
    aus_cycle = [[12], [4], [1, 2], [14], [4, 1, 2], [12, 14]]
    rows = []
    for p in range(6):
        for c, aus in enumerate(aus_cycle):
            labels = list(harmonize(aus, "4dme")[0])
            rows.append({"dataset": "4dme", "subject_raw": f"{p:02d}", "clip": f"c{c}", "aus": aus,
                         "emotions": labels, "emotion": "+".join(labels)})
    corpus = support.write_corpus(tmp_path / "c", rows)
    result = run_protocol("4dme-5fold-emotion", corpus, "au-rules", cache=tmp_path / "cache", progress=False)
    record = result.record
    saved = tmp_path / "p.csv"
    saved.write_text(predictions_csv(load_protocol("4dme-5fold-emotion"), result.predictions))
    assert main(["score", "--protocol", "4dme-5fold-emotion", "--corpus", str(corpus), "--predictions", str(saved),
                 "--out", str(tmp_path / "s.json")]) == 0
    scored = json.loads((tmp_path / "s.json").read_text())
    assert scored["metrics"] == record["metrics"]
    assert scored["submission"]["predictions_sha256"] == record["submission"]["predictions_sha256"]
    per_label = record["metrics"]["per_label"]
    assert {k: v["f1"] for k, v in per_label.items()} == {"negative": 1.0, "others": 0.0, "positive": 1.0,
                                                          "repression": 1.0, "surprise": 1.0}  # no 'others' at all
    assert record["metrics"]["f1"] == pytest.approx(0.8) and record["metrics"]["accuracy"] == 1.0
    assert record["details"]["harness"]["test_view"]["label_from_visible_columns"] is True
    oracle = run_protocol("4dme-5fold-emotion", corpus, "au-oracle", cache=tmp_path / "cache", progress=False)
    assert oracle.record["metrics"]["accuracy"] == 1.0
    assert "labels computed from the AUs" in oracle.summary


def test_au_oracle_uses_only_training_aus():
    train = pd.DataFrame({"sample_id": list("abcd"), "aus": [[12], [12, 6], [4], [4, 9]]})
    labels = pd.Series(["happiness", "happiness", "disgust", "disgust"])
    test = pd.DataFrame({"sample_id": list("xyz"), "aus": [[12, 99], [4, 43], [50]]})
    tr, te = _views("casme2-loso-5class", train, labels, test)
    model = AuOracle(seed=3).fit(tr)
    assert model.vocabulary_ == [4, 6, 9, 12]
    assert model.features(te.samples).tolist() == [[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert model.predict(te)[:2] == ["happiness", "disgust"]
    svc = AuOracle(classifier="linearsvc").fit(tr)
    assert svc.predict(te)[:2] == ["happiness", "disgust"]
