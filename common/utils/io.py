"""Atomic file writes: a reader sees the old file or the complete new one, never a half-written one.

A write goes to a hidden temporary beside the target, named for its writer (see :func:`temporary_name`), so that a
temporary left by a killed writer can be told apart and removed later (:func:`remove_stale_temporaries`).
:class:`StagedFolder` does the same for a set of files: they appear in their folder together, at the end of a run.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import BinaryIO, Callable, NamedTuple

from common.errors import UserError

# .{target}.{host}.{pid}-{token}.tmp: the host is escaped so that it holds no dot (only [A-Za-z0-9_-] kept, every
# other UTF-8 byte as %XX, upper-case hex), so the last three fields parse back from the right whatever dots the
# target and the host name hold.  The '-' in the last field is a character mkstemp never uses: no name of the old
# scheme (.{target}.{8 of [a-z0-9_]}.tmp) matches.
_TEMP_RE = re.compile(r"\.(?P<target>.+)\.(?P<host>(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+)"
                      r"\.(?P<pid>[1-9][0-9]{0,9})-(?P<token>[0-9a-f]{8})\.tmp", re.DOTALL)
_HOST_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_NAME_MAX = 255  # bytes in one file name on the usual Linux file systems
# the target field of a staging folder's name (.staging.{host}.{pid}-{token}.tmp): only folders of this exact name
# are removed by the stale cleanup, never other folders that happen to parse as temporaries
STAGING_TARGET = "staging"
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


def open_temporary(path: Path) -> tuple[int, Path]:
    """Create and open (``O_EXCL``, mode 0600) a new temporary for ``path`` in its folder."""
    host, pid = socket.gethostname(), os.getpid()
    for _ in range(100):
        tmp = path.parent / temporary_name(path.name, host, pid, secrets.token_hex(4))
        try:
            return os.open(tmp, _OPEN_FLAGS, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {path}")


def current_umask() -> int:
    """The process's file-creation mask (read without changing it)."""
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
    fd, tmp = open_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
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


def pid_alive(pid: int) -> bool:
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

    Only files directly in ``folder`` whose name :func:`parse_temporary_name` accepts, and the staging folders of
    :class:`StagedFolder` (folders so named whose target is :data:`STAGING_TARGET`, removed with their contents),
    whose host is ``socket.gethostname()`` and whose pid names no process here (``os.kill(pid, 0)`` raises
    ProcessLookupError).  Kept: temporaries of other hosts (the folder may be shared), of live processes (or a reused
    pid: removed by a later call), anything else, symlinks and other folders.  Temporaries of the old naming scheme
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
        if fields is None or fields.host != host:
            continue
        is_staging = fields.target == STAGING_TARGET and entry.is_dir(follow_symlinks=False)
        if not (is_staging or entry.is_file(follow_symlinks=False)) or pid_alive(fields.pid):
            continue
        try:
            if is_staging:
                shutil.rmtree(entry.path)
            else:
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


class OutputCollisionError(UserError, FileExistsError):
    """A staged file cannot be moved into its folder: a folder or file of the other kind holds its name."""


class StagedFolder:
    """Files written into a hidden staging folder inside ``out_dir`` and moved into ``out_dir`` together on success.

    Use as a context manager::

        with StagedFolder(out_dir) as stage:
            stage.write("results.json", data)             # bytes
            encoder = Encoder(stage.path("overlay.mp4"))  # a writer that needs a real file path

    On a normal exit every staged file is moved into ``out_dir`` (replacing a file of the same name there; a name
    may hold one subfolder, ``"meshes/000001.obj"``); on an exception the staging folder is removed and ``out_dir``
    is left as it was.  The staging folder is named like a temporary (``.staging.{host}.{pid}-{token}.tmp``), so
    :func:`remove_stale_temporaries` removes one left by a killed process.  A process killed while moving leaves
    the files already moved in ``out_dir`` and the rest in its staging folder.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.staging: Path | None = None
        self._names: list[PurePosixPath] = []
        self._committed: list[str] = []

    def __enter__(self) -> "StagedFolder":
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise OutputCollisionError(f"output folder '{self.out_dir}' cannot be created: a file holds its name "
                                       f"or that of a folder above it; move it away or choose another folder") from exc
        host, pid = socket.gethostname(), os.getpid()
        for _ in range(100):
            staging = self.out_dir / temporary_name(STAGING_TARGET, host, pid, secrets.token_hex(4))
            try:
                staging.mkdir(mode=0o700)
            except FileExistsError:
                continue
            self.staging = staging
            return self
        raise FileExistsError(f"no free staging folder name in {self.out_dir}")

    def _claim(self, name: str) -> Path:
        """Check ``name`` (a file name, or ``sub/file``), reserve it and return its path in the staging folder."""
        if self.staging is None:
            raise RuntimeError("StagedFolder is used outside its 'with' block")
        rel = PurePosixPath(name)
        if (not 1 <= len(rel.parts) <= 2 or rel.is_absolute() or "\\" in name
                or any(part in (".", "..") for part in rel.parts) or str(rel) != name):
            raise ValueError(f"staged file name {name!r}: use 'file' or 'folder/file' (no '.', '..', '/' at the ends)")
        for other in self._names:
            if other == rel or other in rel.parents or rel in other.parents:
                raise ValueError(f"staged file name {name!r} collides with {str(other)!r}, written before")
        self._names.append(rel)
        path = self.staging.joinpath(*rel.parts)
        path.parent.mkdir(exist_ok=True)
        return path

    def write(self, name: str, data: bytes) -> Path:
        """Stage ``data`` as ``name``; returns its path in the staging folder."""
        path = self._claim(name)
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return path

    def path(self, name: str) -> Path:
        """A path in the staging folder for a writer that opens the file itself (it must be closed before the end of
        the ``with`` block); a name never written is skipped at the end."""
        return self._claim(name)

    @property
    def names(self) -> list[str]:
        """The files moved into ``out_dir`` by a successful exit (before it: the files staged so far), in order."""
        if self.staging is None:
            return list(self._committed)
        return [str(rel) for rel in self._names if self.staging.joinpath(*rel.parts).is_file()]

    def _check_targets(self, names: list[PurePosixPath]) -> None:
        """Raise before anything moves if a target name is held by a folder, or a subfolder name by a file."""
        for rel in names:
            target = self.out_dir.joinpath(*rel.parts)
            if len(rel.parts) == 2 and (target.parent.is_symlink() or target.parent.exists()) \
                    and not target.parent.is_dir():
                raise OutputCollisionError(f"cannot write '{target}': '{target.parent}' is a file, not a folder; "
                                           f"move it away or choose another output folder")
            if target.is_dir() and not target.is_symlink():
                raise OutputCollisionError(f"cannot write '{target}': a folder of that name exists; move it away "
                                           f"or choose another output folder")

    def _commit(self) -> None:
        staged = [rel for rel in self._names if self.staging.joinpath(*rel.parts).is_file()]
        self._check_targets(staged)
        self._committed = [str(rel) for rel in staged]
        touched = {self.out_dir}
        for rel in staged:
            target = self.out_dir.joinpath(*rel.parts)
            target.parent.mkdir(exist_ok=True)
            os.replace(self.staging.joinpath(*rel.parts), target)
            touched.add(target.parent)
        for folder in touched:
            fsync_dir(folder)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.staging is None:
            return
        try:
            if exc_type is None:
                self._commit()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
