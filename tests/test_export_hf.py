"""`mebench export hf`: a corpus built from the real CASME II + SAMM files becomes a datasets.DatasetDict (one split
per dataset, declared features) saved with save_to_disk; loading it with datasets.load_from_disk in a fresh process
with HF_DATASETS_OFFLINE=1 and every network connection refused gives back the same rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import real_file
from mebench.cli import main
from mebench.corpus import Source, build_corpus, read_samples

COMPARED = ["sample_id", "dataset", "subject", "person", "clip", "onset", "apex", "offset", "fps", "expression_type",
            "aus", "au_codes", "au_raw", "emotion", "emotions", "objective_class", "errata", "emo_megc3", "source_row"]

# Run in the child: refuse every socket connection before datasets is imported, then load and dump the rows.
LOADER = r"""
import json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network disabled in this test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import datasets

dd = datasets.load_from_disk(sys.argv[1])
out = {"splits": {}, "features": {}, "description": {}, "citation": {}}
for name, ds in dd.items():
    out["splits"][name] = ds.to_list()
    out["features"][name] = {k: repr(v) for k, v in ds.features.items()}
    out["description"][name] = ds.info.description
    out["citation"][name] = ds.info.citation
json.dump(out, sys.stdout, default=str)
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("export")
    corpus = root / "corpus"
    build_corpus([Source("casme2", real_file("casme2/CASME2-coding-20140508.xlsx")),
                  Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))], corpus)
    out = root / "hf"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        assert main(["export", "hf", "--corpus", str(corpus), "--out", str(out)]) == 0
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(root / "hf-home"),
           "NO_PROXY": "*"}
    done = subprocess.run([sys.executable, "-c", LOADER, str(out)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"corpus": corpus, "out": out, "loaded": json.loads(done.stdout)}


def _plain(value):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NA:
        return None
    return value


def test_one_split_per_dataset_with_the_same_rows(exported):
    samples = read_samples(exported["corpus"])
    loaded = exported["loaded"]["splits"]
    assert list(loaded) == ["casme2", "samm"]
    assert {k: len(v) for k, v in loaded.items()} == {"casme2": 255, "samm": 159}
    for split, rows in loaded.items():
        expected = samples[samples["dataset"] == split]
        assert [r["sample_id"] for r in rows] == expected["sample_id"].tolist()
        for row, (_, want) in zip(rows, expected.iterrows()):
            for column in COMPARED:
                assert _plain(row[column]) == _plain(want[column]), (row["sample_id"], column)
            assert set(row) == set(samples.columns)


def test_features_are_declared_from_the_schema(exported):
    features = exported["loaded"]["features"]["samm"]
    assert features["aus"] == "List(Value('int16'))"
    assert features["au_codes"].startswith("List({'au': Value('int16'), 'side': Value('string')")
    assert "'static': Value('bool')" in features["au_codes"]
    assert features["onset"] == "Value('int64')" and features["fps"] == "Value('float64')"
    assert features["errata"] == "List(Value('string'))" and features["emo_megc3"] == "List(Value('string'))"
    assert features["video_id"] == "Value('string')"  # all null in these files, typed all the same


def test_card_is_readme_and_info(exported):
    out = exported["out"]
    readme = (out / "README.md").read_text()
    assert readme.startswith("---\n") and "## Counts by dataset" in readme and "## This export" in readme
    assert "`casme2` (casme2), `samm` (samm)" in readme
    assert exported["loaded"]["description"]["casme2"] == readme
    assert "@article{yan2014casme2" in exported["loaded"]["citation"]["samm"]
    manifest = json.loads((out / "mebench_export.json").read_text())
    meta = json.loads((exported["corpus"] / "corpus.json").read_text())
    assert manifest["fingerprint"] == meta["fingerprint"] and manifest["splits"]["samm"]["rows"] == 159
    assert json.loads((out / "mebench_corpus.json").read_text()) == meta


def test_re_export_replaces_and_foreign_folder_is_refused(exported, tmp_path, capsys):
    assert main(["export", "hf", "--corpus", str(exported["corpus"]), "--out", str(exported["out"])]) == 0
    assert not [p for p in exported["out"].parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    capsys.readouterr()
    assert main(["export", "hf", "--corpus", str(exported["corpus"]), "--out", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert "not a mebench export" in err and "Traceback" not in err
    assert (foreign / "keep.txt").read_text() == "mine"
    assert main(["export", "hf", "--corpus", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert "not a mebench corpus" in capsys.readouterr().err


def test_split_names_are_valid_for_dashed_datasets(tmp_path):
    from mebench.export import export_hf, split_name

    assert split_name("casme-sq") == "casme_sq" and split_name("samm-lv") == "samm_lv" and split_name("4dme") == "4dme"
    corpus = tmp_path / "sq"
    build_corpus([Source("casme-sq", real_file("casme-sq/code_final.xlsx"))], corpus)
    result = export_hf(corpus, tmp_path / "hf")
    assert result.splits == {"casme_sq": 357}
    assert result.videos is not None and (tmp_path / "hf" / "videos" / "dataset_info.json").exists()
