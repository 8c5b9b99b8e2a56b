"""A directory an agent may work in, and the tools that reach it: read, write, list, run Python.

Every path a model gives is relative to the workspace. `Workspace.resolve` refuses absolute paths,
`..` that climbs out and symbolic links that lead out; files are then opened one directory at a
time without following links, so a link swapped in after the check (say, by sandboxed code running
at the same time) is refused too. Shell access is deliberately not among the tools.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ConfigError, SandboxViolation
from .registry import Tool, tool
from .sandbox import SandboxLimits, check_workspace, run_python

MAX_READ_BYTES = 1_000_000
MAX_LIST_ENTRIES = 1000
_STDERR_TAIL_CHARS = 2000


class Workspace:
    """The directory `root`; `resolve` and the file methods never reach outside it."""

    def __init__(self, root: str | Path) -> None:
        if not Path(root).is_dir():
            raise ConfigError(f"The workspace {str(root)!r} is not a directory: create it first")
        self.root = Path(root).resolve()

    def resolve(self, path: str) -> Path:
        """The absolute path that `path` (relative to the workspace) names, symlinks followed;
        SandboxViolation, saying why, if it is absolute or leads outside the workspace."""
        given = PurePosixPath(path)
        if given.is_absolute():
            raise SandboxViolation(
                f"{path!r} is an absolute path: give a path relative to the workspace, e.g. 'notes.txt'"
            )
        try:
            target = (self.root / given).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise SandboxViolation(f"{path!r} cannot be resolved inside the workspace: {exc}") from None
        if not target.is_relative_to(self.root):
            lexical = Path(os.path.normpath(self.root / given))
            how = "a symbolic link on the way points" if lexical.is_relative_to(self.root) else "'..' climbs"
            raise SandboxViolation(f"{path!r} leads to {target}, outside the workspace {self.root}: {how} out of it")
        return target

    def read_text(self, path: str) -> str:
        """The text of a UTF-8 file of at most MAX_READ_BYTES."""
        with os.fdopen(self._open_file(path, os.O_RDONLY), "rb") as file:
            data = file.read(MAX_READ_BYTES + 1)
        if len(data) > MAX_READ_BYTES:
            raise ValueError(f"{path!r} is larger than {MAX_READ_BYTES} bytes, more than read_file returns: "
                             "use run_python to read the part you need")
        if b"\0" not in data:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        raise ValueError(f"{path!r} is binary, not UTF-8 text: read_file reads text; use run_python for other data")

    def write_text(self, path: str, content: str) -> int:
        """Write `content` as UTF-8, creating missing directories; the number of bytes written."""
        data = content.encode("utf-8")
        with os.fdopen(self._open_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, make_dirs=True), "wb") as file:
            file.write(data)
        return len(data)

    def list_dir(self, path: str = ".") -> list[str]:
        """Names in a directory, sorted, each subdirectory with a trailing '/'."""
        fd = self._open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with os.scandir(fd) as entries:
                names = sorted(e.name + "/" if e.is_dir(follow_symlinks=False) else e.name for e in entries)
        finally:
            os.close(fd)
        if len(names) > MAX_LIST_ENTRIES:
            names = names[:MAX_LIST_ENTRIES] + [f"... and {len(names) - MAX_LIST_ENTRIES} more"]
        return names

    def _open_file(self, path: str, flags: int, make_dirs: bool = False) -> int:
        """A descriptor for the regular file `path`. Opened non-blocking, so that a FIFO (which
        sandboxed code may make) cannot hang the tool, then switched back."""
        try:
            fd = self._open(path, flags | os.O_NONBLOCK, make_dirs)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a FIFO no one reads
                raise ValueError(f"{path!r} is not a regular file") from None
            raise
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(f"{path!r} is a directory: list it with list_files")
            raise ValueError(f"{path!r} is not a regular file")
        os.set_blocking(fd, True)
        return fd

    def _open(self, path: str, flags: int, make_dirs: bool = False) -> int:
        """A descriptor for `path`, reached from the root one component at a time with O_NOFOLLOW:
        the path was resolved, so a link found on the way appeared after the check."""
        parts = self.resolve(path).relative_to(self.root).parts
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                if make_dirs and not last and not _exists(part, fd):
                    os.mkdir(part, dir_fd=fd)
                try:
                    next_fd = os.open(part, (flags if last else os.O_RDONLY | os.O_DIRECTORY) | os.O_NOFOLLOW,
                                      0o666, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, fd):
                        raise SandboxViolation(f"{path!r} became a symbolic link while being opened") from None
                    raise
                os.close(fd)
                fd = next_fd
        except BaseException:
            os.close(fd)
            raise
        return fd


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def workspace_tools(root: str | Path, limits: SandboxLimits | None = None) -> list[Tool]:
    """The tools `read_file`, `write_file`, `list_files` and `run_python`, all confined to the
    workspace `root`; `limits` bound each run_python call."""
    workspace = Workspace(check_workspace(root))
    limits = limits or SandboxLimits()

    # A refused or failed call fails the same way again: retrying would only waste time.
    @tool(name="read_file", retries=0, idempotent=True)
    def read_file(path: str) -> str:
        """Read a UTF-8 text file from the workspace (up to 1 MB).

        Args:
            path: the file's path relative to the workspace, e.g. "notes/todo.txt"
        """
        return workspace.read_text(path)

    @tool(name="write_file", retries=0, idempotent=True)
    def write_file(path: str, content: str) -> str:
        """Write a UTF-8 text file in the workspace, replacing it if it exists.

        Args:
            path: the file's path relative to the workspace; missing directories are created
            content: the whole new text of the file
        """
        return f"wrote {workspace.write_text(path, content)} bytes to {path}"

    @tool(name="list_files", retries=0, idempotent=True)
    def list_files(path: str = ".") -> list[str]:
        """List a directory of the workspace; subdirectories end with '/'.

        Args:
            path: the directory relative to the workspace; "." is the workspace itself
        """
        return workspace.list_dir(path)

    # Not idempotent: the code may have changed files before it failed. The sandbox's own wall
    # clock ends it first, so its result says which limit stopped it.
    @tool(name="run_python", idempotent=False, timeout_s=limits.wall_s + 5)
    def run_python_tool(code: str) -> dict[str, Any]:
        """Run Python code in a sandbox whose working directory is the workspace: no network, no
        processes, files only inside the workspace, limited CPU time and memory. Print what you
        need to see.

        Args:
            code: a Python program; its stdout and the end of its stderr come back
        """
        result = run_python(code, workspace.root, limits)
        return {
            "exit_code": result.exit_code,
            "stopped_by": result.stopped_by,
            "stdout": result.stdout,
            "stderr": result.stderr[-_STDERR_TAIL_CHARS:],
        }

    return [read_file, write_file, list_files, run_python_tool]
