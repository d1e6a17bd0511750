"""Feature cache: per-row features stored on disk under a key made from their content, so a rerun reads them back.

Why by content and not by name: a feature depends on the extractor's code (name + version), its parameters, which
part of which clip it looked at, and the bytes of the media it read. The key is a sha256 over exactly that, so any
change to one of them is a new entry (never a stale hit), and a corpus rebuilt elsewhere with the same media reuses
the entries.

The key (``FeatureCache.key(extractor, row)``) is sha256 over canonical JSON (sorted keys, no blanks) of::

    {"extractor": name, "version": version, "params": params,
     "row": {sample_id, dataset, video_id, onset, apex, offset, onset_s, apex_s, offset_s, fps, n_frames and every
             media column (frames_dir, video_path, emg_path, mesh_dir, ...) the row has},
     "media": {media column: content hash}}

Only the media an extractor reads: an extractor may declare ``media_columns`` (a tuple of column names, e.g.
``("frames_dir",)`` for one that reads only the frames of a 4DME row that also has grey, Kinect colour and mesh
folders; ``()`` for one that reads no media). Then ``row`` keeps only those of the media columns and ``media``
hashes only those, so a key costs one folder's hashing instead of all of them, and a change to a medium the
extractor never reads no longer invalidates its entries. Without the attribute (or with ``None``), every media
column is in the key as above: the keys of extractors that do not declare are unchanged.

A media file's content hash is the sha256 of its bytes; a media folder's is sha256 over the sorted lines
``<relative path>\\t<size>\\t<sha256>`` of every file inside it. Hashing a 250-frame folder on every run would read
it all again, so file hashes are memoized in a small SQLite index (``<root>/.index/files.sqlite``) keyed by
(absolute path, size, mtime_ns): a file is re-read only when its size or modification time changed. (A file modified
less than 2 s ago is not memoized: a rewrite within the file system's timestamp granularity could keep its mtime.)
A missing media path hashes as ``missing`` (the key still differs from a present one).

Values: a numpy array is stored as ``.npy``, a dict of arrays as ``.npz``, anything else as a pickle, at
``<root>/<extractor>/<version>/<key[:2]>/<key>.<ext>``. Every entry is written to a temporary file in the same
folder (``.tmp-<host>-<pid>-<random>``), flushed, fsync'ed and renamed into place with ``os.replace``, which is
atomic: a reader sees a complete entry or none, even when the writer is killed (SIGKILL) half-way. Temporary files
left by a killed writer are never read as entries; ``sweep()`` (run by ``mebench run`` and ``mebench cache``)
removes those whose writer is gone. An entry that cannot be read (a damaged disk) is treated as a miss and
recomputed.

Where: ``FeatureCache(root)``, else ``$MEBENCH_CACHE``, else ``~/.cache/mebench/features``
(``mebench run --cache-dir DIR``). ``mebench cache info`` lists entries and size per extractor; ``mebench cache clear
[--extractor NAME]`` removes them.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import math
import os
import pickle
import re
import shutil
import socket
import sqlite3
import tempfile
import time
import zipfile
from collections import abc
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

import numpy as np

from mebench.errors import InputError

__all__ = ["DEFAULT_ROOT", "ENV_VAR", "CacheStats", "Extractor", "FeatureCache", "canonical_json",
           "default_root", "media_columns", "row_identity"]

ENV_VAR = "MEBENCH_CACHE"
DEFAULT_ROOT = Path("~/.cache/mebench/features")
INDEX_DIR = ".index"
TMP_PREFIX = ".tmp-"
EXTENSIONS = (".npy", ".npz", ".pkl")
CHUNK = 8 << 20  # entries are written in chunks of this many bytes
RACY_S = 2.0  # a file modified this recently is hashed but not memoized (its mtime may not change on a rewrite)
STALE_TMP_S = 24 * 3600  # a temporary file this old is removed even when its writer cannot be checked
MEMO_MAX = 1_000_000  # file hashes kept in memory per process
_MEMO: dict[tuple[str, int, int], str] = {}

# Row fields that identify what a feature was computed on (besides the media columns).
IDENTITY_FIELDS = ("sample_id", "dataset", "video_id", "onset", "apex", "offset", "onset_s", "apex_s", "offset_s",
                   "fps", "n_frames", "clip_start_s", "clip_end_s")
MEDIA_FIELDS = ("frames_dir", "video_path", "emg_path", "mesh_dir", "grey_path", "rgb_path", "depth_path")


@runtime_checkable
class Extractor(Protocol):
    """What the feature cache and ``view.features`` take: a named, versioned, parameterized per-row function.

    ``name`` (str) names it in the cache and in ``mebench cache info``; bump ``version`` (str) whenever the code
    changes what it returns; ``params`` (a JSON-able mapping) are its settings. Optionally ``media_columns`` (a
    tuple of column names; default: all media columns): the media it reads, the only ones its cache key hashes.
    ``extractor(view, row)`` returns the row's features (a numpy array; a dict of arrays or any picklable value
    also works). It must be a pure function of the row and its media: it is called on label-free views and its
    result is shared between folds.
    """

    name: str
    version: str
    params: Mapping[str, Any]

    def __call__(self, view: Any, row: Any) -> Any: ...


# --------------------------------------------------------------------------------------------------- canonical JSON


def _plain(value: Any) -> Any:
    """JSON-able form: numpy -> Python, NaN/NA -> None, paths -> str, mappings sorted by json.dumps."""
    if value is None:
        return None
    kind = type(value)  # the common exact types first (a key's rows are mostly these); same results as below
    if kind is str:
        return value
    if kind is int:
        return value
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, abc.Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, Path):
        return str(value)
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, str):
        return value
    return str(value)


def canonical_json(value: Any) -> str:
    """The canonical JSON the cache keys hash: sorted keys, no blanks, numpy as Python, NaN as null."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _get(row: Any, field: str) -> Any:
    try:
        return row[field]
    except (KeyError, IndexError, TypeError):
        return None


