"""Does training learn? Untrained vs trained test error on the synthetic data, with the loss curve.

    python tools/learning_check.py [--workdir output/learning_check] [--epochs 8] [--amp bf16]

Trains the lixel stage from random initialisation on the synthetic ``small`` body data (Human36M + MSCOCO, 1:1 as
the original mixes 3D and 2D sets), tests on the synthetic 3DPW test split before training and after every
``--test_every`` epochs, and prints the MPJPE / PA-MPJPE of the lixel mesh and the mean training loss of every epoch
(from ``train_logs.txt``).  Synthetic data says that the pipeline learns, nothing about accuracy on real images.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

import torch  # noqa: E402

from common.checkpoint import save_checkpoint  # noqa: E402
from common.config import make_config  # noqa: E402
from common.launch import DistContext  # noqa: E402
from main.tester import Tester  # noqa: E402
from main.trainer import Trainer  # noqa: E402
from tools.quickstart import make_assets  # noqa: E402

ITER_RE = re.compile(r"Epoch (\d+)/\d+ itr \d+/\d+: ")
LOSS_VALUE_RE = re.compile(r"loss_\w+: (\S+)")


def epoch_losses(log_file: Path) -> dict[int, float]:
    """Mean over iterations of the summed loss, per epoch, from a train_logs.txt."""
    sums: dict[int, list[float]] = {}
    for line in log_file.read_text().splitlines():
        m = ITER_RE.search(line)
        if m:
            total = sum(float(v) for v in LOSS_VALUE_RE.findall(line))
            sums.setdefault(int(m.group(1)), []).append(total)
    return {e: sum(v) / len(v) for e, v in sorted(sums.items())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / "output" / "learning_check")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--test_every", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--amp", choices=["fp32", "bf16", "fp16"], default="bf16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    model_dir, data_dir = make_assets(args.workdir.resolve(), "small")
    cfg = make_config(trainset_3d=["Human36M"], trainset_2d=["MSCOCO"], testset="PW3D", data_dir=data_dir,
                      human_model_dir=model_dir, output_dir=args.workdir.resolve() / "output", random_init=True,
                      train_batch_size=args.batch, test_batch_size=args.batch, end_epoch=args.epochs,
                      lr_dec_epoch=[args.epochs], amp=args.amp, seed=args.seed, num_thread=0)
    ctx = DistContext(0, 1, 0, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(args.seed)
    trainer = Trainer(cfg, ctx)
    untrained = save_checkpoint(cfg.model_dir / "untrained.pth", trainer.model, None, -1, extra={"stage": "lixel"})
    results = {"untrained": Tester(cfg, ctx, model_path=untrained).run()}
    for stop in range(args.test_every, args.epochs + 1, args.test_every):
        trainer.cfg = cfg.replace(end_epoch=stop)
        trainer.run()
        trainer.start_epoch = stop
        results[f"epoch_{stop - 1}"] = Tester(cfg, ctx, test_epoch=stop - 1).run()
    losses = epoch_losses(cfg.log_dir / "train_logs.txt")
    print("\nmean training loss per epoch: " + ", ".join(f"{e}: {v:.3f}" for e, v in losses.items()))
    for name, metrics in results.items():
        print(f"{name}: MPJPE {metrics['mpjpe_lixel']:.1f} mm, PA-MPJPE {metrics['pa_mpjpe_lixel']:.1f} mm "
              "(lixel mesh, synthetic 3DPW test split)")
    summary = {"results": results, "epoch_losses": losses, "seconds": time.perf_counter() - start,
               "train_samples": len(trainer.train_set), "itr_per_epoch": trainer.itr_per_epoch}
    (args.workdir / "learning_check.json").write_text(json.dumps(summary, indent=2))
    print(f"done in {summary['seconds']:.0f} s; {args.workdir / 'learning_check.json'}")
    return summary


if __name__ == "__main__":
    main()
