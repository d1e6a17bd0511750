"""`mebench demo` reuses an earlier run's record only while it is what running the baseline now would give."""

from __future__ import annotations

from mebench.commands.demo import DemoRun, _still_current
from mebench.models import resolve_model
from mebench.protocol import load_protocol


def _record(fingerprint: str, protocol: str, model: str) -> dict:
    ref = resolve_model(model)
    return {"corpus": {"fingerprint": fingerprint},
            "protocol": {"id": protocol, "sha256": load_protocol(protocol).sha256},
            "submission": {"model": {"class": ref.path, "version": str(ref.cls.version)}}}


def test_a_record_is_reused_only_for_the_same_corpus_protocol_and_model_version():
    entry = DemoRun("au-prototype", "casme-sq-spotting")
    record = _record("abc", entry.protocol, entry.model)
    assert _still_current(record, entry, "abc")
    assert not _still_current(record, entry, "other corpus")
    older = {**record, "submission": {"model": {**record["submission"]["model"], "version": "1.0.0"}}}
    assert not _still_current(older, entry, "abc")  # au-prototype 1.1.0 changed its flow scale
    edited = {**record, "protocol": {**record["protocol"], "sha256": "0" * 64}}
    assert not _still_current(edited, entry, "abc")
    moved = {**record, "submission": {"model": {**record["submission"]["model"], "class": "x:Y"}}}
    assert not _still_current(moved, entry, "abc")
