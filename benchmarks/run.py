"""Benchmarks of DESIGN.md section 12: each budget timed on synthetic input, next to a straightforward peer on the
same input (``benchmarks/peers.py``), printed as a table and written as JSON rows.

    .venv/bin/python benchmarks/run.py [--out FILE] [--quick] [--only NAME ...] [--data DIR] [--repeats N]

``--quick``: small inputs (a smoke test, under 2 minutes; only an error fails it); the default (full) sizes are
the budgets' own and take about 9 minutes on the 2-core machine (most of it the spotting peer and lbptop-svm's first
run). Each benchmark runs in a fresh child process. Inputs that are slow to make (the 640x480 video, the 250k-frame
dataset roots, the CASME II shadow) are kept under ``--data`` (default ``$TMPDIR/mebench-bench-data``) and reused
by later runs. ``benchmarks/README.md`` says what each benchmark measures and what it measured here.

Each row of ``--out`` (a JSON list) is ``{name, value, unit, budget, ok, peer, ratio, extra}``: ``value`` the median
over the repeats (wall clock), ``budget`` the section-12 budget in words, ``ok`` whether the value meets it (None:
not measured, see ``extra.error``), ``peer`` {name, value, unit, scope}: the peer's median on the same input (or on
the stated part of it), ``ratio`` how many times better mebench is than the peer (>1 = mebench faster),
``extra`` CPU seconds, every repeat, and what was checked. The machine is shared: wall times rise with the load;
CPU time (``extra.cpu_s``) shows the work done.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import inputs  # noqa: E402
import peers  # noqa: E402

REPO = HERE.parent
NAMES = ("spotting-features", "spotting-metrics", "recognition-metrics", "corpus-build", "emg-preprocess",
         "lbptop-second-run", "dask-scaling")

# name -> size -> parameters
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "spotting-features": {"full": {"n_frames": 1800, "peer_frames": 1800, "repeats": 3},
                          "quick": {"n_frames": 300, "peer_frames": 45, "repeats": 2}},
    "spotting-metrics": {"full": {"n_gt": 100_000, "n_pred": 1_000_000, "n_videos": 1000, "repeats": 5},
                         "quick": {"n_gt": 10_000, "n_pred": 100_000, "n_videos": 100, "repeats": 3}},
    "recognition-metrics": {"full": {"n": 1_000_000, "repeats": 7}, "quick": {"n": 100_000, "repeats": 3}},
    "corpus-build": {"full": {"frames": 250_000, "repeats": 3}, "quick": {"frames": 25_000, "repeats": 2}},
    "emg-preprocess": {"full": {"seconds": 1800.0, "excerpt_s": 5.0, "repeats": 7},
                       "quick": {"seconds": 120.0, "excerpt_s": 1.0, "repeats": 3}},
    "lbptop-second-run": {"full": {"scale": "full", "repeats": 3}, "quick": {"scale": "tiny", "repeats": 1}},
    "dask-scaling": {"full": {"rows": 192, "work": 40, "repeats": 3, "compare_defaults": True},
                     "quick": {"rows": 48, "work": 25, "repeats": 2}},
}


# ------------------------------------------------------------------------------------------------------ helpers


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def measure(fn: Callable[[], Any], repeats: int, setup: Callable[[], Any] | None = None) -> tuple[list[float],
                                                                                                   list[float], Any]:
    """(wall seconds, CPU seconds of this process, all threads) of each of `repeats` calls of fn(); the last
    result. `setup` runs untimed before each call."""
    walls, cpus, result = [], [], None
    for _ in range(max(1, int(repeats))):
        if setup is not None:
            setup()
        cpu = time.process_time()
        start = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, result


def make_row(name: str, value: float | None, unit: str, budget: str, ok: bool | None, peer: dict[str, Any] | None,
             ratio: float | None, **extra: Any) -> dict[str, Any]:
    """One JSON row (see the module docstring)."""
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return {"name": name, "value": clean(value), "unit": unit, "budget": budget, "ok": ok, "peer": clean(peer),
            "ratio": clean(ratio), "extra": clean(extra)}


def _scaled(limit: float, text: str, fraction: float) -> tuple[float, str]:
    """A time budget for an input `fraction` the size of the budget's (linear work): (limit, words)."""
    if fraction >= 1.0:
        return limit, text
    return limit * fraction, f"{text} (scaled to this input: < {limit * fraction:.3g} s)"


