"""Rendering jobs: one job = one folder of frames (a cut clip or a long video), rendered in worker processes.

A job names its face (identity seed keys, frame size, IOD, grey or colour), its frames (file name pattern and the
frame number of the first file), the expressions inside it (AUs with side and amplitude, onset/apex/offset as frame
indices within the job) and the unannotated distractors (blinks, head drift, sensor noise). Every random choice is
fixed by the job's own seed keys, so the bytes do not depend on the number of workers or the order jobs finish in.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

FaceKey = tuple  # (seed, family, subject, width, height, iod, gray)


@dataclass
class Job:
    face: FaceKey
    folder: str | None  # absolute folder to write; None: no image files (the video only)
    pattern: str  # file name, str.format with n = the frame number, e.g. 'img{n}.jpg', '006_{n:05d}.jpg'
    first: int  # frame number of the first file
    n_frames: int
    events: list[tuple[list[tuple[int, str | None, float]], float, float, float]] = field(default_factory=list)
    blinks: list[tuple[int, int, int]] = field(default_factory=list)
    drift_px: float = 0.2  # head drift amplitude, pixels
    fps: float = 200.0
    noise_sigma: float = 1.6
    seed_keys: tuple = ()
    video: str | None = None  # also mux the frames into this Motion-JPEG AVI (long videos' rawvideo files)


_FACES: "OrderedDict[FaceKey, object]" = OrderedDict()
_FACES_LOCK = threading.Lock()


def _face(key: FaceKey):
    """The subject's Face, built once and kept while its jobs run (a small LRU shared by the worker threads)."""
    from mebench.synth import faces, rng

    with _FACES_LOCK:
        if key in _FACES:
            _FACES.move_to_end(key)
            return _FACES[key]
        seed, family, subject, width, height, iod, gray = key
        face = faces.Face(faces.make_identity(rng(seed, "identity", family, subject)), (width, height), iod,
                          gray=gray)
        _FACES[key] = face
        while len(_FACES) > 4:
            _FACES.popitem(last=False)
        return face


def drift(gen: np.random.Generator, n_frames: int, fps: float, amplitude: float) -> np.ndarray:
    """(n_frames, 2) slow head translation: a few low-frequency sinusoids (0.03-0.4 Hz) per axis."""
    t = np.arange(n_frames) / fps
    out = np.zeros((n_frames, 2))
    for axis in range(2):
        for _ in range(3):
            frequency = gen.uniform(0.03, 0.4)
            out[:, axis] += gen.uniform(0.2, 0.5) * np.sin(2 * np.pi * frequency * t + gen.uniform(0, 2 * np.pi))
    out -= out[:1]
    return np.round(out * amplitude / 1.2, 4)


def run_job(job: Job) -> int:
    """Render and write the job's frames; returns the number of frames written."""
    from mebench.synth import aufields, faces, rng

    face = _face(job.face)
    gen = rng(job.face[0], "job", *job.seed_keys)
    noise = faces.NoiseBank(gen, face.base.shape, job.noise_sigma)
    shifts = drift(gen, job.n_frames, job.fps, job.drift_px)
    noise_order = gen.integers(0, noise.n, size=job.n_frames)
    envelopes = [(aus, aufields.profile(job.n_frames, on, ap, off)) for aus, on, ap, off in job.events]
    envelopes += [([(45, None, 1.0)], aufields.profile(job.n_frames, on, ap, off)) for on, ap, off in job.blinks]
    folder = Path(job.folder) if job.folder is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    video = None
    if job.video is not None:
        from mebench.synth.avi import MjpegAviWriter

        video = MjpegAviWriter(job.video, face.size[0], face.size[1], job.fps)
    try:
        for index in range(job.n_frames):
            weights = faces.weights_at(envelopes, index)
            frame = face.render(weights, shift=tuple(shifts[index]), noise=noise,
                                noise_index=int(noise_order[index]))
            data = faces.encode_jpeg(frame)
            if folder is not None:
                (folder / job.pattern.format(n=job.first + index)).write_bytes(data)
            if video is not None:
                video.add(data)
    finally:
        if video is not None:
            video.close()
    return job.n_frames


def run_jobs(jobs: Sequence[Job], progress: Callable[[int, int], None] | None = None,
             workers: int | None = None) -> int:
    """Run every job; returns the number of frames written.

    Worker THREADS (2 on a 2-core machine): remap, resize, JPEG encoding, numpy and file writes release the GIL, so
    threads scale almost like processes here, without pickling, start-up cost or a __main__ guard in callers.
    """
    import cv2

    total = sum(j.n_frames for j in jobs)
    if workers is None:
        workers = min(os.cpu_count() or 1, 2)
    done = 0
    if progress is not None:
        progress(0, total)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # one frame per thread; OpenCV's own pool would only compete
    try:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                done += run_job(job)
                if progress is not None:
                    progress(done, total)
            return done
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synth") as pool:
            futures = [pool.submit(run_job, job) for job in jobs]
            for future in as_completed(futures):
                done += future.result()
                if progress is not None:
                    progress(done, total)
        return done
    finally:
        cv2.setNumThreads(threads)
