"""Run Python code in a separate, confined process: the engine of the `run_python` tool.

Three layers, each enforced on its own (docs/security.md says which stops what):

1. a child process in a session of its own, with CPU-time, memory, file-size and open-file limits,
   a wall-clock limit that kills its whole process group, and its output read up to a bound;
2. the kernel (`_confine`): a network namespace with no network and, where the kernel has
   Landlock, file access only to the workspace (read-only to Python's install), no TCP, and no
   signals to processes outside;
3. an audit hook in the child (`_sandbox_child`) that refuses files outside the workspace,
   sockets, new processes and ctypes, with a message that says why.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from . import _sandbox_child
from ._confine import Confinement
from .errors import ConfigError

StoppedBy = Literal["cpu_time", "memory", "wall_clock", "output"]

_CHILD = Path(_sandbox_child.__file__)
_READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class SandboxLimits:
    """What one run may use: CPU seconds, address space, seconds of wall clock, bytes of output
    (each of stdout and stderr), the size of any file it writes, and open files."""

    cpu_s: int = 10
    memory_mb: int = 512
    wall_s: float = 30.0
    output_bytes: int = 65536
    file_mb: int = 64
    open_files: int = 64

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"SandboxLimits.{field.name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class SandboxResult:
    """What a run printed and how it ended. `exit_code` is negative when a signal ended it;
    `stopped_by` names the limit that ended it, or is None if the code ended on its own."""

    stdout: str
    stderr: str
    exit_code: int
    stopped_by: StoppedBy | None
    duration_s: float


def run_python(code: str, workspace: str | Path, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Run `code` with `python -I` in `workspace`, confined by every layer this machine offers.

    Raises ConfigError if the workspace is missing or would expose Python's own install; what the
    code does wrong (an exception, a refused action, a limit) is in the result, not raised.
    """
    root = check_workspace(workspace)
    roots = _python_roots()
    config = json.dumps({"workspace": str(root), "read_roots": [str(p) for p in roots],
                         "memory_mb": limits.memory_mb})
    command = [sys.executable, "-I", "-B", "-u", "-X", "utf8", str(_CHILD), config]
    start = time.monotonic()
    deadline = start + limits.wall_s
    with Confinement(root, [*roots, _CHILD], _rlimits(limits)) as confinement:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=root, env=_child_env(root), start_new_session=True,
                                preexec_fn=confinement.apply)
    try:
        stdout, stderr, stopped_by = _exchange(proc, code.encode("utf-8", "replace"), limits.output_bytes, deadline)
        if stopped_by is None:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                stopped_by = "wall_clock"
    finally:
        _kill_group(proc.pid)  # on a limit, and whatever a finished run left behind
        proc.wait()
        for pipe in _pipes(proc):
            pipe.close()
    if stopped_by is None and proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        stopped_by = "cpu_time"  # SIGXCPU at the CPU limit, SIGKILL a second later if it was ignored
    elif stopped_by is None and proc.returncode == _sandbox_child.MEMORY_EXIT_CODE:
        stopped_by = "memory"
    return SandboxResult(stdout=stdout.decode("utf-8", "replace"), stderr=stderr.decode("utf-8", "replace"),
                         exit_code=proc.returncode, stopped_by=stopped_by, duration_s=time.monotonic() - start)


def check_workspace(workspace: str | Path) -> Path:
    """`workspace`, resolved, if sandboxed code may have it; ConfigError saying why not otherwise."""
    root = Path(workspace).resolve()
    if not root.is_dir():
        raise ConfigError(f"The sandbox workspace {str(workspace)!r} is not a directory: create it first")
    for python_root in _python_roots():
        if python_root.is_relative_to(root):
            raise ConfigError(
                f"The sandbox workspace {str(root)!r} contains Python's install {str(python_root)!r}, which "
                "sandboxed code could then change: give the sandbox a directory of its own"
            )
    if not sys.executable:
        raise ConfigError("No Python interpreter to run sandboxed code: sys.executable is empty")
    return root


@functools.cache
def _python_roots() -> tuple[Path, ...]:
    """Python's install (standard library, site-packages), which sandboxed code may read."""
    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    return tuple(sorted({Path(os.path.realpath(p)) for p in prefixes}))


def _rlimits(limits: SandboxLimits) -> dict[int, tuple[int, int]]:
    """Soft and hard limits for the child, never above this process's own hard limits."""
    wanted = {
        resource.RLIMIT_CPU: (limits.cpu_s, limits.cpu_s + 1),
        resource.RLIMIT_AS: (limits.memory_mb << 20, limits.memory_mb << 20),
        resource.RLIMIT_FSIZE: (limits.file_mb << 20, limits.file_mb << 20),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NOFILE: (limits.open_files, limits.open_files),
    }
    result = {}
    for which, (soft, hard) in wanted.items():
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        result[which] = (int(soft), int(hard))
    return result


def _child_env(root: Path) -> dict[str, str]:
    """Nothing from this process's environment: no tokens, no proxies, no paths."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(root), "TMPDIR": str(root), "LANG": "C.UTF-8", "TZ": "UTC"}


def _pipes(proc: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes], IO[bytes]]:
    """The child's stdin, stdout and stderr, which `run` always opens as pipes."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    return proc.stdin, proc.stdout, proc.stderr


def _exchange(proc: subprocess.Popen[bytes], stdin: bytes, output_bytes: int,
              deadline: float) -> tuple[bytes, bytes, StoppedBy | None]:
    """Write the code to the child's stdin and read its stdout and stderr until both close,
    either passes `output_bytes` (the rest is never read), or the deadline comes."""
    stdin_pipe, stdout, stderr = _pipes(proc)
    out, err = bytearray(), bytearray()
    buffers = {stdout.fileno(): out, stderr.fileno(): err}
    to_write, stdin_fd = memoryview(stdin), stdin_pipe.fileno()
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        os.set_blocking(stdin_fd, False)
        selector.register(stdin_fd, selectors.EVENT_WRITE)
        while selector.get_map():
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return bytes(out), bytes(err), "wall_clock"
            for key, _ in selector.select(timeout):
                if key.fd == stdin_fd:
                    try:
                        to_write = to_write[os.write(key.fd, to_write[:_READ_CHUNK]):]
                    except BrokenPipeError:  # it exited without reading its code
                        to_write = to_write[:0]
                    if not to_write:
                        selector.unregister(key.fd)
                        stdin_pipe.close()
                    continue
                chunk = os.read(key.fd, _READ_CHUNK)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                buffer = buffers[key.fd]
                buffer += chunk
                if len(buffer) > output_bytes:
                    del buffer[output_bytes:]
                    return bytes(out), bytes(err), "output"
    return bytes(out), bytes(err), None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # nothing left in it
