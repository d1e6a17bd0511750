"""Leaderboard records: add a results record to `leaderboards/results/`, checksum it, and verify every hash later.

A leaderboard row is only as good as the record behind it, so a record on the leaderboard carries three hashes that
``verify`` recomputes:

- ``protocol.sha256``: the sha256 of the protocol spec it was scored on; must equal the shipped spec of that id and
  version (a record on a changed spec is stale, not comparable);
- ``submission.predictions_sha256``: the sha256 of the predictions file that was scored. `mebench score` records the
  hash but not the file, so ``add`` stores a copy beside the record (``<record>.predictions.csv`` or ``.parquet``,
  named in ``leaderboard.predictions_file``) after checking its hash, and ``verify`` re-hashes that copy;
- ``checksum``: ``"sha256:<hex>"`` of the record's canonical JSON (keys sorted, no whitespace, UTF-8) without the
  ``checksum`` field itself, added by ``add``. Any change of a value changes it.

The record file is written exactly as ``mebench.results.write_record`` writes (2-space indented JSON), and ``verify``
also checks the file's bytes against that form, so that no byte of a record can change unnoticed (a whitespace edit
leaves the content checksum intact but is still reported).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mebench.corpus import sha256_file as file_sha256  # one file hash for corpora, records, predictions
from mebench.errors import InputError
from mebench.results import KINDS, RECORD_KEYS, write_record

__all__ = ["CHECKSUM_KEY", "LEADERBOARD_KEY", "RecordFile", "Verification", "add_record", "canonical_json",
           "file_sha256", "find_records", "read_record", "record_checksum", "record_text", "verify_record",
           "verify_results"]

CHECKSUM_KEY = "checksum"
LEADERBOARD_KEY = "leaderboard"
PREDICTIONS_INFIX = ".predictions"
PREDICTION_SUFFIXES = (".csv", ".parquet")


# ------------------------------------------------------------------------------------------------------ hashing


def canonical_json(record: dict[str, Any]) -> bytes:
    """The bytes the checksum covers: the record without its checksum, keys sorted, no whitespace, UTF-8."""
    content = {k: v for k, v in record.items() if k != CHECKSUM_KEY}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_checksum(record: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(record)).hexdigest()


def record_text(record: dict[str, Any]) -> str:
    """The file text mebench writes for a record (as ``mebench.results.write_record``)."""
    return json.dumps(record, indent=2, allow_nan=False) + "\n"


# ------------------------------------------------------------------------------------------------------ reading


@dataclass
class RecordFile:
    """A record read from disk: its path, the parsed record and the raw bytes."""

    path: Path
    record: dict[str, Any]
    raw: bytes

    @property
    def id(self) -> str:
        return self.path.stem

    @property
    def predictions_path(self) -> Path | None:
        """The stored copy of the scored predictions (named in the record, else found by the naming rule)."""
        board = self.record.get(LEADERBOARD_KEY)
        if isinstance(board, dict) and board.get("predictions_file"):
            return self.path.parent / str(board["predictions_file"])
        for suffix in PREDICTION_SUFFIXES:
            candidate = self.path.with_name(self.path.stem + PREDICTIONS_INFIX + suffix)
            if candidate.exists():
                return candidate
        return None


def _check_shape(record: Any, path: Path | str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise InputError("not a results record (the JSON is not an object)", file=path)
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise InputError(f"not a results record: missing {', '.join(missing)}", file=path)
    for key, sub in (("protocol", ("id", "version", "sha256")), ("corpus", ("fingerprint", "shadow")),
                     ("submission", ("name", "kind", "predictions_sha256"))):
        part = record.get(key)
        if not isinstance(part, dict) or any(s not in part for s in sub):
            raise InputError(f"not a results record: '{key}' must hold {', '.join(sub)}", file=path)
    if record["submission"]["kind"] not in KINDS:
        raise InputError(f"submission kind must be one of {', '.join(KINDS)}, got {record['submission']['kind']!r}",
                         file=path)
    if not isinstance(record.get("metrics"), dict):
        raise InputError("not a results record: 'metrics' must be an object", file=path)
    return record


def read_record(path: str | Path) -> RecordFile:
    """Read and shape-check one record; InputError (exit 2) for anything that is not a results record."""
    path = Path(path)
    if not path.is_file():
        raise InputError("results record not found", file=path)
    raw = path.read_bytes()
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"results record is not valid JSON ({exc})", file=path) from None
    return RecordFile(path, _check_shape(record, path), raw)


def is_record_file(path: Path) -> bool:
    return path.suffix == ".json" and PREDICTIONS_INFIX not in path.name and not path.name.startswith(".")


def find_records(results: str | Path) -> list[RecordFile]:
    """Every record in a results folder (sorted by file name); the folder must exist."""
    results = Path(results)
    if not results.is_dir():
        raise InputError("results folder not found", file=results)
    return [read_record(p) for p in sorted(results.iterdir()) if p.is_file() and is_record_file(p)]


# ------------------------------------------------------------------------------------------------------ protocol


def protocol_problems(record: dict[str, Any]) -> list[str]:
    """Why the record's protocol is not the shipped spec of that id and version (empty list: it is)."""
    from mebench.protocol import load_protocol, protocol_ids

    info = record["protocol"]
    pid, version, sha = str(info.get("id")), str(info.get("version")), str(info.get("sha256"))
    if pid not in protocol_ids():
        return [f"protocol {pid!r} is not a shipped protocol (cannot check its spec sha256)"]
    shipped = load_protocol(pid)
    problems = []
    if version != str(shipped.version):
        problems.append(f"protocol {pid} version {version} is not the shipped version {shipped.version}")
    if sha != shipped.sha256:
        problems.append(f"protocol {pid} spec sha256 {sha[:12]}... differs from the shipped spec "
                        f"{shipped.sha256[:12]}...")
    return problems


