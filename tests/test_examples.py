"""Every example in examples/ runs, on the real default model."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
EXPECTED = {"custom_tool.py": "lookup_price({'item': 'bread'}) -> 2.25"}  # the user's tool was used


@pytest.mark.model
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_to_an_answer(example):
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "answer:" in out.stdout
    assert EXPECTED.get(example.name, "") in out.stdout
