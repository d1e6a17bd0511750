"""The shadow corpus: miniature datasets in each loader's NATIVE layout, with known ground truth (DESIGN.md section 9).

``synthesize(out, scale, seed)`` writes one dataset root per loader name (``out/casme2``, ``out/samm``,
``out/samm-lv``, ``out/casme-sq``, ``out/casmemg``, ``out/4dme``) and ``out/manifest.json``::

    {"shadow": true, "seed": N, "scale": "small", "casme2": {"samples": n, "subjects": m}, ...}

Writer interface (one module per dataset, listed in ``WRITERS`` and imported lazily)::

    def write(root: Path, scale: str, seed: int, progress=None) -> dict   # {"samples": n, "subjects": m}

``root`` is the dataset root to fill (it exists and is empty); ``scale`` one of ``SCALES``; ``seed`` the global seed
(derive the dataset's own random streams with ``rng(seed, "<dataset>", ...)`` so datasets stay independent of each
other and of the order they are written in). ``progress``, if the writer accepts it, is ``progress(done, total)``.
Identical (scale, seed) must give identical bytes: no time stamps, no unordered iteration, deterministic encoders
(``mebench.synth.xlsx.save_workbook`` for spreadsheets).

A writer module that does not exist (yet) is skipped with a warning, and the manifest lists only what was written.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import os

# pyrender (4D meshes) needs an offscreen GL; EGL works headless. Set before anything imports PyOpenGL.
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from mebench.atomic import write_atomically
from mebench.errors import InputError

WRITERS: dict[str, str] = {
    "casme2": "mebench.synth.casme2",
    "samm": "mebench.synth.samm",
    "samm-lv": "mebench.synth.samm_lv",
    "casme-sq": "mebench.synth.casme_sq",
    "casmemg": "mebench.synth.casmemg",
    "4dme": "mebench.synth.fourdme",
}

SCALES = ("tiny", "small", "full")
MANIFEST = "manifest.json"

ProgressFn = Callable[[str, int, int], None]  # (dataset, done, total)


class SynthSkipped(UserWarning):
    """A dataset writer was not available and its dataset was not written."""


def rng(seed: int, *keys: Any) -> np.random.Generator:
    """A random stream fixed by the global seed and a path of keys (dataset name, subject, clip...): stable across
    runs, platforms and Python hash seeds."""
    words = [int(seed) & 0xFFFFFFFF]
    for key in keys:
        digest = hashlib.sha256(str(key).encode("utf-8")).digest()
        words.extend(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 8, 4))
    return np.random.default_rng(np.random.SeedSequence(words))


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r} (choose from {', '.join(SCALES)})")
    return scale


def load_writer(name: str) -> tuple[Callable[..., dict] | None, str | None]:
    """(the module's ``write`` or None, why not)."""
    module_name = WRITERS[name]
    try:
        if importlib.util.find_spec(module_name) is None:
            return None, f"{module_name} does not exist yet"
        module = importlib.import_module(module_name)
    except Exception as exc:  # a colleague's module mid-edit must not stop the other datasets
        return None, f"{module_name} failed to import: {type(exc).__name__}: {exc}"
    write = getattr(module, "write", None)
    if not callable(write):
        return None, f"{module_name} has no write(root, scale, seed)"
    return write, None


def _accepts_progress(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "progress" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", file=out)
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise InputError("--out is a non-empty folder that is not a synth output (no manifest.json); refusing to "
                         "overwrite it", file=out)
    if not out.parent.exists():
        raise InputError("the parent folder of --out does not exist", file=out.parent)


def synthesize(out: Path, scale: str = "small", seed: int = 0, datasets: Iterable[str] | None = None,
               progress: ProgressFn | None = None) -> dict[str, Any]:
    """Write the shadow datasets under ``out`` atomically (temporary sibling folder, then rename; an older synth
    output there is replaced) and return the manifest."""
    out = Path(out)
    check_scale(scale)
    names = list(WRITERS) if datasets is None else list(dict.fromkeys(datasets))
    unknown = [n for n in names if n not in WRITERS]
    if unknown:
        raise InputError(f"unknown dataset(s) {', '.join(unknown)} (known: {', '.join(WRITERS)})")
    _check_out(out)
    manifest: dict[str, Any] = {"shadow": True, "seed": int(seed), "scale": scale}

    def write_all(folder: Path) -> None:
        # marks the folder as shadow from the start, so that a writer may build/check its own output
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        for name in names:
            writer, why = load_writer(name)
            if writer is None:
                warnings.warn(f"synth: skipping {name}: {why}", SynthSkipped, stacklevel=3)
                if progress is not None:
                    progress(name, 0, 0)
                continue
            root = folder / name
            root.mkdir()
            kwargs: dict[str, Any] = {}
            if progress is not None and _accepts_progress(writer):
                kwargs["progress"] = lambda done, total, _n=name: progress(_n, done, total)
            counts = writer(root, scale, int(seed), **kwargs)
            manifest[name] = {"samples": int(counts["samples"]), "subjects": int(counts["subjects"])}
            if progress is not None:
                progress(name, 1, 1)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")

    write_atomically(out, write_all)
    return manifest


def read_manifest(out: Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise InputError("no manifest.json: not a synth output", file=out)
    return json.loads(path.read_text())
