"""The feature cache: content keys, a second run that reads everything back (0 extractor calls), media changes that
invalidate exactly the rows they touch, the memoized file-hash index, atomic entries that survive a writer killed
with SIGKILL half-way, and `mebench cache info|clear`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mebench.cache as cache_module
import test_runner_support as support
from mebench.cache import Extractor, FeatureCache, canonical_json
from mebench.cli import main
from mebench.protocol import load_corpus
from mebench.runner import run_protocol

REPO = Path(__file__).resolve().parents[1]


class Ext:
    def __init__(self, name: str = "e", version: str = "1", **params) -> None:
        self.name = name
        self.version = version
        self.params = params
        self.calls = 0

    def __call__(self, view, row):
        self.calls += 1
        return np.arange(3.0)


def test_key_depends_on_extractor_params_row_and_media(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    media = support.write_frames(tmp_path / "clip", ["img1.jpg", "img2.jpg"])
    row = {"sample_id": "casme2/01/EP01", "onset": 1, "apex": 2, "offset": 3, "frames_dir": str(media)}
    base = cache.key(Ext(), row)
    assert isinstance(Ext(), Extractor)
    assert cache.key(Ext(), dict(row)) == base  # deterministic
    assert cache.key(Ext(version="2"), row) != base
    assert cache.key(Ext(name="f"), row) != base
    assert cache.key(Ext(radius=2), row) != base
    assert cache.key(Ext(), {**row, "apex": 3}) != base
    assert cache.key(Ext(), {**row, "sample_id": "casme2/01/EP02"}) != base
    assert cache.key(Ext(), {**row, "emotion": "happiness", "label": "x"}) == base  # labels are not identity
    (media / "img2.jpg").write_bytes((media / "img2.jpg").read_bytes() + b"\0")
    assert cache.key(Ext(), row) != base  # same path, other content
    assert canonical_json({"b": np.int64(1), "a": [np.float32(0.5), float("nan")]}) == '{"a":[0.5,null],"b":1}'


def test_values_round_trip_and_a_damaged_entry_is_a_miss(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    ext = Ext()
    values = {"k1": np.arange(12, dtype=np.float32).reshape(3, 4), "k2": {"a": np.zeros(2), "b": np.ones((2, 2))},
              "k3": [1, "two", (3,)], "k4": np.asfortranarray(np.arange(6).reshape(2, 3))}
    for key, value in values.items():
        path = cache.put(ext, key * 8, value)
        assert path.parent.parent.name == ext.version and path.parent.parent.parent.name == ext.name
    for key, value in values.items():
        found, got = cache.get(ext, key * 8)
        assert found
        if isinstance(value, dict):
            assert set(got) == set(value) and all(np.array_equal(got[k], value[k]) for k in value)
        elif isinstance(value, np.ndarray):
            assert np.array_equal(got, value) and got.dtype == value.dtype
        else:
            assert got == value
    damaged = cache.path_of(ext, "k1" * 8)
    damaged.write_bytes(damaged.read_bytes()[:20])
    assert cache.get(ext, "k1" * 8) == (False, None) and not damaged.exists()
    assert not cache.temporary_files()


def test_file_hashes_are_memoized_by_path_size_and_mtime(tmp_path, monkeypatch):
    media = support.write_frames(tmp_path / "clip", [f"img{i}.jpg" for i in range(1, 6)])
    past = time.time() - 3600
    for file in media.iterdir():
        os.utime(file, (past, past))
    first = FeatureCache(tmp_path / "c").media_hash(media)
    # a new process (a new run) hashes the folder without reading a single file: the on-disk index answers
    cache_module._MEMO.clear()
    reads = []
    real_open = open
    monkeypatch.setattr(cache_module, "open", lambda *a, **k: reads.append(a[0]) or real_open(*a, **k),
                        raising=False)
    assert FeatureCache(tmp_path / "c").media_hash(media) == first
    assert reads == []
    target = media / "img3.jpg"
    target.write_bytes(target.read_bytes()[::-1])  # same size: found by its new mtime
    os.utime(target, (past + 10, past + 10))
    cache_module._MEMO.clear()
    assert FeatureCache(tmp_path / "c").media_hash(media) != first
    assert [Path(r).name for r in reads] == ["img3.jpg"]


def test_second_run_reads_the_cache(tmp_path, capsys):
    corpus = support.casme2_like(tmp_path)
    store = tmp_path / "features"
    support.CountingExtractor.calls.clear()
    first = run_protocol("casme2-loso-5class", corpus, "test_runner_support:FeatureModel", cache=store,
                         progress=False)
    assert sorted(support.CountingExtractor.calls) == sorted(f"casme2/{p:02d}/EP0{c}_01" for p in range(1, 5)
                                                             for c in range(5))
    assert first.features == {"mean-intensity": {"computed": 20, "cached": 0}}
    support.CountingExtractor.calls.clear()
    out = tmp_path / "r.json"
    assert main(["run", "--protocol", "casme2-loso-5class", "--corpus", str(corpus), "--model",
                 "test_runner_support:FeatureModel", "--cache-dir", str(store), "--out", str(out)]) == 0
    assert support.CountingExtractor.calls == []  # second run: 0 extractor calls, in the warm-up and in the folds
    assert "features mean-intensity: 0 computed, 20 read from the cache" in capsys.readouterr().out
    # one clip's media change: exactly that row is computed again
    frame = Path(corpus.parent / "media" / "sub02" / "EP03_01" / "img2.jpg")
    frame.write_bytes(frame.read_bytes() + b"\0")
    again = run_protocol("casme2-loso-5class", corpus, "test_runner_support:FeatureModel", cache=store,
                         progress=False)
    assert support.CountingExtractor.calls == ["casme2/02/EP03_01"]
    assert again.features == {"mean-intensity": {"computed": 1, "cached": 19}}
    # MEBENCH_CACHE names the default root
    os.environ["MEBENCH_CACHE"] = str(store)
    try:
        assert FeatureCache().root == store
    finally:
        del os.environ["MEBENCH_CACHE"]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


CHILD = """
import sys, time
import mebench.cache as c
c.CHUNK = 1 << 17
real = c._write_chunk
def slow(handle, chunk):
    real(handle, chunk)
    handle.flush()
    time.sleep(0.03)