# ------------------------------------------------------------------------------------------------------ add


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:60] or "submission"


def _stem(record: dict[str, Any]) -> str:
    corpus = record["corpus"]
    where = "shadow" if corpus.get("shadow") else "real"
    fp = str(corpus.get("fingerprint") or "nofingerprint")[:8]
    return f"{_slug(record['protocol']['id'])}--{_slug(record['submission']['name'])}--{where}-{fp}"


def add_record(record_path: str | Path, results: str | Path, predictions: str | Path | None = None) -> Path:
    """Put a results record on the leaderboard: check its protocol spec and predictions hash, copy the predictions
    beside it, add the checksum, write it (atomically) into `results`. Returns the record's path there.

    Adding the same record twice is a no-op that returns the existing file."""
    source = read_record(record_path)
    record = dict(source.record)
    if CHECKSUM_KEY in record:
        if record[CHECKSUM_KEY] != record_checksum(record):
            raise InputError("the record carries a checksum that does not match its content (altered after it "
                             "was added to a leaderboard)", file=source.path)
        record.pop(CHECKSUM_KEY)
    problems = protocol_problems(record)
    if problems:
        raise InputError("; ".join(problems) + " (re-score on the shipped protocol)", file=source.path)
    results = Path(results)
    if not results.is_dir():
        if results.exists() or not results.parent.is_dir():
            raise InputError("results folder cannot be created (not a folder, or its parent does not exist)",
                             file=results)
        results.mkdir()

    submission = record["submission"]
    expected = submission.get("predictions_sha256")
    pred_path = Path(predictions) if predictions is not None else source.predictions_path
    if pred_path is None and submission.get("predictions_file"):
        # a record that names its predictions file (as given to `mebench score`): beside the record, or as given
        named = Path(str(submission["predictions_file"]))
        candidates = [source.path.parent / named.name, source.path.parent / named, named]
        pred_path = next((c for c in candidates if c.is_file()), candidates[-1])
    if pred_path is None:
        if submission["kind"] == "predictions":
            raise InputError("a scored predictions file must travel with its record: give it with --predictions "
                             "FILE (its sha256 must match the record's predictions_sha256)", file=source.path)
    else:
        if not pred_path.is_file():
            hint = "" if predictions is not None else (" (the record names it but it is not beside the record: "
                                                       "give it with --predictions FILE)")
            raise InputError(f"predictions file not found{hint}", file=pred_path)
        if not expected:
            raise InputError("the record cites no predictions_sha256, so a predictions file cannot be attached",
                             file=source.path)
        actual = file_sha256(pred_path)
        if actual != expected:
            raise InputError(f"predictions file sha256 {actual[:12]}... does not match the record's "
                             f"predictions_sha256 {str(expected)[:12]}... (not the file that was scored)",
                             file=pred_path)

    stem = _stem(record)
    for path in sorted(results.glob(f"{stem}*.json")):
        if not is_record_file(path):
            continue
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        content = {k: v for k, v in existing.items() if k not in (CHECKSUM_KEY, LEADERBOARD_KEY)}
        if content == {k: v for k, v in record.items() if k != LEADERBOARD_KEY}:
            return path
    n, name = 1, stem
    while (results / f"{name}.json").exists():
        n += 1
        name = f"{stem}-{n}"
    target = results / f"{name}.json"

    pred_name = None
    if pred_path is not None:
        suffix = pred_path.suffix.lower() if pred_path.suffix.lower() in PREDICTION_SUFFIXES else ".csv"
        pred_name = f"{name}{PREDICTIONS_INFIX}{suffix}"
        tmp = results / f".{pred_name}.tmp"
        shutil.copyfile(pred_path, tmp)
        tmp.replace(results / pred_name)
    record[LEADERBOARD_KEY] = {"predictions_file": pred_name,
                               "added": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    record[CHECKSUM_KEY] = record_checksum(record)
    try:
        write_record(record, target)
    except BaseException:
        if pred_name:
            (results / pred_name).unlink(missing_ok=True)
        raise
    return target


# ------------------------------------------------------------------------------------------------------ verify


@dataclass
class Verification:
    """What `verify` found for one record (or one stray file): `problems` empty = verified."""

    path: Path
    name: str
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_record(rf: RecordFile) -> Verification:
    """Recompute every hash of one record on the leaderboard."""
    record = rf.record
    result = Verification(rf.path, str(record["submission"].get("name")))
    stored = record.get(CHECKSUM_KEY)
    if stored is None:
        result.problems.append("no record checksum: not added with `mebench leaderboard add`")
    else:
        computed = record_checksum(record)
        if stored != computed:
            result.problems.append(f"record content altered: checksum {str(stored)[:19]}... recorded, "
                                   f"{computed[:19]}... computed")
        else:
            result.checked.append("record checksum")
            try:
                form = record_text(record).encode("ascii")
            except ValueError:
                form = b""
            if rf.raw != form:
                result.problems.append("record file bytes altered (whitespace or number formatting differs from "
                                       "what mebench writes; the content checksum still matches)")
    problems = protocol_problems(record)
    result.problems.extend(problems)
    if not problems:
        result.checked.append("protocol spec sha256")

    submission = record["submission"]
    expected = submission.get("predictions_sha256")
    board = record.get(LEADERBOARD_KEY) if isinstance(record.get(LEADERBOARD_KEY), dict) else {}
    named = board.get("predictions_file")
    path = rf.predictions_path
    if named and (path is None or not path.exists()):
        result.problems.append(f"predictions file {named} is missing")
    elif path is not None and path.exists():
        if not expected:
            result.problems.append(f"predictions file {path.name} present but the record cites no "
                                   "predictions_sha256")
        else:
            actual = file_sha256(path)
            if actual != expected:
                result.problems.append(f"predictions file {path.name} altered: sha256 {actual[:12]}... but the "
                                       f"record cites {str(expected)[:12]}...")
            else:
                result.checked.append("predictions sha256")
    elif submission.get("kind") == "predictions":
        result.problems.append("self-reported predictions record without its predictions file (add it with "
                               "`mebench leaderboard add RECORD --predictions FILE`)")
    return result


def verify_results(results: str | Path) -> list[Verification]:
    """Verify every record of a results folder; stray predictions files (no record names them) are reported too."""
    records = find_records(results)
    out = [verify_record(rf) for rf in records]
    claimed = {rf.predictions_path.name for rf in records if rf.predictions_path is not None}
    for path in sorted(Path(results).iterdir()):
        if path.is_file() and PREDICTIONS_INFIX in path.name and not path.name.startswith(".") \
                and path.name not in claimed:
            out.append(Verification(path, path.name, [f"stray predictions file {path.name}: no record cites it"]))
    return out
