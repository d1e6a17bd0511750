"""`mebench leaderboard add` / `verify`: a record added with its predictions file verifies; altering one byte of the
record or of its predictions file makes verify fail (exit 1) naming what was altered; malformed input is exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import real_file
from mebench.cli import main
from mebench.corpus import Source, build_corpus
from mebench.leaderboard.records import (CHECKSUM_KEY, canonical_json, read_record, record_checksum, record_text,
                                         verify_results)
from mebench.protocol import load_corpus, load_protocol

PID = "samm-loso-5class"


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("verify")
    corpus = root / "corpus"
    build_corpus([Source("samm", real_file("samm/SAMM_Micro_FACS_Codes_v2.xlsx"))], corpus)
    truth = load_protocol(PID).select(load_corpus(corpus))[["sample_id", "label"]].astype(str)
    predictions = root / "perfect.csv"
    truth.to_csv(predictions, index=False)
    record = root / "perfect.json"
    assert main(["score", "--protocol", PID, "--corpus", str(corpus), "--predictions", str(predictions),
                 "--out", str(record)]) == 0
    return {"record": record, "predictions": predictions, "corpus": corpus}


@pytest.fixture
def results(scored, tmp_path) -> Path:
    folder = tmp_path / "results"
    assert main(["leaderboard", "add", str(scored["record"]), "--predictions", str(scored["predictions"]),
                 "--results", str(folder)]) == 0
    return folder


def the_record(results: Path) -> Path:
    (path,) = [p for p in results.glob("*.json")]
    return path


def flip_byte(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    at = data.index(old)
    path.write_bytes(data[:at] + new + data[at + len(old):])


def verify(capsys, results: Path) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["leaderboard", "verify", "--results", str(results)])
    return code, capsys.readouterr().out


def test_added_record_verifies(results, scored, capsys):
    path = the_record(results)
    record = json.loads(path.read_text())
    assert record[CHECKSUM_KEY] == record_checksum(record)
    assert record["leaderboard"]["predictions_file"] == path.stem + ".predictions.csv"
    assert (results / record["leaderboard"]["predictions_file"]).read_bytes() == scored["predictions"].read_bytes()
    assert path.read_text() == record_text(record)
    code, out = verify(capsys, results)
    assert code == 0 and "all 1 record(s) verified" in out
    (check,) = verify_results(results)
    assert check.ok and check.checked == ["record checksum", "protocol spec sha256", "predictions sha256"]


def test_checksum_is_over_canonical_json_without_itself(results):
    record = json.loads(the_record(results).read_text())
    canon = canonical_json(record)
    assert not canon.startswith(b'{"checksum"') and b'"checksum":' not in canon
    assert canon == json.dumps(json.loads(canon), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode("utf-8")
    assert json.loads(canon) == {k: v for k, v in record.items() if k != CHECKSUM_KEY}
    shuffled = dict(reversed(list(record.items())))
    assert record_checksum(shuffled) == record[CHECKSUM_KEY]  # key order does not matter


def test_one_byte_of_the_record_altered_fails(results, capsys):
    path = the_record(results)
    flip_byte(path, b'"uf1": 1.0', b'"uf1": 0.0')
    code, out = verify(capsys, results)
    assert code == 1
    assert f"ALTERED {path.name}: record content altered" in out
    assert "1 of 1 failed verification" in out


def test_one_byte_of_whitespace_altered_fails(results, capsys):
    path = the_record(results)
    flip_byte(path, b'{\n  "protocol"', b'{\n "protocol"')
    code, out = verify(capsys, results)
    assert code == 1 and "record file bytes altered" in out


def test_one_byte_of_the_predictions_altered_fails(results, capsys):
    path = the_record(results)
    predictions = path.with_name(path.stem + ".predictions.csv")
    data = bytearray(predictions.read_bytes())
    data[-2] = ord("x") if data[-2] != ord("x") else ord("y")
    predictions.write_bytes(bytes(data))
    code, out = verify(capsys, results)
    assert code == 1 and f"predictions file {predictions.name} altered" in out


def test_missing_predictions_file_fails(results, capsys):
    path = the_record(results)
    path.with_name(path.stem + ".predictions.csv").unlink()
    code, out = verify(capsys, results)
    assert code == 1 and "is missing" in out


def test_protocol_sha_altered_fails_even_with_a_fresh_checksum(results, capsys):
    path = the_record(results)
    record = json.loads(path.read_text())
    record["protocol"]["sha256"] = "0" * 64
    record[CHECKSUM_KEY] = record_checksum(record)
    path.write_text(record_text(record))
    code, out = verify(capsys, results)
    assert code == 1 and "differs from the shipped spec" in out


def test_record_without_checksum_and_stray_predictions_fail(results, scored, capsys):
    shutil.copy(scored["record"], results / "unadded.json")
    (results / "orphan.predictions.csv").write_text("sample_id,label\n")
    code, out = verify(capsys, results)
    assert code == 1
    assert "ALTERED unadded.json: no record checksum" in out
    assert "stray predictions file orphan.predictions.csv" in out


def test_malformed_record_is_exit_2(results, capsys):
    path = the_record(results)
    flip_byte(path, b"{", b"[")
    capsys.readouterr()
    assert main(["leaderboard", "verify", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert path.name in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_add_checks_the_predictions_hash_and_is_idempotent(scored, tmp_path, capsys):
    results = tmp_path / "results"
    other = tmp_path / "other.csv"
    other.write_bytes(scored["predictions"].read_bytes() + b"\n")
    assert main(["leaderboard", "add", str(scored["record"]), "--predictions", str(other),
                 "--results", str(results)]) == 2
    assert "does not match the record's predictions_sha256" in capsys.readouterr().err
    assert not results.exists() or not list(results.glob("*.json"))
    alone = tmp_path / "alone"  # the record without its predictions file beside it
    alone.mkdir()
    (alone / scored["record"].name).write_bytes(scored["record"].read_bytes())
    assert main(["leaderboard", "add", str(alone / scored["record"].name), "--results", str(results)]) == 2
    assert "--predictions" in capsys.readouterr().err
    for _ in range(2):
        assert main(["leaderboard", "add", str(scored["record"]), "--predictions", str(scored["predictions"]),
                     "--results", str(results)]) == 0
    assert len(list(results.glob("*.json"))) == 1 and len(list(results.glob("*.predictions.csv"))) == 1
    # the record names its scored file, so beside it no --predictions is needed
    assert main(["leaderboard", "add", str(scored["record"]), "--results", str(tmp_path / "results2")]) == 0


def test_add_refuses_an_altered_or_stale_record(scored, tmp_path, capsys):
    record = json.loads(scored["record"].read_text())
    record["protocol"]["version"] = "0"
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(record))
    assert main(["leaderboard", "add", str(stale), "--predictions", str(scored["predictions"]),
                 "--results", str(tmp_path / "r")]) == 2
    assert "is not the shipped version" in capsys.readouterr().err
    record = json.loads(scored["record"].read_text())
    record[CHECKSUM_KEY] = "sha256:" + "0" * 64
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    assert main(["leaderboard", "add", str(bad), "--predictions", str(scored["predictions"]),
                 "--results", str(tmp_path / "r")]) == 2
    assert "does not match its content" in capsys.readouterr().err
    (tmp_path / "notrecord.json").write_text('{"a": 1}')
    assert main(["leaderboard", "add", str(tmp_path / "notrecord.json"), "--results", str(tmp_path / "r")]) == 2
    assert "not a results record" in capsys.readouterr().err


def test_read_record_names_the_file(tmp_path):
    from mebench.errors import InputError

    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(InputError, match="not a results record"):
        read_record(tmp_path / "x.json")