def _has(row: Any, field: str) -> bool:
    if isinstance(row, abc.Mapping):
        return field in row
    index = getattr(row, "index", None)
    return index is not None and field in index


def row_identity(row: Any) -> dict[str, Any]:
    """The fields of a row (a pandas Series or a mapping) that identify what a feature was computed on."""
    return _fields(row, IDENTITY_FIELDS + MEDIA_FIELDS)


def _fields(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """{field: plain value} of the `fields` the row has. A pandas Series with a unique index is read once as a
    dict (per-label lookups in a Series cost microseconds each: most of a key's cost but the media hashes)."""
    if not isinstance(row, abc.Mapping):
        index = getattr(row, "index", None)
        if index is not None and getattr(index, "is_unique", False) and callable(getattr(row, "to_numpy", None)):
            values = dict(zip(index, row.to_numpy()))
            return {f: _plain(values[f]) for f in fields if f in values}
    return {f: _plain(_get(row, f)) for f in fields if _has(row, f)}


def media_columns(extractor: Any) -> tuple[str, ...] | None:
    """The media columns an extractor declares it reads (``extractor.media_columns``), or None: all of them."""
    declared = getattr(extractor, "media_columns", None)
    if declared is None:
        return None
    if isinstance(declared, str):
        return (declared,)
    columns = tuple(str(c) for c in declared)
    return columns


def default_root() -> Path:
    """$MEBENCH_CACHE, else ~/.cache/mebench/features."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_ROOT.expanduser()


def _walk_files(folder: str) -> list[tuple[tuple[str, ...], str, int, int]]:
    """Every file under `folder` as (relative path parts, absolute path, size, mtime_ns), in the order of
    ``sorted(p for p in Path(folder).rglob("*") if p.is_file())`` (paths compare part by part), with ONE stat per
    file (``os.scandir`` entries cache it): the same files as that expression - sub-folders entered unless they are
    symbolic links, file links followed, hidden files included - at a fraction of its cost on a 250-frame folder."""
    out: list[tuple[tuple[str, ...], str, int, int]] = []

    def visit(directory: str, prefix: tuple[str, ...]) -> None:
        try:
            with os.scandir(directory) as found:
                entries = list(found)
        except (PermissionError, FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            try:
                stat = entry.stat()  # follows links, as is_dir() / is_file(); cached by the entry
            except OSError:  # a broken link: neither a folder nor a file
                continue
            if S_ISDIR(stat.st_mode):
                if not entry.is_symlink():
                    visit(entry.path, prefix + (entry.name,))
            elif S_ISREG(stat.st_mode):
                out.append((prefix + (entry.name,), entry.path, stat.st_size, stat.st_mtime_ns))

    visit(folder, ())
    out.sort()  # by the parts (unique per file)
    return out


def _safe(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return text or "_"


# ------------------------------------------------------------------------------------------------------- the cache


@dataclass
class CacheStats:
    """What ``FeatureCache.info()`` reports."""

    root: Path
    entries: int
    bytes: int
    extractors: dict[str, dict[str, Any]]
    temporary: int


class FeatureCache:
    """Content-keyed on-disk store of per-row features (see the module docstring for the key and the layout).

    Picklable (the SQLite connection is reopened in each process), so joblib and Dask workers share one cache.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._db: sqlite3.Connection | None = None
        self._memo = _MEMO  # shared by every cache object of the process (keyed by path, size and mtime)
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"])

    # ---- keys

    def key(self, extractor: Extractor, row: Any) -> str:
        """sha256 over (extractor name, version, params, the row's identifying fields, its media content hashes)."""
        declared = media_columns(extractor)
        if declared is None:
            identity = row_identity(row)
            media = {f: self.media_hash(identity[f]) for f in MEDIA_FIELDS if identity.get(f)}
        else:  # only the media the extractor reads: in the row identity and hashed
            identity = _fields(row, IDENTITY_FIELDS + tuple(f for f in declared if f not in IDENTITY_FIELDS))
            media = {f: self.media_hash(identity[f]) for f in declared if identity.get(f)}
        payload = {"extractor": str(extractor.name), "version": str(extractor.version),
                   "params": dict(getattr(extractor, "params", None) or {}), "row": identity, "media": media}
        return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()

    def media_hash(self, path: str | Path) -> str:
        """Content hash of a media file or folder (file hashes memoized by (path, size, mtime_ns))."""
        path = Path(path)
        if path.is_file():
            return self.file_hash(path)
        if path.is_dir():
            base = path.absolute()
            files = _walk_files(str(base))
            memo = self._memo.get
            hashes = [memo((full, size, mtime)) for _, full, size, mtime in files]
            if None in hashes:  # not all memoized in this process: the index's rows for the folder, one query
                self._prefetch(base)
                hashes = [found if found is not None else self.file_hash(Path(full))
                          for found, (_, full, _, _) in zip(hashes, files)]
            lines = "".join([f"{'/'.join(parts)}\t{size}\t{found}\n"
                             for (parts, _, size, _), found in zip(files, hashes)])
            digest = hashlib.sha256(lines.encode())
            return "dir:" + digest.hexdigest()
        return "missing"

    def file_hash(self, path: Path) -> str:
        path = Path(path).absolute()
        stat = path.stat()
        memo_key = (str(path), stat.st_size, stat.st_mtime_ns)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        db = self._index()
        found = None
        if db is not None:
            try:
                got = db.execute("SELECT sha256 FROM files WHERE path = ? AND size = ? AND mtime_ns = ?",
                                 memo_key).fetchone()
                found = got[0] if got else None
            except sqlite3.Error:
                found = None
        if found is None:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            found = digest.hexdigest()
            if time.time() - stat.st_mtime < RACY_S:
                return found  # modified just now: a rewrite within the clock's granularity could keep its mtime
            if db is not None:
                try:
                    with db:
                        db.execute("INSERT OR REPLACE INTO files (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
                                   (*memo_key, found))
                except sqlite3.Error:
                    pass  # the index is an optimisation; a locked or read-only index only costs re-reading
        if len(self._memo) > MEMO_MAX:
            self._memo.clear()
        self._memo[memo_key] = found
        return found

    def _prefetch(self, folder: Path) -> None:
        """Load the index rows of every file under `folder` into the memo with one query."""
        db = self._index()
        if db is None:
            return
        prefix = str(folder).rstrip(os.sep) + os.sep
        try:
            rows = db.execute("SELECT path, size, mtime_ns, sha256 FROM files WHERE path >= ? AND path < ?",
                              (prefix, prefix[:-1] + chr(ord(os.sep) + 1))).fetchall()
        except sqlite3.Error:
            return
        if len(self._memo) > MEMO_MAX:
            self._memo.clear()
        for path, size, mtime_ns, sha in rows:
            self._memo[(path, size, mtime_ns)] = sha

    def _index(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                folder = self.root / INDEX_DIR
                folder.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(folder / "files.sqlite"), timeout=60)
                db.execute("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, "
                           "mtime_ns INTEGER, sha256 TEXT)")
                db.commit()
                self._db = db
            except (OSError, sqlite3.Error):
                return None
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # ---- entries

    def folder(self, extractor: Extractor) -> Path:
        return self.root / _safe(extractor.name) / _safe(extractor.version)

    def path_of(self, extractor: Extractor, key: str) -> Path | None:
        """The entry file of `key`, or None when there is none."""
        base = self.folder(extractor) / key[:2]
        for ext in EXTENSIONS:
            candidate = base / f"{key}{ext}"
            if candidate.is_file():
                return candidate
        return None

    def get(self, extractor: Extractor, key: str) -> tuple[bool, Any]:
        """(found, value). A damaged entry is removed and reported as not found."""
        path = self.path_of(extractor, key)
        if path is None:
            return False, None
        try:
            return True, _load(path)
        except Exception:  # noqa: BLE001 - any unreadable entry is a miss, recomputed and rewritten
            path.unlink(missing_ok=True)
            return False, None

    def put(self, extractor: Extractor, key: str, value: Any) -> Path:
        """Store `value` atomically (temporary file in the same folder, fsync, os.replace)."""
        folder = self.folder(extractor) / key[:2]
        folder.mkdir(parents=True, exist_ok=True)
        ext, write = _writer(value)
        final = folder / f"{key}{ext}"
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{_safe(socket.gethostname())}-{os.getpid()}-",
                                   suffix=ext, dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            for other in EXTENSIONS:  # a value whose type changed leaves no second entry for the key
                if other != ext:
                    (folder / f"{key}{other}").unlink(missing_ok=True)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    def get_or_compute(self, extractor: Extractor, view: Any, row: Any) -> Any:
        """The cached features of `row`, computing (``extractor(view, row)``) and storing them on a miss."""
        key = self.key(extractor, row)
        found, value = self.get(extractor, key)
        if found:
            self.hits += 1
            return value
        self.misses += 1
        value = extractor(view, row)
        self.put(extractor, key, value)
        return value

    # ---- housekeeping

    def entries(self) -> Iterable[Path]:
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            if path.suffix in EXTENSIONS and not path.name.startswith(TMP_PREFIX) and INDEX_DIR not in path.parts \
                    and path.is_file():
                yield path

    def temporary_files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.rglob(f"{TMP_PREFIX}*") if p.is_file()]

    def sweep(self) -> int:
        """Remove temporary files whose writer is gone (same host, dead pid) or that are older than a day."""
        host = _safe(socket.gethostname())
        removed = 0
        now = time.time()
        for path in self.temporary_files():
            match = re.match(rf"^{re.escape(TMP_PREFIX)}(.+)-(\d+)-", path.name)
            dead = False
            if match and match.group(1) == host:
                dead = not _alive(int(match.group(2)))
            try:
                old = now - path.stat().st_mtime > STALE_TMP_S
            except OSError:
                continue
            if dead or old:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def info(self) -> CacheStats:
        """Entries and bytes, in all and per extractor (and version)."""
        extractors: dict[str, dict[str, Any]] = {}
        total = size = 0
        for path in self.entries():
            rel = path.relative_to(self.root).parts
            name, version = (rel[0], rel[1]) if len(rel) >= 4 else (rel[0], "?")
            nbytes = path.stat().st_size
            entry = extractors.setdefault(name, {"entries": 0, "bytes": 0, "versions": {}})
            entry["entries"] += 1
            entry["bytes"] += nbytes
            entry["versions"][version] = entry["versions"].get(version, 0) + 1
            total += 1
            size += nbytes
        return CacheStats(self.root, total, size, dict(sorted(extractors.items())), len(self.temporary_files()))

    def clear(self, extractor: str | None = None) -> int:
        """Remove every entry (or those of one extractor, by name); returns how many entries were removed."""
        if extractor is not None:
            folder = self.root / _safe(extractor)
            if not folder.is_dir() or folder.name == INDEX_DIR:
                known = ", ".join(self.info().extractors) or "none"
                raise InputError(f"no cache entries for extractor {extractor!r} (extractors in the cache: {known})",
                                 file=self.root)
            count = sum(1 for p in folder.rglob("*") if p.suffix in EXTENSIONS and p.is_file())
            shutil.rmtree(folder)
            return count
        count = sum(1 for _ in self.entries())
        if self.root.is_dir():
            self.close()
            for child in self.root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        return count


