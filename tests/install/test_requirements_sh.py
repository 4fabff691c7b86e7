"""requirements.sh refuses an externally managed interpreter (PEP 668) before pip runs, with advice; escape hatches.

How an externally managed interpreter is emulated, for real and without touching the machine's Python:

* A fake ``PYTHONHOME`` is built in a temp dir: the directories where the running interpreter's stdlib and
  lib-dynload live are re-created there, each filled with symlinks to every entry of the real ones (site-packages /
  dist-packages left out). The wrapper ``python`` script runs the *real* base interpreter binary with
  ``PYTHONHOME=<fake home>``, so it is a genuine CPython whose ``sys.prefix == sys.base_prefix == <fake home>`` and
  whose ``sysconfig.get_path("stdlib")`` is a real directory inside the temp dir. The file ``EXTERNALLY-MANAGED`` is
  written there, exactly where pip itself (and the script's check) looks: to that interpreter it is a system Python
  marked externally managed, as Debian's is. requirements.sh runs unmodified, its detection snippet runs unmodified;
  nothing in the script knows about tests.
* Without site-packages the emulated interpreter has no pip of its own; the wrappers put a stand-in ``pip`` package
  on ``PYTHONPATH`` that only logs its arguments and environment and exits 1. So nothing can ever be installed, and
  the log proves whether (and how) the script ran pip. ``PYTHONNOUSERSITE=1`` keeps the user's site-packages out.
* The same fake home with a venv on top (``venv --without-pip`` made by the emulated interpreter, run with the same
  ``PYTHONHOME``) has ``sys.prefix != sys.base_prefix`` and the marked stdlib: PEP 668 does not apply there, so the
  script must go on to pip. The same fake home without the marker must go on, too.
* Where the machine has a real externally managed system Python (``/usr/bin/python3`` on Debian/Ubuntu), that one is
  checked as well (with the stand-in pip in front of its own).
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "requirements.sh"
ADVICE = (
    "externally managed Python",
    "python3 -m venv .venv && . .venv/bin/activate && bash requirements.sh",
    "conda create -n i2l python=3.11 && conda activate i2l",
    "I2L_ALLOW_SYSTEM_PIP=1",
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="requirements.sh is a bash script for POSIX systems")

_FAKE_PIP_MAIN = """\
import json, os, sys
with open(os.environ["FAKE_PIP_LOG"], "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "PIP_BREAK_SYSTEM_PACKAGES": os.environ.get("PIP_BREAK_SYSTEM_PACKAGES")}) + "\\n")
print("FAKE-PIP", *sys.argv[1:])
sys.exit(1)
"""


def _write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _mirror_dir(real: str, fake: Path) -> None:
    """``fake`` becomes a real directory holding a symlink to each entry of ``real`` (site-packages left out)."""
    if fake.is_dir():
        return
    fake.mkdir(parents=True)
    for entry in os.listdir(real):
        if entry not in ("site-packages", "dist-packages"):
            (fake / entry).symlink_to(os.path.join(real, entry))


def _base_exe() -> str:
    """The real interpreter binary behind this one (outside any venv)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def _make_home(home: Path) -> None:
    """A fake PYTHONHOME: the real stdlib and lib-dynload directories mirrored at the same places under ``home``."""
    base_vars = {"installed_base": sys.base_prefix, "base": sys.base_prefix,
                 "installed_platbase": sys.base_exec_prefix, "platbase": sys.base_exec_prefix}
    for key, prefix in (("stdlib", sys.base_prefix), ("platstdlib", sys.base_exec_prefix)):
        real = sysconfig.get_path(key, vars=base_vars)
        rel = os.path.relpath(real, prefix)
        if rel.startswith(".."):
            pytest.skip(f"cannot emulate: {key} {real} is outside the prefix {prefix}")
        _mirror_dir(real, home / rel)


def _wrapper(path: Path, exe: str, fake_pip_dir: Path, home: Path | None = None) -> Path:
    """An executable ``python`` script: ``exe`` with the stand-in pip first on its path (and ``home`` as PYTHONHOME)."""
    pythonhome = f"PYTHONHOME='{home}' " if home is not None else ""
    return _write_exe(path, f"#!/bin/sh\n{pythonhome}PYTHONPATH='{fake_pip_dir}' PYTHONNOUSERSITE=1 "
                            f"exec '{exe}' \"$@\"\n")


def _query(python: Path) -> dict:
    out = subprocess.run(
        [str(python), "-c", ("import json, sys, sysconfig, importlib.util; print(json.dumps({'prefix': sys.prefix, "
                             "'base_prefix': sys.base_prefix, 'stdlib': sysconfig.get_path('stdlib'), "
                             "'pip': getattr(importlib.util.find_spec('pip'), 'origin', None)}))")],
        capture_output=True, text=True, check=True, env=_clean_env(),
    )
    return json.loads(out.stdout)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PIP_BREAK_SYSTEM_PACKAGES", "I2L_ALLOW_SYSTEM_PIP", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_NO_INDEX"] = "1"  # belt and braces: even a real pip could not download anything
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


