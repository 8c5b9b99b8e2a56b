"""The terminal view: `agentrt run` under a pseudo-terminal redraws the plan tree in place; piped,
it prints plain lines. The screen is read through a terminal emulator (pyte), as a person sees it."""

import subprocess
import sys

import pexpect
import pytest
import pyte

AGENTRT = [sys.executable, "-m", "agentrt.cli"]


def screens_of(args: list[str], rows: int = 30, columns: int = 100) -> list[str]:
    """Every screen `agentrt ARGS` showed in a terminal, in order."""
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    child = pexpect.spawn(AGENTRT[0], [*AGENTRT[1:], *args], dimensions=(rows, columns), timeout=600)
    screens = []
    while True:
        try:
            stream.feed(child.read_nonblocking(65536, timeout=600))
        except pexpect.EOF:
            break
        screens.append("\n".join(line.rstrip() for line in screen.display if line.strip()))
    child.close()
    assert child.exitstatus == 0, screens[-1]
    return screens


@pytest.mark.model
def test_a_run_in_a_terminal_shows_the_plan_tree_updating_in_place(tmp_path):
    screens = screens_of(["run", "What is 17 * 23 + 4?", "--store", str(tmp_path / "runs.sqlite")])
    assert any("loading the model and tools" in s for s in screens)  # a spinner while it loads
    assert any("writing the plan" in s or "running" in s for s in screens)  # then the run, live
    final = screens[-1].splitlines()
    assert final[0] == "What is 17 * 23 + 4?"
    steps = [line for line in final if "✓" in line or "✗" in line]
    assert steps and all(" done " in line or " failed " in line for line in steps)
    assert "calculator(" in final[1] and any(line.startswith("Answer: ") for line in final)
    # in place: the tree is drawn once on the final screen, not once per update
    assert sum(line.endswith("What is 17 * 23 + 4?") for line in final) == 1


@pytest.mark.model
def test_piped_output_is_plain_lines(tmp_path):
    done = subprocess.run([*AGENTRT, "run", "What is 17 * 23 + 4?", "--store", str(tmp_path / "runs.sqlite")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and done.stdout.startswith("run ")
    assert any(line.startswith("step 1: ") for line in done.stdout.splitlines())
