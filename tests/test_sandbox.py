"""Every escape attempt from the sandboxed tools is contained, and normal use still works.

Attempts go through the real `run_python` and file tools, with small limits so the file runs in
seconds. The tests of one kernel layer on its own start Python under `Confinement` alone, without
the audit hook (what code that got past the hook would meet); they are skipped on a kernel that
lacks the layer.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agentrt import _confine
from agentrt._confine import Confinement
from agentrt.errors import ConfigError, SandboxViolation
from agentrt.sandbox import SandboxLimits, SandboxResult, _python_roots, run_python
from agentrt.workspace import MAX_READ_BYTES, Workspace, workspace_tools

FAST = SandboxLimits(cpu_s=1, memory_mb=256, wall_s=5, output_bytes=4096)
needs_landlock = pytest.mark.skipif(_confine.landlock_abi() < 1, reason="this kernel has no Landlock")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text("outside the workspace")
    (tmp_path / "ws").mkdir()
    return tmp_path / "ws"


@pytest.fixture
def listener():
    """A TCP server on 127.0.0.1; `accept` times out unless something connected."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        yield server


def assert_refused(result: SandboxResult, fragment: str) -> None:
    assert result.exit_code == 1 and result.stopped_by is None, result
    assert "PermissionError: sandbox: " in result.stderr and fragment in result.stderr, result.stderr


# Normal use


def test_code_computes_imports_the_standard_library_and_uses_workspace_files(workspace):
    code = ("import json, math, collections, dataclasses, pathlib, tempfile\n"
            "open('data.json', 'w').write(json.dumps({'root': math.sqrt(16)}))\n"
            "with tempfile.NamedTemporaryFile() as scratch:\n"
            "    print(json.load(open('data.json'))['root'], pathlib.Path('data.json').exists())")
    result = run_python(code, workspace, FAST)
    assert (result.stdout, result.stderr, result.exit_code, result.stopped_by) == ("4.0 True\n", "", 0, None)
    assert json.loads((workspace / "data.json").read_text()) == {"root": 4.0}


def test_a_failure_shows_the_traceback_of_the_users_code_only(workspace):
    result = run_python("def f():\n    return 1 / 0\nf()", workspace, FAST)
    assert result.exit_code == 1 and result.stopped_by is None
    assert 'File "<sandbox>", line 2, in f' in result.stderr and "return 1 / 0" in result.stderr
    assert "ZeroDivisionError" in result.stderr and "_sandbox_child" not in result.stderr


# Files outside the workspace


@pytest.mark.parametrize("code, fragment", [
    ("open('/etc/passwd').read()", "reading /etc/passwd is not allowed"),
    (f"open({str(Path.home() / '.ssh' / 'id_rsa')!r}).read()", f"reading {Path.home().resolve()}/.ssh/id_rsa"),
    ("open('../secret.txt').read()", "secret.txt is not allowed"),
    ("import pathlib; pathlib.Path('../secret.txt').read_text()", "secret.txt is not allowed"),
    ("import os; os.listdir('/')", "reading / is not allowed (os.listdir)"),
], ids=["etc-passwd", "ssh-key", "dotdot", "pathlib-dotdot", "list-root"])
def test_reading_outside_the_workspace_is_refused(workspace, code, fragment):
    assert_refused(run_python(code, workspace, FAST), fragment)


@pytest.mark.parametrize("code", [
    "open('/tmp/agentrt-escape.txt', 'w').write('x')",
    "open('../escape.txt', 'w').write('x')",
    "import os; os.mkdir('../escape-dir')",
    "import os; os.rename('mine.txt', '../escape.txt')",
    "import shutil; shutil.copy('mine.txt', '/tmp/agentrt-escape.txt')",
    "import os; os.chmod('../secret.txt', 0o777)",
], ids=["absolute", "dotdot", "mkdir", "rename", "shutil-copy", "chmod"])
def test_writing_outside_the_workspace_is_refused(workspace, code):
    (workspace / "mine.txt").write_text("mine")
    assert_refused(run_python(code, workspace, FAST), "only the workspace")
    assert not list(workspace.parent.glob("escape*")) and not Path("/tmp/agentrt-escape.txt").exists()
    assert (workspace.parent / "secret.txt").stat().st_mode & 0o777 != 0o777


def test_symlinks_in_the_workspace_do_not_lead_out(workspace):
    (workspace / "root").symlink_to("/")
    (workspace / "etc").symlink_to("/etc")
    assert_refused(run_python("open('root/etc/passwd').read()", workspace, FAST), "reading /etc/passwd")
    assert_refused(run_python("open('etc/hostname').read()", workspace, FAST), "reading /etc/hostname")
    assert_refused(run_python("open('etc/agentrt-escape', 'w')", workspace, FAST), "writing to /etc/agentrt-escape")


