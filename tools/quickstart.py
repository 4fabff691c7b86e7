"""Quick start with nothing downloaded: synthetic model files and data, both training stages, test, demo.

    python tools/quickstart.py [--workdir output/quickstart] [--variant body|hand] [--gpu 0] [--amp bf16]

1. writes synthetic SMPL/MANO files (official pickle format) and the five mini-datasets (official layouts) into the
   work folder (licensed real ones cannot be shipped);
2. trains the lixel stage, then the param stage with ``--continue`` (the original's two commands), briefly;
3. tests the last snapshot and prints the original's metric lines;
4. runs the demo on ``demo/input.jpg`` with that snapshot.
Everything runs through the same library code as ``main/train.py``, ``main/test.py`` and ``demo/demo.py``; the
equivalent command lines are printed.  The numbers say that the pipeline runs end to end, not how accurate the
model is (synthetic data, a few iterations).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

from common.config import make_config  # noqa: E402
from common.launch import launch  # noqa: E402
from main.tester import run_test_process  # noqa: E402
from main.trainer import run_train_process  # noqa: E402

VARIANTS = {
    # datasets per variant: (trainset_3d, trainset_2d, testset)
    "body": (("Human36M",), ("MSCOCO",), "PW3D"),
    "hand": (("FreiHAND",), (), "FreiHAND"),
}


def make_assets(workdir: Path, size: str) -> tuple[Path, Path]:
    """Synthetic model files and datasets under ``workdir`` (kept when already there)."""
    from tools.synthetic.body_models import write_all
    from tools.synthetic.datasets import write_datasets

    model_dir, data_dir = workdir / "human_model_files", workdir / "data"
    if not (model_dir / "MANO_RIGHT.pkl").is_file():
        write_all(model_dir, seed=0)
    marker = data_dir / f".complete_{size}"
    if not marker.is_file():
        write_datasets(data_dir, model_dir, seed=0, size=size)
        marker.write_text("synthetic datasets written by tools/quickstart.py\n")
    return model_dir, data_dir


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / "output" / "quickstart",
                        help="folder for the synthetic assets and the run outputs")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="body")
    parser.add_argument("--gpu", default="0", help="GPU ids as in train.py (the CPU is used without CUDA)")
    parser.add_argument("--amp", choices=["fp32", "bf16", "fp16"], default="fp32", help="mixed precision")
    parser.add_argument("--size", choices=["test", "small"], default="test", help="synthetic dataset size")
    parser.add_argument("--lixel_epochs", type=int, default=2, help="lixel-stage epochs")
    parser.add_argument("--batch", type=int, default=4, help="per-process batch size")
    parser.add_argument("--no_demo", action="store_true", help="skip the demo step")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    workdir = args.workdir.resolve()
    model_dir, data_dir = make_assets(workdir, args.size)
    trainset_3d, trainset_2d, testset = VARIANTS[args.variant]
    common = dict(trainset_3d=trainset_3d, trainset_2d=trainset_2d, testset=testset, data_dir=data_dir,
                  human_model_dir=model_dir, output_dir=workdir / "output", train_batch_size=args.batch,
                  test_batch_size=args.batch, end_epoch=args.lixel_epochs, random_init=True, amp=args.amp,
                  num_thread=0)
    from common.config import parse_gpu_ids

    gpu_ids = parse_gpu_ids(args.gpu)
    flags = (f"--trainset_3d {' '.join(trainset_3d)} --trainset_2d {' '.join(trainset_2d)} --testset {testset} "
             f"--data_dir {data_dir} --human_model_dir {model_dir} --output_dir {workdir / 'output'} "
             f"--train_batch_size {args.batch} --test_batch_size {args.batch} --end_epoch {args.lixel_epochs} "
             f"--random_init --amp {args.amp}")
    for stage in ("lixel", "param"):
        cfg = make_config(stage=stage, continue_train=stage == "param", gpu_ids=gpu_ids, **common)
        print(f">>> [quickstart] cd main && python train.py --gpu {args.gpu} --stage {stage}"
              f"{' --continue' if stage == 'param' else ''} {flags}")
        launch(run_train_process, cfg.gpu_ids, cfg)
    cfg = make_config(stage="param", gpu_ids=gpu_ids, **common)
    test_epoch = cfg.end_epoch - 1
    print(f">>> [quickstart] cd main && python test.py --gpu {args.gpu} --stage param --test_epoch {test_epoch} {flags}")
    metrics = launch(run_test_process, cfg.gpu_ids, cfg, test_epoch, None)
    written: dict = {}
    if not args.no_demo:
        from main.predictor.run import run_demo

        snapshot = cfg.model_dir / f"snapshot_{test_epoch}.pth.tar"
        out_dir = workdir / "demo_output"
        box_json = ROOT / "demo" / "input_bbox.json"  # the example's box: no detector download needed
        print(f">>> [quickstart] cd demo && python demo.py --gpu {args.gpu} --stage param --model_path {snapshot} "
              f"--human_model_dir {model_dir} --bbox_json input_bbox.json --out_dir {out_dir}")
        written = run_demo(["--gpu", args.gpu, "--stage", "param", "--model_path", str(snapshot),
                            "--human_model_dir", str(model_dir), "--bbox_json", str(box_json),
                            "--out_dir", str(out_dir)])
    print(f">>> [quickstart] done in {time.perf_counter() - start:.0f} s; outputs in {workdir}")
    return {"metrics": metrics, "demo": written}


if __name__ == "__main__":
    run()
