"""Test I2L-MeshNet as the original is run (from main/ or the repository root):

    python test.py --gpu 0-3 --stage param --test_epoch 7
    torchrun --nnodes N --nproc_per_node G main/test.py --stage param --test_epoch 7
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `common`, `data`, `main`

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

from common.errors import run_reporting_user_errors  # noqa: E402
from common.launch import launch  # noqa: E402
from main.cli import parse_test_args, wants_debug  # noqa: E402
from main.tester import run_test_process  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run with ``argv`` (default: the command line); a user error prints one ``error:`` line and returns 1."""
    argv = sys.argv[1:] if argv is None else list(argv)

    def run() -> None:
        cfg, test_epoch, model_path = parse_test_args(argv)
        print(f"Stage: {cfg.stage}")
        launch(run_test_process, cfg.gpu_ids, cfg, test_epoch, model_path)

    return run_reporting_user_errors(run, debug=wants_debug(argv))


if __name__ == "__main__":
    sys.exit(main())