def load_note() -> dict[str, float]:
    try:
        one, five, _ = os.getloadavg()
        return {"load_1min": round(one, 2), "load_5min": round(five, 2)}
    except OSError:  # pragma: no cover
        return {}


# ------------------------------------------------------------------------------------------ spotting features


def bench_spotting_features(n_frames: int = 1800, peer_frames: int = 1800, repeats: int = 3,
                            data: Path | None = None, threads: int | None = None) -> dict[str, Any]:
    """AU-prototype spotting (``AUPrototypeSpotter.spot_source``: landmarks once per window, flow on the two regions
    at the default flow_scale, frames decoded in a thread pool) over a 640x480 30 fps video of `n_frames` JPEG
    frames, in frames of video per second; the peer: ``peers.spotting_features`` on the first `peer_frames`
    frames."""
    from mebench.baselines.face import detect_landmarks
    from mebench.baselines.flow import PathFrames, default_threads, window_features, window_rois

    data = Path(data or default_data())
    video = inputs.long_video(data / f"video-640x480-{n_frames}", n_frames)
    spotter = inputs.fit_spotter(video, threads=threads)  # au-prototype's default flow_scale
    scale = spotter.config.flow_scale
    full_scale = inputs.fit_spotter(video, flow_scale=1.0).prototypes_
    detect_landmarks(PathFrames(video.items).get(0))  # dlib's models loaded before any timing

    found: list[Any] = []

    def ours() -> None:
        found[:] = spotter.spot_source(PathFrames(video.items), video.fps, where="bench video")

    walls, cpus, _ = measure(ours, repeats)
    fps = n_frames / median(walls)
    window = max(2, int(round(spotter.window_s * video.fps)))
    p_walls, p_cpus, peer_curves = measure(
        lambda: peers.spotting_features(video.items, full_scale, window, limit=peer_frames), 1)
    peer_fps = min(peer_frames, n_frames) / median(p_walls)
    # accuracy of the fast configuration: the first window's curves at the default flow_scale against the peer's
    source = PathFrames(video.items)
    span = min(window, len(peer_curves))
    landmarks = detect_landmarks(source.get(0))
    rois = window_rois(source.get(0), landmarks, spotter.config)
    fast_curves = window_features(source, 0, span, rois, spotter.prototypes_, spotter.config)
    corr = _key_corr(fast_curves, spotter.prototypes_.keys, peer_curves[:span], full_scale.keys)
    # what other flow scales give (au-prototype 1.0.0 used 0.5): CPU per flow and the same correlation, on the
    # first window
    options = {}
    for other_scale in (0.5, 0.25):
        other = inputs.fit_spotter(video, flow_scale=other_scale, threads=1)
        config = other.config
        other_rois = window_rois(source.get(0), landmarks, config)
        cpu = time.process_time()
        curves = window_features(source, 0, span, other_rois, other.prototypes_, config)
        cpu = time.process_time() - cpu
        options[f"flow_scale_{other_scale}"] = {
            "cpu_ms_per_flow": 1000 * cpu / max(1, span - 1),
            "curve_correlation_vs_10": _key_corr(curves, other.prototypes_.keys, peer_curves[:span],
                                                 full_scale.keys)}
    cpu = time.process_time()
    window_features(source, 0, span, rois, spotter.prototypes_, spotter.config)
    options[f"flow_scale_{scale}"] = {"cpu_ms_per_flow": 1000 * (time.process_time() - cpu) / max(1, span - 1),
                                      "default": True}
    ratio = fps / peer_fps
    ok = fps >= 150.0 and ratio >= 10.0
    return make_row(
        "spotting-features", fps, "frames/s", ">= 150 frames/s on 2 cores and >= 10x the peer", ok,
        {"name": "per-frame dlib detect + 68 landmarks + Farneback on the full-size regions, no reuse, serial",
         "value": peer_fps, "unit": "frames/s",
         "scope": f"the first {min(peer_frames, n_frames)} of the {n_frames} frames (same video)"},
        ratio, wall_s=walls, cpu_s=cpus, peer_wall_s=p_walls, peer_cpu_s=p_cpus, threads=threads or default_threads(),
        video=f"{video.size[0]}x{video.size[1]}, {n_frames} frames at {video.fps:g} fps, {len(video.events)} "
              "expressions, blinks, head drift",
        intervals_found=len(found), prototypes=list(spotter.prototypes_.keys),
        flow_scale=scale, curve_correlation_vs_10=corr, flow_scales=options, **load_note())


