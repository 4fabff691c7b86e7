"""common.allocator: large CPU tensors on transparent huge pages.

The setting is process-wide and read by PyTorch once, so each case runs in a fresh child process.
"""
import subprocess
import sys
from pathlib import Path

from common.allocator import kernel_thp_mode

ROOT = Path(__file__).resolve().parents[2]

# faults of filling a fresh 64 MiB tensor (above glibc's largest mmap threshold, so a new mapping every time)
CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
from common.allocator import enable_huge_pages
applied = enable_huge_pages()
import torch
torch.set_num_threads(1)
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(2 ** 24)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    del block
print(int(applied), min(faults))
"""


def _run_child(env_value: str | None) -> tuple[bool, int]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if env_value is not None:
        env["THP_MEM_ALLOC_ENABLE"] = env_value
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT))], env=env, capture_output=True,
                         text=True, check=True).stdout
    applied, faults = out.split()
    return bool(int(applied)), int(faults)


def test_huge_pages_cut_page_faults_of_large_tensors():
    applied, faults = _run_child(None)
    mode = kernel_thp_mode()
    if sys.platform.startswith("linux") and mode in ("always", "madvise"):
        assert applied
        assert faults < 2048  # 4 KiB pages: 16384 faults; 2 MiB pages: 32 (plus partial pages at the ends)
    else:  # the kernel gives no huge pages: the function says so
        assert not applied


def test_environment_can_switch_it_off():
    applied, faults = _run_child("0")
    assert not applied
    assert faults >= 16000  # one fault per 4 KiB page


def test_too_late_once_torch_is_imported():
    code = ("import sys; sys.path.insert(0, %r); import torch; from common.allocator import enable_huge_pages; "
            "print(int(enable_huge_pages()))" % str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"


def test_kernel_thp_mode_reads_the_bracketed_word(tmp_path):
    f = tmp_path / "enabled"
    f.write_text("always [madvise] never\n")
    assert kernel_thp_mode(f) == "madvise"
    f.write_text("always madvise [never]\n")
    assert kernel_thp_mode(f) == "never"
    assert kernel_thp_mode(tmp_path / "missing") is None


def test_entry_scripts_enable_it_before_importing_torch():
    for script in ("main/train.py", "main/test.py", "demo/demo.py", "tools/benchmark.py", "tools/quickstart.py",
                   "tools/learning_check.py"):
        text = (ROOT / script).read_text()
        call = text.index("enable_huge_pages()")
        first_torch = min(i for i in (text.find("import torch"), text.find("from common.launch"),
                                      text.find("from main.")) if i >= 0)
        assert call < first_torch, script