# --------------------------------------------------------------------------------------------------- serialization


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_chunks(handle: Any, data: memoryview) -> None:
    for start in range(0, len(data), CHUNK):
        _write_chunk(handle, data[start:start + CHUNK])


def _write_chunk(handle: Any, chunk: memoryview) -> None:
    handle.write(chunk)


def _writer(value: Any) -> tuple[str, Any]:
    """(extension, function writing `value` to a binary file handle)."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        array = np.ascontiguousarray(value)

        def write_array(handle: Any) -> None:
            header = io.BytesIO()
            meta = np.lib.format.header_data_from_array_1_0(array)
            try:
                np.lib.format.write_array_header_1_0(header, meta)
            except ValueError:  # a header too long for format 1.0 (huge structured dtypes)
                header = io.BytesIO()
                np.lib.format.write_array_header_2_0(header, meta)
            _write_chunks(handle, header.getbuffer())
            if array.size:
                _write_chunks(handle, memoryview(array.reshape(-1).view(np.uint8)))

        return ".npy", write_array
    if isinstance(value, Mapping) and value and all(isinstance(k, str) for k in value) \
            and all(isinstance(v, np.ndarray) and v.dtype != object for v in value.values()):
        def write_npz(handle: Any) -> None:
            buffer = io.BytesIO()
            np.savez(buffer, **value)
            _write_chunks(handle, buffer.getbuffer())

        return ".npz", write_npz

    def write_pickle(handle: Any) -> None:
        _write_chunks(handle, memoryview(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))

    return ".pkl", write_pickle


_NPY_MAGIC = b"\x93NUMPY"


@functools.lru_cache(maxsize=1024)
def _npy_header(text: str) -> tuple[np.dtype, tuple[int, ...], bool] | None:
    """(dtype, shape, fortran_order) of an .npy header (parsed as numpy does: a Python literal), None for anything
    the fast reader leaves to ``np.load`` (object dtypes, unexpected keys). Memoized: a cache holds few shapes."""
    try:
        meta = ast.literal_eval(text)
        if not isinstance(meta, dict) or set(meta) != {"descr", "fortran_order", "shape"}:
            return None
        dtype = np.lib.format.descr_to_dtype(meta["descr"])
        shape = tuple(int(n) for n in meta["shape"])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if dtype.hasobject or any(n < 0 for n in shape) or not isinstance(meta["fortran_order"], bool):
        return None
    return dtype, shape, meta["fortran_order"]


def _parse_npy(data: bytearray) -> np.ndarray | None:
    """The array of a whole .npy file in memory (a writeable view of `data`), or None: let np.load read it."""
    if data[:6] != _NPY_MAGIC or len(data) < 10:
        return None
    major = data[6]
    if major == 1:
        start, size = 10, int.from_bytes(data[8:10], "little")
    elif major in (2, 3) and len(data) >= 12:
        start, size = 12, int.from_bytes(data[8:12], "little")
    else:
        return None
    parsed = _npy_header(bytes(data[start:start + size]).decode("utf8" if major == 3 else "latin1"))
    if parsed is None:
        return None
    dtype, shape, fortran = parsed
    count = math.prod(shape)
    offset = start + size
    if count == 0 or dtype.itemsize == 0 or len(data) - offset != count * dtype.itemsize:
        return None
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def _load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """``{name: array}`` of an .npz entry (what ``np.savez`` writes), read with one pass over the archive and the
    headers parsed once per process; None when anything is unusual (np.load then reads it, or says what is wrong)."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                return None
            with archive.open(info) as member:
                array = _parse_npy(_read_all(member, info.file_size))
            if array is None:
                return None
            out[info.filename[:-4]] = array
    return out


def _read_all(handle: Any, size: int) -> bytearray:
    """`size` bytes of a binary file object into one new bytearray (no intermediate bytes copy); shorter when the
    file is."""
    data = bytearray(size)
    view = memoryview(data)
    done = 0
    while done < size:
        got = handle.readinto(view[done:])
        if not got:
            break
        done += got
    return data if done == size else data[:done]


def _load(path: Path) -> Any:
    """An entry's value. ``.npy`` / ``.npz``: the same arrays as ``np.load(path, allow_pickle=False)`` (dtype,
    shape, order, writeable), read without numpy's per-array header parsing (a Python literal evaluated for every
    array: most of the cost of reading a small entry; cached here) where the file is as ``_writer`` makes it."""
    if path.suffix == ".npy":
        with open(path, "rb") as handle:
            array = _parse_npy(_read_all(handle, os.fstat(handle.fileno()).st_size))
        return array if array is not None else np.load(path, allow_pickle=False)
    if path.suffix == ".npz":
        try:
            found = _load_npz(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            found = None
        if found is not None:
            return found
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    with open(path, "rb") as handle:
        return pickle.load(handle)
