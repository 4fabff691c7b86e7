"""Train the demo's snapshot on the large synthetic body set: both stages, a test curve, a mean-pose baseline.

    python tools/train_demo_snapshot.py [--workdir output/demo_snapshot] [--lixel_epochs 1] [--param_epochs 1]
                                        [--batch 8] [--amp bf16] [--lr 3e-4]

1. writes the synthetic SMPL files and the ``large`` synthetic Human36M, MSCOCO and 3DPW sets into the work folder
   (kept when already there; not counted in the training time);
2. trains the lixel stage from random initialisation (Human36M; ``--trainset_2d MSCOCO`` adds the 2D set as the
   original does), then the param stage with ``--continue``,
   exactly as ``main/train.py`` does (the equivalent commands are printed);
3. tests every epoch's snapshot on the synthetic 3DPW test split (TensorBoard: ``<workdir>/output/log/tensorboard/``
   ``test_PW3D``) and compares with a mean-pose baseline: the training set's mean root-relative pose, predicted
   for every test person;
4. writes ``train_demo_snapshot.json`` (curve, baseline, times) and prints a Markdown table.

The last snapshot is the one the README's demo pictures come from.  Everything is synthetic data: the numbers say
that the model learns the synthetic task, nothing about accuracy on real photographs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.allocator import enable_huge_pages  # noqa: E402

enable_huge_pages()  # before torch is imported (common/allocator.py)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.config import Config, make_config  # noqa: E402
from common.launch import DistContext  # noqa: E402
from common.utils.evaluation import H36M_ROOT_IDX, mpjpe, pa_mpjpe, root_relative_eval_joints  # noqa: E402
from common.utils.human_models import build_human_model  # noqa: E402
from data.registry import build_dataset  # noqa: E402
from main.tester import Tester  # noqa: E402
from main.trainer import Trainer  # noqa: E402

DATASETS = ("Human36M", "MSCOCO", "PW3D")


def make_large_assets(workdir: Path) -> tuple[Path, Path]:
    """Synthetic model files and the large body datasets under ``workdir`` (kept when already complete)."""
    from tools.synthetic.body_models import write_all
    from tools.synthetic.datasets import write_datasets

    model_dir, data_dir = workdir / "human_model_files", workdir / "data"
    if not (model_dir / "SMPL_NEUTRAL.pkl").is_file():
        write_all(model_dir, seed=0)
    marker = data_dir / ".complete_large"
    if not marker.is_file():
        write_datasets(data_dir, model_dir, names=DATASETS, seed=0, size="large")
        marker.write_text("synthetic datasets written by tools/train_demo_snapshot.py\n")
    return model_dir, data_dir


def mean_pose_baseline(cfg: Config) -> dict[str, float]:
    """MPJPE / PA-MPJPE (mm) on the test split of predicting, for everyone, the mean root-relative pose of the 3D
    training set (Human36M's native 17 joints in camera space, the joints the 3DPW protocol evaluates)."""
    human_model = build_human_model(False, cfg.human_model_dir)
    train = build_dataset("Human36M", cfg, "train", human_model)
    poses = [r.joint_cam - r.joint_cam[H36M_ROOT_IDX] for r in train.datalist if r.joint_cam is not None]
    mean_pose = np.mean(np.stack(poses), axis=0) / 1000.0  # Human36M joints are millimetres; 3DPW's are metres
    test = build_dataset(cfg.testset, cfg, "test", human_model)
    errors: dict[str, list[float]] = {"mpjpe": [], "pa_mpjpe": []}
    pred = root_relative_eval_joints(mean_pose)
    for index in range(len(test)):
        gt_joints = test.regressor @ test.test_targets(test.datalist[index])["fit_mesh_coord_cam"].astype(np.float64)
        gt = root_relative_eval_joints(gt_joints)
        errors["mpjpe"].append(mpjpe(pred, gt) * 1000.0)
        errors["pa_mpjpe"].append(pa_mpjpe(pred, gt) * 1000.0)
    return {"train_poses": len(poses), **{k: float(np.mean(v)) for k, v in errors.items()}}


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / "output" / "demo_snapshot")
    parser.add_argument("--lixel_epochs", type=int, default=1, help="lixel-stage epochs (the learning rate drops "
                        "10x for the last one when there are several)")
    parser.add_argument("--param_epochs", type=int, default=1, help="param-stage epochs (the original: 5)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (more, smaller steps in the same time)")
    parser.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (the original: 1e-4, for "
                        "ImageNet-initialised trunks; a random start on a short budget learns faster at 3e-4)")
    parser.add_argument("--amp", choices=["fp32", "bf16", "fp16"], default="bf16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trainset_2d", nargs="*", default=[], help="2D training sets besides Human36M (the "
                        "original adds MSCOCO; left out here by default: each epoch is then half as long)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default; 1 "
                        "keeps a shared machine's run steady)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    workdir = args.workdir.resolve()
    start = time.perf_counter()
    model_dir, data_dir = make_large_assets(workdir)
    generated = time.perf_counter() - start
    decay_epoch = args.lixel_epochs - 1 if args.lixel_epochs > 1 else args.lixel_epochs
    lixel = make_config(trainset_3d=["Human36M"], trainset_2d=args.trainset_2d, testset="PW3D", data_dir=data_dir,
                        human_model_dir=model_dir, output_dir=workdir / "output", random_init=True,
                        train_batch_size=args.batch, test_batch_size=args.batch, end_epoch=args.lixel_epochs,
                        lr=args.lr, lr_dec_epoch=[decay_epoch], amp=args.amp, seed=args.seed,
                        num_thread=0)
    flags = (f"--trainset_3d Human36M --trainset_2d {' '.join(args.trainset_2d)} --testset PW3D --data_dir {data_dir} "
             f"--human_model_dir {model_dir} --output_dir {workdir / 'output'} --random_init "
             f"--train_batch_size {args.batch} --end_epoch {args.lixel_epochs} --lr {args.lr} "
             f"--lr_dec_epoch {decay_epoch} --amp {args.amp} --seed {args.seed}")
    ctx = DistContext(0, 1, 0, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    times: dict[str, float] = {}
    for stage in ("lixel", "param"):
        cfg = lixel.replace(stage=stage, continue_train=stage == "param")
        if stage == "param":  # --param_epochs instead of the original's fixed 5
            cfg = cfg.replace(end_epoch=args.lixel_epochs + args.param_epochs - 5)
        print(f">>> cd main && python train.py --gpu 0 --stage {stage}{' --continue' if stage == 'param' else ''} "
              f"{flags}", flush=True)
        begin = time.perf_counter()
        torch.manual_seed(args.seed)
        trainer = Trainer(cfg, ctx)
        trainer.run()
        times[f"train_{stage}_s"] = time.perf_counter() - begin
        times[f"{stage}_iterations"] = trainer.itr_per_epoch * (cfg.end_epoch - trainer.start_epoch)
        times["train_samples"] = len(trainer.train_set)
    curve: dict[int, dict[str, float]] = {}
    last = args.lixel_epochs + args.param_epochs - 1
    for epoch in range(last + 1):
        stage = "lixel" if epoch < args.lixel_epochs else "param"
        cfg = lixel.replace(stage=stage)
        curve[epoch] = Tester(cfg, ctx, test_epoch=epoch).run()
    baseline = mean_pose_baseline(lixel)
    summary = {"curve": curve, "baseline": baseline, "times": times, "generate_s": generated,
               "snapshot": str(lixel.model_dir / f"snapshot_{last}.pth.tar"), "args": vars(args) | {
                   "workdir": str(workdir)}}
    (workdir / "train_demo_snapshot.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"\n| snapshot | MPJPE lixel (mm) | PA-MPJPE lixel (mm) | MPJPE param (mm) | PA-MPJPE param (mm) |\n"
          f"|---|---|---|---|---|\n| mean-pose baseline | {baseline['mpjpe']:.1f} | {baseline['pa_mpjpe']:.1f} | | |")
    for epoch, m in curve.items():
        param = (f"{m['mpjpe_param']:.1f} | {m['pa_mpjpe_param']:.1f}" if "mpjpe_param" in m else " | ")
        print(f"| epoch {epoch} ({'lixel' if epoch < args.lixel_epochs else 'param'}) | {m['mpjpe_lixel']:.1f} | "
              f"{m['pa_mpjpe_lixel']:.1f} | {param} |")
    print(f"training: lixel {times['train_lixel_s'] / 60:.1f} min, param {times['train_param_s'] / 60:.1f} min; "
          f"snapshot {summary['snapshot']}")
    return summary


if __name__ == "__main__":
    run()