def _key_corr(curves: Any, keys: tuple[str, ...], reference: Any, reference_keys: tuple[str, ...]) -> dict:
    """{prototype: Pearson correlation of its curve with the reference's curve of the same prototype}."""
    return {k: _corr(curves[:, i], reference[:, reference_keys.index(k)]) for i, k in enumerate(keys)
            if k in reference_keys}


def _corr(a: Any, b: Any) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


# ------------------------------------------------------------------------------------------- spotting metrics


def bench_spotting_metrics(n_gt: int = 100_000, n_pred: int = 1_000_000, n_videos: int = 1000, repeats: int = 5,
                           peer: bool = True) -> dict[str, Any]:
    """``mebench.metrics.spotting`` (greedy, IoU >= 0.5, micro/macro/overall) on `n_pred` predictions x `n_gt` GT
    intervals; the peer: a per-pair Python greedy matcher on the same input."""
    from mebench.metrics.spotting import spotting

    gt, pred = inputs.intervals(n_gt, n_pred, n_videos)
    walls, cpus, result = measure(lambda: spotting(gt, pred, iou=0.5), repeats)
    value = median(walls)
    peer_row, ratio, same = None, None, None
    if peer:
        p_walls, p_cpus, counts = measure(lambda: peers.spotting_counts(gt, pred, 0.5), 1)
        same = all(counts[k] == result["overall"][k] for k in ("tp", "fp", "fn"))
        peer_row = {"name": "per-pair Python greedy matcher (same rule)", "value": median(p_walls), "unit": "s",
                    "scope": "the same input"}
        ratio = median(p_walls) / value
    limit, budget = _scaled(2.0, "< 2 s for 10^6 predictions x 10^5 GT", n_pred / 1_000_000)
    return make_row("spotting-metrics", value, "s", budget, value < limit, peer_row, ratio, wall_s=walls,
                    cpu_s=cpus, n_pred=n_pred, n_gt=n_gt, n_videos=n_videos,
                    same_counts_as_peer=same, overall=result["overall"], **load_note())


# ------------------------------------------------------------------------------------------ recognition metrics


def bench_recognition(n: int = 1_000_000, repeats: int = 7, peer: bool = True) -> dict[str, Any]:
    """UF1, UAR and accuracy of `n` rows of str labels in object arrays (what the harness passes), computed together
    by ``recognition_scores`` (one encoding of the labels; what ``mebench.results`` calls), and as three separate
    calls ``uf1`` + ``uar`` + ``accuracy`` (each encodes the labels again); the peer: one per-row Python loop
    computing the three, the same work as the first. Both mebench figures must meet the budget."""
    import numpy as np

    from mebench.metrics.recognition import accuracy, recognition_scores, uar, uf1

    def together() -> tuple[float, float, float]:
        scores = recognition_scores(y_true, y_pred)
        return scores["uf1"], scores["uar"], scores["accuracy"]

    y_true, y_pred = inputs.labels(n)
    walls, cpus, result = measure(together, repeats)
    three_walls, three_cpus, three = measure(
        lambda: (uf1(y_true, y_pred), uar(y_true, y_pred), accuracy(y_true, y_pred)), repeats)
    unicode_true, unicode_pred = y_true.astype(str), y_pred.astype(str)
    u_walls, _, _ = measure(lambda: (uf1(unicode_true, unicode_pred), uar(unicode_true, unicode_pred),
                                     accuracy(unicode_true, unicode_pred)), repeats)
    value = median(walls)
    peer_row, ratio, same = None, None, None
    if peer:
        p_walls, p_cpus, expected = measure(lambda: peers.recognition(y_true, y_pred), 1)
        same = bool(np.allclose(result, expected, rtol=0, atol=1e-12)
                    and np.allclose(three, expected, rtol=0, atol=1e-12))
        peer_row = {"name": "per-row Python loop computing the three", "value": median(p_walls), "unit": "s",
                    "scope": "the same input"}
        ratio = median(p_walls) / value
    limit, budget = _scaled(0.5, "< 0.5 s for UF1 + UAR + accuracy on 10^6 rows (together, and as 3 calls)",
                            n / 1_000_000)
    ok = value < limit and median(three_walls) < limit
    return make_row("recognition-metrics", value, "s", budget, ok, peer_row, ratio, wall_s=walls, cpu_s=cpus, n=n,
                    same_values_as_peer=same, three_calls_s=median(three_walls), three_calls_wall_s=three_walls,
                    three_calls_cpu_s=three_cpus, numpy_unicode_arrays_three_calls_s=median(u_walls),
                    **load_note())


