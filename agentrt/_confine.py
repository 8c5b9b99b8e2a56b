"""Kernel-enforced confinement for a sandbox child, applied between fork and exec.

The parent builds a `Confinement` (resource limits and, where the kernel has it, a Landlock
ruleset); `apply` runs in the forked child as `preexec_fn` and keeps to system calls looked up
in advance (no imports, no locks), which is what makes `preexec_fn` tolerable in a parent with
threads. Each layer that the kernel refuses (no user namespaces in a
container, a kernel without Landlock) is skipped: the other layers, and the audit hook in the
child, still hold. Linux only; elsewhere only the resource limits apply.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import resource
import struct
import sys
from pathlib import Path

# unshare(2) flags: a new user namespace lets an unprivileged process make a network namespace,
# and as root it drops the capabilities this process has over the host.
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38

# Landlock (linux/landlock.h); the syscall numbers are the same on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
# File rights; 1 << 6 (MAKE_CHAR) and 1 << 11 (MAKE_BLOCK), device files, are never granted.
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_REMOVE_DIR, _REMOVE_FILE, _MAKE_DIR = 1 << 4, 1 << 5, 1 << 7
_MAKE_REG, _MAKE_SOCK, _MAKE_FIFO, _MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 12
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_RIGHT_COUNT = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}  # ABI 2 added REFER, 3 TRUNCATE, 5 IOCTL_DEV
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV  # what a rule on a file may carry
_WORKSPACE_RIGHTS = (_READ_FILE | _READ_DIR | _WRITE_FILE | _TRUNCATE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_DIR
                     | _MAKE_REG | _MAKE_SYM | _MAKE_FIFO | _MAKE_SOCK | _REFER)
_READ_RIGHTS = _READ_FILE | _READ_DIR
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4+
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6+

# Where the dynamic loader finds the C libraries that Python's extension modules link to.
_SYSTEM_LIBRARY_PATHS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, for the system calls Python has no function for; None outside Linux."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


@functools.cache
def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers; 0 where it has none (or it is turned off)."""
    libc = _libc()
    if libc is None:
        return 0
    return max(int(libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)), 0)


class Confinement:
    """What the kernel enforces on one sandbox child: resource limits, no network, and (Landlock)
    file access only to the workspace, read-only to `readable` and the system libraries.

    Build it in the parent, pass `apply` as `preexec_fn`, then `close` it once the child started.
    """

    def __init__(self, workspace: Path, readable: list[Path], rlimits: dict[int, tuple[int, int]]) -> None:
        self._rlimits = list(rlimits.items())
        self._ruleset = _landlock_ruleset(workspace, readable)
        libc = _libc()
        # Looked up now: the child between fork and exec should only make calls.
        self._unshare = libc.unshare if libc else None
        self._prctl = libc.prctl if libc else None
        self._syscall = libc.syscall if libc else None

    def apply(self) -> None:
        """Runs in the child before exec: limits first, then each kernel layer that is available."""
        for which, limit in self._rlimits:
            resource.setrlimit(which, limit)
        if self._unshare is not None:
            self._unshare(_CLONE_NEWUSER | _CLONE_NEWNET)  # refused in some containers: skip it
        if self._ruleset is not None:
            assert self._prctl is not None and self._syscall is not None  # a ruleset was made through libc
            self._prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            self._syscall(_SYS_RESTRICT_SELF, self._ruleset, 0)

    def close(self) -> None:
        """Release the Landlock ruleset (the child has its own copy once it started)."""
        if self._ruleset is not None:
            os.close(self._ruleset)
            self._ruleset = None

    def __enter__(self) -> Confinement:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _landlock_ruleset(workspace: Path, readable: list[Path]) -> int | None:
    """A Landlock ruleset's file descriptor, or None where the kernel has no Landlock.

    Everything it handles and no rule grants is denied: all TCP bind and connect, signals and
    abstract UNIX sockets to processes outside the sandbox, and every file outside these rules.
    """
    libc, abi = _libc(), landlock_abi()
    interpreter = _interpreter_paths() if abi >= 1 else None
    if libc is None or interpreter is None:
        return None
    handled_fs = (1 << _FS_RIGHT_COUNT[min(abi, 5)]) - 1
    attr = _RulesetAttr(handled_fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = int(libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0))
    if ruleset < 0:
        return None
    rules = [(workspace, _WORKSPACE_RIGHTS)]
    rules += [(p, _READ_RIGHTS) for p in [*readable, *map(Path, _SYSTEM_LIBRARY_PATHS)]]
    rules += [(p, _READ_FILE | _EXECUTE) for p in interpreter]  # the exec of Python itself
    try:
        for path, rights in rules:
            _add_rule(libc, ruleset, path, rights & handled_fs)
    except OSError:
        os.close(ruleset)
        return None
    return ruleset


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # a library directory this system does not have
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"landlock_add_rule({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


@functools.cache
def _interpreter_paths() -> tuple[Path, ...] | None:
    """The Python binary and its ELF program interpreter (the dynamic loader): the only files the
    child may execute, and only to start. None if the binary is not a 64-bit ELF we can read."""
    binary = Path(os.path.realpath(sys.executable))
    try:
        with open(binary, "rb") as f:
            data = f.read(1 << 16)  # the headers and the interpreter's name come first
    except OSError:
        return None
    if data[:5] != b"\x7fELF\x02":
        return None
    endian = "<" if data[5] == 1 else ">"
    try:
        phoff, = struct.unpack_from(endian + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
        for i in range(phnum):
            p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
                endian + "IIQQQQ", data, phoff + i * phentsize)
            if p_type == 3:  # PT_INTERP
                loader = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
                return binary, Path(os.path.realpath(loader))
    except (struct.error, UnicodeDecodeError):
        return None
    return (binary,)  # statically linked
