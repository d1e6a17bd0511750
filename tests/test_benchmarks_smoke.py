"""benchmarks/run.py (not part of the package) still runs: the two metric benchmarks at a tiny size give rows of the
documented shape, and their peers agree with mebench on the numbers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
KEYS = {"name", "value", "unit", "budget", "ok", "peer", "ratio", "extra"}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("mebench_benchmarks_run", RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check_row(row, name, unit):
    assert set(row) == KEYS
    assert row["name"] == name and row["unit"] == unit
    assert isinstance(row["value"], float) and row["value"] > 0
    assert isinstance(row["budget"], str) and row["budget"]
    assert isinstance(row["ok"], bool)
    assert set(row["peer"]) == {"name", "value", "unit", "scope"} and row["peer"]["value"] > 0
    assert row["ratio"] == pytest.approx(row["peer"]["value"] / row["value"], rel=1e-3)
    assert len(row["extra"]["wall_s"]) == len(row["extra"]["cpu_s"]) == 1
    json.dumps(row)  # JSON-able as is


def test_recognition_metrics_benchmark_row(bench):
    row = bench.bench_recognition(n=20_000, repeats=1)
    _check_row(row, "recognition-metrics", "s")
    assert row["extra"]["same_values_as_peer"] is True


def test_spotting_metrics_benchmark_row(bench):
    row = bench.bench_spotting_metrics(n_gt=500, n_pred=5_000, n_videos=10, repeats=1)
    _check_row(row, "spotting-metrics", "s")
    assert row["extra"]["same_counts_as_peer"] is True
    assert row["extra"]["overall"]["tp"] > 0