@pytest.mark.parametrize("target", ["/etc", "..", "../../etc", "sub/../.."])
def test_code_cannot_make_a_symlink_that_leads_out(workspace, target):
    assert_refused(run_python(f"import os; os.symlink({target!r}, 'link')", workspace, FAST),
                   f"a symbolic link to {target} is not allowed")
    assert not os.path.lexists(workspace / "link")


def test_a_symlink_within_the_workspace_works(workspace):
    code = ("import os\nopen('data.txt', 'w').write('via link')\n"
            "os.symlink('data.txt', 'alias')\nprint(open('alias').read())")
    assert run_python(code, workspace, FAST).stdout == "via link\n"


def test_patching_os_does_not_fool_the_checks(workspace):
    code = ("import os, posixpath\n"
            "os.path.realpath = posixpath.realpath = lambda path, **kw: '/inside'\n"
            "os.lstat = os.readlink = lambda *a, **kw: None\n"
            "os.getcwd = lambda: '/'\n"
            "open('/etc/passwd').read()")
    assert_refused(run_python(code, workspace, FAST), "reading /etc/passwd")


# Network, processes, native code, tampering


@pytest.mark.parametrize("code", [
    "import socket; socket.socket()",
    "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1)",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/')",
], ids=["socket", "connect", "urllib"])
def test_network_access_is_refused(workspace, listener, code):
    code = code.format(port=listener.getsockname()[1])
    assert_refused(run_python(code, workspace, FAST), "network access is not allowed")
    with pytest.raises(TimeoutError):
        listener.accept()


@pytest.mark.parametrize("code", [
    "import os\nwhile True:\n    os.fork()",
    "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'])",
    "import os; os.system('true')",
    "import os; os.posix_spawn('/bin/true', ['true'], {})",
    "import os; os.execv('/bin/sh', ['sh'])",
    "import pty; pty.spawn('/bin/sh')",
    "import _posixsubprocess; _posixsubprocess.fork_exec()",
    "import multiprocessing; multiprocessing.Process(target=print).start()",
], ids=["fork-bomb", "subprocess", "system", "posix_spawn", "exec", "pty", "fork_exec", "multiprocessing"])
def test_starting_processes_is_refused(workspace, code):
    assert_refused(run_python(code, workspace, FAST), "starting processes is not allowed")


@pytest.mark.parametrize("code", ["import ctypes", "import _ctypes", "import ctypes.util"])
def test_ctypes_is_refused(workspace, code):
    assert_refused(run_python(code, workspace, FAST), "native code through ctypes is not allowed")


@pytest.mark.parametrize("code, fragment", [
    ("import os, signal; os.kill(os.getppid(), signal.SIGKILL)", "signals to other processes"),
    ("import resource; resource.setrlimit(resource.RLIMIT_CPU, (100, 100))", "own checks or limits"),
    ("import sys; sys.settrace(lambda *args: None)", "own checks or limits"),
    ("import gc; gc.get_objects()", "own checks or limits"),
    ("import sqlite3; sqlite3.connect(':memory:')", "sqlite3"),
], ids=["kill-parent", "raise-limits", "settrace", "gc", "sqlite3"])
def test_tampering_with_the_sandbox_or_the_host_is_refused(workspace, code, fragment):
    assert_refused(run_python(code, workspace, FAST), fragment)


# Limits


@pytest.mark.parametrize("code", ["bytearray(10**10)", "chunks = []\nwhile True:\n    chunks.append(bytearray(10**6))"],
                         ids=["at-once", "gradual"])
def test_a_memory_bomb_stops_at_the_memory_limit(workspace, code):
    result = run_python(code, workspace, SandboxLimits(memory_mb=128, cpu_s=5, wall_s=10))
    assert result.stopped_by == "memory" and "the memory limit (128 MB) was reached" in result.stderr


@pytest.mark.parametrize("code", [
    "while True:\n    pass",
    "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass",
], ids=["loop", "loop-ignoring-sigxcpu"])
def test_an_infinite_loop_stops_at_the_cpu_limit(workspace, code):
    result = run_python(code, workspace, SandboxLimits(cpu_s=1, wall_s=10))
    assert result.stopped_by == "cpu_time" and result.exit_code < 0 and result.duration_s < 5


def test_sleeping_forever_stops_at_the_wall_clock(workspace):
    result = run_python("import time\ntime.sleep(3600)", workspace, SandboxLimits(wall_s=1))
    assert result.stopped_by == "wall_clock" and result.duration_s < 3


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_print_bomb_is_cut_at_the_output_bound(workspace, stream):
    result = run_python(f"import sys\nwhile True:\n    sys.{stream}.write('x' * 100)", workspace,
                        SandboxLimits(output_bytes=1000, wall_s=5))
    assert result.stopped_by == "output" and getattr(result, stream) == "x" * 1000 and result.duration_s < 3