@pytest.fixture(scope="module")
def emulated(tmp_path_factory) -> dict:
    """Wrappers around the real interpreter: 'managed' (fake home with the marker), 'venv' (a venv on it)."""
    tmp = tmp_path_factory.mktemp("pep668")
    home = tmp / "home"
    fake_pip = tmp / "fakepip" / "pip"
    fake_pip.mkdir(parents=True)
    (fake_pip / "__init__.py").write_text("")
    (fake_pip / "__main__.py").write_text(_FAKE_PIP_MAIN)

    _make_home(home)
    managed = _wrapper(tmp / "managed-python", _base_exe(), fake_pip.parent, home)
    info = _query(managed)
    stdlib = Path(info["stdlib"])
    # the emulation is what it claims: a base interpreter (no venv), its stdlib a real directory of our own
    assert info["prefix"] == info["base_prefix"] == str(home), info
    assert stdlib.is_dir() and not stdlib.is_symlink() and stdlib.resolve().is_relative_to(tmp.resolve()), info
    assert info["pip"] == str(fake_pip / "__init__.py"), info  # only the stand-in pip is importable
    marker = stdlib / "EXTERNALLY-MANAGED"
    marker.write_text("[externally-managed]\nError=emulated for tests/test_requirements_sh.py\n")

    subprocess.run([str(managed), "-m", "venv", "--without-pip", str(tmp / "venv")], check=True, env=_clean_env())
    venv = _wrapper(tmp / "venv-python", str(tmp / "venv" / "bin" / "python"), fake_pip.parent, home)
    vinfo = _query(venv)
    assert vinfo["prefix"] != vinfo["base_prefix"] and vinfo["stdlib"] == str(stdlib), vinfo

    return {"tmp": tmp, "managed": managed, "venv": venv, "marker": marker, "fake_pip_dir": fake_pip.parent}


def _run_script(python: Path, log: Path, **extra_env: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    env = _clean_env()
    env.update(PYTHON=str(python), FAKE_PIP_LOG=str(log), **extra_env)
    if log.exists():
        log.unlink()
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120, check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def _assert_refused(proc: subprocess.CompletedProcess, calls: list[dict], marker: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    for text in ADVICE:
        assert text in out, out
    assert marker in out, out
    assert calls == [], calls  # pip never ran
    assert "FAKE-PIP" not in out and "pip" not in proc.stdout.lower(), out
    assert ">>>" not in out, out  # nothing else started either (torch probing, installs)


def test_externally_managed_interpreter_is_refused_with_advice(emulated) -> None:
    proc, calls = _run_script(emulated["managed"], emulated["tmp"] / "pip.log")
    _assert_refused(proc, calls, str(emulated["marker"]))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) <= 8, proc.stderr  # short


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_falsy_escape_hatch_values_still_refuse(emulated, value) -> None:
    proc, calls = _run_script(emulated["managed"], emulated["tmp"] / "pip.log",
                              I2L_ALLOW_SYSTEM_PIP=value, PIP_BREAK_SYSTEM_PACKAGES=value)
    _assert_refused(proc, calls, str(emulated["marker"]))


@pytest.mark.parametrize("hatch", [{"I2L_ALLOW_SYSTEM_PIP": "1"}, {"PIP_BREAK_SYSTEM_PACKAGES": "1"},
                                   {"PIP_BREAK_SYSTEM_PACKAGES": "true"}])
def test_escape_hatch_skips_the_check(emulated, hatch) -> None:
    """The check is skipped and the script goes on to pip (the stand-in, which fails: nothing is installed)."""
    proc, calls = _run_script(emulated["managed"], emulated["tmp"] / "pip.log", **hatch)
    out = proc.stdout + proc.stderr
    assert "externally managed Python" not in proc.stderr and "python3 -m venv" not in out, out
    assert proc.returncode != 0 and "FAKE-PIP install" in out, out
    assert calls and calls[0]["argv"][0] == "install", calls
    # pip gets PEP 668's own override, or it would refuse right after our check
    assert all(c["PIP_BREAK_SYSTEM_PACKAGES"] in ("1", "true") for c in calls), calls


@pytest.mark.parametrize("which", ["venv", "no-marker"])
def test_not_externally_managed_goes_on_to_pip(emulated, which, tmp_path) -> None:
    """A venv on the marked interpreter, and the same interpreter without the marker: no advice, pip is reached."""
    python = emulated["venv"]
    if which == "no-marker":
        _make_home(tmp_path / "home")
        python = _wrapper(tmp_path / "python", _base_exe(), emulated["fake_pip_dir"], tmp_path / "home")
        info = _query(python)
        assert info["prefix"] == info["base_prefix"] and not (Path(info["stdlib"]) / "EXTERNALLY-MANAGED").exists()
    proc, calls = _run_script(python, tmp_path / "pip.log")
    out = proc.stdout + proc.stderr
    assert "externally managed Python" not in out, out
    assert "FAKE-PIP install" in out and calls and calls[0]["argv"][0] == "install", out
    assert all(c["PIP_BREAK_SYSTEM_PACKAGES"] is None for c in calls), calls


def _system_python() -> str | None:
    exe = "/usr/bin/python3"
    if not os.access(exe, os.X_OK):
        return None
    probe = subprocess.run(
        [exe, "-c", ("import os, sys, sysconfig; m = os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED'); "
                     "print(m if sys.prefix == sys.base_prefix and os.path.isfile(m) else '')")],
        capture_output=True, text=True, env=_clean_env(), check=False,
    )
    return (probe.stdout.strip() or None) if probe.returncode == 0 else None


@pytest.mark.skipif(_system_python() is None, reason="no externally managed /usr/bin/python3 on this machine")
def test_real_system_python_is_refused(emulated, tmp_path) -> None:
    marker = _system_python()
    wrapper = _wrapper(tmp_path / "python", "/usr/bin/python3", emulated["fake_pip_dir"])
    proc, calls = _run_script(wrapper, tmp_path / "pip.log")
    _assert_refused(proc, calls, marker)
