"""Benchmarks: data-loader throughput per training set, and network step time.

    python tools/benchmark.py loader                       # synthetic data (generated into a temp folder)
    python tools/benchmark.py loader --data_dir data --human_model_dir common/utils/human_model_files
    python tools/benchmark.py model --batch_size 16 [--device cuda] [--amp bf16]

``loader``: for each training set it builds the reader's ``train`` split and times ``__getitem__`` (image read, augmentation,
crop, SMPL/MANO target generation, voxelisation) in this single process, i.e. the throughput of ONE DataLoader worker;
multiply by the number of workers (bounded by the CPU cores) for the loader's ceiling.  Prints one line per dataset
and, with ``--json FILE``, writes the numbers.

``model``: seconds per training step (forward + backward + Adam step, random inputs and targets) and per test
forward, for each stage and variant, on the chosen device and precision; on CUDA also the peak memory.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from common.utils.human_models import build_human_model  # noqa: E402
from data.dataset import build_dataset  # noqa: E402
from main.config import make_config  # noqa: E402

BODY_TRAINSETS = ("Human36M", "MuCo", "MSCOCO")
HAND_TRAINSETS = ("FreiHAND",)


def time_dataset(dataset: torch.utils.data.Dataset, num_samples: int, warmup: int = 2) -> dict:
    """Time ``num_samples`` calls of ``dataset[i]`` (indices cycle over the dataset) after ``warmup`` calls."""
    n = len(dataset)
    for i in range(min(warmup, n)):
        dataset[i]
    start = time.perf_counter()
    for i in range(num_samples):
        dataset[i % n]
    elapsed = time.perf_counter() - start
    return {"samples": num_samples, "seconds": elapsed, "samples_per_s": num_samples / elapsed, "dataset_len": n}


def bench_loader(data_dir: Path, model_dir: Path, names: list[str], num_samples: int, seed: int) -> dict[str, dict]:
    results: dict[str, dict] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a DataLoader worker runs single-threaded
    try:
        for name in names:
            results[name] = _bench_one_loader(name, data_dir, model_dir, num_samples, seed)
    finally:
        torch.set_num_threads(threads)
    return results


def _bench_one_loader(name: str, data_dir: Path, model_dir: Path, num_samples: int, seed: int) -> dict:
    hand = name in HAND_TRAINSETS
    cfg = make_config(trainset_3d=[name] if name != "MSCOCO" else [],
                      trainset_2d=["MSCOCO"] if name == "MSCOCO" else [],
                      testset="FreiHAND" if hand else "PW3D",
                      data_dir=data_dir, human_model_dir=model_dir, seed=seed)
    dataset = build_dataset(name, cfg, "train", build_human_model(hand, model_dir))
    r = time_dataset(dataset, num_samples)
    print(f"{name:9s} train: {r['samples_per_s']:7.1f} samples/s per worker "
          f"({r['samples']} samples in {r['seconds']:.2f} s, dataset length {r['dataset_len']})", flush=True)
    return r


def random_batch(human_model, batch: int, seed: int = 0,
                 device: torch.device | str = "cpu") -> tuple[dict, dict, dict]:
    """Seeded random (inputs, targets, meta_info) with the shapes and dtypes of a collated training batch
    (datasets.md §0; ``is_valid_fit`` / ``is_3D`` float64 like collated Python floats) plus ``bb2img_trans``."""
    g = torch.Generator().manual_seed(seed)
    j, v, k3 = human_model.joint_num, human_model.vertex_num, human_model.orig_joint_num * 3
    inputs = {"img": torch.rand(batch, 3, 256, 256, generator=g)}
    targets = {"orig_joint_img": torch.rand(batch, j, 3, generator=g) * 64,
               "fit_joint_img": torch.rand(batch, j, 3, generator=g) * 64,
               "fit_mesh_img": torch.rand(batch, v, 3, generator=g) * 64,
               "orig_joint_cam": torch.randn(batch, j, 3, generator=g) * 0.3,
               "fit_joint_cam": torch.randn(batch, j, 3, generator=g) * 0.3,
               "pose_param": torch.randn(batch, k3, generator=g) * 0.2,
               "shape_param": torch.randn(batch, 10, generator=g)}
    meta = {"orig_joint_valid": torch.ones(batch, j, 1), "orig_joint_trunc": torch.ones(batch, j, 1),
            "fit_joint_trunc": torch.ones(batch, j, 1), "fit_mesh_trunc": torch.ones(batch, v, 1),
            "is_valid_fit": torch.ones(batch, dtype=torch.float64), "is_3D": torch.ones(batch, dtype=torch.float64),
            "bb2img_trans": torch.rand(batch, 2, 3, generator=g)}
    move = lambda d: {k: t.to(device) for k, t in d.items()}  # noqa: E731
    return move(inputs), move(targets), move(meta)


def bench_model(model_dir: Path, variants: list[str], batch: int, device: torch.device, amp: str | None,
                steps: int, warmup: int = 2) -> dict[str, dict]:
    """Mean seconds per train step / test forward over ``steps`` iterations after ``warmup`` ones."""
    from common.utils.human_models import MANO, SMPL
    from main.model import I2LMeshNet

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, None: None}[amp]
    results: dict[str, dict] = {}
    for variant in variants:
        human_model = MANO(model_dir) if variant == "hand" else SMPL(model_dir)
        net = I2LMeshNet(human_model).to(device)
        inputs, targets, meta = random_batch(human_model, batch, device=device)
        for stage in ("lixel", "param"):
            net.stage = stage
            optimizer = torch.optim.Adam(net.trainable_parameters(), lr=1e-4)
            autocast = (torch.autocast(device.type, dtype=dtype) if dtype is not None
                        else torch.autocast(device.type, enabled=False))

            def train_step() -> None:
                net.train()
                optimizer.zero_grad(set_to_none=True)
                with autocast:
                    loss = net(inputs, targets, meta, "train")
                    total = sum(v.float().mean() for v in loss.values())
                total.backward()
                optimizer.step()

            def test_step() -> None:
                net.eval()
                with torch.no_grad(), autocast:
                    net(inputs, {}, meta, "test")

            for name, fn in (("train_step", train_step), ("test_forward", test_step)):
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                for _ in range(warmup):
                    fn()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                for _ in range(steps):
                    fn()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                seconds = (time.perf_counter() - start) / steps
                entry = {"seconds": seconds, "samples_per_s": batch / seconds}
                if device.type == "cuda":
                    entry["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
                key = f"{variant}/{stage}/{name}"
                results[key] = entry
                mem = f", peak {entry['peak_memory_gib']:.2f} GiB" if "peak_memory_gib" in entry else ""
                print(f"{key:28s} {seconds:7.3f} s/iter  {entry['samples_per_s']:7.1f} samples/s "
                      f"(batch {batch}, {device.type}, {amp or 'fp32'}{mem})", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    loader = sub.add_parser("loader", help="samples per second per worker for each training set")
    loader.add_argument("--data_dir", type=Path, default=None,
                        help="datasets folder (default: synthetic datasets generated into a temporary folder)")
    loader.add_argument("--human_model_dir", type=Path, default=None,
                        help="SMPL/MANO files (default: synthetic ones, with --data_dir unset)")
    loader.add_argument("--datasets", nargs="+", default=list(BODY_TRAINSETS + HAND_TRAINSETS))
    loader.add_argument("--num_samples", type=int, default=200)
    loader.add_argument("--size", choices=("test", "small"), default="small", help="synthetic data size")
    loader.add_argument("--seed", type=int, default=0)
    loader.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    model = sub.add_parser("model", help="seconds per training step and test forward, per stage and variant")
    model.add_argument("--human_model_dir", type=Path, default=None, help="default: synthetic model files")
    model.add_argument("--variants", nargs="+", choices=("body", "hand"), default=["body", "hand"])
    model.add_argument("--batch_size", type=int, default=16)
    model.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    model.add_argument("--amp", choices=("bf16", "fp16"), default=None, help="autocast dtype (default: fp32)")
    model.add_argument("--steps", type=int, default=5)
    model.add_argument("--warmup", type=int, default=2)
    model.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.what == "model":
        with tempfile.TemporaryDirectory(prefix="i2l_bench_") as tmp:
            model_dir = args.human_model_dir
            if model_dir is None:
                from tools.synthetic.body_models import write_all

                model_dir = Path(tmp) / "models"
                write_all(model_dir, seed=0)
            results = bench_model(model_dir, args.variants, args.batch_size, torch.device(args.device), args.amp,
                                  args.steps, args.warmup)
        if args.json is not None:
            args.json.write_text(json.dumps({"model": results}, indent=2))
        return 0

    with tempfile.TemporaryDirectory(prefix="i2l_bench_") as tmp:
        model_dir, data_dir = args.human_model_dir, args.data_dir
        if data_dir is None:
            from tools.synthetic.body_models import write_all
            from tools.synthetic.datasets import write_datasets

            if model_dir is None:
                model_dir = Path(tmp) / "models"
                write_all(model_dir, seed=args.seed)
            data_dir = Path(tmp) / "data"
            print(f"generating synthetic '{args.size}' datasets into {data_dir} ...", flush=True)
            write_datasets(data_dir, model_dir, names=args.datasets, seed=args.seed, size=args.size)
        elif model_dir is None:
            parser.error("--human_model_dir is required with --data_dir")
        results = bench_loader(data_dir, model_dir, args.datasets, args.num_samples, args.seed)
    if args.json is not None:
        args.json.write_text(json.dumps({"loader": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
