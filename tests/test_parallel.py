"""mebench.parallel.local_cluster: the clusters mebench starts run their workers without distributed's
MALLOC_TRIM_THRESHOLD_, even when an earlier cluster's nanny has written it into this process' environment."""

from __future__ import annotations

import os

from dask.distributed import Client

from mebench.parallel import local_cluster


def _worker_setting() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _worker_profiles() -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled"))


def test_workers_do_not_inherit_the_trim_threshold(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what a nanny leaves behind in the process that starts it
    cluster = local_cluster(1)
    try:
        with Client(cluster) as client:
            seen = client.run(_worker_setting)
            assert list(seen.values()) == [None]
            assert list(client.run(_worker_profiles).values()) == [False]  # no dashboard, no profiler
            assert len(client.scheduler_info()["workers"]) == 1
    finally:
        cluster.close()
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # this process keeps what it had
