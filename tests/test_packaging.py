"""The wheel must carry the prompt templates and built-in tools, so an installed agentrt works outside the checkout."""

import subprocess
import sys
import zipfile

import pytest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."],
        check=True,
    )
    [built] = out.glob("agentrt-*.whl")
    return built


def test_wheel_ships_prompt_templates_and_builtin_tools(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ["agentrt/prompt_templates/plan.j2", "agentrt/prompt_templates/step.j2",
                 "agentrt/prompt_templates/answer.j2", "agentrt/prompt_templates/arguments.j2",
                 "agentrt/builtin_tools/calculator.py",
                 "agentrt/builtin_tools/final_answer.py", "agentrt/py.typed"]:
        assert path in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "agentrt = agentrt.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_finds_templates_and_tools_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True)
    probe = ("import agentrt, agentrt.plugins as p; "
             "print(agentrt.__file__); print(sorted(t.name for t in p.installed_tools().tools))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True).stdout
    assert str(target) in out and "['calculator', 'final_answer']" in out


def test_importing_agentrt_imports_no_index_or_model_library():
    """A tool file's `from agentrt import tool` (and `agentrt tools`) must not pay for faiss, torch,
    transformers or PostgreSQL's driver: they load when an index, a model or a database is first used. Every public name resolves."""
    heavy = ("faiss", "torch", "transformers", "psycopg", "pgvector")
    code = ("import sys, agentrt; [getattr(agentrt, name) for name in agentrt.__all__]; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
