"""The sandbox child: guard this interpreter with an audit hook, then run the code read from stdin.

`agentrt.sandbox` starts it as `python -I -B -u -X utf8 _sandbox_child.py CONFIG_JSON`, after the
kernel layers (`agentrt._confine`) were applied. Standard library only: agentrt is not importable
here. The hook turns each refused action into a PermissionError that says what and why. It is a
guard rail, not a boundary: native code, or Python that corrupts memory with crafted bytecode, is
out of its sight; the kernel layers hold against those.
"""

from __future__ import annotations

import json
import linecache
import os
import stat
import sys
import traceback
import types

MEMORY_EXIT_CODE = 90  # the exit status that tells the parent the memory limit stopped the code
FILENAME = "<sandbox>"

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

# Audit events that take paths: event -> ((argument index, its dir_fd argument index or -1, writes?), ...)
_PATH_EVENTS: dict[str, tuple[tuple[int, int, bool], ...]] = {
    "os.listdir": ((0, -1, False),),
    "os.scandir": ((0, -1, False),),
    "os.listxattr": ((0, -1, False),),
    "os.getxattr": ((0, -1, False),),
    "os.chdir": ((0, -1, True),),  # the working directory stays in the workspace
    "os.chflags": ((0, -1, True),),
    "os.lchflags": ((0, -1, True),),
    "os.chmod": ((0, 2, True),),
    "os.chown": ((0, 3, True),),
    "os.mkdir": ((0, 2, True),),
    "os.remove": ((0, 1, True),),
    "os.rmdir": ((0, 1, True),),
    "os.rename": ((0, 2, True), (1, 3, True)),
    "os.symlink": ((1, 2, True),),  # the link; its target is checked on its own
    "os.truncate": ((0, -1, True),),
    "os.utime": ((0, 3, True),),
    "os.setxattr": ((0, -1, True),),
    "os.removexattr": ((0, -1, True),),
}
_PROCESS = "starting processes"
_TAMPERING = "changing the sandbox's own checks or limits"
_DENIED_EVENTS = {
    "os.exec": _PROCESS, "os.fork": _PROCESS, "os.forkpty": _PROCESS, "os.posix_spawn": _PROCESS,
    "os.spawn": _PROCESS, "os.system": _PROCESS, "pty.spawn": _PROCESS, "subprocess.Popen": _PROCESS,
    "webbrowser.open": _PROCESS,
    "os.link": "making a hard link (it can give a file outside the workspace a name inside it)",
    "sys.settrace": _TAMPERING, "sys.setprofile": _TAMPERING, "gc.get_objects": _TAMPERING,
    "gc.get_referrers": _TAMPERING, "gc.get_referents": _TAMPERING, "resource.setrlimit": _TAMPERING,
    "resource.prlimit": _TAMPERING,
}
# Audit events by module: every `socket.*` event, for instance.
_DENIED_MODULES = {
    "socket": "network access", "urllib": "network access",
    "ctypes": "native code through ctypes",
    "sqlite3": "sqlite3 (it opens files itself, where these checks cannot see)",
    "syslog": "writing to the host's system log",
}
_NATIVE_MODULES = ("ctypes", "_ctypes")


