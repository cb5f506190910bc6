"""Isolation layer: Landlock (Linux 5.13+), the kernel's file-access rules for an unprivileged
process, through its three system calls: once restricted, the child opens for reading only files
beneath the paths it was given, and makes, writes, removes or runs no file anywhere.
"""

from __future__ import annotations

import errno
import os
import struct
import sys

from gradcalc.isolate.libc import libc as _libc

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

READ_FILE, READ_DIR = 1 << 2, 1 << 3  # LANDLOCK_ACCESS_FS_READ_FILE, _READ_DIR
#: file-system rights each ABI version handles (all of them are refused unless a rule grants)
_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
              5: (1 << 16) - 1}
_NET_TCP = 0b11  # ABI 4: LANDLOCK_ACCESS_NET_BIND_TCP | _CONNECT_TCP (no rule: no TCP at all)
_SCOPES = 0b11  # ABI 6: LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | _SIGNAL (nothing outside)

_ABI: list = []


def abi() -> int:
    """The Landlock ABI version of the running kernel; 0 when it has none (or it is off)."""
    if not _ABI:
        version = 0
        if sys.platform.startswith("linux"):
            import ctypes

            version = max(0, _libc().syscall(ctypes.c_long(_CREATE_RULESET), None,
                                              ctypes.c_size_t(0),
                                              ctypes.c_uint32(_CREATE_RULESET_VERSION)))
        _ABI.append(int(version))
    return _ABI[0]


def python_paths() -> tuple[str, ...]:
    """The Python installation: its prefixes (the standard library, the binaries, the
    environment's site-packages), any other site-packages directory on sys.path, and the
    bytecode cache's directory when it is elsewhere (PYTHONPYCACHEPREFIX)."""
    import site

    out = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    if sys.pycache_prefix:
        out.append(sys.pycache_prefix)
    sites = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        sites.append(site.getusersitepackages())
    out += [p for p in sites if p in sys.path]
    return outermost(out)


def outermost(paths) -> tuple[str, ...]:
    """`paths` made absolute, without duplicates or paths beneath another (whose rule would
    grant nothing more)."""
    out = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    return tuple(p for p in out
                 if not any(q != p and p.startswith(q.rstrip(os.sep) + os.sep) for q in out))


def restrict(readable) -> int:
    """Restrict this process for good: it may read files beneath each path in `readable`
    (a directory: its whole tree; a file: that file) and nothing else, make, write, remove
    or execute no file, and from ABI 4 bind or connect no TCP port, from ABI 6 signal or
    reach no process outside itself. Paths that do not exist, and pipes or sockets (which
    Landlock does not govern), are left out.

    Returns the ABI version applied; 0 (and nothing restricted) when the kernel has none.
    Sets no_new_privs, as Landlock requires of an unprivileged process.
    """
    import ctypes

    version = abi()
    if version == 0:
        return 0
    libc = _libc()
    attr = struct.pack("=QQQ", _FS_RIGHTS[min(version, 5)],
                       _NET_TCP if version >= 4 else 0, _SCOPES if version >= 6 else 0)
    size = 8 if version < 4 else 16 if version < 6 else 24
    fd = libc.syscall(ctypes.c_long(_CREATE_RULESET), ctypes.c_char_p(attr),
                      ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        for path in readable:
            try:
                target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rights = READ_FILE | READ_DIR if os.path.isdir(path) else READ_FILE
                rule = struct.pack("=Qi", rights, target)  # landlock_path_beneath_attr, packed
                if libc.syscall(ctypes.c_long(_ADD_RULE), ctypes.c_int(fd),
                                ctypes.c_int(_RULE_PATH_BENEATH), ctypes.c_char_p(rule),
                                ctypes.c_uint32(0)) != 0:
                    code = ctypes.get_errno()
                    if code != errno.EBADFD:  # (a pipe or socket: Landlock leaves those be)
                        raise OSError(code, f"landlock_add_rule({path})")
            finally:
                os.close(target)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if libc.syscall(ctypes.c_long(_RESTRICT_SELF), ctypes.c_int(fd), ctypes.c_uint32(0)):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(fd)
    return version