def test_a_file_stops_growing_at_the_file_size_limit(workspace):
    result = run_python("open('big.bin', 'wb').write(bytes(2 << 20))", workspace, SandboxLimits(file_mb=1))
    assert result.exit_code == 1 and "File too large" in result.stderr
    assert (workspace / "big.bin").stat().st_size <= 1 << 20


# Each kernel layer on its own, without the audit hook


def bare_python(code: str, workspace: Path) -> subprocess.CompletedProcess:
    """Python under the kernel layers only: what code that got past the audit hook would meet."""
    with Confinement(workspace, list(_python_roots()), {}) as confinement:
        return subprocess.run([sys.executable, "-I", "-c", code], cwd=workspace, preexec_fn=confinement.apply,
                              capture_output=True, text=True, timeout=30)


@needs_landlock
def test_landlock_alone_keeps_files_outside_the_workspace_out_of_reach(workspace):
    code = f"""
import os
for path, flags in [({str(workspace.parent / 'secret.txt')!r}, os.O_RDONLY), ('/etc/passwd', os.O_RDONLY),
                    ({str(workspace.parent / 'escape.txt')!r}, os.O_WRONLY | os.O_CREAT)]:
    try:
        os.open(path, flags)
        print('opened', path)
    except PermissionError:
        print('denied', path)
open('inside.txt', 'w').write('fine')
print(open('inside.txt').read())
"""
    result = bare_python(code, workspace)
    assert result.stdout.count("denied") == 3 and "opened" not in result.stdout and "fine" in result.stdout
    assert not (workspace.parent / "escape.txt").exists()


@needs_landlock
def test_landlock_alone_refuses_running_programs_and_tcp(workspace, listener):
    port = listener.getsockname()[1]
    code = f"""
import os, socket
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=1)
except OSError as exc:
    print('connect', exc.errno)
os.execv('/bin/sh', ['sh', '-c', 'echo escaped'])
"""
    result = bare_python(code, workspace)
    assert "PermissionError: [Errno 13]" in result.stderr and "escaped" not in result.stdout
    if _confine.landlock_abi() >= 4:  # TCP rules came with ABI 4; the namespace cuts TCP anyway
        assert "connect" in result.stdout
    with pytest.raises(TimeoutError):
        listener.accept()


def test_a_network_namespace_alone_cuts_the_network(workspace, listener, monkeypatch):
    monkeypatch.setattr(_confine, "landlock_abi", lambda: 0)
    port = listener.getsockname()[1]
    code = f"""
import os, socket
print(os.readlink('/proc/self/ns/net'))
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=1)
except OSError as exc:
    print('connect', exc.errno)
"""
    result = bare_python(code, workspace)
    if result.stdout.split("\n")[0] == os.readlink("/proc/self/ns/net"):
        pytest.skip("user and network namespaces are not available here")
    assert f"connect {errno.ENETUNREACH}" in result.stdout
    with pytest.raises(TimeoutError):
        listener.accept()


@needs_landlock
def test_what_the_audit_hook_cannot_see_landlock_stops(workspace):
    # The hook checks a path that os.open resolves against a dir_fd as if against the working
    # directory: from deep enough in the workspace, '../' * depth + 'etc/passwd' looks inside it.
    code = """
import os
stdlib = os.path.dirname(os.__file__)
depth = stdlib.count('/')
os.makedirs('/'.join(['d'] * depth))
os.chdir('/'.join(['d'] * depth))
print(os.read(os.open('../' * depth + 'etc/passwd', os.O_RDONLY, dir_fd=os.open(stdlib, os.O_RDONLY)), 100))
"""
    result = run_python(code, workspace, FAST)
    assert "PermissionError: [Errno 13] Permission denied" in result.stderr and "root:" not in result.stdout


# File tools


def call(tool, **args):
    return asyncio.run(tool.acall(args))


@pytest.fixture
def tools(workspace):
    return {t.name: t for t in workspace_tools(workspace, FAST)}


def test_file_tools_write_read_and_list_inside_the_workspace(tools, workspace):
    assert call(tools["write_file"], path="notes/todo.txt", content="héllo") == "wrote 6 bytes to notes/todo.txt"
    assert call(tools["read_file"], path="notes/todo.txt") == "héllo"
    (workspace / "b.txt").write_text("")
    assert call(tools["list_files"]) == ["b.txt", "notes/"]
    assert call(tools["list_files"], path="notes") == ["todo.txt"]
    (workspace / "alias").symlink_to("notes/todo.txt")
    assert call(tools["read_file"], path="alias") == "héllo"