# ----------------------------------------------------------------------------------------------- corpus build


def bench_corpus_build(frames: int = 250_000, repeats: int = 3, data: Path | None = None,
                       peer: bool = True) -> dict[str, Any]:
    """``mebench.corpus.build_corpus`` of the four real annotation files (CASME II, SAMM, CAS(ME)^2, CASMEMG) over
    dataset roots holding `frames` empty frame files; the peer: the same build with a naive media index."""
    from mebench.corpus import Source, build_corpus

    data = Path(data or default_data())
    roots, made = inputs.dataset_roots(data / f"roots-{frames}", frames)
    sources = [Source(name, root) for name, root in roots.items()]
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    counter = [0]

    def out() -> Path:
        counter[0] += 1
        return work / f"corpus{counter[0]}"

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            walls, cpus, result = measure(lambda: build_corpus(sources, out()), repeats)
            value = median(walls)
            peer_row, ratio = None, None
            if peer:
                p_walls, p_cpus, p_result = measure(lambda: peers.naive_build(sources, out()), repeats)
                assert p_result.fingerprint == result.fingerprint
                peer_row = {"name": "the same build, every frame file of every row's folder stat'ed, globs per row",
                            "value": median(p_walls), "unit": "s", "scope": "the same dataset roots"}
                ratio = median(p_walls) / value
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = sum(c["samples"] for c in result.counts.values())
    return make_row("corpus-build", value, "s", "< 10 s for the 4 annotation files + a 250k-frame media index",
                    value < 10.0, peer_row, ratio, wall_s=walls, cpu_s=cpus, frame_files=made, rows=rows,
                    missing_media_notes=sum(1 for n in result.notes if n.get("kind") == "missing-media"),
                    **load_note())


# ------------------------------------------------------------------------------------------------------- EMG


