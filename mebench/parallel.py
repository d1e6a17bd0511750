"""Where fold and feature work runs: in this process, on joblib workers, or on a Dask cluster - with the same results.

Why one small abstraction: the runner describes its work as a list of independent, picklable tasks (one per fold, or
one per batch of rows to extract features from) and a top-level function; ``Backend.map`` runs them and returns the
results in task order, whatever order they finished in. Every random choice a task makes is seeded from the task
itself (the fold seed is part of the fold task), never from the worker it lands on, so serial, joblib and Dask runs
give identical predictions.

- ``Backend("joblib", jobs=1)``: a plain loop in this process (no pickling; what tests and small runs use);
- ``Backend("joblib", jobs=N)``: joblib's process pool (loky), N workers (-1 = one per core);
- ``Backend("dask")``: starts a ``dask.distributed.LocalCluster`` (processes, 2 workers or ``jobs`` when > 1, one
  thread each, no dashboard) and submits the tasks with ``client.map``; closed again when the backend is;
- ``Backend("dask", scheduler="tcp://host:8786")``: connects to an existing scheduler (left running on close).

Large inputs every task needs (the corpus rows, the protocol) go in a ``Shared`` value: each task carries it, but
it is pickled once per run and unpickled once per worker process (a token-keyed cache), not once per task.

Use it as a context manager (``with Backend(...) as backend: backend.map(f, tasks)``) so a local cluster is shut
down even when a task fails.
"""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from collections import OrderedDict
from typing import Any, Callable, Sequence

from mebench.errors import InputError

__all__ = ["BACKENDS", "Backend", "Shared", "local_cluster", "progress_bar"]

BACKENDS = ("joblib", "dask")
_SHARED: OrderedDict[str, Any] = OrderedDict()
_SHARED_LOCK = threading.Lock()
_SHARED_KEEP = 4


def _dumps(value: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - dask and joblib bring cloudpickle
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class Shared:
    """A value every task of a run needs: pickled once (on first send) and unpickled once per process."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.token = uuid.uuid4().hex
        self._blob: bytes | None = None

    def __getstate__(self) -> dict[str, Any]:
        if self._blob is None:
            self._blob = _dumps(self.value)
        return {"token": self.token, "blob": self._blob}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.token = state["token"]
        self._blob = None
        with _SHARED_LOCK:
            if self.token in _SHARED:
                _SHARED.move_to_end(self.token)
                self.value = _SHARED[self.token]
                return
            self.value = pickle.loads(state["blob"])
            _SHARED[self.token] = self.value
            while len(_SHARED) > _SHARED_KEEP:
                _SHARED.popitem(last=False)


def progress_bar(enabled: bool = True) -> Any:
    """A rich progress bar on stderr (shown only on a terminal, so pipes, logs and error output stay clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=True,
                    disable=not (enabled and console.is_terminal))


_MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"


def local_cluster(n_workers: int) -> Any:
    """A ``dask.distributed.LocalCluster`` of `n_workers` single-thread worker processes, no dashboard, started the
    way every mebench cluster is: its workers run with glibc's default malloc trim threshold.

    Why: distributed's nannies set ``MALLOC_TRIM_THRESHOLD_=65536`` for their workers, so every numpy temporary over
    64 KiB becomes a fresh mmap whose pages fault in again (numpy-heavy extractors ran 2.5-3.5x slower per row).
    Unsetting it in dask's configuration is not enough: a nanny also writes it into ``os.environ`` of the process
    that starts it, so after any other cluster it would be inherited. It is taken out of the environment while the
    workers spawn and put back after (the starting process keeps what it had). The monitoring that feeds only the
    dashboard runs less often (see ``settings``)."""
    import dask
    from dask.distributed import LocalCluster

    saved = os.environ.pop(_MALLOC_TRIM, None)
    settings = {
        f"distributed.nanny.pre-spawn-environ.{_MALLOC_TRIM}": None,
        # what only a dashboard shows (these clusters have none): the 20 ms event-loop tick, the 0.5 s system monitor
        # and the 10 ms statistical profiler run in every process and took ~7 % of 2 busy cores
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
        "distributed.worker.profile.enabled": False,
    }
    try:
        with dask.config.set(settings):
            return LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True,
                                dashboard_address=None, silence_logs=50)
    finally:
        if saved is not None:
            os.environ[_MALLOC_TRIM] = saved