def install_guard(workspace: str, read_roots: tuple[str, ...]) -> None:
    """Install the audit hook; it lasts until the process ends (Python cannot remove one).

    Writes must stay under `workspace`; reads under it or `read_roots` (Python's install). Paths
    are resolved, symlinks and all, the way the kernel will. Everything the hook uses is bound
    here and it calls no Python helper and reads no global, so code that later patches `os`,
    `posixpath` or `builtins`, or reaches the hook's frame through a traceback, finds nothing
    mutable to change.
    """
    lstat, readlink, getcwd, getpid, fspath = os.lstat, os.readlink, os.getcwd, os.getpid, os.fspath
    is_link, type_, isinstance_, str_copy, bytes_decode = stat.S_ISLNK, type, isinstance, str.__add__, bytes.decode
    int_, bytes_, path_types, refuse, os_error = int, bytes, (str, bytes, int), PermissionError, OSError
    path_events = types.MappingProxyType(dict(_PATH_EVENTS))
    denied_events = types.MappingProxyType(dict(_DENIED_EVENTS))
    denied_modules = types.MappingProxyType(dict(_DENIED_MODULES))
    native_modules, write_flags = _NATIVE_MODULES, _WRITE_FLAGS
    writable, readable = (workspace,), (workspace, *read_roots)

    def guard(event: str, args: tuple) -> None:
        reason = denied_events.get(event) or denied_modules.get(event.partition(".")[0])
        if reason:
            raise refuse(f"sandbox: {reason} is not allowed ({event})")
        if event == "import":
            name = str_copy("", args[0])
            if name in native_modules or name.startswith("ctypes."):
                raise refuse(f"sandbox: native code through ctypes is not allowed (import {name})")
            return
        if event in ("os.kill", "os.killpg"):
            if args[0] != getpid():
                raise refuse(f"sandbox: signals to other processes are not allowed ({event})")
            return
        checks: tuple[tuple[int, int, bool], ...] | None
        if event == "open":
            if type_(args[0]) is int_:
                return  # a descriptor already open, so already checked
            checks = ((0, -1, args[2] & write_flags != 0),)
        else:
            checks = path_events.get(event)
            if checks is None:
                return
        for index, dir_fd_index, writes in checks:
            path, dir_fd = args[index], args[dir_fd_index] if dir_fd_index >= 0 else None
            if path is None:
                path = "."
            elif not isinstance_(path, path_types):
                path = fspath(path)
            if type_(path) is int_:
                path = readlink(f"/proc/self/fd/{path}")
            elif isinstance_(path, bytes_):
                path = bytes_decode(path, "utf-8", "surrogateescape")
            else:
                path = str_copy("", path)  # a plain str, whatever subclass was passed
            if not path.startswith("/"):
                base = getcwd() if dir_fd is None or dir_fd < 0 else readlink(f"/proc/self/fd/{dir_fd}")
                path = base + "/" + path
            # Resolve like the kernel: each existing component, following symlinks (40 at most).
            resolved, pending, hops = "", path.split("/")[::-1], 0
            while pending:
                part = pending.pop()
                if part in ("", "."):
                    continue
                if part == "..":
                    resolved = resolved.rpartition("/")[0]
                    continue
                candidate = resolved + "/" + part
                try:
                    is_symlink = is_link(lstat(candidate).st_mode)
                except os_error:
                    is_symlink = False  # not there (yet): it will be created as named
                if not is_symlink:
                    resolved = candidate
                    continue
                hops += 1
                if hops > 40:
                    raise refuse(f"sandbox: too many symbolic links in {path}")
                target = readlink(candidate)
                if target.startswith("/"):
                    resolved = ""
                pending.extend(target.split("/")[::-1])
            resolved = resolved or "/"
            roots = writable if writes else readable
            for root in roots:
                if resolved == root or resolved.startswith(root + "/"):
                    break
            else:
                if not writes:
                    raise refuse(f"sandbox: reading {resolved} is not allowed ({event}): only files under "
                                 f"the workspace {workspace} (and Python's own library) can be read")
                action = "writing to" if event == "open" else "changing"
                raise refuse(f"sandbox: {action} {resolved} is not allowed ({event}): only the workspace "
                             f"{workspace} can be changed")
        if event == "os.symlink":
            target = fspath(args[0])
            if isinstance_(target, bytes_):
                target = bytes_decode(target, "utf-8", "surrogateescape")
            target = str_copy("", target)
            if target.startswith("/") or ".." in target.split("/"):
                raise refuse(f"sandbox: a symbolic link to {target} is not allowed: give a relative target "
                             "without '..', so the link stays inside the workspace wherever it is moved")

    sys.addaudithook(guard)


def run(code: str, memory_mb: int) -> None:
    """Run `code` as `__main__`; print a traceback of the user's code only if it fails."""
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
    try:
        exec(compile(code, FILENAME, "exec"), main.__dict__)
    except MemoryError as exc:
        _print_user_traceback(exc)
        print(f"sandbox: the memory limit ({memory_mb} MB) was reached", file=sys.stderr)
        sys.exit(MEMORY_EXIT_CODE)
    except Exception as exc:
        _print_user_traceback(exc)
        sys.exit(1)


def _print_user_traceback(exc: BaseException) -> None:
    """`exc`'s traceback without its first frame, which is `run`'s, not the user's."""
    tb = exc.__traceback__
    traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)


def _disarm_fork_exec() -> None:
    """`subprocess` starts processes through `_posixsubprocess.fork_exec`, which raises no audit
    event of its own: replace it before any user code can import it."""
    import _posixsubprocess

    def fork_exec(*args: object, **kwargs: object) -> int:  # typed as the original, which returns a pid
        raise PermissionError("sandbox: starting processes is not allowed (_posixsubprocess.fork_exec)")

    _posixsubprocess.fork_exec = fork_exec


def main() -> None:
    config = json.loads(sys.argv[1])
    code = sys.stdin.buffer.read().decode("utf-8", "replace")
    workspace, read_roots = config["workspace"], tuple(config["read_roots"])
    _disarm_fork_exec()
    inside = [p for p in sys.path if any(os.path.realpath(p).startswith(r + "/") for r in read_roots)]
    sys.path[:] = [workspace, *inside]
    sys.argv = [FILENAME]
    install_guard(workspace, read_roots)
    run(code, config["memory_mb"])


if __name__ == "__main__":
    main()