def bench_emg(seconds: float = 1800.0, excerpt_s: float = 5.0, repeats: int = 7) -> dict[str, Any]:
    """``mebench.baselines.emg.preprocess`` (seed 001 eq. 1-4) of an 8-channel 1 kHz recording of `seconds`, one
    thread, in multiples of real time; the peer: ``peers.emg_envelope`` on the first `excerpt_s` seconds."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from mebench.baselines.emg import preprocess

    x = inputs.emg(seconds)
    excerpt = x[: int(excerpt_s * 1000)]
    with threadpool_limits(limits=1):
        preprocess(x[:5000])
        walls, cpus, _ = measure(lambda: preprocess(x), repeats)
        p_walls, p_cpus, slow = measure(lambda: peers.emg_envelope(excerpt), 1)
    fast = preprocess(excerpt)
    same = bool(np.allclose(fast, slow, rtol=1e-9, atol=1e-9 * float(np.abs(fast).max())))
    value = seconds / median(walls)
    peer_value = excerpt_s / median(p_walls)
    return make_row("emg-preprocess", value, "x real time", ">= 5000x real time, 8 channels at 1 kHz, one core",
                    value >= 5000.0,
                    {"name": "per-sample direct-form IIR in pure Python (same filters and padding)",
                     "value": peer_value, "unit": "x real time",
                     "scope": f"the first {excerpt_s:g} s of the recording, extrapolated (a rate)"},
                    value / peer_value, wall_s=walls, cpu_s=cpus, recording_s=seconds, channels=x.shape[1],
                    cpu_real_time=seconds / median(cpus), same_envelope_as_peer=same, **load_note())


# ------------------------------------------------------------------------------------------------ lbptop-svm


def _mebench_run(corpus: Path, cache: Path, out: Path) -> tuple[float, float, dict[str, Any]]:
    """`mebench run` of lbptop-svm in a subprocess: (wall s, CPU s of the child, results record)."""
    before = os.times()
    start = time.perf_counter()
    command = [sys.executable, "-m", "mebench", "run", "--protocol", "casme2-loso-5class", "--corpus", str(corpus),
               "--model", "mebench.baselines.lbptop:LbpTopSvm", "--cache-dir", str(cache), "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise RuntimeError(f"mebench run failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, json.loads(out.read_text())


def lbptop_available() -> str | None:
    """None when ``mebench.baselines.lbptop:LbpTopSvm`` imports, else why not."""
    try:
        importlib.import_module("mebench.baselines.lbptop").LbpTopSvm
    except Exception as error:  # noqa: BLE001 - a colleague's module being written
        return f"mebench.baselines.lbptop:LbpTopSvm is not available yet ({type(error).__name__}: {error})"
    return None


def bench_lbptop(scale: str = "full", repeats: int = 3, data: Path | None = None) -> dict[str, Any]:
    """`mebench run --model lbptop-svm` on casme2-loso-5class over a CASME II shadow at `scale`: the second run
    (features read back from the cache), against the first (features computed) as the peer."""
    missing = lbptop_available()
    budget = "< 30 s for the second run (cached features) on a full-size CASME II shadow"
    if missing:
        return make_row("lbptop-second-run", None, "s", budget, None, None, None, error=missing)
    data = Path(data or default_data())
    corpus = inputs.casme2_shadow(data, scale)
    work = Path(tempfile.mkdtemp(prefix="bench-lbptop-"))
    try:
        first_wall, first_cpu, first = _mebench_run(corpus, work / "cache", work / "r0.json")
        walls, cpus, records = [], [], []
        for i in range(max(1, repeats)):
            wall, cpu, record = _mebench_run(corpus, work / "cache", work / f"r{i + 1}.json")
            walls.append(wall)
            cpus.append(cpu)
            records.append(record)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    features = [r["details"]["harness"]["features"] for r in [first] + records]
    same = all(r["submission"]["predictions_sha256"] == first["submission"]["predictions_sha256"] for r in records)
    value = median(walls)
    return make_row("lbptop-second-run", value, "s", budget, value < 30.0 if scale == "full" else value < 30.0,
                    {"name": "the first run (features computed)", "value": first_wall, "unit": "s",
                     "scope": "the same corpus and protocol"},
                    first_wall / value, wall_s=walls, cpu_s=cpus, first_cpu_s=first_cpu, scale=scale,
                    rows=int(first["details"]["n"]) if "n" in first["details"] else None, features=features,
                    same_predictions=same, **load_note())


# ----------------------------------------------------------------------------------------------- dask scaling


def _dask_runs(rows: int, repeats: int, base: Path, tasks_for: Callable[[Path], list[Any]],
               results: dict[int, tuple[list[float], list[float]]], distributed_defaults: bool = False) -> None:
    """Time the extraction on a 1-worker cluster and on the 2 workers of ``Backend('dask')``, both started first
    and then alternated repeat by repeat (a change in the machine's load hits both alike). The 1-worker cluster
    is started as mebench starts its own (``mebench.parallel.local_cluster``); with `distributed_defaults` both
    are plain ``LocalCluster``s with distributed's settings instead. CPU: the workers' (``client.run(
    time.process_time)`` before and after)."""
    from dask.distributed import LocalCluster

    from mebench.parallel import Backend, local_cluster

    if distributed_defaults:
        clusters = [LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                 silence_logs=50) for n in (1, 2)]
        backends = {1: Backend("dask", scheduler=clusters[0].scheduler_address),
                    2: Backend("dask", scheduler=clusters[1].scheduler_address)}
    else:
        clusters = [local_cluster(1)]
        backends = {1: Backend("dask", scheduler=clusters[0].scheduler_address), 2: Backend("dask", jobs=2)}
    try:
        for workers, backend in backends.items():
            backend.start()
            backend.map(inputs.extract_batch, tasks_for(base / f"warm{workers}")[:2])  # imports, unpickling
            results[workers] = ([], [])
        for repeat in range(max(1, int(repeats))):
            for workers, backend in backends.items():
                before = backend.client.run(time.process_time)
                start = time.perf_counter()
                done = backend.map(inputs.extract_batch, tasks_for(base / f"c{workers}-{repeat}"))
                wall = time.perf_counter() - start
                after = backend.client.run(time.process_time)
                assert sum(c for c, _ in done) == rows
                results[workers][0].append(wall)
                results[workers][1].append(sum(after[w] - before.get(w, after[w]) for w in after))
    finally:
        for backend in backends.values():
            backend.close()
        for cluster in clusters:
            cluster.close()


def bench_dask(rows: int = 192, work: int = 40, repeats: int = 3, compare_defaults: bool = False) -> dict[str, Any]:
    """Feature extraction through ``mebench.parallel.Backend('dask')`` (a CPU-bound extractor, through the
    feature cache, rows in batches as the runner makes them): 2 workers (``--backend dask``) against a 1-worker
    cluster started the same way, in rows per second. `compare_defaults`: the same on plain LocalClusters with
    distributed's default worker environment (run last: their nannies leave MALLOC_TRIM_THRESHOLD_ set here)."""
    import cloudpickle

    from mebench.runner import _batches

    cloudpickle.register_pickle_by_value(inputs)  # the workers cannot import benchmarks/inputs.py
    extractor = inputs.CpuExtractor(work=work)
    tasks_for = lambda cache: [inputs.ExtractBatch(extractor, [f"row{i:05d}" for i in part], str(cache))  # noqa
                               for part in _batches(rows, 2)]
    base = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    results: dict[int, tuple[list[float], list[float]]] = {}
    defaults: dict[int, tuple[list[float], list[float]]] = {}
    saved = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's notes about ports and the dashboard
        try:
            _dask_runs(rows, repeats, base, tasks_for, results)
            if compare_defaults:
                _dask_runs(rows, repeats, base / "defaults", tasks_for, defaults, distributed_defaults=True)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            if saved is None:
                os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    two = rows / median(results[2][0])
    single = rows / median(results[1][0])
    ratio = two / single
    other = {} if not defaults else {"distributed_default_environment": {
        "rows_per_s_2_workers": rows / median(defaults[2][0]), "rows_per_s_1_worker": rows / median(defaults[1][0]),
        "ratio": median(defaults[1][0]) / median(defaults[2][0]), "cpu_s_2_workers": defaults[2][1],
        "cpu_s_1_worker": defaults[1][1]}}
    return make_row("dask-scaling", two, "rows/s", ">= 1.7x the 1-worker throughput (2 workers)", ratio >= 1.7,
                    {"name": "the same extraction on a 1-worker Dask cluster", "value": single,
                     "unit": "rows/s", "scope": "the same rows and extractor"},
                    ratio, wall_s=results[2][0], cpu_s=results[2][1], peer_wall_s=results[1][0],
                    peer_cpu_s=results[1][1], rows=rows, row_cost_ms=work, **other, **load_note())


# ----------------------------------------------------------------------------------------------------- main


def default_data() -> Path:
    return Path(os.environ.get("MEBENCH_BENCH_DATA") or Path(tempfile.gettempdir()) / "mebench-bench-data")


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "spotting-features": bench_spotting_features,
    "spotting-metrics": bench_spotting_metrics,
    "recognition-metrics": bench_recognition,
    "corpus-build": bench_corpus_build,
    "emg-preprocess": bench_emg,
    "lbptop-second-run": bench_lbptop,
    "dask-scaling": bench_dask,
}
TAKES_DATA = {"spotting-features", "corpus-build", "lbptop-second-run"}


