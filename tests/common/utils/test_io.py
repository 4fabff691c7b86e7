"""Atomic writes (common/utils/io.py): temporaries named for their writer, and the removal of those of dead writers."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.utils import io
from common.utils.io import (
    STAGING_TARGET,
    OutputCollisionError,
    StagedFolder,
    atomic_write,
    atomic_write_bytes,
    parse_temporary_name,
    remove_stale_temporaries,
    temporary_name,
)

ROOT = Path(__file__).resolve().parents[3]
HOST = socket.gethostname()

# writes 1 MB chunks (up to 512 MB) without end in sight: killed while its temporary grows
_KILLED_WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from common.utils.io import atomic_write
def write(f):
    chunk = b"x" * (1 << 20)
    for _ in range(512):
        f.write(chunk)
        f.flush()
        time.sleep(0.01)
atomic_write({path!r}, write)
"""


@pytest.fixture
def dead_pid() -> int:
    """The pid of a child process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if parse_temporary_name(p.name) is not None)


@pytest.mark.parametrize("target, host", [
    ("snapshot_2.pth.tar", HOST),
    ("snapshot_2.pth.tar", "gpu-node-7.cluster.local"),
    ("metrics.1.json", "a.b-c.7.1-deadbeef"),  # a host that looks like the name's own tail
    ("x.tmp", "100%-host_é"),
])
def test_names_parse_back(target, host):
    name = temporary_name(target, host, 4242, "0123abcd")
    assert name.startswith(f".{target}.") and name.endswith(".tmp")
    assert parse_temporary_name(name) == (target, host, 4242, "0123abcd")


def test_long_target_names_are_shortened_to_fit():
    name = temporary_name("s" * 300, "node-1.example.org", 99, "0123abcd")
    assert len(name.encode()) <= 255 and parse_temporary_name(name)[1:] == ("node-1.example.org", 99, "0123abcd")


def test_a_killed_writer_leaves_a_temporary_that_the_cleanup_removes(tmp_path):
    target = tmp_path / "snapshot_3.pth.tar"
    target.write_bytes(b"previous snapshot")
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER.format(root=str(ROOT), path=str(target))])
    try:
        deadline = time.monotonic() + 30
        while not (temps := _temporaries(tmp_path)) or temps[0].stat().st_size < (4 << 20):
            assert proc.poll() is None and time.monotonic() < deadline, "the writer's temporary did not appear"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    (tmp,) = temps
    assert tmp.exists() and tmp.name.startswith(".snapshot_3.pth.tar.")
    assert parse_temporary_name(tmp.name)[1:3] == (HOST, proc.pid)
    assert target.read_bytes() == b"previous snapshot"

    assert remove_stale_temporaries(tmp_path) == [tmp]
    assert sorted(tmp_path.iterdir()) == [target] and target.read_bytes() == b"previous snapshot"
    assert remove_stale_temporaries(tmp_path) == []


@pytest.mark.parametrize("host", [HOST + ".other", "x" + HOST, HOST[:-1], "other-host.example.com"])
def test_temporaries_of_another_host_are_kept(tmp_path, dead_pid, host):
    other = tmp_path / temporary_name("snapshot_1.pth.tar", host, dead_pid, "0123abcd")
    other.write_bytes(b"partial")
    mine = tmp_path / temporary_name("snapshot_1.pth.tar", HOST, dead_pid, "4567cdef")
    mine.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == [mine]
    assert other.exists()


def test_dotted_host_names(tmp_path, dead_pid, monkeypatch):
    monkeypatch.setattr(io.socket, "gethostname", lambda: "gpu-node-7.cluster.local")
    mine = atomic_write(tmp_path / "a.json", lambda f: f.write(b"{}"))  # a target, not a temporary
    stale = tmp_path / temporary_name("snapshot_1.pth.tar", "gpu-node-7.cluster.local", dead_pid, "0123abcd")
    others = [tmp_path / temporary_name("snapshot_1.pth.tar", host, dead_pid, "0123abcd")
              for host in ("gpu-node-7", "cluster.local", "gpu-node-7.cluster", "gpu-node-7.cluster.local.")]
    for path in [stale, *others]:
        path.write_bytes(b"partial")
    assert ".gpu-node-7%2Ecluster%2Elocal." in stale.name
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([mine, *others])


def test_temporaries_of_a_live_process_are_kept(tmp_path, monkeypatch):
    live = tmp_path / temporary_name("snapshot_1.pth.tar", HOST, os.getpid(), "0123abcd")
    live.write_bytes(b"being written")
    assert remove_stale_temporaries(tmp_path) == [] and live.exists()

    def not_ours(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(io.os, "kill", not_ours)  # alive, run by another user
    assert remove_stale_temporaries(tmp_path) == [] and live.exists()


def test_other_files_are_kept(tmp_path, dead_pid):
    tag = temporary_name("s", HOST, dead_pid, "0123abcd")[len(".s."):-len(".tmp")]  # escaped host, pid, token
    assert parse_temporary_name(f".s.{tag}.tmp") is not None
    names = [
        "snapshot_1.pth.tar", "metrics_test.json",
        ".snapshot_2.pth.tar.abc12345.tmp",  # the old scheme (mkstemp): writer unknown
        ".snapshot_2.pth.tar.tmp", ".snapshot_2.pth.tar..tmp",
        f"s.{tag}.tmp",  # not hidden
        f".s.{tag}.tmp.bak", f".s.{tag}.TMP", f".s.{tag}.tmpx",
        f".{tag}.tmp",  # no target
        f".s.{tag[:-1]}.tmp", f".s.{tag}0.tmp", f".s.{tag.upper()}.tmp",  # token of 7 / 9 / upper-case hex
        f".s.{tag.replace(f'.{dead_pid}-', '.0-')}.tmp",  # pid 0 (os.kill(0, 0) is the process group)
        f".s.{tag.replace(f'.{dead_pid}-', f'.0{dead_pid}-')}.tmp",
        f".s.{tag.replace(f'.{dead_pid}-', f'.{dead_pid}_')}.tmp",
    ]
    if "." in HOST:
        names.append(f".s.{tag.replace('%2E', '%2e')}.tmp")  # not the escape this module writes
        names.append(f".s.{HOST}.{dead_pid}-0123abcd.tmp")  # unescaped dots
    for name in names:
        (tmp_path / name).write_bytes(b"keep")
    (tmp_path / f".d.{tag}.tmp").mkdir()
    (tmp_path / f".l.{tag}.tmp").symlink_to(tmp_path / "snapshot_1.pth.tar")
    before = sorted(tmp_path.iterdir())
    assert remove_stale_temporaries(tmp_path) == []
    assert sorted(tmp_path.iterdir()) == before
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_a_write_is_atomic_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "sub" / "metrics.json"
    seen = []

    def write(f):
        f.write(b"new")
        seen.extend(_temporaries(target.parent))

    assert atomic_write(target, write) == target
    assert len(seen) == 1 and parse_temporary_name(seen[0].name)[1:3] == (HOST, os.getpid())
    assert target.read_bytes() == b"new" and sorted(target.parent.iterdir()) == [target]
    atomic_write_bytes(target, b"newer")
    assert target.read_bytes() == b"newer" and sorted(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("existing", [True, False])
def test_a_failing_write_leaves_nothing_behind(tmp_path, existing):
    target = tmp_path / "snapshot_1.pth.tar"
    if existing:
        target.write_bytes(b"old")

    def write(f):
        f.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(target, write)
    assert sorted(tmp_path.iterdir()) == ([target] if existing else [])
    if existing:
        assert target.read_bytes() == b"old"


# ----- StagedFolder ---------------------------------------------------------------------------------------------------

def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative POSIX name -> contents)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_staged_files_appear_together_at_the_end(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_bytes(b"old")
    (out / "keep.txt").write_bytes(b"unrelated")
    with StagedFolder(out) as stage:
        stage.write("results.json", b"new")
        stage.write("meshes/000001.obj", b"v 0 0 0")
        with open(stage.path("video.mp4"), "wb") as f:
            f.write(b"frames")
        stage.path("never_written.bin")
        (staging,) = [p for p in out.iterdir() if p.name.startswith(".")]
        assert staging == stage.staging and parse_temporary_name(staging.name) == (
            STAGING_TARGET, HOST, os.getpid(), staging.name[-12:-4])
        assert _tree(out) == {"results.json": b"old", "keep.txt": b"unrelated",
                              f"{staging.name}/results.json": b"new", f"{staging.name}/meshes/000001.obj": b"v 0 0 0",
                              f"{staging.name}/video.mp4": b"frames"}
    assert _tree(out) == {"results.json": b"new", "keep.txt": b"unrelated", "meshes/000001.obj": b"v 0 0 0",
                          "video.mp4": b"frames"}
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "meshes", "results.json", "video.mp4"]
    assert (out / "video.mp4").stat().st_mode & 0o777 == 0o666 & ~io.current_umask()
    with StagedFolder(tmp_path / "new" / "folder") as stage:  # created with its parents
        stage.write("a.txt", b"a")
    assert _tree(tmp_path / "new") == {"folder/a.txt": b"a"}


def test_an_exception_leaves_the_folder_as_it_was(tmp_path):
    (tmp_path / "results.json").write_bytes(b"old")
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "000001.obj").write_bytes(b"old mesh")
    before = _tree(tmp_path)
    with pytest.raises(RuntimeError, match="decoder failed"):
        with StagedFolder(tmp_path) as stage:
            stage.write("results.json", b"half")
            stage.write("meshes/000001.obj", b"half")
            raise RuntimeError("decoder failed")
    assert _tree(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["meshes", "results.json"]


def test_staging_folders_of_dead_writers_are_removed(tmp_path, dead_pid):
    killed = subprocess.run([sys.executable, "-c", (
        f"import os, sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from common.utils.io import StagedFolder\n"
        f"with StagedFolder({str(tmp_path)!r}) as stage:\n"
        "    stage.write('meshes/000001.obj', b'v 0 0 0')\n"
        "    os._exit(0)\n")], timeout=60)
    assert killed.returncode == 0
    (dead,) = tmp_path.iterdir()
    assert parse_temporary_name(dead.name)[0] == STAGING_TARGET and (dead / "meshes" / "000001.obj").is_file()
    live = tmp_path / temporary_name(STAGING_TARGET, HOST, os.getpid(), "0123abcd")
    other_host = tmp_path / temporary_name(STAGING_TARGET, "other-host.example.com", dead_pid, "0123abcd")
    other_target = tmp_path / temporary_name("results", HOST, dead_pid, "0123abcd")  # a folder, not a staging one
    for folder in (live, other_host, other_target):
        folder.mkdir()
        (folder / "results.json").write_bytes(b"{}")
    assert remove_stale_temporaries(tmp_path) == [dead]
    assert sorted(tmp_path.iterdir()) == sorted([live, other_host, other_target])
    assert _tree(live) == {"results.json": b"{}"}


@pytest.mark.parametrize("first, second", [
    ("results.json", "results.json"), ("meshes", "meshes/000001.obj"), ("meshes/000001.obj", "meshes"),
    ("meshes/000001.obj", "meshes/000001.obj")])
def test_a_name_is_staged_once(tmp_path, first, second):
    with StagedFolder(tmp_path) as stage:
        stage.write(first, b"first")
        with pytest.raises(ValueError, match="collides"):
            stage.write(second, b"second")
        with pytest.raises(ValueError, match="collides"):
            stage.path(second)
    assert _tree(tmp_path) == {first: b"first"}


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "/tmp/x", "a/b/c", "a//b", "a/", "./a", "a/../b", "a\\b"])
def test_names_outside_the_folder_are_refused(tmp_path, name):
    with StagedFolder(tmp_path) as stage:
        with pytest.raises(ValueError, match="staged file name"):
            stage.write(name, b"x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("blocker, name", [("results.json", "results.json"), ("meshes", "meshes/000001.obj")])
def test_a_name_held_by_the_other_kind_stops_everything(tmp_path, blocker, name):
    if name == blocker:
        (tmp_path / blocker).mkdir()
    else:
        (tmp_path / blocker).write_bytes(b"a file where a folder goes")
    before = _tree(tmp_path)
    with pytest.raises(OutputCollisionError, match=f"cannot write '{tmp_path / name}'"):
        with StagedFolder(tmp_path) as stage:
            stage.write("a_first.json", b"{}")  # would move first: nothing may move
            stage.write(name, b"new")
    assert _tree(tmp_path) == before and [p.name for p in tmp_path.iterdir()] == [blocker]


def test_an_output_folder_held_by_a_file_is_a_user_error(tmp_path):
    (tmp_path / "out").write_bytes(b"a file")
    with pytest.raises(OutputCollisionError, match="output folder"):
        with StagedFolder(tmp_path / "out" / "sub"):
            pass
    with pytest.raises(RuntimeError, match="outside its 'with' block"):
        StagedFolder(tmp_path).write("a", b"")
