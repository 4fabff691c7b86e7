"""Test I2L-MeshNet as the original is run (from main/ or the repository root):

    python test.py --gpu 0-3 --stage param --test_epoch 7
    torchrun --nnodes N --nproc_per_node G main/test.py --stage param --test_epoch 7
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `common`, `data`, `main`

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

from common.launch import launch  # noqa: E402
from common.tester import run_test_process  # noqa: E402
from main.cli import parse_test_args  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    cfg, test_epoch, model_path = parse_test_args(argv)
    print(f"Stage: {cfg.stage}")
    launch(run_test_process, cfg.gpu_ids, cfg, test_epoch, model_path)


if __name__ == "__main__":
    main()
