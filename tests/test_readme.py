"""The README's examples are code users copy: the model example must run through the harness as written, and the
README must open with the two set-up commands."""

from __future__ import annotations

import re

from conftest import REPO, real_file
from mebench.corpus import Source, build_corpus
from mebench.runner import run_protocol


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_starts_with_the_two_commands():
    lines = (REPO / "README.md").read_text().splitlines()
    block = lines[lines.index("```") + 1:]
    assert block[0].startswith("make demo") and block[1].startswith("make test")


def test_model_example_runs_through_the_harness(tmp_path):
    namespace: dict = {}
    (example,) = python_blocks((REPO / "README.md").read_text())
    exec(compile(example, "README.md", "exec"), namespace)
    corpus = tmp_path / "c"
    build_corpus([Source("casme2", real_file("casme2/CASME2-coding-20140508.xlsx"))], corpus)
    result = run_protocol("casme2-loso-5class", corpus, namespace["MyNet"], progress=False)
    assert result.record["submission"]["kind"] == "harness-run"
    assert result.record["submission"]["model"]["name"] == "my-net"
    assert 0 < result.record["metrics"]["uf1"] < 1
