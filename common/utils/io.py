"""Atomic file writes: a reader sees the old file or the complete new one, never a half-written one.

A write goes to a hidden temporary beside the target, named for its writer (see :func:`temporary_name`), so that a
temporary left by a killed writer can be told apart and removed later (:func:`remove_stale_temporaries`).
"""
from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path
from typing import BinaryIO, Callable, NamedTuple

# .{target}.{host}.{pid}-{token}.tmp: the host is escaped so that it holds no dot (only [A-Za-z0-9_-] kept, every
# other UTF-8 byte as %XX, upper-case hex), so the last three fields parse back from the right whatever dots the
# target and the host name hold.  The '-' in the last field is a character mkstemp never uses: no name of the old
# scheme (.{target}.{8 of [a-z0-9_]}.tmp) matches.
_TEMP_RE = re.compile(r"\.(?P<target>.+)\.(?P<host>(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+)"
                      r"\.(?P<pid>[1-9][0-9]{0,9})-(?P<token>[0-9a-f]{8})\.tmp", re.DOTALL)
_HOST_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_NAME_MAX = 255  # bytes in one file name on the usual Linux file systems
_OPEN_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))


class TemporaryName(NamedTuple):
    """The fields of a temporary's name: the target's file name (possibly shortened), the writer's host and pid."""

    target: str
    host: str
    pid: int
    token: str


def _escape_host(host: str) -> str:
    return "".join(chr(b) if b in _HOST_SAFE else f"%{b:02X}" for b in host.encode("utf-8", "surrogateescape"))


def _unescape_host(text: str) -> str:
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(ord(text[i]))
            i += 1
    return out.decode("utf-8", "surrogateescape")


def temporary_name(target: str, host: str, pid: int, token: str) -> str:
    """The temporary's file name ``.{target}.{host}.{pid}-{token}.tmp`` (``host`` escaped, see the module's
    ``_TEMP_RE``; ``target`` shortened from the right where the name would exceed 255 bytes)."""
    tail = f".{_escape_host(host)}.{pid}-{token}.tmp"
    room = _NAME_MAX - 1 - len(tail.encode())
    while len(target.encode("utf-8", "surrogateescape")) > room and len(target) > 1:
        target = target[:-1]
    return f".{target}{tail}"


def parse_temporary_name(name: str) -> TemporaryName | None:
    """The fields of a temporary written by :func:`atomic_write`, or None where ``name`` is not exactly one."""
    m = _TEMP_RE.fullmatch(name)
    if m is None:
        return None
    host = _unescape_host(m["host"])
    if _escape_host(host) != m["host"]:  # e.g. %41 for "A": not a name this module writes
        return None
    return TemporaryName(m["target"], host, int(m["pid"]), m["token"])


def _open_temporary(path: Path) -> tuple[int, Path]:
    """Create and open (``O_EXCL``, mode 0600) a new temporary for ``path`` in its folder."""
    host, pid = socket.gethostname(), os.getpid()
    for _ in range(100):
        tmp = path.parent / temporary_name(path.name, host, pid, secrets.token_hex(4))
        try:
            return os.open(tmp, _OPEN_FLAGS, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {path}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it and rename it onto ``path``.

    Parent folders are created.  The temporary is named for this host and process (:func:`temporary_name`); one left
    by a killed writer is removed by :func:`remove_stale_temporaries`, never here.  The file gets the usual
    permissions (``0o666`` minus the umask, not 0600).  On any error the temporary file is removed and ``path`` is
    left as it was.  Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _open_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists here (one we may not signal counts as alive; so does a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it exists, run by another user
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries of :func:`atomic_write` in ``folder`` whose writer ran on this host and is gone.

    Only files directly in ``folder`` whose name :func:`parse_temporary_name` accepts, whose host is
    ``socket.gethostname()`` and whose pid names no process here (``os.kill(pid, 0)`` raises ProcessLookupError).
    Kept: temporaries of other hosts (the folder may be shared), of live processes (or a reused pid: removed by a
    later call), anything else, symlinks and folders.  Temporaries of the old naming scheme
    (``.{target}.XXXXXXXX.tmp``, no host or pid) are kept too: their writer cannot be told, and it may be alive on
    another host.  A missing folder gives ``[]``.  Returns the removed paths, sorted; the caller logs them.

    Costs one directory listing: call it once when a run starts writing into a folder, not on every write.  Writers
    on one host name in different PID namespaces (containers sharing a host name) must not share a folder.
    """
    folder = Path(folder)
    host = socket.gethostname()
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        fields = parse_temporary_name(entry.name)
        if fields is None or fields.host != host or not entry.is_file(follow_symlinks=False):
            continue
        if _pid_alive(fields.pid):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:  # removed meanwhile by another cleaner
            continue
        removed.append(folder / entry.name)
    return sorted(removed)


def fsync_dir(folder: str | Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
