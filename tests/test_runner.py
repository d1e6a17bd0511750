"""`mebench run` (the harness): harness-run records, identical metrics on the Dask backend, no label in the test view,
aligned training labels, fresh models and deterministic seeds per fold, and clean exit-2 failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import test_runner_support as support
from conftest import assert_clean_failure
from mebench.cli import main
from mebench.errors import InputError
from mebench.models import REGISTRY, resolve_model
from mebench.protocol import load_corpus, load_protocol
from mebench.results import RECORD_KEYS
from mebench.runner import fold_seed, run_protocol
from mebench.views import hidden_columns

TIMING = ("fit_s", "predict_s")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return support.real_corpus(tmp_path_factory.mktemp("run") / "corpus")


def run_cli(*args: str) -> int:
    return main(["run", *args])


def strip_timing(record: dict) -> list[dict]:
    return [{k: v for k, v in f.items() if k not in TIMING} for f in record["per_fold"]]


# --------------------------------------------------------------------------------------------- acceptance 1


def test_au_oracle_record_and_identical_metrics_on_joblib_and_dask(corpus, tmp_path, capsys):
    out = tmp_path / "serial.json"
    assert run_cli("--protocol", "megc2019-cd-3class", "--corpus", str(corpus), "--model", "au-oracle",
                   "--out", str(out), "--cache-dir", str(tmp_path / "cache")) == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    assert set(RECORD_KEYS) <= set(record)
    submission = record["submission"]
    assert submission["kind"] == "harness-run" and submission["name"] == "au-oracle"
    model = submission["model"]
    assert model["name"] == "au-oracle" and model["version"] == "1"
    assert model["class"] == "mebench.models.au_oracle:AuOracle" and model["source"] == "registry"
    assert model["params"]["classifier"] == "logreg" and model["params"]["class_weight"] == "balanced"
    assert submission["seeds"]["base"] == 0
    assert submission["seeds"]["per_fold"] == [fold_seed(0, f) for f in range(52)]
    assert len(submission["predictions_sha256"]) == 64
    assert len(record["per_fold"]) == 52
    assert all(f["seed"] == fold_seed(0, f["fold"]) and f["fit_s"] >= 0 and f["predict_s"] >= 0
               for f in record["per_fold"])
    assert 0 < record["metrics"]["uf1"] < 1 and record["ci"]["uf1"]["n_boot"] == 1000
    assert record["details"]["harness"]["backend"] == "joblib"
    assert "emotion" in record["details"]["harness"]["test_view"]["hidden_columns"]
    assert "uf1" in printed and "per fold (52 folds" in printed and "au-oracle UF1" in printed

    # the same run on joblib workers and on a real Dask LocalCluster (2 worker processes): identical numbers
    parallel = run_protocol("megc2019-cd-3class", corpus, "au-oracle", jobs=2, cache=tmp_path / "cache",
                            progress=False).record
    out_dask = tmp_path / "dask.json"
    assert run_cli("--protocol", "megc2019-cd-3class", "--corpus", str(corpus), "--model", "au-oracle",
                   "--backend", "dask", "--out", str(out_dask), "--cache-dir", str(tmp_path / "cache")) == 0
    dask = json.loads(out_dask.read_text())
    assert dask["details"]["harness"]["backend"] == "dask"
    assert dask["details"]["harness"]["scheduler"] == "LocalCluster"
    assert dask["details"]["harness"]["workers"] == 2
    for other in (parallel, dask):
        assert other["metrics"] == record["metrics"]
        assert other["ci"] == record["ci"]
        assert strip_timing(other) == strip_timing(record)
        assert other["submission"]["predictions_sha256"] == submission["predictions_sha256"]
        assert other["submission"]["seeds"] == submission["seeds"]


# --------------------------------------------------------------------------------------------- acceptance 2


def test_test_view_has_no_label_and_train_labels_align(corpus, tmp_path):
    support.Probe.log.clear()
    support.Probe.instances = 0
    result = run_protocol("megc2019-cd-3class", corpus, "test_runner_support:Probe", seed=7,
                          cache=tmp_path / "cache", progress=False)
    protocol = load_protocol("megc2019-cd-3class")
    selection = protocol.apply(load_corpus(corpus))
    truth = dict(zip(selection.rows["sample_id"], selection.rows["label"]))
    log = support.Probe.log
    assert len(log) == 52
    assert support.Probe.instances == 52 + 1  # a fresh model per fold (+ the probe instance that is never fitted)
    seen_test: list[str] = []
    for entry in log:
        found = [c for c in entry["test_columns"]
                 if c in support.LABEL_WORDS or c.startswith("emo_") or c.startswith("gt_")]
        assert found == [], found
        assert entry["test_has_labels"] is False
        assert entry["aligned"]
        assert entry["train_labels"] == [truth[s] for s in entry["train_ids"]]
        assert entry["train_labels"] == entry["train_label_column"]
        assert set(entry["train_ids"]).isdisjoint(entry["test_ids"])
        assert "aus" in entry["test_columns"] and "frames_dir" in entry["test_columns"]
        assert entry["nested_write"] == "refused" and not entry["write_leaked"] and not entry["leak_in_test"]
        assert entry["seed"] == fold_seed(7, entry["fold"])
        seen_test += entry["test_ids"]
    assert sorted(seen_test) == sorted(truth)
    # the global generators are seeded per fold: the same draw for the same fold in another run
    first = {e["fold"]: e["np_draw"] for e in log}
    support.Probe.log.clear()
    run_protocol("megc2019-cd-3class", corpus, "test_runner_support:Probe", seed=7, cache=tmp_path / "cache",
                 progress=False)
    assert {e["fold"]: e["np_draw"] for e in support.Probe.log} == first
    assert result.record["details"]["harness"]["test_view"]["ground_truth_aus_visible"] is True


def test_hidden_columns_per_task():
    columns = ["sample_id", "aus", "au_codes", "au_raw", "emotion", "emotions", "emo_4dme", "emo_4dme_rule",
               "objective_class", "label", "onset", "frames_dir", "emg_onset_s", "clip_start_s"]
    recognition = hidden_columns(load_protocol("casme2-loso-5class"), columns)
    assert set(recognition) == {"emotion", "emotions", "emo_4dme", "emo_4dme_rule", "objective_class", "label"}
    au = hidden_columns(load_protocol("merged-lodo-au12"), columns)
    assert {"aus", "au_codes", "au_raw", "emotion", "emo_4dme"} <= set(au) and "frames_dir" not in au
    emg = hidden_columns(load_protocol("casmemg-emg-interval"), columns)
    assert {"emg_onset_s", "onset"} <= set(emg) and "clip_start_s" not in emg


def test_set_seed_entry_point_and_seed_option(corpus, tmp_path, monkeypatch, capsys):
    # a class registered by an installed package under the entry-point group mebench.models
    site = tmp_path / "site"
    info = site / "mebench_testplugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mebench-testplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mebench.models]\nplugin-set-seed = test_runner_support:SetSeed\n")
    monkeypatch.syspath_prepend(str(site))
    ref = resolve_model("plugin-set-seed")
    assert ref.source == "entry-point" and ref.cls is support.SetSeed
    support.SetSeed.seen.clear()
    out = tmp_path / "r.json"
    saved = tmp_path / "predictions.csv"
    assert run_cli("--protocol", "casme2-loso-3class", "--corpus", str(corpus), "--model", "plugin-set-seed",
                   "--seed", "3", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                   "--predictions-out", str(saved)) == 0
    record = json.loads(out.read_text())
    # the saved predictions scored by `mebench score`: the same numbers and the same predictions sha256
    scored = tmp_path / "scored.json"
    assert main(["score", "--protocol", "casme2-loso-3class", "--corpus", str(corpus), "--predictions", str(saved),
                 "--out", str(scored)]) == 0
    scored_record = json.loads(scored.read_text())
    assert scored_record["metrics"] == record["metrics"]
    assert scored_record["submission"]["predictions_sha256"] == record["submission"]["predictions_sha256"]
    folds = len(record["per_fold"])
    assert support.SetSeed.seen == [3] + [fold_seed(3, f) for f in range(folds)]
    assert record["submission"]["model"]["source"] == "entry-point"
    assert record["submission"]["model"]["class"] == "test_runner_support:SetSeed"
    assert record["submission"]["seeds"]["per_fold"] == [fold_seed(3, f) for f in range(folds)]
    assert fold_seed(3, 0) != fold_seed(0, 0) and fold_seed(3, 0) == fold_seed(3, 0)
    capsys.readouterr()


# --------------------------------------------------------------------------------------------- acceptance 4


@pytest.mark.parametrize("model, needles", [
    ("nosuch", ["unknown model 'nosuch'", "au-oracle", "au-rules", "module:Class"]),
    ("test_runner_support:NoFit", ["has no fit method", "fit(train) and predict(test)"]),
    ("test_runner_support:WrongCount",
     ["fold 0", "predict returned 8 predictions for the fold's 9 test samples (test: casme2/01)"]),
    ("test_runner_support:OutsideClasses", ["fold 0", "label outside the protocol's classes", "'joy'"]),
    ("nosuchmodule:Model", ["cannot import module 'nosuchmodule'"]),
    ("test_runner_support:Missing", ["has no attribute 'Missing'"]),
])
def test_bad_models_are_exit_2(corpus, tmp_path, capsys, model, needles):
    out = tmp_path / "results.json"
    code = run_cli("--protocol", "casme2-loso-5class", "--corpus", str(corpus), "--model", model, "--out", str(out),
                   "--cache-dir", str(tmp_path / "cache"))
    assert code == 2
    assert_clean_failure(capsys, out, *needles)


@pytest.mark.parametrize("extra, needles", [
    (["--model", "au-oracle", "--param", "bogus=1"], ["unexpected keyword argument 'bogus'"]),
    (["--model", "au-oracle", "--param", "classifier=forest"], ["classifier must be one of"]),
    (["--model", "au-oracle", "--param", "nonsense"], ["--param must be KEY=VALUE"]),
    (["--model", "au-rules", "--protocol", "merged-lodo-au12"], ["supports the task(s)", "au-detection"]),
    (["--model", "au-oracle", "--seed", "-1"], ["--seed must be a non-negative integer"]),
    (["--model", "au-oracle", "--jobs", "0"], ["--jobs must be"]),
])
def test_bad_options_are_exit_2(corpus, tmp_path, capsys, extra, needles):
    out = tmp_path / "results.json"
    args = ["--corpus", str(corpus), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), *extra]
    if "--protocol" not in extra:
        args += ["--protocol", "casme2-loso-5class"]
    assert run_cli(*args) == 2
    assert_clean_failure(capsys, out, *needles)


def test_registry_names_importable_classes():
    for name, path in REGISTRY.items():
        ref = resolve_model(name)
        assert ref.path == path and ref.name == name and ref.version
        assert callable(ref.cls.fit) and callable(ref.cls.predict)
    with pytest.raises(InputError, match="unknown model"):
        resolve_model("nosuch")