c._write_chunk = slow
from mebench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_run_leaves_no_corrupt_entry_and_a_rerun_completes(tmp_path):
    corpus = support.casme2_like(tmp_path, frames=False)
    store = tmp_path / "features"
    counts = tmp_path / "calls.txt"
    counts.write_text("")
    env = {**os.environ, "MEBENCH_TEST_COUNTS": str(counts),
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    args = ["run", "--protocol", "casme2-loso-5class", "--corpus", str(corpus), "--model",
            "test_runner_support:BigFeatureModel", "--cache-dir", str(store)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cache = FeatureCache(store)
    ext = support.BigExtractor()
    deadline = time.time() + 120
    try:
        while time.time() < deadline:  # wait until some entries are complete and the next one is half-written
            done = list(cache.entries())
            # a temporary file at most a quarter written: the kill lands mid-write (12+ slow chunks to go)
            partial = [p for p in cache.temporary_files() if 0 < _size(p) <= ext.params["n"]]
            if len(done) >= 3 and partial:
                break
            if child.poll() is not None:
                pytest.fail(f"the writer ended before it could be killed: {child.stderr.read().decode()}")
            time.sleep(0.005)
        else:
            pytest.fail("the writer did not get going in time")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert partial and all(p.exists() for p in partial)  # the half-written file is there, under a temporary name
    complete = list(cache.entries())
    assert 3 <= len(complete) < 20
    for path in complete:  # every entry under its final name is whole
        value = np.load(path)
        assert value.shape == (ext.params["n"],) and value.dtype == np.float32
    stats = cache.info()
    assert stats.entries == len(complete) and stats.temporary >= 1
    computed_before = counts.read_text().split()
    # rerun: only the missing rows are computed, the killed writer's temporary file is swept, and it completes
    os.environ["MEBENCH_TEST_COUNTS"] = str(counts)
    try:
        assert main(args + ["--out", str(tmp_path / "r.json")]) == 0
    finally:
        del os.environ["MEBENCH_TEST_COUNTS"]
    calls = counts.read_text().split()
    rerun = calls[len(computed_before):]
    assert len(rerun) == 20 - len(complete)
    assert not cache.temporary_files()
    for path in cache.entries():
        assert np.load(path).shape == (ext.params["n"],)
    assert cache.info().entries == 20
    samples = load_corpus(corpus).samples
    for _, row in samples.iterrows():
        found, value = cache.get(ext, cache.key(ext, row))
        assert found and np.array_equal(value, support._value(row["sample_id"], ext.params["n"]))


def test_cache_info_and_clear(tmp_path, capsys):
    cache = FeatureCache(tmp_path / "c")
    for name, n in (("lbp", 3), ("flow", 2)):
        for i in range(n):
            cache.put(Ext(name=name), f"{name}{i}".ljust(64, "0"), np.zeros(10))
    assert main(["cache", "--cache-dir", str(cache.root), "info"]) == 0
    printed = capsys.readouterr().out
    assert "lbp" in printed and "flow" in printed and "total" in printed
    info = cache.info()
    assert info.entries == 5 and info.extractors["lbp"]["entries"] == 3 and info.bytes > 0
    assert main(["cache", "clear", "--extractor", "lbp", "--cache-dir", str(cache.root)]) == 0
    assert "removed 3 cache entries of extractor 'lbp'" in capsys.readouterr().out
    assert set(cache.info().extractors) == {"flow"}
    assert main(["cache", "clear", "--extractor", "nosuch", "--cache-dir", str(cache.root)]) == 2
    err = capsys.readouterr().err
    assert "no cache entries for extractor 'nosuch'" in err and len(err.strip().splitlines()) == 1
    assert main(["cache", "clear", "--cache-dir", str(cache.root)]) == 0
    assert cache.info().entries == 0


def test_an_extractor_declaring_media_columns_hashes_only_those(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "c")
    frames = support.write_frames(tmp_path / "frames", ["img1.jpg", "img2.jpg"])
    mesh = tmp_path / "mesh"
    mesh.mkdir()
    (mesh / "m1.obj").write_bytes(b"v 0 0 0\n")
    row = {"sample_id": "4dme/01/a", "onset": 1, "offset": 2, "frames_dir": str(frames), "mesh_dir": str(mesh)}

    # without the attribute every media column is in the key, exactly as documented (keys of existing extractors)
    import hashlib

    identity = cache_module.row_identity(row)
    payload = {"extractor": "e", "version": "1", "params": {}, "row": identity,
               "media": {f: cache.media_hash(identity[f]) for f in ("frames_dir", "mesh_dir")}}
    assert cache.key(Ext(), row) == hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()

    frames_only = Ext()
    frames_only.media_columns = ("frames_dir",)
    hashed = []
    original = FeatureCache.media_hash
    monkeypatch.setattr(FeatureCache, "media_hash", lambda self, path: hashed.append(str(path)) or original(self, path))
    key = cache.key(frames_only, row)
    assert hashed == [str(frames)]  # the mesh folder is never read
    assert cache.key(frames_only, {**row, "mesh_dir": str(tmp_path / "elsewhere")}) == key
    (mesh / "m1.obj").write_bytes(b"changed")
    assert cache.key(frames_only, row) == key  # a medium it does not read changes nothing
    (frames / "img1.jpg").write_bytes(b"changed")
    assert cache.key(frames_only, row) != key
    no_media = Ext()
    no_media.media_columns = ()
    assert cache.key(no_media, row) == cache.key(no_media, {k: v for k, v in row.items() if not k.endswith("_dir")})
    unset = Ext()
    unset.media_columns = None  # None: all of them, as without the attribute
    assert cache.key(unset, row) == cache.key(Ext(), row)
