"""Every sandbox escape attempt, through the real workspace tools with their default limits, as a
Markdown table: what each attempt tried, whether it was contained and by what, and how long it
took. Takes about a minute (the CPU-time and wall-clock rows wait for their limits).
Target (benchmarks/README.md), claimed: every attempt contained; exits 1 if one was not.

    .venv/bin/python benchmarks/sandbox_escapes.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import tempfile
import time
from pathlib import Path

from agentrt import _confine
from agentrt.errors import SandboxViolation
from agentrt.workspace import workspace_tools
from targets import Targets

HOME = str(Path.home())
# The hook checks a path opened against a dir_fd as if it were relative to the working
# directory: from deep enough in the workspace, '../' * depth + 'etc/passwd' seems inside it.
DIR_FD_TRICK = """import os
stdlib = os.path.dirname(os.__file__)
depth = stdlib.count('/')
os.makedirs('/'.join(['d'] * depth))
os.chdir('/'.join(['d'] * depth))
print(os.read(os.open('../' * depth + 'etc/passwd', os.O_RDONLY, dir_fd=os.open(stdlib, os.O_RDONLY)), 100))"""

# (attempt, what the code tried, tool, arguments, what containment looks like)
ATTEMPTS = [
    ("read /etc/passwd", "`open('/etc/passwd')`", "run_python", "print(open('/etc/passwd').read())", "PermissionError"),
    ("read ~/.ssh", f"`open('{HOME}/.ssh/id_rsa')`", "run_python", f"print(open('{HOME}/.ssh/id_rsa').read())",
     "PermissionError"),
    ("read via ..", "`open('../secret.txt')`", "run_python", "print(open('../secret.txt').read())", "PermissionError"),
    ("list /", "`os.listdir('/')`", "run_python", "import os; print(os.listdir('/'))", "PermissionError"),
    ("write absolute", "`open('/tmp/agentrt-escape.txt', 'w')`", "run_python",
     "open('/tmp/agentrt-escape.txt', 'w').write('x')", "PermissionError"),
    ("write via ..", "`open('../escape.txt', 'w')`", "run_python", "open('../escape.txt', 'w').write('x')",
     "PermissionError"),
    ("chmod outside", "`os.chmod('../secret.txt', 0o777)`", "run_python", "import os; os.chmod('../secret.txt', 0o777)",
     "PermissionError"),
    ("planted symlink to /", "`open('root/etc/passwd')`, `root -> /` made by the host", "run_python",
     "print(open('root/etc/passwd').read())", "PermissionError"),
    ("make symlink out", "`os.symlink('/etc', 'e')`, then read `e/passwd`", "run_python",
     "import os; os.symlink('/etc', 'e'); print(open('e/passwd').read())", "PermissionError"),
    ("make symlink up", "`os.symlink('../..', 'up')`", "run_python", "import os; os.symlink('../..', 'up')",
     "PermissionError"),
    ("hard link", "`os.link('/etc/passwd', 'p')`", "run_python", "import os; os.link('/etc/passwd', 'p')",
     "PermissionError"),
    ("dir_fd past the hook", "`os.open('../' * n + 'etc/passwd', dir_fd=<stdlib dir>)` from a deep cwd",
     "run_python", DIR_FD_TRICK, "[Errno 13]"),
    ("patch os, then read", "`os.path.realpath = lambda p: '/inside'`, then `open('/etc/passwd')`", "run_python",
     "import os, posixpath\nos.path.realpath = posixpath.realpath = lambda p, **k: '/inside'\n"
     "print(open('/etc/passwd').read())", "PermissionError"),
    ("open a socket", "`socket.socket()`", "run_python", "import socket; socket.socket()", "PermissionError"),
    ("connect to localhost", "`socket.create_connection(('127.0.0.1', PORT))`", "run_python",
     "import socket; socket.create_connection(('127.0.0.1', PORT))", "PermissionError"),
    ("HTTP request", "`urllib.request.urlopen('http://127.0.0.1:PORT/')`", "run_python",
     "import urllib.request; urllib.request.urlopen('http://127.0.0.1:PORT/')", "PermissionError"),
    ("fork bomb", "`while True: os.fork()`", "run_python", "import os\nwhile True:\n    os.fork()", "PermissionError"),
    ("subprocess", "`subprocess.run(['sh', '-c', 'id'])`", "run_python",
     "import subprocess; subprocess.run(['sh', '-c', 'id'])", "PermissionError"),
    ("os.system", "`os.system('id')`", "run_python", "import os; os.system('id')", "PermissionError"),
    ("raw fork_exec", "`_posixsubprocess.fork_exec(...)` (raises no audit event)", "run_python",
     "import _posixsubprocess; _posixsubprocess.fork_exec()", "PermissionError"),
    ("ctypes", "`ctypes.CDLL(None).system(b'id')`", "run_python", "import ctypes; ctypes.CDLL(None).system(b'id')",
     "PermissionError"),
    ("kill the agent", "`os.kill(os.getppid(), SIGKILL)`", "run_python",
     "import os, signal; os.kill(os.getppid(), signal.SIGKILL)", "PermissionError"),
    ("raise own limits", "`resource.setrlimit(RLIMIT_CPU, (10**6, 10**6))`", "run_python",
     "import resource; resource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6))", "PermissionError"),
    ("memory bomb", "`bytearray(10**10)`", "run_python", "bytearray(10**10)", "stopped_by=memory"),
    ("memory growth", "append 1 MB chunks forever", "run_python",
     "chunks = []\nwhile True:\n    chunks.append(bytearray(10**6))", "stopped_by=memory"),
    ("infinite loop", "`while True: pass`", "run_python", "while True:\n    pass", "stopped_by=cpu_time"),
    ("loop, SIGXCPU ignored", "`signal.signal(SIGXCPU, SIG_IGN)`, then loop", "run_python",
     "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass", "stopped_by=cpu_time"),
    ("sleep forever", "`time.sleep(10**6)`", "run_python", "import time; time.sleep(10**6)", "stopped_by=wall_clock"),
    ("print bomb", "`while True: print('x' * 1000)`", "run_python", "while True:\n    print('x' * 1000)",
     "stopped_by=output"),
    ("fill the disk", "write a 1 GB file, 1 MB at a time", "run_python",
     "with open('big', 'wb') as f:\n    for _ in range(1024):\n        f.write(bytes(1 << 20))", "File too large"),
    ("read_file ..", "`read_file('../secret.txt')`", "read_file", "../secret.txt", "SandboxViolation"),
    ("read_file absolute", "`read_file('/etc/passwd')`", "read_file", "/etc/passwd", "SandboxViolation"),
    ("read_file via symlink", "`read_file('root/etc/passwd')`, `root -> /`", "read_file", "root/etc/passwd",
     "SandboxViolation"),
    ("write_file ..", "`write_file('../escape.txt', 'x')`", "write_file", "../escape.txt", "SandboxViolation"),
    ("list_files via symlink", "`list_files('root')`, `root -> /`", "list_files", "root", "SandboxViolation"),
]


def attempt(tools: dict, tool: str, arg: str, port: int) -> tuple[str, str, float]:
    """(the evidence to match, what to show, seconds) for one attempt."""
    start = time.perf_counter()
    try:
        if tool == "run_python":
            result = asyncio.run(tools[tool].acall({"code": arg.replace("PORT", str(port))}))
        else:
            args = {"path": arg, "content": "x"} if tool == "write_file" else {"path": arg}
            result = asyncio.run(tools[tool].acall(args))
    except SandboxViolation as exc:
        return f"SandboxViolation: {exc}", f"file tool: SandboxViolation: {exc}", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if tool != "run_python":
        return "", f"returned {str(result)[:80]!r}", seconds
    last = (result["stderr"].strip().splitlines() or [""])[-1]
    if "ESCAPED" in result["stdout"] or (result["exit_code"] == 0 and result["stopped_by"] is None):
        return "", f"ran to the end: {result['stdout'][:80]!r}", seconds
    if result["stopped_by"]:
        stopped = f"stopped_by={result['stopped_by']}"
        return stopped, f"limit: `{stopped}` (exit {result['exit_code']})", seconds
    layer = "audit hook" if "sandbox:" in last else "kernel (Landlock)" if "[Errno 13]" in last else "error"
    return last, f"{layer}: {last}", seconds


def outside_state(tmp: Path, listener: socket.socket) -> tuple:
    """What an escape would change: files next to the workspace and in /tmp, and connections."""
    try:
        listener.accept()[0].close()
        connected = True
    except BlockingIOError:
        connected = False
    files = sorted((p.name, p.stat().st_mode) for p in tmp.iterdir() if p.name != "ws")
    return files, Path("/tmp/agentrt-escape.txt").exists(), connected


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name, socket.create_server(("127.0.0.1", 0)) as listener:
        tmp = Path(tmp_name).resolve()
        workspace = tmp / "ws"
        workspace.mkdir()
        (tmp / "secret.txt").write_text("outside the workspace")
        (workspace / "root").symlink_to("/")
        listener.setblocking(False)
        port = listener.getsockname()[1]
        tools = {t.name: t for t in workspace_tools(workspace)}
        netns = asyncio.run(tools["run_python"].acall({"code": "import os; print(os.readlink('/proc/self/ns/net'))"}))
        isolated = netns["stdout"].strip() not in ("", os.readlink("/proc/self/ns/net"))
        print(f"Machine: {platform.system()} {platform.release()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}. Layers: Landlock ABI {_confine.landlock_abi() or 'none'}, "
              f"network namespace {'yes' if isolated else 'no'}, audit hook, rlimits.\n")
        print("| attempt | what the code tried | result | seconds |")
        print("|---|---|---|---|")
        failures = 0
        before = outside_state(tmp, listener)
        for name, tried, tool, arg, expected in ATTEMPTS:
            evidence, shown, seconds = attempt(tools, tool, arg, port)
            after = outside_state(tmp, listener)
            contained = expected in evidence and after == before
            failures += not contained
            verdict = "contained" if contained else "**NOT contained**"
            if after != before:
                shown += f"; outside changed: {after}"
                before = after
            shown = shown.replace(str(workspace), "<ws>").replace(str(tmp), "<tmp>").replace("|", "\\|")
            print(f"| {name} | {tried} | {verdict}: {shown} | {seconds:.2f} |")
        print(f"\n{len(ATTEMPTS) - failures} of {len(ATTEMPTS)} attempts contained.")
    targets = Targets("sandbox_escapes")
    targets.check(f"attempts contained, of {len(ATTEMPTS)}", len(ATTEMPTS) - failures, f"== {len(ATTEMPTS)}")
    targets.exit()


if __name__ == "__main__":
    main()