def run_one(name: str, size: str, data: Path, repeats: int | None = None) -> dict[str, Any]:
    params = dict(SIZES[name][size])
    if repeats is not None:
        params["repeats"] = repeats
    if name in TAKES_DATA:
        params["data"] = data
    started = time.perf_counter()
    try:
        row = RUNNERS[name](**params)
    except Exception as error:  # noqa: BLE001 - one failed benchmark must not hide the others
        row = make_row(name, None, "", "", None, None, None, error=f"{type(error).__name__}: {error}",
                       traceback=traceback.format_exc()[-3000:])
    row["extra"]["benchmark_s"] = round(time.perf_counter() - started, 2)
    return row


def run_child(name: str, quick: bool, data: Path, repeats: int | None) -> dict[str, Any]:
    """`run_one` in a fresh Python process: what one benchmark leaves behind (a heap fragmented by a peer's
    millions of tuples made the next benchmark's pandas calls up to 2x slower; Dask's nanny writes its workers'
    variables into this process' environment) cannot change another's numbers."""
    with tempfile.TemporaryDirectory(prefix="bench-child-") as folder:
        out = Path(folder) / "row.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--only", name, "--data", str(data),
                   "--child-out", str(out)] + (["--quick"] if quick else []) + \
            (["--repeats", str(repeats)] if repeats is not None else [])
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0 and out.is_file():
            return json.loads(out.read_text())
        row = make_row(name, None, "", "", None, None, None,
                       error=f"the benchmark's process failed ({done.returncode})",
                       stderr=done.stderr.strip()[-3000:])
        row["extra"]["benchmark_s"] = round(time.perf_counter() - started, 2)
        return row


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'benchmark':<20} {'value':>12} {'unit':<12} {'ok':<5} {'peer':>12} {'ratio':>9}  {'cpu s':>8}  budget",
             "-" * 118]
    for row in rows:
        peer = row["peer"] or {}
        cpu = row["extra"].get("cpu_s")
        ok = {True: "yes", False: "NO", None: "-"}[row["ok"]]
        lines.append(f"{row['name']:<20} {_fmt(row['value']):>12} {row['unit']:<12} {ok:<5} "
                     f"{_fmt(peer.get('value')):>12} {_fmt(row['ratio']):>9}  "
                     f"{_fmt(median(cpu)) if cpu else '-':>8}  {row['budget']}")
        if "error" in row["extra"]:
            lines.append(f"{'':<20} error: {row['extra']['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="write the JSON rows here")
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke test (< 2 minutes)")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=None, help="run only these benchmarks")
    parser.add_argument("--data", type=Path, default=None,
                        help="where slow-to-make inputs are kept and reused (default $MEBENCH_BENCH_DATA or "
                             "$TMPDIR/mebench-bench-data)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement (default per benchmark)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the benchmarks in this process (default: each in a fresh child process)")
    parser.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = "quick" if args.quick else "full"
    data = args.data or default_data()
    data.mkdir(parents=True, exist_ok=True)
    if args.child_out is not None:  # one benchmark, in a child process: its row to the given file
        row = run_one(args.only[0], size, data, args.repeats)
        args.child_out.write_text(json.dumps(row))
        return 0
    started = time.perf_counter()
    print(f"mebench benchmarks ({size}): {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start, "
          f"inputs kept in {data}", flush=True)
    rows = []
    for name in args.only or NAMES:
        row = run_one(name, size, data, args.repeats) if args.in_process else \
            run_child(name, args.quick, data, args.repeats)
        rows.append(row)
        print(f"  {name}: {_fmt(row['value'])} {row['unit']} ({row['extra']['benchmark_s']:.0f} s)", flush=True)
    print()
    print(table(rows))
    print(f"\n{time.perf_counter() - started:.0f} s in all; load average now {os.getloadavg()[0]:.1f}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    if any("error" in r["extra"] for r in rows):
        return 2
    # --quick: a smoke test at sizes that are not the budgets' own: only errors fail it
    return 0 if args.quick or all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