@pytest.mark.parametrize("path, why", [
    ("../secret.txt", "'..' climbs out"),
    ("notes/../../secret.txt", "'..' climbs out"),
    ("/etc/passwd", "is an absolute path"),
    ("etc/passwd", "a symbolic link on the way points out"),
    ("root/tmp", "a symbolic link on the way points out"),
])
def test_file_tools_refuse_paths_that_leave_the_workspace(tools, workspace, path, why):
    (workspace / "notes").mkdir()
    (workspace / "etc").symlink_to("/etc")
    (workspace / "root").symlink_to("/")
    for name, args in [("read_file", {}), ("write_file", {"content": "x"}), ("list_files", {})]:
        with pytest.raises(SandboxViolation, match=why):
            call(tools[name], path=path, **args)


def test_a_symlink_swapped_in_after_the_check_is_refused(workspace, monkeypatch):
    (workspace / "dir").mkdir()
    (workspace / "dir" / "passwd").write_text("inside")
    space = Workspace(workspace)
    checked = space.resolve

    def resolve_then_swap(path: str) -> Path:
        target = checked(path)
        (workspace / "dir").rename(workspace / "moved")
        (workspace / "dir").symlink_to("/etc")
        return target

    monkeypatch.setattr(space, "resolve", resolve_then_swap)
    with pytest.raises(SandboxViolation, match="became a symbolic link"):
        space.read_text("dir/passwd")


@pytest.mark.parametrize("content, problem", [
    (b"\x00\x01\xff", "is binary"),
    (b"x" * (MAX_READ_BYTES + 1), "larger than"),
])
def test_read_file_refuses_binary_and_big_files(tools, workspace, content, problem):
    (workspace / "data").write_bytes(content)
    with pytest.raises(ValueError, match=problem):
        call(tools["read_file"], path="data")


def test_read_file_refuses_a_fifo_without_hanging(tools, workspace):
    os.mkfifo(workspace / "pipe")
    with pytest.raises(ValueError, match="not a regular file"):
        call(tools["read_file"], path="pipe")
    with pytest.raises(ValueError, match="not a regular file"):
        call(tools["write_file"], path="pipe", content="x")


def test_run_python_tool_reports_output_and_how_the_run_ended(tools):
    assert call(tools["run_python"], code="print(6 * 7)") == {
        "exit_code": 0, "stopped_by": None, "stdout": "42\n", "stderr": ""}
    refused = call(tools["run_python"], code="open('/etc/passwd')")
    assert refused["exit_code"] == 1 and "reading /etc/passwd is not allowed" in refused["stderr"]


def test_only_run_python_may_have_side_effects_worth_not_repeating(tools):
    assert {name: t.idempotent for name, t in tools.items()} == {
        "read_file": True, "write_file": True, "list_files": True, "run_python": False}
    assert tools["run_python"].timeout_s > FAST.wall_s


# Misuse


def test_misuse_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a directory: create it first"):
        run_python("pass", tmp_path / "missing")
    with pytest.raises(ConfigError, match="not a directory: create it first"):
        Workspace(tmp_path / "missing")
    with pytest.raises(ConfigError, match="contains Python's install"):
        run_python("pass", Path(sys.prefix).parent)
    with pytest.raises(ConfigError, match="contains Python's install"):
        workspace_tools(Path(sys.prefix).parent)
    with pytest.raises(ConfigError, match="cpu_s must be a positive number"):
        SandboxLimits(cpu_s=0)


# Through an agent


def test_an_agent_with_a_workspace_runs_sandboxed_python_from_its_plan(workspace):
    from agentrt import Agent
    from agentrt.testing import ScriptedLLM

    from .conftest import plan

    code = "open('out.txt', 'w').write('hi'); print(open('/etc/hostname').read())"
    llm = ScriptedLLM([plan(("run_python", {"code": code}), ("final_answer", {"answer": "$1"}))])
    result = Agent(model=llm, workspace=workspace, store=":memory:").run("write out.txt")
    assert (workspace / "out.txt").read_text() == "hi"
    assert "reading /etc/hostname is not allowed" in result.steps[0].observation


@pytest.mark.model
def test_the_default_model_plans_with_workspace_tools_and_stays_inside(workspace, tmp_path, default_llm):
    from agentrt import Agent

    outside = sorted(p.name for p in tmp_path.iterdir())
    result = Agent(model=default_llm, workspace=workspace, store=":memory:").run("List the files in the workspace.")
    planner_prompt = result.model_calls[0].messages[-1].content
    assert all(name in planner_prompt for name in ("read_file", "write_file", "list_files", "run_python"))
    assert result.steps and sorted(p.name for p in tmp_path.iterdir()) == outside
    for step in result.steps:
        if step.tool in ("read_file", "write_file", "list_files", "run_python"):
            assert step.status == "ok" or step.observation.startswith("Error: ")