class Backend:
    """Runs ``func`` over tasks serially, with joblib, or on Dask; results in task order."""

    def __init__(self, kind: str = "joblib", jobs: int = 1, scheduler: str | None = None) -> None:
        if scheduler is not None and kind != "dask":
            kind = "dask"  # --scheduler implies the Dask backend
        if kind not in BACKENDS:
            raise InputError(f"unknown backend {kind!r}; known backends: {', '.join(BACKENDS)}")
        if not isinstance(jobs, int) or jobs == 0 or jobs < -1:
            raise InputError(f"--jobs must be a positive number of workers or -1 (one per core), got {jobs!r}")
        self.kind = kind
        self.jobs = (os.cpu_count() or 1) if jobs == -1 else jobs
        self.scheduler = scheduler
        self.client: Any = None
        self.cluster: Any = None

    def __repr__(self) -> str:
        where = f", scheduler={self.scheduler!r}" if self.scheduler else ""
        return f"Backend({self.kind!r}, jobs={self.jobs}{where})"

    @property
    def serial(self) -> bool:
        return self.kind == "joblib" and self.jobs == 1

    def describe(self) -> dict[str, Any]:
        """What the results record says about where the work ran."""
        if self.kind == "dask":
            return {"backend": "dask", "scheduler": self.scheduler or "LocalCluster", "workers": self.n_workers()}
        return {"backend": "joblib", "jobs": self.jobs}

    def n_workers(self) -> int:
        if self.kind != "dask":
            return self.jobs
        if self.client is None:
            return 0
        try:
            return len(self.client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001 - informational only
            return 0

    # ---- lifecycle

    def __enter__(self) -> "Backend":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        if self.kind != "dask" or self.client is not None:
            return
        try:
            from dask.distributed import Client
        except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
            raise InputError(f"--backend dask needs dask[distributed] ({exc})") from None
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot connect to the Dask scheduler at {self.scheduler!r} ({exc})") from None
            return
        self.cluster = local_cluster(self.jobs if self.jobs > 1 else 2)
        self.client = Client(self.cluster)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    # ---- work

    def map(self, func: Callable[[Any], Any], tasks: Sequence[Any], *, progress: Any = None,
            description: str = "", sizes: Sequence[int] | None = None) -> list[Any]:
        """[func(t) for t in tasks], run where the backend says, in task order; `progress` (a rich Progress)
        advances as tasks finish, by `sizes[i]` for task i (e.g. its number of rows) or by 1."""
        tasks = list(tasks)
        weights = list(sizes) if sizes is not None else [1] * len(tasks)
        bar = progress.add_task(description, total=sum(weights)) if progress is not None else None

        def advance(i: int) -> None:
            if progress is not None:
                progress.advance(bar, weights[i])

        if not tasks:
            return []
        if self.kind == "dask":
            return self._map_dask(func, tasks, advance)
        if self.jobs == 1 or len(tasks) == 1:
            out = []
            for i, task in enumerate(tasks):
                out.append(func(task))
                advance(i)
            return out
        from joblib import Parallel, delayed

        out = []
        parallel = Parallel(n_jobs=min(self.jobs, len(tasks)), backend="loky", return_as="generator")
        for i, result in enumerate(parallel(delayed(func)(task) for task in tasks)):
            out.append(result)
            advance(i)
        return out

    def _map_dask(self, func: Callable[[Any], Any], tasks: list[Any], advance: Callable[[int], None]) -> list[Any]:
        from dask.distributed import as_completed

        self.start()
        futures = self.client.map(func, tasks, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                advance(index[future.key])
            return self.client.gather(futures)
        finally:
            for future in futures:
                future.release()
