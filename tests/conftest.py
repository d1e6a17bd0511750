"""Shared fixtures. The conformance suite reads the real annotation files of ../shared/annotations (or
$MEBENCH_ANNOTATIONS); it skips with a reason where they are absent, and fails instead under CI
(MEBENCH_REQUIRE_CONFORMANCE=1) so that CI can never pass by skipping it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def annotations_root() -> Path:
    return Path(os.environ.get("MEBENCH_ANNOTATIONS", REPO.parent / "shared" / "annotations"))


def real_file(relative: str) -> Path:
    """A real annotation file, or skip (fail under MEBENCH_REQUIRE_CONFORMANCE=1) when it is absent."""
    path = annotations_root() / relative
    if not path.exists():
        message = f"real annotation file {path} is absent (set MEBENCH_ANNOTATIONS to the shared annotations folder)"
        if os.environ.get("MEBENCH_REQUIRE_CONFORMANCE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def annotations() -> Path:
    root = annotations_root()
    if not root.exists():
        real_file("README.md")
    return root


def assert_clean_failure(capsys, out: Path, *needles: str) -> None:
    """A CLI failure as users must see it: one line on stderr naming what is wrong, no traceback, and nothing
    written (neither the output nor a temporary sibling of it)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
